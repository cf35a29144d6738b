//! `/resource_classes` (1.2+): the standard classes and operators' `CUSTOM_*` ones.

use std::sync::Arc;

use api::BaseUrl;
use api::microversion::Version;
use api::openapi::Routes;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::St;
use super::util::{AcceptJson, RawBody, empty, json_response, latest};
use crate::error::{Error, Result};
use crate::model::ResourceClass;
use crate::validate::validate;
use crate::{PlacementService, schemas, standard, store};

pub fn routes() -> Routes<Arc<PlacementService>> {
    let r = api::route!(
        Routes::new(),
        "/resource_classes",
        get(list, "List resource classes"),
        post(create, "Create a resource class")
    );
    api::route!(
        r,
        "/resource_classes/{name}",
        get(show, "Show a resource class"),
        put(update, "Create or update a resource class"),
        delete(remove, "Delete a resource class")
    )
}

fn gate(v: Version) -> Result<()> {
    if v.at_least(1, 2) {
        Ok(())
    } else {
        Err(Error::no_route())
    }
}

fn url(name: &str) -> String {
    format!("/resource_classes/{name}")
}

fn render(name: &str) -> Value {
    json!({"name": name, "links": [{"rel": "self", "href": url(name)}]})
}

async fn lookup(svc: &PlacementService, name: &str) -> Result<Option<ResourceClass>> {
    if standard::is_standard_class(name) {
        return Ok(Some(ResourceClass {
            name: name.to_string(),
            updated_at: None,
        }));
    }
    let mut c = store::conn(&svc.db).await?;
    Ok(store::custom_class(&svc.db, &mut c, name).await?)
}

fn not_found(name: &str) -> Error {
    Error::not_found(format!("No such resource class {name}."))
}

async fn list(State(svc): St, ctx: Context, v: Version, headers: HeaderMap) -> Result<Response> {
    gate(v)?;
    AcceptJson::check(&headers)?;
    svc.enforce(&ctx, "placement:resource_classes:list")?;
    let mut c = store::conn(&svc.db).await?;
    let custom = store::custom_classes(&svc.db, &mut c).await?;
    let names: Vec<Value> = standard::RESOURCE_CLASSES
        .iter()
        .map(|n| render(n))
        .chain(custom.iter().map(|rc| render(&rc.name)))
        .collect();
    let lm = latest(custom.iter().filter_map(|c| c.updated_at));
    Ok(json_response(
        StatusCode::OK,
        &json!({"resource_classes": names}),
        v,
        lm,
    ))
}

async fn create(
    State(svc): St,
    ctx: Context,
    v: Version,
    base: BaseUrl,
    body: RawBody,
) -> Result<Response> {
    gate(v)?;
    body.require_json()?;
    svc.enforce(&ctx, "placement:resource_classes:create")?;
    let data = body.json(&schemas::resource_class())?;
    let name = data["name"].as_str().unwrap_or_default().to_string();
    let mut tx = svc.db.begin().await?;
    if store::custom_class(&svc.db, tx.conn(), &name)
        .await?
        .is_some()
    {
        return Err(Error::conflict(format!(
            "Conflicting resource class already exists: {name}"
        )));
    }
    match store::insert_custom_class(&svc.db, tx.conn(), &name, svc.now()).await {
        Ok(()) => {}
        Err(db::DbError::Conflict(_)) => {
            return Err(Error::conflict(format!(
                "Conflicting resource class already exists: {name}"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    Ok(empty(
        StatusCode::CREATED,
        Some(&format!("{}{}", base.0, url(&name))),
    ))
}

async fn show(
    State(svc): St,
    ctx: Context,
    v: Version,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response> {
    gate(v)?;
    AcceptJson::check(&headers)?;
    svc.enforce(&ctx, "placement:resource_classes:show")?;
    let rc = lookup(&svc, &name).await?.ok_or_else(|| not_found(&name))?;
    Ok(json_response(
        StatusCode::OK,
        &render(&rc.name),
        v,
        rc.updated_at,
    ))
}

async fn update(
    State(svc): St,
    ctx: Context,
    v: Version,
    base: BaseUrl,
    Path(name): Path<String>,
    body: RawBody,
) -> Result<Response> {
    gate(v)?;
    if v.at_least(1, 7) {
        // Create-or-verify, bodiless.
        svc.enforce(&ctx, "placement:resource_classes:update")?;
        validate(&json!({ "name": name }), &schemas::resource_class())
            .map_err(|e| Error::bad(format!("JSON does not validate: {e}")))?;
        let location = format!("{}{}", base.0, url(&name));
        if lookup(&svc, &name).await?.is_some() {
            return Ok(empty(StatusCode::NO_CONTENT, Some(&location)));
        }
        let mut tx = svc.db.begin().await?;
        let status = match store::insert_custom_class(&svc.db, tx.conn(), &name, svc.now()).await {
            Ok(()) => StatusCode::CREATED,
            // Someone just created it.
            Err(db::DbError::Conflict(_)) => StatusCode::NO_CONTENT,
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        return Ok(empty(status, Some(&location)));
    }
    // 1.2 - 1.6: rename a custom class.
    body.require_json()?;
    svc.enforce(&ctx, "placement:resource_classes:update")?;
    let data = body.json(&schemas::resource_class())?;
    let new = data["name"].as_str().unwrap_or_default().to_string();
    lookup(&svc, &name).await?.ok_or_else(|| not_found(&name))?;
    if standard::is_standard_class(&name) {
        return Err(Error::bad(format!(
            "Cannot update standard resource class {name}"
        )));
    }
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    if new != name
        && store::custom_class(&svc.db, tx.conn(), &new)
            .await?
            .is_some()
    {
        return Err(Error::conflict(format!(
            "Resource class already exists: {new}"
        )));
    }
    match store::rename_custom_class(&svc.db, tx.conn(), &name, &new, now).await {
        Ok(()) => {}
        Err(db::DbError::Conflict(_)) => {
            return Err(Error::conflict(format!(
                "Resource class already exists: {new}"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    Ok(json_response(StatusCode::OK, &render(&new), v, Some(now)))
}

async fn remove(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(name): Path<String>,
) -> Result<Response> {
    gate(v)?;
    svc.enforce(&ctx, "placement:resource_classes:delete")?;
    lookup(&svc, &name).await?.ok_or_else(|| not_found(&name))?;
    if standard::is_standard_class(&name) {
        return Err(Error::bad(format!(
            "Error in delete resource class: Cannot delete standard resource class {name}."
        )));
    }
    let mut tx = svc.db.begin().await?;
    if store::class_in_use(&svc.db, tx.conn(), &name).await? {
        return Err(Error::conflict(format!(
            "Error in delete resource class: Cannot delete resource class {name}. Class is in \
             use in inventory."
        )));
    }
    if !store::delete_custom_class(&svc.db, tx.conn(), &name).await? {
        return Err(not_found(&name));
    }
    tx.commit().await?;
    Ok(empty(StatusCode::NO_CONTENT, None))
}
