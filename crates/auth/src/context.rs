//! The request context: who is calling, with which scope and roles — what
//! keystonemiddleware puts into a request for every OpenStack service.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};

use api::{ErrorStyle, Fault};

/// An id with its name (role, domain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// The project a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectRef {
    pub id: String,
    pub name: String,
    pub domain: Named,
}

/// A validated token: the caller's identity, scope and roles.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub user_id: String,
    pub user_name: String,
    pub user_domain: Named,
    pub project: Option<ProjectRef>,
    pub domain: Option<Named>,
    /// `Some("all")` for system-scoped tokens.
    pub system: Option<String>,
    pub roles: Vec<Named>,
    pub is_admin_project: bool,
    pub methods: Vec<String>,
    pub audit_ids: Vec<String>,
    /// Unix seconds.
    pub expires_at: i64,
    pub issued_at: i64,
    pub app_cred_id: Option<String>,
    pub trust_id: Option<String>,
}

impl TokenInfo {
    /// `system`, `domain`, `project`, or `None` for unscoped tokens.
    pub fn scope(&self) -> Option<&'static str> {
        if self.system.is_some() {
            Some("system")
        } else if self.domain.is_some() {
            Some("domain")
        } else if self.project.is_some() {
            Some("project")
        } else {
            None
        }
    }

    pub fn project_id(&self) -> Option<&str> {
        self.project.as_ref().map(|p| p.id.as_str())
    }

    pub fn domain_id(&self) -> Option<&str> {
        self.domain.as_ref().map(|d| d.id.as_str())
    }

    pub fn role_names(&self) -> Vec<&str> {
        self.roles.iter().map(|r| r.name.as_str()).collect()
    }

    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name.eq_ignore_ascii_case(name))
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Context {
    pub user: Arc<TokenInfo>,
    /// The validated `X-Service-Token`, when one was sent.
    pub service: Option<Arc<TokenInfo>>,
    /// The caller's token as sent.
    pub token: String,
}

impl Context {
    /// Policy credentials in oslo.context's `to_policy_values()` shape.
    pub fn creds(&self) -> Value {
        let u = &self.user;
        let svc = self.service.as_deref();
        json!({
            "user_id": u.user_id,
            "user_domain_id": u.user_domain.id,
            "system_scope": u.system,
            "domain_id": u.domain_id(),
            "project_id": u.project_id(),
            "project_domain_id": u.project.as_ref().map(|p| p.domain.id.as_str()),
            "roles": u.role_names(),
            "is_admin_project": u.is_admin_project,
            "service_user_id": svc.map(|s| s.user_id.as_str()),
            "service_user_domain_id": svc.map(|s| s.user_domain.id.as_str()),
            "service_project_id": svc.and_then(TokenInfo::project_id),
            "service_project_domain_id": svc.and_then(|s| s.project.as_ref().map(|p| p.domain.id.as_str())),
            "service_roles": svc.map(TokenInfo::role_names).unwrap_or_default(),
        })
    }
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("The request you have made requires authentication.")]
    Unauthorized,
    #[error("the identity service could not be reached to validate the token")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Validates tokens: locally against the Fernet keys (identity, all-in-one) or remotely
/// against the identity service (every other service when deployed on its own).
#[async_trait]
pub trait TokenValidator: Send + Sync {
    async fn validate(&self, token: &str) -> Result<Arc<TokenInfo>, AuthError>;
}

/// The validator a service's router uses, installed as a request extension.
#[derive(Clone)]
pub struct Validator {
    pub inner: Arc<dyn TokenValidator>,
    /// Sent as `WWW-Authenticate: Keystone uri="…"` on 401 responses.
    pub auth_uri: String,
}

/// Build the 401 fault every service returns for a missing or bad token.
pub fn unauthorized(style: ErrorStyle, auth_uri: &str) -> Fault {
    let mut f = Fault::new(
        StatusCode::UNAUTHORIZED,
        "The request you have made requires authentication.",
    )
    .styled(style);
    if let Ok(v) = HeaderValue::from_str(&format!("Keystone uri=\"{auth_uri}\"")) {
        f = f.with_header(header::WWW_AUTHENTICATE, v);
    }
    f
}

fn header_str<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

impl<S: Send + Sync> FromRequestParts<S> for Context {
    type Rejection = Fault;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let style = parts
            .extensions
            .get::<ErrorStyle>()
            .copied()
            .unwrap_or_default();
        if let Some(ctx) = parts.extensions.get::<Context>() {
            return Ok(ctx.clone());
        }
        let Some(v) = parts.extensions.get::<Validator>().cloned() else {
            tracing::error!("no token validator installed on this router");
            return Err(Fault::internal().styled(style));
        };
        let Some(token) = header_str(parts, "x-auth-token").map(str::to_string) else {
            return Err(unauthorized(style, &v.auth_uri));
        };
        let map = |e: AuthError| match e {
            AuthError::Unauthorized => unauthorized(style, &v.auth_uri),
            AuthError::Unavailable(source) => {
                tracing::error!(error = %source, "token validation unavailable");
                Fault::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The identity service is unavailable; the token could not be validated.",
                )
                .styled(style)
            }
        };
        let user = v.inner.validate(&token).await.map_err(map)?;
        let service = match header_str(parts, "x-service-token") {
            Some(st) => Some(v.inner.validate(st).await.map_err(map)?),
            None => None,
        };
        let ctx = Context {
            user,
            service,
            token,
        };
        parts.extensions.insert(ctx.clone());
        Ok(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn info(roles: &[&str]) -> TokenInfo {
        TokenInfo {
            user_id: "u".into(),
            user_name: "user".into(),
            user_domain: Named {
                id: "default".into(),
                name: "Default".into(),
            },
            project: Some(ProjectRef {
                id: "p".into(),
                name: "proj".into(),
                domain: Named {
                    id: "default".into(),
                    name: "Default".into(),
                },
            }),
            domain: None,
            system: None,
            roles: roles
                .iter()
                .map(|r| Named {
                    id: format!("{r}-id"),
                    name: (*r).to_string(),
                })
                .collect(),
            is_admin_project: true,
            methods: vec!["password".into()],
            audit_ids: vec![],
            expires_at: 0,
            issued_at: 0,
            app_cred_id: None,
            trust_id: None,
        }
    }

    #[test]
    fn creds_carry_scope_and_roles() {
        let ctx = Context {
            user: Arc::new(info(&["member", "reader"])),
            service: None,
            token: "t".into(),
        };
        let c = ctx.creds();
        assert_eq!(c["project_id"], "p");
        assert_eq!(c["roles"], json!(["member", "reader"]));
        assert_eq!(c["system_scope"], Value::Null);
        assert_eq!(ctx.user.scope(), Some("project"));
        assert!(ctx.user.has_role("MEMBER"));
    }
}
