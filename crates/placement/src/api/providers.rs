//! `/resource_providers` and `/resource_providers/{uuid}`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use api::BaseUrl;
use api::microversion::Version;
use api::openapi::Routes;
use api::query::Params;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::St;
use super::util::{
    AcceptJson, RawBody, empty, json_response, latest, normalize_uuid, provider_links,
    provider_url, set_location,
};
use crate::error::{Error, Result, codes};
use crate::model::Provider;
use crate::service::{self, Refused};
use crate::{PlacementService, capacity, params, schemas, store};

pub fn routes() -> Routes<Arc<PlacementService>> {
    let r = api::route!(
        Routes::new(),
        "/resource_providers",
        get(list, "List resource providers"),
        post(create, "Create a resource provider")
    );
    api::route!(
        r,
        "/resource_providers/{uuid}",
        get(show, "Show a resource provider"),
        put(update, "Update a resource provider"),
        delete(remove, "Delete a resource provider")
    )
}

/// A provider as placement renders it at microversion `v`.
pub fn render(p: &Provider, v: Version) -> Value {
    let mut o = json!({
        "uuid": p.uuid,
        "name": p.name,
        "generation": p.generation,
        "links": provider_links(&p.uuid, v),
    });
    if v.at_least(1, 14) {
        o["parent_provider_uuid"] = json!(p.parent_uuid);
        o["root_provider_uuid"] = json!(p.root_uuid);
    }
    o
}

/// The provider or 404 with placement's wording.
pub async fn find(svc: &PlacementService, uuid: &str) -> Result<Provider> {
    let mut c = store::conn(&svc.db).await?;
    store::get_provider(&svc.db, &mut c, uuid)
        .await?
        .ok_or_else(|| Error::provider_not_found(uuid))
}

