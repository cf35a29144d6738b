//! `/v3/policies`: policy blobs keystone stores for other services (it never interprets them).

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::params::Fields;
use crate::api::{Params, St, collection, created, member, no_content, ok};
use crate::model::{merge, new_id};
use crate::store::policy::{self as st, PolicyBlob};
use crate::{Error, Identity, Result};

const KNOWN: &[&str] = &["id", "type", "blob", "links"];

fn render(p: &PolicyBlob, base: &str) -> Value {
    let v = json!({
        "id": p.id,
        "type": p.policy_type,
        "blob": p.blob,
        "links": {"self": format!("{base}/v3/policies/{}", p.id)},
    });
    merge(v, &p.extra)
}

async fn find(id: &Identity, pid: &str) -> Result<PolicyBlob> {
    st::get_policy(&id.db, pid)
        .await?
        .ok_or_else(|| Error::not_found("policy", pid))
}

/// `POST /v3/policies`
pub async fn create(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:create_policy", &json!({}))?;
    let m = member(&body, "policy")?;
    let p = PolicyBlob {
        id: new_id(),
        policy_type: m.name("type", 255)?,
        blob: m.opt_string("blob")?.ok_or_else(|| {
            Error::bad("Invalid input for field 'blob': 'blob' is a required property")
        })?,
        extra: m.extras(KNOWN),
    };
    st::save_policy(&id.db, &p, true).await?;
    id.changed().await;
    Ok(created(json!({"policy": render(&p, &base)})))
}

/// `GET /v3/policies`
pub async fn list(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    id.enforce(&ctx, "identity:list_policies", &json!({}))?;
    let items = st::list_policies(&id.db, q.get("type"))
        .await?
        .iter()
        .map(|p| render(p, &base))
        .collect();
    Ok(collection(
        &id,
        "policies",
        items,
        format!("{base}/v3/policies"),
    ))
}

/// `GET /v3/policies/{id}`
pub async fn show(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(pid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:get_policy", &json!({}))?;
    Ok(ok(
        json!({"policy": render(&find(&id, &pid).await?, &base)}),
    ))
}

/// `PATCH /v3/policies/{id}`
pub async fn update(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(pid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:update_policy", &json!({}))?;
    let m = member(&body, "policy")?;
    let mut p = find(&id, &pid).await?;
    if m.contains_key("type") {
        p.policy_type = m.name("type", 255)?;
    }
    if let Some(b) = m.opt_string("blob")? {
        p.blob = b;
    }
    for (k, v) in m.extras(KNOWN) {
        p.extra.insert(k, v);
    }
    st::save_policy(&id.db, &p, false).await?;
    id.changed().await;
    Ok(ok(json!({"policy": render(&p, &base)})))
}

/// `DELETE /v3/policies/{id}`
pub async fn delete(State(id): St, ctx: Context, Path(pid): Path<String>) -> Result<Response> {
    id.enforce(&ctx, "identity:delete_policy", &json!({}))?;
    if st::delete_policy(&id.db, &pid).await? == 0 {
        return Err(Error::not_found("policy", pid));
    }
    id.changed().await;
    Ok(no_content())
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/policies",
        get(list, "GET /v3/policies"),
        post(create, "POST /v3/policies")
    );
    let r = api::route!(
        r,
        "/v3/policies/{policy_id}",
        get(show, "GET /v3/policies/{id}"),
        patch(update, "PATCH /v3/policies/{id}"),
        delete(delete, "DELETE /v3/policies/{id}")
    );
    r
}
