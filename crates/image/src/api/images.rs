//! `/v2/images`: create, list, show, update (JSON patch), delete, tags, deactivate and
//! reactivate.

use std::collections::BTreeMap;
use std::sync::Arc;

use api::openapi::Routes;
use api::query::Params;
use auth::Context;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::St;
use crate::backend::Store as _;
use crate::model::{CONTAINER_FORMATS, CORE, DISK_FORMATS, Image, READ_ONLY, VISIBILITIES, status};
use crate::store::{self, Cond, Query, Viewer};
use crate::{Error, ImageService, Result};

const LIMIT_DEFAULT: usize = 25;
const LIMIT_MAX: usize = 1000;

fn ok(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

fn json_bytes(b: Bytes) -> Response {
    let mut r = (StatusCode::OK, b).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// Reject reserved namespaces and read-only attributes.
fn check_writable(key: &str) -> Result<()> {
    if READ_ONLY.contains(&key) {
        return Err(Error::Forbidden(format!("Attribute '{key}' is read-only.")));
    }
    if key.starts_with("os_glance") {
        return Err(Error::Forbidden(format!(
            "Attribute '{key}' is reserved: the os_glance prefix is for Glance's own use."
        )));
    }
    if key.is_empty() || key.len() > 255 {
        return Err(Error::BadRequest(format!(
            "Invalid property name {key:?}: 1 to 255 characters."
        )));
    }
    Ok(())
}

fn enum_value(key: &str, v: &Value, allowed: &[&str]) -> Result<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        other => Err(Error::BadRequest(format!(
            "Invalid value {other} for '{key}': must be one of {}.",
            allowed.join(", ")
        ))),
    }
}

fn int_value(key: &str, v: &Value) -> Result<i64> {
    match v.as_i64() {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(Error::BadRequest(format!(
            "Invalid value {v} for '{key}': a non-negative integer is required."
        ))),
    }
}

fn bool_value(key: &str, v: &Value) -> Result<bool> {
    v.as_bool().ok_or_else(|| {
        Error::BadRequest(format!(
            "Invalid value {v} for '{key}': a boolean is required."
        ))
    })
}

