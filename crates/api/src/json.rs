//! JSON request bodies whose rejections speak the service's error format.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::{ErrorStyle, Fault};

/// Like `axum::Json`, but a malformed, mistyped or oversized body becomes a [`Fault`]
/// rendered in the service's own [`ErrorStyle`] (400, or 413 past the body limit).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Fault;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let style = req
            .extensions()
            .get::<ErrorStyle>()
            .copied()
            .unwrap_or_default();
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            let status = rej.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                Fault::new(status, "Request is too large.").styled(style)
            } else {
                Fault::new(status, rej.body_text()).styled(style)
            }
        })?;
        parse(&bytes).map(Json).map_err(|f| f.styled(style))
    }
}

/// Parse a JSON document into `T`, mapping errors to a 400 [`Fault`] with serde's reason.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Fault> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Fault::bad_request(
            "The request body is empty; a JSON document was expected.",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let reason = match e.classify() {
            serde_json::error::Category::Data => format!("Invalid input: {e}"),
            _ => format!("Malformed request body: {e}"),
        };
        Fault::bad_request(reason)
    })
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        name: String,
    }

    #[test]
    fn malformed_and_mistyped_are_400() {
        assert_eq!(parse::<Body>(b"{").unwrap_err().status, 400);
        assert_eq!(parse::<Body>(b"{\"name\": 1}").unwrap_err().status, 400);
        assert_eq!(parse::<Body>(b"{\"nam\": \"x\"}").unwrap_err().status, 400);
        assert_eq!(parse::<Body>(b"  ").unwrap_err().status, 400);
        assert!(parse::<Body>(b"{\"name\": \"x\"}").is_ok());
    }
}
