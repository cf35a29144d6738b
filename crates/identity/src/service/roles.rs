//! Effective roles: direct, through groups, inherited from domains and parent projects,
//! and everything those imply. Domain-specific roles only ever contribute what they imply.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::model::{AssignmentKind, Project, Role};
use crate::service::cache::{RoleTable, Stamped};
use crate::store::assignment::{self as st, AssignmentFilter};
use crate::{Identity, Result, store};

/// What a role is held on.
#[derive(Debug, Clone, Copy)]
pub enum On<'a> {
    Project(&'a Project),
    Domain(&'a str),
    System,
}

impl Identity {
    /// All roles and implication rules, cached until the next write.
    pub async fn role_table(&self) -> Result<Arc<RoleTable>> {
        let epoch = self.epoch();
        if let Some(s) = self.cache.roles.read().as_ref()
            && s.epoch == epoch
        {
            return Ok(s.value.clone());
        }
        let mut t = RoleTable::default();
        for r in st::all_roles(&self.db).await? {
            t.roles.insert(r.id.clone(), r);
        }
        for (prior, implied) in st::implied_rules(&self.db).await? {
            t.implies.entry(prior).or_default().push(implied);
        }
        let t = Arc::new(t);
        *self.cache.roles.write() = Some(Stamped {
            epoch,
            value: t.clone(),
        });
        Ok(t)
    }

    /// Role ids the actors hold directly on the target (no implication, no stripping).
    pub async fn direct_role_ids(&self, user_id: &str, on: On<'_>) -> Result<BTreeSet<String>> {
        let mut actors = vec![user_id.to_string()];
        actors.extend(store::users::group_ids_of(&self.db, user_id).await?);
        let mut out = BTreeSet::new();
        match on {
            On::System => {
                let f = AssignmentFilter {
                    kinds: Some(vec![
                        AssignmentKind::UserSystem,
                        AssignmentKind::GroupSystem,
                    ]),
                    actor_ids: Some(actors),
                    ..Default::default()
                };
                for a in st::list_assignments(&self.db, &f).await? {
                    out.insert(a.role_id);
                }
            }
            On::Domain(d) => {
                let f = AssignmentFilter {
                    kinds: Some(vec![
                        AssignmentKind::UserDomain,
                        AssignmentKind::GroupDomain,
                    ]),
                    actor_ids: Some(actors),
                    target_ids: Some(vec![d.to_string()]),
                    inherited: Some(false),
                    ..Default::default()
                };
                for a in st::list_assignments(&self.db, &f).await? {
                    out.insert(a.role_id);
                }
            }
            On::Project(p) => {
                let ancestors = self.ancestors(p).await?;
                let mut targets = vec![p.id.clone(), p.domain_id.clone()];
                targets.extend(ancestors.iter().map(|a| a.id.clone()));
                let f = AssignmentFilter {
                    actor_ids: Some(actors),
                    target_ids: Some(targets),
                    ..Default::default()
                };
                for a in st::list_assignments(&self.db, &f).await? {
                    let applies = match a.kind {
                        AssignmentKind::UserProject | AssignmentKind::GroupProject => {
                            (a.target_id == p.id && !a.inherited)
                                || (a.target_id != p.id && a.inherited)
                        }
                        AssignmentKind::UserDomain | AssignmentKind::GroupDomain => {
                            a.target_id == p.domain_id && a.inherited
                        }
                        AssignmentKind::UserSystem | AssignmentKind::GroupSystem => false,
                    };
                    if applies {
                        out.insert(a.role_id);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Effective roles on the target: implied roles added, domain-specific roles removed.
    pub async fn effective_roles(&self, user_id: &str, on: On<'_>) -> Result<Vec<Role>> {
        let direct = self.direct_role_ids(user_id, on).await?;
        let table = self.role_table().await?;
        Ok(effective_from(&table, direct))
    }
}

/// Expand and strip: the roles a token carries for these directly held role ids.
pub fn effective_from(table: &RoleTable, direct: impl IntoIterator<Item = String>) -> Vec<Role> {
    let mut roles: Vec<Role> = table
        .expand(direct)
        .into_iter()
        .filter_map(|id| table.roles.get(&id).cloned())
        .filter(|r| r.domain_id.is_none())
        .collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(id: &str, domain: Option<&str>) -> Role {
        Role {
            id: id.into(),
            name: format!("n-{id}"),
            domain_id: domain.map(str::to_string),
            description: None,
            extra: Default::default(),
            options: Default::default(),
        }
    }

    #[test]
    fn implied_roles_expand_and_domain_roles_are_stripped() {
        let mut t = RoleTable::default();
        for r in [
            role("admin", None),
            role("member", None),
            role("reader", None),
            role("dr", Some("d")),
        ] {
            t.roles.insert(r.id.clone(), r);
        }
        t.implies.insert("admin".into(), vec!["member".into()]);
        t.implies.insert("member".into(), vec!["reader".into()]);
        t.implies.insert("dr".into(), vec!["reader".into()]);
        let ids: Vec<String> = effective_from(&t, ["admin".to_string()])
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec!["admin", "member", "reader"]);
        let ids: Vec<String> = effective_from(&t, ["dr".to_string()])
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec!["reader"]);
        // cycles terminate
        t.implies.insert("reader".into(), vec!["admin".into()]);
        assert_eq!(effective_from(&t, ["reader".to_string()]).len(), 3);
    }
}