fn tags_value(v: &Value) -> Result<Vec<String>> {
    let a = v.as_array().ok_or_else(|| {
        Error::BadRequest("Invalid value for 'tags': a list of strings is required.".into())
    })?;
    let mut out: Vec<String> = Vec::new();
    for t in a {
        let s = t.as_str().ok_or_else(|| {
            Error::BadRequest("Invalid value for 'tags': tags must be strings.".into())
        })?;
        if s.len() > 255 {
            return Err(Error::BadRequest(format!(
                "Tag {s:?} is longer than 255 characters."
            )));
        }
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// Apply one attribute to an image being created or updated.
fn set_attr(img: &mut Image, key: &str, v: &Value, creating: bool) -> Result<()> {
    match key {
        "name" => match v {
            Value::Null => img.name = None,
            Value::String(s) if s.chars().count() <= 255 => img.name = Some(s.clone()),
            _ => {
                return Err(Error::BadRequest(
                    "Invalid value for 'name': a string of at most 255 characters.".into(),
                ));
            }
        },
        "visibility" => {
            img.visibility = enum_value(key, v, VISIBILITIES)?
                .ok_or_else(|| Error::BadRequest("Invalid value for 'visibility'.".into()))?;
        }
        "protected" => img.protected = bool_value(key, v)?,
        "os_hidden" => img.os_hidden = bool_value(key, v)?,
        "min_ram" => img.min_ram = int_value(key, v)?,
        "min_disk" => img.min_disk = int_value(key, v)?,
        "disk_format" | "container_format" => {
            if !creating && img.status != status::QUEUED {
                return Err(Error::Forbidden(format!(
                    "Attribute {key} can be only replaced for a queued image."
                )));
            }
            let allowed = if key == "disk_format" {
                DISK_FORMATS
            } else {
                CONTAINER_FORMATS
            };
            let val = enum_value(key, v, allowed)?;
            if key == "disk_format" {
                img.disk_format = val;
            } else {
                img.container_format = val;
            }
        }
        "tags" => img.tags = tags_value(v)?,
        "owner" => match v {
            Value::Null => img.owner = None,
            Value::String(s) if s.len() <= 255 => img.owner = Some(s.clone()),
            _ => return Err(Error::BadRequest("Invalid value for 'owner'.".into())),
        },
        "id" => {
            if creating {
                let s = v.as_str().filter(|s| is_uuid(s)).ok_or_else(|| {
                    Error::BadRequest(format!("Invalid value {v} for 'id': it must be a UUID."))
                })?;
                img.id = s.to_string();
            } else {
                return Err(Error::Forbidden("Attribute 'id' is read-only.".into()));
            }
        }
        "locations" | "direct_url" => {
            return Err(Error::Forbidden(format!(
                "Attribute '{key}' is not allowed: image locations are managed by the service."
            )));
        }
        _ => {
            check_writable(key)?;
            match v {
                Value::String(s) => {
                    img.properties.insert(key.to_string(), s.clone());
                }
                Value::Null if !creating => {
                    img.properties.remove(key);
                }
                other => {
                    return Err(Error::BadRequest(format!(
                        "Invalid value {other} for property '{key}': property values are strings."
                    )));
                }
            }
        }
    }
    Ok(())
}

impl ImageService {
    /// Check the visibility change against `publicize_image` / `communitize_image`.
    fn check_visibility(&self, ctx: &Context, img: &Image) -> Result<()> {
        let t = self.target(img, false, ctx);
        match img.visibility.as_str() {
            "public" => self.enforce(ctx, "publicize_image", &t),
            "community" => self.enforce(ctx, "communitize_image", &t),
            _ => Ok(()),
        }
    }

    /// Quota check before creating an image (count) for a project.
    async fn check_count_quota(&self, project: &str) -> Result<()> {
        let q = self.quotas(project).await;
        if q.count >= 0 {
            let (n, _) = store::usage(&self.db, project).await?;
            if n >= q.count {
                return Err(Error::TooLarge(format!(
                    "Quota exceeded: image_count_total limit {} reached for project {project}.",
                    q.count
                )));
            }
        }
        Ok(())
    }
}

/// `POST /v2/images`
pub async fn create(State(svc): St, ctx: Context, body: api::Json<Value>) -> Result<Response> {
    let api::Json(body) = body;
    let Value::Object(m) = body else {
        return Err(Error::BadRequest(
            "The request body must be a JSON object.".into(),
        ));
    };
    let now = svc.now();
    let project = ctx.user.project_id().map(str::to_string);
    let mut img = Image {
        id: uuid::Uuid::new_v4().to_string(),
        name: None,
        status: status::QUEUED.into(),
        visibility: "shared".into(),
        owner: project.clone(),
        disk_format: None,
        container_format: None,
        size: None,
        virtual_size: None,
        checksum: None,
        os_hash_algo: None,
        os_hash_value: None,
        min_disk: 0,
        min_ram: 0,
        protected: false,
        os_hidden: false,
        created_at: now,
        updated_at: now,
        properties: BTreeMap::new(),
        tags: Vec::new(),
        stores: Vec::new(),
    };
    for (k, v) in &m {
        set_attr(&mut img, k, v, true)?;
    }
    let mut target = svc.target(&img, false, &ctx);
    target["project_id"] = json!(project);
    svc.enforce(&ctx, "add_image", &target)?;
    svc.check_visibility(&ctx, &img)?;
    if store::id_taken(&svc.db, &img.id).await? {
        return Err(Error::Conflict(format!(
            "Image with identifier {} already exists!",
            img.id
        )));
    }
    if let Some(owner) = &img.owner {
        svc.check_count_quota(owner).await?;
    }
    store::insert(&svc.db, &img).await?;
    svc.notify("image.create", &img);
    let mut resp = ok(StatusCode::CREATED, img.to_json());
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/images/{}", img.id)) {
        h.insert(header::LOCATION, v);
    }
    // What clients may do next with this record (openstacksdk reads these).
    if let Ok(v) = HeaderValue::from_str(&svc.cfg.enabled_import_methods.join(",")) {
        h.insert("openstack-image-import-methods", v);
    }
    let stores: Vec<&str> = svc.stores.iter().map(|s| s.id()).collect();
    if let Ok(v) = HeaderValue::from_str(&stores.join(",")) {
        h.insert("openstack-image-store-ids", v);
    }
    Ok(resp)
}

/// `GET /v2/images/{id}`
pub async fn show(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<Response> {
    let (img, _) = svc.visible_image(&ctx, &id).await?;
    Ok(ok(StatusCode::OK, img.to_json()))
}

/// Parse `op:value` filters (`gt:`, `gte:`, `lt:`, `lte:`, `eq:`, `neq:`, `in:`).
fn cond(col: &str, raw: &str) -> Result<Cond> {
    let numeric = store::column_kind(col) == Some(false);
    let is_time = col == "created_at" || col == "updated_at";
    let value = |s: &str| -> Result<db::Arg> {
        if is_time {
            let t = chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| d.timestamp_micros())
                .or_else(|_| {
                    chrono::NaiveDateTime::parse_from_str(
                        s.trim_end_matches('Z'),
                        "%Y-%m-%dT%H:%M:%S",
                    )
                    .map(|n| n.and_utc().timestamp_micros())
                })
                .map_err(|_| Error::BadRequest(format!("Invalid timestamp {s:?} for {col}.")))?;
            Ok(db::Arg::from(t))
        } else if numeric {
            s.parse::<i64>().map(db::Arg::from).or_else(|_| match s {
                "true" | "True" => Ok(db::Arg::from(1i64)),
                "false" | "False" => Ok(db::Arg::from(0i64)),
                _ => Err(Error::BadRequest(format!("Invalid value {s:?} for {col}."))),
            })
        } else {
            Ok(db::Arg::from(s))
        }
    };
    let (op, v) = match raw.split_once(':') {
        Some((op @ ("gt" | "gte" | "lt" | "lte" | "eq" | "neq" | "in"), v)) => (op, v),
        _ => ("eq", raw),
    };
    Ok(match op {
        "gt" => Cond::Gt(value(v)?),
        "gte" => Cond::Gte(value(v)?),
        "lt" => Cond::Lt(value(v)?),
        "lte" => Cond::Lte(value(v)?),
        "neq" => Cond::Neq(value(v)?),
        "in" => Cond::In(
            v.split(',')
                .map(|x| value(x.trim().trim_matches('"')))
                .collect::<Result<Vec<_>>>()?,
        ),
        _ => Cond::Eq(value(v)?),
    })
}

const LIST_PARAMS: &[&str] = &[
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "sort",
    "visibility",
    "member_status",
    "tag",
    "size_min",
    "size_max",
    "os_hidden",
];

fn sort_spec(q: &Params) -> Result<Vec<(String, bool)>> {
    let check = |k: &str| -> Result<()> {
        if store::column_kind(k).is_none() {
            return Err(Error::BadRequest(format!(
                "Invalid sort key: {k}. It is not supported."
            )));
        }
        Ok(())
    };
    let dir = |d: &str| -> Result<bool> {
        match d {
            "asc" => Ok(false),
            "desc" => Ok(true),
            _ => Err(Error::BadRequest(format!("Invalid sort direction: {d}"))),
        }
    };
    if let Some(s) = q.get("sort") {
        if q.has("sort_key") || q.has("sort_dir") {
            return Err(Error::BadRequest(
                "The sort parameter cannot be combined with sort_key or sort_dir.".into(),
            ));
        }
        let mut out = Vec::new();
        for part in s.split(',') {
            let (k, d) = part.trim().split_once(':').unwrap_or((part.trim(), "desc"));
            check(k)?;
            out.push((k.to_string(), dir(d)?));
        }
        return Ok(out);
    }
    let keys = q.all("sort_key");
    let dirs = q.all("sort_dir");
    if dirs.len() > 1 && dirs.len() != keys.len() {
        return Err(Error::BadRequest(
            "The number of sort_dir values must match the number of sort_key values.".into(),
        ));
    }
    if keys.is_empty() {
        let desc = match dirs.first() {
            Some(d) => dir(d)?,
            None => true,
        };
        return Ok(vec![("created_at".into(), desc)]);
    }
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        check(k)?;
        let d = match dirs.get(i).or(dirs.first()) {
            Some(d) => dir(d)?,
            None => true,
        };
        out.push(((*k).to_string(), d));
    }
    Ok(out)
}

