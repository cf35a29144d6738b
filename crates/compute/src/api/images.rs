//! The image proxy (`/images`, deprecated in nova and gone since 2.36): the caller's
//! images from the image service, shown the way nova's v2 API shows them, and their
//! metadata edited through the image service.

use std::sync::Arc;

use api::BaseUrl;
use api::microversion::Version;
use api::openapi::Routes;
use api::query::Params;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::St;
use crate::{ComputeService, Error, Result};

/// Fields of a glance image that are not user properties.
const CORE: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "checksum",
    "owner",
    "size",
    "virtual_size",
    "min_ram",
    "min_disk",
    "disk_format",
    "container_format",
    "created_at",
    "updated_at",
    "tags",
    "file",
    "schema",
    "self",
    "locations",
    "direct_url",
    "os_hash_algo",
    "os_hash_value",
    "os_hidden",
    "stores",
];

const PATCH_TYPE: &str = "application/openstack-images-v2.1-json-patch";

/// The image proxy is gone since 2.36.
fn gone(v: Version) -> Result<()> {
    super::removed_at(v, 2, 36)
}

fn not_found() -> Error {
    Error::NotFound("Image not found.".into())
}

fn links(base: &str, id: &str, glance: Option<&str>) -> Value {
    let mut l = vec![
        json!({"rel": "self", "href": format!("{base}/v2.1/images/{id}")}),
        json!({"rel": "bookmark", "href": format!("{base}/images/{id}")}),
    ];
    if let Some(g) = glance {
        l.push(
            json!({"rel": "alternate", "type": "application/vnd.openstack.image",
                      "href": format!("{g}/images/{id}")}),
        );
    }
    Value::Array(l)
}

/// User properties of a glance image, as nova's `metadata` (strings).
fn metadata(img: &Value) -> Map<String, Value> {
    img.as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !CORE.contains(&k.as_str()))
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => Value::String(s.clone()),
                        other => Value::String(other.to_string()),
                    };
                    (k.clone(), s)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn detail(base: &str, img: &Value) -> Value {
    let id = img["id"].as_str().unwrap_or_default();
    let (status, progress) = match img["status"].as_str().unwrap_or_default() {
        "active" => ("ACTIVE", 100),
        "queued" => ("SAVING", 25),
        "saving" | "uploading" | "importing" => ("SAVING", 50),
        "killed" => ("ERROR", 0),
        "deleted" | "pending_delete" => ("DELETED", 0),
        _ => ("UNKNOWN", 0),
    };
    let ts = |k: &str| {
        img[k]
            .as_str()
            .map(|s| s.trim_end_matches('Z').to_string() + "Z")
    };
    let mut o = json!({
        "id": id,
        "name": img["name"],
        "status": status,
        "progress": progress,
        "minDisk": img["min_disk"].as_i64().unwrap_or(0),
        "minRam": img["min_ram"].as_i64().unwrap_or(0),
        "metadata": metadata(img),
        "created": ts("created_at"),
        "updated": ts("updated_at"),
        "links": links(base, id, None),
        "OS-EXT-IMG-SIZE:size": img["size"],
    });
    if let Some(server) = img["instance_uuid"].as_str() {
        o["server"] = json!({"id": server, "links": super::views::link(base, "servers", server)});
    }
    o
}

