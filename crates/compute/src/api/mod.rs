//! Nova v2.1 HTTP handlers.

pub mod actions;
pub mod aggregates;
pub mod events;
pub mod extensions;
pub mod flavors;
pub mod hosts;
pub mod images;
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

/// The version documents nova publishes: v2.0 (the legacy API, SUPPORTED, served by
/// the same code without microversions) and v2.1 (CURRENT, microversioned).
fn version_doc(base: &str, legacy: bool) -> Value {
    let (id, status, max, min, updated, path) = if legacy {
        (
            "v2.0",
            "SUPPORTED",
            String::new(),
            String::new(),
            "2011-01-21T11:33:21Z",
            "v2",
        )
    } else {
        (
            "v2.1",
            "CURRENT",
            MAX_VERSION.to_string(),
            MIN_VERSION.to_string(),
            "2013-07-23T11:33:21Z",
            "v2.1",
        )
    };
    json!({
        "id": id,
        "status": status,
        "version": max,
        "min_version": min,
        "updated": updated,
        "links": [
            {"rel": "self", "href": format!("{base}/{path}/")},
            {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}
        ],
        "media-types": [{"base": "application/json",
                         "type": format!("application/vnd.openstack.compute+json;version={}", &id[1..])}]
    })
}

/// `GET /`: the versions document (200, as nova answers it).
pub async fn versions(BaseUrl(base): BaseUrl) -> Response {
    let list: Vec<Value> = [true, false]
        .into_iter()
        .map(|legacy| {
            let mut v = version_doc(&base, legacy);
            if let Some(m) = v.as_object_mut() {
                m.remove("media-types");
            }
            v
        })
        .collect();
    axum::Json(json!({"versions": list})).into_response()
}

/// `GET /v2.1`
pub async fn version(BaseUrl(base): BaseUrl) -> Response {
    axum::Json(json!({"version": version_doc(&base, false)})).into_response()
}

/// `GET /v2`
pub async fn version_legacy(BaseUrl(base): BaseUrl) -> Response {
    axum::Json(json!({"version": version_doc(&base, true)})).into_response()
}

/// 404 for an API removed at microversion `major.minor` (as nova answers a request
/// for a resource that no longer exists at the requested version).
pub(crate) fn removed_at(v: Version, major: u16, minor: u16) -> crate::Result<()> {
    if v.at_least(major, minor) {
        return Err(crate::Error::NotFound(
            "The resource could not be found.".into(),
        ));
    }
    Ok(())
}

pub fn table() -> Routes<Arc<ComputeService>> {
    let r = Routes::new();
    let r = api::route!(r, "/", get(versions, "List API versions"));
    let r = api::route!(r, "/v2.1", get(version, "Show API version 2.1"));
    let r = api::route!(r, "/v2", get(version_legacy, "Show API version 2.0"));
    r.merge(servers::routes())
        .merge(actions::routes())
        .merge(flavors::routes())
        .merge(keypairs::routes())
        .merge(misc::routes())
        .merge(aggregates::routes())
        .merge(extensions::routes())
        .merge(images::routes())
        .merge(hosts::routes())
        .merge(events::routes())
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
        .layer(axum::middleware::from_fn(check_url_project))
        .layer(axum::Extension(validator))
        .layer(axum::middleware::from_fn(move |req, next| {
            let n = neg.clone();
            async move { n.layer(req, next).await }
        }));
    let r = api::service_layers(r, opts);
    let paths = tower::ServiceBuilder::new()
        .map_request(|mut req: axum::extract::Request| {
            let (path, project) = nova_path(req.uri().path());
            if let Some(path) = path {
                let pq = match req.uri().query() {
                    Some(q) => format!("{path}?{q}"),
                    None => path,
                };
                let mut parts = req.uri().clone().into_parts();
                if let Ok(pq) = pq.parse() {
                    parts.path_and_query = Some(pq);
                    if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                        *req.uri_mut() = uri;
                    }
                }
            }
            if let Some(p) = project {
                req.extensions_mut().insert(UrlProject(p));
            }
            req
        })
        .service(r);
    Router::new().fallback_service(paths)
}

