//! Websocket proxies to guest consoles — what nova-novncproxy (6080) and
//! nova-serialproxy (6083) do — and nova's console auth tokens.
//!
//! The compute API asks the guest's host where its console listens, stores a
//! [`ConsoleTarget`] under the hash of a fresh token ([`authorize`]) and hands the user a
//! URL carrying the token. The proxy looks the token up, checks the websocket's
//! `Origin`, connects to the target and copies bytes both ways.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where a console token leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleTarget {
    pub instance_uuid: String,
    /// `novnc`, `serial`…
    pub console_type: String,
    pub host: String,
    pub port: u16,
    pub internal_access_path: Option<String>,
}

/// Live tokens (by hash), persisted by the compute service.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    async fn put(
        &self,
        token_hash: &str,
        target: &ConsoleTarget,
        expires_at: i64,
    ) -> Result<(), String>;
    /// The target, unless the token is unknown or expired at `now`.
    async fn get(&self, token_hash: &str, now: i64) -> Result<Option<ConsoleTarget>, String>;
    async fn delete_for_instance(&self, instance_uuid: &str) -> Result<(), String>;
}

/// Tokens in memory (one process).
#[derive(Default)]
pub struct MemoryTokenStore {
    tokens: parking_lot::Mutex<HashMap<String, (ConsoleTarget, i64)>>,
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn put(&self, h: &str, t: &ConsoleTarget, expires_at: i64) -> Result<(), String> {
        let mut m = self.tokens.lock();
        let now = now();
        m.retain(|_, (_, e)| *e > now);
        m.insert(h.to_string(), (t.clone(), expires_at));
        Ok(())
    }

    async fn get(&self, h: &str, now: i64) -> Result<Option<ConsoleTarget>, String> {
        Ok(self
            .tokens
            .lock()
            .get(h)
            .filter(|(_, e)| *e > now)
            .map(|(t, _)| t.clone()))
    }

    async fn delete_for_instance(&self, uuid: &str) -> Result<(), String> {
        self.tokens
            .lock()
            .retain(|_, (t, _)| t.instance_uuid != uuid);
        Ok(())
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A new token (a random UUID, as nova's).
pub fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// What is stored instead of the token: its SHA-256, hex.
pub fn hash_token(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// Store `target` under a new token valid `ttl_secs`; returns the token.
pub async fn authorize(
    store: &dyn TokenStore,
    target: ConsoleTarget,
    ttl_secs: u64,
) -> Result<String, String> {
    let token = new_token();
    let ttl = i64::try_from(ttl_secs).unwrap_or(600);
    store.put(&hash_token(&token), &target, now() + ttl).await?;
    Ok(token)
}

/// Proxy options.
#[derive(Debug, Clone, Default)]
pub struct ProxyOptions {
    /// noVNC's web client (Debian's `novnc` package: /usr/share/novnc), served at `/`.
    pub novnc_dir: Option<PathBuf>,
    /// Extra host names a websocket's `Origin` may carry besides the proxy's own
    /// (`[console] allowed_origins`).
    pub allowed_origins: Vec<String>,
}

struct Proxy {
    store: Arc<dyn TokenStore>,
    opts: ProxyOptions,
}

/// The proxy: websocket upgrades at `/` and `/websockify` (token in the `token` query
/// parameter, in `path=?token=…`, or in a `token` cookie); noVNC's files otherwise.
pub fn router(store: Arc<dyn TokenStore>, opts: ProxyOptions) -> Router {
    let files = opts.novnc_dir.clone().filter(|d| d.is_dir());
    let proxy = Arc::new(Proxy { store, opts });
    let r = Router::new()
        .route("/", axum::routing::get(entry))
        .route("/websockify", axum::routing::get(entry))
        .with_state(proxy);
    match files {
        Some(dir) => r.fallback_service(tower_http::services::ServeDir::new(dir)),
        None => r,
    }
}

fn refuse(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain")],
        msg.to_string(),
    )
        .into_response()
}

/// The token of a request, wherever websockify clients put it.
fn token_of(query: Option<&str>, headers: &HeaderMap) -> Option<String> {
    let pairs = |q: &str| -> Vec<(String, String)> {
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    if let Some(q) = query {
        let ps = pairs(q);
        if let Some((_, t)) = ps.iter().find(|(k, _)| k == "token") {
            return Some(t.clone());
        }
        if let Some((_, p)) = ps.iter().find(|(k, _)| k == "path") {
            let inner = p.split_once('?').map_or(p.as_str(), |(_, q)| q);
            if let Some((_, t)) = pairs(inner).into_iter().find(|(k, _)| k == "token") {
                return Some(t);
            }
        }
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| v.to_string())
}

/// The host part of `host[:port]` or of a URL's authority.
fn host_only(s: &str) -> &str {
    let s = s.split("://").nth(1).unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    s.rsplit_once(':').map_or(s, |(h, _)| h)
}

/// nova's origin check: the `Origin` host must be the request's own host or allowed.
fn origin_ok(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true; // not a browser: nothing to check
    };
    if origin == "null" {
        return false;
    }
    let o = host_only(origin);
    let own = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(host_only);
    own == Some(o) || allowed.iter().any(|a| a == o)
}

async fn entry(State(p): State<Arc<Proxy>>, req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        let index = p.opts.novnc_dir.as_ref().map(|d| d.join("vnc_lite.html"));
        return match index.and_then(|i| std::fs::read(i).ok()) {
            Some(page) => ([(header::CONTENT_TYPE, "text/html")], page).into_response(),
            None => refuse(StatusCode::BAD_REQUEST, "A websocket upgrade is expected."),
        };
    }
    if !origin_ok(&parts.headers, &p.opts.allowed_origins) {
        return refuse(
            StatusCode::FORBIDDEN,
            "Origin header does not match this host.",
        );
    }
    let Some(token) = token_of(parts.uri.query(), &parts.headers) else {
        return refuse(
            StatusCode::FORBIDDEN,
            "The token has expired or is invalid.",
        );
    };
    let target = match p.store.get(&hash_token(&token), now()).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return refuse(
                StatusCode::FORBIDDEN,
                "The token has expired or is invalid.",
            );
        }
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(e) => return e.into_response(),
    };
    let addr = format!("{}:{}", target.host, target.port);
    let backend = match tokio::net::TcpStream::connect(&addr).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(instance = %target.instance_uuid, %addr, error = %e, "console unreachable");
            return refuse(StatusCode::BAD_GATEWAY, "The console is not reachable.");
        }
    };
    tracing::info!(instance = %target.instance_uuid, kind = %target.console_type, "console connected");
    ws.protocols(["binary"])
        .on_upgrade(move |socket| bridge(socket, backend))
}

