//! Role grants on projects, domains and the system (including OS-INHERIT inherited grants)
//! and `GET /v3/role_assignments`.

use std::collections::BTreeSet;
use std::sync::Arc;

use api::BaseUrl;
use api::openapi::Routes;
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::{Params, St, collection, no_content};
use crate::model::{Assignment, AssignmentKind, Role};
use crate::revoke::RevokeEvent;
use crate::store::assignment::{self as st, AssignmentFilter};
use crate::{Error, Identity, Result, store};

/// What a grant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetKind {
    Project,
    Domain,
    System,
}

/// Who holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActorKind {
    User,
    Group,
}

fn kind(t: TargetKind, a: ActorKind) -> AssignmentKind {
    match (t, a) {
        (TargetKind::Project, ActorKind::User) => AssignmentKind::UserProject,
        (TargetKind::Project, ActorKind::Group) => AssignmentKind::GroupProject,
        (TargetKind::Domain, ActorKind::User) => AssignmentKind::UserDomain,
        (TargetKind::Domain, ActorKind::Group) => AssignmentKind::GroupDomain,
        (TargetKind::System, ActorKind::User) => AssignmentKind::UserSystem,
        (TargetKind::System, ActorKind::Group) => AssignmentKind::GroupSystem,
    }
}

/// The checked parts of a grant URL.
struct Grant {
    assignment: Assignment,
}

impl Identity {
    async fn resolve_grant(
        &self,
        t: TargetKind,
        target_id: &str,
        a: ActorKind,
        actor_id: &str,
        role_id: Option<&str>,
        inherited: bool,
    ) -> (Value, Result<Grant>) {
        let mut tv = serde_json::Map::new();
        let mut err: Option<Error> = None;
        let mut target_domain = None;
        match t {
            TargetKind::Project => match self.project(target_id).await {
                Ok(p) => {
                    tv.insert(
                        "project".into(),
                        json!({"id": p.id, "domain_id": p.domain_id}),
                    );
                    target_domain = Some(p.domain_id.clone());
                }
                Err(e) => {
                    tv.insert("project".into(), json!({"id": target_id}));
                    err = Some(e);
                }
            },
            TargetKind::Domain => match self.domain(target_id).await {
                Ok(d) => {
                    tv.insert("domain".into(), json!({"id": d.id}));
                    target_domain = Some(d.id.clone());
                }
                Err(e) => {
                    tv.insert("domain".into(), json!({"id": target_id}));
                    err = Some(e);
                }
            },
            TargetKind::System => {}
        }
        match a {
            ActorKind::User => match self.user(actor_id).await {
                Ok(u) => {
                    tv.insert("user".into(), json!({"id": u.id, "domain_id": u.domain_id}));
                }
                Err(e) => {
                    tv.insert("user".into(), json!({"id": actor_id}));
                    err = err.or(Some(e));
                }
            },
            ActorKind::Group => match self.group(actor_id).await {
                Ok(g) => {
                    tv.insert(
                        "group".into(),
                        json!({"id": g.id, "domain_id": g.domain_id}),
                    );
                }
                Err(e) => {
                    tv.insert("group".into(), json!({"id": actor_id}));
                    err = err.or(Some(e));
                }
            },
        }
        let mut role: Option<Role> = None;
        if let Some(rid) = role_id {
            match self.role(rid).await {
                Ok(r) => {
                    tv.insert(
                        "role".into(),
                        json!({"id": r.id, "name": r.name, "domain_id": r.domain_id}),
                    );
                    role = Some(r);
                }
                Err(e) => {
                    tv.insert("role".into(), json!({"id": rid}));
                    err = err.or(Some(e));
                }
            }
        }
        let target = json!({"target": Value::Object(tv)});
        if let Some(e) = err {
            return (target, Err(e));
        }
        if let (Some(r), Some(td)) = (&role, &target_domain)
            && let Some(rd) = &r.domain_id
            && rd != td
        {
            return (
                target,
                Err(Error::ForbiddenMsg(format!(
                    "The role {} is specific to domain {rd} and cannot be assigned in domain {td}.",
                    r.id
                ))),
            );
        }
        let assignment = Assignment {
            kind: kind(t, a),
            actor_id: actor_id.to_string(),
            target_id: if t == TargetKind::System {
                "system".into()
            } else {
                target_id.to_string()
            },
            role_id: role_id.unwrap_or_default().to_string(),
            inherited,
        };
        (target, Ok(Grant { assignment }))
    }

