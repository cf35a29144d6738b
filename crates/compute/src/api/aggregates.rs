//! `os-aggregates`: host aggregates, their metadata and availability zones. Membership
//! is mirrored to placement aggregates (as nova does) and a host's zone follows the
//! `availability_zone` metadata of its aggregates.

use std::collections::BTreeMap;
use std::sync::Arc;

use api::microversion::Version;
use api::openapi::Routes;
use auth::Context;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::St;
use crate::model::{Aggregate, iso_micro};
use crate::scheduler::COMPUTE_BINARY;
use crate::store::{aggregates as store, misc};
use crate::{ComputeService, Error, Result};

const ZONE: &str = "availability_zone";

fn bad(m: impl Into<String>) -> Error {
    Error::BadRequest(m.into())
}

fn view(a: &Aggregate, v: Version, full: bool) -> Value {
    let mut o = json!({
        "id": a.id,
        "name": a.name,
        "availability_zone": a.zone(),
        "created_at": iso_micro(a.created_at),
        "updated_at": a.updated_at.map(iso_micro),
        "deleted_at": null,
        "deleted": false,
    });
    if full {
        o["hosts"] = json!(a.hosts);
        o["metadata"] = json!(a.metadata);
    }
    if v.at_least(2, 41) {
        o["uuid"] = json!(a.uuid);
    }
    o
}

fn reply(a: &Aggregate, v: Version) -> Response {
    axum::Json(json!({"aggregate": view(a, v, true)})).into_response()
}

async fn find(svc: &ComputeService, id: &str) -> Result<Aggregate> {
    let missing = || Error::NotFound(format!("Aggregate {id} could not be found."));
    let n: i64 = id.parse().map_err(|_| missing())?;
    store::get(&svc.db, n).await?.ok_or_else(missing)
}

/// A name or zone: a non-empty string of at most 255 characters.
fn string_field(o: &Map<String, Value>, key: &str, required: bool) -> Result<Option<String>> {
    match o.get(key) {
        None if required => Err(bad(format!(
            "Invalid input for field/attribute aggregate. '{key}' is a required property"
        ))),
        None | Some(Value::Null) if key == ZONE => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 255 => {
            Ok(Some(s.clone()))
        }
        Some(other) => Err(bad(format!(
            "Invalid input for field/attribute {key}. Value: {other}. {other} is not a valid value"
        ))),
        None => Ok(None),
    }
}

fn check_zone(zone: &str) -> Result<()> {
    if zone.contains(':') {
        return Err(bad(
            "Invalid input for field/attribute availability_zone. Availability zone names cannot contain ':'",
        ));
    }
    Ok(())
}

async fn check_name(svc: &ComputeService, name: &str, except: i64) -> Result<()> {
    if store::name_taken(&svc.db, name, except).await? {
        return Err(Error::Conflict(format!("Aggregate {name} already exists.")));
    }
    Ok(())
}

/// A host may not end up in two zones through two aggregates.
async fn check_zone_conflict(
    svc: &ComputeService,
    a: &Aggregate,
    host: &str,
    zone: Option<&str>,
) -> Result<()> {
    let Some(zone) = zone else {
        return Ok(());
    };
    for other in store::list(&svc.db).await? {
        if other.id == a.id || !other.hosts.iter().any(|h| h == host) {
            continue;
        }
        if let Some(z) = other.zone()
            && z != zone
        {
            return Err(Error::BadRequest(format!(
                "Cannot add host to aggregate {}. Reason: One or more hosts already in availability zone(s) ['{z}'].",
                a.id
            )));
        }
    }
    Ok(())
}

/// Mirror membership to placement and refresh the zones of `hosts`.
async fn sync_hosts(svc: &ComputeService, a: &Aggregate, hosts: &[String], member: bool) {
    let nodes = misc::nodes(&svc.db).await.unwrap_or_default();
    for host in hosts {
        for n in nodes.iter().filter(|n| &n.host == host) {
            if let Err(e) = svc
                .placement
                .set_aggregate_member(&n.uuid, &a.uuid, member)
                .await
            {
                tracing::warn!(host = %host, aggregate = %a.uuid, error = %e, "cannot mirror aggregate to placement");
            }
        }
        if let Err(e) = store::sync_zone(&svc.db, host, &svc.cfg.default_availability_zone).await {
            tracing::warn!(host = %host, error = %e, "cannot update the host's zone");
        }
    }
}

