//! Token validation, building and rendering.
//!
//! A token is validated by decrypting it (any active key), checking its expiry, rebuilding
//! what it stands for from the current data (user and project still enabled, roles still
//! held, trust or application credential still there) and checking revocation events.
//! The result is cached per token string until the next identity write.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use auth::{AuthError, Named, ProjectRef, Scope, TokenInfo, TokenPayload};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::clock::{iso_micros, token_time};
use crate::model::{Project, User};
use crate::revoke::TokenFacts;
use crate::service::cache::Stamped;
use crate::service::roles::{On, effective_from};
use crate::{Error, Identity, Result, store};

/// Why a token is not valid. Callers map this to 404 (validation API) or 401 (use).
#[derive(Debug, thiserror::Error)]
pub enum TokenProblem {
    #[error("the token is invalid: {0}")]
    Invalid(String),
    #[error("the token has expired")]
    Expired,
    #[error(transparent)]
    Internal(#[from] Error),
}

impl From<db::DbError> for TokenProblem {
    fn from(e: db::DbError) -> Self {
        TokenProblem::Internal(Error::Db(e))
    }
}

fn invalid(msg: impl Into<String>) -> TokenProblem {
    TokenProblem::Invalid(msg.into())
}

#[derive(Debug, Clone)]
pub struct TrustRef {
    pub id: String,
    pub trustor_id: String,
    pub trustee_id: String,
    pub impersonation: bool,
}

#[derive(Debug, Clone)]
pub struct AppCredRef {
    pub id: String,
    pub name: String,
    pub restricted: bool,
    pub access_rules: Vec<Value>,
}

/// A token with everything it stands for, as of the epoch it was built.
#[derive(Debug)]
pub struct Validated {
    pub token: String,
    pub payload: TokenPayload,
    pub info: Arc<TokenInfo>,
    pub password_expires_at: Option<i64>,
    pub is_domain: bool,
    pub trust: Option<TrustRef>,
    pub app_cred: Option<AppCredRef>,
    /// Whose catalog the token shows (the trustor for trusts).
    pub catalog_user: String,
    body_with_catalog: OnceLock<Bytes>,
    body_without_catalog: OnceLock<Bytes>,
}

impl Validated {
    pub fn facts(&self) -> TokenFacts<'_> {
        facts_of(&self.payload, &self.info, self.trust.as_ref())
    }
}

fn facts_of<'a>(
    p: &'a TokenPayload,
    info: &'a TokenInfo,
    trust: Option<&'a TrustRef>,
) -> TokenFacts<'a> {
    TokenFacts {
        user_id: &p.user_id,
        trustor_id: trust.map(|t| t.trustor_id.as_str()),
        trustee_id: trust.map(|t| t.trustee_id.as_str()),
        project_id: info.project_id(),
        identity_domain_id: Some(info.user_domain.id.as_str()),
        assignment_domain_id: info
            .project
            .as_ref()
            .map(|pr| pr.domain.id.as_str())
            .or(info.domain_id()),
        role_ids: info.roles.iter().map(|r| r.id.as_str()).collect(),
        trust_id: trust.map(|t| t.id.as_str()),
        audit_id: p.audit_ids.first().map(String::as_str),
        audit_chain_id: p.audit_ids.last().map(String::as_str),
        issued_at: p.issued_at,
        expires_at: p.expires_at,
    }
}

fn named(p: &Project) -> Named {
    Named {
        id: p.id.clone(),
        name: p.name.clone(),
    }
}

impl Identity {
    /// Validate a token. `allow_expired` accepts tokens within `allow_expired_window` after
    /// expiry (for services finishing long operations, with a service token).
    pub async fn validate_token(
        &self,
        token: &str,
        allow_expired: bool,
    ) -> Result<Arc<Validated>, TokenProblem> {
        let now = self.now();
        let epoch = self.epoch();
        let v = match self.cache.tokens.get(token) {
            Some(s) if s.epoch == epoch => s.value,
            _ => {
                let payload = TokenPayload::open(token, &self.keys(), now)
                    .map_err(|e| invalid(e.to_string()))?;
                // Expired tokens are not worth rebuilding unless asked for.
                if now >= payload.expires_at && !allow_expired {
                    return Err(TokenProblem::Expired);
                }
                let v = Arc::new(self.build(token.to_string(), payload).await?);
                if self.revocations.is_revoked(&v.facts()) {
                    return Err(invalid("the token has been revoked"));
                }
                self.cache.tokens.insert(
                    token.to_string(),
                    Stamped {
                        epoch,
                        value: v.clone(),
                    },
                );
                v
            }
        };
        let exp = v.payload.expires_at;
        if now >= exp && !(allow_expired && now < exp + self.cfg.allow_expired_window) {
            return Err(TokenProblem::Expired);
        }
        Ok(v)
    }