/// `GET /v2/images`
pub async fn list(State(svc): St, ctx: Context, q: Params) -> Result<Response> {
    let project = ctx.user.project_id().unwrap_or_default().to_string();
    svc.enforce(&ctx, "get_images", &json!({"project_id": project}))?;
    let limit = match q.get("limit") {
        None => LIMIT_DEFAULT,
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| {
                Error::BadRequest(format!(
                    "Invalid limit value {l:?}: a non-negative integer is required."
                ))
            })?
            .min(LIMIT_MAX),
    };
    let viewer = if svc.is_admin(&ctx) {
        Viewer::Admin
    } else {
        Viewer::Project(project.clone())
    };
    let cache_key = format!("{viewer:?}?{:?}", q.0);
    let writes = svc.db.write_count();
    if let Some((w, at, body)) = svc.list_cache.get(&cache_key)
        && w == writes
        && at.elapsed() < crate::LIST_CACHE_TTL
    {
        return Ok(json_bytes(body));
    }
    let mut query = Query {
        limit,
        sort: sort_spec(&q)?,
        marker: q.get("marker").map(str::to_string),
        visibility: q.get("visibility").map(str::to_string),
        member_status: q.get("member_status").map(str::to_string),
        tags: q.all("tag").into_iter().map(str::to_string).collect(),
        os_hidden: match q.get("os_hidden") {
            None => None,
            Some("true" | "True") => Some(true),
            Some("false" | "False") => Some(false),
            Some(v) => {
                return Err(Error::BadRequest(format!(
                    "Invalid value {v:?} for os_hidden."
                )));
            }
        },
        ..Default::default()
    };
    if let Some(v) = &query.visibility
        && !VISIBILITIES.contains(&v.as_str())
        && v != "all"
    {
        return Err(Error::BadRequest(format!("Invalid visibility value: {v}")));
    }
    if let Some(m) = &query.member_status
        && !["pending", "accepted", "rejected", "all"].contains(&m.as_str())
    {
        return Err(Error::BadRequest(format!("Invalid status value: {m}")));
    }
    if let Some(m) = &query.marker {
        let visible = svc.visible_image(&ctx, m).await.is_ok();
        if !visible {
            return Err(Error::BadRequest(format!("marker could not be found: {m}")));
        }
    }
    if let Some(s) = q.get("size_min") {
        query
            .conds
            .push(("size".into(), cond("size", &format!("gte:{s}"))?));
    }
    if let Some(s) = q.get("size_max") {
        query
            .conds
            .push(("size".into(), cond("size", &format!("lte:{s}"))?));
    }
    for (k, v) in &q.0 {
        if LIST_PARAMS.contains(&k.as_str()) {
            continue;
        }
        if store::column_kind(k).is_some() || k == "protected" {
            query.conds.push((k.clone(), cond(k, v)?));
        } else {
            query.properties.push((k.clone(), v.clone()));
        }
    }
    let (images, more) = store::list(&svc.db, &viewer, &query).await?;
    let items: Vec<Value> = images.iter().map(Image::to_json).collect();
    let mut body = json!({
        "images": items,
        "first": format!("/v2/images{}", query_string(&q, None)),
        "schema": "/v2/schemas/images",
    });
    if more && let Some(last) = images.last() {
        body["next"] = json!(format!("/v2/images{}", query_string(&q, Some(&last.id))));
    }
    let bytes = Bytes::from(serde_json::to_vec(&body).map_err(|e| Error::Internal(e.to_string()))?);
    svc.list_cache.insert(
        cache_key,
        (writes, std::time::Instant::now(), bytes.clone()),
    );
    Ok(json_bytes(bytes))
}

