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
    /// The token's service catalog (`token.catalog`), when asked for.
    catalog: Value,
}

/// A service's own authenticated session with identity: its token (renewed before it
/// expires) and the service catalog, for validating callers and calling other services.
pub struct ServiceSession {
    http: reqwest::Client,
    creds: ServiceCredentials,
    token: Mutex<Option<ServiceToken>>,
}

impl ServiceSession {
    pub fn new(creds: ServiceCredentials) -> Result<Self, reqwest::Error> {
        Ok(ServiceSession {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .connect_timeout(Duration::from_secs(5))
                .build()?,
            creds,
            token: Mutex::new(None),
        })
    }

    pub fn credentials(&self) -> &ServiceCredentials {
        &self.creds
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> AuthError {
        AuthError::Unavailable(Box::new(e))
    }

    /// The service's token, fetched (again) when missing, about to expire or `renew`.
    pub async fn token(&self, renew: bool) -> Result<String, AuthError> {
        Ok(self.current(renew).await?.0)
    }

    /// The URL of another service from the catalog: `interface` (`internal`, `public`)
    /// endpoint of `service_type` in `region` (any region when `None`).
    pub async fn endpoint(
        &self,
        service_type: &str,
        interface: &str,
        region: Option<&str>,
    ) -> Result<String, AuthError> {
        let (_, catalog) = self.current(false).await?;
        find_endpoint(&catalog, service_type, interface, region).ok_or_else(|| {
            AuthError::Unavailable(
                format!("no {interface} endpoint for {service_type} in the catalog").into(),
            )
        })
    }

    async fn current(&self, renew: bool) -> Result<(String, Value), AuthError> {
        let mut slot = self.token.lock().await;
        let now = chrono::Utc::now().timestamp();
        if !renew
            && let Some(t) = slot.as_ref()
            && t.expires_at - 60 > now
        {
            return Ok((t.token.clone(), t.catalog.clone()));
        }
        let c = &self.creds;
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": c.username, "password": c.password, "domain": {"name": c.user_domain_name}}}},
            "scope": {"project": {"name": c.project_name, "domain": {"name": c.project_domain_name}}},
        }});
        let url = format!("{}/auth/tokens", c.auth_url.trim_end_matches('/'));
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
        let catalog = doc
            .get("token")
            .and_then(|t| t.get("catalog"))
            .cloned()
            .unwrap_or(Value::Null);
        *slot = Some(ServiceToken {
            token: token.clone(),
            expires_at,
            catalog: catalog.clone(),
        });
        Ok((token, catalog))
    }
}

/// An endpoint URL from a keystone catalog (`[{"type", "endpoints": [{"interface",
/// "region_id", "url"}]}]`).
pub fn find_endpoint(
    catalog: &Value,
    service_type: &str,
    interface: &str,
    region: Option<&str>,
) -> Option<String> {
    catalog
        .as_array()?
        .iter()
        .filter(|s| s.get("type").and_then(Value::as_str) == Some(service_type))
        .flat_map(|s| {
            s.get("endpoints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .find(|e| {
            e.get("interface").and_then(Value::as_str) == Some(interface)
                && region.is_none_or(|r| {
                    e.get("region_id").and_then(Value::as_str) == Some(r)
                        || e.get("region").and_then(Value::as_str) == Some(r)
                })
        })
        .and_then(|e| e.get("url").and_then(Value::as_str))
        .map(|u| u.trim_end_matches('/').to_string())
}

/// Validates tokens by asking the identity service, with a short cache.
pub struct RemoteValidator {
    session: Arc<ServiceSession>,
    cache: Cache<String, (Arc<TokenInfo>, Instant)>,
    ttl: Duration,
}

impl RemoteValidator {
    /// `ttl` bounds how long a revoked token may still be accepted by this service
    /// (keystonemiddleware's `token_cache_time`).
    pub fn new(creds: ServiceCredentials, ttl: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self::with_session(
            Arc::new(ServiceSession::new(creds)?),
            ttl,
        ))
    }

    /// Validate through an existing service session (shared with the service's clients).
    pub fn with_session(session: Arc<ServiceSession>, ttl: Duration) -> Self {
        RemoteValidator {
            session,
            cache: Cache::new(10_000),
            ttl,
        }
    }

    async fn ask(&self, token: &str, service_token: &str) -> Result<reqwest::Response, AuthError> {
        let url = format!(
            "{}/auth/tokens?nocatalog",
            self.session.creds.auth_url.trim_end_matches('/')
        );
        self.session
            .http
            .get(&url)
            .header("X-Auth-Token", service_token)
            .header("X-Subject-Token", token)
            .send()
            .await
            .map_err(ServiceSession::unavailable)
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
        let st = self.session.token(false).await?;
        let mut resp = self.ask(token, &st).await?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            // Our own token expired or was revoked: get a new one, once.
            let st = self.session.token(true).await?;
            resp = self.ask(token, &st).await?;
        }
        match resp.status().as_u16() {
            200 => {
                let doc: Value = resp.json().await.map_err(ServiceSession::unavailable)?;
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
    fn finds_endpoints_in_a_catalog() {
        let cat = json!([
            {"type": "image", "endpoints": [
                {"interface": "public", "region_id": "R1", "url": "http://img:9292/"},
                {"interface": "internal", "region_id": "R2", "url": "http://img2:9292"}]},
            {"type": "placement", "endpoints": [
                {"interface": "public", "region_id": "R1", "url": "http://pl:8778"}]}
        ]);
        assert_eq!(
            find_endpoint(&cat, "image", "public", Some("R1")).as_deref(),
            Some("http://img:9292")
        );
        assert_eq!(
            find_endpoint(&cat, "image", "internal", None).as_deref(),
            Some("http://img2:9292")
        );
        assert!(find_endpoint(&cat, "image", "internal", Some("R1")).is_none());
        assert!(find_endpoint(&cat, "compute", "public", None).is_none());
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
