//! Serving a router on a listener until shutdown.

use std::net::SocketAddr;

use axum::Router;
use axum::ServiceExt;
use axum::extract::Request;
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

/// Bind `addr`; errors name the address so the operator sees which port is taken.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Serve until `shutdown` completes, then finish in-flight requests. With
/// `trim_trailing_slash`, a trailing slash on a path is ignored (keystone accepts
/// `/v3/OS-TRUST/trusts/`); Glance, by contrast, answers 404 to `/v2/images/`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    trim_trailing_slash: bool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if trim_trailing_slash {
        let svc = NormalizePathLayer::trim_trailing_slash().layer(router);
        axum::serve(listener, ServiceExt::<Request>::into_make_service(svc))
            .with_graceful_shutdown(shutdown)
            .await
    } else {
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}
