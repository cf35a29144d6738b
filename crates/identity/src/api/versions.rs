//! Version discovery: `GET /` (300, all versions) and `GET /v3` (this version).

use std::sync::Arc;

use api::BaseUrl;
use api::openapi::Routes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Identity;

/// Keystone's current v3 minor version and its date.
pub const VERSION_ID: &str = "v3.14";
pub const VERSION_UPDATED: &str = "2020-04-07T00:00:00Z";

fn v3(base: &str) -> Value {
    json!({
        "id": VERSION_ID,
        "status": "stable",
        "updated": VERSION_UPDATED,
        "links": [{"rel": "self", "href": format!("{base}/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

/// `GET /`: the versions this service offers.
pub async fn root(BaseUrl(base): BaseUrl) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        axum::Json(json!({"versions": {"values": [v3(&base)]}})),
    )
        .into_response()
}

/// `GET /v3`: this version.
pub async fn version(BaseUrl(base): BaseUrl) -> Response {
    (StatusCode::OK, axum::Json(json!({"version": v3(&base)}))).into_response()
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(r, "/", get(root, "GET /: the versions this service offers"));
    let r = api::route!(r, "/v3", get(version, "GET /v3: this version"));
    let r = api::route!(r, "/v3/", get(version, "GET /v3: this version"));
    r
}
