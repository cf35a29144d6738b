//! `/v3/projects` and project tags.

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::domains::tags_of;
use crate::api::params::{Fields, check_id, patch_map};
use crate::api::{Params, St, collection, created, member, no_content, ok};
use crate::model::{Project, new_id};
use crate::revoke::RevokeEvent;
use crate::{Error, Identity, Result, store};

const KNOWN: &[&str] = &[
    "id",
    "name",
    "domain_id",
    "parent_id",
    "is_domain",
    "description",
    "enabled",
    "tags",
    "options",
    "links",
];

/// keystone's `[DEFAULT] max_project_tree_depth`.
const MAX_DEPTH: usize = 5;

pub fn check_tag(t: &str) -> Result<()> {
    if t.is_empty() || t.chars().count() > 255 || t.contains('/') || t.contains(',') {
        return Err(Error::bad(format!(
            "Invalid input for field 'tags': '{t}' is not a valid tag (1-255 characters, no '/' or ',')."
        )));
    }
    Ok(())
}

fn target(p: &Project) -> Value {
    json!({"target": {"project": {"id": p.id, "domain_id": p.domain_id, "parent_id": p.parent_id, "name": p.name}}})
}

impl Identity {
    /// The domain a new project lands in when the request names none: the parent's, else
    /// the caller's scope domain, else the default domain.
    fn default_domain_for(&self, ctx: &Context) -> String {
        if let Some(d) = ctx.user.domain_id() {
            return d.to_string();
        }
        if let Some(p) = &ctx.user.project {
            return p.domain.id.clone();
        }
        self.cfg.default_domain_id.clone()
    }

    pub async fn create_project(
        &self,
        ctx: &Context,
        m: &serde_json::Map<String, Value>,
    ) -> Result<Project> {
        if m.opt_bool("is_domain")? == Some(true) {
            return self.create_domain(m).await;
        }
        let name = m.name("name", 64)?;
        let parent_id = m.opt_string("parent_id")?;
        let mut domain_id = m.opt_string("domain_id")?;
        if let Some(pid) = &parent_id {
            let parent = match store::resource::get(&self.db, pid).await? {
                Some(p) => p,
                None => return Err(Error::not_found("project", pid)),
            };
            let parent_domain = if parent.is_domain {
                parent.id.clone()
            } else {
                parent.domain_id.clone()
            };
            match &domain_id {
                Some(d) if *d != parent_domain => {
                    return Err(Error::bad(
                        "Cannot create project, the parent and the project must be in the same domain.",
                    ));
                }
                _ => domain_id = Some(parent_domain),
            }
            if !parent.is_domain {
                let depth = self.ancestors(&parent).await?.len() + 2;
                if depth > MAX_DEPTH {
                    return Err(Error::ForbiddenMsg(format!(
                        "Max hierarchy depth reached for {pid} branch."
                    )));
                }
                if !parent.enabled && m.opt_bool("enabled")?.unwrap_or(true) {
                    return Err(Error::ForbiddenMsg(format!(
                        "Cannot enable project {name} since it has disabled parents"
                    )));
                }
            }
        }
        let domain_id = domain_id.unwrap_or_else(|| self.default_domain_for(ctx));
        self.domain(&domain_id).await?;
        let p = Project {
            id: new_id(),
            name: name.clone(),
            domain_id: domain_id.clone(),
            parent_id: Some(parent_id.unwrap_or(domain_id)),
            is_domain: false,
            enabled: m.opt_bool("enabled")?.unwrap_or(true),
            description: m.opt_string("description")?,
            extra: m.extras(KNOWN),
            options: m.options(&["immutable"])?.unwrap_or_default(),
            tags: tags_of(m)?.unwrap_or_default(),
        };
        store::resource::insert(&self.db, &p, self.now_micros())
            .await
            .map_err(Error::or_duplicate("project", &name))?;
        self.changed().await;
        Ok(p)
    }
}

/// `POST /v3/projects`
pub async fn create(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "project")?;
    let t = json!({"target": {"project": {"domain_id": m.get("domain_id").cloned().unwrap_or(Value::Null)}}});
    id.enforce(&ctx, "identity:create_project", &t)?;
    let p = id.create_project(&ctx, m).await?;
    Ok(created(json!({"project": p.to_project_json(&base)})))
}

