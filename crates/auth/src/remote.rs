//! Token validation against a remote identity service, for services deployed on their own
//! (what keystonemiddleware's `auth_token` does): the service authenticates as its own
//! service user, validates callers' tokens with `GET /v3/auth/tokens`, and caches the
//! answers for a short time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use quick_cache::sync::Cache;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::context::{AuthError, Named, ProjectRef, TokenInfo, TokenValidator};

/// The service user a service authenticates as (`[keystone_authtoken]` in OpenStack).
#[derive(Debug, Clone)]
pub struct ServiceCredentials {
    /// Identity URL including `/v3`, e.g. `http://controller:5000/v3`.
    pub auth_url: String,
    pub username: String,
    pub password: String,
    pub project_name: String,
    pub user_domain_name: String,
    pub project_domain_name: String,
}

/// Parse a time keystone renders (`2024-01-02T03:04:05.000000Z`) into Unix seconds.
fn unix(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp())
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc().timestamp())
        })
}

fn named(v: &Value) -> Option<Named> {
    Some(Named {
        id: v.get("id")?.as_str()?.to_string(),
        name: v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    })
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Build a [`TokenInfo`] from keystone's token document (`{"token": {...}}`).
pub fn token_info_from_keystone(doc: &Value) -> Option<TokenInfo> {
    let t = doc.get("token")?;
    let user = t.get("user")?;
    Some(TokenInfo {
        user_id: user.get("id")?.as_str()?.to_string(),
        user_name: user
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        user_domain: named(user.get("domain")?)?,
        project: t.get("project").and_then(|p| {
            Some(ProjectRef {
                id: p.get("id")?.as_str()?.to_string(),
                name: p
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                domain: named(p.get("domain")?)?,
            })
        }),
        domain: t.get("domain").and_then(named),
        system: t
            .get("system")
            .and_then(|s| s.get("all"))
            .and_then(Value::as_bool)
            .filter(|b| *b)
            .map(|_| "all".to_string()),
        roles: t
            .get("roles")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(named).collect())
            .unwrap_or_default(),
        is_admin_project: t
            .get("is_admin_project")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        methods: strings(t.get("methods")),
        audit_ids: strings(t.get("audit_ids")),
        expires_at: unix(t.get("expires_at")?)?,
        issued_at: t.get("issued_at").and_then(unix).unwrap_or_default(),
        app_cred_id: t
            .get("application_credential")
            .and_then(|a| a.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string),
        trust_id: t
            .get("OS-TRUST:trust")
            .and_then(|a| a.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

struct ServiceToken {
    token: String,
    expires_at: i64,
}

/// Validates tokens by asking the identity service, with a short cache.
pub struct RemoteValidator {
    http: reqwest::Client,
    creds: ServiceCredentials,
    service_token: Mutex<Option<ServiceToken>>,
    cache: Cache<String, (Arc<TokenInfo>, Instant)>,
    ttl: Duration,
}

impl RemoteValidator {
    /// `ttl` bounds how long a revoked token may still be accepted by this service
    /// (keystonemiddleware's `token_cache_time`).
    pub fn new(creds: ServiceCredentials, ttl: Duration) -> Result<Self, reqwest::Error> {
        Ok(RemoteValidator {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .connect_timeout(Duration::from_secs(5))
                .build()?,
            creds,
            service_token: Mutex::new(None),
            cache: Cache::new(10_000),
            ttl,
        })
    }

    fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> AuthError {
        AuthError::Unavailable(Box::new(e))
    }

    /// The service's own token, fetched (again) when missing or about to expire.
    async fn service_token(&self, renew: bool) -> Result<String, AuthError> {
        let mut slot = self.service_token.lock().await;
        let now = chrono::Utc::now().timestamp();
        if !renew
            && let Some(t) = slot.as_ref()
            && t.expires_at - 60 > now
        {
            return Ok(t.token.clone());
        }
        let c = &self.creds;
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": c.username, "password": c.password, "domain": {"name": c.user_domain_name}}}},
            "scope": {"project": {"name": c.project_name, "domain": {"name": c.project_domain_name}}},
        }});
        let url = format!("{}/auth/tokens?nocatalog", c.auth_url.trim_end_matches('/'));
        let resp = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(Self::unavailable)?;
        if !resp.status().is_success() {
            tracing::error!(status = resp.status().as_u16(), user = %c.username, "service user cannot authenticate");
            return Err(AuthError::Unavailable(
                format!(
                    "service user {} cannot authenticate: {}",
                    c.username,
                    resp.status()
                )
                .into(),
            ));
        }
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| AuthError::Unavailable("identity returned no X-Subject-Token".into()))?;
        let doc: Value = resp.json().await.map_err(Self::unavailable)?;
        let expires_at = doc
            .get("token")
            .and_then(|t| t.get("expires_at"))
            .and_then(unix)
            .unwrap_or(now + 300);
        *slot = Some(ServiceToken {
            token: token.clone(),
            expires_at,
        });
        Ok(token)
    }

    async fn ask(&self, token: &str, service_token: &str) -> Result<reqwest::Response, AuthError> {
        let url = format!(
            "{}/auth/tokens?nocatalog",
            self.creds.auth_url.trim_end_matches('/')
        );
        self.http
            .get(&url)
            .header("X-Auth-Token", service_token)
            .header("X-Subject-Token", token)
            .send()
            .await
            .map_err(Self::unavailable)
    }
}