/// The request's query string with `marker` replaced.
fn query_string(q: &Params, marker: Option<&str>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &q.0 {
        if k != "marker" {
            s.append_pair(k, v);
        }
    }
    if let Some(m) = marker {
        s.append_pair("marker", m);
    }
    let out = s.finish();
    if out.is_empty() {
        String::new()
    } else {
        format!("?{out}")
    }
}

/// One JSON-patch operation in Glance's v2.1 (`{"op", "path", "value"}`) or v2.0
/// (`{"replace": "/path", "value"}`) form.
fn patch_ops(body: &Value, v20: bool) -> Result<Vec<(String, String, Option<Value>)>> {
    let ops = body
        .as_array()
        .ok_or_else(|| Error::BadRequest("Expected a list of JSON-patch operations.".into()))?;
    let mut out = Vec::new();
    for o in ops {
        let m = o
            .as_object()
            .ok_or_else(|| Error::BadRequest("Operations must be JSON objects.".into()))?;
        let (op, path) = if v20 {
            let op = ["add", "replace", "remove"]
                .into_iter()
                .find(|k| m.contains_key(*k))
                .ok_or_else(|| {
                    Error::BadRequest("Unable to find an operation in the patch.".into())
                })?;
            (
                op.to_string(),
                m[op].as_str().unwrap_or_default().to_string(),
            )
        } else {
            let op = m.get("op").and_then(Value::as_str).ok_or_else(|| {
                Error::BadRequest("Unable to find 'op' in JSON Schema change".into())
            })?;
            if !["add", "replace", "remove"].contains(&op) {
                return Err(Error::BadRequest(format!("Invalid operation: `{op}`.")));
            }
            let path = m.get("path").and_then(Value::as_str).ok_or_else(|| {
                Error::BadRequest("Unable to find 'path' in JSON Schema change".into())
            })?;
            (op.to_string(), path.to_string())
        };
        let p = path.strip_prefix('/').ok_or_else(|| {
            Error::BadRequest(format!("Pointer `{path}` does not start with \"/\"."))
        })?;
        if p.is_empty() || p.contains('/') && !p.starts_with("locations") {
            return Err(Error::BadRequest(format!(
                "Invalid JSON pointer for this resource: '{path}'"
            )));
        }
        let key = p.replace("~1", "/").replace("~0", "~");
        let value = m.get("value").cloned();
        if op != "remove" && value.is_none() {
            return Err(Error::BadRequest(format!(
                "Operation \"{op}\" requires a member named \"value\"."
            )));
        }
        out.push((op, key, value));
    }
    Ok(out)
}

