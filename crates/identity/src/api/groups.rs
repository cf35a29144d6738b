//! `/v3/groups` and group membership.

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::params::{Fields, check_id};
use crate::api::{Params, St, collection, created, member, no_content, ok};
use crate::model::{Group, new_id};
use crate::{Error, Identity, Result, store};

const KNOWN: &[&str] = &["id", "name", "domain_id", "description", "links"];

fn target(g: &Group) -> Value {
    json!({"target": {"group": {"id": g.id, "domain_id": g.domain_id, "name": g.name}}})
}

/// `POST /v3/groups`
pub async fn create(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "group")?;
    let t = json!({"target": {"group": {"domain_id": m.get("domain_id").cloned().unwrap_or(Value::Null)}}});
    id.enforce(&ctx, "identity:create_group", &t)?;
    let name = m.name("name", 64)?;
    let domain_id = match m.opt_string("domain_id")? {
        Some(d) => d,
        None => ctx
            .user
            .domain_id()
            .map(str::to_string)
            .or_else(|| ctx.user.project.as_ref().map(|p| p.domain.id.clone()))
            .unwrap_or_else(|| id.cfg.default_domain_id.clone()),
    };
    id.domain(&domain_id).await?;
    let g = Group {
        id: new_id(),
        domain_id,
        name: name.clone(),
        description: m.opt_string("description")?,
        extra: m.extras(KNOWN),
    };
    store::users::insert_group(&id.db, &g)
        .await
        .map_err(Error::or_duplicate("group", &name))?;
    id.changed().await;
    Ok(created(json!({"group": g.to_json(&base)})))
}

/// `GET /v3/groups`
pub async fn list(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    let t = json!({"target": {"domain_id": q.get("domain_id")}, "domain_id": q.get("domain_id")});
    id.enforce(&ctx, "identity:list_groups", &t)?;
    let gs = store::users::list_groups(&id.db, q.get("domain_id"), q.get("name"), None).await?;
    let items = gs.iter().map(|g| g.to_json(&base)).collect();
    Ok(collection(
        &id,
        "groups",
        items,
        format!("{base}/v3/groups"),
    ))
}

/// `GET /v3/groups/{id}`
pub async fn show(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
) -> Result<Response> {
    check_id("group", &gid)?;
    let g = id.group(&gid).await?;
    let t = target(&g);
    id.enforce(&ctx, "identity:get_group", &t)?;
    Ok(ok(json!({"group": g.to_json(&base)})))
}

/// `PATCH /v3/groups/{id}`
pub async fn update(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let g = id.group(&gid).await?;
    let t = target(&g);
    id.enforce(&ctx, "identity:update_group", &t)?;
    let m = member(&body, "group")?;
    let mut g = g;
    if let Some(d) = m.get("domain_id")
        && d.as_str() != Some(g.domain_id.as_str())
    {
        return Err(Error::bad("Cannot change the domain_id of a group."));
    }
    if m.contains_key("name") {
        g.name = m.name("name", 64)?;
    }
    if m.contains_key("description") {
        g.description = m.opt_string("description")?;
    }
    for (k, v) in m.extras(KNOWN) {
        g.extra.insert(k, v);
    }
    store::users::update_group(&id.db, &g)
        .await
        .map_err(Error::or_duplicate("group", &g.name))?;
    id.changed().await;
    Ok(ok(json!({"group": g.to_json(&base)})))
}

/// `DELETE /v3/groups/{id}`: members lose the group's roles at once.
pub async fn delete(State(id): St, ctx: Context, Path(gid): Path<String>) -> Result<Response> {
    let g = id.group(&gid).await?;
    let t = target(&g);
    id.enforce(&ctx, "identity:delete_group", &t)?;
    store::users::delete_group(&id.db, &g.id).await?;
    id.changed().await;
    Ok(no_content())
}

