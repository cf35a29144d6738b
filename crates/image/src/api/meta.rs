//! Version discovery, JSON schemas and `/v2/info/*`.

use std::sync::Arc;

use api::BaseUrl;
use api::openapi::Routes;
use auth::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::St;
use crate::{ImageService, Result, store};

/// The newest version: 2.18 with the cache API (2.14, 2.16 and 2.18 mark cache API steps),
/// as Glance, which without `image_cache_dir` lists 2.17 as current and skips those.
pub const CURRENT: &str = "v2.18";
const VERSIONS: &[&str] = &[
    "2.18", "2.17", "2.16", "2.15", "2.14", "2.13", "2.12", "2.11", "2.10", "2.9", "2.8", "2.7",
    "2.6", "2.5", "2.4", "2.3", "2.2", "2.1", "2.0",
];
const CACHE_VERSIONS: &[&str] = &["2.18", "2.16", "2.14"];

fn versions(base: &str, cache: bool) -> Value {
    let values: Vec<Value> = VERSIONS
        .iter()
        .filter(|v| cache || !CACHE_VERSIONS.contains(v))
        .enumerate()
        .map(|(i, v)| {
            json!({
                "id": format!("v{v}"),
                "status": if i == 0 { "CURRENT" } else { "SUPPORTED" },
                "links": [{"rel": "self", "href": format!("{base}/v2/")}],
            })
        })
        .collect();
    json!({"versions": values})
}

/// `GET /`: 300 with every version.
pub async fn root(State(svc): St, BaseUrl(base): BaseUrl) -> Response {
    let v = versions(&base, svc.cache.is_some());
    (StatusCode::MULTIPLE_CHOICES, axum::Json(v)).into_response()
}

/// `GET /versions`
pub async fn list_versions(State(svc): St, BaseUrl(base): BaseUrl) -> Response {
    let v = versions(&base, svc.cache.is_some());
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn schema(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

/// `GET /v2/schemas/image`
pub async fn image_schema(_ctx: Context) -> Response {
    axum::Json(schema(include_str!("../../data/image.json"))).into_response()
}

/// `GET /v2/schemas/images`
pub async fn images_schema(_ctx: Context) -> Response {
    axum::Json(schema(include_str!("../../data/images.json"))).into_response()
}

/// `GET /v2/schemas/member`
pub async fn member_schema(_ctx: Context) -> Response {
    axum::Json(schema(include_str!("../../data/member.json"))).into_response()
}

/// `GET /v2/schemas/members`
pub async fn members_schema(_ctx: Context) -> Response {
    axum::Json(schema(include_str!("../../data/members.json"))).into_response()
}

/// `GET /v2/info/import`
pub async fn info_import(State(svc): St, _ctx: Context) -> Response {
    axum::Json(json!({"import-methods": {
        "description": "Import methods available.",
        "type": "array",
        "value": svc.cfg.enabled_import_methods,
    }}))
    .into_response()
}

/// `GET /v2/info/stores`
pub async fn info_stores(State(svc): St, _ctx: Context) -> Response {
    let stores: Vec<Value> = svc
        .stores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut v = json!({"id": s.id(), "description": s.description()});
            if i == 0 {
                v["default"] = json!(true);
            }
            v
        })
        .collect();
    axum::Json(json!({"stores": stores})).into_response()
}

/// `GET /v2/info/stores/detail` (admin)
pub async fn info_stores_detail(State(svc): St, ctx: Context) -> Result<Response> {
    svc.enforce(&ctx, "stores_info_detail", &json!({}))?;
    let stores: Vec<Value> = svc
        .stores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"id": s.id(), "description": s.description(), "default": i == 0, "type": "file",
                   "properties": {}})
        })
        .collect();
    Ok(axum::Json(json!({"stores": stores})).into_response())
}

/// `GET /v2/info/usage`: the caller's project against its quotas.
pub async fn info_usage(State(svc): St, ctx: Context) -> Result<Response> {
    let project = ctx.user.project_id().unwrap_or_default().to_string();
    let (count, size) = store::usage(&svc.db, &project).await?;
    let q = svc.quotas(&project).await;
    let mib = |b: i64| b.div_euclid(1 << 20);
    Ok(axum::Json(json!({"usage": {
        "image_size_total": {"limit": q.size_mib, "usage": mib(size)},
        "image_count_total": {"limit": q.count, "usage": count},
        "image_stage_total": {"limit": q.stage_mib, "usage": 0},
        "image_count_uploading": {"limit": q.count, "usage": 0},
    }}))
    .into_response())
}

pub fn routes() -> Routes<Arc<ImageService>> {
    let r = Routes::new();
    let r = api::route!(r, "/", get(root, "Versions (300 Multiple Choices)"));
    let r = api::route!(r, "/versions", get(list_versions, "Versions"));
    let r = api::route!(
        r,
        "/v2/schemas/image",
        get(image_schema, "The image JSON schema")
    );
    let r = api::route!(
        r,
        "/v2/schemas/images",
        get(images_schema, "The image list JSON schema")
    );
    let r = api::route!(
        r,
        "/v2/schemas/member",
        get(member_schema, "The member JSON schema")
    );
    let r = api::route!(
        r,
        "/v2/schemas/members",
        get(members_schema, "The member list JSON schema")
    );
    let r = api::route!(r, "/v2/info/import", get(info_import, "Import methods"));
    let r = api::route!(r, "/v2/info/stores", get(info_stores, "Stores"));
    let r = api::route!(
        r,
        "/v2/info/stores/detail",
        get(info_stores_detail, "Stores with their details")
    );
    api::route!(
        r,
        "/v2/info/usage",
        get(info_usage, "Quota usage of the caller's project")
    )
}
