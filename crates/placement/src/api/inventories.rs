//! `/resource_providers/{uuid}/inventories[/{resource_class}]`.

use std::sync::Arc;

use api::BaseUrl;
use api::microversion::Version;
use api::openapi::Routes;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::St;
use super::util::{AcceptJson, RawBody, empty, json_response, latest, set_location};
use crate::error::{Error, Result, codes};
use crate::model::{Inventory, MAX_INT};
use crate::service::{self, Refused};
use crate::{PlacementService, schemas, store};

pub fn routes() -> Routes<Arc<PlacementService>> {
    let r = api::route!(
        Routes::new(),
        "/resource_providers/{uuid}/inventories",
        get(list, "List a resource provider's inventories"),
        post(create, "Create one inventory"),
        put(replace, "Replace a resource provider's inventories"),
        delete(clear, "Delete all of a resource provider's inventories")
    );
    api::route!(
        r,
        "/resource_providers/{uuid}/inventories/{resource_class}",
        get(show, "Show one inventory"),
        put(update, "Update one inventory"),
        delete(remove, "Delete one inventory")
    )
}

/// An inventory from a validated JSON record, with placement's defaults.
pub fn from_json(rc: &str, d: &Value) -> Inventory {
    let int = |k: &str, dflt: i64| d.get(k).and_then(Value::as_i64).unwrap_or(dflt);
    Inventory {
        resource_class: rc.to_string(),
        total: int("total", 0),
        reserved: int("reserved", 0),
        min_unit: int("min_unit", 1),
        max_unit: int("max_unit", MAX_INT),
        step_size: int("step_size", 1),
        allocation_ratio: d
            .get("allocation_ratio")
            .and_then(Value::as_f64)
            .unwrap_or(1.0),
        updated_at: 0,
    }
}

/// Reserved may not eat the whole inventory (from 1.26 it may equal total).
pub fn check_capacity(v: Version, rp: &str, inv: &Inventory) -> std::result::Result<(), String> {
    let cap = inv.capacity();
    if v.at_least(1, 26) {
        if cap < 0 {
            return Err(format!(
                "Invalid inventory for '{}' on resource provider '{rp}'. The reserved value is \
                 greater than total.",
                inv.resource_class
            ));
        }
    } else if cap <= 0 {
        return Err(format!(
            "Invalid inventory for '{}' on resource provider '{rp}'. The reserved value is \
             greater than or equal to total.",
            inv.resource_class
        ));
    }
    Ok(())
}

fn render_one(inv: &Inventory, generation: i64) -> Value {
    let mut o = inv.to_json();
    o["resource_provider_generation"] = json!(generation);
    o
}

fn render_all(invs: &[Inventory], generation: i64) -> Value {
    let mut m = Map::new();
    for i in invs {
        m.insert(i.resource_class.clone(), i.to_json());
    }
    json!({"inventories": m, "resource_provider_generation": generation})
}

fn rp_not_found(uuid: &str) -> Error {
    Error::not_found(format!(
        "No resource provider with uuid {uuid} found : No resource provider with uuid {uuid} \
         found"
    ))
}

fn in_use_message(classes: &[String], uuid: &str) -> String {
    format!(
        "Inventory for '{}' on resource provider '{uuid}' in use.",
        classes.join(", ")
    )
}

async fn list(
    State(svc): St,
    ctx: Context,
    v: Version,
    _: AcceptJson,
    Path(uuid): Path<String>,
) -> Result<Response> {
    svc.enforce(&ctx, "placement:resource_providers:inventories:list")?;
    let mut c = store::conn(&svc.db).await?;
    let p = store::get_provider(&svc.db, &mut c, &uuid)
        .await?
        .ok_or_else(|| rp_not_found(&uuid))?;
    let invs: Vec<Inventory> = store::inventories(&svc.db, &mut c, &uuid)
        .await?
        .into_values()
        .collect();
    let lm = latest(invs.iter().map(|i| i.updated_at));
    Ok(json_response(
        StatusCode::OK,
        &render_all(&invs, p.generation),
        v,
        lm,
    ))
}

