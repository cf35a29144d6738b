//! `/v3/roles`, implied roles and `/v3/role_inferences`.

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::params::{Fields, check_id, patch_map};
use crate::api::{Params, St, collection, created, member, no_content, ok};
use crate::model::{Role, new_id};
use crate::revoke::RevokeEvent;
use crate::{Error, Identity, Result, store};

const KNOWN: &[&str] = &["id", "name", "domain_id", "description", "options", "links"];

/// keystone's `[assignment] prohibited_implied_role`.
const PROHIBITED_IMPLIED: &[&str] = &["admin"];

fn target(r: &Role) -> Value {
    json!({"target": {"role": {"id": r.id, "name": r.name, "domain_id": r.domain_id}}})
}

fn immutable(r: &Role) -> bool {
    r.options.get("immutable").and_then(Value::as_bool) == Some(true)
}

/// `POST /v3/roles`
pub async fn create(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "role")?;
    let domain_id = m.opt_string("domain_id")?;
    let action = if domain_id.is_some() {
        "identity:create_domain_role"
    } else {
        "identity:create_role"
    };
    let t = json!({"target": {"role": {"domain_id": domain_id}}});
    id.enforce(&ctx, action, &t)?;
    let r = id.create_role(m).await?;
    Ok(created(json!({"role": r.to_json(&base)})))
}

impl Identity {
    pub async fn create_role(&self, m: &serde_json::Map<String, Value>) -> Result<Role> {
        let name = m.name("name", 255)?;
        let domain_id = m.opt_string("domain_id")?;
        if let Some(d) = &domain_id {
            self.domain(d)
                .await
                .map_err(|_| Error::bad(format!("Could not find domain: {d}.")))?;
        }
        let r = Role {
            id: new_id(),
            name: name.clone(),
            domain_id,
            description: m.opt_string("description")?,
            extra: m.extras(KNOWN),
            options: m.options(&["immutable"])?.unwrap_or_default(),
        };
        store::assignment::insert_role(&self.db, &r)
            .await
            .map_err(Error::or_duplicate("role", &name))?;
        self.changed().await;
        Ok(r)
    }
}

/// `GET /v3/roles` (global roles, or a domain's with `domain_id`)
pub async fn list(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    let action = if q.has("domain_id") {
        "identity:list_domain_roles"
    } else {
        "identity:list_roles"
    };
    id.enforce(
        &ctx,
        action,
        &json!({"target": {"domain_id": q.get("domain_id")}}),
    )?;
    let rs = store::assignment::list_roles(&id.db, q.get("name"), q.get("domain_id")).await?;
    let items = rs.iter().map(|r| r.to_json(&base)).collect();
    Ok(collection(&id, "roles", items, format!("{base}/v3/roles")))
}

/// The role and its policy target; an unknown role is 404 before policy, as keystone.
async fn role_and_target(id: &Identity, rid: &str) -> Result<(Role, Value)> {
    let r = id.role(rid).await?;
    let t = target(&r);
    Ok((r, t))
}

fn action_for(r: &Role, global: &'static str, domain: &'static str) -> &'static str {
    if r.domain_id.is_some() {
        domain
    } else {
        global
    }
}

/// `GET /v3/roles/{id}`
pub async fn show(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
) -> Result<Response> {
    check_id("role", &rid)?;
    let (r, t) = role_and_target(&id, &rid).await?;
    id.enforce(
        &ctx,
        action_for(&r, "identity:get_role", "identity:get_domain_role"),
        &t,
    )?;
    Ok(ok(json!({"role": r.to_json(&base)})))
}

