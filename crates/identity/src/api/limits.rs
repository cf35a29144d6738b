//! Unified limits: `/v3/registered_limits`, `/v3/limits`, `/v3/limits/model` — the quota
//! values every service enforces, kept by identity (flat enforcement model).

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::api::params::Fields;
use crate::api::{Params, St, collection, created, member, no_content, ok};
use crate::model::new_id;
use crate::store::limits::{self as st, Limit, LimitFilter, RegisteredLimit};
use crate::{Error, Identity, Result, store};

fn render_registered(r: &RegisteredLimit, base: &str) -> Value {
    json!({
        "id": r.id,
        "service_id": r.service_id,
        "region_id": r.region_id,
        "resource_name": r.resource_name,
        "default_limit": r.default_limit,
        "description": r.description,
        "links": {"self": format!("{base}/v3/registered_limits/{}", r.id)},
    })
}

fn render_limit(l: &Limit, base: &str) -> Value {
    json!({
        "id": l.id,
        "project_id": l.project_id,
        "domain_id": l.domain_id,
        "service_id": l.service_id,
        "region_id": l.region_id,
        "resource_name": l.resource_name,
        "resource_limit": l.resource_limit,
        "description": l.description,
        "links": {"self": format!("{base}/v3/limits/{}", l.id)},
    })
}

fn count(m: &Map<String, Value>, k: &str) -> Result<i64> {
    match m.get(k).and_then(Value::as_i64) {
        Some(n) if n >= -1 => Ok(n),
        _ => Err(Error::bad(format!(
            "Invalid input for field '{k}': an integer of at least -1 (unlimited) is required."
        ))),
    }
}

fn list_body<'a>(body: &'a Value, key: &str) -> Result<&'a Vec<Value>> {
    match body.get(key) {
        Some(Value::Array(a)) if !a.is_empty() => Ok(a),
        Some(_) => Err(Error::bad(format!(
            "Invalid input for field '{key}': a non-empty list is required."
        ))),
        None => Err(Error::missing(key, "request body")),
    }
}

impl Identity {
    /// The service and (optional) region a limit names must exist: 400 otherwise.
    async fn limit_scope(&self, m: &Map<String, Value>) -> Result<(String, Option<String>)> {
        let service_id = m.name("service_id", 255)?;
        if store::catalog::get_service(&self.db, &service_id)
            .await?
            .is_none()
        {
            return Err(Error::bad(format!(
                "Invalid service {service_id}: the service does not exist."
            )));
        }
        let region_id = m.opt_string("region_id")?;
        if let Some(r) = &region_id
            && store::catalog::get_region(&self.db, r).await?.is_none()
        {
            return Err(Error::bad(format!(
                "Invalid region {r}: the region does not exist."
            )));
        }
        Ok((service_id, region_id))
    }

    /// The limit a project has for a resource: its own project limit, else its domain's,
    /// else the registered default; `None` when nothing is registered. `service_id` is the
    /// catalog service id of the enforcing service. This is what services' quota checks use.
    pub async fn effective_limit(
        &self,
        project_id: &str,
        service_id: &str,
        region_id: Option<&str>,
        resource: &str,
    ) -> Result<Option<i64>> {
        let f = LimitFilter {
            service_id: Some(service_id.to_string()),
            region_id: region_id.map(str::to_string),
            resource_name: Some(resource.to_string()),
            project_id: Some(project_id.to_string()),
            ..Default::default()
        };
        let same_region = |l: &Limit| l.region_id.as_deref() == region_id;
        if let Some(l) = st::list_limits(&self.db, &f)
            .await?
            .into_iter()
            .find(same_region)
        {
            return Ok(Some(l.resource_limit));
        }
        if let Some(p) = store::resource::get(&self.db, project_id).await? {
            let f = LimitFilter {
                project_id: None,
                domain_id: Some(p.domain_id.clone()),
                ..f
            };
            if let Some(l) = st::list_limits(&self.db, &f)
                .await?
                .into_iter()
                .find(same_region)
            {
                return Ok(Some(l.resource_limit));
            }
        }
        Ok(
            st::find_registered(&self.db, service_id, region_id, resource)
                .await?
                .map(|r| r.default_limit),
        )
    }
}

