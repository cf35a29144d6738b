//! OS-TRUST: `/v3/OS-TRUST/trusts` — delegation of roles on a project from a trustor to a
//! trustee, optionally impersonating, limited in time and uses, redelegable. The rules are
//! in `service::trusts`.

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::{Params, St, collection, created, member, no_content, ok};
use crate::service::trusts::{
    ListFilter, list_filter, parse_new, refuse_app_cred, roles_links, summary, target,
};
use crate::store::trust::Trust;
use crate::{Error, Identity, Result};

/// `POST /v3/OS-TRUST/trusts`
pub async fn create(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "trust")?;
    let n = parse_new(m)?;
    id.enforce(
        &ctx,
        "identity:create_trust",
        &json!({"target": {"trust": {"trustor_user_id": n.trustor_user_id, "trustee_user_id": n.trustee_user_id, "project_id": n.project_id}}}),
    )?;
    let t = id.create_trust(&ctx, n).await?;
    Ok(created(json!({"trust": id.render_trust(&t, &base).await?})))
}

/// `GET /v3/OS-TRUST/trusts[?trustor_user_id=…|trustee_user_id=…]`
pub async fn list(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    let f = list_filter(&q.0);
    match &f {
        ListFilter::Trustor(u) => id.enforce(
            &ctx,
            "identity:list_trusts_for_trustor",
            &json!({"target": {"trust": {"trustor_user_id": u}}}),
        )?,
        ListFilter::Trustee(u) => id.enforce(
            &ctx,
            "identity:list_trusts_for_trustee",
            &json!({"target": {"trust": {"trustee_user_id": u}}}),
        )?,
        ListFilter::All | ListFilter::Nothing => {
            id.enforce(&ctx, "identity:list_trusts", &json!({}))?;
        }
    }
    refuse_app_cred(&ctx)?;
    let items = id
        .list_trusts(&f)
        .await?
        .iter()
        .map(|t| summary(t, &base))
        .collect();
    Ok(collection(
        &id,
        "trusts",
        items,
        format!("{base}/v3/OS-TRUST/trusts"),
    ))
}

/// The trust (404 when gone, before the policy check, as in keystone), then the check.
async fn visible(id: &Identity, ctx: &Context, tid: &str, action: &str) -> Result<Trust> {
    let t = id.active_trust(tid).await?;
    id.enforce(ctx, action, &target(&t))?;
    refuse_app_cred(ctx)?;
    Ok(t)
}

/// `GET /v3/OS-TRUST/trusts/{trust_id}`
pub async fn show(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(tid): Path<String>,
) -> Result<Response> {
    let t = visible(&id, &ctx, &tid, "identity:get_trust").await?;
    Ok(ok(json!({"trust": id.render_trust(&t, &base).await?})))
}

/// `DELETE /v3/OS-TRUST/trusts/{trust_id}`: its tokens, and trusts redelegated from it, go too.
pub async fn delete(State(id): St, ctx: Context, Path(tid): Path<String>) -> Result<Response> {
    let t = visible(&id, &ctx, &tid, "identity:delete_trust").await?;
    id.delete_trust(&t).await?;
    Ok(no_content())
}

/// `GET /v3/OS-TRUST/trusts/{trust_id}/roles`
pub async fn roles(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(tid): Path<String>,
) -> Result<Response> {
    let t = visible(&id, &ctx, &tid, "identity:list_roles_for_trust").await?;
    let roles: Vec<Value> = id
        .trust_roles(&t)
        .await?
        .iter()
        .map(|r| r.to_json(&base))
        .collect();
    Ok(ok(json!({"roles": roles, "links": roles_links(&t, &base)})))
}

/// `GET|HEAD /v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}`
pub async fn role(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path((tid, rid)): Path<(String, String)>,
) -> Result<Response> {
    let t = visible(&id, &ctx, &tid, "identity:get_role_for_trust").await?;
    if !t.role_ids.contains(&rid) {
        return Err(Error::not_found("role", rid));
    }
    let r = id.role(&rid).await?;
    Ok(ok(json!({"role": r.to_json(&base)})))
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/OS-TRUST/trusts",
        get(list, "GET /v3/OS-TRUST/trusts"),
        post(create, "POST /v3/OS-TRUST/trusts")
    );
    let r = api::route!(
        r,
        "/v3/OS-TRUST/trusts/{trust_id}",
        get(show, "GET /v3/OS-TRUST/trusts/{trust_id}"),
        delete(
            delete,
            "DELETE /v3/OS-TRUST/trusts/{trust_id}: its tokens, and trusts redelegated from it, go too"
        )
    );
    let r = api::route!(
        r,
        "/v3/OS-TRUST/trusts/{trust_id}/roles",
        get(roles, "GET /v3/OS-TRUST/trusts/{trust_id}/roles")
    );
    let r = api::route!(
        r,
        "/v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}",
        get(
            role,
            "GET|HEAD /v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}"
        ),
        head(
            role,
            "GET|HEAD /v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}"
        )
    );
    r
}
