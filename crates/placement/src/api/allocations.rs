//! `/allocations/{consumer_uuid}`, `POST /allocations` (1.13+) and
//! `/resource_providers/{uuid}/allocations`.

use std::collections::BTreeMap;
use std::sync::Arc;

use api::microversion::Version;
use api::openapi::Routes;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::St;
use super::util::{AcceptJson, RawBody, empty, json_response, latest, normalize_uuid};
use crate::error::{Error, Result, codes};
use crate::service::{self, ConsumerWrite, Refused};
use crate::{PlacementService, schemas, store};

pub fn routes() -> Routes<Arc<PlacementService>> {
    let r = api::route!(
        Routes::new(),
        "/allocations",
        post(post_many, "Set allocations for several consumers")
    );
    let r = api::route!(
        r,
        "/allocations/{consumer_uuid}",
        get(show, "List a consumer's allocations"),
        put(put_one, "Replace a consumer's allocations"),
        delete(remove, "Delete a consumer's allocations")
    );
    api::route!(
        r,
        "/resource_providers/{uuid}/allocations",
        get(
            for_provider,
            "List the allocations against a resource provider"
        )
    )
}

async fn show(
    State(svc): St,
    ctx: Context,
    v: Version,
    _: AcceptJson,
    Path(consumer): Path<String>,
) -> Result<Response> {
    svc.enforce(&ctx, "placement:allocations:list")?;
    let mut c = store::conn(&svc.db).await?;
    let allocs = store::consumer_allocations(&svc.db, &mut c, &consumer).await?;
    let mut by_rp: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for a in &allocs {
        by_rp
            .entry(a.rp_uuid.clone())
            .or_default()
            .insert(a.resource_class.clone(), json!(a.used));
    }
    let mut out = Map::new();
    for (rp, resources) in by_rp {
        let generation = store::get_provider(&svc.db, &mut c, &rp)
            .await?
            .map(|p| p.generation);
        out.insert(
            rp,
            json!({"generation": generation, "resources": resources}),
        );
    }
    let mut body = json!({ "allocations": out });
    if !allocs.is_empty()
        && v.at_least(1, 12)
        && let Some(k) = store::get_consumer(&svc.db, &mut c, &consumer).await?
    {
        body["project_id"] = json!(k.project_id);
        body["user_id"] = json!(k.user_id);
        if v.at_least(1, 28) {
            body["consumer_generation"] = json!(k.generation);
        }
        if v.at_least(1, 38) {
            body["consumer_type"] = json!(k.consumer_type.as_deref().unwrap_or("unknown"));
        }
    }
    let lm = latest(allocs.iter().map(|a| a.updated_at));
    Ok(json_response(StatusCode::OK, &body, v, lm))
}

async fn for_provider(
    State(svc): St,
    ctx: Context,
    v: Version,
    _: AcceptJson,
    Path(uuid): Path<String>,
) -> Result<Response> {
    svc.enforce(&ctx, "placement:resource_providers:allocations:list")?;
    let mut c = store::conn(&svc.db).await?;
    let Some(p) = store::get_provider(&svc.db, &mut c, &uuid).await? else {
        return Err(Error::not_found(format!(
            "Resource provider '{uuid}' not found: No resource provider with uuid {uuid} found"
        )));
    };
    let allocs = store::provider_allocations(&svc.db, &mut c, &uuid).await?;
    let consumer_ids: Vec<String> = {
        let mut ids: Vec<String> = allocs.iter().map(|a| a.consumer_uuid.clone()).collect();
        ids.dedup();
        ids
    };
    let consumers = store::consumers_of(&svc.db, &mut c, &consumer_ids).await?;
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for a in &allocs {
        let e = out
            .entry(a.consumer_uuid.clone())
            .or_insert_with(|| json!({"resources": {}}));
        e["resources"][&a.resource_class] = json!(a.used);
        if v.at_least(1, 28) {
            e["consumer_generation"] = json!(consumers.get(&a.consumer_uuid).map(|k| k.generation));
        }
    }
    let lm = latest(allocs.iter().map(|a| a.updated_at));
    Ok(json_response(
        StatusCode::OK,
        &json!({"allocations": out, "resource_provider_generation": p.generation}),
        v,
        lm,
    ))
}