pub async fn list(State(svc): St, ctx: Context, v: Version) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-aggregates:index", &json!({}))?;
    let list: Vec<Value> = store::list(&svc.db)
        .await?
        .iter()
        .map(|a| view(a, v, true))
        .collect();
    Ok(axum::Json(json!({"aggregates": list})).into_response())
}

pub async fn show(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-aggregates:show", &json!({}))?;
    Ok(reply(&find(&svc, &id).await?, v))
}

fn aggregate_body(body: &Value) -> Result<&Map<String, Value>> {
    body.get("aggregate")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute aggregate. 'aggregate' is a required property")
        })
}

fn only_keys(o: &Map<String, Value>, keys: &[&str]) -> Result<()> {
    match o.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(bad(format!(
            "Invalid input for field/attribute aggregate. Additional properties are not allowed ('{k}' was unexpected)"
        ))),
        None => Ok(()),
    }
}

pub async fn create(
    State(svc): St,
    ctx: Context,
    v: Version,
    body: api::Json<Value>,
) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-aggregates:create", &json!({}))?;
    let o = aggregate_body(&body.0)?;
    only_keys(o, &["name", ZONE])?;
    let name = string_field(o, "name", true)?.unwrap_or_default();
    let zone = string_field(o, ZONE, false)?;
    if let Some(z) = &zone {
        check_zone(z)?;
    }
    check_name(&svc, &name, 0).await?;
    let mut a = Aggregate {
        id: 0,
        uuid: uuid::Uuid::new_v4().to_string(),
        name,
        hosts: Vec::new(),
        metadata: zone.map(|z| (ZONE.to_string(), z)).into_iter().collect(),
        created_at: svc.now(),
        updated_at: None,
    };
    store::insert(&svc.db, &mut a).await?;
    Ok(axum::Json(json!({"aggregate": view(&a, v, false)})).into_response())
}

pub async fn update(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
    body: api::Json<Value>,
) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-aggregates:update", &json!({}))?;
    let o = aggregate_body(&body.0)?;
    only_keys(o, &["name", ZONE])?;
    if o.is_empty() {
        return Err(bad(
            "Invalid input for field/attribute aggregate. Value: {}. {} does not have enough properties",
        ));
    }
    let mut a = find(&svc, &id).await?;
    if let Some(name) = string_field(o, "name", false)? {
        check_name(&svc, &name, a.id).await?;
        a.name = name;
    }
    if o.contains_key(ZONE) {
        match string_field(o, ZONE, false)? {
            Some(z) => {
                check_zone(&z)?;
                for h in a.hosts.clone() {
                    check_zone_conflict(&svc, &a, &h, Some(&z)).await?;
                }
                a.metadata.insert(ZONE.into(), z);
            }
            None => {
                a.metadata.remove(ZONE);
            }
        }
    }
    let now = svc.now();
    store::save(&svc.db, &a, now).await?;
    a.updated_at = Some(now);
    let hosts = a.hosts.clone();
    sync_hosts(&svc, &a, &hosts, true).await;
    Ok(reply(&a, v))
}

pub async fn delete(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-aggregates:delete", &json!({}))?;
    let a = find(&svc, &id).await?;
    if !a.hosts.is_empty() {
        return Err(bad(format!(
            "Cannot remove aggregate {}. Reason: Host aggregate is not empty.",
            a.id
        )));
    }
    store::delete(&svc.db, a.id).await?;
    Ok(axum::http::StatusCode::OK.into_response())
}

fn action_host(o: &Value) -> Result<String> {
    o.get("host")
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty() && h.len() <= 255)
        .map(str::to_string)
        .ok_or_else(|| bad("Invalid input for field/attribute host. 'host' is a required property"))
}

