//! Metadata definitions (`/v2/metadefs/*`): namespaces, objects, properties, tags and
//! resource type associations, with Glance's visibility (public, or the owner's private
//! ones) and admin-only changes.

use std::sync::Arc;

use api::openapi::Routes;
use api::query::Params;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::api::St;
use crate::metadefs::{self as md, Association, Item, Kind, Namespace, NewChildren};
use crate::model::glance_time;
use crate::{Error, ImageService, Result};

type Body = api::Json<Value>;

const READ_ONLY: &[&str] = &["self", "schema", "created_at", "updated_at"];
const PROPERTY_FIELDS: &[&str] = &[
    "title",
    "description",
    "operators",
    "type",
    "default",
    "readonly",
    "minimum",
    "maximum",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "confidential",
    "items",
    "uniqueItems",
    "minItems",
    "maxItems",
    "additionalItems",
];
const PROPERTY_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];
const NAME_MAX: usize = 80;

fn ns_not_found(ns: &str) -> Error {
    Error::NotFound(format!("Namespace {ns} not found"))
}

fn invalid(schema: &str, why: impl std::fmt::Display) -> Error {
    Error::BadRequest(format!(
        "Provided object does not match schema '{schema}': {why}"
    ))
}

fn body_object<'a>(body: &'a Value, schema: &str) -> Result<&'a Map<String, Value>> {
    let o = body
        .as_object()
        .ok_or_else(|| invalid(schema, format!("{body} is not of type 'object'")))?;
    if let Some(k) = READ_ONLY.iter().find(|k| o.contains_key(**k)) {
        return Err(Error::Forbidden(format!("Attribute '{k}' is read-only.")));
    }
    Ok(o)
}

/// A string field: absent/null → `None`, a string up to `max` chars, else 400.
fn opt_str(o: &Map<String, Value>, k: &str, schema: &str, max: usize) -> Result<Option<String>> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(invalid(schema, format!("{s:?} is too long"))),
        Some(v) => Err(invalid(schema, format!("{v} is not of type 'string'"))),
    }
}

fn req_name(o: &Map<String, Value>, k: &str, schema: &str) -> Result<String> {
    match opt_str(o, k, schema, NAME_MAX)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(invalid(schema, format!("'{k}' should be non-empty"))),
        None => Err(invalid(schema, format!("'{k}' is a required property"))),
    }
}

fn opt_bool(o: &Map<String, Value>, k: &str, schema: &str) -> Result<Option<bool>> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(invalid(schema, format!("{v} is not of type 'boolean'"))),
    }
}

/// A property definition (JSON schema of one metadata key): `title` and `type` required.
fn property_body(v: &Value, schema: &str) -> Result<Map<String, Value>> {
    let o = v
        .as_object()
        .ok_or_else(|| invalid(schema, format!("{v} is not of type 'object'")))?;
    match o.get("title") {
        Some(Value::String(_)) => {}
        Some(t) => return Err(invalid(schema, format!("{t} is not of type 'string'"))),
        None => return Err(invalid(schema, "'title' is a required property")),
    }
    match o.get("type") {
        Some(Value::String(t)) if PROPERTY_TYPES.contains(&t.as_str()) => {}
        Some(Value::Null) => {}
        Some(t) => {
            return Err(invalid(
                schema,
                format!("{t} is not one of {PROPERTY_TYPES:?}"),
            ));
        }
        None => return Err(invalid(schema, "'type' is a required property")),
    }
    for k in ["minimum", "maximum"] {
        if let Some(x) = o.get(k)
            && !x.is_number()
            && !x.is_null()
        {
            return Err(invalid(schema, format!("{x} is not of type 'number'")));
        }
    }
    for k in ["minLength", "maxLength", "minItems", "maxItems"] {
        if let Some(x) = o.get(k)
            && !x.is_null()
            && x.as_u64().is_none()
        {
            return Err(invalid(schema, format!("{x} is not a positive integer")));
        }
    }
    if let Some(e) = o.get("enum")
        && !e.is_array()
        && !e.is_null()
    {
        return Err(invalid(schema, format!("{e} is not of type 'array'")));
    }
    Ok(o.iter()
        .filter(|(k, v)| PROPERTY_FIELDS.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

/// `{"name": {property}, ...}` as stored items.
fn property_map(v: Option<&Value>, schema: &str, now: i64) -> Result<Vec<Item>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let o = v
        .as_object()
        .ok_or_else(|| invalid(schema, format!("{v} is not of type 'object'")))?;
    o.iter()
        .map(|(name, p)| {
            if name.chars().count() > NAME_MAX {
                return Err(invalid(schema, format!("{name:?} is too long")));
            }
            Ok(Item {
                name: name.clone(),
                body: property_body(p, schema)?,
                created_at: now,
                updated_at: now,
            })
        })
        .collect()
}

fn properties_json(items: &[Item]) -> Value {
    Value::Object(
        items
            .iter()
            .map(|i| (i.name.clone(), Value::Object(i.body.clone())))
            .collect(),
    )
}

fn object_item(v: &Value, now: i64) -> Result<Item> {
    const S: &str = "object";
    let o = body_object(v, S)?;
    let name = req_name(o, "name", S)?;
    let mut body = Map::new();
    if let Some(d) = opt_str(o, "description", S, usize::MAX)? {
        body.insert("description".into(), json!(d));
    }
    match o.get("required") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            body.insert("required".into(), json!(a));
        }
        Some(r) => return Err(invalid(S, format!("{r} is not an array of strings"))),
    }
    let props = property_map(o.get("properties"), S, now)?;
    if !props.is_empty() {
        body.insert("properties".into(), properties_json(&props));
    }
    Ok(Item {
        name,
        body,
        created_at: now,
        updated_at: now,
    })
}

