//! HTTP conventions shared by every ferrostack service.
//!
//! - [`Fault`] and [`ErrorStyle`]: OpenStack error bodies, one style per service.
//! - [`Json`]: JSON bodies whose rejections use the service's style (400 / 413).
//! - [`request_id`]: `X-Openstack-Request-Id` and a tracing span per request.
//! - [`pagination`]: `limit` / `marker` and collection links.
//! - [`microversion`]: `OpenStack-API-Version` negotiation.
//! - [`service_layers`]: all of the above on a router, plus 404/405 fallbacks.

pub mod base_url;
pub mod error;
pub mod json;
pub mod layers;
pub mod microversion;
pub mod openapi;
pub mod pagination;
pub mod query;
pub mod request_id;
pub mod server;

pub use base_url::BaseUrl;
pub use error::{ErrorStyle, Fault};
pub use json::Json;
pub use layers::{ServiceOptions, service_layers};
pub use pagination::CollectionLinks;
pub use request_id::RequestId;
