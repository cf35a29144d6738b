//! `/resource_providers/{uuid}/aggregates` (1.1+; generation-aware from 1.19).

use std::sync::Arc;

use api::microversion::Version;
use api::openapi::Routes;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::St;
use super::util::{AcceptJson, RawBody, json_response};
use crate::error::{Error, Result, codes};
use crate::service::{self, Refused};
use crate::{PlacementService, schemas, store};

pub fn routes() -> Routes<Arc<PlacementService>> {
    api::route!(
        Routes::new(),
        "/resource_providers/{uuid}/aggregates",
        get(list, "List a resource provider's aggregates"),
        put(set, "Replace a resource provider's aggregates")
    )
}

fn gate(v: Version) -> Result<()> {
    if v.at_least(1, 1) {
        Ok(())
    } else {
        Err(Error::no_route())
    }
}

fn render(aggs: &[String], generation: i64, v: Version) -> Value {
    let mut o = json!({ "aggregates": aggs });
    if v.at_least(1, 19) {
        o["resource_provider_generation"] = json!(generation);
    }
    o
}

async fn list(
    State(svc): St,
    ctx: Context,
    v: Version,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> Result<Response> {
    gate(v)?;
    AcceptJson::check(&headers)?;
    svc.enforce(&ctx, "placement:resource_providers:aggregates:list")?;
    let p = super::providers::find(&svc, &uuid).await?;
    let mut c = store::conn(&svc.db).await?;
    let aggs = store::provider_aggregates(&svc.db, &mut c, &uuid).await?;
    Ok(json_response(
        StatusCode::OK,
        &render(&aggs, p.generation, v),
        v,
        None,
    ))
}

async fn set(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(uuid): Path<String>,
    body: RawBody,
) -> Result<Response> {
    gate(v)?;
    body.require_json()?;
    svc.enforce(&ctx, "placement:resource_providers:aggregates:update")?;
    super::providers::find(&svc, &uuid).await?;
    let data = body.json(&schemas::aggregates_put(v))?;
    let (list, given) = if v.at_least(1, 19) {
        (
            data["aggregates"].clone(),
            Some(data["resource_provider_generation"].as_i64().unwrap_or(-1)),
        )
    } else {
        (data, None)
    };
    let aggs: Vec<String> = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let generation = service::set_aggregates(&svc, &uuid, given, &aggs)
        .await
        .map_err(|r| match r {
            Refused::Generation { .. } => Error::conflict_code(
                "Resource provider's generation already changed. Please update the generation \
                 and try again.",
                codes::CONCURRENT_UPDATE,
            ),
            Refused::Concurrent => Error::conflict_code(
                "Update conflict: Another thread concurrently updated the resource provider \
                 data. Please retry your update",
                codes::CONCURRENT_UPDATE,
            ),
            other => other.into(),
        })?;
    Ok(json_response(
        StatusCode::OK,
        &render(&aggs, generation, v),
        v,
        None,
    ))
}