fn object_json(ns: &str, i: &Item) -> Value {
    let mut v = Value::Object(i.body.clone());
    v["name"] = json!(i.name);
    v["created_at"] = json!(glance_time(i.created_at));
    v["updated_at"] = json!(glance_time(i.updated_at));
    v["self"] = json!(format!("/v2/metadefs/namespaces/{ns}/objects/{}", i.name));
    v["schema"] = json!("/v2/schemas/metadefs/object");
    v
}

fn property_json(i: &Item) -> Value {
    let mut v = Value::Object(i.body.clone());
    v["name"] = json!(i.name);
    v
}

fn tag_json(i: &Item) -> Value {
    json!({"name": i.name, "created_at": glance_time(i.created_at),
           "updated_at": glance_time(i.updated_at)})
}

fn tag_item(v: &Value, now: i64) -> Result<Item> {
    let o = body_object(v, "tag")?;
    Ok(Item {
        name: req_name(o, "name", "tag")?,
        body: Map::new(),
        created_at: now,
        updated_at: now,
    })
}

fn association(v: &Value, now: i64) -> Result<Association> {
    const S: &str = "resource_type_association";
    let o = body_object(v, S)?;
    Ok(Association {
        name: req_name(o, "name", S)?,
        prefix: opt_str(o, "prefix", S, NAME_MAX)?,
        properties_target: opt_str(o, "properties_target", S, NAME_MAX)?,
        created_at: now,
        updated_at: now,
    })
}

fn created(v: Value, location: Option<String>) -> Response {
    let mut r = (StatusCode::CREATED, axum::Json(v)).into_response();
    if let Some(l) = location.and_then(|l| l.parse().ok()) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    r
}

fn dup(e: db::DbError, what: String) -> Error {
    match e {
        db::DbError::Conflict(_) => Error::Conflict(what),
        other => other.into(),
    }
}

impl ImageService {
    /// A namespace the caller may see (`action` is the read rule to check), else 404.
    async fn visible_namespace(
        &self,
        ctx: &Context,
        name: &str,
        action: &str,
    ) -> Result<Namespace> {
        let ns = md::get(&self.db, name)
            .await?
            .ok_or_else(|| ns_not_found(name))?;
        let visible = self.is_admin(ctx)
            || ns.visibility == "public"
            || Some(ns.owner.as_str()) == ctx.user.project_id();
        if !visible || !self.allowed(ctx, action, &ns.target()) {
            return Err(ns_not_found(name));
        }
        Ok(ns)
    }

    /// A namespace the caller may see and change with `action`: 404 if unseen, 403 if denied.
    async fn changeable_namespace(
        &self,
        ctx: &Context,
        name: &str,
        action: &str,
    ) -> Result<Namespace> {
        let ns = self
            .visible_namespace(ctx, name, "get_metadef_namespace")
            .await?;
        self.enforce(ctx, action, &ns.target())?;
        Ok(ns)
    }

    /// A namespace with its objects, properties, tags and associations, as `GET` shows it.
    async fn namespace_detail(&self, ns: &Namespace, resource_type: Option<&str>) -> Result<Value> {
        let mut v = ns.to_json();
        let objects = md::items(&self.db, Kind::Object, &ns.id).await?;
        if !objects.is_empty() {
            v["objects"] = objects
                .iter()
                .map(|o| object_json(&ns.namespace, o))
                .collect();
        }
        let assoc = md::associations(&self.db, &ns.id).await?;
        if !assoc.is_empty() {
            v["resource_type_associations"] = assoc.iter().map(Association::to_json).collect();
        }
        let mut props = md::items(&self.db, Kind::Property, &ns.id).await?;
        if let Some(prefix) = resource_type
            .and_then(|rt| assoc.iter().find(|a| a.name == rt))
            .and_then(|a| a.prefix.as_deref())
        {
            for p in &mut props {
                p.name = format!("{prefix}{}", p.name);
            }
        }
        if !props.is_empty() {
            v["properties"] = properties_json(&props);
        }
        let tags = md::items(&self.db, Kind::Tag, &ns.id).await?;
        if !tags.is_empty() {
            v["tags"] = tags.iter().map(|t| json!({"name": t.name})).collect();
        }
        Ok(v)
    }
}

// ---- namespaces ---------------------------------------------------------------------------

/// The namespace fields of a create/update body.
struct NsFields {
    namespace: String,
    display_name: Option<String>,
    description: Option<String>,
    visibility: Option<String>,
    protected: Option<bool>,
    owner: Option<String>,
}

