//! Errors as every OpenStack service renders them.
//!
//! A service maps its own error type once into a [`Fault`] (status, message, extra headers);
//! the [`ErrorStyle`] of the service then decides the body. Extractor rejections (bad JSON,
//! oversized bodies) do not know which service they belong to, so the style travels in the
//! request extensions, set by [`crate::layers::service_layers`].

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The error body family of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorStyle {
    /// `{"error": {"code": 404, "title": "Not Found", "message": "..."}}`
    #[default]
    Keystone,
    /// `{"itemNotFound": {"code": 404, "message": "..."}}`
    Nova,
    /// Glance (webob): `{"code": "404 Not Found", "title": "Not Found", "message": "..."}`
    Glance,
    /// Placement: `{"errors": [{"status": 404, "title": "Not Found", "detail": "...",
    /// "code": "placement.undefined_code", "request_id": "req-..."}]}`
    Placement,
}

/// A client-visible error: what the caller may learn, never internal details.
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: StatusCode,
    pub message: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Renderer for the body; set when the fault is turned into a response.
    pub style: ErrorStyle,
    /// Machine-readable error code (placement's `placement.concurrent_update` …).
    pub code: Option<&'static str>,
    /// The request id, for styles that echo it in the body (placement).
    pub request_id: Option<String>,
}

impl Fault {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            headers: Vec::new(),
            style: ErrorStyle::default(),
            code: None,
            request_id: None,
        }
    }

    /// Attach a machine-readable error code (rendered by the placement style).
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An unexpected error prevented the server from fulfilling your request.",
        )
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn styled(mut self, style: ErrorStyle) -> Self {
        self.style = style;
        self
    }

    /// The JSON body for this fault in the given style.
    pub fn body(&self, style: ErrorStyle) -> serde_json::Value {
        let code = self.status.as_u16();
        match style {
            ErrorStyle::Keystone => json!({
                "error": {
                    "code": code,
                    "title": keystone_title(self.status),
                    "message": self.message,
                }
            }),
            ErrorStyle::Glance => json!({
                "code": format!("{} {}", code, keystone_title(self.status)),
                "title": keystone_title(self.status),
                "message": self.message,
            }),
            ErrorStyle::Placement => json!({
                "errors": [{
                    "status": code,
                    "title": keystone_title(self.status),
                    "detail": self.message,
                    "code": self.code.unwrap_or("placement.undefined_code"),
                    "request_id": self.request_id,
                }]
            }),
            ErrorStyle::Nova => {
                let mut m = serde_json::Map::new();
                m.insert(
                    nova_key(self.status).to_string(),
                    json!({"code": code, "message": self.message}),
                );
                serde_json::Value::Object(m)
            }
        }
    }
}

/// Keystone's error titles are the HTTP reason phrases.
fn keystone_title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        413 => "Request Entity Too Large",
        _ => status.canonical_reason().unwrap_or("Error"),
    }
}

fn nova_key(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        let body = self.body(self.style);
        let mut resp = (self.status, axum::Json(body)).into_response();
        for (k, v) in self.headers {
            resp.headers_mut().append(k, v);
        }
        resp
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for Fault {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystone_body_has_code_title_message() {
        let f = Fault::not_found("Could not find project: x.");
        let b = f.body(ErrorStyle::Keystone);
        assert_eq!(b["error"]["code"], 404);
        assert_eq!(b["error"]["title"], "Not Found");
        assert_eq!(b["error"]["message"], "Could not find project: x.");
    }

    #[test]
    fn nova_body_is_keyed_by_kind() {
        let f = Fault::new(StatusCode::CONFLICT, "in use");
        let b = f.body(ErrorStyle::Nova);
        assert_eq!(b["conflictingRequest"]["code"], 409);
        assert_eq!(b["conflictingRequest"]["message"], "in use");
    }

    #[test]
    fn glance_body_is_webob_json() {
        let b = Fault::not_found("No image found with ID x").body(ErrorStyle::Glance);
        assert_eq!(b["code"], "404 Not Found");
        assert_eq!(b["title"], "Not Found");
    }

    #[test]
    fn placement_body_lists_errors_with_a_code() {
        let mut f = Fault::new(StatusCode::CONFLICT, "generation mismatch")
            .with_code("placement.concurrent_update");
        f.request_id = Some("req-1".into());
        let b = f.body(ErrorStyle::Placement);
        assert_eq!(b["errors"][0]["status"], 409);
        assert_eq!(b["errors"][0]["code"], "placement.concurrent_update");
        assert_eq!(b["errors"][0]["detail"], "generation mismatch");
        assert_eq!(b["errors"][0]["request_id"], "req-1");
        let plain = Fault::not_found("x").body(ErrorStyle::Placement);
        assert_eq!(plain["errors"][0]["code"], "placement.undefined_code");
    }

    #[test]
    fn oversized_title() {
        let f = Fault::new(StatusCode::PAYLOAD_TOO_LARGE, "too big");
        assert_eq!(
            f.body(ErrorStyle::Keystone)["error"]["title"],
            "Request Entity Too Large"
        );
    }
}
