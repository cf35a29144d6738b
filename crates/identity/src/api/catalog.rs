//! `/v3/regions`, `/v3/services`, `/v3/endpoints`.

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::params::Fields;
use crate::api::{Params, St, collection, created, member, no_content, ok};
use crate::model::{Endpoint, Region, Service, new_id};
use crate::{Error, Identity, Result, store};

const REGION_KNOWN: &[&str] = &["id", "description", "parent_region_id", "links"];
const SERVICE_KNOWN: &[&str] = &["id", "type", "name", "description", "enabled", "links"];
const ENDPOINT_KNOWN: &[&str] = &[
    "id",
    "service_id",
    "interface",
    "url",
    "region",
    "region_id",
    "enabled",
    "links",
    "legacy_endpoint_id",
];

// ---- regions -----------------------------------------------------------------------------

impl Identity {
    async fn check_parent_region(&self, id: &str, parent: Option<&str>) -> Result<()> {
        let Some(mut cur) = parent.map(str::to_string) else {
            return Ok(());
        };
        for _ in 0..64 {
            if cur == id {
                return Err(Error::bad(format!(
                    "Circular reference or a repeated entry found in region tree - {id}."
                )));
            }
            match store::catalog::get_region(&self.db, &cur).await? {
                Some(r) => match r.parent_region_id {
                    Some(p) => cur = p,
                    None => return Ok(()),
                },
                None => {
                    return Err(Error::not_found("region", cur));
                }
            }
        }
        Ok(())
    }

    async fn create_region(
        &self,
        rid: Option<String>,
        m: &serde_json::Map<String, Value>,
    ) -> Result<Region> {
        let rid = match rid {
            Some(r) => r,
            None => m.opt_string("id")?.unwrap_or_else(new_id),
        };
        if rid.is_empty() || rid.len() > 255 {
            return Err(Error::bad(
                "Invalid input for field 'id': 1-255 characters are required.",
            ));
        }
        let parent = m.opt_string("parent_region_id")?;
        self.check_parent_region(&rid, parent.as_deref()).await?;
        let r = Region {
            id: rid.clone(),
            description: m.opt_string("description")?,
            parent_region_id: parent,
            extra: m.extras(REGION_KNOWN),
        };
        match store::catalog::insert_region(&self.db, &r).await {
            Ok(()) => {}
            Err(db::DbError::Conflict(_)) => {
                return Err(Error::conflict("region", format!("Duplicate ID, {rid}.")));
            }
            Err(e) => return Err(e.into()),
        }
        self.changed().await;
        Ok(r)
    }
}

/// `POST /v3/regions`
pub async fn create_region(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:create_region", &json!({}))?;
    let m = member(&body, "region")?;
    let r = id.create_region(None, m).await?;
    Ok(created(json!({"region": r.to_json(&base)})))
}

/// `PUT /v3/regions/{id}`: create with a chosen id.
pub async fn put_region(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:create_region", &json!({}))?;
    let m = member(&body, "region")?;
    if let Some(v) = m.get("id")
        && v.as_str() != Some(rid.as_str())
    {
        return Err(Error::bad(
            "The region id in the URL and the body must match.",
        ));
    }
    let r = id.create_region(Some(rid), m).await?;
    Ok(created(json!({"region": r.to_json(&base)})))
}

/// `GET /v3/regions`
pub async fn list_regions(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    id.enforce(&ctx, "identity:list_regions", &json!({}))?;
    let rs = store::catalog::list_regions(&id.db, q.get("parent_region_id")).await?;
    let items = rs.iter().map(|r| r.to_json(&base)).collect();
    Ok(collection(
        &id,
        "regions",
        items,
        format!("{base}/v3/regions"),
    ))
}

async fn region(id: &Identity, rid: &str) -> Result<Region> {
    store::catalog::get_region(&id.db, rid)
        .await?
        .ok_or_else(|| Error::not_found("region", rid))
}

/// `GET /v3/regions/{id}`
pub async fn show_region(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:get_region", &json!({}))?;
    Ok(ok(
        json!({"region": region(&id, &rid).await?.to_json(&base)}),
    ))
}