// ---- registered limits ----------------------------------------------------------------------

/// `POST /v3/registered_limits` (a list, created all or none)
pub async fn create_registered(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:create_registered_limits", &json!({}))?;
    let mut items: Vec<RegisteredLimit> = Vec::new();
    for v in list_body(&body, "registered_limits")? {
        let m = v.as_object().ok_or_else(|| {
            Error::bad("Invalid input for field 'registered_limits': items must be objects.")
        })?;
        let (service_id, region_id) = id.limit_scope(m).await?;
        let r = RegisteredLimit {
            id: new_id(),
            service_id,
            region_id,
            resource_name: m.name("resource_name", 255)?,
            default_limit: count(m, "default_limit")?,
            description: m.opt_string("description")?,
        };
        let dup = items.iter().any(|x| {
            (&x.service_id, &x.region_id, &x.resource_name)
                == (&r.service_id, &r.region_id, &r.resource_name)
        }) || st::find_registered(
            &id.db,
            &r.service_id,
            r.region_id.as_deref(),
            &r.resource_name,
        )
        .await?
        .is_some();
        if dup {
            return Err(Error::conflict(
                "registered_limit",
                format!(
                    "Duplicate entry found with resource {} of service {}.",
                    r.resource_name, r.service_id
                ),
            ));
        }
        items.push(r);
    }
    st::insert_registered(&id.db, &items).await?;
    id.changed().await;
    let out: Vec<Value> = items.iter().map(|r| render_registered(r, &base)).collect();
    Ok(created(json!({"registered_limits": out})))
}

fn filter(q: &Params) -> LimitFilter {
    LimitFilter {
        service_id: q.get("service_id").map(str::to_string),
        region_id: q.get("region_id").map(str::to_string),
        resource_name: q.get("resource_name").map(str::to_string),
        project_id: q.get("project_id").map(str::to_string),
        domain_id: q.get("domain_id").map(str::to_string),
    }
}

/// `GET /v3/registered_limits`
pub async fn list_registered(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    id.enforce(&ctx, "identity:list_registered_limits", &json!({}))?;
    let items = st::list_registered(&id.db, &filter(&q))
        .await?
        .iter()
        .map(|r| render_registered(r, &base))
        .collect();
    Ok(collection(
        &id,
        "registered_limits",
        items,
        format!("{base}/v3/registered_limits"),
    ))
}

async fn registered(id: &Identity, rid: &str) -> Result<RegisteredLimit> {
    st::get_registered(&id.db, rid)
        .await?
        .ok_or_else(|| Error::not_found("registered limit", rid))
}

/// Whether project or domain limits depend on this registered limit.
async fn referenced(id: &Identity, r: &RegisteredLimit) -> Result<bool> {
    let f = LimitFilter {
        service_id: Some(r.service_id.clone()),
        resource_name: Some(r.resource_name.clone()),
        ..Default::default()
    };
    Ok(st::list_limits(&id.db, &f)
        .await?
        .iter()
        .any(|l| l.region_id == r.region_id))
}

/// `GET /v3/registered_limits/{id}`
pub async fn show_registered(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:get_registered_limit", &json!({}))?;
    Ok(ok(
        json!({"registered_limit": render_registered(&registered(&id, &rid).await?, &base)}),
    ))
}