    /// Rebuild what a payload stands for from current data; keystone's `mint` checks.
    pub async fn build(&self, token: String, p: TokenPayload) -> Result<Validated, TokenProblem> {
        let user = store::users::get(&self.db, &p.user_id)
            .await?
            .ok_or_else(|| invalid("user not found"))?;
        if !user.enabled {
            return Err(invalid("user disabled"));
        }
        let user_domain = self.enabled_domain(&user.domain_id).await?;
        let table = self.role_table().await?;
        let mut project: Option<Project> = None;
        let mut domain: Option<Project> = None;
        let mut system = None;
        let mut trust = None;
        let mut app_cred = None;
        let mut shown_user = user.clone();
        let mut shown_user_domain = user_domain.clone();
        let roles = match &p.scope {
            Scope::Unscoped => Vec::new(),
            Scope::Project { project_id } => {
                let pr = self.enabled_project(project_id).await?;
                let r = self.effective_roles(&user.id, On::Project(&pr)).await?;
                project = Some(pr);
                r
            }
            Scope::Domain { domain_id } => {
                let d = self.enabled_domain(domain_id).await?;
                let r = self.effective_roles(&user.id, On::Domain(&d.id)).await?;
                domain = Some(d);
                r
            }
            Scope::System { system: s } => {
                system = Some(s.clone());
                self.effective_roles(&user.id, On::System).await?
            }
            Scope::ApplicationCredential {
                project_id,
                app_cred_id,
            } => {
                let ac = store::appcred::get(&self.db, app_cred_id)
                    .await?
                    .ok_or_else(|| invalid("application credential not found"))?;
                if ac.user_id != user.id {
                    return Err(invalid("application credential of another user"));
                }
                if ac.expires_at.is_some_and(|e| e <= self.now_micros()) {
                    return Err(invalid("application credential expired"));
                }
                let pr = self.enabled_project(project_id).await?;
                let held: Vec<String> = self
                    .effective_roles(&user.id, On::Project(&pr))
                    .await?
                    .into_iter()
                    .map(|r| r.id)
                    .collect();
                // As keystone: the credential's own roles the user still holds, unexpanded.
                let mut r: Vec<_> = ac
                    .role_ids
                    .iter()
                    .filter(|id| held.contains(id))
                    .filter_map(|id| table.roles.get(id).cloned())
                    .collect();
                r.sort_by(|a, b| a.name.cmp(&b.name));
                app_cred = Some(AppCredRef {
                    id: ac.id.clone(),
                    name: ac.name.clone(),
                    restricted: !ac.unrestricted,
                    access_rules: ac
                        .access_rules
                        .iter()
                        .map(|a| json!({"id": a.id, "service": a.service, "path": a.path, "method": a.method}))
                        .collect(),
                });
                project = Some(pr);
                r
            }
            Scope::Trust {
                project_id,
                trust_id,
            } => {
                let t = store::trust::get(&self.db, trust_id)
                    .await?
                    .ok_or_else(|| invalid("trust not found"))?;
                if t.trustee_user_id != user.id {
                    return Err(invalid("user is not the trustee"));
                }
                if t.expires_at.is_some_and(|e| e <= self.now_micros()) {
                    return Err(invalid("trust expired"));
                }
                let trustor = store::users::get(&self.db, &t.trustor_user_id)
                    .await?
                    .ok_or_else(|| invalid("trustor not found"))?;
                if !trustor.enabled {
                    return Err(invalid("trustor disabled"));
                }
                let trustor_domain = self.enabled_domain(&trustor.domain_id).await?;
                let original_trustor = self.original_trustor(&t).await?;
                let pr = match t.project_id.as_deref() {
                    Some(pid) => Some(self.enabled_project(pid).await?),
                    None => None,
                };
                let _ = project_id;
                let held: Vec<String> = match &pr {
                    Some(pr) => self
                        .effective_roles(&original_trustor, On::Project(pr))
                        .await?
                        .into_iter()
                        .map(|r| r.id)
                        .collect(),
                    None => Vec::new(),
                };
                let delegated = effective_from(&table, t.role_ids.iter().cloned());
                if delegated.iter().any(|r| !held.contains(&r.id)) {
                    return Err(invalid("trustee has no delegated roles"));
                }
                if t.impersonation {
                    shown_user = trustor.clone();
                    shown_user_domain = trustor_domain;
                }
                trust = Some(TrustRef {
                    id: t.id.clone(),
                    trustor_id: t.trustor_user_id.clone(),
                    trustee_id: t.trustee_user_id.clone(),
                    impersonation: t.impersonation,
                });
                project = pr;
                delegated
            }
            Scope::FederatedUnscoped { .. }
            | Scope::FederatedProject { .. }
            | Scope::FederatedDomain { .. }
            | Scope::OAuth1 { .. }
            | Scope::OAuth2 { .. } => return Err(invalid("unsupported token type")),
        };
        let scoped = !matches!(p.scope, Scope::Unscoped);
        if scoped && roles.is_empty() {
            return Err(invalid("user has no roles on the token's scope"));
        }
        let project_ref = match &project {
            Some(pr) => {
                let d = self.enabled_domain(&pr.domain_id).await?;
                Some(ProjectRef {
                    id: pr.id.clone(),
                    name: pr.name.clone(),
                    domain: named(&d),
                })
            }
            None => None,
        };
        let is_admin_project = match (&self.cfg.admin_project, &project_ref) {
            (Some((name, dom)), Some(pr)) => &pr.name == name && &pr.domain.name == dom,
            (Some(_), None) => false,
            (None, _) => true,
        };
        let info = TokenInfo {
            user_id: shown_user.id.clone(),
            user_name: shown_user.name.clone(),
            user_domain: named(&shown_user_domain),
            project: project_ref,
            domain: domain.as_ref().map(named),
            system,
            roles: roles
                .iter()
                .map(|r| Named {
                    id: r.id.clone(),
                    name: r.name.clone(),
                })
                .collect(),
            is_admin_project,
            methods: p.methods.clone(),
            audit_ids: p.audit_ids.clone(),
            expires_at: p.expires_at,
            issued_at: p.issued_at,
            app_cred_id: app_cred.as_ref().map(|a| a.id.clone()),
            trust_id: trust.as_ref().map(|t| t.id.clone()),
        };
        let catalog_user = trust
            .as_ref()
            .map(|t| t.trustor_id.clone())
            .unwrap_or_else(|| user.id.clone());
        Ok(Validated {
            token,
            password_expires_at: shown_user_password_expiry(&shown_user),
            is_domain: project.as_ref().is_some_and(|p| p.is_domain),
            payload: p,
            info: Arc::new(info),
            trust,
            app_cred,
            catalog_user,
            body_with_catalog: OnceLock::new(),
            body_without_catalog: OnceLock::new(),
        })
    }

