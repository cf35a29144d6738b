//! Identity over HTTP, in-process: the authorization matrix (no token / member / admin) on
//! every admin endpoint, token expiry with an injected clock, and validation by another
//! service through `auth::RemoteValidator`.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use auth::TokenValidator;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use identity::bootstrap::BootstrapOptions;
use identity::{Identity, IdentityConfig, ManualClock};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Env {
    id: Arc<Identity>,
    router: axum::Router,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = IdentityConfig::for_data_dir(dir.path());
    cfg.password_hash_rounds = 4;
    let clock = Arc::new(ManualClock::new(1_900_000_000));
    let id = Identity::open(cfg, clock.clone()).await.unwrap();
    id.bootstrap(&BootstrapOptions {
        admin_username: "admin".into(),
        admin_password: "admin-pw".into(),
        project_name: "admin".into(),
        region_id: "RegionOne".into(),
    })
    .await
    .unwrap();
    let router = identity::api::router(id.clone());
    Env {
        id,
        router,
        clock,
        _dir: dir,
    }
}

async fn call(
    r: &axum::Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, axum::http::HeaderMap) {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header("X-Auth-Token", t);
    }
    let req = match body {
        Some(v) => b
            .header("Content-Type", "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    };
    let resp = r.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v, headers)
}

async fn token(r: &axum::Router, user: &str, pw: &str, project: &str) -> String {
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": pw}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}});
    let (s, v, h) = call(r, Method::POST, "/v3/auth/tokens", None, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    h["x-subject-token"].to_str().unwrap().to_string()
}

/// An admin token and a member token (member of project "demo").
async fn tokens(e: &Env) -> (String, String) {
    let admin = token(&e.router, "admin", "admin-pw", "admin").await;
    let (_, p, _) = call(
        &e.router,
        Method::POST,
        "/v3/projects",
        Some(&admin),
        Some(json!({"project": {"name": "demo"}})),
    )
    .await;
    let pid = p["project"]["id"].as_str().unwrap().to_string();
    let (_, u, _) = call(
        &e.router,
        Method::POST,
        "/v3/users",
        Some(&admin),
        Some(json!({"user": {"name": "bob", "password": "bob-pw"}})),
    )
    .await;
    let uid = u["user"]["id"].as_str().unwrap().to_string();
    let (_, roles, _) = call(
        &e.router,
        Method::GET,
        "/v3/roles?name=member",
        Some(&admin),
        None,
    )
    .await;
    let rid = roles["roles"][0]["id"].as_str().unwrap().to_string();
    let (s, _, _) = call(
        &e.router,
        Method::PUT,
        &format!("/v3/projects/{pid}/users/{uid}/roles/{rid}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let member = token(&e.router, "bob", "bob-pw", "demo").await;
    (admin, member)
}

#[tokio::test]
async fn authorization_matrix() {
    let e = env().await;
    let (admin, member) = tokens(&e).await;
    // (method, path, body): admin-only operations.
    let cases: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/v3/users", None),
        (
            Method::POST,
            "/v3/users",
            Some(json!({"user": {"name": "x1"}})),
        ),
        (Method::GET, "/v3/groups", None),
        (
            Method::POST,
            "/v3/groups",
            Some(json!({"group": {"name": "g1"}})),
        ),
        (Method::GET, "/v3/projects", None),
        (
            Method::POST,
            "/v3/projects",
            Some(json!({"project": {"name": "p1"}})),
        ),
        (
            Method::POST,
            "/v3/domains",
            Some(json!({"domain": {"name": "d1"}})),
        ),
        (
            Method::POST,
            "/v3/roles",
            Some(json!({"role": {"name": "r1"}})),
        ),
        (
            Method::POST,
            "/v3/regions",
            Some(json!({"region": {"id": "R1"}})),
        ),
        (
            Method::POST,
            "/v3/services",
            Some(json!({"service": {"type": "t1"}})),
        ),
        (Method::GET, "/v3/role_assignments", None),
        (Method::GET, "/v3/role_inferences", None),
    ];
    for (m, path, body) in cases {
        let (s, v, h) = call(&e.router, m.clone(), path, None, body.clone()).await;
        assert_eq!(
            s,
            StatusCode::UNAUTHORIZED,
            "{m} {path} without a token: {v}"
        );
        assert!(h.contains_key("www-authenticate"));
        assert_eq!(v["error"]["code"], 401);
        let (s, _, _) = call(
            &e.router,
            m.clone(),
            path,
            Some("not-a-token"),
            body.clone(),
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{m} {path} with a bad token");
        let (s, v, _) = call(&e.router, m.clone(), path, Some(&member), body.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{m} {path} as a member: {v}");
        assert_eq!(v["error"]["title"], "Forbidden");
        let (s, v, _) = call(&e.router, m.clone(), path, Some(&admin), body.clone()).await;
        assert!(s.is_success(), "{m} {path} as admin: {s} {v}");
    }
}

#[tokio::test]
async fn tokens_expire_with_the_clock() {
    let e = env().await;
    let (admin, member) = tokens(&e).await;
    let (s, _, _) = call(
        &e.router,
        Method::GET,
        "/v3/auth/catalog",
        Some(&member),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    e.clock.advance(3601);
    let (s, _, _) = call(
        &e.router,
        Method::GET,
        "/v3/auth/catalog",
        Some(&member),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "an expired token is refused");
    // validation of the expired subject: 404, or 200 with allow_expired inside the window
    let fresh = token(&e.router, "admin", "admin-pw", "admin").await;
    drop(admin);
    let req = |q: &str| {
        Request::builder()
            .uri(format!("/v3/auth/tokens{q}"))
            .header("X-Auth-Token", &fresh)
            .header("X-Subject-Token", &member)
            .body(Body::empty())
            .unwrap()
    };
    let r = e.router.clone().oneshot(req("")).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = e
        .router
        .clone()
        .oneshot(req("?allow_expired=1"))
        .await
        .unwrap();
    let st = r.status();
    let b = r.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    e.clock.advance(3 * 86_400);
    let fresh = token(&e.router, "admin", "admin-pw", "admin").await;
    let r = e
        .router
        .clone()
        .oneshot(
            Request::builder()
                .uri("/v3/auth/tokens?allow_expired=1")
                .header("X-Auth-Token", &fresh)
                .header("X-Subject-Token", &member)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "past the allow_expired window"
    );
}

#[tokio::test]
async fn remote_validation_by_another_service() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = IdentityConfig::for_data_dir(dir.path());
    cfg.password_hash_rounds = 4;
    let id = Identity::open(cfg, Arc::new(identity::SystemClock))
        .await
        .unwrap();
    id.bootstrap(&BootstrapOptions {
        admin_username: "admin".into(),
        admin_password: "admin-pw".into(),
        project_name: "admin".into(),
        region_id: "RegionOne".into(),
    })
    .await
    .unwrap();
    let router = identity::api::router(id.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let local = identity::api::router(id.clone());
    let user_token = token(&local, "admin", "admin-pw", "admin").await;

    let v = auth::RemoteValidator::new(
        auth::ServiceCredentials {
            auth_url: format!("http://{addr}/v3"),
            username: "admin".into(),
            password: "admin-pw".into(),
            project_name: "admin".into(),
            user_domain_name: "Default".into(),
            project_domain_name: "Default".into(),
        },
        Duration::from_millis(0),
    )
    .unwrap();
    let info = v.validate(&user_token).await.unwrap();
    assert_eq!(info.user_name, "admin");
    assert_eq!(info.project.as_ref().unwrap().name, "admin");
    assert!(info.has_role("admin") && info.has_role("reader"));
    assert!(matches!(
        v.validate("garbage").await,
        Err(auth::AuthError::Unauthorized)
    ));
    // revoke it; with a zero cache time the next validation sees it
    let other = token(&local, "admin", "admin-pw", "admin").await;
    let req = Request::builder()
        .method(Method::DELETE)
        .uri("/v3/auth/tokens")
        .header("X-Auth-Token", &other)
        .header("X-Subject-Token", &user_token)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        local.clone().oneshot(req).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert!(matches!(
        v.validate(&user_token).await,
        Err(auth::AuthError::Unauthorized)
    ));
}

#[tokio::test]
async fn unified_limits_and_effective_limit() {
    let e = env().await;
    let (admin, member) = tokens(&e).await;
    let (_, s, _) = call(
        &e.router,
        Method::POST,
        "/v3/services",
        Some(&admin),
        Some(json!({"service": {"type": "compute", "name": "nova"}})),
    )
    .await;
    let sid = s["service"]["id"].as_str().unwrap().to_string();
    let body = json!({"registered_limits": [
        {"service_id": sid, "resource_name": "cores", "default_limit": 10},
        {"service_id": sid, "resource_name": "ram", "default_limit": 2048}]});
    let (st, v, _) = call(
        &e.router,
        Method::POST,
        "/v3/registered_limits",
        Some(&admin),
        Some(body.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["registered_limits"].as_array().unwrap().len(), 2);
    let (st, _, _) = call(
        &e.router,
        Method::POST,
        "/v3/registered_limits",
        Some(&admin),
        Some(body),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, _, _) = call(&e.router, Method::POST, "/v3/registered_limits", Some(&member),
        Some(json!({"registered_limits": [{"service_id": sid, "resource_name": "x", "default_limit": 1}]}))).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    let (_, p, _) = call(
        &e.router,
        Method::GET,
        "/v3/projects?name=demo",
        Some(&admin),
        None,
    )
    .await;
    let pid = p["projects"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        e.id.effective_limit(&pid, &sid, None, "cores")
            .await
            .unwrap(),
        Some(10)
    );
    let (st, v, _) = call(&e.router, Method::POST, "/v3/limits", Some(&admin),
        Some(json!({"limits": [{"project_id": pid, "service_id": sid, "resource_name": "cores", "resource_limit": 4}]}))).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let lid = v["limits"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        e.id.effective_limit(&pid, &sid, None, "cores")
            .await
            .unwrap(),
        Some(4)
    );
    assert_eq!(
        e.id.effective_limit(&pid, &sid, None, "ram").await.unwrap(),
        Some(2048)
    );
    assert_eq!(
        e.id.effective_limit(&pid, &sid, None, "gpus")
            .await
            .unwrap(),
        None
    );
    // a limit without a registered default is refused
    let (st, _, _) = call(&e.router, Method::POST, "/v3/limits", Some(&admin),
        Some(json!({"limits": [{"project_id": pid, "service_id": sid, "resource_name": "gpus", "resource_limit": 1}]}))).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // the member sees its project's limit
    let (st, v, _) = call(&e.router, Method::GET, "/v3/limits", Some(&member), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["limits"].as_array().unwrap().len(), 1);
    let (st, v, _) = call(
        &e.router,
        Method::PATCH,
        &format!("/v3/limits/{lid}"),
        Some(&admin),
        Some(json!({"limit": {"resource_limit": 6}})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        e.id.effective_limit(&pid, &sid, None, "cores")
            .await
            .unwrap(),
        Some(6)
    );
    let (st, v, _) = call(
        &e.router,
        Method::GET,
        "/v3/limits/model",
        Some(&member),
        None,
    )
    .await;
    assert_eq!(
        (st, v["model"]["name"].as_str()),
        (StatusCode::OK, Some("flat"))
    );
}