/// `GET /v3/groups/{id}/users`
pub async fn members(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
    q: Params,
) -> Result<Response> {
    let g = id.group(&gid).await?;
    let t = target(&g);
    id.enforce(&ctx, "identity:list_users_in_group", &t)?;
    let f = store::users::UserFilter {
        group_id: Some(g.id.clone()),
        domain_id: q.get("domain_id").map(str::to_string),
        name: q.get("name").map(str::to_string),
        enabled: q.bool_filter("enabled"),
        ..Default::default()
    };
    let users = store::users::list(&id.db, &f).await?;
    let items = users.iter().map(|u| u.to_json(&base)).collect();
    Ok(collection(
        &id,
        "users",
        items,
        format!("{base}/v3/groups/{gid}/users"),
    ))
}

async fn member_target(
    id: &Identity,
    gid: &str,
    uid: &str,
) -> Result<(Value, Result<(Group, crate::model::User)>)> {
    let g = id.group(gid).await;
    let u = id.user(uid).await;
    let t = json!({"target": {
        "group": g.as_ref().map(|g| json!({"id": g.id, "domain_id": g.domain_id})).unwrap_or(json!({"id": gid})),
        "user": u.as_ref().map(|u| json!({"id": u.id, "domain_id": u.domain_id})).unwrap_or(json!({"id": uid})),
    }});
    let both = match (g, u) {
        (Ok(g), Ok(u)) => Ok((g, u)),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    Ok((t, both))
}

/// `PUT /v3/groups/{gid}/users/{uid}`
pub async fn add_member(
    State(id): St,
    ctx: Context,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<Response> {
    let (t, both) = member_target(&id, &gid, &uid).await?;
    id.enforce(&ctx, "identity:add_user_to_group", &t)?;
    let (g, u) = both?;
    store::users::add_member(&id.db, &g.id, &u.id).await?;
    id.changed().await;
    Ok(no_content())
}

/// `GET|HEAD /v3/groups/{gid}/users/{uid}`: 204 when a member.
pub async fn check_member(
    State(id): St,
    ctx: Context,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<Response> {
    let (t, both) = member_target(&id, &gid, &uid).await?;
    id.enforce(&ctx, "identity:check_user_in_group", &t)?;
    let (g, u) = both?;
    if store::users::is_member(&id.db, &g.id, &u.id).await? {
        Ok(no_content())
    } else {
        Err(Error::NotFoundMsg(format!(
            "User '{}' not found in group '{}'.",
            u.id, g.id
        )))
    }
}

/// `DELETE /v3/groups/{gid}/users/{uid}`: the user's tokens lose the group's roles.
pub async fn remove_member(
    State(id): St,
    ctx: Context,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<Response> {
    let (t, both) = member_target(&id, &gid, &uid).await?;
    id.enforce(&ctx, "identity:remove_user_from_group", &t)?;
    let (g, u) = both?;
    if store::users::remove_member(&id.db, &g.id, &u.id).await? == 0 {
        return Err(Error::NotFoundMsg(format!(
            "User '{}' not found in group '{}'.",
            u.id, g.id
        )));
    }
    id.changed().await;
    Ok(no_content())
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/groups",
        get(list, "GET /v3/groups"),
        post(create, "POST /v3/groups")
    );
    let r = api::route!(
        r,
        "/v3/groups/{group_id}",
        get(show, "GET /v3/groups/{id}"),
        patch(update, "PATCH /v3/groups/{id}"),
        delete(
            delete,
            "DELETE /v3/groups/{id}: members lose the group's roles at once"
        )
    );
    let r = api::route!(
        r,
        "/v3/groups/{group_id}/users",
        get(members, "GET /v3/groups/{id}/users")
    );
    let r = api::route!(
        r,
        "/v3/groups/{group_id}/users/{user_id}",
        get(
            check_member,
            "GET|HEAD /v3/groups/{gid}/users/{uid}: 204 when a member"
        ),
        put(add_member, "PUT /v3/groups/{gid}/users/{uid}"),
        delete(
            remove_member,
            "DELETE /v3/groups/{gid}/users/{uid}: the user's tokens lose the group's roles"
        )
    );
    r
}
