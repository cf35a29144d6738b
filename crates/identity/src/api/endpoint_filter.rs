//! OS-EP-FILTER: which endpoints a project's token catalog shows — direct project↔endpoint
//! associations and endpoint groups (filters on service, region, interface).

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::params::Fields;
use crate::api::{Params, St, collection, created, member, no_content, ok};
use crate::model::new_id;
use crate::service::catalog::group_matches;
use crate::store::endpoint_filter::{self as st, EndpointGroup};
use crate::{Error, Identity, Result, store};

const FILTER_KEYS: &[&str] = &["service_id", "region_id", "interface"];

/// Endpoint group filters: an object whose keys are among service_id, region_id, interface.
fn filters(v: Option<&Value>) -> Result<Value> {
    let Some(Value::Object(m)) = v else {
        return Err(Error::bad(
            "Invalid input for field 'filters': an object is required.",
        ));
    };
    for (k, x) in m {
        if !FILTER_KEYS.contains(&k.as_str()) {
            return Err(Error::bad(format!(
                "Invalid input for field 'filters': '{k}' is not one of service_id, region_id, interface."
            )));
        }
        if !x.is_string() {
            return Err(Error::bad(format!(
                "Invalid input for field 'filters': '{k}' must be a string."
            )));
        }
        if k == "interface" && !matches!(x.as_str(), Some("public" | "internal" | "admin")) {
            return Err(Error::bad(
                "Invalid input for field 'filters': interface must be public, internal or admin.",
            ));
        }
    }
    Ok(Value::Object(m.clone()))
}

fn render(g: &EndpointGroup, base: &str) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "filters": g.filters,
        "links": {"self": format!("{base}/v3/OS-EP-FILTER/endpoint_groups/{}", g.id)},
    })
}

async fn group(id: &Identity, gid: &str) -> Result<EndpointGroup> {
    st::get_group(&id.db, gid)
        .await?
        .ok_or_else(|| Error::not_found("endpoint group", gid))
}

async fn endpoint(id: &Identity, eid: &str) -> Result<crate::model::Endpoint> {
    store::catalog::get_endpoint(&id.db, eid)
        .await?
        .ok_or_else(|| Error::not_found("endpoint", eid))
}

// ---- endpoint groups ------------------------------------------------------------------------

/// `POST /v3/OS-EP-FILTER/endpoint_groups`
pub async fn create_group(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:create_endpoint_group", &json!({}))?;
    let m = member(&body, "endpoint_group")?;
    let g = EndpointGroup {
        id: new_id(),
        name: m.name("name", 255)?,
        description: m.opt_string("description")?,
        filters: filters(m.get("filters"))?,
    };
    st::save_group(&id.db, &g, true).await?;
    id.changed().await;
    Ok(created(json!({"endpoint_group": render(&g, &base)})))
}

/// `GET /v3/OS-EP-FILTER/endpoint_groups`
pub async fn list_groups(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    id.enforce(&ctx, "identity:list_endpoint_groups", &json!({}))?;
    let items = st::list_groups(&id.db, q.get("name"))
        .await?
        .iter()
        .map(|g| render(g, &base))
        .collect();
    Ok(collection(
        &id,
        "endpoint_groups",
        items,
        format!("{base}/v3/OS-EP-FILTER/endpoint_groups"),
    ))
}

/// `GET|HEAD /v3/OS-EP-FILTER/endpoint_groups/{id}`
pub async fn show_group(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:get_endpoint_group", &json!({}))?;
    Ok(ok(
        json!({"endpoint_group": render(&group(&id, &gid).await?, &base)}),
    ))
}

/// `PATCH /v3/OS-EP-FILTER/endpoint_groups/{id}`
pub async fn update_group(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:update_endpoint_group", &json!({}))?;
    let m = member(&body, "endpoint_group")?;
    let mut g = group(&id, &gid).await?;
    if m.contains_key("name") {
        g.name = m.name("name", 255)?;
    }
    if m.contains_key("description") {
        g.description = m.opt_string("description")?;
    }
    if m.contains_key("filters") {
        g.filters = filters(m.get("filters"))?;
    }
    st::save_group(&id.db, &g, false).await?;
    id.changed().await;
    Ok(ok(json!({"endpoint_group": render(&g, &base)})))
}

