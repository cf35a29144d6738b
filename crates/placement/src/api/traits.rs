//! `/traits` (1.6+) and `/resource_providers/{uuid}/traits`.

use std::collections::BTreeSet;
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
use super::util::{AcceptJson, RawBody, cache_headers, empty, json_response, latest};
use crate::error::{Error, Result, codes};
use crate::service::{self, Refused};
use crate::validate::validate;
use crate::{PlacementService, params, schemas, standard, store};

pub fn routes() -> Routes<Arc<PlacementService>> {
    let r = api::route!(Routes::new(), "/traits", get(list, "List traits"));
    let r = api::route!(
        r,
        "/traits/{name}",
        get(show, "Check a trait exists"),
        put(create, "Create a custom trait"),
        delete(remove, "Delete a custom trait")
    );
    api::route!(
        r,
        "/resource_providers/{uuid}/traits",
        get(provider_traits, "List a resource provider's traits"),
        put(set_provider_traits, "Replace a resource provider's traits"),
        delete(clear_provider_traits, "Remove a resource provider's traits")
    )
}

fn gate(v: Version) -> Result<()> {
    if v.at_least(1, 6) {
        Ok(())
    } else {
        Err(Error::no_route())
    }
}

fn no_such(name: &str) -> Error {
    Error::not_found(format!("No such trait(s): {name}."))
}

/// When the trait was created: `None` for standard traits, `Err` when unknown.
async fn created(svc: &PlacementService, name: &str) -> Result<Option<i64>> {
    if standard::is_standard_trait(name) {
        return Ok(None);
    }
    let mut c = store::conn(&svc.db).await?;
    match store::custom_trait(&svc.db, &mut c, name).await? {
        Some(t) => Ok(Some(t)),
        None => Err(no_such(name)),
    }
}

async fn list(
    State(svc): St,
    ctx: Context,
    v: Version,
    headers: HeaderMap,
    q: Params,
) -> Result<Response> {
    gate(v)?;
    AcceptJson::check(&headers)?;
    svc.enforce(&ctx, "placement:traits:list")?;
    params::check(&q, &schemas::traits_list())?;
    let mut name_in: Option<BTreeSet<String>> = None;
    let mut prefix: Option<String> = None;
    if let Some(n) = q.get("name") {
        let Some((op, value)) = n.split_once(':') else {
            return Err(Error::bad(format!(
                "Badly formatted name parameter. Expected name query string parameter in \
                 form: ?name=[in|startswith]:[name1,name2|prefix]. Got: \"{n}\""
            )));
        };
        match op {
            "in" => name_in = Some(value.split(',').map(str::to_string).collect()),
            "startswith" => prefix = Some(value.to_string()),
            _ => {}
        }
    }
    let associated = match q.get("associated") {
        None => None,
        Some(a) => match a.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                return Err(Error::bad(
                    "The query parameter \"associated\" only accepts \"true\" or \"false\"",
                ));
            }
        },
    };
    let mut c = store::conn(&svc.db).await?;
    let custom = store::custom_traits(&svc.db, &mut c).await?;
    let used = match associated {
        Some(_) => store::associated_traits(&svc.db, &mut c).await?,
        None => BTreeSet::new(),
    };
    let mut all: Vec<(&str, Option<i64>)> = standard::TRAITS
        .iter()
        .map(|t| (*t, None))
        .chain(custom.iter().map(|(n, t)| (n.as_str(), Some(*t))))
        .collect();
    all.sort_by(|a, b| standard::trait_order(a.0).cmp(&standard::trait_order(b.0)));
    all.retain(|(n, _)| {
        name_in.as_ref().is_none_or(|s| s.contains(*n))
            && prefix.as_ref().is_none_or(|p| n.starts_with(p.as_str()))
            && associated.is_none_or(|want| used.contains(*n) == want)
    });
    let lm = latest(all.iter().filter_map(|(_, t)| *t));
    let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"traits": names}),
        v,
        lm,
    ))
}

async fn show(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(name): Path<String>,
) -> Result<Response> {
    gate(v)?;
    svc.enforce(&ctx, "placement:traits:show")?;
    let t = created(&svc, &name).await?;
    let mut resp = empty(StatusCode::NO_CONTENT, None);
    cache_headers(&mut resp, v, t);
    Ok(resp)
}