async fn create(
    State(svc): St,
    ctx: Context,
    v: Version,
    base: BaseUrl,
    body: RawBody,
) -> Result<Response> {
    body.require_json()?;
    svc.enforce(&ctx, "placement:resource_providers:create")?;
    let data = body.json(&schemas::provider_post(v))?;
    let name = data["name"].as_str().unwrap_or_default().to_string();
    let uuid = match data.get("uuid").and_then(Value::as_str) {
        Some(u) => normalize_uuid(u).ok_or_else(|| Error::bad(format!("Invalid UUID {u}")))?,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let parent = data
        .get("parent_provider_uuid")
        .and_then(Value::as_str)
        .map(|p| normalize_uuid(p).unwrap_or_else(|| p.to_string()));
    if name.is_empty() {
        return Err(Error::bad(format!(
            "Unable to create resource provider \"{name}\", {uuid}: Object action create \
             failed because: name is required"
        )));
    }
    let p = service::create_provider(&svc, &uuid, &name, parent.as_deref())
        .await
        .map_err(|r| match r {
            Refused::Tree(m) => Error::bad(format!(
                "Unable to create resource provider \"{name}\", {uuid}: Object action create \
                 failed because: {m}"
            )),
            other => other.into(),
        })?;
    let location = format!("{}{}", base.0, provider_url(&p.uuid));
    if v.at_least(1, 20) {
        let mut resp = json_response(StatusCode::OK, &render(&p, v), v, Some(p.updated_at));
        set_location(&mut resp, &location);
        Ok(resp)
    } else {
        Ok(empty(StatusCode::CREATED, Some(&location)))
    }
}

async fn show(
    State(svc): St,
    ctx: Context,
    v: Version,
    _: AcceptJson,
    Path(uuid): Path<String>,
) -> Result<Response> {
    svc.enforce(&ctx, "placement:resource_providers:show")?;
    let p = find(&svc, &uuid).await?;
    Ok(json_response(
        StatusCode::OK,
        &render(&p, v),
        v,
        Some(p.updated_at),
    ))
}

async fn update(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(uuid): Path<String>,
    body: RawBody,
) -> Result<Response> {
    body.require_json()?;
    svc.enforce(&ctx, "placement:resource_providers:update")?;
    find(&svc, &uuid).await?;
    let data = body.json(&schemas::provider_put(v))?;
    let name = data["name"].as_str().unwrap_or_default().to_string();
    let parent: Option<Option<String>> = match data.get("parent_provider_uuid") {
        None => None,
        Some(Value::String(p)) => Some(Some(normalize_uuid(p).unwrap_or_else(|| p.clone()))),
        Some(_) => Some(None),
    };
    let p = service::update_provider(
        &svc,
        &uuid,
        &name,
        parent.as_ref().map(|o| o.as_deref()),
        v.at_least(1, 37),
    )
    .await
    .map_err(|r| match r {
        Refused::Tree(m) => {
            let action = if m.starts_with("parent provider UUID does not exist") {
                "create"
            } else {
                "update"
            };
            Error::bad(format!(
                "Unable to save resource provider {uuid}: Object action {action} failed \
                 because: {m}"
            ))
        }
        Refused::Duplicate(n) => Error::conflict_code(
            format!("Conflicting resource provider {n} already exists."),
            codes::DUPLICATE_NAME,
        ),
        other => other.into(),
    })?;
    Ok(json_response(
        StatusCode::OK,
        &render(&p, v),
        v,
        Some(p.updated_at),
    ))
}

async fn remove(State(svc): St, ctx: Context, Path(uuid): Path<String>) -> Result<Response> {
    svc.enforce(&ctx, "placement:resource_providers:delete")?;
    service::delete_provider(&svc, &uuid)
        .await
        .map_err(|r| match r {
            Refused::ProviderNotFound(_) => Error::not_found(format!(
                "No resource provider with uuid {uuid} found for delete"
            )),
            Refused::HasChildren => Error::conflict_code(
                format!(
                    "Unable to delete parent resource provider {uuid}: It has child resource \
                     providers."
                ),
                codes::PROVIDER_CANNOT_DELETE_PARENT,
            ),
            Refused::HasAllocations => Error::conflict_code(
                format!(
                    "Unable to delete resource provider {uuid}: Resource provider has \
                     allocations."
                ),
                codes::PROVIDER_IN_USE,
            ),
            other => other.into(),
        })?;
    Ok(empty(StatusCode::NO_CONTENT, None))
}

async fn list(
    State(svc): St,
    ctx: Context,
    v: Version,
    headers: HeaderMap,
    q: Params,
) -> Result<Response> {
    AcceptJson::check(&headers)?;
    svc.enforce(&ctx, "placement:resource_providers:list")?;
    params::check(&q, &schemas::provider_list(v))?;
    let member_of = if q.has("member_of") {
        Some(params::member_of_params(&q, "", v)?)
    } else {
        None
    };
    let traits = if q.has("required") {
        Some(params::traits_params(&q, "required", v)?)
    } else {
        None
    };
    let resources: Option<BTreeMap<String, i64>> = match q.get("resources") {
        Some(r) => Some(params::resources(r)?),
        None => None,
    };
    let mut c = store::conn(&svc.db).await?;
    let db = &svc.db;
    let root = match q.get("in_tree") {
        Some(t) => match store::get_provider(db, &mut c, t).await? {
            Some(p) => Some(p.root_uuid),
            None => return Ok(rendered(Vec::new(), v)),
        },
        None => None,
    };
    let mut providers =
        store::list_providers(db, &mut c, q.get("name"), q.get("uuid"), root.as_deref()).await?;
    if let Some(t) = &traits {
        let missing = service::missing_traits(&svc, &mut c, &t.names()).await?;
        if !missing.is_empty() {
            return Err(Error::bad(format!(
                "Invalid trait(s) in \"required\" parameter: No such trait(s): {}.",
                missing.join(", ")
            )));
        }
        let all = store::all_provider_traits(db, &mut c).await?;
        let empty_set = BTreeSet::new();
        providers.retain(|p| {
            let have = all.get(&p.uuid).unwrap_or(&empty_set);
            t.required
                .iter()
                .all(|any| any.iter().any(|x| have.contains(x)))
                && !t.forbidden.iter().any(|x| have.contains(x))
        });
    }
    if let Some(m) = &member_of {
        let all = store::all_provider_aggregates(db, &mut c).await?;
        let empty_set = BTreeSet::new();
        providers.retain(|p| {
            let have = all.get(&p.uuid).unwrap_or(&empty_set);
            m.required
                .iter()
                .all(|any| any.iter().any(|x| have.contains(x)))
                && !m.forbidden.iter().any(|x| have.contains(x))
        });
    }
    if let Some(res) = &resources {
        for rc in res.keys() {
            if !service::class_exists(&svc, &mut c, rc).await? {
                return Err(Error::bad(format!(
                    "Invalid resource class in resources parameter: No such resource class {rc}."
                )));
            }
        }
        let uuids: Vec<String> = providers.iter().map(|p| p.uuid.clone()).collect();
        let invs = store::inventories_of(db, &mut c, &uuids).await?;
        let used = store::usage(db, &mut c, Some(&uuids)).await?;
        providers.retain(|p| {
            res.iter().all(|(rc, amount)| {
                let key = (p.uuid.clone(), rc.clone());
                invs.get(&key).is_some_and(|inv| {
                    capacity::fits(inv, used.get(&key).copied().unwrap_or(0), *amount)
                })
            })
        });
    }
    Ok(rendered(providers, v))
}

fn rendered(providers: Vec<Provider>, v: Version) -> Response {
    let lm = latest(providers.iter().map(|p| p.updated_at));
    let body = json!({
        "resource_providers": providers.iter().map(|p| render(p, v)).collect::<Vec<_>>(),
    });
    json_response(StatusCode::OK, &body, v, lm)
}