fn ns_fields(o: &Map<String, Value>) -> Result<NsFields> {
    const S: &str = "namespace";
    let visibility = opt_str(o, "visibility", S, 32)?;
    if let Some(v) = &visibility
        && v != "public"
        && v != "private"
    {
        return Err(invalid(
            S,
            format!("{v:?} is not one of ['public', 'private']"),
        ));
    }
    Ok(NsFields {
        namespace: req_name(o, "namespace", S)?,
        display_name: opt_str(o, "display_name", S, NAME_MAX)?,
        description: opt_str(o, "description", S, 500)?,
        visibility,
        protected: opt_bool(o, "protected", S)?,
        owner: opt_str(o, "owner", S, 255)?,
    })
}

fn array<'a>(o: &'a Map<String, Value>, k: &str, schema: &str) -> Result<&'a [Value]> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(v) => Err(invalid(schema, format!("{v} is not of type 'array'"))),
    }
}

/// Glance's policy target when no namespace is involved: the caller's own project.
fn own_target(ctx: &Context) -> Value {
    json!({"project_id": ctx.user.project_id()})
}

/// `POST /v2/metadefs/namespaces`
pub async fn create_namespace(State(svc): St, ctx: Context, body: Body) -> Result<Response> {
    let api::Json(body) = body;
    let o = body_object(&body, "namespace")?;
    let f = ns_fields(o)?;
    let now = svc.now();
    let children = NewChildren {
        associations: array(o, "resource_type_associations", "namespace")?
            .iter()
            .map(|a| association(a, now))
            .collect::<Result<_>>()?,
        objects: array(o, "objects", "namespace")?
            .iter()
            .map(|x| object_item(x, now))
            .collect::<Result<_>>()?,
        properties: property_map(o.get("properties"), "namespace", now)?,
        tags: array(o, "tags", "namespace")?
            .iter()
            .map(|t| tag_item(t, now))
            .collect::<Result<_>>()?,
    };
    let empty = own_target(&ctx);
    svc.enforce(&ctx, "add_metadef_namespace", &empty)?;
    for (present, rule) in [
        (
            !children.associations.is_empty(),
            "add_metadef_resource_type_association",
        ),
        (!children.objects.is_empty(), "add_metadef_object"),
        (!children.properties.is_empty(), "add_metadef_property"),
        (!children.tags.is_empty(), "add_metadef_tag"),
    ] {
        if present {
            svc.enforce(&ctx, rule, &empty)?;
        }
    }
    let ns = Namespace {
        id: uuid::Uuid::new_v4().to_string(),
        namespace: f.namespace,
        display_name: f.display_name,
        description: f.description,
        visibility: f.visibility.unwrap_or_else(|| "private".into()),
        protected: f.protected.unwrap_or(false),
        owner: f
            .owner
            .or_else(|| ctx.user.project_id().map(str::to_string))
            .unwrap_or_default(),
        created_at: now,
        updated_at: now,
    };
    md::insert(&svc.db, &ns, &children).await.map_err(|e| {
        dup(
            e,
            format!(
                "A metadata definition namespace with name={} already exists, or the request repeats a child name.",
                ns.namespace
            ),
        )
    })?;
    let v = svc.namespace_detail(&ns, None).await?;
    Ok(created(v, Some(ns.href())))
}

/// `sort_dir` of a listing: `asc`, or `desc` (the default).
fn ascending(params: &Params) -> Result<bool> {
    match params.get("sort_dir").unwrap_or("desc") {
        "asc" => Ok(true),
        "desc" => Ok(false),
        d => Err(Error::BadRequest(format!("Invalid sort direction: {d}"))),
    }
}

/// `limit` of a listing, capped at 1000 as glance's `api_limit_max`.
fn limit(params: &Params) -> Result<Option<usize>> {
    params
        .get("limit")
        .map(|l| match l.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(n.min(1000) as usize),
            Ok(_) => Err(Error::BadRequest("limit param must be positive".into())),
            Err(_) => Err(Error::BadRequest("limit param must be an integer".into())),
        })
        .transpose()
}

/// `GET /v2/metadefs/namespaces`
pub async fn list_namespaces(State(svc): St, ctx: Context, params: Params) -> Result<Response> {
    svc.enforce(&ctx, "get_metadef_namespaces", &own_target(&ctx))?;
    let ascending = ascending(&params)?;
    let sort_key = params.get("sort_key").unwrap_or("created_at");
    if !matches!(sort_key, "created_at" | "updated_at" | "namespace") {
        return Err(Error::BadRequest(format!("Invalid sort key: {sort_key}")));
    }
    let visibility = params.get("visibility").map(str::to_string);
    if let Some(v) = &visibility
        && v != "public"
        && v != "private"
    {
        return Err(Error::BadRequest(format!("Invalid visibility value: {v}")));
    }
    let limit = limit(&params)?.unwrap_or(25);
    let marker = match params.get("marker") {
        Some(m) => Some(
            svc.visible_namespace(&ctx, m, "get_metadef_namespace")
                .await?,
        ),
        None => None,
    };
    let q = md::ListQuery {
        viewer: (!svc.is_admin(&ctx)).then(|| ctx.user.project_id().unwrap_or("").to_string()),
        visibility,
        resource_types: params
            .get("resource_types")
            .map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        sort_key: sort_key.to_string(),
        ascending,
        marker,
        limit,
    };
    let (page, more) = md::list(&svc.db, &q).await?;
    let mut out = Vec::with_capacity(page.len());
    for ns in &page {
        if !svc.allowed(&ctx, "get_metadef_namespace", &ns.target()) {
            continue;
        }
        let mut v = ns.to_json();
        let assoc = md::associations(&svc.db, &ns.id).await?;
        if !assoc.is_empty() {
            v["resource_type_associations"] = assoc.iter().map(Association::to_json).collect();
        }
        out.push(v);
    }
    let rest: Vec<(String, String)> = params
        .0
        .iter()
        .filter(|(k, _)| k != "marker")
        .cloned()
        .collect();
    let encode = |pairs: &[(String, String)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let base = "/v2/metadefs/namespaces";
    let first = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", encode(&rest))
    };
    let mut body = json!({"namespaces": out, "first": first,
                          "schema": "/v2/schemas/metadefs/namespaces"});
    if more && let Some(last) = page.last() {
        let mut next = rest.clone();
        next.push(("marker".into(), last.namespace.clone()));
        body["next"] = json!(format!("{base}?{}", encode(&next)));
    }
    Ok(axum::Json(body).into_response())
}