async fn show(
    State(svc): St,
    ctx: Context,
    v: Version,
    _: AcceptJson,
    Path((uuid, rc)): Path<(String, String)>,
) -> Result<Response> {
    svc.enforce(&ctx, "placement:resource_providers:inventories:show")?;
    let mut c = store::conn(&svc.db).await?;
    let p = store::get_provider(&svc.db, &mut c, &uuid)
        .await?
        .ok_or_else(|| rp_not_found(&uuid))?;
    let invs = store::inventories(&svc.db, &mut c, &uuid).await?;
    let inv = invs
        .get(&rc)
        .ok_or_else(|| Error::not_found(format!("No inventory of class {rc} for {uuid}")))?;
    Ok(json_response(
        StatusCode::OK,
        &render_one(inv, p.generation),
        v,
        Some(inv.updated_at),
    ))
}

async fn create(
    State(svc): St,
    ctx: Context,
    v: Version,
    base: BaseUrl,
    Path(uuid): Path<String>,
    body: RawBody,
) -> Result<Response> {
    body.require_json()?;
    svc.enforce(&ctx, "placement:resource_providers:inventories:create")?;
    super::providers::find(&svc, &uuid).await?;
    let data = body.json(&schemas::inventory_post())?;
    let rc = data["resource_class"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let inv = from_json(&rc, &data);
    check_capacity(v, &uuid, &inv).map_err(|m| {
        Error::bad(format!(
            "Unable to create inventory for resource provider {uuid}: {m}"
        ))
    })?;
    let (generation, inv) =
        service::add_inventory(&svc, &uuid, &inv)
            .await
            .map_err(|r| match r {
                Refused::Concurrent => Error::conflict_code(
                    "Update conflict: Another thread concurrently updated the data. Please retry \
                 your update",
                    codes::CONCURRENT_UPDATE,
                ),
                Refused::UnknownClass(c) => Error::bad(format!(
                    "Unable to create inventory for resource provider {uuid}: No such resource \
                 class {c}."
                )),
                other => other.into(),
            })?;
    let mut resp = json_response(
        StatusCode::CREATED,
        &render_one(&inv, generation),
        v,
        Some(inv.updated_at),
    );
    set_location(
        &mut resp,
        &format!("{}/resource_providers/{uuid}/inventories/{rc}", base.0),
    );
    Ok(resp)
}

async fn replace(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(uuid): Path<String>,
    body: RawBody,
) -> Result<Response> {
    body.require_json()?;
    svc.enforce(&ctx, "placement:resource_providers:inventories:update")?;
    let p = super::providers::find(&svc, &uuid).await?;
    let data = body.json(&schemas::inventories_put())?;
    let given = data["resource_provider_generation"].as_i64().unwrap_or(-1);
    if given != p.generation {
        return Err(Error::conflict_code(
            "resource provider generation conflict",
            codes::CONCURRENT_UPDATE,
        ));
    }
    let mut invs = Vec::new();
    if let Some(m) = data["inventories"].as_object() {
        for (rc, d) in m {
            invs.push(from_json(rc, d));
        }
    }
    for inv in &invs {
        check_capacity(v, &uuid, inv).map_err(|m| {
            Error::bad(format!(
                "Unable to update inventory for resource provider {uuid}: {m}"
            ))
        })?;
    }
    let (generation, invs) = service::replace_inventories(&svc, &uuid, Some(given), &invs)
        .await
        .map_err(|r| match r {
            Refused::Generation { .. } => Error::conflict_code(
                "resource provider generation conflict",
                codes::CONCURRENT_UPDATE,
            ),
            Refused::UnknownClass(c) => Error::bad(format!(
                "Unknown resource class in inventory for resource provider {uuid}: No such \
                 resource class {c}."
            )),
            Refused::InUse(classes) => Error::conflict_code(
                format!("update conflict: {}", in_use_message(&classes, &uuid)),
                codes::INVENTORY_INUSE,
            ),
            Refused::Concurrent => Error::conflict_code(
                "update conflict: Another thread concurrently updated the data. Please retry \
                 your update",
                codes::CONCURRENT_UPDATE,
            ),
            other => other.into(),
        })?;
    let lm = latest(invs.iter().map(|i| i.updated_at));
    Ok(json_response(
        StatusCode::OK,
        &render_all(&invs, generation),
        v,
        lm,
    ))
}

async fn clear(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(uuid): Path<String>,
) -> Result<Response> {
    if !v.at_least(1, 5) {
        return Err(Error::MethodNotAllowed(
            "The method specified is not allowed for this resource.".into(),
        ));
    }
    svc.enforce(&ctx, "placement:resource_providers:inventories:delete")?;
    super::providers::find(&svc, &uuid).await?;
    service::replace_inventories(&svc, &uuid, None, &[])
        .await
        .map_err(|r| match r {
            Refused::Concurrent => Error::conflict_code(
                format!(
                    "Unable to delete inventory for resource provider {uuid} because the \
                     inventory was updated by another process. Please retry your request."
                ),
                codes::CONCURRENT_UPDATE,
            ),
            Refused::InUse(classes) => {
                Error::conflict_code(in_use_message(&classes, &uuid), codes::INVENTORY_INUSE)
            }
            other => other.into(),
        })?;
    Ok(empty(StatusCode::NO_CONTENT, None))
}

async fn update(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path((uuid, rc)): Path<(String, String)>,
    body: RawBody,
) -> Result<Response> {
    body.require_json()?;
    svc.enforce(&ctx, "placement:resource_providers:inventories:update")?;
    let p = super::providers::find(&svc, &uuid).await?;
    let data = body.json(&schemas::inventory_base())?;
    let given = data["resource_provider_generation"].as_i64().unwrap_or(-1);
    if given != p.generation {
        return Err(Error::conflict_code(
            "resource provider generation conflict",
            codes::CONCURRENT_UPDATE,
        ));
    }
    let inv = from_json(&rc, &data);
    check_capacity(v, &uuid, &inv).map_err(|m| {
        Error::bad(format!(
            "Unable to update inventory for resource provider {uuid}: {m}"
        ))
    })?;
    let (generation, inv) = service::update_inventory(&svc, &uuid, given, &inv)
        .await
        .map_err(|r| match r {
            Refused::Generation { .. } => Error::conflict_code(
                "resource provider generation conflict",
                codes::CONCURRENT_UPDATE,
            ),
            Refused::NoInventory(c) => Error::bad(format!(
                "No inventory record with resource class for resource provider {uuid}: No \
                 inventory of class {c} found."
            )),
            Refused::UnknownClass(c) => Error::not_found(format!("No such resource class {c}.")),
            Refused::Concurrent => Error::conflict_code(
                "update conflict: Another thread concurrently updated the data. Please retry \
                 your update",
                codes::CONCURRENT_UPDATE,
            ),
            other => other.into(),
        })?;
    Ok(json_response(
        StatusCode::OK,
        &render_one(&inv, generation),
        v,
        Some(inv.updated_at),
    ))
}

async fn remove(
    State(svc): St,
    ctx: Context,
    Path((uuid, rc)): Path<(String, String)>,
) -> Result<Response> {
    svc.enforce(&ctx, "placement:resource_providers:inventories:delete")?;
    super::providers::find(&svc, &uuid).await?;
    service::delete_inventory(&svc, &uuid, &rc)
        .await
        .map_err(|r| match r {
            Refused::InUse(classes) => Error::conflict_code(
                format!(
                    "Unable to delete inventory of class {rc}: {}",
                    in_use_message(&classes, &uuid)
                ),
                codes::INVENTORY_INUSE,
            ),
            Refused::Concurrent => Error::conflict_code(
                format!(
                    "Unable to delete inventory of class {rc}: Another thread concurrently \
                     updated the data. Please retry your update"
                ),
                codes::CONCURRENT_UPDATE,
            ),
            Refused::NoInventory(_) | Refused::UnknownClass(_) => {
                Error::not_found(format!("No inventory of class {rc} found for delete"))
            }
            other => other.into(),
        })?;
    Ok(empty(StatusCode::NO_CONTENT, None))
}
