//! Request and response plumbing shared by the handlers: JSON bodies with placement's
//! content-type rules, `Accept` negotiation, cache headers (1.15+), links.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use api::microversion::Version;

use crate::error::{Error, Result};
use crate::validate::validate;

/// A request body, read but not yet interpreted: handlers decide when (after the
/// microversion and policy checks) it must be JSON.
#[derive(Debug, Clone)]
pub struct RawBody {
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| {
                s.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|s| !s.is_empty());
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::TooLarge("Request is too large.".into())
            } else {
                Error::bad(rej.body_text())
            }
        })?;
        Ok(RawBody {
            content_type,
            bytes,
        })
    }
}

impl RawBody {
    /// 415 unless the body is declared `application/json`.
    pub fn require_json(&self) -> Result<()> {
        match self.content_type.as_deref() {
            Some("application/json") => Ok(()),
            other => Err(Error::UnsupportedMedia(format!(
                "The media type {} is not supported, use application/json",
                other.unwrap_or("None")
            ))),
        }
    }

    /// The body as JSON, validated against `schema`.
    pub fn json(&self, schema: &Value) -> Result<Value> {
        self.require_json()?;
        let data: Value = serde_json::from_slice(&self.bytes)
            .map_err(|e| Error::bad(format!("Malformed JSON: {e}")))?;
        validate(&data, schema).map_err(|v| Error::bad(format!("JSON does not validate: {v}")))?;
        Ok(data)
    }
}

/// 406 unless the client accepts `application/json` (no `Accept` header accepts all).
#[derive(Debug, Clone, Copy)]
pub struct AcceptJson;

pub fn accepts_json(headers: &HeaderMap) -> bool {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() || values.iter().all(|v| v.trim().is_empty()) {
        return true;
    }
    values.iter().flat_map(|v| v.split(',')).any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        q > 0.0 && matches!(media.as_str(), "application/json" | "application/*" | "*/*")
    })
}

impl<S: Send + Sync> FromRequestParts<S> for AcceptJson {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        if accepts_json(&parts.headers) {
            Ok(AcceptJson)
        } else {
            Err(Error::NotAcceptable(
                "Only application/json is provided".into(),
            ))
        }
    }
}

impl AcceptJson {
    /// Check after routing-level checks (microversion) have passed.
    pub fn check(headers: &HeaderMap) -> Result<()> {
        if accepts_json(headers) {
            Ok(())
        } else {
            Err(Error::NotAcceptable(
                "Only application/json is provided".into(),
            ))
        }
    }
}

/// An HTTP date (`Tue, 15 Nov 1994 08:12:31 GMT`) from microseconds since the epoch.
pub fn http_date(micros: i64) -> String {
    let dt = chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default();
    dt.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn now_micros() -> i64 {
    db::micros(std::time::SystemTime::now())
}

/// `cache-control: no-cache` and `last-modified` (1.15+); `None` means now.
pub fn cache_headers(resp: &mut Response, v: Version, last_modified: Option<i64>) {
    if !v.at_least(1, 15) {
        return;
    }
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(val) = HeaderValue::from_str(&http_date(last_modified.unwrap_or_else(now_micros))) {
        h.insert(header::LAST_MODIFIED, val);
    }
}

/// A JSON response with placement's cache headers.
pub fn json_response(
    status: StatusCode,
    body: &Value,
    v: Version,
    last_modified: Option<i64>,
) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    cache_headers(&mut resp, v, last_modified);
    resp
}

/// A bodiless response (no content-type), optionally with a location.
pub fn empty(status: StatusCode, location: Option<&str>) -> Response {
    let mut resp = status.into_response();
    if let Some(l) = location
        && let Ok(val) = HeaderValue::from_str(l)
    {
        resp.headers_mut().insert(header::LOCATION, val);
    }
    resp
}

pub fn set_location(resp: &mut Response, location: &str) {
    if let Ok(val) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, val);
    }
}

/// The latest of several modification times.
pub fn latest(times: impl IntoIterator<Item = i64>) -> Option<i64> {
    times.into_iter().max()
}

pub fn provider_url(uuid: &str) -> String {
    format!("/resource_providers/{uuid}")
}

/// A provider's links (rels grow with the microversion).
pub fn provider_links(uuid: &str, v: Version) -> Value {
    let url = provider_url(uuid);
    let mut links = vec![json!({"rel": "self", "href": url})];
    let mut rels = vec!["inventories", "usages"];
    if v.at_least(1, 1) {
        rels.push("aggregates");
    }
    if v.at_least(1, 6) {
        rels.push("traits");
    }
    if v.at_least(1, 11) {
        rels.push("allocations");
    }
    for rel in rels {
        links.push(json!({"rel": rel, "href": format!("{url}/{rel}")}));
    }
    Value::Array(links)
}

/// Normalise a UUID the way placement does for ids it stores (`str(uuid.UUID(x))`).
pub fn normalize_uuid(s: &str) -> Option<String> {
    uuid::Uuid::parse_str(s)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_matching() {
        let mut h = HeaderMap::new();
        assert!(accepts_json(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/plain"));
        assert!(!accepts_json(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xml;q=0.9,*/*;q=0.8"),
        );
        assert!(accepts_json(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xml;q=0.9"),
        );
        assert!(!accepts_json(&h));
    }

    #[test]
    fn dates_and_uuids() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            normalize_uuid("2290D4AF9E6E400B9D651EE01376F71A").as_deref(),
            Some("2290d4af-9e6e-400b-9d65-1ee01376f71a")
        );
    }
}
