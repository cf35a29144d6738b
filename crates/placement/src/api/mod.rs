//! Placement HTTP handlers, the router and its OpenAPI document.
//!
//! Around the shared layers ([`api::service_layers`]) sits placement's own middleware:
//! microversion negotiation (`OpenStack-API-Version: placement X.Y`, echoed on every
//! response), the content-length/content-type sanity check, and the finishing touches
//! on error bodies: `request_id` from `X-Openstack-Request-Id`, `code` only from 1.23,
//! 405s naming the method with placement's `Allow` list, and HTML or plain text instead
//! of JSON when the client's `Accept` prefers them (as webob renders errors).

pub mod aggregates;
pub mod allocations;
pub mod candidates;
pub mod classes;
pub mod inventories;
pub mod providers;
pub mod reshaper;
pub mod root;
pub mod traits;
pub mod usages;
pub mod util;

use std::sync::Arc;

use api::microversion::{Negotiator, Version, VersionError};
use api::openapi::Routes;
use api::request_id::REQUEST_ID_HEADER;
use api::{ErrorStyle, RequestId};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::PlacementService;

pub type St = axum::extract::State<Arc<PlacementService>>;

/// The oldest and newest microversions served.
pub const MIN_VERSION: Version = Version::new(1, 0);
pub const MAX_VERSION: Version = Version::new(1, 39);

pub fn negotiator() -> Negotiator {
    Negotiator {
        service: "placement",
        legacy_header: None,
        min: MIN_VERSION,
        max: MAX_VERSION,
        default: MIN_VERSION,
        style: ErrorStyle::Placement,
    }
}

/// Every placement route with its operations: the router and the OpenAPI document come
/// from this one table.
pub fn table() -> Routes<Arc<PlacementService>> {
    Routes::new()
        .merge(root::routes())
        .merge(providers::routes())
        .merge(classes::routes())
        .merge(traits::routes())
        .merge(inventories::routes())
        .merge(aggregates::routes())
        .merge(allocations::routes())
        .merge(usages::routes())
        .merge(candidates::routes())
        .merge(reshaper::routes())
}

/// The placement HTTP service with the shared layers and token validation.
pub fn router(svc: Arc<PlacementService>, validator: auth::Validator, max_body: usize) -> Router {
    let opts = api::ServiceOptions {
        style: ErrorStyle::Placement,
        max_body,
        public_endpoint: None,
    };
    let r = table().into_parts().0.with_state(svc);
    let inner = api::service_layers(r.layer(axum::Extension(validator)), opts);
    // Wrapped as a whole (a layer on a router wraps each route, inside the method
    // dispatch), so the middleware also sees the 405s' `Allow` header.
    Router::new()
        .fallback_service(inner)
        .layer(middleware::from_fn_with_state(
            Arc::new(negotiator()),
            placement_layer,
        ))
}

const PUBLIC: &[&str] = &["get /"];

/// The placement service's OpenAPI document, generated from the route table.
pub fn openapi() -> Value {
    api::openapi::document(
        "ferrostack placement (OpenStack Placement API)",
        &MAX_VERSION.to_string(),
        table().operations(),
        PUBLIC,
    )
}

/// An error response produced before the inner layers ran (no request id yet).
fn early_error(status: StatusCode, detail: String, extra: Option<Value>) -> Response {
    let id = RequestId::generate();
    let mut err = json!({
        "status": status.as_u16(),
        "title": status.canonical_reason().unwrap_or("Error"),
        "detail": detail,
        "request_id": id.0,
    });
    if let (Some(Value::Object(extra)), Some(obj)) = (extra, err.as_object_mut()) {
        obj.extend(extra);
    }
    let mut resp = (status, axum::Json(json!({"errors": [err]}))).into_response();
    if let Ok(v) = HeaderValue::from_str(&id.0) {
        resp.headers_mut().insert(REQUEST_ID_HEADER.clone(), v);
    }
    resp
}

fn version_headers(resp: &mut Response, v: Version) {
    let h = resp.headers_mut();
    if let Ok(val) = HeaderValue::from_str(&format!("placement {v}")) {
        h.insert(HeaderName::from_static("openstack-api-version"), val);
    }
    h.append(
        header::VARY,
        HeaderValue::from_static("openstack-api-version"),
    );
}

