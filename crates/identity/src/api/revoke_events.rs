//! OS-REVOKE: `GET /v3/OS-REVOKE/events[?since=ISO8601]`.

use std::sync::Arc;

use api::BaseUrl;
use api::openapi::Routes;
use auth::Context;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use crate::api::{Params, St, ok};
use crate::{Error, Identity, Result};

/// `GET /v3/OS-REVOKE/events`
pub async fn list(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    id.enforce(&ctx, "identity:list_revoke_events", &json!({}))?;
    let since = match q.get("since") {
        None => None,
        Some(s) => Some(
            crate::clock::parse_iso(s)
                .ok_or_else(|| {
                    Error::bad(format!(
                        "Invalid value for 'since': {s:?} is not an ISO 8601 time."
                    ))
                })?
                .div_euclid(1_000_000),
        ),
    };
    let events: Vec<_> = id
        .revocations
        .since(since)
        .iter()
        .map(|e| e.to_json())
        .collect();
    Ok(ok(json!({
        "events": events,
        "links": {"self": format!("{base}/v3/OS-REVOKE/events"), "previous": null, "next": null},
    })))
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/OS-REVOKE/events",
        get(list, "GET /v3/OS-REVOKE/events")
    );
    r
}
