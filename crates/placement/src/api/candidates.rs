//! `GET /allocation_candidates` (1.10+).

use std::collections::BTreeSet;
use std::sync::Arc;

use api::microversion::Version;
use api::openapi::Routes;
use api::query::Params;
use auth::Context;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::St;
use super::util::{AcceptJson, json_response};
use crate::candidates::{Outcome, Snapshot, search};
use crate::error::{Error, Result};
use crate::{PlacementService, params, schemas, service, store};

pub fn routes() -> Routes<Arc<PlacementService>> {
    api::route!(
        Routes::new(),
        "/allocation_candidates",
        get(list, "List allocation candidates")
    )
}

/// Everything the search reads, in one consistent read.
pub async fn snapshot(svc: &PlacementService) -> Result<Snapshot> {
    let mut conn = store::conn(&svc.db).await?;
    let c = &mut *conn;
    let providers = store::list_providers(&svc.db, c, None, None, None).await?;
    let traits = store::all_provider_traits(&svc.db, c).await?;
    let aggs = store::all_provider_aggregates(&svc.db, c).await?;
    let invs = store::all_inventories(&svc.db, c).await?;
    let used = store::usage(&svc.db, c, None).await?;
    drop(conn);
    Ok(Snapshot::build(
        providers
            .into_iter()
            .map(|p| (p.uuid, p.parent_uuid, p.root_uuid))
            .collect(),
        traits,
        aggs,
        invs,
        used,
    ))
}

async fn list(
    State(svc): St,
    ctx: Context,
    v: Version,
    headers: HeaderMap,
    q: Params,
) -> Result<Response> {
    if !v.at_least(1, 10) {
        return Err(Error::no_route());
    }
    AcceptJson::check(&headers)?;
    svc.enforce(&ctx, "placement:allocation_candidates:list")?;
    params::check(&q, &schemas::candidates_query(v))?;
    let (groups, mut wide) = params::candidate_request(&q, v)?;
    if svc.cfg.max_allocation_candidates >= 0 {
        wide.max_candidates = usize::try_from(svc.cfg.max_allocation_candidates).ok();
    }
    // Classes and traits must exist.
    let mut c = store::conn(&svc.db).await?;
    for g in &groups {
        for rc in g.resources.keys() {
            if !service::class_exists(&svc, &mut c, rc).await? {
                return Err(Error::bad(format!(
                    "Invalid resource class in resources parameter: No such resource class {rc}."
                )));
            }
        }
    }
    let mut traits: BTreeSet<String> = BTreeSet::new();
    for g in &groups {
        traits.extend(g.required.iter().flatten().cloned());
        traits.extend(g.forbidden.iter().cloned());
    }
    traits.extend(wide.root_required.iter().cloned());
    traits.extend(wide.root_forbidden.iter().cloned());
    let missing = service::missing_traits(&svc, &mut c, &traits).await?;
    if !missing.is_empty() {
        return Err(Error::bad(format!(
            "No such trait(s): {}.",
            missing.join(", ")
        )));
    }
    drop(c);
    let snap = snapshot(&svc).await?;
    let outcome = search(&snap, &groups, &wide);
    let requested: BTreeSet<&String> = groups.iter().flat_map(|g| g.resources.keys()).collect();
    let body = render(&snap, &outcome, &requested, v);
    Ok(json_response(StatusCode::OK, &body, v, None))
}

fn render(snap: &Snapshot, out: &Outcome, requested: &BTreeSet<&String>, v: Version) -> Value {
    let uuid = |i: usize| {
        snap.nodes
            .get(i)
            .map(|n| n.uuid.clone())
            .unwrap_or_default()
    };
    let requests: Vec<Value> = out
        .candidates
        .iter()
        .map(|c| {
            let mut by_rp: Map<String, Value> = Map::new();
            for ((rp, rc), amount) in &c.resources {
                let e = by_rp
                    .entry(uuid(*rp))
                    .or_insert_with(|| json!({"resources": {}}));
                e["resources"][rc] = json!(amount);
            }
            if v.at_least(1, 12) {
                let mut o = json!({ "allocations": by_rp });
                if v.at_least(1, 34) {
                    let m: Map<String, Value> = c
                        .mappings
                        .iter()
                        .map(|(s, rps)| {
                            (
                                s.clone(),
                                Value::Array(rps.iter().map(|r| json!(uuid(*r))).collect()),
                            )
                        })
                        .collect();
                    o["mappings"] = Value::Object(m);
                }
                o
            } else {
                let list: Vec<Value> = by_rp
                    .into_iter()
                    .map(|(rp, r)| {
                        json!({"resource_provider": {"uuid": rp}, "resources": r["resources"]})
                    })
                    .collect();
                json!({ "allocations": list })
            }
        })
        .collect();
    let mut summaries = Map::new();
    for &i in &out.summaries {
        let Some(n) = snap.nodes.get(i) else { continue };
        let mut resources = Map::new();
        let mut classes: Vec<(&(usize, String), _)> = snap
            .inventories
            .iter()
            .filter(|((rp, _), _)| *rp == i)
            .collect();
        classes.sort_by(|a, b| a.0.1.cmp(&b.0.1));
        for ((_, rc), inv) in classes {
            if !v.at_least(1, 27) && !requested.contains(rc) {
                continue;
            }
            resources.insert(
                rc.clone(),
                json!({"capacity": inv.capacity(), "used": snap.used(i, rc)}),
            );
        }
        let mut s = json!({ "resources": resources });
        if v.at_least(1, 17) {
            let mut t: Vec<&String> = snap
                .traits
                .get(&i)
                .map(|t| t.iter().collect())
                .unwrap_or_default();
            crate::standard::sort_traits(&mut t);
            s["traits"] = json!(t);
        }
        if v.at_least(1, 29) {
            s["parent_provider_uuid"] = json!(n.parent.map(uuid));
            s["root_provider_uuid"] = json!(uuid(n.root));
        }
        summaries.insert(n.uuid.clone(), s);
    }
    json!({"allocation_requests": requests, "provider_summaries": summaries})
}
