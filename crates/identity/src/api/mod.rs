//! Keystone v3 HTTP handlers, one module per resource family. Handlers parse, enforce
//! policy and render; the rules live in `crate::service`.

pub mod app_creds;
pub mod auth_tokens;
pub mod catalog;
pub mod credentials;
pub mod domain_config;
pub mod domains;
pub mod endpoint_filter;
pub mod grants;
pub mod groups;
pub mod limits;
pub mod oauth1;
pub mod params;
pub mod policies;
pub mod projects;
pub mod revoke_events;
pub mod roles;
pub mod trusts;
pub mod users;
pub mod versions;

use std::sync::Arc;

use api::openapi::Routes;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Identity;

pub use params::Params;

/// Shared handler state.
pub type St = axum::extract::State<Arc<Identity>>;

/// 200 with a JSON body.
pub fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

/// 201 with a JSON body.
pub fn created(v: Value) -> Response {
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A keystone collection: `{"<key>": [...], "links": {...}}`, truncated to `list_limit`.
pub fn collection(id: &Identity, key: &str, mut items: Vec<Value>, self_url: String) -> Response {
    let mut body = json!({
        "links": {"self": self_url, "previous": null, "next": null},
    });
    if let Some(limit) = id.cfg.list_limit
        && items.len() > limit
    {
        items.truncate(limit);
        body["truncated"] = json!(true);
    }
    body[key] = Value::Array(items);
    ok(body)
}

/// Body for a JSON document already serialized.
pub fn raw_json(status: StatusCode, bytes: bytes::Bytes) -> Response {
    let mut r = (status, bytes).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Every identity route with its operations: the router and the OpenAPI document are
/// both built from this table.
pub fn table() -> Routes<Arc<Identity>> {
    Routes::new()
        .merge(versions::routes())
        .merge(auth_tokens::routes())
        .merge(domains::routes())
        .merge(projects::routes())
        .merge(users::routes())
        .merge(groups::routes())
        .merge(roles::routes())
        .merge(grants::routes())
        .merge(catalog::routes())
        .merge(credentials::routes())
        .merge(app_creds::routes())
        .merge(trusts::routes())
        .merge(revoke_events::routes())
        .merge(oauth1::routes())
        .merge(policies::routes())
        .merge(limits::routes())
        .merge(endpoint_filter::routes())
        .merge(domain_config::routes())
}

/// The identity API router (without the shared layers).
pub fn routes(state: Arc<Identity>) -> Router {
    table().into_parts().0.with_state(state)
}

/// Operations that need no token.
const PUBLIC: &[&str] = &[
    "get /",
    "get /v3",
    "get /v3/",
    "post /v3/auth/tokens",
    "post /v3/users/{user_id}/password",
];

/// The identity service's OpenAPI document, generated from the route table.
pub fn openapi() -> Value {
    api::openapi::document(
        "ferrostack identity (Keystone v3)",
        versions::VERSION_ID,
        table().operations(),
        PUBLIC,
    )
}

/// The full identity HTTP service: routes plus request ids, error style, body limit and
/// the token validator used by the `auth::Context` extractor.
pub fn router(state: Arc<Identity>) -> Router {
    let validator = auth::Validator {
        inner: state.validator(),
        auth_uri: state
            .cfg
            .public_endpoint
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1:5000".into()),
    };
    let opts = api::ServiceOptions {
        style: api::ErrorStyle::Keystone,
        max_body: state.cfg.max_request_body_size,
        public_endpoint: state.cfg.public_endpoint.clone(),
    };
    api::service_layers(routes(state).layer(axum::Extension(validator)), opts)
}

/// Read a required JSON object member: `{"<key>": {...}}`.
pub fn member<'a>(body: &'a Value, key: &str) -> crate::Result<&'a serde_json::Map<String, Value>> {
    match body.get(key) {
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(crate::Error::bad(format!(
            "Invalid input for field '{key}': it must be an object."
        ))),
        None => Err(crate::Error::missing(key, "request body")),
    }
}
