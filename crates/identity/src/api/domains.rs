//! `/v3/domains`

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::params::{Fields, check_id, patch_map};
use crate::api::{Params, St, collection, created, member, no_content, ok};
use crate::model::{Project, new_id};
use crate::revoke::RevokeEvent;
use crate::schema::ROOT_DOMAIN;
use crate::{Error, Identity, Result, store};

const KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "enabled",
    "tags",
    "options",
    "explicit_domain_id",
    "links",
];

pub(crate) fn tags_of(m: &serde_json::Map<String, Value>) -> Result<Option<Vec<String>>> {
    match m.get("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => {
            if a.len() > 80 {
                return Err(Error::bad(
                    "Invalid input for field 'tags': at most 80 tags are allowed.",
                ));
            }
            let mut out = Vec::with_capacity(a.len());
            for t in a {
                let s = t.as_str().ok_or_else(|| {
                    Error::bad("Invalid input for field 'tags': tags must be strings.")
                })?;
                crate::api::projects::check_tag(s)?;
                if !out.iter().any(|x: &String| x == s) {
                    out.push(s.to_string());
                }
            }
            Ok(Some(out))
        }
        Some(_) => Err(Error::bad(
            "Invalid input for field 'tags': it must be a list.",
        )),
    }
}

/// `POST /v3/domains`
pub async fn create(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:create_domain", &json!({}))?;
    let m = member(&body, "domain")?;
    let d = id.create_domain(m).await?;
    Ok(created(json!({"domain": d.to_domain_json(&base)})))
}

impl Identity {
    pub async fn create_domain(&self, m: &serde_json::Map<String, Value>) -> Result<Project> {
        let name = m.name("name", 64)?;
        let domain_id = match m.opt_string("explicit_domain_id")? {
            Some(e) => e,
            None => new_id(),
        };
        let d = Project {
            id: domain_id,
            name: name.clone(),
            domain_id: ROOT_DOMAIN.into(),
            parent_id: None,
            is_domain: true,
            enabled: m.opt_bool("enabled")?.unwrap_or(true),
            description: m.opt_string("description")?,
            extra: m.extras(KNOWN),
            options: m.options(&["immutable"])?.unwrap_or_default(),
            tags: tags_of(m)?.unwrap_or_default(),
        };
        store::resource::insert(&self.db, &d, self.now_micros())
            .await
            .map_err(Error::or_duplicate("domain", &name))?;
        self.changed().await;
        Ok(d)
    }
}

/// `GET /v3/domains`
pub async fn list(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    id.enforce(&ctx, "identity:list_domains", &json!({}))?;
    let f = store::resource::Filter {
        is_domain: Some(true),
        name: q.get("name").map(str::to_string),
        enabled: q.bool_filter("enabled"),
        ..Default::default()
    };
    let items = id
        .list_projects(&f)
        .await?
        .iter()
        .map(|d| d.to_domain_json(&base))
        .collect();
    Ok(collection(
        &id,
        "domains",
        items,
        format!("{base}/v3/domains"),
    ))
}

fn target(d: &Project) -> Value {
    json!({"target": {"domain": {"id": d.id, "name": d.name}}, "domain_id": d.id})
}

/// `GET /v3/domains/{id}`
pub async fn show(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(did): Path<String>,
) -> Result<Response> {
    check_id("domain", &did)?;
    let d = id.domain(&did).await?;
    let t = target(&d);
    id.enforce(&ctx, "identity:get_domain", &t)?;
    Ok(ok(json!({"domain": d.to_domain_json(&base)})))
}

/// `PATCH /v3/domains/{id}`
pub async fn update(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(did): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(
        &ctx,
        "identity:update_domain",
        &json!({"target": {"domain": {"id": did}}}),
    )?;
    let m = member(&body, "domain")?;
    let mut d = id.domain(&did).await?;
    if let Some(v) = m.get("id")
        && v.as_str() != Some(d.id.as_str())
    {
        return Err(Error::bad("Cannot change the ID of a domain."));
    }
    let was_enabled = d.enabled;
    if m.contains_key("name") {
        d.name = m.name("name", 64)?;
    }
    if m.contains_key("description") {
        d.description = m.opt_string("description")?;
    }
    if let Some(e) = m.opt_bool("enabled")? {
        d.enabled = e;
    }
    if let Some(t) = tags_of(m)? {
        d.tags = t;
    }
    if let Some(o) = m.options(&["immutable"])? {
        patch_map(&mut d.options, o);
    }
    for (k, v) in m.extras(KNOWN) {
        d.extra.insert(k, v);
    }
    store::resource::update(&id.db, &d)
        .await
        .map_err(Error::or_duplicate("domain", &d.name))?;
    if was_enabled && !d.enabled {
        let mut ev = RevokeEvent::new(id.now());
        ev.domain_id = Some(d.id.clone());
        id.revocations.add(&id.db, ev).await?;
    }
    id.changed().await;
    Ok(ok(json!({"domain": d.to_domain_json(&base)})))
}

/// `DELETE /v3/domains/{id}`: only disabled domains; everything in them goes too.
pub async fn delete(State(id): St, ctx: Context, Path(did): Path<String>) -> Result<Response> {
    id.enforce(
        &ctx,
        "identity:delete_domain",
        &json!({"target": {"domain": {"id": did}}}),
    )?;
    let d = id.domain(&did).await?;
    if d.enabled {
        return Err(Error::ForbiddenMsg(
            "Cannot delete a domain that is enabled, please disable it first.".into(),
        ));
    }
    id.delete_domain_contents(&d.id).await?;
    store::resource::delete(&id.db, std::slice::from_ref(&d.id)).await?;
    id.changed().await;
    Ok(no_content())
}

impl Identity {
    /// Remove the projects, users, groups and domain-specific roles of a domain.
    pub async fn delete_domain_contents(&self, domain_id: &str) -> Result<()> {
        let f = store::resource::Filter {
            domain_id: Some(domain_id.to_string()),
            is_domain: Some(false),
            ..Default::default()
        };
        let ids: Vec<String> = store::resource::list(&self.db, &f)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        store::resource::delete(&self.db, &ids).await?;
        let uf = store::users::UserFilter {
            domain_id: Some(domain_id.to_string()),
            ..Default::default()
        };
        for u in store::users::list(&self.db, &uf).await? {
            store::users::delete(&self.db, &u.id).await?;
        }
        for g in store::users::list_groups(&self.db, Some(domain_id), None, None).await? {
            store::users::delete_group(&self.db, &g.id).await?;
        }
        for r in store::assignment::list_roles(&self.db, None, Some(domain_id)).await? {
            store::assignment::delete_role(&self.db, &r.id).await?;
        }
        Ok(())
    }
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/domains",
        get(list, "GET /v3/domains"),
        post(create, "POST /v3/domains")
    );
    let r = api::route!(
        r,
        "/v3/domains/{domain_id}",
        get(show, "GET /v3/domains/{id}"),
        patch(update, "PATCH /v3/domains/{id}"),
        delete(
            delete,
            "DELETE /v3/domains/{id}: only disabled domains; everything in them goes too"
        )
    );
    r
}
