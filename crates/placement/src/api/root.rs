//! `GET /`: the version document (no authentication).

use std::sync::Arc;

use api::microversion::Version;
use api::openapi::Routes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::util::json_response;
use super::{MAX_VERSION, MIN_VERSION};
use crate::PlacementService;

pub fn routes() -> Routes<Arc<PlacementService>> {
    api::route!(Routes::new(), "/", get(home, "Placement API versions"))
}

async fn home(v: Version) -> Response {
    let doc = json!({"versions": [{
        "id": format!("v{MIN_VERSION}"),
        "max_version": MAX_VERSION.to_string(),
        "min_version": MIN_VERSION.to_string(),
        "status": "CURRENT",
        "links": [{"rel": "self", "href": ""}],
    }]});
    json_response(StatusCode::OK, &doc, v, None)
}