    /// After a grant is removed: revoke the affected tokens, and drop the application
    /// credentials of users who no longer hold any role on the project.
    async fn after_revoke(&self, a: &Assignment) -> Result<()> {
        let users: Vec<String> = if a.kind.is_group() {
            store::users::member_ids(&self.db, &a.actor_id).await?
        } else {
            vec![a.actor_id.clone()]
        };
        for u in &users {
            let mut ev = RevokeEvent::new(self.now());
            ev.user_id = Some(u.clone());
            match a.kind {
                AssignmentKind::UserProject | AssignmentKind::GroupProject if !a.inherited => {
                    ev.project_id = Some(a.target_id.clone());
                }
                AssignmentKind::UserDomain | AssignmentKind::GroupDomain if !a.inherited => {
                    ev.domain_id = Some(a.target_id.clone());
                    ev.role_id = Some(a.role_id.clone());
                }
                _ => {
                    ev.role_id = Some(a.role_id.clone());
                }
            }
            self.revocations.add(&self.db, ev).await?;
        }
        self.changed().await;
        if matches!(
            a.kind,
            AssignmentKind::UserProject | AssignmentKind::GroupProject
        ) && !a.inherited
            && let Ok(p) = self.project(&a.target_id).await
        {
            for u in &users {
                let still = self
                    .effective_roles(u, crate::service::roles::On::Project(&p))
                    .await?;
                if still.is_empty() {
                    for ac in store::appcred::ids_for_user_project(&self.db, u, &p.id).await? {
                        store::appcred::delete(&self.db, &ac).await?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn actions(t: TargetKind, a: ActorKind) -> [&'static str; 4] {
    match (t, a) {
        (TargetKind::System, ActorKind::User) => [
            "identity:create_system_grant_for_user",
            "identity:check_system_grant_for_user",
            "identity:revoke_system_grant_for_user",
            "identity:list_system_grants_for_user",
        ],
        (TargetKind::System, ActorKind::Group) => [
            "identity:create_system_grant_for_group",
            "identity:check_system_grant_for_group",
            "identity:revoke_system_grant_for_group",
            "identity:list_system_grants_for_group",
        ],
        _ => [
            "identity:create_grant",
            "identity:check_grant",
            "identity:revoke_grant",
            "identity:list_grants",
        ],
    }
}

enum Op {
    Put,
    Check,
    Delete,
}

async fn grant_op(
    id: &Identity,
    ctx: &Context,
    t: TargetKind,
    target_id: &str,
    a: ActorKind,
    actor_id: &str,
    role_id: &str,
    inherited: bool,
    op: Op,
) -> Result<Response> {
    let acts = actions(t, a);
    let action = match op {
        Op::Put => acts[0],
        Op::Check => acts[1],
        Op::Delete => acts[2],
    };
    let (target, g) = id
        .resolve_grant(t, target_id, a, actor_id, Some(role_id), inherited)
        .await;
    let g = g?;
    id.enforce(ctx, action, &target)?;
    match op {
        Op::Put => {
            st::grant(&id.db, &g.assignment).await?;
            id.changed().await;
        }
        Op::Check => {
            if !st::exists(&id.db, &g.assignment).await? {
                return Err(Error::NotFoundMsg(format!(
                    "Could not find role assignment with role: {role_id}, user or group: {actor_id}, project, domain, or system: {target_id}."
                )));
            }
        }
        Op::Delete => {
            if st::revoke(&id.db, &g.assignment).await? == 0 {
                return Err(Error::NotFoundMsg(format!(
                    "Could not find role assignment with role: {role_id}, user or group: {actor_id}, project, domain, or system: {target_id}."
                )));
            }
            id.after_revoke(&g.assignment).await?;
        }
    }
    Ok(no_content())
}

async fn grant_list(
    id: &Identity,
    ctx: &Context,
    base: &str,
    t: TargetKind,
    target_id: &str,
    a: ActorKind,
    actor_id: &str,
    inherited: bool,
    self_url: String,
) -> Result<Response> {
    let (target, g) = id
        .resolve_grant(t, target_id, a, actor_id, None, inherited)
        .await;
    let g = g?;
    id.enforce(ctx, actions(t, a)[3], &target)?;
    let f = AssignmentFilter {
        kinds: Some(vec![g.assignment.kind]),
        actor_ids: Some(vec![g.assignment.actor_id.clone()]),
        target_ids: Some(vec![g.assignment.target_id.clone()]),
        inherited: Some(inherited),
        ..Default::default()
    };
    let ids: Vec<String> = st::list_assignments(&id.db, &f)
        .await?
        .into_iter()
        .map(|a| a.role_id)
        .collect();
    let roles = st::roles_by_ids(&id.db, &ids).await?;
    let items = roles.iter().map(|r| r.to_json(base)).collect();
    Ok(collection(id, "roles", items, self_url))
}

macro_rules! grant_handlers {
    ($put:ident, $check:ident, $del:ident, $list:ident, $t:expr, $a:expr, $inh:expr, $url:literal) => {
        pub async fn $put(
            State(id): St,
            ctx: Context,
            Path((target, actor, role)): Path<(String, String, String)>,
        ) -> Result<Response> {
            grant_op(&id, &ctx, $t, &target, $a, &actor, &role, $inh, Op::Put).await
        }
        pub async fn $check(
            State(id): St,
            ctx: Context,
            Path((target, actor, role)): Path<(String, String, String)>,
        ) -> Result<Response> {
            grant_op(&id, &ctx, $t, &target, $a, &actor, &role, $inh, Op::Check).await
        }
        pub async fn $del(
            State(id): St,
            ctx: Context,
            Path((target, actor, role)): Path<(String, String, String)>,
        ) -> Result<Response> {
            grant_op(&id, &ctx, $t, &target, $a, &actor, &role, $inh, Op::Delete).await
        }
        pub async fn $list(
            State(id): St,
            ctx: Context,
            BaseUrl(base): BaseUrl,
            Path((target, actor)): Path<(String, String)>,
        ) -> Result<Response> {
            let url = format!(concat!("{}", $url), base, target, actor);
            grant_list(&id, &ctx, &base, $t, &target, $a, &actor, $inh, url).await
        }
    };
}

grant_handlers!(
    put_pu,
    check_pu,
    del_pu,
    list_pu,
    TargetKind::Project,
    ActorKind::User,
    false,
    "/v3/projects/{}/users/{}/roles"
);
grant_handlers!(
    put_pg,
    check_pg,
    del_pg,
    list_pg,
    TargetKind::Project,
    ActorKind::Group,
    false,
    "/v3/projects/{}/groups/{}/roles"
);
grant_handlers!(
    put_du,
    check_du,
    del_du,
    list_du,
    TargetKind::Domain,
    ActorKind::User,
    false,
    "/v3/domains/{}/users/{}/roles"
);
grant_handlers!(
    put_dg,
    check_dg,
    del_dg,
    list_dg,
    TargetKind::Domain,
    ActorKind::Group,
    false,
    "/v3/domains/{}/groups/{}/roles"
);
grant_handlers!(
    put_idu,
    check_idu,
    del_idu,
    list_idu,
    TargetKind::Domain,
    ActorKind::User,
    true,
    "/v3/OS-INHERIT/domains/{}/users/{}/roles/inherited_to_projects"
);
grant_handlers!(
    put_idg,
    check_idg,
    del_idg,
    list_idg,
    TargetKind::Domain,
    ActorKind::Group,
    true,
    "/v3/OS-INHERIT/domains/{}/groups/{}/roles/inherited_to_projects"
);
grant_handlers!(
    put_ipu,
    check_ipu,
    del_ipu,
    list_ipu,
    TargetKind::Project,
    ActorKind::User,
    true,
    "/v3/OS-INHERIT/projects/{}/users/{}/roles/inherited_to_projects"
);
grant_handlers!(
    put_ipg,
    check_ipg,
    del_ipg,
    list_ipg,
    TargetKind::Project,
    ActorKind::Group,
    true,
    "/v3/OS-INHERIT/projects/{}/groups/{}/roles/inherited_to_projects"
);

macro_rules! system_handlers {
    ($put:ident, $check:ident, $del:ident, $list:ident, $a:expr, $url:literal) => {
        pub async fn $put(
            State(id): St,
            ctx: Context,
            Path((actor, role)): Path<(String, String)>,
        ) -> Result<Response> {
            grant_op(
                &id,
                &ctx,
                TargetKind::System,
                "system",
                $a,
                &actor,
                &role,
                false,
                Op::Put,
            )
            .await
        }
        pub async fn $check(
            State(id): St,
            ctx: Context,
            Path((actor, role)): Path<(String, String)>,
        ) -> Result<Response> {
            grant_op(
                &id,
                &ctx,
                TargetKind::System,
                "system",
                $a,
                &actor,
                &role,
                false,
                Op::Check,
            )
            .await
        }
        pub async fn $del(
            State(id): St,
            ctx: Context,
            Path((actor, role)): Path<(String, String)>,
        ) -> Result<Response> {
            grant_op(
                &id,
                &ctx,
                TargetKind::System,
                "system",
                $a,
                &actor,
                &role,
                false,
                Op::Delete,
            )
            .await
        }
        pub async fn $list(
            State(id): St,
            ctx: Context,
            BaseUrl(base): BaseUrl,
            Path(actor): Path<String>,
        ) -> Result<Response> {
            let url = format!(concat!("{}", $url), base, actor);
            grant_list(
                &id,
                &ctx,
                &base,
                TargetKind::System,
                "system",
                $a,
                &actor,
                false,
                url,
            )
            .await
        }
    };
}

system_handlers!(
    put_su,
    check_su,
    del_su,
    list_su,
    ActorKind::User,
    "/v3/system/users/{}/roles"
);
system_handlers!(
    put_sg,
    check_sg,
    del_sg,
    list_sg,
    ActorKind::Group,
    "/v3/system/groups/{}/roles"
);

// ---- GET /v3/role_assignments -------------------------------------------------------------

/// One row of the listing, before rendering.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    user: Option<String>,
    group: Option<String>,
    /// `project:<id>`, `domain:<id>` or `system`
    scope: (String, String),
    role: String,
    inherited: bool,
    /// The stored assignment this row comes from (its URL).
    source: String,
    membership: Option<String>,
    prior_role: Option<String>,
}

fn assignment_url(base: &str, a: &Assignment) -> String {
    let actor = if a.kind.is_group() { "groups" } else { "users" };
    match a.kind {
        AssignmentKind::UserSystem | AssignmentKind::GroupSystem => {
            format!(
                "{base}/v3/system/{actor}/{}/roles/{}",
                a.actor_id, a.role_id
            )
        }
        AssignmentKind::UserDomain | AssignmentKind::GroupDomain if a.inherited => format!(
            "{base}/v3/OS-INHERIT/domains/{}/{actor}/{}/roles/{}/inherited_to_projects",
            a.target_id, a.actor_id, a.role_id
        ),
        AssignmentKind::UserProject | AssignmentKind::GroupProject if a.inherited => format!(
            "{base}/v3/OS-INHERIT/projects/{}/{actor}/{}/roles/{}/inherited_to_projects",
            a.target_id, a.actor_id, a.role_id
        ),
        AssignmentKind::UserDomain | AssignmentKind::GroupDomain => {
            format!(
                "{base}/v3/domains/{}/{actor}/{}/roles/{}",
                a.target_id, a.actor_id, a.role_id
            )
        }
        AssignmentKind::UserProject | AssignmentKind::GroupProject => {
            format!(
                "{base}/v3/projects/{}/{actor}/{}/roles/{}",
                a.target_id, a.actor_id, a.role_id
            )
        }
    }
}

fn scope_of(a: &Assignment) -> (String, String) {
    match a.kind {
        AssignmentKind::UserProject | AssignmentKind::GroupProject => {
            ("project".into(), a.target_id.clone())
        }
        AssignmentKind::UserDomain | AssignmentKind::GroupDomain => {
            ("domain".into(), a.target_id.clone())
        }
        AssignmentKind::UserSystem | AssignmentKind::GroupSystem => ("system".into(), "all".into()),
    }
}

/// `GET /v3/role_assignments`
pub async fn list_assignments(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    let subtree = q.flag("include_subtree");
    let action = if subtree {
        "identity:list_role_assignments_for_tree"
    } else {
        "identity:list_role_assignments"
    };
    let t = json!({
        "target": {"project": {"id": q.get("scope.project.id")}, "domain_id": q.get("scope.domain.id")},
        "scope.project.id": q.get("scope.project.id"),
        "scope.domain.id": q.get("scope.domain.id"),
    });
    id.enforce(&ctx, action, &t)?;
    if subtree && !q.has("scope.project.id") {
        return Err(Error::bad(
            "scope.project.id needs to be specified if include_subtree is also specified",
        ));
    }
    if q.has("user.id") && q.has("group.id") {
        return Err(Error::bad("Specify a user or group, not both"));
    }
    let scopes = ["scope.project.id", "scope.domain.id", "scope.system"]
        .iter()
        .filter(|s| q.has(s))
        .count();
    if scopes > 1 {
        return Err(Error::bad(
            "Specify a domain, project or system, not more than one",
        ));
    }
    let effective = q.flag("effective");
    if effective && q.has("group.id") {
        return Err(Error::bad(
            "Combining effective and group filter will always result in an empty list.",
        ));
    }
    let inherited_only = q.get("scope.OS-INHERIT:inherited_to") == Some("projects");
    let rows = id
        .assignment_rows(&q, effective, subtree, inherited_only, &base)
        .await?;
    let names = q.flag("include_names");
    let mut items = Vec::with_capacity(rows.len());
    let table = id.role_table().await?;
    for r in rows {
        items.push(id.render_row(&r, names, &table).await?);
    }
    let self_url = format!("{base}/v3/role_assignments");
    Ok(collection(&id, "role_assignments", items, self_url))
}

impl Identity {
    async fn assignment_rows(
        &self,
        q: &Params,
        effective: bool,
        subtree: bool,
        inherited_only: bool,
        base: &str,
    ) -> Result<Vec<Row>> {
        let table = self.role_table().await?;
        let mut stored = st::list_assignments(&self.db, &AssignmentFilter::default()).await?;
        if inherited_only {
            stored.retain(|a| a.inherited);
        }
        let mut rows: BTreeSet<Row> = BTreeSet::new();
        for a in &stored {
            let src = assignment_url(base, a);
            let actors: Vec<(Option<String>, Option<String>, Option<String>)> =
                if effective && a.kind.is_group() {
                    store::users::member_ids(&self.db, &a.actor_id)
                        .await?
                        .into_iter()
                        .map(|u| {
                            let m = format!("{base}/v3/groups/{}/users/{u}", a.actor_id);
                            (Some(u), None, Some(m))
                        })
                        .collect()
                } else if a.kind.is_group() {
                    vec![(None, Some(a.actor_id.clone()), None)]
                } else {
                    vec![(Some(a.actor_id.clone()), None, None)]
                };
            let scopes: Vec<(String, String)> = if effective && a.inherited {
                match a.kind {
                    AssignmentKind::UserDomain | AssignmentKind::GroupDomain => {
                        let f = store::resource::Filter {
                            is_domain: Some(false),
                            domain_id: Some(a.target_id.clone()),
                            ..Default::default()
                        };
                        store::resource::list(&self.db, &f)
                            .await?
                            .into_iter()
                            .map(|p| ("project".to_string(), p.id))
                            .collect()
                    }
                    _ => store::resource::subtree_ids(&self.db, &a.target_id)
                        .await?
                        .into_iter()
                        .map(|p| ("project".to_string(), p))
                        .collect(),
                }
            } else {
                vec![scope_of(a)]
            };
            let roles: Vec<(String, Option<String>)> = if effective {
                let mut out = vec![(a.role_id.clone(), None)];
                for r in table.expand([a.role_id.clone()]).into_iter().skip(1) {
                    out.push((r, Some(format!("{base}/v3/roles/{}", a.role_id))));
                }
                out.into_iter()
                    .filter(|(r, _)| table.roles.get(r).is_some_and(|x| x.domain_id.is_none()))
                    .collect()
            } else {
                vec![(a.role_id.clone(), None)]
            };
            for (user, group, membership) in &actors {
                for scope in &scopes {
                    for (role, prior) in &roles {
                        rows.insert(Row {
                            user: user.clone(),
                            group: group.clone(),
                            scope: scope.clone(),
                            role: role.clone(),
                            inherited: a.inherited && !effective,
                            source: src.clone(),
                            membership: membership.clone(),
                            prior_role: prior.clone(),
                        });
                    }
                }
            }
        }
        // Filters.
        let user = q.get("user.id");
        let group = q.get("group.id");
        let role = q.get("role.id");
        let mut projects: Option<Vec<String>> =
            q.get("scope.project.id").map(|p| vec![p.to_string()]);
        if subtree && let Some(p) = q.get("scope.project.id") {
            let mut all = vec![p.to_string()];
            all.extend(store::resource::subtree_ids(&self.db, p).await?);
            projects = Some(all);
        }
        let domain = q.get("scope.domain.id");
        let system = q.has("scope.system");
        Ok(rows
            .into_iter()
            .filter(|r| user.is_none_or(|u| r.user.as_deref() == Some(u)))
            .filter(|r| group.is_none_or(|g| r.group.as_deref() == Some(g)))
            .filter(|r| role.is_none_or(|x| r.role == x))
            .filter(|r| {
                projects
                    .as_ref()
                    .is_none_or(|ps| r.scope.0 == "project" && ps.contains(&r.scope.1))
            })
            .filter(|r| domain.is_none_or(|d| r.scope.0 == "domain" && r.scope.1 == d))
            .filter(|r| !system || r.scope.0 == "system")
            .collect())
    }

    async fn render_row(
        &self,
        r: &Row,
        names: bool,
        table: &crate::service::cache::RoleTable,
    ) -> Result<Value> {
        let mut v = serde_json::Map::new();
        let role = table.roles.get(&r.role);
        let mut rv = json!({"id": r.role});
        if names && let Some(role) = role {
            rv["name"] = json!(role.name);
            if let Some(d) = &role.domain_id {
                let dn = self.domain(d).await.map(|x| x.name).unwrap_or_default();
                rv["domain"] = json!({"id": d, "name": dn});
            }
        }
        v.insert("role".into(), rv);
        if let Some(u) = &r.user {
            let mut uv = json!({"id": u});
            if names && let Ok(user) = self.user(u).await {
                let dn = self
                    .domain(&user.domain_id)
                    .await
                    .map(|x| x.name)
                    .unwrap_or_default();
                uv["name"] = json!(user.name);
                uv["domain"] = json!({"id": user.domain_id, "name": dn});
            }
            v.insert("user".into(), uv);
        }
        if let Some(g) = &r.group {
            let mut gv = json!({"id": g});
            if names && let Ok(group) = self.group(g).await {
                let dn = self
                    .domain(&group.domain_id)
                    .await
                    .map(|x| x.name)
                    .unwrap_or_default();
                gv["name"] = json!(group.name);
                gv["domain"] = json!({"id": group.domain_id, "name": dn});
            }
            v.insert("group".into(), gv);
        }
        let mut scope = match r.scope.0.as_str() {
            "project" => {
                let mut pv = json!({"id": r.scope.1});
                if names && let Ok(p) = self.project(&r.scope.1).await {
                    let dn = self
                        .domain(&p.domain_id)
                        .await
                        .map(|x| x.name)
                        .unwrap_or_default();
                    pv["name"] = json!(p.name);
                    pv["domain"] = json!({"id": p.domain_id, "name": dn});
                }
                json!({"project": pv})
            }
            "domain" => {
                let mut dv = json!({"id": r.scope.1});
                if names && let Ok(d) = self.domain(&r.scope.1).await {
                    dv["name"] = json!(d.name);
                }
                json!({"domain": dv})
            }
            _ => json!({"system": {"all": true}}),
        };
        if r.inherited {
            scope["OS-INHERIT:inherited_to"] = json!("projects");
        }
        v.insert("scope".into(), scope);
        let mut links = json!({"assignment": r.source});
        if let Some(m) = &r.membership {
            links["membership"] = json!(m);
        }
        if let Some(p) = &r.prior_role {
            links["prior_role"] = json!(p);
        }
        v.insert("links".into(), links);
        Ok(Value::Object(v))
    }
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/projects/{target}/users/{actor}/roles",
        get(list_pu, "list pu")
    );
    let r = api::route!(
        r,
        "/v3/projects/{target}/users/{actor}/roles/{role}",
        get(check_pu, "check pu"),
        head(check_pu, "check pu"),
        put(put_pu, "put pu"),
        delete(del_pu, "del pu")
    );
    let r = api::route!(
        r,
        "/v3/projects/{target}/groups/{actor}/roles",
        get(list_pg, "list pg")
    );
    let r = api::route!(
        r,
        "/v3/projects/{target}/groups/{actor}/roles/{role}",
        get(check_pg, "check pg"),
        head(check_pg, "check pg"),
        put(put_pg, "put pg"),
        delete(del_pg, "del pg")
    );
    let r = api::route!(
        r,
        "/v3/domains/{target}/users/{actor}/roles",
        get(list_du, "list du")
    );
    let r = api::route!(
        r,
        "/v3/domains/{target}/users/{actor}/roles/{role}",
        get(check_du, "check du"),
        head(check_du, "check du"),
        put(put_du, "put du"),
        delete(del_du, "del du")
    );
    let r = api::route!(
        r,
        "/v3/domains/{target}/groups/{actor}/roles",
        get(list_dg, "list dg")
    );
    let r = api::route!(
        r,
        "/v3/domains/{target}/groups/{actor}/roles/{role}",
        get(check_dg, "check dg"),
        head(check_dg, "check dg"),
        put(put_dg, "put dg"),
        delete(del_dg, "del dg")
    );
    let r = api::route!(
        r,
        "/v3/OS-INHERIT/domains/{target}/users/{actor}/roles/inherited_to_projects",
        get(list_idu, "list idu")
    );
    let r = api::route!(
        r,
        "/v3/OS-INHERIT/domains/{target}/users/{actor}/roles/{role}/inherited_to_projects",
        get(check_idu, "check idu"),
        head(check_idu, "check idu"),
        put(put_idu, "put idu"),
        delete(del_idu, "del idu")
    );
    let r = api::route!(
        r,
        "/v3/OS-INHERIT/domains/{target}/groups/{actor}/roles/inherited_to_projects",
        get(list_idg, "list idg")
    );
    let r = api::route!(
        r,
        "/v3/OS-INHERIT/domains/{target}/groups/{actor}/roles/{role}/inherited_to_projects",
        get(check_idg, "check idg"),
        head(check_idg, "check idg"),
        put(put_idg, "put idg"),
        delete(del_idg, "del idg")
    );
    let r = api::route!(
        r,
        "/v3/OS-INHERIT/projects/{target}/users/{actor}/roles/inherited_to_projects",
        get(list_ipu, "list ipu")
    );
    let r = api::route!(
        r,
        "/v3/OS-INHERIT/projects/{target}/users/{actor}/roles/{role}/inherited_to_projects",
        get(check_ipu, "check ipu"),
        head(check_ipu, "check ipu"),
        put(put_ipu, "put ipu"),
        delete(del_ipu, "del ipu")
    );
    let r = api::route!(
        r,
        "/v3/OS-INHERIT/projects/{target}/groups/{actor}/roles/inherited_to_projects",
        get(list_ipg, "list ipg")
    );
    let r = api::route!(
        r,
        "/v3/OS-INHERIT/projects/{target}/groups/{actor}/roles/{role}/inherited_to_projects",
        get(check_ipg, "check ipg"),
        head(check_ipg, "check ipg"),
        put(put_ipg, "put ipg"),
        delete(del_ipg, "del ipg")
    );
    let r = api::route!(r, "/v3/system/users/{actor}/roles", get(list_su, "list su"));
    let r = api::route!(
        r,
        "/v3/system/users/{actor}/roles/{role}",
        get(check_su, "check su"),
        head(check_su, "check su"),
        put(put_su, "put su"),
        delete(del_su, "del su")
    );
    let r = api::route!(
        r,
        "/v3/system/groups/{actor}/roles",
        get(list_sg, "list sg")
    );
    let r = api::route!(
        r,
        "/v3/system/groups/{actor}/roles/{role}",
        get(check_sg, "check sg"),
        head(check_sg, "check sg"),
        put(put_sg, "put sg"),
        delete(del_sg, "del sg")
    );
    let r = api::route!(
        r,
        "/v3/role_assignments",
        get(list_assignments, "GET /v3/role_assignments")
    );
    r
}
