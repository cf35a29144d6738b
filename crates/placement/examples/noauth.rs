//! Serve placement with a stand-in for keystone, as placement's own functional tests do
//! (`auth_strategy = noauth2`), for conformance runs of placement's gabbi suite against
//! this implementation; never for production.
//!
//! The token `user[:project]` is the caller, with role `admin` for the user `admin` and
//! `service` for the user `service`. As in placement's test middleware, `X-Roles`,
//! `X-Project-Id` and `OpenStack-System-Scope` request headers override the roles and
//! scope.
//!
//! `cargo run -p placement --example noauth -- ADDR DB_FILE [POLICY_FILE [enforce_scope]]`

use std::sync::Arc;

use async_trait::async_trait;
use auth::{AuthError, Named, ProjectRef, TokenInfo, TokenValidator};
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use placement::{PlacementConfig, PlacementService};

struct NoAuth;

fn named(s: &str) -> Named {
    Named {
        id: s.into(),
        name: s.into(),
    }
}

#[async_trait]
impl TokenValidator for NoAuth {
    /// `user[:project]`, or `user|project|role,role|system` once headers are folded in.
    async fn validate(&self, token: &str) -> Result<Arc<TokenInfo>, AuthError> {
        let parts: Vec<&str> = token.split('|').collect();
        let (user, project, roles, system) = if parts.len() == 4 {
            let roles: Vec<String> = parts[2]
                .split(',')
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect();
            (parts[0], parts[1], roles, !parts[3].is_empty())
        } else {
            let (u, p) = token.split_once(':').unwrap_or((token, token));
            let roles = match u {
                "admin" => vec!["admin".to_string()],
                "service" => vec!["service".to_string()],
                _ => vec![],
            };
            (u, p, roles, false)
        };
        let default = named("default");
        Ok(Arc::new(TokenInfo {
            user_id: user.into(),
            user_name: user.into(),
            user_domain: default.clone(),
            project: (!system).then(|| ProjectRef {
                id: project.into(),
                name: project.into(),
                domain: default,
            }),
            domain: None,
            system: system.then(|| "all".to_string()),
            roles: roles.iter().map(|r| named(r)).collect(),
            is_admin_project: true,
            methods: vec!["token".into()],
            audit_ids: vec![],
            expires_at: i64::MAX,
            issued_at: 0,
            app_cred_id: None,
            trust_id: None,
        }))
    }
}

/// Fold placement's test headers into the token.
async fn fold_headers(mut req: Request, next: Next) -> Response {
    let h = req.headers();
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    if let (Some(token), Some(roles)) = (get("x-auth-token"), get("x-roles")) {
        let (user, project) = token
            .split_once(':')
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .unwrap_or((token.clone(), token.clone()));
        let project = get("x-project-id").unwrap_or(project);
        let system = get("openstack-system-scope").unwrap_or_default();
        if let Ok(v) = HeaderValue::from_str(&format!("{user}|{project}|{roles}|{system}")) {
            req.headers_mut().insert("x-auth-token", v);
        }
    }
    next.run(req).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8778".into());
    let db = args
        .next()
        .unwrap_or_else(|| "/tmp/placement-noauth.db".into());
    let mut cfg = PlacementConfig::for_data_dir(std::path::Path::new("/tmp"));
    cfg.database_url = format!("sqlite://{db}");
    cfg.policy_file = args.next().filter(|p| !p.is_empty()).map(Into::into);
    cfg.enforce_scope = args.next().as_deref() == Some("enforce_scope");
    let svc = PlacementService::open(cfg).await?;
    let validator = auth::Validator {
        inner: Arc::new(NoAuth),
        auth_uri: "http://127.0.0.1/identity".into(),
    };
    let router = placement::api::router(svc, validator, 8 << 20)
        .layer(axum::middleware::from_fn(fold_headers));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("placement (noauth) on http://{addr}, database {db}");
    axum::serve(listener, router).await?;
    Ok(())
}