/// `PATCH /v3/registered_limits/{id}`
pub async fn update_registered(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:update_registered_limit", &json!({}))?;
    let m = member(&body, "registered_limit")?;
    let mut r = registered(&id, &rid).await?;
    let moves = ["service_id", "region_id", "resource_name"]
        .iter()
        .any(|k| m.contains_key(*k));
    if moves && referenced(&id, &r).await? {
        return Err(Error::ForbiddenMsg(format!(
            "Cannot change the service, region or resource of registered limit {rid}: project limits refer to it."
        )));
    }
    if m.contains_key("service_id") || m.contains_key("region_id") {
        let mut scope = Map::new();
        scope.insert(
            "service_id".into(),
            json!(m.get("service_id").cloned().unwrap_or(json!(r.service_id))),
        );
        scope.insert(
            "region_id".into(),
            if m.contains_key("region_id") {
                m["region_id"].clone()
            } else {
                json!(r.region_id)
            },
        );
        let (s, reg) = id.limit_scope(&scope).await?;
        r.service_id = s;
        r.region_id = reg;
    }
    if m.contains_key("resource_name") {
        r.resource_name = m.name("resource_name", 255)?;
    }
    if m.contains_key("default_limit") {
        r.default_limit = count(m, "default_limit")?;
    }
    if m.contains_key("description") {
        r.description = m.opt_string("description")?;
    }
    if let Some(other) = st::find_registered(
        &id.db,
        &r.service_id,
        r.region_id.as_deref(),
        &r.resource_name,
    )
    .await?
        && other.id != r.id
    {
        return Err(Error::conflict("registered_limit", "Duplicate entry."));
    }
    st::update_registered(&id.db, &r).await?;
    id.changed().await;
    Ok(ok(
        json!({"registered_limit": render_registered(&r, &base)}),
    ))
}