#[async_trait]
impl TokenValidator for RemoteValidator {
    async fn validate(&self, token: &str) -> Result<Arc<TokenInfo>, AuthError> {
        if let Some((info, at)) = self.cache.get(token)
            && at.elapsed() < self.ttl
            && info.expires_at > chrono::Utc::now().timestamp()
        {
            return Ok(info);
        }
        let st = self.service_token(false).await?;
        let mut resp = self.ask(token, &st).await?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            // Our own token expired or was revoked: get a new one, once.
            let st = self.service_token(true).await?;
            resp = self.ask(token, &st).await?;
        }
        match resp.status().as_u16() {
            200 => {
                let doc: Value = resp.json().await.map_err(Self::unavailable)?;
                let info = Arc::new(token_info_from_keystone(&doc).ok_or_else(|| {
                    AuthError::Unavailable("identity returned a malformed token document".into())
                })?);
                self.cache
                    .insert(token.to_string(), (info.clone(), Instant::now()));
                Ok(info)
            }
            401 | 404 => Err(AuthError::Unauthorized),
            s => Err(AuthError::Unavailable(
                format!("identity answered {s} to token validation").into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_project_token_document() {
        let doc = json!({"token": {
            "methods": ["password"],
            "user": {"domain": {"id": "default", "name": "Default"}, "id": "u1", "name": "alice",
                     "password_expires_at": null},
            "audit_ids": ["a1"],
            "expires_at": "2030-01-01T00:00:00.000000Z",
            "issued_at": "2029-12-31T23:00:00.000000Z",
            "project": {"domain": {"id": "default", "name": "Default"}, "id": "p1", "name": "demo"},
            "is_domain": false,
            "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "reader"}],
        }});
        let t = token_info_from_keystone(&doc).unwrap();
        assert_eq!(t.user_id, "u1");
        assert_eq!(t.project_id(), Some("p1"));
        assert_eq!(t.scope(), Some("project"));
        assert_eq!(t.role_names(), vec!["member", "reader"]);
        assert_eq!(t.expires_at, 1_893_456_000);
        assert!(token_info_from_keystone(&json!({"nope": 1})).is_none());
    }

    #[test]
    fn parses_system_and_domain_scopes() {
        let base = |extra: Value| {
            let mut t = json!({"user": {"id": "u", "name": "n", "domain": {"id": "d", "name": "D"}},
                               "expires_at": "2030-01-01T00:00:00.000000Z", "roles": []});
            if let (Value::Object(m), Value::Object(e)) = (&mut t, extra) {
                m.extend(e);
            }
            json!({"token": t})
        };
        let s = token_info_from_keystone(&base(json!({"system": {"all": true}}))).unwrap();
        assert_eq!(s.scope(), Some("system"));
        let d =
            token_info_from_keystone(&base(json!({"domain": {"id": "d2", "name": "D2"}}))).unwrap();
        assert_eq!(d.scope(), Some("domain"));
    }
}