/// Copy websocket messages to the console and the console's bytes back, until either
/// side closes.
async fn bridge(socket: WebSocket, backend: tokio::net::TcpStream) {
    let (mut ws_tx, mut ws_rx) = socket.split();
    let (mut rd, mut wr) = backend.into_split();
    let up = async {
        while let Some(Ok(msg)) = ws_rx.next().await {
            let data: Vec<u8> = match msg {
                Message::Binary(b) => b.to_vec(),
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Close(_) => break,
                _ => continue,
            };
            if wr.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if ws_tx
                        .send(Message::Binary(buf[..n].to_vec().into()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        let _ = ws_tx.close().await;
    };
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::{self, Message as WsMsg};

    /// A fake VNC server: sends its banner, then echoes.
    async fn backend() -> u16 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    s.write_all(b"RFB 003.008\n").await.unwrap();
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        port
    }

    async fn proxy(store: Arc<MemoryTokenStore>) -> u16 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let r = router(store, ProxyOptions::default());
        tokio::spawn(async move { axum::serve(l, r).await.unwrap() });
        port
    }

    fn target(port: u16) -> ConsoleTarget {
        ConsoleTarget {
            instance_uuid: "i1".into(),
            console_type: "novnc".into(),
            host: "127.0.0.1".into(),
            port,
            internal_access_path: None,
        }
    }

    async fn connect(
        url: &str,
        origin: Option<&str>,
        cookie: Option<&str>,
    ) -> Result<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        tungstenite::Error,
    > {
        let mut req = url.into_client_request().unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("Origin", o.parse().unwrap());
        }
        if let Some(c) = cookie {
            req.headers_mut().insert("Cookie", c.parse().unwrap());
        }
        tokio_tungstenite::connect_async(req).await.map(|(s, _)| s)
    }

    fn status(e: tungstenite::Error) -> u16 {
        match e {
            tungstenite::Error::Http(r) => r.status().as_u16(),
            other => panic!("expected an HTTP refusal, got {other}"),
        }
    }

    #[tokio::test]
    async fn bridges_with_a_valid_token_only() {
        let store = Arc::new(MemoryTokenStore::default());
        let be = backend().await;
        let port = proxy(store.clone()).await;
        let token = authorize(store.as_ref(), target(be), 600).await.unwrap();
        let url = format!("ws://127.0.0.1:{port}/websockify?token={token}");
        let mut ws = connect(&url, Some(&format!("http://127.0.0.1:{port}")), None)
            .await
            .unwrap();
        let banner = ws.next().await.unwrap().unwrap();
        assert_eq!(banner.into_data().as_ref(), b"RFB 003.008\n");
        ws.send(WsMsg::Text("ping".into())).await.unwrap();
        let echo = ws.next().await.unwrap().unwrap();
        assert_eq!(echo.into_data().as_ref(), b"ping");

        // token inside `path`, and in a cookie
        let path = format!("ws://127.0.0.1:{port}/?path=%3Ftoken%3D{token}");
        assert!(connect(&path, None, None).await.is_ok());
        let bare = format!("ws://127.0.0.1:{port}/");
        assert!(
            connect(&bare, None, Some(&format!("token={token}")))
                .await
                .is_ok()
        );

        // refusals
        let bad = format!("ws://127.0.0.1:{port}/?token=nope");
        assert_eq!(status(connect(&bad, None, None).await.unwrap_err()), 403);
        assert_eq!(
            status(
                connect(&url, Some("http://evil.example"), None)
                    .await
                    .unwrap_err()
            ),
            403
        );
        let expired = new_token();
        store
            .put(&hash_token(&expired), &target(be), now() - 1)
            .await
            .unwrap();
        let url = format!("ws://127.0.0.1:{port}/?token={expired}");
        assert_eq!(status(connect(&url, None, None).await.unwrap_err()), 403);
        store.delete_for_instance("i1").await.unwrap();
        let url = format!("ws://127.0.0.1:{port}/?token={token}");
        assert_eq!(status(connect(&url, None, None).await.unwrap_err()), 403);
    }

    #[test]
    fn hashes_and_hosts() {
        assert_eq!(hash_token("abc").len(), 64);
        assert_ne!(hash_token("abc"), hash_token("abd"));
        assert_eq!(host_only("http://h.example:6080/x"), "h.example");
        assert_eq!(host_only("[::1]:6080"), "::1");
        assert_eq!(host_only("h"), "h");
    }
}