/// `PATCH /v2/images/{id}` (`application/openstack-images-v2.1-json-patch`)
pub async fn update(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let v20 = match ct.as_str() {
        "application/openstack-images-v2.1-json-patch" => false,
        "application/openstack-images-v2.0-json-patch" => true,
        _ => {
            return Err(Error::UnsupportedMedia(format!(
                "Unsupported Content-Type {ct:?}: use application/openstack-images-v2.1-json-patch."
            )));
        }
    };
    let (mut img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "modify_image", &svc.target(&img, member, &ctx))?;
    let doc: Value = api::json::parse(&body).map_err(|f| Error::BadRequest(f.message))?;
    let before_visibility = img.visibility.clone();
    for (op, key, value) in patch_ops(&doc, v20)? {
        match op.as_str() {
            "remove" => {
                if CORE.contains(&key.as_str()) {
                    return Err(Error::Forbidden(format!(
                        "Attribute '{key}' can't be removed."
                    )));
                }
                check_writable(&key)?;
                if img.properties.remove(&key).is_none() {
                    return Err(Error::Conflict(format!("Property {key} does not exist.")));
                }
            }
            _ => {
                let v = value.unwrap_or(Value::Null);
                if op == "replace"
                    && !CORE.contains(&key.as_str())
                    && !img.properties.contains_key(&key)
                {
                    return Err(Error::Conflict(format!("Property {key} does not exist.")));
                }
                if READ_ONLY.contains(&key.as_str()) || key == "id" {
                    return Err(Error::Forbidden(format!("Attribute '{key}' is read-only.")));
                }
                set_attr(&mut img, &key, &v, false)?;
            }
        }
    }
    if img.visibility != before_visibility {
        svc.check_visibility(&ctx, &img)?;
    }
    img.updated_at = svc.now();
    store::update(&svc.db, &img).await?;
    svc.notify("image.update", &img);
    Ok(ok(StatusCode::OK, img.to_json()))
}

/// `DELETE /v2/images/{id}`: refused while protected; its data is removed.
pub async fn delete(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<Response> {
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "delete_image", &svc.target(&img, member, &ctx))?;
    if img.protected {
        return Err(Error::Forbidden(format!(
            "Image {id} is protected and cannot be deleted."
        )));
    }
    if img.status == status::UPLOADING || img.status == status::IMPORTING {
        // Staged data goes with it.
        let _ = svc
            .staging
            .delete(&format!(
                "file://{}",
                svc.cfg.staging_dir.join(&id).display()
            ))
            .await;
    }
    let locs = store::delete(&svc.db, &id, svc.now()).await?;
    if let Some(c) = &svc.cache {
        c.forget(&svc.db, &id).await?;
    }
    for (sid, url) in locs {
        if let Some(s) = svc.store(&sid)
            && let Err(e) = s.delete(&url).await
        {
            tracing::warn!(image = %id, store = %sid, error = %e, "could not delete image data");
        }
    }
    svc.notify("image.delete", &img);
    Ok(no_content())
}

