//! `/v3/auth/*`: issuing, validating, checking and revoking tokens, and what a token may
//! reach (catalog, projects, domains, system).

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::{Params, St, collection, no_content, ok, raw_json};
use crate::revoke::RevokeEvent;
use crate::service::roles::On;
use crate::service::tokens::{TokenProblem, Validated};
use crate::{Error, Identity, Result, store};

const SUBJECT: &str = "x-subject-token";

fn with_subject(mut r: Response, token: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(token) {
        r.headers_mut().insert(SUBJECT, v);
    }
    r
}

/// `POST /v3/auth/tokens`
pub async fn issue(
    axum::extract::State(id): St,
    q: Params,
    Json(body): Json<Value>,
) -> Result<Response> {
    let v = id.issue_token(&body).await?;
    let bytes = id.render_token(&v, !q.flag("nocatalog")).await?;
    id.cache.tokens.insert(
        v.token.clone(),
        crate::service::cache::Stamped {
            epoch: id.epoch(),
            value: v.clone(),
        },
    );
    Ok(with_subject(raw_json(StatusCode::CREATED, bytes), &v.token))
}

/// Validate the `X-Subject-Token` for a caller allowed to see it.
async fn subject(
    id: &Identity,
    ctx: &Context,
    headers: &HeaderMap,
    q: &Params,
    action: &str,
) -> Result<Arc<Validated>> {
    let token = headers
        .get(SUBJECT)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::missing("X-Subject-Token", "headers"))?;
    let allow_expired = q.flag("allow_expired");
    // As keystone: an invalid subject is 404 before policy is looked at (the target is
    // built from the token itself).
    let v = match id.validate_token(token, allow_expired).await {
        Ok(v) => v,
        Err(TokenProblem::Internal(e)) => return Err(e),
        Err(TokenProblem::Invalid(_)) | Err(TokenProblem::Expired) => {
            return Err(Error::not_found("token", token));
        }
    };
    let target = json!({"target": {"token": {"user_id": v.info.user_id, "id": token}}});
    id.enforce(ctx, action, &target)?;
    Ok(v)
}

/// `GET /v3/auth/tokens`
pub async fn validate(
    axum::extract::State(id): St,
    ctx: Context,
    headers: HeaderMap,
    q: Params,
) -> Result<Response> {
    let v = subject(&id, &ctx, &headers, &q, "identity:validate_token").await?;
    let bytes = id.render_token(&v, !q.flag("nocatalog")).await?;
    Ok(with_subject(raw_json(StatusCode::OK, bytes), &v.token))
}

/// `HEAD /v3/auth/tokens`
pub async fn check(
    axum::extract::State(id): St,
    ctx: Context,
    headers: HeaderMap,
    q: Params,
) -> Result<Response> {
    let v = subject(&id, &ctx, &headers, &q, "identity:check_token").await?;
    Ok(with_subject(StatusCode::OK.into_response(), &v.token))
}

/// `DELETE /v3/auth/tokens`
pub async fn revoke(
    axum::extract::State(id): St,
    ctx: Context,
    headers: HeaderMap,
) -> Result<Response> {
    let v = subject(
        &id,
        &ctx,
        &headers,
        &Params::default(),
        "identity:revoke_token",
    )
    .await?;
    let mut ev = RevokeEvent::new(id.now());
    ev.audit_id = v.payload.audit_ids.first().cloned();
    id.revocations.add(&id.db, ev).await?;
    id.changed().await;
    Ok(no_content())
}

/// `GET /v3/auth/catalog`
pub async fn catalog(
    axum::extract::State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
) -> Result<Response> {
    if ctx.user.scope().is_none() {
        return Err(Error::ForbiddenMsg(
            "The service catalog is not available to unscoped tokens.".into(),
        ));
    }
    let c = id.catalog(&ctx.user.user_id, ctx.user.project_id()).await?;
    Ok(ok(json!({
        "catalog": c.as_ref(),
        "links": {"self": format!("{base}/v3/auth/catalog"), "previous": null, "next": null},
    })))
}