/// `DELETE /v3/OS-EP-FILTER/endpoint_groups/{id}`
pub async fn delete_group(
    State(id): St,
    ctx: Context,
    Path(gid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:delete_endpoint_group", &json!({}))?;
    let g = group(&id, &gid).await?;
    st::delete_group(&id.db, &g.id).await?;
    id.changed().await;
    Ok(no_content())
}

/// `GET /v3/OS-EP-FILTER/endpoint_groups/{id}/endpoints`
pub async fn group_endpoints(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
) -> Result<Response> {
    id.enforce(
        &ctx,
        "identity:list_endpoints_associated_with_endpoint_group",
        &json!({}),
    )?;
    let g = group(&id, &gid).await?;
    let items = store::catalog::list_endpoints(&id.db)
        .await?
        .iter()
        .filter(|e| group_matches(&g.filters, e))
        .map(|e| e.to_json(&base))
        .collect();
    Ok(collection(
        &id,
        "endpoints",
        items,
        format!("{base}/v3/OS-EP-FILTER/endpoint_groups/{gid}/endpoints"),
    ))
}

async fn projects_json(id: &Identity, ids: Vec<String>, base: &str) -> Result<Vec<Value>> {
    let f = store::resource::Filter {
        ids: Some(ids),
        ..Default::default()
    };
    Ok(store::resource::list(&id.db, &f)
        .await?
        .iter()
        .map(|p| p.to_project_json(base))
        .collect())
}

/// `GET /v3/OS-EP-FILTER/endpoint_groups/{id}/projects`
pub async fn group_projects(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
) -> Result<Response> {
    id.enforce(
        &ctx,
        "identity:list_projects_associated_with_endpoint_group",
        &json!({}),
    )?;
    let g = group(&id, &gid).await?;
    let ids = st::projects_of(&id.db, true, &g.id).await?;
    let items = projects_json(&id, ids, &base).await?;
    Ok(collection(
        &id,
        "projects",
        items,
        format!("{base}/v3/OS-EP-FILTER/endpoint_groups/{gid}/projects"),
    ))
}

/// `PUT /v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project_id}`
pub async fn add_group_project(
    State(id): St,
    ctx: Context,
    Path((gid, pid)): Path<(String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:add_endpoint_group_to_project", &json!({}))?;
    let g = group(&id, &gid).await?;
    let p = id.project(&pid).await?;
    st::associate(&id.db, true, &g.id, &p.id).await?;
    id.changed().await;
    Ok(no_content())
}

/// `GET|HEAD /v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project_id}`
pub async fn check_group_project(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path((gid, pid)): Path<(String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:get_endpoint_group_in_project", &json!({}))?;
    let g = group(&id, &gid).await?;
    let p = id.project(&pid).await?;
    if !st::is_associated(&id.db, true, &g.id, &p.id).await? {
        return Err(Error::NotFoundMsg(format!(
            "Endpoint group {gid} is not associated with project {pid}."
        )));
    }
    Ok(ok(json!({"project": p.to_project_json(&base)})))
}

/// `DELETE /v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project_id}`
pub async fn remove_group_project(
    State(id): St,
    ctx: Context,
    Path((gid, pid)): Path<(String, String)>,
) -> Result<Response> {
    id.enforce(
        &ctx,
        "identity:remove_endpoint_group_from_project",
        &json!({}),
    )?;
    if st::dissociate(&id.db, true, &gid, &pid).await? == 0 {
        return Err(Error::NotFoundMsg(format!(
            "Endpoint group {gid} is not associated with project {pid}."
        )));
    }
    id.changed().await;
    Ok(no_content())
}

/// `GET /v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups`
pub async fn project_groups(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(pid): Path<String>,
) -> Result<Response> {
    id.enforce(
        &ctx,
        "identity:list_endpoint_groups_for_project",
        &json!({}),
    )?;
    let p = id.project(&pid).await?;
    let mut items = Vec::new();
    for gid in st::of_project(&id.db, true, &p.id).await? {
        if let Some(g) = st::get_group(&id.db, &gid).await? {
            items.push(render(&g, &base));
        }
    }
    Ok(collection(
        &id,
        "endpoint_groups",
        items,
        format!("{base}/v3/OS-EP-FILTER/projects/{pid}/endpoint_groups"),
    ))
}

// ---- project ↔ endpoint ---------------------------------------------------------------------

/// `PUT /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}`
pub async fn add_endpoint(
    State(id): St,
    ctx: Context,
    Path((pid, eid)): Path<(String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:add_endpoint_to_project", &json!({}))?;
    let p = id.project(&pid).await?;
    let e = endpoint(&id, &eid).await?;
    st::associate(&id.db, false, &e.id, &p.id).await?;
    id.changed().await;
    Ok(no_content())
}

/// `GET|HEAD /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}`
pub async fn check_endpoint(
    State(id): St,
    ctx: Context,
    Path((pid, eid)): Path<(String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:check_endpoint_in_project", &json!({}))?;
    let p = id.project(&pid).await?;
    let e = endpoint(&id, &eid).await?;
    if !st::is_associated(&id.db, false, &e.id, &p.id).await? {
        return Err(Error::NotFoundMsg(format!(
            "Endpoint {eid} is not associated with project {pid}."
        )));
    }
    Ok(no_content())
}

/// `DELETE /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}`
pub async fn remove_endpoint(
    State(id): St,
    ctx: Context,
    Path((pid, eid)): Path<(String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:remove_endpoint_from_project", &json!({}))?;
    if st::dissociate(&id.db, false, &eid, &pid).await? == 0 {
        return Err(Error::NotFoundMsg(format!(
            "Endpoint {eid} is not associated with project {pid}."
        )));
    }
    id.changed().await;
    Ok(no_content())
}

/// `GET /v3/OS-EP-FILTER/projects/{project_id}/endpoints`: every endpoint the project's
/// catalog shows, directly associated or through endpoint groups.
pub async fn project_endpoints(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(pid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:list_endpoints_for_project", &json!({}))?;
    let p = id.project(&pid).await?;
    let ids = id.project_endpoint_ids(&p.id).await?;
    let items = store::catalog::list_endpoints(&id.db)
        .await?
        .iter()
        .filter(|e| ids.contains(&e.id))
        .map(|e| e.to_json(&base))
        .collect();
    Ok(collection(
        &id,
        "endpoints",
        items,
        format!("{base}/v3/OS-EP-FILTER/projects/{pid}/endpoints"),
    ))
}

/// `GET /v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects`
pub async fn endpoint_projects(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(eid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:list_projects_for_endpoint", &json!({}))?;
    let e = endpoint(&id, &eid).await?;
    let ids = st::projects_of(&id.db, false, &e.id).await?;
    let items = projects_json(&id, ids, &base).await?;
    Ok(collection(
        &id,
        "projects",
        items,
        format!("{base}/v3/OS-EP-FILTER/endpoints/{eid}/projects"),
    ))
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/OS-EP-FILTER/endpoint_groups",
        get(list_groups, "GET /v3/OS-EP-FILTER/endpoint_groups"),
        post(create_group, "POST /v3/OS-EP-FILTER/endpoint_groups")
    );
    let r = api::route!(
        r,
        "/v3/OS-EP-FILTER/endpoint_groups/{group_id}",
        get(show_group, "GET|HEAD /v3/OS-EP-FILTER/endpoint_groups/{id}"),
        head(show_group, "GET|HEAD /v3/OS-EP-FILTER/endpoint_groups/{id}"),
        patch(update_group, "PATCH /v3/OS-EP-FILTER/endpoint_groups/{id}"),
        delete(delete_group, "DELETE /v3/OS-EP-FILTER/endpoint_groups/{id}")
    );
    let r = api::route!(
        r,
        "/v3/OS-EP-FILTER/endpoint_groups/{group_id}/endpoints",
        get(
            group_endpoints,
            "GET /v3/OS-EP-FILTER/endpoint_groups/{id}/endpoints"
        )
    );
    let r = api::route!(
        r,
        "/v3/OS-EP-FILTER/endpoint_groups/{group_id}/projects",
        get(
            group_projects,
            "GET /v3/OS-EP-FILTER/endpoint_groups/{id}/projects"
        )
    );
    let r = api::route!(
        r,
        "/v3/OS-EP-FILTER/endpoint_groups/{group_id}/projects/{project_id}",
        get(
            check_group_project,
            "GET|HEAD /v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project_id}"
        ),
        head(
            check_group_project,
            "GET|HEAD /v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project_id}"
        ),
        put(
            add_group_project,
            "PUT /v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project_id}"
        ),
        delete(
            remove_group_project,
            "DELETE /v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project_id}"
        )
    );
    let r = api::route!(
        r,
        "/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups",
        get(
            project_groups,
            "GET /v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups"
        )
    );
    let r = api::route!(
        r,
        "/v3/OS-EP-FILTER/projects/{project_id}/endpoints",
        get(
            project_endpoints,
            "GET /v3/OS-EP-FILTER/projects/{project_id}/endpoints: every endpoint the project's"
        )
    );
    let r = api::route!(
        r,
        "/v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}",
        get(
            check_endpoint,
            "GET|HEAD /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}"
        ),
        head(
            check_endpoint,
            "GET|HEAD /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}"
        ),
        put(
            add_endpoint,
            "PUT /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}"
        ),
        delete(
            remove_endpoint,
            "DELETE /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}"
        )
    );
    let r = api::route!(
        r,
        "/v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects",
        get(
            endpoint_projects,
            "GET /v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects"
        )
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked() {
        assert!(filters(Some(&json!({"service_id": "s", "interface": "public"}))).is_ok());
        assert!(filters(Some(&json!({"color": "blue"}))).is_err());
        assert!(filters(Some(&json!({"interface": "sideways"}))).is_err());
        assert!(filters(Some(&json!("x"))).is_err());
        assert!(filters(None).is_err());
    }
}