/// provider -> class -> amount from a validated body (list form before 1.12).
fn allocations_of(data: &Value, v: Version) -> BTreeMap<String, BTreeMap<String, i64>> {
    let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let resources = |r: &Value| -> BTreeMap<String, i64> {
        r.as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_i64().map(|n| (k.clone(), n)))
                    .collect()
            })
            .unwrap_or_default()
    };
    if v.at_least(1, 12) {
        if let Some(m) = data["allocations"].as_object() {
            for (rp, a) in m {
                out.insert(rp.clone(), resources(&a["resources"]));
            }
        }
    } else if let Some(list) = data["allocations"].as_array() {
        for a in list {
            if let Some(rp) = a["resource_provider"]["uuid"].as_str() {
                out.insert(rp.to_string(), resources(&a["resources"]));
            }
        }
    }
    out
}

/// One consumer's write from its validated body.
pub fn consumer_write(
    svc: &PlacementService,
    consumer: &str,
    data: &Value,
    v: Version,
) -> ConsumerWrite {
    let project = data.get("project_id").and_then(Value::as_str);
    let (project_id, user_id) = match project {
        Some(p) => (
            p.to_string(),
            data.get("user_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
        None => (
            svc.cfg.incomplete_consumer_project_id.clone(),
            svc.cfg.incomplete_consumer_user_id.clone(),
        ),
    };
    ConsumerWrite {
        uuid: consumer.to_string(),
        project_id,
        user_id,
        generation: data.get("consumer_generation").and_then(Value::as_i64),
        check_generation: v.at_least(1, 28),
        consumer_type: if v.at_least(1, 38) {
            data.get("consumer_type")
                .and_then(Value::as_str)
                .map(str::to_string)
        } else {
            None
        },
        allocations: allocations_of(data, v),
    }
}

/// Placement's wording of a refused allocation write.
fn refusal(r: Refused, not_found_prefix: &str) -> Error {
    match r {
        Refused::UnknownClass(c) => {
            Error::bad(format!("{not_found_prefix}No such resource class {c}."))
        }
        Refused::Concurrent => Error::conflict_code(
            "Inventory and/or allocations changed while attempting to allocate: Another thread \
             concurrently updated the data. Please retry your update",
            codes::CONCURRENT_UPDATE,
        ),
        other => other.into(),
    }
}

async fn put_one(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(consumer): Path<String>,
    body: RawBody,
) -> Result<Response> {
    body.require_json()?;
    svc.enforce(&ctx, "placement:allocations:update")?;
    let Some(consumer) = normalize_uuid(&consumer) else {
        return Err(Error::bad(format!("Malformed consumer_uuid: {consumer}")));
    };
    let data = body.json(&schemas::allocation_put(v))?;
    let w = consumer_write(&svc, &consumer, &data, v);
    service::write_allocations(&svc, std::slice::from_ref(&w))
        .await
        .map_err(|r| {
            refusal(
                r,
                &format!("Unable to allocate inventory for consumer {consumer}: "),
            )
        })?;
    Ok(empty(StatusCode::NO_CONTENT, None))
}

async fn post_many(State(svc): St, ctx: Context, v: Version, body: RawBody) -> Result<Response> {
    if !v.at_least(1, 13) {
        return Err(Error::no_route());
    }
    body.require_json()?;
    svc.enforce(&ctx, "placement:allocations:manage")?;
    let data = body.json(&schemas::allocations_post(v))?;
    let mut writes = Vec::new();
    if let Some(m) = data.as_object() {
        for (consumer, d) in m {
            writes.push(consumer_write(&svc, consumer, d, v));
        }
    }
    service::write_allocations(&svc, &writes)
        .await
        .map_err(|r| refusal(r, "Unable to allocate inventory "))?;
    Ok(empty(StatusCode::NO_CONTENT, None))
}

async fn remove(State(svc): St, ctx: Context, Path(consumer): Path<String>) -> Result<Response> {
    svc.enforce(&ctx, "placement:allocations:delete")?;
    let deleted = service::delete_allocations(&svc, &consumer)
        .await
        .map_err(Error::from)?;
    if !deleted {
        return Err(Error::not_found(format!(
            "No allocations for consumer '{consumer}'"
        )));
    }
    Ok(empty(StatusCode::NO_CONTENT, None))
}