/// `GET /v3/projects`
pub async fn list(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    let t = json!({"target": {"domain_id": q.get("domain_id")}, "domain_id": q.get("domain_id")});
    id.enforce(&ctx, "identity:list_projects", &t)?;
    let mut f = store::resource::Filter {
        is_domain: Some(q.bool_filter("is_domain").unwrap_or(false)),
        domain_id: q.get("domain_id").map(str::to_string),
        name: q.get("name").map(str::to_string),
        enabled: q.bool_filter("enabled"),
        parent_id: q.get("parent_id").map(str::to_string),
        ..Default::default()
    };
    let mut ids: Option<Vec<String>> = None;
    let restrict = |ids: &mut Option<Vec<String>>, new: Vec<String>| {
        *ids = Some(match ids.take() {
            None => new,
            Some(old) => old.into_iter().filter(|i| new.contains(i)).collect(),
        });
    };
    let tags = q.list("tags");
    if !tags.is_empty() {
        let found = store::resource::ids_with_tags(&id.db, &tags, true).await?;
        restrict(&mut ids, found);
    }
    let any = q.list("tags-any");
    if !any.is_empty() {
        let found = store::resource::ids_with_tags(&id.db, &any, false).await?;
        restrict(&mut ids, found);
    }
    f.ids = ids;
    let mut items: Vec<_> = id.list_projects(&f).await?.as_ref().clone();
    let not = q.list("not-tags");
    if !not.is_empty() {
        let excluded = store::resource::ids_with_tags(&id.db, &not, true).await?;
        items.retain(|p| !excluded.contains(&p.id));
    }
    let not_any = q.list("not-tags-any");
    if !not_any.is_empty() {
        let excluded = store::resource::ids_with_tags(&id.db, &not_any, false).await?;
        items.retain(|p| !excluded.contains(&p.id));
    }
    let items = items.iter().map(|p| p.to_project_json(&base)).collect();
    Ok(collection(
        &id,
        "projects",
        items,
        format!("{base}/v3/projects"),
    ))
}

/// `GET /v3/projects/{id}` with `parents_as_list`, `subtree_as_list`, `parents_as_ids`,
/// `subtree_as_ids`.
pub async fn show(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(pid): Path<String>,
    q: Params,
) -> Result<Response> {
    check_id("project", &pid)?;
    let p = id.project_or_domain(&pid).await?;
    let t = target(&p);
    id.enforce(&ctx, "identity:get_project", &t)?;
    let mut v = p.to_project_json(&base);
    if q.flag("parents_as_list") || q.flag("parents_as_ids") {
        let ancestors = id.ancestors(&p).await?;
        if q.flag("parents_as_list") {
            v["parents"] = json!(
                ancestors
                    .iter()
                    .map(|a| json!({"project": a.to_project_json(&base)}))
                    .collect::<Vec<_>>()
            );
        } else {
            // Nested ids: {"parent": {"grandparent": null}}
            let mut nested = Value::Null;
            for a in ancestors.iter().rev() {
                nested = json!({ a.id.clone(): nested });
            }
            v["parents"] = nested;
        }
    }
    if q.flag("subtree_as_list") || q.flag("subtree_as_ids") {
        let ids = store::resource::subtree_ids(&id.db, &p.id).await?;
        let f = store::resource::Filter {
            ids: Some(ids),
            ..Default::default()
        };
        let sub = store::resource::list(&id.db, &f).await?;
        if q.flag("subtree_as_list") {
            v["subtree"] = json!(
                sub.iter()
                    .map(|s| json!({"project": s.to_project_json(&base)}))
                    .collect::<Vec<_>>()
            );
        } else {
            v["subtree"] = nest_children(&p.id, &sub);
        }
    }
    Ok(ok(json!({"project": v})))
}

fn nest_children(root: &str, all: &[Project]) -> Value {
    let children: Vec<&Project> = all
        .iter()
        .filter(|p| p.parent_id.as_deref() == Some(root))
        .collect();
    if children.is_empty() {
        return Value::Null;
    }
    let mut m = serde_json::Map::new();
    for c in children {
        m.insert(c.id.clone(), nest_children(&c.id, all));
    }
    Value::Object(m)
}