async fn create(
    State(svc): St,
    ctx: Context,
    v: Version,
    base: BaseUrl,
    Path(name): Path<String>,
) -> Result<Response> {
    gate(v)?;
    svc.enforce(&ctx, "placement:traits:update")?;
    if validate(&Value::String(name.clone()), &schemas::custom_trait()).is_err() {
        return Err(Error::bad(
            "The trait is invalid. A valid trait must be no longer than 255 characters, start \
             with the prefix \"CUSTOM_\" and use following characters: \"A\"-\"Z\", \"0\"-\"9\" \
             and \"_\"",
        ));
    }
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let (status, at) = match store::custom_trait(&svc.db, tx.conn(), &name).await? {
        Some(t) => (StatusCode::NO_CONTENT, t),
        None => match store::insert_custom_trait(&svc.db, tx.conn(), &name, now).await {
            Ok(()) => (StatusCode::CREATED, now),
            Err(db::DbError::Conflict(_)) => (StatusCode::NO_CONTENT, now),
            Err(e) => return Err(e.into()),
        },
    };
    tx.commit().await?;
    let mut resp = empty(status, Some(&format!("{}/traits/{name}", base.0)));
    cache_headers(&mut resp, v, Some(at));
    Ok(resp)
}

async fn remove(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(name): Path<String>,
) -> Result<Response> {
    gate(v)?;
    svc.enforce(&ctx, "placement:traits:delete")?;
    if standard::is_standard_trait(&name) {
        return Err(Error::bad(format!("Cannot delete standard trait {name}.")));
    }
    let mut tx = svc.db.begin().await?;
    if store::custom_trait(&svc.db, tx.conn(), &name)
        .await?
        .is_none()
    {
        return Err(no_such(&name));
    }
    if store::trait_in_use(&svc.db, tx.conn(), &name).await? {
        return Err(Error::conflict(format!(
            "The trait {name} is in use by a resource provider."
        )));
    }
    store::delete_custom_trait(&svc.db, tx.conn(), &name).await?;
    tx.commit().await?;
    Ok(empty(StatusCode::NO_CONTENT, None))
}

async fn provider_traits(
    State(svc): St,
    ctx: Context,
    v: Version,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> Result<Response> {
    gate(v)?;
    AcceptJson::check(&headers)?;
    svc.enforce(&ctx, "placement:resource_providers:traits:list")?;
    let mut c = store::conn(&svc.db).await?;
    let Some(p) = store::get_provider(&svc.db, &mut c, &uuid).await? else {
        return Err(Error::not_found(format!(
            "No resource provider with uuid {uuid} found: No resource provider with uuid \
             {uuid} found"
        )));
    };
    let (traits, lm) = store::provider_traits(&svc.db, &mut c, &uuid).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"traits": traits, "resource_provider_generation": p.generation}),
        v,
        lm,
    ))
}

async fn set_provider_traits(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(uuid): Path<String>,
    body: RawBody,
) -> Result<Response> {
    gate(v)?;
    body.require_json()?;
    svc.enforce(&ctx, "placement:resource_providers:traits:update")?;
    let data = body.json(&schemas::provider_traits_put())?;
    let generation = data["resource_provider_generation"].as_i64().unwrap_or(-1);
    let traits: BTreeSet<String> = data["traits"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let new_gen = service::set_traits(&svc, &uuid, Some(generation), &traits)
        .await
        .map_err(|r| match r {
            Refused::Generation { .. } => Error::conflict_code(
                "Resource provider's generation already changed. Please update the generation \
                 and try again.",
                codes::CONCURRENT_UPDATE,
            ),
            Refused::UnknownTraits(t) => Error::bad(format!("No such trait {}", t.join(", "))),
            other => other.into(),
        })?;
    let mut names: Vec<&String> = traits.iter().collect();
    standard::sort_traits(&mut names);
    Ok(json_response(
        StatusCode::OK,
        &json!({"traits": names, "resource_provider_generation": new_gen}),
        v,
        None,
    ))
}

async fn clear_provider_traits(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(uuid): Path<String>,
) -> Result<Response> {
    gate(v)?;
    svc.enforce(&ctx, "placement:resource_providers:traits:delete")?;
    service::set_traits(&svc, &uuid, None, &BTreeSet::new())
        .await
        .map_err(Error::from)?;
    Ok(empty(StatusCode::NO_CONTENT, None))
}