/// `POST /os-aggregates/{id}/action`: add_host, remove_host, set_metadata.
pub async fn action(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
    body: api::Json<Value>,
) -> Result<Response> {
    let body = body.0;
    let (name, arg) = match body.as_object() {
        Some(m) if m.len() == 1 => m.iter().next().map(|(k, v)| (k.clone(), v.clone())),
        _ => None,
    }
    .ok_or_else(|| bad("Invalid input for field/attribute action."))?;
    let rule = match name.as_str() {
        "add_host" | "remove_host" | "set_metadata" => {
            format!("os_compute_api:os-aggregates:{name}")
        }
        other => return Err(bad(format!("Invalid action {other}"))),
    };
    svc.enforce(&ctx, &rule, &json!({}))?;
    let mut a = find(&svc, &id).await?;
    let now = svc.now();
    match name.as_str() {
        "add_host" => {
            let host = action_host(&arg)?;
            if misc::service(&svc.db, &host, COMPUTE_BINARY)
                .await?
                .is_none()
            {
                return Err(Error::NotFound(format!(
                    "Compute host {host} could not be found."
                )));
            }
            if a.hosts.contains(&host) {
                return Err(Error::Conflict(format!(
                    "Aggregate {} already has host {host}.",
                    a.id
                )));
            }
            check_zone_conflict(&svc, &a, &host, a.zone()).await?;
            a.hosts.push(host.clone());
            a.hosts.sort();
            store::save(&svc.db, &a, now).await?;
            sync_hosts(&svc, &a, &[host], true).await;
        }
        "remove_host" => {
            let host = action_host(&arg)?;
            if !a.hosts.contains(&host) {
                return Err(Error::NotFound(format!(
                    "Cannot remove host {host} in aggregate {}: not found",
                    a.id
                )));
            }
            a.hosts.retain(|h| h != &host);
            store::save(&svc.db, &a, now).await?;
            sync_hosts(&svc, &a, &[host], false).await;
        }
        _ => {
            let meta = arg
                .get("metadata")
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    bad("Invalid input for field/attribute set_metadata. 'metadata' is a required property")
                })?;
            let mut next: BTreeMap<String, String> = a.metadata.clone();
            for (k, val) in meta {
                if k.is_empty() || k.len() > 255 {
                    return Err(bad(format!(
                        "Invalid input for field/attribute metadata. Key '{k}' is not valid."
                    )));
                }
                match val {
                    Value::Null => {
                        next.remove(k);
                    }
                    Value::String(s) if s.len() <= 255 => {
                        next.insert(k.clone(), s.clone());
                    }
                    Value::Number(n) => {
                        next.insert(k.clone(), n.to_string());
                    }
                    Value::Bool(b) => {
                        next.insert(k.clone(), b.to_string());
                    }
                    other => {
                        return Err(bad(format!(
                            "Invalid input for field/attribute metadata. Value: {other} is not valid."
                        )));
                    }
                }
            }
            if let Some(z) = next.get(ZONE) {
                check_zone(z)?;
                for h in &a.hosts {
                    check_zone_conflict(&svc, &a, h, Some(z)).await?;
                }
            }
            a.metadata = next;
            store::save(&svc.db, &a, now).await?;
            let hosts = a.hosts.clone();
            sync_hosts(&svc, &a, &hosts, true).await;
        }
    }
    a.updated_at = Some(now);
    Ok(reply(&a, v))
}

pub fn routes() -> Routes<Arc<ComputeService>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v2.1/os-aggregates",
        get(list, "List aggregates"),
        post(create, "Create an aggregate")
    );
    let r = api::route!(
        r,
        "/v2.1/os-aggregates/{id}",
        get(show, "Show an aggregate"),
        put(update, "Update an aggregate"),
        delete(delete, "Delete an aggregate")
    );
    api::route!(
        r,
        "/v2.1/os-aggregates/{id}/action",
        post(action, "Add or remove a host, or set metadata")
    )
}
