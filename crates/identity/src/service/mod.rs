//! The identity rules: what the handlers call. Each module covers one resource family.

pub mod app_creds;
pub mod authn;
pub mod cache;
pub mod catalog;
pub mod credentials;
pub mod password;
pub mod roles;
pub mod tokens;
pub mod trusts;

use std::sync::Arc;

use auth::{Context, Decision};
use serde_json::{Value, json};

use crate::model::Project;
use crate::schema::ROOT_DOMAIN;
use crate::{Error, Identity, Result, store};

impl Identity {
    /// Policy credentials for `ctx`, with keystone's `token.*` view added.
    pub fn creds(&self, ctx: &Context) -> Value {
        let mut c = ctx.creds();
        if let Value::Object(m) = &mut c {
            let u = &ctx.user;
            m.insert(
                "token".into(),
                json!({
                    "user_id": u.user_id,
                    "user": {"id": u.user_id, "domain": {"id": u.user_domain.id}},
                    "project": u.project.as_ref().map(|p| json!({"id": p.id, "domain": {"id": p.domain.id}})),
                    "domain": u.domain.as_ref().map(|d| json!({"id": d.id})),
                    "system": u.system.as_ref().map(|_| json!({"all": true})),
                }),
            );
            m.insert("trust_id".into(), json!(u.trust_id));
        }
        c
    }

    /// Enforce policy rule `action` for the caller against `target`; 403 when denied.
    ///
    /// Null members are dropped from the target first: keystone only puts into a target
    /// what the request actually named (a `domain_id` filter, say), and a check on a
    /// missing key fails, whereas a null would compare equal to a caller's null.
    pub fn enforce(&self, ctx: &Context, action: &str, target: &Value) -> Result<()> {
        let target = auth::policy::without_nulls(target);
        match self
            .policy
            .decide(action, &target, &self.creds(ctx), ctx.user.scope())
        {
            Decision::Allow => Ok(()),
            Decision::Deny | Decision::WrongScope => {
                tracing::debug!(action, user = %ctx.user.user_id, "policy denied");
                Err(Error::Forbidden(action.to_string()))
            }
        }
    }

    /// Whether the caller passes `action` (for filtering rather than refusing).
    pub fn allowed(&self, ctx: &Context, action: &str, target: &Value) -> bool {
        self.enforce(ctx, action, target).is_ok()
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn now_micros(&self) -> i64 {
        self.clock.now_micros()
    }

    // ---- common lookups ---------------------------------------------------------------

    pub async fn project(&self, id: &str) -> Result<Project> {
        match store::resource::get(&self.db, id).await? {
            Some(p) if !p.is_domain => Ok(p),
            _ => Err(Error::not_found("project", id)),
        }
    }

    /// Projects (or domains) matching a filter, cached until the next write.
    pub async fn list_projects(&self, f: &store::resource::Filter) -> Result<Arc<Vec<Project>>> {
        let key = format!("{f:?}");
        let epoch = self.epoch();
        if let Some(s) = self.cache.projects.get(&key)
            && s.epoch == epoch
        {
            return Ok(s.value);
        }
        let v = Arc::new(store::resource::list(&self.db, f).await?);
        self.cache.projects.insert(
            key,
            cache::Stamped {
                epoch,
                value: v.clone(),
            },
        );
        Ok(v)
    }

    /// A project, or a domain addressed through the projects API (`is_domain`).
    pub async fn project_or_domain(&self, id: &str) -> Result<Project> {
        store::resource::get(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("project", id))
    }

    pub async fn domain(&self, id: &str) -> Result<Project> {
        match store::resource::get(&self.db, id).await? {
            Some(p) if p.is_domain => Ok(p),
            _ => Err(Error::not_found("domain", id)),
        }
    }

    pub async fn domain_by_name(&self, name: &str) -> Result<Project> {
        match store::resource::get_by_name(&self.db, ROOT_DOMAIN, name).await? {
            Some(p) => Ok(p),
            None => Err(Error::not_found("domain", name)),
        }
    }

    pub async fn user(&self, id: &str) -> Result<crate::model::User> {
        store::users::get(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("user", id))
    }

    pub async fn group(&self, id: &str) -> Result<crate::model::Group> {
        store::users::get_group(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("group", id))
    }

    pub async fn role(&self, id: &str) -> Result<crate::model::Role> {
        store::assignment::get_role(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("role", id))
    }

    /// The chain of parent projects of `p`, nearest first (domains excluded).
    pub async fn ancestors(&self, p: &Project) -> Result<Vec<Project>> {
        let mut out = Vec::new();
        let mut cur = p.parent_id.clone();
        while let Some(id) = cur {
            if out.len() > 64 {
                break;
            }
            match store::resource::get(&self.db, &id).await? {
                Some(pp) if !pp.is_domain => {
                    cur = pp.parent_id.clone();
                    out.push(pp);
                }
                _ => break,
            }
        }
        Ok(out)
    }
}
