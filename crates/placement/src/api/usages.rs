//! `/resource_providers/{uuid}/usages` and `GET /usages` (1.9+; by consumer type 1.38+).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use api::microversion::Version;
use api::openapi::Routes;
use api::query::Params;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::St;
use super::util::{AcceptJson, json_response};
use crate::error::{Error, Result};
use crate::{PlacementService, params, schemas, store};

pub fn routes() -> Routes<Arc<PlacementService>> {
    let r = api::route!(
        Routes::new(),
        "/resource_providers/{uuid}/usages",
        get(for_provider, "Show a resource provider's usages")
    );
    api::route!(
        r,
        "/usages",
        get(totals, "Show a project's (and user's) usages")
    )
}

async fn for_provider(
    State(svc): St,
    ctx: Context,
    v: Version,
    _: AcceptJson,
    Path(uuid): Path<String>,
) -> Result<Response> {
    svc.enforce(&ctx, "placement:resource_providers:usages")?;
    let mut c = store::conn(&svc.db).await?;
    let Some(p) = store::get_provider(&svc.db, &mut c, &uuid).await? else {
        return Err(Error::not_found(format!(
            "No resource provider with uuid {uuid} found: No resource provider with uuid \
             {uuid} found"
        )));
    };
    let invs = store::inventories(&svc.db, &mut c, &uuid).await?;
    let used = store::usage(&svc.db, &mut c, Some(std::slice::from_ref(&uuid))).await?;
    let mut usages = Map::new();
    for rc in invs.keys() {
        let u = used.get(&(uuid.clone(), rc.clone())).copied().unwrap_or(0);
        usages.insert(rc.clone(), json!(u));
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"resource_provider_generation": p.generation, "usages": usages}),
        v,
        None,
    ))
}

async fn totals(
    State(svc): St,
    ctx: Context,
    v: Version,
    headers: HeaderMap,
    q: Params,
) -> Result<Response> {
    if !v.at_least(1, 9) {
        return Err(Error::no_route());
    }
    AcceptJson::check(&headers)?;
    let project = q.get("project_id").map(str::to_string);
    svc.enforce_on(&ctx, "placement:usages", &json!({ "project_id": project }))?;
    params::check(&q, &schemas::usages_query(v))?;
    let project = project.unwrap_or_default();
    let user = q.get("user_id");
    let mut c = store::conn(&svc.db).await?;
    let rows = store::project_usage(&svc.db, &mut c, &project, user).await?;
    let body = if v.at_least(1, 38) {
        let wanted = q.get("consumer_type");
        // group -> (class -> used, consumers)
        let mut groups: BTreeMap<String, (BTreeMap<String, i64>, BTreeSet<String>)> =
            BTreeMap::new();
        for r in &rows {
            let actual = r.consumer_type.as_deref();
            let group = match wanted {
                None => actual.unwrap_or("unknown").to_string(),
                Some("all") => "all".to_string(),
                Some("unknown") if actual.is_none() => "unknown".to_string(),
                Some("unknown") => continue,
                Some(t) if actual == Some(t) => t.to_string(),
                Some(_) => continue,
            };
            let g = groups.entry(group).or_default();
            let e = g.0.entry(r.resource_class.clone()).or_insert(0);
            *e = e.saturating_add(r.used);
            g.1.insert(r.consumer_uuid.clone());
        }
        let mut out = Map::new();
        for (name, (classes, consumers)) in groups {
            let mut m: Map<String, Value> =
                classes.into_iter().map(|(k, v)| (k, json!(v))).collect();
            m.insert("consumer_count".into(), json!(consumers.len()));
            out.insert(name, Value::Object(m));
        }
        json!({ "usages": out })
    } else {
        let mut classes: BTreeMap<String, i64> = BTreeMap::new();
        for r in &rows {
            let e = classes.entry(r.resource_class.clone()).or_insert(0);
            *e = e.saturating_add(r.used);
        }
        json!({ "usages": classes })
    };
    Ok(json_response(StatusCode::OK, &body, v, None))
}
