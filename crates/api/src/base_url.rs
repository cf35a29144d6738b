//! The base URL a client used to reach the service, for links in responses.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::error::Fault;
use crate::layers::PublicEndpoint;

/// `http://host:port` as configured (`public_endpoint`) or as the client addressed us.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BaseUrl {
    type Rejection = Fault;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(PublicEndpoint(Some(p))) = parts.extensions.get::<PublicEndpoint>() {
            return Ok(BaseUrl(p.trim_end_matches('/').to_string()));
        }
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or("localhost");
        let scheme = parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("http");
        Ok(BaseUrl(format!("{scheme}://{host}")))
    }
}