/// Placement's outer middleware (see the module documentation).
pub async fn placement_layer(
    State(neg): State<Arc<Negotiator>>,
    mut req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .map(str::to_string);
    let early = match neg.choose(req.headers()) {
        Ok(v) => match early_check(&req) {
            None => Ok(v),
            Some(detail) => {
                let mut r = early_error(StatusCode::BAD_REQUEST, detail, None);
                version_headers(&mut r, v);
                Err(r)
            }
        },
        Err(VersionError::Malformed(s)) => Err(early_error(
            StatusCode::BAD_REQUEST,
            format!("invalid version string: {s}"),
            None,
        )),
        Err(VersionError::Unsupported(asked)) => Err(early_error(
            StatusCode::NOT_ACCEPTABLE,
            format!("Unacceptable version header: {asked}"),
            Some(json!({
                "max_version": neg.max.to_string(),
                "min_version": neg.min.to_string(),
            })),
        )),
    };
    let v = match early {
        Ok(v) => v,
        // No negotiated version: nothing to strip from the body.
        Err(r) => return finish_error(r, neg.max, &method, accept.as_deref()).await,
    };
    req.extensions_mut().insert(v);
    let resp = next.run(req).await;
    let mut resp = if resp.status().is_client_error() || resp.status().is_server_error() {
        finish_error(resp, v, &method, accept.as_deref()).await
    } else {
        resp
    };
    version_headers(&mut resp, v);
    resp
}

/// A body needs a declared type; a length must be a number.
fn early_check(req: &Request) -> Option<String> {
    let clen = req.headers().get(header::CONTENT_LENGTH)?;
    match clen.to_str().unwrap_or("").trim().parse::<u64>() {
        Err(_) => Some("content-length header must be an integer".into()),
        Ok(n)
            if n > 0
                && req
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .is_none_or(|c| c.as_bytes().is_empty()) =>
        {
            Some("content-type header required when content-length > 0".into())
        }
        Ok(_) => None,
    }
}

/// How an error is rendered, as webob chooses among JSON, HTML and plain text by the
/// request's `Accept` (JSON when absent or on a tie).
fn error_format(accept: Option<&str>) -> &'static str {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return "application/json";
    };
    let ranges: Vec<(String, f32)> = accept
        .split(',')
        .map(|r| {
            let mut parts = r.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .next()
                .unwrap_or(1.0);
            (media, q)
        })
        .collect();
    let quality = |offer: &str| -> f32 {
        let (kind, _) = offer.split_once('/').unwrap_or((offer, ""));
        let exact = ranges.iter().find(|(m, _)| m == offer);
        let family = ranges.iter().find(|(m, _)| *m == format!("{kind}/*"));
        let any = ranges.iter().find(|(m, _)| m == "*/*");
        exact.or(family).or(any).map_or(0.0, |(_, q)| *q)
    };
    let mut best = ("application/json", quality("application/json"));
    for offer in ["text/html", "text/plain"] {
        let q = quality(offer);
        if q > best.1 {
            best = (offer, q);
        }
    }
    if best.1 <= 0.0 {
        "application/json"
    } else {
        best.0
    }
}

/// Fill `request_id`, drop `code` before 1.23, name the method in 405s.
async fn finish_error(
    resp: Response,
    v: Version,
    method: &axum::http::Method,
    accept: Option<&str>,
) -> Response {
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if !is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(collected) = body.collect().await else {
        return Response::from_parts(parts, Body::empty());
    };
    let bytes = collected.to_bytes();
    let Ok(mut doc) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let rid = parts
        .headers
        .get(&REQUEST_ID_HEADER)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    if let Some(errors) = doc.get_mut("errors").and_then(Value::as_array_mut) {
        for e in errors {
            let Some(o) = e.as_object_mut() else { continue };
            if let Some(r) = &rid {
                o.insert("request_id".into(), json!(r));
            }
            if !v.at_least(1, 23) {
                o.remove("code");
            }
            if parts.status == StatusCode::METHOD_NOT_ALLOWED {
                o.insert(
                    "detail".into(),
                    json!(format!(
                        "The method {method} is not allowed for this resource."
                    )),
                );
            }
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let format = error_format(accept);
    let body = if format == "application/json" {
        serde_json::to_vec(&doc).unwrap_or_else(|_| bytes.to_vec())
    } else {
        let status = format!(
            "{} {}",
            parts.status.as_u16(),
            parts.status.canonical_reason().unwrap_or("Error")
        );
        let detail = doc["errors"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let text = if format == "text/html" {
            let esc = detail
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!(
                "<html>\n <head>\n  <title>{status}</title>\n </head>\n <body>\n  \
                 <h1>{status}</h1>\n  {esc}<br /><br />\n\n\n\n </body>\n</html>"
            )
        } else {
            format!("{status}\n\n{detail}\n\n   ")
        };
        if let Ok(ct) = HeaderValue::from_str(&format!("{format}; charset=UTF-8")) {
            parts.headers.insert(header::CONTENT_TYPE, ct);
        }
        text.into_bytes()
    };
    if parts.status == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = parts
            .headers
            .get(header::ALLOW)
            .and_then(|a| a.to_str().ok())
    {
        // placement lists the methods of the route, comma-space separated, without HEAD
        let methods: Vec<&str> = allow
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty() && *m != "HEAD")
            .collect();
        if let Ok(v) = HeaderValue::from_str(&methods.join(", ")) {
            parts.headers.insert(header::ALLOW, v);
        }
    }
    Response::from_parts(parts, Body::from(body))
}
