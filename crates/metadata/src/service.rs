//! The metadata HTTP service (nova-api-metadata, port 8775).
//!
//! The instance is found as nova finds it behind neutron's metadata proxy: by the
//! `X-Instance-ID` header, signed in `X-Instance-ID-Signature` (hex HMAC-SHA256 of the
//! id with `[neutron] metadata_proxy_shared_secret`) when a secret is configured; or by
//! the caller's fixed IP (`X-Forwarded-For`, else the peer address).

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Answer, InstanceMetadata, lookup};

/// Where the service finds instances.
#[async_trait]
pub trait InstanceFinder: Send + Sync + 'static {
    async fn by_id(&self, uuid: &str) -> Option<InstanceMetadata>;
    async fn by_address(&self, ip: &str) -> Option<InstanceMetadata>;
    /// Store the password a guest posts; false when one is set already.
    async fn set_password(&self, uuid: &str, password: &str) -> Result<bool, String>;
}

struct Svc {
    finder: Arc<dyn InstanceFinder>,
    secret: Option<String>,
}

/// The longest password a guest may post (nova's limit).
const MAX_PASSWORD: usize = 256;

/// The service's router: every path, GET (and POST for `password`).
pub fn router(finder: Arc<dyn InstanceFinder>, shared_secret: Option<String>) -> Router {
    let svc = Arc::new(Svc {
        finder,
        secret: shared_secret.filter(|s| !s.is_empty()),
    });
    Router::new().fallback(handle).with_state(svc)
}

fn plain(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        msg.to_string(),
    )
        .into_response()
}

fn signature(secret: &str, id: &str) -> String {
    // HMAC accepts keys of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn find(
    svc: &Svc,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<InstanceMetadata, Response> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(id) = h("x-instance-id") {
        if let Some(secret) = &svc.secret {
            let want = signature(secret, id);
            let got = h("x-instance-id-signature").unwrap_or_default();
            if want.is_empty() || !constant_eq(want.as_bytes(), got.as_bytes()) {
                tracing::warn!(instance = id, "metadata request with a bad signature");
                return Err(plain(
                    StatusCode::FORBIDDEN,
                    "Invalid proxy request signature.",
                ));
            }
        }
        return svc
            .finder
            .by_id(id)
            .await
            .ok_or_else(|| plain(StatusCode::NOT_FOUND, "Instance not found."));
    }
    let addr = h("x-forwarded-for")
        .and_then(|v| v.split(',').next())
        .map(|s| s.trim().to_string())
        .or_else(|| peer.map(|p| p.ip().to_string()));
    let Some(addr) = addr else {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            "X-Forwarded-For is missing.",
        ));
    };
    svc.finder
        .by_address(&addr)
        .await
        .ok_or_else(|| plain(StatusCode::NOT_FOUND, "Instance not found."))
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn handle(State(svc): State<Arc<Svc>>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let body: Bytes = match axum::body::to_bytes(body, MAX_PASSWORD + 1).await {
        Ok(b) => b,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "Request is too large."),
    };
    let md = match find(&svc, &headers, peer).await {
        Ok(md) => md,
        Err(r) => return r,
    };
    let path = uri.path();
    let is_password = {
        let t: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        t.len() == 3 && t[0] == "openstack" && t[2] == "password"
    };
    if method == Method::POST && is_password {
        if body.len() > MAX_PASSWORD {
            return plain(StatusCode::BAD_REQUEST, "Request is too large.");
        }
        let pw = String::from_utf8_lossy(&body);
        return match svc.finder.set_password(&md.uuid, &pw).await {
            Ok(true) => StatusCode::OK.into_response(),
            Ok(false) => plain(StatusCode::CONFLICT, "Password already set."),
            Err(e) => plain(StatusCode::INTERNAL_SERVER_ERROR, &e),
        };
    }
    if method != Method::GET && method != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.");
    }
    match lookup(&md, path) {
        Answer::Ok { content_type, body } => {
            let ct = if content_type == "text/plain" {
                "text/plain; charset=UTF-8"
            } else {
                content_type
            };
            ([(header::CONTENT_TYPE, ct)], body).into_response()
        }
        Answer::NotFound => plain(StatusCode::NOT_FOUND, "The resource could not be found."),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    struct Finder(parking::Mutex);

    mod parking {
        pub struct Mutex(pub std::sync::Mutex<Option<String>>);
    }

    #[async_trait]
    impl InstanceFinder for Finder {
        async fn by_id(&self, uuid: &str) -> Option<InstanceMetadata> {
            (uuid == crate::tests::sample().uuid).then(crate::tests::sample)
        }
        async fn by_address(&self, ip: &str) -> Option<InstanceMetadata> {
            (ip == "10.0.0.5").then(crate::tests::sample)
        }
        async fn set_password(&self, _uuid: &str, password: &str) -> Result<bool, String> {
            let mut g = self.0.0.lock().unwrap();
            if g.is_some() {
                return Ok(false);
            }
            *g = Some(password.to_string());
            Ok(true)
        }
    }

    async fn call(
        r: &Router,
        method: &str,
        path: &str,
        hs: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, String) {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in hs {
            req = req.header(*k, *v);
        }
        let resp = r
            .clone()
            .oneshot(req.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let b = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&b).into_owned())
    }

    #[tokio::test]
    async fn identifies_instances_like_nova() {
        let finder = Arc::new(Finder(parking::Mutex(std::sync::Mutex::new(None))));
        let r = router(finder, Some("s3cret".into()));
        let id = crate::tests::sample().uuid;
        let sig = signature("s3cret", &id);
        let (s, b) = call(
            &r,
            "GET",
            "/openstack/latest/meta_data.json",
            &[("X-Instance-ID", &id), ("X-Instance-ID-Signature", &sig)],
            "",
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert!(b.contains(&id));
        let (s, _) = call(
            &r,
            "GET",
            "/openstack/latest/meta_data.json",
            &[("X-Instance-ID", &id), ("X-Instance-ID-Signature", "00")],
            "",
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let other = "1a2b";
        let sig2 = signature("s3cret", other);
        let (s, _) = call(
            &r,
            "GET",
            "/",
            &[("X-Instance-ID", other), ("X-Instance-ID-Signature", &sig2)],
            "",
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, b) = call(
            &r,
            "GET",
            "/latest/meta-data/hostname",
            &[("X-Forwarded-For", "10.0.0.5")],
            "",
        )
        .await;
        assert_eq!((s, b.as_str()), (StatusCode::OK, "web-one"));
        let (s, _) = call(
            &r,
            "GET",
            "/latest/meta-data/hostname",
            &[("X-Forwarded-For", "10.9.9.9")],
            "",
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let fwd = [("X-Forwarded-For", "10.0.0.5")];
        let (s, _) = call(&r, "POST", "/openstack/2013-04-04/password", &fwd, "enc-pw").await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = call(&r, "POST", "/openstack/latest/password", &fwd, "again").await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (s, _) = call(
            &r,
            "POST",
            "/openstack/latest/password",
            &fwd,
            &"x".repeat(300),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = call(&r, "GET", "/openstack/latest/nothing", &fwd, "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
}
