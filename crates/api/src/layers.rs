//! The layers every service's router gets: request ids, error style, body limit, and
//! OpenStack-formatted answers for unknown paths and methods.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;

use crate::error::{ErrorStyle, Fault};
use crate::request_id::request_id;

/// Options for [`service_layers`].
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub style: ErrorStyle,
    /// Largest accepted request body, in bytes; larger bodies get 413.
    pub max_body: usize,
    /// Public base URL of the service (e.g. `http://127.0.0.1:5000`); when unset, links are
    /// built from the request's `Host` header.
    pub public_endpoint: Option<String>,
}

/// The public endpoint override, available to handlers through [`crate::BaseUrl`].
#[derive(Debug, Clone)]
pub struct PublicEndpoint(pub Option<String>);

/// Wraps a service router with the shared conventions.
pub fn service_layers(router: Router, opts: ServiceOptions) -> Router {
    let style = opts.style;
    let not_found =
        move || async move { Fault::not_found("The resource could not be found.").styled(style) };
    // Nova's router matches method and path together: a known path with another method
    // is simply not found there.
    let not_allowed = move || async move {
        if style == ErrorStyle::Nova {
            return Fault::not_found("The resource could not be found.").styled(style);
        }
        Fault::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "The method is not allowed for the requested URL.",
        )
        .styled(style)
    };
    router
        .fallback(not_found)
        .method_not_allowed_fallback(not_allowed)
        .layer(DefaultBodyLimit::max(opts.max_body))
        .layer(axum::Extension(PublicEndpoint(opts.public_endpoint)))
        .layer(axum::Extension(style))
        .layer(middleware::from_fn(request_id))
}
