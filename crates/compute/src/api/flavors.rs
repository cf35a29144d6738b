//! `/flavors`: CRUD, extra specs, access for private flavors.

use std::sync::Arc;

use api::BaseUrl;
use api::microversion::Version;
use api::openapi::Routes;
use api::query::Params;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::St;
use super::views;
use crate::model::Flavor;
use crate::store::flavors::{self, ListQuery};
use crate::{ComputeService, Error, Result};

fn bad(m: impl Into<String>) -> Error {
    Error::BadRequest(m.into())
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!("Flavor {id} could not be found."))
}

async fn visible(svc: &ComputeService, ctx: &Context, id: &str) -> Result<Flavor> {
    let f = flavors::get(&svc.db, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if !f.is_public && !svc.is_admin(ctx) {
        let p = ctx.user.project_id().unwrap_or_default();
        if !flavors::access(&svc.db, id).await?.iter().any(|x| x == p) {
            return Err(not_found(id));
        }
    }
    Ok(f)
}

async fn list_common(
    svc: &ComputeService,
    ctx: &Context,
    v: Version,
    base: &str,
    p: &Params,
    detail: bool,
) -> Result<Response> {
    let admin = svc.is_admin(ctx);
    let project = ctx.user.project_id().map(str::to_string);
    let is_public = match p.get("is_public") {
        None => Some(true).filter(|_| !admin).or(Some(true)),
        Some(x) if x.eq_ignore_ascii_case("none") => None,
        Some(x) => Some(api::query::truthy(x)),
    };
    // Non-admins always see public + their accessible flavors.
    let is_public = if admin {
        is_public
    } else if is_public == Some(false) {
        Some(false)
    } else {
        None
    };
    let sort_key = match p.get("sort_key").unwrap_or("flavorid") {
        "flavorid" | "id" => "id",
        "name" => "name",
        "memory_mb" => "ram",
        "root_gb" => "disk",
        "vcpus" => "vcpus",
        "ephemeral_gb" => "ephemeral",
        "swap" => "swap",
        "created_at" => "created_at",
        k => {
            return Err(bad(format!(
                "Invalid input for field/attribute sort_key. Value: {k}."
            )));
        }
    };
    let ascending = match p.get("sort_dir").unwrap_or("asc") {
        "asc" => true,
        "desc" => false,
        d => {
            return Err(bad(format!(
                "Invalid input for field/attribute sort_dir. Value: {d}."
            )));
        }
    };
    let num = |k: &str| -> Result<Option<i64>> {
        p.get(k)
            .map(|x| {
                x.parse::<i64>()
                    .map_err(|_| bad(format!("Invalid {k} filter [{x}]")))
            })
            .transpose()
    };
    let limit = num("limit")?.unwrap_or(1000).clamp(0, 1000);
    let marker = match p.get("marker") {
        Some(m) => Some(
            flavors::get(&svc.db, m)
                .await?
                .ok_or_else(|| bad(format!("marker [{m}] not found")))?,
        ),
        None => None,
    };
    let q = ListQuery {
        project: if admin { None } else { project.as_deref() },
        is_public,
        min_ram: num("minRam")?,
        min_disk: num("minDisk")?,
        sort_key,
        ascending,
        marker: marker.as_ref(),
        limit,
    };
    let list = flavors::list(&svc.db, &q).await?;
    let specs = svc.allowed(
        ctx,
        "os_compute_api:os-flavor-extra-specs:index",
        &json!({"project_id": project}),
    );
    let body: Vec<Value> = list
        .iter()
        .map(|f| views::flavor(base, f, v, detail, specs))
        .collect();
    let mut out = json!({"flavors": body});
    if i64::try_from(list.len()).unwrap_or(0) == limit
        && limit > 0
        && let Some(last) = list.last()
    {
        let path = if detail { "flavors/detail" } else { "flavors" };
        out["flavors_links"] = json!([{"rel": "next", "href": format!("{base}/v2.1/{path}?limit={limit}&marker={}", last.id)}]);
    }
    Ok(axum::Json(out).into_response())
}

pub async fn list(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    p: Params,
) -> Result<Response> {
    list_common(&svc, &ctx, v, &base, &p, false).await
}

pub async fn detail(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    p: Params,
) -> Result<Response> {
    list_common(&svc, &ctx, v, &base, &p, true).await
}

pub async fn show(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> Result<Response> {
    let f = visible(&svc, &ctx, &id).await?;
    let specs = svc.allowed(
        &ctx,
        "os_compute_api:os-flavor-extra-specs:index",
        &json!({"project_id": ctx.user.project_id()}),
    );
    Ok(axum::Json(json!({"flavor": views::flavor(&base, &f, v, true, specs)})).into_response())
}

fn int(o: &Map<String, Value>, k: &str, min: i64, required: bool) -> Result<i64> {
    let v = match o.get(k) {
        None | Some(Value::Null) if !required => return Ok(0),
        None => {
            return Err(bad(format!(
                "Invalid input for field/attribute flavor. '{k}' is a required property"
            )));
        }
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    let v = v.ok_or_else(|| {
        bad(format!(
            "Invalid input for field/attribute {k}. Value must be an integer."
        ))
    })?;
    if v < min || v > i64::from(i32::MAX) {
        return Err(bad(format!(
            "Invalid input for field/attribute {k}. Value: {v}. {v} is less than the minimum of {min}"
        )));
    }
    Ok(v)
}

/// `POST /flavors`
pub async fn create(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    svc.enforce(&ctx, "os_compute_api:os-flavor-manage:create", &json!({}))?;
    let o = body
        .get("flavor")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute flavor. 'flavor' is a required property")
        })?;
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.len() <= 255)
        .ok_or_else(|| bad("Invalid input for field/attribute name. A flavor name of 1-255 characters is required."))?
        .to_string();
    let id = match o.get("id") {
        None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
        Some(Value::String(s))
            if !s.is_empty()
                && s.len() <= 255
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_. ".contains(c))
                && s.trim() == s =>
        {
            s.clone()
        }
        Some(Value::Number(n)) => n.to_string(),
        Some(o) => {
            return Err(bad(format!(
                "Invalid input for field/attribute id. Value: {o}."
            )));
        }
    };
    let rxtx = match o.get("rxtx_factor") {
        None | Some(Value::Null) => 1.0,
        Some(x) => x
            .as_f64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
            .filter(|f| *f > 0.0)
            .ok_or_else(|| bad("Invalid input for field/attribute rxtx_factor."))?,
    };
    let is_public = match o.get("os-flavor-access:is_public") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => api::query::truthy(s),
        Some(_) => {
            return Err(bad(
                "Invalid input for field/attribute os-flavor-access:is_public.",
            ));
        }
    };
    let description = if v.at_least(2, 55) {
        match o.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() <= 65535 => Some(s.clone()),
            Some(_) => return Err(bad("Invalid input for field/attribute description.")),
        }
    } else {
        None
    };
    let f = Flavor {
        id,
        name,
        vcpus: int(o, "vcpus", 1, true)?,
        ram: int(o, "ram", 1, true)?,
        disk: int(o, "disk", 0, true)?,
        ephemeral: int(o, "OS-FLV-EXT-DATA:ephemeral", 0, false)?,
        swap: int(o, "swap", 0, false)?,
        rxtx_factor: rxtx,
        is_public,
        disabled: false,
        description,
        extra_specs: Map::new(),
    };
    if flavors::get(&svc.db, &f.id).await?.is_some() {
        return Err(Error::Conflict(format!(
            "Flavor with ID {} already exists.",
            f.id
        )));
    }
    if flavors::by_name(&svc.db, &f.name).await?.is_some() {
        return Err(Error::Conflict(format!(
            "Flavor with name {} already exists.",
            f.name
        )));
    }
    flavors::insert(&svc.db, &f, svc.now()).await?;
    if !f.is_public
        && let Some(p) = ctx.user.project_id()
    {
        let _ = p; // nova does not grant access automatically
    }
    Ok(axum::Json(json!({"flavor": views::flavor(&base, &f, v, true, true)})).into_response())
}