/// The project id a request carried in its URL (`/v2.1/{project_id}/servers`).
#[derive(Debug, Clone)]
struct UrlProject(String);

/// How nova's router sees a path: it matches paths exactly (`/servers/` or `/images/`,
/// an empty id, are not found), but the version documents answer with a trailing slash
/// too, and every route also exists under a legacy `{project_id}` prefix (hex and dashes,
/// as nova's mapper requires) for catalogs registered as `…/v2.1/$(project_id)s`.
/// Returns the path to route (None: unchanged) and the URL's project id.
fn nova_path(path: &str) -> (Option<String>, Option<String>) {
    let Some((root, rest)) = ["/v2.1", "/v2"].iter().find_map(|root| {
        path.strip_prefix(root)
            .and_then(|r| r.strip_prefix('/'))
            .map(|r| (*root, r))
    }) else {
        return (None, None);
    };
    if rest.is_empty() {
        return (Some(root.to_string()), None);
    }
    let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let is_project = first.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        && first.bytes().any(|b| b.is_ascii_hexdigit());
    if !is_project {
        return (None, None);
    }
    let routed = if tail.is_empty() {
        root.to_string()
    } else {
        format!("{root}/{tail}")
    };
    (Some(routed), Some(first.to_string()))
}

/// nova refuses a URL whose project id is not the caller's token's project.
async fn check_url_project(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let Some(UrlProject(url_project)) = req.extensions().get::<UrlProject>().cloned() else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let ctx = match <auth::Context as axum::extract::FromRequestParts<()>>::from_request_parts(
        &mut parts,
        &(),
    )
    .await
    {
        Ok(c) => c,
        Err(f) => return f.into_response(),
    };
    let own = ctx.user.project.as_ref().map(|p| p.id.as_str());
    if own != Some(url_project.as_str()) {
        return api::Fault::bad_request(format!(
            "Malformed request URL: URL's project_id '{url_project}' doesn't match Context's project_id '{}'",
            own.unwrap_or("None")
        ))
        .styled(ErrorStyle::Nova)
        .into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

const PUBLIC: &[&str] = &["get /", "get /v2.1", "get /v2"];

pub fn openapi() -> Value {
    api::openapi::document(
        "ferrostack compute (Nova v2.1)",
        &MAX_VERSION.to_string(),
        table().operations(),
        PUBLIC,
    )
}

#[cfg(test)]
mod tests {
    use super::nova_path;

    #[test]
    fn paths_route_as_in_nova() {
        let s = |p: &str| Some(p.to_string());
        assert_eq!(nova_path("/v2.1/"), (s("/v2.1"), None));
        assert_eq!(nova_path("/v2/"), (s("/v2"), None));
        assert_eq!(nova_path("/v2.1"), (None, None));
        assert_eq!(nova_path("/v2.1/servers"), (None, None));
        assert_eq!(nova_path("/v2.1/servers/"), (None, None));
        assert_eq!(nova_path("/v2.1/os-simple-tenant-usage/"), (None, None));
        assert_eq!(nova_path("/"), (None, None));
        let p = "0a1b2c3d4e5f40718293a4b5c6d7e8f9";
        assert_eq!(
            nova_path(&format!("/v2.1/{p}/servers/detail")),
            (s("/v2.1/servers/detail"), s(p))
        );
        assert_eq!(
            nova_path(&format!("/v2/{p}/flavors")),
            (s("/v2/flavors"), s(p))
        );
        assert_eq!(nova_path(&format!("/v2.1/{p}")), (s("/v2.1"), s(p)));
        assert_eq!(nova_path(&format!("/v2.1/{p}/")), (s("/v2.1"), s(p)));
        // still exact after the prefix
        assert_eq!(
            nova_path(&format!("/v2.1/{p}/servers/")),
            (s("/v2.1/servers/"), s(p))
        );
    }
}
