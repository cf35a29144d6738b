//! Nova v2.1 HTTP handlers.

pub mod actions;
pub mod aggregates;
pub mod flavors;
pub mod keypairs;
pub mod misc;
pub mod servers;
pub mod views;

use std::sync::Arc;

use api::microversion::{Negotiator, Version};
use api::openapi::Routes;
use api::{BaseUrl, ErrorStyle};
use axum::Router;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::ComputeService;

pub type St = axum::extract::State<Arc<ComputeService>>;

/// The newest microversion served.
pub const MAX_VERSION: Version = Version::new(2, 96);
pub const MIN_VERSION: Version = Version::new(2, 1);

pub fn negotiator() -> Negotiator {
    Negotiator {
        service: "compute",
        legacy_header: Some("x-openstack-nova-api-version"),
        min: MIN_VERSION,
        max: MAX_VERSION,
        default: MIN_VERSION,
        style: ErrorStyle::Nova,
    }
}

fn version_doc(base: &str) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX_VERSION.to_string(),
        "min_version": MIN_VERSION.to_string(),
        "updated": "2013-07-23T11:33:21Z",
        "links": [
            {"rel": "self", "href": format!("{base}/v2.1/")},
            {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}
        ],
        "media-types": [{"base": "application/json",
                         "type": "application/vnd.openstack.compute+json;version=2.1"}]
    })
}

/// `GET /`: the versions document.
pub async fn versions(BaseUrl(base): BaseUrl) -> Response {
    let mut v = version_doc(&base);
    if let Some(m) = v.as_object_mut() {
        m.remove("media-types");
    }
    (
        axum::http::StatusCode::MULTIPLE_CHOICES,
        axum::Json(json!({"versions": [v]})),
    )
        .into_response()
}

/// `GET /v2.1`
pub async fn version(BaseUrl(base): BaseUrl) -> Response {
    axum::Json(json!({"version": version_doc(&base)})).into_response()
}

pub fn table() -> Routes<Arc<ComputeService>> {
    let r = Routes::new();
    let r = api::route!(r, "/", get(versions, "List API versions"));
    let r = api::route!(r, "/v2.1", get(version, "Show API version 2.1"));
    r.merge(servers::routes())
        .merge(actions::routes())
        .merge(flavors::routes())
        .merge(keypairs::routes())
        .merge(misc::routes())
        .merge(aggregates::routes())
}

/// The compute HTTP service with the shared layers, microversions and token validation.
pub fn router(svc: Arc<ComputeService>, validator: auth::Validator, max_body: usize) -> Router {
    let opts = api::ServiceOptions {
        style: ErrorStyle::Nova,
        max_body,
        public_endpoint: svc.cfg.public_endpoint.clone(),
    };
    let neg = Arc::new(negotiator());
    let r = table().into_parts().0.with_state(svc);
    let r = r
        .layer(axum::Extension(validator))
        .layer(axum::middleware::from_fn(move |req, next| {
            let n = neg.clone();
            async move { n.layer(req, next).await }
        }));
    api::service_layers(r, opts)
}

const PUBLIC: &[&str] = &["get /", "get /v2.1"];

pub fn openapi() -> Value {
    api::openapi::document(
        "ferrostack compute (Nova v2.1)",
        &MAX_VERSION.to_string(),
        table().operations(),
        PUBLIC,
    )
}