/// Projects (or domains) where the token's user holds a role, enabled only.
async fn reachable(
    id: &Identity,
    user_id: &str,
    domains: bool,
) -> Result<Vec<crate::model::Project>> {
    let mut actors = vec![user_id.to_string()];
    actors.extend(store::users::group_ids_of(&id.db, user_id).await?);
    let f = store::assignment::AssignmentFilter {
        actor_ids: Some(actors),
        ..Default::default()
    };
    let assignments = store::assignment::list_assignments(&id.db, &f).await?;
    let mut ids: Vec<String> = Vec::new();
    let mut inherited_domains: Vec<String> = Vec::new();
    let mut inherited_projects: Vec<String> = Vec::new();
    for a in assignments {
        use crate::model::AssignmentKind as K;
        match (a.kind, domains, a.inherited) {
            (K::UserDomain | K::GroupDomain, true, false) => ids.push(a.target_id),
            (K::UserProject | K::GroupProject, false, false) => ids.push(a.target_id),
            (K::UserDomain | K::GroupDomain, false, true) => inherited_domains.push(a.target_id),
            (K::UserProject | K::GroupProject, false, true) => inherited_projects.push(a.target_id),
            _ => {}
        }
    }
    for d in inherited_domains {
        let f = store::resource::Filter {
            is_domain: Some(false),
            domain_id: Some(d),
            ..Default::default()
        };
        ids.extend(
            store::resource::list(&id.db, &f)
                .await?
                .into_iter()
                .map(|p| p.id),
        );
    }
    for p in inherited_projects {
        ids.extend(store::resource::subtree_ids(&id.db, &p).await?);
    }
    ids.sort();
    ids.dedup();
    let f = store::resource::Filter {
        is_domain: Some(domains),
        enabled: Some(true),
        ids: Some(ids),
        ..Default::default()
    };
    Ok(store::resource::list(&id.db, &f).await?)
}

/// `GET /v3/auth/projects`
pub async fn projects(
    axum::extract::State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
) -> Result<Response> {
    let items = reachable(&id, &ctx.user.user_id, false).await?;
    let items = items.iter().map(|p| p.to_project_json(&base)).collect();
    Ok(collection(
        &id,
        "projects",
        items,
        format!("{base}/v3/auth/projects"),
    ))
}

/// `GET /v3/auth/domains`
pub async fn domains(
    axum::extract::State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
) -> Result<Response> {
    let items = reachable(&id, &ctx.user.user_id, true).await?;
    let items = items.iter().map(|p| p.to_domain_json(&base)).collect();
    Ok(collection(
        &id,
        "domains",
        items,
        format!("{base}/v3/auth/domains"),
    ))
}

/// `GET /v3/auth/system`
pub async fn system(
    axum::extract::State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
) -> Result<Response> {
    let roles = id.effective_roles(&ctx.user.user_id, On::System).await?;
    let system: Vec<Value> = if roles.is_empty() {
        vec![]
    } else {
        vec![json!({"all": true})]
    };
    Ok(ok(json!({
        "system": system,
        "links": {"self": format!("{base}/v3/auth/system"), "previous": null, "next": null},
    })))
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/auth/tokens",
        get(validate, "GET /v3/auth/tokens"),
        post(issue, "POST /v3/auth/tokens"),
        head(check, "HEAD /v3/auth/tokens"),
        delete(revoke, "DELETE /v3/auth/tokens")
    );
    let r = api::route!(r, "/v3/auth/catalog", get(catalog, "GET /v3/auth/catalog"));
    let r = api::route!(
        r,
        "/v3/auth/projects",
        get(projects, "GET /v3/auth/projects")
    );
    let r = api::route!(r, "/v3/auth/domains", get(domains, "GET /v3/auth/domains"));
    let r = api::route!(r, "/v3/auth/system", get(system, "GET /v3/auth/system"));
    r
}