/// Glance filters from nova's image filters.
fn filters(p: &Params) -> Vec<(&'static str, String)> {
    let mut q: Vec<(&'static str, String)> = Vec::new();
    for (nova, glance) in [
        ("name", "name"),
        ("status", "status"),
        ("limit", "limit"),
        ("marker", "marker"),
        ("server", "instance_uuid"),
        ("type", "image_type"),
    ] {
        if let Some(v) = p.get(nova) {
            let v = match nova {
                "status" => v.to_ascii_lowercase(),
                // a server reference may be its URL
                "server" => v.rsplit('/').next().unwrap_or(v).to_string(),
                _ => v.to_string(),
            };
            q.push((glance, v));
        }
    }
    for (nova, glance) in [
        ("changes-since", "updated_at"),
        ("minRam", "min_ram"),
        ("minDisk", "min_disk"),
    ] {
        if let Some(v) = p.get(nova) {
            q.push((glance, format!("gte:{v}")));
        }
    }
    q
}

async fn fetch(svc: &ComputeService, ctx: &Context, id: &str) -> Result<Value> {
    svc.images.get(id, &ctx.token).await?.ok_or_else(not_found)
}

async fn list_common(svc: &ComputeService, ctx: &Context, p: &Params) -> Result<Vec<Value>> {
    Ok(svc.images.list(&filters(p), &ctx.token).await?)
}

pub async fn list(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    p: Params,
) -> Result<Response> {
    gone(v)?;
    let list: Vec<Value> = list_common(&svc, &ctx, &p)
        .await?
        .iter()
        .map(|i| {
            let id = i["id"].as_str().unwrap_or_default();
            json!({"id": id, "name": i["name"], "links": links(&base, id, None)})
        })
        .collect();
    Ok(axum::Json(json!({"images": list})).into_response())
}

pub async fn list_detail(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    p: Params,
) -> Result<Response> {
    gone(v)?;
    let list: Vec<Value> = list_common(&svc, &ctx, &p)
        .await?
        .iter()
        .map(|i| detail(&base, i))
        .collect();
    Ok(axum::Json(json!({"images": list})).into_response())
}

pub async fn show(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> Result<Response> {
    gone(v)?;
    let img = fetch(&svc, &ctx, &id).await?;
    Ok(axum::Json(json!({"image": detail(&base, &img)})).into_response())
}

/// Map an image service refusal to nova's answer.
fn refused(status: StatusCode, body: &Value) -> Error {
    let msg = body["message"]
        .as_str()
        .or_else(|| body.as_str())
        .unwrap_or("The image service refused the request.")
        .to_string();
    match status {
        StatusCode::NOT_FOUND => not_found(),
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => Error::Forbidden(msg),
        StatusCode::CONFLICT => Error::Conflict(msg),
        StatusCode::PAYLOAD_TOO_LARGE => Error::OverQuota(msg),
        _ => Error::BadRequest(msg),
    }
}

pub async fn delete(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    gone(v)?;
    let (s, body) = svc
        .images
        .request(
            Method::DELETE,
            &format!("/v2/images/{id}"),
            None,
            &[],
            &ctx.token,
        )
        .await?;
    if !s.is_success() {
        return Err(refused(s, &body));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `/` and `~` escaped for a JSON pointer.
fn pointer(key: &str) -> String {
    format!("/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// `{"metadata": {…}}` / `{"meta": {…}}`, validated as server metadata is.
fn meta_body(body: &Value, field: &str) -> Result<Map<String, Value>> {
    let m = body.get(field).ok_or_else(|| {
        Error::BadRequest(format!(
            "Invalid input for field/attribute {field}. '{field}' is a required property"
        ))
    })?;
    super::servers::metadata(m, field)
}

/// Set (and with `replace`, drop every other) user property; nova's metadata quota
/// applies to the result.
async fn write_meta(
    svc: &ComputeService,
    ctx: &Context,
    id: &str,
    set: &Map<String, Value>,
    remove: &[String],
) -> Result<Map<String, Value>> {
    let img = fetch(svc, ctx, id).await?;
    let mut next = metadata(&img);
    for k in remove {
        next.remove(k);
    }
    for (k, val) in set {
        next.insert(k.clone(), val.clone());
    }
    let project = ctx.user.project_id().unwrap_or_default();
    svc.check_metadata_quota(project, &ctx.user.user_id, next.len())
        .await?;
    let mut ops: Vec<Value> = remove
        .iter()
        .filter(|k| !set.contains_key(*k))
        .map(|k| json!({"op": "remove", "path": pointer(k)}))
        .collect();
    ops.extend(
        set.iter()
            .map(|(k, val)| json!({"op": "add", "path": pointer(k), "value": val})),
    );
    if !ops.is_empty() {
        let (s, body) = svc
            .images
            .request(
                Method::PATCH,
                &format!("/v2/images/{id}"),
                Some(&Value::Array(ops)),
                &[("Content-Type", PATCH_TYPE)],
                &ctx.token,
            )
            .await?;
        if !s.is_success() {
            return Err(refused(s, &body));
        }
        return Ok(metadata(&body));
    }
    Ok(next)
}

pub async fn show_metadata(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    gone(v)?;
    let img = fetch(&svc, &ctx, &id).await?;
    Ok(axum::Json(json!({"metadata": metadata(&img)})).into_response())
}

pub async fn update_metadata(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
    body: api::Json<Value>,
) -> Result<Response> {
    gone(v)?;
    let set = meta_body(&body.0, "metadata")?;
    let md = write_meta(&svc, &ctx, &id, &set, &[]).await?;
    Ok(axum::Json(json!({"metadata": md})).into_response())
}

pub async fn replace_metadata(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
    body: api::Json<Value>,
) -> Result<Response> {
    gone(v)?;
    let set = meta_body(&body.0, "metadata")?;
    let img = fetch(&svc, &ctx, &id).await?;
    let old: Vec<String> = metadata(&img).keys().cloned().collect();
    let md = write_meta(&svc, &ctx, &id, &set, &old).await?;
    Ok(axum::Json(json!({"metadata": md})).into_response())
}

pub async fn show_meta(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response> {
    gone(v)?;
    let img = fetch(&svc, &ctx, &id).await?;
    let val = metadata(&img)
        .remove(&key)
        .ok_or_else(|| Error::NotFound(format!("Image {id} has no metadata key {key}.")))?;
    Ok(axum::Json(json!({"meta": {key: val}})).into_response())
}

pub async fn set_meta(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path((id, key)): Path<(String, String)>,
    body: api::Json<Value>,
) -> Result<Response> {
    gone(v)?;
    let set = meta_body(&body.0, "meta")?;
    if set.len() > 1 {
        return Err(Error::BadRequest(
            "Request body contains too many items".into(),
        ));
    }
    if !set.contains_key(&key) {
        return Err(Error::BadRequest("Request body and URI mismatch".into()));
    }
    write_meta(&svc, &ctx, &id, &set, &[]).await?;
    Ok(axum::Json(json!({"meta": set})).into_response())
}

pub async fn delete_meta(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode> {
    gone(v)?;
    let img = fetch(&svc, &ctx, &id).await?;
    if !metadata(&img).contains_key(&key) {
        return Err(Error::NotFound(format!(
            "Image {id} has no metadata key {key}."
        )));
    }
    write_meta(&svc, &ctx, &id, &Map::new(), &[key]).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn routes() -> Routes<Arc<ComputeService>> {
    let r = Routes::new();
    let r = api::route!(r, "/v2.1/images", get(list, "List images (proxy)"));
    let r = api::route!(
        r,
        "/v2.1/images/detail",
        get(list_detail, "List images with details (proxy)")
    );
    let r = api::route!(
        r,
        "/v2.1/images/{image_id}",
        get(show, "Show an image (proxy)"),
        delete(delete, "Delete an image (proxy)")
    );
    let r = api::route!(
        r,
        "/v2.1/images/{image_id}/metadata",
        get(show_metadata, "Show image metadata"),
        post(update_metadata, "Add or update image metadata"),
        put(replace_metadata, "Replace image metadata")
    );
    api::route!(
        r,
        "/v2.1/images/{image_id}/metadata/{key}",
        get(show_meta, "Show an image metadata item"),
        put(set_meta, "Set an image metadata item"),
        delete(delete_meta, "Delete an image metadata item")
    )
}