/// `PUT /flavors/{id}` (2.55): the description only.
pub async fn update(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    body: api::Json<Value>,
) -> Result<Response> {
    if !v.at_least(2, 55) {
        return Err(Error::NotFound("The resource could not be found.".into()));
    }
    let api::Json(body) = body;
    svc.enforce(&ctx, "os_compute_api:os-flavor-manage:update", &json!({}))?;
    let d = body
        .get("flavor")
        .and_then(|f| f.get("description"))
        .ok_or_else(|| {
            bad("Invalid input for field/attribute flavor. 'description' is a required property")
        })?;
    let d = match d {
        Value::Null => None,
        Value::String(s) if s.len() <= 65535 => Some(s.as_str()),
        _ => return Err(bad("Invalid input for field/attribute description.")),
    };
    flavors::get(&svc.db, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    flavors::set_description(&svc.db, &id, d, svc.now()).await?;
    let f = flavors::get(&svc.db, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(json!({"flavor": views::flavor(&base, &f, v, true, true)})).into_response())
}

pub async fn delete(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<StatusCode> {
    svc.enforce(&ctx, "os_compute_api:os-flavor-manage:delete", &json!({}))?;
    if !flavors::delete(&svc.db, &id).await? {
        return Err(not_found(&id));
    }
    Ok(StatusCode::ACCEPTED)
}

// ---- extra specs ------------------------------------------------------------------------

fn specs_body(v: &Value) -> Result<Map<String, Value>> {
    let m = v.get("extra_specs").and_then(Value::as_object).ok_or_else(|| bad("Invalid input for field/attribute extra_specs. 'extra_specs' is a required property"))?;
    let mut out = Map::new();
    for (k, val) in m {
        if k.is_empty()
            || k.len() > 255
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:. ".contains(c))
        {
            return Err(bad(format!(
                "Invalid input for field/attribute extra_specs. Key '{k}' is not valid."
            )));
        }
        let s = match val {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => {
                if *b {
                    "True".into()
                } else {
                    "False".into()
                }
            }
            _ => {
                return Err(bad(format!(
                    "Invalid input for field/attribute {k}. Value must be a string."
                )));
            }
        };
        if s.len() > 255 {
            return Err(bad(format!(
                "Invalid input for field/attribute {k}. Value is too long."
            )));
        }
        out.insert(k.clone(), Value::String(s));
    }
    Ok(out)
}

pub async fn list_specs(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<Response> {
    svc.enforce(
        &ctx,
        "os_compute_api:os-flavor-extra-specs:index",
        &json!({"project_id": ctx.user.project_id()}),
    )?;
    let f = visible(&svc, &ctx, &id).await?;
    Ok(axum::Json(json!({"extra_specs": f.extra_specs})).into_response())
}

pub async fn create_specs(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    svc.enforce(
        &ctx,
        "os_compute_api:os-flavor-extra-specs:create",
        &json!({}),
    )?;
    let f = flavors::get(&svc.db, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let new = specs_body(&body)?;
    let mut all = f.extra_specs.clone();
    all.extend(new.clone());
    flavors::set_extra_specs(&svc.db, &id, &all, svc.now()).await?;
    Ok(axum::Json(json!({"extra_specs": new})).into_response())
}

pub async fn show_spec(
    State(svc): St,
    ctx: Context,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response> {
    svc.enforce(
        &ctx,
        "os_compute_api:os-flavor-extra-specs:show",
        &json!({"project_id": ctx.user.project_id()}),
    )?;
    let f = visible(&svc, &ctx, &id).await?;
    let v = f.extra_specs.get(&key).ok_or_else(|| {
        Error::NotFound(format!("Flavor {id} has no extra specs with key {key}."))
    })?;
    Ok(axum::Json(json!({key: v})).into_response())
}

pub async fn update_spec(
    State(svc): St,
    ctx: Context,
    Path((id, key)): Path<(String, String)>,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    svc.enforce(
        &ctx,
        "os_compute_api:os-flavor-extra-specs:update",
        &json!({}),
    )?;
    let f = flavors::get(&svc.db, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let m = specs_body(&json!({"extra_specs": body}))?;
    if m.len() != 1 {
        return Err(bad("Request body contains too many items"));
    }
    let Some(val) = m.get(&key) else {
        return Err(bad("Request body and URI mismatch"));
    };
    let mut all = f.extra_specs.clone();
    all.insert(key.clone(), val.clone());
    flavors::set_extra_specs(&svc.db, &id, &all, svc.now()).await?;
    Ok(axum::Json(json!({key: val})).into_response())
}

pub async fn delete_spec(
    State(svc): St,
    ctx: Context,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode> {
    svc.enforce(
        &ctx,
        "os_compute_api:os-flavor-extra-specs:delete",
        &json!({}),
    )?;
    let f = flavors::get(&svc.db, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let mut all = f.extra_specs.clone();
    if all.remove(&key).is_none() {
        return Err(Error::NotFound(format!(
            "Flavor {id} has no extra specs with key {key}."
        )));
    }
    flavors::set_extra_specs(&svc.db, &id, &all, svc.now()).await?;
    Ok(StatusCode::OK)
}

// ---- access ------------------------------------------------------------------------------

fn access_list(id: &str, projects: &[String]) -> Value {
    json!({"flavor_access": projects.iter().map(|p| json!({"flavor_id": id, "tenant_id": p})).collect::<Vec<_>>()})
}

pub async fn list_access(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-flavor-access", &json!({}))?;
    let f = flavors::get(&svc.db, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    if f.is_public {
        return Err(Error::NotFound(
            "Access list not available for public flavors.".into(),
        ));
    }
    Ok(axum::Json(access_list(&id, &flavors::access(&svc.db, &id).await?)).into_response())
}

/// `addTenantAccess` / `removeTenantAccess`
pub async fn flavor_action(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    let f = flavors::get(&svc.db, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let tenant = |k: &str| -> Result<String> {
        body.get(k)
            .and_then(|a| a.get("tenant"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                bad(format!(
                    "Invalid input for field/attribute {k}. 'tenant' is a required property"
                ))
            })
    };
    if body.get("addTenantAccess").is_some() {
        svc.enforce(
            &ctx,
            "os_compute_api:os-flavor-access:add_tenant_access",
            &json!({}),
        )?;
        let t = tenant("addTenantAccess")?;
        if f.is_public {
            return Err(Error::Conflict(
                "Can not add access to a public flavor.".into(),
            ));
        }
        flavors::add_access(&svc.db, &id, &t)
            .await
            .map_err(|e| match e {
                db::DbError::Conflict(_) => Error::Conflict(format!(
                    "Flavor access already exists for flavor {id} and project {t} combination."
                )),
                other => other.into(),
            })?;
    } else if body.get("removeTenantAccess").is_some() {
        svc.enforce(
            &ctx,
            "os_compute_api:os-flavor-access:remove_tenant_access",
            &json!({}),
        )?;
        let t = tenant("removeTenantAccess")?;
        if !flavors::remove_access(&svc.db, &id, &t).await? {
            return Err(Error::NotFound(format!(
                "Flavor access not found for {id} / {t} combination."
            )));
        }
    } else {
        return Err(bad("There is no such action."));
    }
    Ok(axum::Json(access_list(&id, &flavors::access(&svc.db, &id).await?)).into_response())
}

pub fn routes() -> Routes<Arc<ComputeService>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v2.1/flavors",
        get(list, "List flavors"),
        post(create, "Create a flavor")
    );
    let r = api::route!(
        r,
        "/v2.1/flavors/detail",
        get(detail, "List flavors with details")
    );
    let r = api::route!(
        r,
        "/v2.1/flavors/{flavor_id}",
        get(show, "Show a flavor"),
        put(update, "Update a flavor's description"),
        delete(delete, "Delete a flavor")
    );
    let r = api::route!(
        r,
        "/v2.1/flavors/{flavor_id}/os-extra_specs",
        get(list_specs, "List extra specs"),
        post(create_specs, "Create extra specs")
    );
    let r = api::route!(
        r,
        "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
        get(show_spec, "Show an extra spec"),
        put(update_spec, "Update an extra spec"),
        delete(delete_spec, "Delete an extra spec")
    );
    let r = api::route!(
        r,
        "/v2.1/flavors/{flavor_id}/os-flavor-access",
        get(list_access, "List flavor access")
    );
    api::route!(
        r,
        "/v2.1/flavors/{flavor_id}/action",
        post(flavor_action, "Add or remove flavor access")
    )
}
