//! Glance v2 HTTP handlers.

pub mod cache;
pub mod data;
pub mod images;
pub mod members;
pub mod meta;
pub mod metadefs;
pub mod tasks;

use std::sync::Arc;

use api::openapi::Routes;
use axum::Router;
use serde_json::Value;

use crate::ImageService;

pub type St = axum::extract::State<Arc<ImageService>>;

/// Every image route with its operations: the router and the OpenAPI document come from
/// this one table.
pub fn table() -> Routes<Arc<ImageService>> {
    Routes::new()
        .merge(meta::routes())
        .merge(images::routes())
        .merge(data::routes())
        .merge(members::routes())
        .merge(tasks::routes())
        .merge(metadefs::routes())
        .merge(cache::routes())
}

/// The image HTTP service with the shared layers and token validation.
pub fn router(svc: Arc<ImageService>, validator: auth::Validator, max_body: usize) -> Router {
    let opts = api::ServiceOptions {
        style: api::ErrorStyle::Glance,
        max_body,
        public_endpoint: svc.cfg.public_endpoint.clone(),
    };
    let r = table().into_parts().0.with_state(svc);
    api::service_layers(r.layer(axum::Extension(validator)), opts)
}

const PUBLIC: &[&str] = &["get /", "get /versions"];

/// The image service's OpenAPI document, generated from the route table.
pub fn openapi() -> Value {
    api::openapi::document(
        "ferrostack image (Glance v2)",
        meta::CURRENT,
        table().operations(),
        PUBLIC,
    )
}