/// `PATCH /v3/roles/{id}`
pub async fn update(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let (r, t) = role_and_target(&id, &rid).await?;
    id.enforce(
        &ctx,
        action_for(&r, "identity:update_role", "identity:update_domain_role"),
        &t,
    )?;
    let m = member(&body, "role")?;
    let mut r = r;
    let unlocking = m
        .get("options")
        .and_then(|o| o.get("immutable"))
        .is_some_and(|v| v == &json!(false) || v.is_null());
    if immutable(&r) && !unlocking {
        return Err(Error::ForbiddenMsg(format!(
            "Role {} is immutable; unset the immutable option first.",
            r.id
        )));
    }
    if let Some(d) = m.get("domain_id")
        && d.as_str() != r.domain_id.as_deref()
    {
        return Err(Error::bad("Cannot change the domain_id of a role."));
    }
    if m.contains_key("name") {
        r.name = m.name("name", 255)?;
    }
    if m.contains_key("description") {
        r.description = m.opt_string("description")?;
    }
    if let Some(o) = m.options(&["immutable"])? {
        patch_map(&mut r.options, o);
    }
    for (k, v) in m.extras(KNOWN) {
        r.extra.insert(k, v);
    }
    store::assignment::update_role(&id.db, &r)
        .await
        .map_err(Error::or_duplicate("role", &r.name))?;
    id.changed().await;
    Ok(ok(json!({"role": r.to_json(&base)})))
}

/// `DELETE /v3/roles/{id}`: assignments go with it, and tokens carrying it are revoked.
pub async fn delete(State(id): St, ctx: Context, Path(rid): Path<String>) -> Result<Response> {
    let (r, t) = role_and_target(&id, &rid).await?;
    id.enforce(
        &ctx,
        action_for(&r, "identity:delete_role", "identity:delete_domain_role"),
        &t,
    )?;

    if immutable(&r) {
        return Err(Error::ForbiddenMsg(format!("Role {} is immutable.", r.id)));
    }
    store::assignment::delete_role(&id.db, &r.id).await?;
    let mut ev = RevokeEvent::new(id.now());
    ev.role_id = Some(r.id.clone());
    id.revocations.add(&id.db, ev).await?;
    id.changed().await;
    Ok(no_content())
}

// ---- implied roles -----------------------------------------------------------------------

fn inference(base: &str, prior: &Role, implied: &Role) -> Value {
    json!({
        "role_inference": {"prior_role": prior.brief(base), "implies": implied.brief(base)},
        "links": {"self": format!("{base}/v3/roles/{}/implies/{}", prior.id, implied.id)},
    })
}

async fn pair(id: &Identity, prior: &str, implied: &str) -> Result<(Role, Role)> {
    Ok((id.role(prior).await?, id.role(implied).await?))
}