/// `PATCH /v3/projects/{id}`
pub async fn update(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(pid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let existing = id.project_or_domain(&pid).await?;
    let t = target(&existing);
    id.enforce(&ctx, "identity:update_project", &t)?;
    let m = member(&body, "project")?;
    let mut p = existing;
    if let Some(d) = m.get("domain_id")
        && d.as_str() != Some(p.domain_id.as_str())
    {
        return Err(Error::bad("Cannot change the domain_id of a project."));
    }
    if let Some(parent) = m.get("parent_id")
        && parent.as_str() != p.parent_id.as_deref()
    {
        return Err(Error::ForbiddenMsg(
            "Update of `parent_id` is not allowed.".into(),
        ));
    }
    if let Some(d) = m.get("is_domain")
        && d.as_bool() != Some(p.is_domain)
    {
        return Err(Error::bad("Update of `is_domain` is not allowed."));
    }
    if p.options.get("immutable").and_then(Value::as_bool) == Some(true) {
        let unlocking = m
            .get("options")
            .and_then(|o| o.get("immutable"))
            .is_some_and(|v| v == &json!(false) || v.is_null());
        if !unlocking {
            return Err(Error::ForbiddenMsg(format!(
                "Project {} is immutable; unset the immutable option first.",
                p.id
            )));
        }
    }
    let was_enabled = p.enabled;
    if m.contains_key("name") {
        p.name = m.name("name", 64)?;
    }
    if m.contains_key("description") {
        p.description = m.opt_string("description")?;
    }
    if let Some(e) = m.opt_bool("enabled")? {
        if e && !was_enabled {
            for a in id.ancestors(&p).await? {
                if !a.enabled {
                    return Err(Error::ForbiddenMsg(format!(
                        "Cannot enable project {} since it has disabled parents",
                        p.id
                    )));
                }
            }
        }
        if !e && was_enabled && !p.is_domain {
            let sub = store::resource::subtree_ids(&id.db, &p.id).await?;
            for s in sub {
                if store::resource::get(&id.db, &s)
                    .await?
                    .is_some_and(|c| c.enabled)
                {
                    return Err(Error::ForbiddenMsg(format!(
                        "Cannot disable project {} since its subtree contains enabled projects.",
                        p.id
                    )));
                }
            }
        }
        p.enabled = e;
    }
    if let Some(t) = tags_of(m)? {
        p.tags = t;
    }
    if let Some(o) = m.options(&["immutable"])? {
        patch_map(&mut p.options, o);
    }
    for (k, v) in m.extras(KNOWN) {
        p.extra.insert(k, v);
    }
    store::resource::update(&id.db, &p)
        .await
        .map_err(Error::or_duplicate("project", &p.name))?;
    if was_enabled && !p.enabled {
        let mut ev = RevokeEvent::new(id.now());
        if p.is_domain {
            ev.domain_id = Some(p.id.clone());
        } else {
            ev.project_id = Some(p.id.clone());
        }
        id.revocations.add(&id.db, ev).await?;
    }
    id.changed().await;
    Ok(ok(json!({"project": p.to_project_json(&base)})))
}

/// `DELETE /v3/projects/{id}`: refused while it has children.
pub async fn delete(State(id): St, ctx: Context, Path(pid): Path<String>) -> Result<Response> {
    let existing = id.project_or_domain(&pid).await?;
    let t = target(&existing);
    id.enforce(&ctx, "identity:delete_project", &t)?;
    let p = existing;
    if p.options.get("immutable").and_then(Value::as_bool) == Some(true) {
        return Err(Error::ForbiddenMsg(format!(
            "Project {} is immutable.",
            p.id
        )));
    }
    if p.is_domain {
        // A domain deleted through the projects API: the domain rules apply.
        if p.enabled {
            return Err(Error::ForbiddenMsg(
                "Cannot delete a domain that is enabled, please disable it first.".into(),
            ));
        }
        id.delete_domain_contents(&p.id).await?;
        store::resource::delete(&id.db, std::slice::from_ref(&p.id)).await?;
        id.changed().await;
        return Ok(no_content());
    }
    if !store::resource::subtree_ids(&id.db, &p.id)
        .await?
        .is_empty()
    {
        return Err(Error::ForbiddenMsg(format!(
            "Cannot delete the project {} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree.",
            p.id
        )));
    }
    store::resource::delete(&id.db, std::slice::from_ref(&p.id)).await?;
    let mut ev = RevokeEvent::new(id.now());
    ev.project_id = Some(p.id.clone());
    id.revocations.add(&id.db, ev).await?;
    id.changed().await;
    Ok(no_content())
}

// ---- tags --------------------------------------------------------------------------------

/// `GET /v3/projects/{id}/tags`
pub async fn list_tags(State(id): St, ctx: Context, Path(pid): Path<String>) -> Result<Response> {
    let p = id.project(&pid).await?;
    let t = target(&p);
    id.enforce(&ctx, "identity:list_project_tags", &t)?;
    Ok(ok(json!({"tags": p.tags})))
}

/// `PUT /v3/projects/{id}/tags`: replace all tags.
pub async fn replace_tags(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(pid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let p = id.project(&pid).await?;
    let t = target(&p);
    id.enforce(&ctx, "identity:update_project_tags", &t)?;
    let mut p = p;
    let m = body
        .as_object()
        .ok_or_else(|| Error::bad("Invalid input: a JSON object with 'tags' was expected."))?;
    p.tags = tags_of(m)?.ok_or_else(|| Error::missing("tags", "request body"))?;
    store::resource::update(&id.db, &p).await?;
    id.changed().await;
    let mut v = p.to_project_json(&base);
    v["tags"] = json!(p.tags);
    Ok(ok(v))
}

/// `DELETE /v3/projects/{id}/tags`
pub async fn clear_tags(State(id): St, ctx: Context, Path(pid): Path<String>) -> Result<Response> {
    let p = id.project(&pid).await?;
    let t = target(&p);
    id.enforce(&ctx, "identity:delete_project_tags", &t)?;
    let mut p = p;
    p.tags.clear();
    store::resource::update(&id.db, &p).await?;
    id.changed().await;
    Ok(no_content())
}

/// `GET|HEAD /v3/projects/{id}/tags/{tag}`: 204 when present.
pub async fn check_tag_handler(
    State(id): St,
    ctx: Context,
    Path((pid, tag)): Path<(String, String)>,
) -> Result<Response> {
    let p = id.project(&pid).await?;
    let t = target(&p);
    id.enforce(&ctx, "identity:get_project_tag", &t)?;
    if p.tags.contains(&tag) {
        Ok(no_content())
    } else {
        Err(Error::NotFoundMsg(format!(
            "Tag {tag} not found for project {pid}."
        )))
    }
}

/// `PUT /v3/projects/{id}/tags/{tag}`
pub async fn add_tag(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path((pid, tag)): Path<(String, String)>,
) -> Result<Response> {
    let p = id.project(&pid).await?;
    let t = target(&p);
    id.enforce(&ctx, "identity:create_project_tag", &t)?;
    let mut p = p;
    check_tag(&tag)?;
    if !p.tags.contains(&tag) {
        if p.tags.len() >= 80 {
            return Err(Error::bad("A project may have at most 80 tags."));
        }
        p.tags.push(tag);
        store::resource::update(&id.db, &p).await?;
        id.changed().await;
    }
    let _ = base;
    Ok(axum::response::IntoResponse::into_response(
        axum::http::StatusCode::CREATED,
    ))
}

/// `DELETE /v3/projects/{id}/tags/{tag}`
pub async fn delete_tag(
    State(id): St,
    ctx: Context,
    Path((pid, tag)): Path<(String, String)>,
) -> Result<Response> {
    let p = id.project(&pid).await?;
    let t = target(&p);
    id.enforce(&ctx, "identity:delete_project_tag", &t)?;
    let mut p = p;
    let before = p.tags.len();
    p.tags.retain(|x| x != &tag);
    if p.tags.len() == before {
        return Err(Error::NotFoundMsg(format!(
            "Tag {tag} not found for project {pid}."
        )));
    }
    store::resource::update(&id.db, &p).await?;
    id.changed().await;
    Ok(no_content())
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/projects",
        get(list, "GET /v3/projects"),
        post(create, "POST /v3/projects")
    );
    let r = api::route!(
        r,
        "/v3/projects/{project_id}",
        get(
            show,
            "GET /v3/projects/{id} with parents_as_list, subtree_as_list, parents_as_ids,"
        ),
        patch(update, "PATCH /v3/projects/{id}"),
        delete(
            delete,
            "DELETE /v3/projects/{id}: refused while it has children"
        )
    );
    let r = api::route!(
        r,
        "/v3/projects/{project_id}/tags",
        get(list_tags, "GET /v3/projects/{id}/tags"),
        put(replace_tags, "PUT /v3/projects/{id}/tags: replace all tags"),
        delete(clear_tags, "DELETE /v3/projects/{id}/tags")
    );
    let r = api::route!(
        r,
        "/v3/projects/{project_id}/tags/{tag}",
        get(
            check_tag_handler,
            "GET|HEAD /v3/projects/{id}/tags/{tag}: 204 when present"
        ),
        put(add_tag, "PUT /v3/projects/{id}/tags/{tag}"),
        delete(delete_tag, "DELETE /v3/projects/{id}/tags/{tag}")
    );
    r
}