/// `DELETE /v3/registered_limits/{id}`: refused while project limits refer to it.
pub async fn delete_registered(
    State(id): St,
    ctx: Context,
    Path(rid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:delete_registered_limit", &json!({}))?;
    let r = registered(&id, &rid).await?;
    if referenced(&id, &r).await? {
        return Err(Error::ForbiddenMsg(format!(
            "Cannot delete registered limit {rid}: project limits refer to it."
        )));
    }
    st::delete_registered(&id.db, &r.id).await?;
    id.changed().await;
    Ok(no_content())
}

// ---- project and domain limits --------------------------------------------------------------

/// `POST /v3/limits` (a list, created all or none)
pub async fn create_limits(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:create_limits", &json!({}))?;
    let mut items: Vec<Limit> = Vec::new();
    for v in list_body(&body, "limits")? {
        let m = v.as_object().ok_or_else(|| {
            Error::bad("Invalid input for field 'limits': items must be objects.")
        })?;
        let project_id = m.opt_string("project_id")?;
        let domain_id = m.opt_string("domain_id")?;
        match (&project_id, &domain_id) {
            (Some(p), None) => {
                id.project(p)
                    .await
                    .map_err(|_| Error::bad(format!("Invalid project {p}.")))?;
            }
            (None, Some(d)) => {
                id.domain(d)
                    .await
                    .map_err(|_| Error::bad(format!("Invalid domain {d}.")))?;
            }
            _ => {
                return Err(Error::bad(
                    "A limit names exactly one of project_id and domain_id.",
                ));
            }
        }
        let (service_id, region_id) = id.limit_scope(m).await?;
        let l = Limit {
            id: new_id(),
            project_id,
            domain_id,
            service_id,
            region_id,
            resource_name: m.name("resource_name", 255)?,
            resource_limit: count(m, "resource_limit")?,
            description: m.opt_string("description")?,
        };
        if st::find_registered(
            &id.db,
            &l.service_id,
            l.region_id.as_deref(),
            &l.resource_name,
        )
        .await?
        .is_none()
        {
            return Err(Error::ForbiddenMsg(format!(
                "The service, region and resource of the limit ({}, {:?}, {}) have no registered limit.",
                l.service_id, l.region_id, l.resource_name
            )));
        }
        let key = |x: &Limit| {
            (
                x.project_id.clone(),
                x.domain_id.clone(),
                x.service_id.clone(),
                x.region_id.clone(),
                x.resource_name.clone(),
            )
        };
        let existing = st::list_limits(
            &id.db,
            &LimitFilter {
                service_id: Some(l.service_id.clone()),
                resource_name: Some(l.resource_name.clone()),
                project_id: l.project_id.clone(),
                domain_id: l.domain_id.clone(),
                ..Default::default()
            },
        )
        .await?;
        if existing
            .iter()
            .chain(items.iter())
            .any(|x| key(x) == key(&l))
        {
            return Err(Error::conflict(
                "limit",
                format!("Duplicate entry for resource {}.", l.resource_name),
            ));
        }
        items.push(l);
    }
    st::insert_limits(&id.db, &items).await?;
    id.changed().await;
    let out: Vec<Value> = items.iter().map(|l| render_limit(l, &base)).collect();
    Ok(created(json!({"limits": out})))
}

fn limit_target(l: &Limit) -> Value {
    json!({"target": {"limit": {"project_id": l.project_id, "domain": {"id": l.domain_id}}}})
}

/// `GET /v3/limits`: admins see all, others their project's and domain's.
pub async fn list_limits(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    id.enforce(&ctx, "identity:list_limits", &json!({}))?;
    let all = st::list_limits(&id.db, &filter(&q)).await?;
    let mut items = Vec::new();
    for l in &all {
        if id.allowed(&ctx, "identity:get_limit", &limit_target(l)) {
            items.push(render_limit(l, &base));
        }
    }
    Ok(collection(
        &id,
        "limits",
        items,
        format!("{base}/v3/limits"),
    ))
}

async fn limit(id: &Identity, lid: &str) -> Result<Limit> {
    st::get_limit(&id.db, lid)
        .await?
        .ok_or_else(|| Error::not_found("limit", lid))
}

/// `GET /v3/limits/{id}`
pub async fn show_limit(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(lid): Path<String>,
) -> Result<Response> {
    let l = limit(&id, &lid).await?;
    id.enforce(&ctx, "identity:get_limit", &limit_target(&l))?;
    Ok(ok(json!({"limit": render_limit(&l, &base)})))
}

/// `PATCH /v3/limits/{id}`: only `resource_limit` and `description` change.
pub async fn update_limit(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(lid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:update_limit", &json!({}))?;
    let m = member(&body, "limit")?;
    let mut l = limit(&id, &lid).await?;
    for k in m.keys() {
        if !matches!(k.as_str(), "resource_limit" | "description" | "id") {
            return Err(Error::bad(format!(
                "Invalid input for field '{k}': only resource_limit and description can change."
            )));
        }
    }
    if m.contains_key("resource_limit") {
        l.resource_limit = count(m, "resource_limit")?;
    }
    if m.contains_key("description") {
        l.description = m.opt_string("description")?;
    }
    st::update_limit(&id.db, &l).await?;
    id.changed().await;
    Ok(ok(json!({"limit": render_limit(&l, &base)})))
}

/// `DELETE /v3/limits/{id}`
pub async fn delete_limit(
    State(id): St,
    ctx: Context,
    Path(lid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:delete_limit", &json!({}))?;
    let l = limit(&id, &lid).await?;
    st::delete_limit(&id.db, &l.id).await?;
    id.changed().await;
    Ok(no_content())
}

/// `GET /v3/limits/model`
pub async fn model(State(id): St, ctx: Context) -> Result<Response> {
    id.enforce(&ctx, "identity:get_limit_model", &json!({}))?;
    Ok(ok(json!({"model": {
        "name": "flat",
        "description": "Limit enforcement and validation does not take project hierarchy into consideration."
    }})))
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/registered_limits",
        get(list_registered, "GET /v3/registered_limits"),
        post(
            create_registered,
            "POST /v3/registered_limits (a list, created all or none)"
        )
    );
    let r = api::route!(
        r,
        "/v3/registered_limits/{limit_id}",
        get(show_registered, "GET /v3/registered_limits/{id}"),
        patch(update_registered, "PATCH /v3/registered_limits/{id}"),
        delete(
            delete_registered,
            "DELETE /v3/registered_limits/{id}: refused while project limits refer to it"
        )
    );
    let r = api::route!(
        r,
        "/v3/limits",
        get(
            list_limits,
            "GET /v3/limits: admins see all, others their project's and domain's"
        ),
        post(
            create_limits,
            "POST /v3/limits (a list, created all or none)"
        )
    );
    let r = api::route!(r, "/v3/limits/model", get(model, "GET /v3/limits/model"));
    let r = api::route!(
        r,
        "/v3/limits/{limit_id}",
        get(show_limit, "GET /v3/limits/{id}"),
        patch(
            update_limit,
            "PATCH /v3/limits/{id}: only resource_limit and description change"
        ),
        delete(delete_limit, "DELETE /v3/limits/{id}")
    );
    r
}
