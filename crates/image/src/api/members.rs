//! `/v2/images/{id}/members`: sharing an image with other projects, who accept or reject.

use std::sync::Arc;

use api::openapi::Routes;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::St;
use crate::model::Member;
use crate::{Error, ImageService, Result, store};

const MAX_MEMBERS: usize = 128;
const STATUSES: &[&str] = &["pending", "accepted", "rejected"];

fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn not_member(id: &str, m: &str) -> Error {
    Error::NotFound(format!("{m} is not a member of image {id}"))
}

/// `POST /v2/images/{id}/members`
pub async fn create(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "add_member", &svc.target(&img, member, &ctx))?;
    let m = body
        .get("member")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or_else(|| Error::BadRequest("The body must name a 'member' (a project id).".into()))?;
    if img.visibility != "shared" {
        return Err(Error::Forbidden(format!(
            "Only shared images have members. Image {id} is {}.",
            img.visibility
        )));
    }
    if store::member(&svc.db, &id, m).await?.is_some() {
        return Err(Error::Conflict(format!(
            "Member {m} already associated with image {id}."
        )));
    }
    if store::members(&svc.db, &id).await?.len() >= MAX_MEMBERS {
        return Err(Error::TooLarge(format!(
            "Maximum number of image members ({MAX_MEMBERS}) exceeded."
        )));
    }
    let now = svc.now();
    let mem = Member {
        image_id: id.clone(),
        member: m.to_string(),
        status: "pending".into(),
        created_at: now,
        updated_at: now,
    };
    store::add_member(&svc.db, &mem).await?;
    svc.notifier.notify("image.member.create", mem.to_json());
    Ok(ok(mem.to_json()))
}

/// `GET /v2/images/{id}/members`: the owner sees all, a member only itself.
pub async fn list(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<Response> {
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "get_members", &svc.target(&img, member, &ctx))?;
    if img.visibility != "shared" {
        return Err(Error::Forbidden(format!(
            "Only shared images have members. Image {id} is {}.",
            img.visibility
        )));
    }
    let caller = ctx.user.project_id().unwrap_or_default();
    let owner = img.owner.as_deref() == Some(caller) || svc.is_admin(&ctx);
    let items: Vec<Value> = store::members(&svc.db, &id)
        .await?
        .iter()
        .filter(|m| owner || m.member == caller)
        .map(Member::to_json)
        .collect();
    Ok(ok(
        json!({"members": items, "schema": "/v2/schemas/members"}),
    ))
}

/// `GET /v2/images/{id}/members/{member}`
pub async fn show(
    State(svc): St,
    ctx: Context,
    Path((id, m)): Path<(String, String)>,
) -> Result<Response> {
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "get_member", &svc.target(&img, member, &ctx))?;
    let caller = ctx.user.project_id().unwrap_or_default();
    let owner = img.owner.as_deref() == Some(caller) || svc.is_admin(&ctx);
    if !owner && m != caller {
        return Err(not_member(&id, &m));
    }
    let mem = store::member(&svc.db, &id, &m)
        .await?
        .ok_or_else(|| not_member(&id, &m))?;
    Ok(ok(mem.to_json()))
}

/// `PUT /v2/images/{id}/members/{member}`: the member accepts, rejects or resets.
pub async fn update(
    State(svc): St,
    ctx: Context,
    Path((id, m)): Path<(String, String)>,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    let st = body
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::BadRequest("The body must give a 'status'.".into()))?;
    if !STATUSES.contains(&st) {
        return Err(Error::BadRequest(format!("Invalid status: {st}")));
    }
    let mut t = svc.target(&img, member, &ctx);
    t["member_id"] = json!(m);
    svc.enforce(&ctx, "modify_member", &t)?;
    if store::set_member_status(&svc.db, &id, &m, st, svc.now()).await? == 0 {
        return Err(not_member(&id, &m));
    }
    let mem = store::member(&svc.db, &id, &m)
        .await?
        .ok_or_else(|| not_member(&id, &m))?;
    svc.notifier.notify("image.member.update", mem.to_json());
    Ok(ok(mem.to_json()))
}

/// `DELETE /v2/images/{id}/members/{member}`
pub async fn delete(
    State(svc): St,
    ctx: Context,
    Path((id, m)): Path<(String, String)>,
) -> Result<Response> {
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "delete_member", &svc.target(&img, member, &ctx))?;
    if store::remove_member(&svc.db, &id, &m).await? == 0 {
        return Err(not_member(&id, &m));
    }
    svc.notifier.notify(
        "image.member.delete",
        json!({"image_id": id, "member_id": m}),
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub fn routes() -> Routes<Arc<ImageService>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v2/images/{image_id}/members",
        get(list, "List image members"),
        post(create, "Share an image with a project")
    );
    api::route!(
        r,
        "/v2/images/{image_id}/members/{member_id}",
        get(show, "Show an image member"),
        put(update, "Accept, reject or reset a share"),
        delete(delete, "Stop sharing an image with a project")
    )
}