/// `PUT /v3/roles/{prior}/implies/{implied}`
pub async fn imply(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path((prior, implied)): Path<(String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:create_implied_role", &json!({}))?;
    let (p, i) = pair(&id, &prior, &implied).await?;
    if PROHIBITED_IMPLIED.contains(&i.name.as_str()) {
        return Err(Error::ForbiddenMsg(format!(
            "{} may not be implied.",
            i.name
        )));
    }
    if p.domain_id.is_none() && i.domain_id.is_some() {
        return Err(Error::ForbiddenMsg(
            "A global role may not imply a domain-specific role.".into(),
        ));
    }
    // Refuse cycles.
    let table = id.role_table().await?;
    if p.id == i.id || table.expand([i.id.clone()]).contains(&p.id) {
        return Err(Error::ForbiddenMsg(format!(
            "Implying {} from {} would create a cycle.",
            i.name, p.name
        )));
    }
    match store::assignment::add_implied(&id.db, &p.id, &i.id).await {
        Ok(()) | Err(db::DbError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    id.changed().await;
    Ok(created(inference(&base, &p, &i)))
}

async fn implied_exists(id: &Identity, p: &Role, i: &Role) -> Result<()> {
    let rules = store::assignment::implied_rules(&id.db).await?;
    if rules.iter().any(|(a, b)| *a == p.id && *b == i.id) {
        Ok(())
    } else {
        Err(Error::NotFoundMsg(format!(
            "{} is not an implied role of {}.",
            i.id, p.id
        )))
    }
}

/// `GET /v3/roles/{prior}/implies/{implied}`
pub async fn get_implied(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path((prior, implied)): Path<(String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:get_implied_role", &json!({}))?;
    let (p, i) = pair(&id, &prior, &implied).await?;
    implied_exists(&id, &p, &i).await?;
    Ok(ok(inference(&base, &p, &i)))
}

/// `HEAD /v3/roles/{prior}/implies/{implied}`
pub async fn check_implied(
    State(id): St,
    ctx: Context,
    Path((prior, implied)): Path<(String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:check_implied_role", &json!({}))?;
    let (p, i) = pair(&id, &prior, &implied).await?;
    implied_exists(&id, &p, &i).await?;
    Ok(no_content())
}

/// `DELETE /v3/roles/{prior}/implies/{implied}`
pub async fn unimply(
    State(id): St,
    ctx: Context,
    Path((prior, implied)): Path<(String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:delete_implied_role", &json!({}))?;
    let (p, i) = pair(&id, &prior, &implied).await?;
    if store::assignment::remove_implied(&id.db, &p.id, &i.id).await? == 0 {
        return Err(Error::NotFoundMsg(format!(
            "{} is not an implied role of {}.",
            i.id, p.id
        )));
    }
    id.changed().await;
    Ok(no_content())
}

/// `GET /v3/roles/{prior}/implies`
pub async fn list_implied(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(prior): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:list_implied_roles", &json!({}))?;
    let p = id.role(&prior).await?;
    let table = id.role_table().await?;
    let implies: Vec<Value> = table
        .implies
        .get(&p.id)
        .map(|ids| {
            ids.iter()
                .filter_map(|i| table.roles.get(i))
                .map(|r| r.brief(&base))
                .collect()
        })
        .unwrap_or_default();
    Ok(ok(json!({
        "role_inference": {"prior_role": p.brief(&base), "implies": implies},
        "links": {"self": format!("{base}/v3/roles/{}/implies", p.id)},
    })))
}

/// `GET /v3/role_inferences`
pub async fn list_inferences(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
) -> Result<Response> {
    id.enforce(&ctx, "identity:list_role_inference_rules", &json!({}))?;
    let table = id.role_table().await?;
    let mut priors: Vec<&String> = table.implies.keys().collect();
    priors.sort();
    let items: Vec<Value> = priors
        .into_iter()
        .filter_map(|p| {
            let prior = table.roles.get(p)?;
            let implies: Vec<Value> = table.implies[p]
                .iter()
                .filter_map(|i| table.roles.get(i))
                .map(|r| r.brief(&base))
                .collect();
            Some(json!({"prior_role": prior.brief(&base), "implies": implies}))
        })
        .collect();
    Ok(collection(
        &id,
        "role_inferences",
        items,
        format!("{base}/v3/role_inferences"),
    ))
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/roles",
        get(
            list,
            "GET /v3/roles (global roles, or a domain's with domain_id)"
        ),
        post(create, "POST /v3/roles")
    );
    let r = api::route!(
        r,
        "/v3/roles/{role_id}",
        get(show, "GET /v3/roles/{id}"),
        patch(update, "PATCH /v3/roles/{id}"),
        delete(
            delete,
            "DELETE /v3/roles/{id}: assignments go with it, and tokens carrying it are revoked"
        )
    );
    let r = api::route!(
        r,
        "/v3/roles/{role_id}/implies",
        get(list_implied, "GET /v3/roles/{prior}/implies")
    );
    let r = api::route!(
        r,
        "/v3/roles/{prior}/implies/{implied}",
        get(get_implied, "GET /v3/roles/{prior}/implies/{implied}"),
        head(check_implied, "HEAD /v3/roles/{prior}/implies/{implied}"),
        put(imply, "PUT /v3/roles/{prior}/implies/{implied}"),
        delete(unimply, "DELETE /v3/roles/{prior}/implies/{implied}")
    );
    let r = api::route!(
        r,
        "/v3/role_inferences",
        get(list_inferences, "GET /v3/role_inferences")
    );
    r
}