/// `PATCH /v3/regions/{id}`
pub async fn update_region(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:update_region", &json!({}))?;
    let m = member(&body, "region")?;
    let mut r = region(&id, &rid).await?;
    if let Some(v) = m.get("id")
        && v.as_str() != Some(rid.as_str())
    {
        return Err(Error::bad("Cannot change the ID of a region."));
    }
    if m.contains_key("description") {
        r.description = m.opt_string("description")?;
    }
    if m.contains_key("parent_region_id") {
        let p = m.opt_string("parent_region_id")?;
        id.check_parent_region(&r.id, p.as_deref()).await?;
        r.parent_region_id = p;
    }
    for (k, v) in m.extras(REGION_KNOWN) {
        r.extra.insert(k, v);
    }
    store::catalog::update_region(&id.db, &r).await?;
    id.changed().await;
    Ok(ok(json!({"region": r.to_json(&base)})))
}

/// `DELETE /v3/regions/{id}`: refused while it has child regions or endpoints.
pub async fn delete_region(
    State(id): St,
    ctx: Context,
    Path(rid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:delete_region", &json!({}))?;
    let r = region(&id, &rid).await?;
    if !store::catalog::list_regions(&id.db, Some(&r.id))
        .await?
        .is_empty()
    {
        return Err(Error::ConflictMsg(format!(
            "Unable to delete region {} because it or its child regions have associated endpoints.",
            r.id
        )));
    }
    if store::catalog::list_endpoints(&id.db)
        .await?
        .iter()
        .any(|e| e.region_id.as_deref() == Some(r.id.as_str()))
    {
        return Err(Error::ConflictMsg(format!(
            "Unable to delete region {} because it or its child regions have associated endpoints.",
            r.id
        )));
    }
    store::catalog::delete_region(&id.db, &r.id).await?;
    id.changed().await;
    Ok(no_content())
}

// ---- services ----------------------------------------------------------------------------

async fn service(id: &Identity, sid: &str) -> Result<Service> {
    store::catalog::get_service(&id.db, sid)
        .await?
        .ok_or_else(|| Error::not_found("service", sid))
}

/// `POST /v3/services`
pub async fn create_service(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:create_service", &json!({}))?;
    let m = member(&body, "service")?;
    let s = id.create_service(m).await?;
    Ok(created(json!({"service": s.to_json(&base)})))
}

impl Identity {
    pub async fn create_service(&self, m: &serde_json::Map<String, Value>) -> Result<Service> {
        let s = Service {
            id: new_id(),
            service_type: m.name("type", 255)?,
            name: m.opt_string("name")?,
            description: m.opt_string("description")?,
            enabled: m.opt_bool("enabled")?.unwrap_or(true),
            extra: m.extras(SERVICE_KNOWN),
        };
        store::catalog::insert_service(&self.db, &s).await?;
        self.changed().await;
        Ok(s)
    }
}

/// `GET /v3/services`
pub async fn list_services(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    id.enforce(&ctx, "identity:list_services", &json!({}))?;
    let mut ss = store::catalog::list_services(&id.db).await?;
    if let Some(t) = q.get("type") {
        ss.retain(|s| s.service_type == t);
    }
    if let Some(n) = q.get("name") {
        ss.retain(|s| s.name.as_deref() == Some(n));
    }
    let items = ss.iter().map(|s| s.to_json(&base)).collect();
    Ok(collection(
        &id,
        "services",
        items,
        format!("{base}/v3/services"),
    ))
}

/// `GET /v3/services/{id}`
pub async fn show_service(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(sid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:get_service", &json!({}))?;
    Ok(ok(
        json!({"service": service(&id, &sid).await?.to_json(&base)}),
    ))
}

/// `PATCH /v3/services/{id}`
pub async fn update_service(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(sid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:update_service", &json!({}))?;
    let m = member(&body, "service")?;
    let mut s = service(&id, &sid).await?;
    if m.contains_key("type") {
        s.service_type = m.name("type", 255)?;
    }
    if m.contains_key("name") {
        s.name = m.opt_string("name")?;
    }
    if m.contains_key("description") {
        s.description = m.opt_string("description")?;
    }
    if let Some(e) = m.opt_bool("enabled")? {
        s.enabled = e;
    }
    for (k, v) in m.extras(SERVICE_KNOWN) {
        s.extra.insert(k, v);
    }
    store::catalog::update_service(&id.db, &s).await?;
    id.changed().await;
    Ok(ok(json!({"service": s.to_json(&base)})))
}

/// `DELETE /v3/services/{id}`: its endpoints go with it.
pub async fn delete_service(
    State(id): St,
    ctx: Context,
    Path(sid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:delete_service", &json!({}))?;
    let s = service(&id, &sid).await?;
    store::catalog::delete_service(&id.db, &s.id).await?;
    id.changed().await;
    Ok(no_content())
}

// ---- endpoints ---------------------------------------------------------------------------

const INTERFACES: &[&str] = &["public", "internal", "admin"];

async fn endpoint(id: &Identity, eid: &str) -> Result<Endpoint> {
    store::catalog::get_endpoint(&id.db, eid)
        .await?
        .ok_or_else(|| Error::not_found("endpoint", eid))
}

fn check_interface(i: &str) -> Result<()> {
    if INTERFACES.contains(&i) {
        Ok(())
    } else {
        Err(Error::bad(format!(
            "Invalid input for field 'interface': '{i}' is not one of ['admin', 'internal', 'public']"
        )))
    }
}

fn check_url(u: &str) -> Result<()> {
    let parsed = url::Url::parse(&u.replace("$(", "").replace("%(", "").replace(")s", ""));
    match parsed {
        Ok(p) if matches!(p.scheme(), "http" | "https") => Ok(()),
        _ => Err(Error::bad(format!(
            "Invalid input for field 'url': '{u}' is not a valid URL"
        ))),
    }
}

impl Identity {
    async fn endpoint_region(&self, m: &serde_json::Map<String, Value>) -> Result<Option<String>> {
        let region = match m.opt_string("region_id")? {
            Some(r) => Some(r),
            None => m.opt_string("region")?,
        };
        // As keystone: naming a region that does not exist creates it.
        if let Some(r) = &region
            && store::catalog::get_region(&self.db, r).await?.is_none()
        {
            let new = Region {
                id: r.clone(),
                description: None,
                parent_region_id: None,
                extra: Default::default(),
            };
            match store::catalog::insert_region(&self.db, &new).await {
                Ok(()) | Err(db::DbError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(region)
    }

    pub async fn create_endpoint(&self, m: &serde_json::Map<String, Value>) -> Result<Endpoint> {
        let service_id = m.name("service_id", 64)?;
        if store::catalog::get_service(&self.db, &service_id)
            .await?
            .is_none()
        {
            return Err(Error::bad(format!("Service {service_id} not found.")));
        }
        let interface = m.name("interface", 10)?;
        check_interface(&interface)?;
        let url = m.name("url", 2048)?;
        check_url(&url)?;
        let e = Endpoint {
            id: new_id(),
            service_id,
            interface,
            url,
            region_id: self.endpoint_region(m).await?,
            enabled: m.opt_bool("enabled")?.unwrap_or(true),
            extra: m.extras(ENDPOINT_KNOWN),
        };
        store::catalog::insert_endpoint(&self.db, &e).await?;
        self.changed().await;
        Ok(e)
    }
}

/// `POST /v3/endpoints`
pub async fn create_endpoint(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:create_endpoint", &json!({}))?;
    let m = member(&body, "endpoint")?;
    let e = id.create_endpoint(m).await?;
    Ok(created(json!({"endpoint": e.to_json(&base)})))
}

/// `GET /v3/endpoints`
pub async fn list_endpoints(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    id.enforce(&ctx, "identity:list_endpoints", &json!({}))?;
    if let Some(i) = q.get("interface") {
        check_interface(i)?;
    }
    let mut es = store::catalog::list_endpoints(&id.db).await?;
    if let Some(i) = q.get("interface") {
        es.retain(|e| e.interface == i);
    }
    if let Some(s) = q.get("service_id") {
        es.retain(|e| e.service_id == s);
    }
    if let Some(r) = q.get("region_id") {
        es.retain(|e| e.region_id.as_deref() == Some(r));
    }
    let items = es.iter().map(|e| e.to_json(&base)).collect();
    Ok(collection(
        &id,
        "endpoints",
        items,
        format!("{base}/v3/endpoints"),
    ))
}

/// `GET /v3/endpoints/{id}`
pub async fn show_endpoint(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(eid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:get_endpoint", &json!({}))?;
    Ok(ok(
        json!({"endpoint": endpoint(&id, &eid).await?.to_json(&base)}),
    ))
}

/// `PATCH /v3/endpoints/{id}`
pub async fn update_endpoint(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(eid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:update_endpoint", &json!({}))?;
    let m = member(&body, "endpoint")?;
    let mut e = endpoint(&id, &eid).await?;
    if m.contains_key("service_id") {
        let s = m.name("service_id", 64)?;
        if store::catalog::get_service(&id.db, &s).await?.is_none() {
            return Err(Error::bad(format!("Service {s} not found.")));
        }
        e.service_id = s;
    }
    if m.contains_key("interface") {
        let i = m.name("interface", 10)?;
        check_interface(&i)?;
        e.interface = i;
    }
    if m.contains_key("url") {
        let u = m.name("url", 2048)?;
        check_url(&u)?;
        e.url = u;
    }
    if m.contains_key("region_id") || m.contains_key("region") {
        e.region_id = id.endpoint_region(m).await?;
    }
    if let Some(en) = m.opt_bool("enabled")? {
        e.enabled = en;
    }
    for (k, v) in m.extras(ENDPOINT_KNOWN) {
        e.extra.insert(k, v);
    }
    store::catalog::update_endpoint(&id.db, &e).await?;
    id.changed().await;
    Ok(ok(json!({"endpoint": e.to_json(&base)})))
}

/// `DELETE /v3/endpoints/{id}`
pub async fn delete_endpoint(
    State(id): St,
    ctx: Context,
    Path(eid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:delete_endpoint", &json!({}))?;
    let e = endpoint(&id, &eid).await?;
    store::catalog::delete_endpoint(&id.db, &e.id).await?;
    id.changed().await;
    Ok(no_content())
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/regions",
        get(list_regions, "GET /v3/regions"),
        post(create_region, "POST /v3/regions")
    );
    let r = api::route!(
        r,
        "/v3/regions/{region_id}",
        get(show_region, "GET /v3/regions/{id}"),
        put(put_region, "PUT /v3/regions/{id}: create with a chosen id"),
        patch(update_region, "PATCH /v3/regions/{id}"),
        delete(
            delete_region,
            "DELETE /v3/regions/{id}: refused while it has child regions or endpoints"
        )
    );
    let r = api::route!(
        r,
        "/v3/services",
        get(list_services, "GET /v3/services"),
        post(create_service, "POST /v3/services")
    );
    let r = api::route!(
        r,
        "/v3/services/{service_id}",
        get(show_service, "GET /v3/services/{id}"),
        patch(update_service, "PATCH /v3/services/{id}"),
        delete(
            delete_service,
            "DELETE /v3/services/{id}: its endpoints go with it"
        )
    );
    let r = api::route!(
        r,
        "/v3/endpoints",
        get(list_endpoints, "GET /v3/endpoints"),
        post(create_endpoint, "POST /v3/endpoints")
    );
    let r = api::route!(
        r,
        "/v3/endpoints/{endpoint_id}",
        get(show_endpoint, "GET /v3/endpoints/{id}"),
        patch(update_endpoint, "PATCH /v3/endpoints/{id}"),
        delete(delete_endpoint, "DELETE /v3/endpoints/{id}")
    );
    r
}