/// `PUT /v2/images/{id}/tags/{tag}`
pub async fn add_tag(
    State(svc): St,
    ctx: Context,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response> {
    let (mut img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "modify_image", &svc.target(&img, member, &ctx))?;
    if tag.len() > 255 {
        return Err(Error::BadRequest("Tags are at most 255 characters.".into()));
    }
    if !img.tags.contains(&tag) {
        if img.tags.len() >= 128 {
            return Err(Error::TooLarge(
                "Maximum number of tags (128) exceeded.".into(),
            ));
        }
        img.tags.push(tag);
        img.updated_at = svc.now();
        store::update(&svc.db, &img).await?;
    }
    Ok(no_content())
}

/// `DELETE /v2/images/{id}/tags/{tag}`
pub async fn delete_tag(
    State(svc): St,
    ctx: Context,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response> {
    let (mut img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "modify_image", &svc.target(&img, member, &ctx))?;
    let before = img.tags.len();
    img.tags.retain(|t| t != &tag);
    if img.tags.len() == before {
        return Err(Error::NotFound(format!("Tag {tag} not found")));
    }
    img.updated_at = svc.now();
    store::update(&svc.db, &img).await?;
    Ok(no_content())
}

/// `POST /v2/images/{id}/actions/deactivate`
pub async fn deactivate(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<Response> {
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "deactivate", &svc.target(&img, member, &ctx))?;
    match img.status.as_str() {
        status::DEACTIVATED => Ok(no_content()),
        status::ACTIVE => {
            store::transition(
                &svc.db,
                &id,
                &[status::ACTIVE],
                status::DEACTIVATED,
                svc.now(),
            )
            .await?;
            Ok(no_content())
        }
        s => Err(Error::Forbidden(format!(
            "Not allowed to deactivate image in status '{s}'"
        ))),
    }
}

/// `POST /v2/images/{id}/actions/reactivate`
pub async fn reactivate(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<Response> {
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "reactivate", &svc.target(&img, member, &ctx))?;
    match img.status.as_str() {
        status::ACTIVE => Ok(no_content()),
        status::DEACTIVATED => {
            store::transition(
                &svc.db,
                &id,
                &[status::DEACTIVATED],
                status::ACTIVE,
                svc.now(),
            )
            .await?;
            Ok(no_content())
        }
        s => Err(Error::Forbidden(format!(
            "Not allowed to reactivate image in status '{s}'"
        ))),
    }
}

pub fn routes() -> Routes<Arc<ImageService>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v2/images",
        get(list, "List images"),
        post(create, "Create an image record")
    );
    let r = api::route!(
        r,
        "/v2/images/{image_id}",
        get(show, "Show an image"),
        patch(update, "Update an image (JSON patch)"),
        delete(delete, "Delete an image")
    );
    let r = api::route!(
        r,
        "/v2/images/{image_id}/tags/{tag}",
        put(add_tag, "Add a tag"),
        delete(delete_tag, "Remove a tag")
    );
    let r = api::route!(
        r,
        "/v2/images/{image_id}/actions/deactivate",
        post(deactivate, "Deactivate an image")
    );
    api::route!(
        r,
        "/v2/images/{image_id}/actions/reactivate",
        post(reactivate, "Reactivate an image")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_forms() {
        let v21 = json!([{"op": "replace", "path": "/name", "value": "x"}, {"op": "remove", "path": "/foo"}]);
        let ops = patch_ops(&v21, false).unwrap();
        assert_eq!(ops[0], ("replace".into(), "name".into(), Some(json!("x"))));
        assert_eq!(ops[1].0, "remove");
        let v20 = json!([{"add": "/k", "value": "v"}]);
        assert_eq!(patch_ops(&v20, true).unwrap()[0].1, "k");
        assert!(patch_ops(&json!([{"op": "move", "path": "/a"}]), false).is_err());
        assert!(patch_ops(&json!([{"op": "add", "path": "/a"}]), false).is_err());
        assert!(patch_ops(&json!([{"op": "add", "path": "a", "value": 1}]), false).is_err());
    }

    #[test]
    fn attributes_are_checked() {
        assert!(check_writable("status").is_err());
        assert!(check_writable("os_glance_import_task").is_err());
        assert!(check_writable("hw_disk_bus").is_ok());
        assert!(matches!(cond("size", "gte:10"), Ok(Cond::Gte(_))));
        assert!(matches!(cond("name", "in:a,b"), Ok(Cond::In(v)) if v.len() == 2));
        assert!(cond("created_at", "gt:yesterday").is_err());
    }
}