    async fn enabled_domain(&self, id: &str) -> Result<Project, TokenProblem> {
        match store::resource::get(&self.db, id).await? {
            Some(d) if d.is_domain && d.enabled => Ok(d),
            Some(d) if d.is_domain => Err(invalid(format!("domain {} is disabled", d.id))),
            _ => Err(invalid(format!("domain {id} not found"))),
        }
    }

    async fn enabled_project(&self, id: &str) -> Result<Project, TokenProblem> {
        match store::resource::get(&self.db, id).await? {
            Some(p) if p.enabled => {
                self.enabled_domain(&p.domain_id).await?;
                Ok(p)
            }
            Some(p) => Err(invalid(format!("project {} is disabled", p.id))),
            None => Err(invalid(format!("project {id} not found"))),
        }
    }

    /// Follow a redelegation chain back to the user who first delegated.
    async fn original_trustor(&self, t: &store::trust::Trust) -> Result<String, TokenProblem> {
        let mut cur = t.clone();
        for _ in 0..16 {
            match &cur.redelegated_trust_id {
                Some(parent) => match store::trust::get(&self.db, parent).await? {
                    Some(pt) => cur = pt,
                    None => return Err(invalid("a trust in the redelegation chain is gone")),
                },
                None => return Ok(cur.trustor_user_id),
            }
        }
        Err(invalid("redelegation chain too long"))
    }