/// `GET /v2/metadefs/namespaces/{namespace}`
pub async fn show_namespace(
    State(svc): St,
    ctx: Context,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response> {
    let ns = svc
        .visible_namespace(&ctx, &name, "get_metadef_namespace")
        .await?;
    let v = svc
        .namespace_detail(&ns, params.get("resource_type"))
        .await?;
    Ok(axum::Json(v).into_response())
}

/// `PUT /v2/metadefs/namespaces/{namespace}`: replaces the namespace's own fields.
pub async fn update_namespace(
    State(svc): St,
    ctx: Context,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response> {
    let api::Json(body) = body;
    let mut ns = svc
        .changeable_namespace(&ctx, &name, "modify_metadef_namespace")
        .await?;
    let f = ns_fields(body_object(&body, "namespace")?)?;
    ns.namespace = f.namespace;
    ns.display_name = f.display_name;
    ns.description = f.description;
    ns.visibility = f.visibility.unwrap_or_else(|| "private".into());
    ns.protected = f.protected.unwrap_or(false);
    ns.owner = f
        .owner
        .or_else(|| ctx.user.project_id().map(str::to_string))
        .unwrap_or_default();
    ns.updated_at = svc.now();
    md::update(&svc.db, &ns).await.map_err(|e| {
        dup(
            e,
            format!(
                "A metadata definition namespace with name={} already exists.",
                ns.namespace
            ),
        )
    })?;
    Ok(axum::Json(ns.to_json()).into_response())
}

fn protected(ns: &Namespace) -> Result<()> {
    if ns.protected {
        return Err(Error::Forbidden(format!(
            "Metadata definition namespace {} is protected and cannot be deleted.",
            ns.namespace
        )));
    }
    Ok(())
}

/// `DELETE /v2/metadefs/namespaces/{namespace}`
pub async fn delete_namespace(
    State(svc): St,
    ctx: Context,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    let ns = svc
        .changeable_namespace(&ctx, &name, "delete_metadef_namespace")
        .await?;
    protected(&ns)?;
    md::delete(&svc.db, &ns.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v2/metadefs/namespaces/{namespace}/{objects|properties|tags}`
async fn delete_all(
    svc: &ImageService,
    ctx: &Context,
    name: &str,
    kind: Kind,
) -> Result<StatusCode> {
    let rule = match kind {
        Kind::Object => "delete_metadef_namespace",
        Kind::Property => "delete_metadef_namespace",
        Kind::Tag => "delete_metadef_tags",
    };
    let ns = svc.changeable_namespace(ctx, name, rule).await?;
    protected(&ns)?;
    md::delete_items(&svc.db, kind, &ns.id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_objects(
    State(svc): St,
    ctx: Context,
    Path(ns): Path<String>,
) -> Result<StatusCode> {
    delete_all(&svc, &ctx, &ns, Kind::Object).await
}

pub async fn delete_properties(
    State(svc): St,
    ctx: Context,
    Path(ns): Path<String>,
) -> Result<StatusCode> {
    delete_all(&svc, &ctx, &ns, Kind::Property).await
}

pub async fn delete_tags(
    State(svc): St,
    ctx: Context,
    Path(ns): Path<String>,
) -> Result<StatusCode> {
    delete_all(&svc, &ctx, &ns, Kind::Tag).await
}

// ---- children (objects, properties, tags) -------------------------------------------------

fn child_not_found(kind: Kind, ns: &str, name: &str) -> Error {
    Error::NotFound(format!(
        "The metadata definition {} with name={name} was not found in namespace={ns}.",
        kind.noun()
    ))
}

/// One child of a namespace the caller may see (`rule` is the get policy).
async fn find_child(
    svc: &ImageService,
    ctx: &Context,
    kind: Kind,
    ns_name: &str,
    key: &str,
    rule: &str,
) -> Result<(Namespace, Item)> {
    let ns = svc.visible_namespace(ctx, ns_name, rule).await?;
    let item = md::item(&svc.db, kind, &ns.id, key)
        .await?
        .ok_or_else(|| child_not_found(kind, ns_name, key))?;
    Ok((ns, item))
}

/// Replace (and possibly rename) one child from a request body built by `build`.
async fn replace_child(
    svc: &ImageService,
    ctx: &Context,
    kind: Kind,
    (ns_name, key): (&str, &str),
    rule: &str,
    build: impl FnOnce(i64) -> Result<Item>,
) -> Result<(Namespace, Item)> {
    let ns = svc.changeable_namespace(ctx, ns_name, rule).await?;
    let old = md::item(&svc.db, kind, &ns.id, key)
        .await?
        .ok_or_else(|| child_not_found(kind, ns_name, key))?;
    let mut item = build(svc.now())?;
    item.created_at = old.created_at;
    update_item(svc, kind, &ns, key, &item).await?;
    Ok((ns, item))
}

/// Delete one child.
async fn remove_child(
    svc: &ImageService,
    ctx: &Context,
    kind: Kind,
    (ns_name, key): (&str, &str),
    rule: &str,
) -> Result<StatusCode> {
    let ns = svc.changeable_namespace(ctx, ns_name, rule).await?;
    if md::delete_items(&svc.db, kind, &ns.id, Some(key)).await? == 0 {
        return Err(child_not_found(kind, ns_name, key));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---- objects ------------------------------------------------------------------------------

/// `GET /v2/metadefs/namespaces/{namespace}/objects`
pub async fn list_objects(
    State(svc): St,
    ctx: Context,
    Path(name): Path<String>,
) -> Result<Response> {
    let ns = svc
        .visible_namespace(&ctx, &name, "get_metadef_objects")
        .await?;
    let objects: Vec<Value> = md::items(&svc.db, Kind::Object, &ns.id)
        .await?
        .iter()
        .map(|o| object_json(&ns.namespace, o))
        .collect();
    Ok(
        axum::Json(json!({"objects": objects, "schema": "/v2/schemas/metadefs/objects"}))
            .into_response(),
    )
}

/// `POST /v2/metadefs/namespaces/{namespace}/objects`
pub async fn create_object(
    State(svc): St,
    ctx: Context,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response> {
    let api::Json(body) = body;
    let ns = svc
        .changeable_namespace(&ctx, &name, "add_metadef_object")
        .await?;
    let item = object_item(&body, svc.now())?;
    md::insert_item(&svc.db, Kind::Object, &ns.id, &item)
        .await
        .map_err(|e| {
            dup(
                e,
                format!(
                    "A metadata definition object with name={} already exists in namespace={}.",
                    item.name, ns.namespace
                ),
            )
        })?;
    let v = object_json(&ns.namespace, &item);
    let loc = v["self"].as_str().map(str::to_string);
    Ok(created(v, loc))
}

/// `GET /v2/metadefs/namespaces/{namespace}/objects/{object}`
pub async fn show_object(
    State(svc): St,
    ctx: Context,
    Path((name, object)): Path<(String, String)>,
) -> Result<Response> {
    let (ns, item) = find_child(
        &svc,
        &ctx,
        Kind::Object,
        &name,
        &object,
        "get_metadef_object",
    )
    .await?;
    Ok(axum::Json(object_json(&ns.namespace, &item)).into_response())
}

/// `PUT /v2/metadefs/namespaces/{namespace}/objects/{object}`
pub async fn update_object(
    State(svc): St,
    ctx: Context,
    Path((name, object)): Path<(String, String)>,
    body: Body,
) -> Result<Response> {
    let api::Json(body) = body;
    let (ns, item) = replace_child(
        &svc,
        &ctx,
        Kind::Object,
        (&name, &object),
        "modify_metadef_object",
        |now| object_item(&body, now),
    )
    .await?;
    Ok(axum::Json(object_json(&ns.namespace, &item)).into_response())
}

async fn update_item(
    svc: &ImageService,
    kind: Kind,
    ns: &Namespace,
    old: &str,
    item: &Item,
) -> Result<()> {
    let found = md::update_item(&svc.db, kind, &ns.id, old, item)
        .await
        .map_err(|e| {
            dup(
                e,
                format!(
                    "A metadata definition {} with name={} already exists in namespace={}.",
                    kind.noun(),
                    item.name,
                    ns.namespace
                ),
            )
        })?;
    if !found {
        return Err(child_not_found(kind, &ns.namespace, old));
    }
    Ok(())
}

/// `DELETE /v2/metadefs/namespaces/{namespace}/objects/{object}`
pub async fn delete_object(
    State(svc): St,
    ctx: Context,
    Path((name, object)): Path<(String, String)>,
) -> Result<StatusCode> {
    remove_child(
        &svc,
        &ctx,
        Kind::Object,
        (&name, &object),
        "delete_metadef_object",
    )
    .await
}

// ---- properties ---------------------------------------------------------------------------

fn property_item(body: &Value, now: i64) -> Result<Item> {
    let o = body_object(body, "property")?;
    Ok(Item {
        name: req_name(o, "name", "property")?,
        body: property_body(body, "property")?,
        created_at: now,
        updated_at: now,
    })
}

/// `GET /v2/metadefs/namespaces/{namespace}/properties`
pub async fn list_properties(
    State(svc): St,
    ctx: Context,
    Path(name): Path<String>,
) -> Result<Response> {
    let ns = svc
        .visible_namespace(&ctx, &name, "get_metadef_properties")
        .await?;
    let props = md::items(&svc.db, Kind::Property, &ns.id).await?;
    Ok(axum::Json(json!({"properties": properties_json(&props)})).into_response())
}

/// `POST /v2/metadefs/namespaces/{namespace}/properties`
pub async fn create_property(
    State(svc): St,
    ctx: Context,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response> {
    let api::Json(body) = body;
    let ns = svc
        .changeable_namespace(&ctx, &name, "add_metadef_property")
        .await?;
    let item = property_item(&body, svc.now())?;
    md::insert_item(&svc.db, Kind::Property, &ns.id, &item)
        .await
        .map_err(|e| {
            dup(
                e,
                format!(
                    "A metadata definition property with name={} already exists in namespace={}.",
                    item.name, ns.namespace
                ),
            )
        })?;
    Ok(created(property_json(&item), None))
}

/// `GET /v2/metadefs/namespaces/{namespace}/properties/{property}[?resource_type=T]`: with a
/// resource type, the name carries that association's prefix.
pub async fn show_property(
    State(svc): St,
    ctx: Context,
    Path((name, property)): Path<(String, String)>,
    params: Params,
) -> Result<Response> {
    let ns = svc
        .visible_namespace(&ctx, &name, "get_metadef_property")
        .await?;
    let mut key = property.as_str();
    if let Some(rt) = params.get("resource_type") {
        let assoc = md::associations(&svc.db, &ns.id).await?;
        let a = assoc.iter().find(|a| a.name == rt).ok_or_else(|| {
            Error::NotFound(format!(
                "Resource type {rt} is not associated with namespace {name}."
            ))
        })?;
        if let Some(prefix) = a.prefix.as_deref().filter(|p| !p.is_empty()) {
            key = key.strip_prefix(prefix).ok_or_else(|| {
                Error::NotFound(format!(
                    "Property {property} does not start with the expected resource type association prefix of '{prefix}'."
                ))
            })?;
        }
    }
    let item = md::item(&svc.db, Kind::Property, &ns.id, key)
        .await?
        .ok_or_else(|| child_not_found(Kind::Property, &name, &property))?;
    Ok(axum::Json(property_json(&item)).into_response())
}

/// `PUT /v2/metadefs/namespaces/{namespace}/properties/{property}`
pub async fn update_property(
    State(svc): St,
    ctx: Context,
    Path((name, property)): Path<(String, String)>,
    body: Body,
) -> Result<Response> {
    let api::Json(body) = body;
    let (_, item) = replace_child(
        &svc,
        &ctx,
        Kind::Property,
        (&name, &property),
        "modify_metadef_property",
        |now| property_item(&body, now),
    )
    .await?;
    Ok(axum::Json(property_json(&item)).into_response())
}

/// `DELETE /v2/metadefs/namespaces/{namespace}/properties/{property}`
pub async fn delete_property(
    State(svc): St,
    ctx: Context,
    Path((name, property)): Path<(String, String)>,
) -> Result<StatusCode> {
    remove_child(
        &svc,
        &ctx,
        Kind::Property,
        (&name, &property),
        "remove_metadef_property",
    )
    .await
}

// ---- tags ---------------------------------------------------------------------------------

fn tag_dup(ns: &str, name: &str) -> String {
    format!("A metadata tag with name={name} already exists in namespace={ns}.")
}

/// `GET /v2/metadefs/namespaces/{namespace}/tags`
pub async fn list_tags(
    State(svc): St,
    ctx: Context,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response> {
    let ns = svc
        .visible_namespace(&ctx, &name, "get_metadef_tags")
        .await?;
    let ascending = ascending(&params)?;
    let key = params.get("sort_key").unwrap_or("created_at");
    let sort = md::ItemSort::parse(key)
        .ok_or_else(|| Error::BadRequest(format!("Invalid sort key: {key}")))?;
    let limit = limit(&params)?;
    let marker = params.get("marker");
    let items = md::items(&svc.db, Kind::Tag, &ns.id).await?;
    let page = md::page_items(items, sort, ascending, marker, limit)
        .ok_or_else(|| child_not_found(Kind::Tag, &ns.namespace, marker.unwrap_or_default()))?;
    let tags: Vec<Value> = page.iter().map(tag_json).collect();
    Ok(axum::Json(json!({"tags": tags})).into_response())
}

/// `POST /v2/metadefs/namespaces/{namespace}/tags`: replaces the namespace's tags, or adds to
/// them with `X-Openstack-Append: true`.
pub async fn create_tags(
    State(svc): St,
    ctx: Context,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let api::Json(body) = body;
    let ns = svc
        .changeable_namespace(&ctx, &name, "add_metadef_tags")
        .await?;
    let o = body_object(&body, "tags")?;
    let now = svc.now();
    let items: Vec<Item> = array(o, "tags", "tags")?
        .iter()
        .map(|t| tag_item(t, now))
        .collect::<Result<_>>()?;
    let mut seen = std::collections::HashSet::new();
    if let Some(d) = items.iter().find(|i| !seen.insert(i.name.as_str())) {
        return Err(Error::Conflict(tag_dup(&ns.namespace, &d.name)));
    }
    let append = headers
        .get("x-openstack-append")
        .and_then(|v| v.to_str().ok())
        .is_some_and(api::query::truthy);
    md::put_items(&svc.db, Kind::Tag, &ns.id, &items, !append)
        .await
        .map_err(|e| {
            dup(
                e,
                format!(
                    "A tag in {:?} already exists in namespace={}.",
                    items.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
                    ns.namespace
                ),
            )
        })?;
    let out: Vec<Value> = items.iter().map(|t| json!({"name": t.name})).collect();
    Ok(created(json!({"tags": out}), None))
}

/// `POST /v2/metadefs/namespaces/{namespace}/tags/{tag}`
pub async fn create_tag(
    State(svc): St,
    ctx: Context,
    Path((name, tag)): Path<(String, String)>,
) -> Result<Response> {
    let ns = svc
        .changeable_namespace(&ctx, &name, "add_metadef_tag")
        .await?;
    if tag.chars().count() > NAME_MAX || tag.trim().is_empty() {
        return Err(invalid("tag", format!("{tag:?} is not a valid tag name")));
    }
    let now = svc.now();
    let item = Item {
        name: tag,
        body: Map::new(),
        created_at: now,
        updated_at: now,
    };
    md::insert_item(&svc.db, Kind::Tag, &ns.id, &item)
        .await
        .map_err(|e| dup(e, tag_dup(&ns.namespace, &item.name)))?;
    Ok(created(tag_json(&item), None))
}

/// `GET /v2/metadefs/namespaces/{namespace}/tags/{tag}`
pub async fn show_tag(
    State(svc): St,
    ctx: Context,
    Path((name, tag)): Path<(String, String)>,
) -> Result<Response> {
    let (_, item) = find_child(&svc, &ctx, Kind::Tag, &name, &tag, "get_metadef_tag").await?;
    Ok(axum::Json(tag_json(&item)).into_response())
}

/// `PUT /v2/metadefs/namespaces/{namespace}/tags/{tag}`: renames the tag.
pub async fn update_tag(
    State(svc): St,
    ctx: Context,
    Path((name, tag)): Path<(String, String)>,
    body: Body,
) -> Result<Response> {
    let api::Json(body) = body;
    let (_, item) = replace_child(
        &svc,
        &ctx,
        Kind::Tag,
        (&name, &tag),
        "modify_metadef_tag",
        |now| tag_item(&body, now),
    )
    .await?;
    Ok(axum::Json(tag_json(&item)).into_response())
}

/// `DELETE /v2/metadefs/namespaces/{namespace}/tags/{tag}`
pub async fn delete_tag(
    State(svc): St,
    ctx: Context,
    Path((name, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    remove_child(&svc, &ctx, Kind::Tag, (&name, &tag), "delete_metadef_tag").await
}

// ---- resource types -----------------------------------------------------------------------

/// `GET /v2/metadefs/resource_types`
pub async fn list_resource_types(State(svc): St, ctx: Context) -> Result<Response> {
    svc.enforce(&ctx, "list_metadef_resource_types", &own_target(&ctx))?;
    let types: Vec<Value> = md::resource_types(&svc.db)
        .await?
        .into_iter()
        .map(|(name, c, u)| {
            json!({"name": name, "created_at": glance_time(c), "updated_at": glance_time(u)})
        })
        .collect();
    Ok(axum::Json(json!({"resource_types": types})).into_response())
}

/// `GET /v2/metadefs/namespaces/{namespace}/resource_types`
pub async fn list_associations(
    State(svc): St,
    ctx: Context,
    Path(name): Path<String>,
) -> Result<Response> {
    let ns = svc
        .visible_namespace(&ctx, &name, "get_metadef_resource_type")
        .await?;
    let assoc: Vec<Value> = md::associations(&svc.db, &ns.id)
        .await?
        .iter()
        .map(Association::to_json)
        .collect();
    Ok(axum::Json(json!({"resource_type_associations": assoc})).into_response())
}

/// `POST /v2/metadefs/namespaces/{namespace}/resource_types`
pub async fn create_association(
    State(svc): St,
    ctx: Context,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response> {
    let api::Json(body) = body;
    let ns = svc
        .changeable_namespace(&ctx, &name, "add_metadef_resource_type_association")
        .await?;
    let a = association(&body, svc.now())?;
    md::add_association(&svc.db, &ns.id, &a).await.map_err(|e| {
        dup(
            e,
            format!(
                "The metadata definition resource-type association of resource-type={} to namespace={} already exists.",
                a.name, ns.namespace
            ),
        )
    })?;
    Ok(created(a.to_json(), None))
}

/// `DELETE /v2/metadefs/namespaces/{namespace}/resource_types/{resource_type}`
pub async fn delete_association(
    State(svc): St,
    ctx: Context,
    Path((name, rt)): Path<(String, String)>,
) -> Result<StatusCode> {
    let ns = svc
        .changeable_namespace(&ctx, &name, "remove_metadef_resource_type_association")
        .await?;
    protected(&ns)?;
    if md::remove_association(&svc.db, &ns.id, &rt).await? == 0 {
        return Err(Error::NotFound(format!(
            "The metadata definition resource-type association of resource-type={rt} to namespace={name}, was not found."
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---- schemas ------------------------------------------------------------------------------

macro_rules! schema_handlers {
    ($($f:ident => $file:literal),* $(,)?) => {
        $(
            #[doc = concat!("`GET /v2/schemas/metadefs/…`: ", $file)]
            pub async fn $f(_ctx: Context) -> Response {
                let v: Value = serde_json::from_str(include_str!(concat!("../../data/", $file)))
                    .unwrap_or(Value::Null);
                axum::Json(v).into_response()
            }
        )*
    };
}

schema_handlers!(
    namespace_schema => "metadef-namespace.json",
    namespaces_schema => "metadef-namespaces.json",
    object_schema => "metadef-object.json",
    objects_schema => "metadef-objects.json",
    property_schema => "metadef-property.json",
    properties_schema => "metadef-properties.json",
    tag_schema => "metadef-tag.json",
    tags_schema => "metadef-tags.json",
    resource_type_schema => "metadef-resource_type.json",
    resource_types_schema => "metadef-resource_types.json",
);

pub fn routes() -> Routes<Arc<ImageService>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v2/schemas/metadefs/namespace",
        get(namespace_schema, "The metadef namespace JSON schema")
    );
    let r = api::route!(
        r,
        "/v2/schemas/metadefs/namespaces",
        get(namespaces_schema, "The metadef namespace list JSON schema")
    );
    let r = api::route!(
        r,
        "/v2/schemas/metadefs/object",
        get(object_schema, "The metadef object JSON schema")
    );
    let r = api::route!(
        r,
        "/v2/schemas/metadefs/objects",
        get(objects_schema, "The metadef object list JSON schema")
    );
    let r = api::route!(
        r,
        "/v2/schemas/metadefs/property",
        get(property_schema, "The metadef property JSON schema")
    );
    let r = api::route!(
        r,
        "/v2/schemas/metadefs/properties",
        get(properties_schema, "The metadef property list JSON schema")
    );
    let r = api::route!(
        r,
        "/v2/schemas/metadefs/tag",
        get(tag_schema, "The metadef tag JSON schema")
    );
    let r = api::route!(
        r,
        "/v2/schemas/metadefs/tags",
        get(tags_schema, "The metadef tag list JSON schema")
    );
    let r = api::route!(
        r,
        "/v2/schemas/metadefs/resource_type",
        get(
            resource_type_schema,
            "The resource type association JSON schema"
        )
    );
    let r = api::route!(
        r,
        "/v2/schemas/metadefs/resource_types",
        get(
            resource_types_schema,
            "The resource type association list JSON schema"
        )
    );
    let r = api::route!(
        r,
        "/v2/metadefs/resource_types",
        get(list_resource_types, "List resource types")
    );
    let r = api::route!(
        r,
        "/v2/metadefs/namespaces",
        get(list_namespaces, "List metadata definition namespaces"),
        post(
            create_namespace,
            "Create a namespace (with its objects, properties, tags and associations)"
        )
    );
    let r = api::route!(
        r,
        "/v2/metadefs/namespaces/{namespace}",
        get(show_namespace, "Show a namespace with its contents"),
        put(update_namespace, "Update a namespace"),
        delete(delete_namespace, "Delete a namespace and its contents")
    );
    let r = api::route!(
        r,
        "/v2/metadefs/namespaces/{namespace}/resource_types",
        get(
            list_associations,
            "List the namespace's resource type associations"
        ),
        post(create_association, "Associate a resource type")
    );
    let r = api::route!(
        r,
        "/v2/metadefs/namespaces/{namespace}/resource_types/{resource_type}",
        delete(delete_association, "Remove a resource type association")
    );
    let r = api::route!(
        r,
        "/v2/metadefs/namespaces/{namespace}/objects",
        get(list_objects, "List objects"),
        post(create_object, "Create an object"),
        delete(delete_objects, "Delete every object")
    );
    let r = api::route!(
        r,
        "/v2/metadefs/namespaces/{namespace}/objects/{object}",
        get(show_object, "Show an object"),
        put(update_object, "Update an object"),
        delete(delete_object, "Delete an object")
    );
    let r = api::route!(
        r,
        "/v2/metadefs/namespaces/{namespace}/properties",
        get(list_properties, "List properties"),
        post(create_property, "Create a property"),
        delete(delete_properties, "Delete every property")
    );
    let r = api::route!(
        r,
        "/v2/metadefs/namespaces/{namespace}/properties/{property}",
        get(show_property, "Show a property"),
        put(update_property, "Update a property"),
        delete(delete_property, "Delete a property")
    );
    let r = api::route!(
        r,
        "/v2/metadefs/namespaces/{namespace}/tags",
        get(list_tags, "List tags"),
        post(
            create_tags,
            "Create tags (replace, or append with X-Openstack-Append)"
        ),
        delete(delete_tags, "Delete every tag")
    );
    api::route!(
        r,
        "/v2/metadefs/namespaces/{namespace}/tags/{tag}",
        get(show_tag, "Show a tag"),
        post(create_tag, "Create a tag"),
        put(update_tag, "Rename a tag"),
        delete(delete_tag, "Delete a tag")
    )
}
