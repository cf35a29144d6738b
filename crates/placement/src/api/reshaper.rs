//! `POST /reshaper` (1.30+): move inventories and allocations in one transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use api::microversion::Version;
use api::openapi::Routes;
use auth::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::St;
use super::util::{RawBody, empty};
use super::{allocations, inventories};
use crate::error::{Error, Result, codes};
use crate::model::Inventory;
use crate::service::{self, Refused};
use crate::{PlacementService, schemas, store};

pub fn routes() -> Routes<Arc<PlacementService>> {
    api::route!(
        Routes::new(),
        "/reshaper",
        post(reshape, "Reshape inventories and allocations")
    )
}

async fn reshape(State(svc): St, ctx: Context, v: Version, body: RawBody) -> Result<Response> {
    if !v.at_least(1, 30) {
        return Err(Error::no_route());
    }
    body.require_json()?;
    svc.enforce(&ctx, "placement:reshaper:reshape")?;
    let data = body.json(&schemas::reshaper(v))?;
    let mut invs: BTreeMap<String, (i64, Vec<Inventory>)> = BTreeMap::new();
    let mut c = store::conn(&svc.db).await?;
    if let Some(m) = data["inventories"].as_object() {
        for (rp, d) in m {
            let Some(p) = store::get_provider(&svc.db, &mut c, rp).await? else {
                return Err(Error::bad_code(
                    format!(
                        "Resource provider {rp} in inventories not found: No resource provider \
                         with uuid {rp} found"
                    ),
                    codes::RESOURCE_PROVIDER_NOT_FOUND,
                ));
            };
            let given = d["resource_provider_generation"].as_i64().unwrap_or(-1);
            if given != p.generation {
                return Err(Error::conflict_code(
                    format!(
                        "resource provider generation conflict for provider {rp}: actual: {}, \
                         given: {given}",
                        p.generation
                    ),
                    codes::CONCURRENT_UPDATE,
                ));
            }
            let list: Vec<Inventory> = d["inventories"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(rc, r)| inventories::from_json(rc, r))
                        .collect()
                })
                .unwrap_or_default();
            invs.insert(rp.clone(), (given, list));
        }
    }
    drop(c);
    let writes: Vec<service::ConsumerWrite> = data["allocations"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(consumer, d)| {
                    allocations::consumer_write(&svc, consumer, d, v.max(Version::new(1, 28)))
                })
                .collect()
        })
        .unwrap_or_default();
    service::reshape(&svc, &invs, &writes)
        .await
        .map_err(|r| match r {
            Refused::Concurrent | Refused::Generation { .. } => Error::conflict_code(
                "update conflict: Another thread concurrently updated the data. Please retry \
                 your update",
                codes::CONCURRENT_UPDATE,
            ),
            Refused::UnknownClass(c) => Error::bad(format!(
                "malformed reshaper data: No such resource class {c}."
            )),
            Refused::InUse(classes) => Error::conflict_code(
                format!(
                    "update conflict: Inventory for '{}' in use.",
                    classes.join(", ")
                ),
                codes::INVENTORY_INUSE,
            ),
            other => other.into(),
        })?;
    Ok(empty(StatusCode::NO_CONTENT, None))
}