    /// The keystone token document, as bytes, cached on the validated token.
    pub async fn render_token(&self, v: &Validated, with_catalog: bool) -> Result<Bytes> {
        let slot = if with_catalog {
            &v.body_with_catalog
        } else {
            &v.body_without_catalog
        };
        if let Some(b) = slot.get() {
            return Ok(b.clone());
        }
        let catalog = if with_catalog && !matches!(v.payload.scope, Scope::Unscoped) {
            Some(self.catalog(&v.catalog_user, v.info.project_id()).await?)
        } else {
            None
        };
        let body = render(v, catalog.as_deref());
        let bytes =
            Bytes::from(serde_json::to_vec(&body).map_err(|e| Error::Internal(e.to_string()))?);
        let _ = slot.set(bytes.clone());
        Ok(bytes)
    }
}

fn shown_user_password_expiry(u: &User) -> Option<i64> {
    u.password_expires_at
}

/// The `{"token": {...}}` document.
pub fn render(v: &Validated, catalog: Option<&Value>) -> Value {
    let i = &v.info;
    let mut t = serde_json::Map::new();
    t.insert("methods".into(), json!(i.methods));
    t.insert(
        "user".into(),
        json!({
            "domain": {"id": i.user_domain.id, "name": i.user_domain.name},
            "id": i.user_id,
            "name": i.user_name,
            "password_expires_at": v.password_expires_at.map(iso_micros),
        }),
    );
    t.insert("audit_ids".into(), json!(i.audit_ids));
    t.insert("expires_at".into(), json!(token_time(i.expires_at)));
    t.insert("issued_at".into(), json!(token_time(i.issued_at)));
    let roles: Vec<Value> = i
        .roles
        .iter()
        .map(|r| json!({"id": r.id, "name": r.name}))
        .collect();
    if i.system.is_some() {
        t.insert("system".into(), json!({"all": true}));
        t.insert("roles".into(), json!(roles));
    } else if let Some(d) = &i.domain {
        t.insert("domain".into(), json!({"id": d.id, "name": d.name}));
        t.insert("roles".into(), json!(roles));
    } else if let Some(p) = &i.project {
        t.insert(
            "project".into(),
            json!({"domain": {"id": p.domain.id, "name": p.domain.name}, "id": p.id, "name": p.name}),
        );
        if let Some(tr) = &v.trust {
            t.insert(
                "OS-TRUST:trust".into(),
                json!({
                    "id": tr.id,
                    "trustor_user": {"id": tr.trustor_id},
                    "trustee_user": {"id": tr.trustee_id},
                    "impersonation": tr.impersonation,
                }),
            );
        } else {
            t.insert("is_domain".into(), json!(v.is_domain));
        }
        t.insert("roles".into(), json!(roles));
    }
    if let Some(c) = catalog {
        t.insert("catalog".into(), c.clone());
    }
    if let Some(a) = &v.app_cred {
        let mut ac = json!({"id": a.id, "name": a.name, "restricted": a.restricted});
        if !a.access_rules.is_empty() {
            ac["access_rules"] = json!(a.access_rules);
        }
        t.insert("application_credential".into(), ac);
    }
    json!({"token": Value::Object(t)})
}

/// Validates tokens for services in the same process, against the shared keys and data.
pub struct LocalValidator(pub Arc<Identity>);

#[async_trait]
impl auth::TokenValidator for LocalValidator {
    async fn validate(&self, token: &str) -> Result<Arc<TokenInfo>, AuthError> {
        match self.0.validate_token(token, false).await {
            Ok(v) => Ok(v.info.clone()),
            Err(TokenProblem::Invalid(reason)) => {
                tracing::debug!(reason, "token rejected");
                Err(AuthError::Unauthorized)
            }
            Err(TokenProblem::Expired) => Err(AuthError::Unauthorized),
            Err(TokenProblem::Internal(e)) => Err(AuthError::Unavailable(Box::new(e))),
        }
    }
}
