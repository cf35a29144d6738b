//! Placement over HTTP, in-process: providers and generations, inventories, traits,
//! aggregates, allocations (capacity, consumer generations, concurrent writers),
//! usages, allocation candidates, the reshaper, microversions and error bodies.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use auth::{AuthError, Named, ProjectRef, TokenInfo, TokenValidator};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use placement::{PlacementConfig, PlacementService};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Tokens named after their roles: "admin", "service", "user" (member of project p1).
struct Tokens;

fn info(roles: &[&str]) -> TokenInfo {
    TokenInfo {
        user_id: "u1".into(),
        user_name: "someone".into(),
        user_domain: Named {
            id: "default".into(),
            name: "Default".into(),
        },
        project: Some(ProjectRef {
            id: "p1".into(),
            name: "proj".into(),
            domain: Named {
                id: "default".into(),
                name: "Default".into(),
            },
        }),
        domain: None,
        system: None,
        roles: roles
            .iter()
            .map(|r| Named {
                id: format!("{r}-id"),
                name: (*r).to_string(),
            })
            .collect(),
        is_admin_project: true,
        methods: vec!["password".into()],
        audit_ids: vec![],
        expires_at: i64::MAX,
        issued_at: 0,
        app_cred_id: None,
        trust_id: None,
    }
}

#[async_trait]
impl TokenValidator for Tokens {
    async fn validate(&self, token: &str) -> Result<Arc<TokenInfo>, AuthError> {
        match token {
            "admin" => Ok(Arc::new(info(&["admin", "member", "reader"]))),
            "service" => Ok(Arc::new(info(&["service"]))),
            "user" => Ok(Arc::new(info(&["member", "reader"]))),
            _ => Err(AuthError::Unauthorized),
        }
    }
}

struct Env {
    router: axum::Router,
    _dir: tempfile::TempDir,
}

/// SQLite in a temporary directory, or the database of `FERROSTACK_TEST_DB_URL`
/// (PostgreSQL, MariaDB), emptied first: run those with `--test-threads=1`.
async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = PlacementConfig::for_data_dir(dir.path());
    let external = std::env::var("FERROSTACK_TEST_DB_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if let Some(u) = &external {
        cfg.database_url = u.clone();
    }
    let svc = PlacementService::open(cfg).await.unwrap();
    if external.is_some() {
        svc.db
            .q("UPDATE placement_provider SET parent_uuid = NULL")
            .execute(svc.db.pool())
            .await
            .unwrap();
        for t in [
            "placement_allocation",
            "placement_consumer",
            "placement_inventory",
            "placement_provider_trait",
            "placement_provider_aggregate",
            "placement_custom_trait",
            "placement_custom_class",
            "placement_provider",
        ] {
            svc.db
                .q(&format!("DELETE FROM {t}"))
                .execute(svc.db.pool())
                .await
                .unwrap();
        }
    }
    let validator = auth::Validator {
        inner: Arc::new(Tokens),
        auth_uri: "http://keystone/v3".into(),
    };
    Env {
        router: placement::api::router(svc, validator, 1 << 20),
        _dir: dir,
    }
}

struct Resp {
    status: StatusCode,
    body: Value,
    headers: HeaderMap,
}

async fn req(
    r: &axum::Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    version: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("Accept", "application/json");
    if let Some(t) = token {
        b = b.header("X-Auth-Token", t);
    }
    if let Some(v) = version {
        b = b.header("OpenStack-API-Version", format!("placement {v}"));
    }
    let request = match body {
        Some(v) => b
            .header("Content-Type", "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    };
    let resp = r.clone().oneshot(request).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    }
}

/// Admin calls at a microversion.
async fn call(r: &axum::Router, method: Method, uri: &str, v: &str, body: Option<Value>) -> Resp {
    req(r, method, uri, Some("admin"), Some(v), body).await
}

async fn provider(r: &axum::Router, name: &str, parent: Option<&str>) -> String {
    let mut body = json!({ "name": name });
    if let Some(p) = parent {
        body["parent_provider_uuid"] = json!(p);
    }
    let resp = call(r, Method::POST, "/resource_providers", "1.39", Some(body)).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.body);
    resp.body["uuid"].as_str().unwrap().to_string()
}

async fn generation(r: &axum::Router, rp: &str) -> i64 {
    let resp = call(
        r,
        Method::GET,
        &format!("/resource_providers/{rp}"),
        "1.39",
        None,
    )
    .await;
    resp.body["generation"].as_i64().unwrap()
}

async fn set_inventory(r: &axum::Router, rp: &str, inventories: Value) -> Resp {
    let g = generation(r, rp).await;
    call(
        r,
        Method::PUT,
        &format!("/resource_providers/{rp}/inventories"),
        "1.39",
        Some(json!({"resource_provider_generation": g, "inventories": inventories})),
    )
    .await
}

fn alloc_body(rp: &str, resources: Value, consumer_generation: Value) -> Value {
    json!({
        "allocations": {rp: {"resources": resources}},
        "project_id": "p1",
        "user_id": "u1",
        "consumer_generation": consumer_generation,
        "consumer_type": "INSTANCE",
    })
}

fn error_code(r: &Resp) -> &str {
    r.body["errors"][0]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn version_document_and_microversions() {
    let e = env().await;
    let r = req(&e.router, Method::GET, "/", None, None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["versions"][0]["id"], "v1.0");
    assert_eq!(r.body["versions"][0]["max_version"], "1.39");
    assert_eq!(r.body["versions"][0]["min_version"], "1.0");
    assert_eq!(r.body["versions"][0]["status"], "CURRENT");
    assert_eq!(r.headers["openstack-api-version"], "placement 1.0");
    assert!(r.headers.get_all("vary").iter().any(|v| {
        v.to_str()
            .unwrap()
            .eq_ignore_ascii_case("openstack-api-version")
    }));
    assert!(r.headers.get("last-modified").is_none());

    let r = req(&e.router, Method::GET, "/", None, Some("latest"), None).await;
    assert_eq!(r.headers["openstack-api-version"], "placement 1.39");
    assert_eq!(r.headers["cache-control"], "no-cache");
    assert!(
        r.headers["last-modified"]
            .to_str()
            .unwrap()
            .ends_with(" GMT")
    );

    let r = req(&e.router, Method::GET, "/", None, Some("0.5"), None).await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(r.body["errors"][0]["title"], "Not Acceptable");
    assert!(
        r.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("Unacceptable version header: 0.5")
    );
    assert_eq!(r.body["errors"][0]["max_version"], "1.39");
    assert_eq!(r.body["errors"][0]["min_version"], "1.0");
    let r = req(&e.router, Method::GET, "/", None, Some("1.40"), None).await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    let r = req(&e.router, Method::GET, "/", None, Some("pony.horse"), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("invalid version string: pony.horse")
    );

    // Routes that appear in later microversions are 404 before them.
    let r = call(&e.router, Method::GET, "/traits", "1.5", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(&e.router, Method::GET, "/traits", "1.6", None).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn error_bodies_auth_and_policy() {
    let e = env().await;
    let r = call(&e.router, Method::GET, "/barnabas", "1.0", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let err = &r.body["errors"][0];
    assert_eq!(err["status"], 404);
    assert_eq!(err["title"], "Not Found");
    assert_eq!(
        err["request_id"],
        r.headers["x-openstack-request-id"].to_str().unwrap()
    );
    assert!(err["request_id"].as_str().unwrap().starts_with("req-"));
    // error codes appear at 1.23
    assert!(err.get("code").is_none());
    let r = call(&e.router, Method::GET, "/barnabas", "1.23", None).await;
    assert_eq!(error_code(&r), "placement.undefined_code");

    let r = call(
        &e.router,
        Method::DELETE,
        "/resource_providers",
        "1.39",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let allow = r.headers["allow"].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    assert_eq!(r.body["errors"][0]["title"], "Method Not Allowed");

    let r = req(
        &e.router,
        Method::GET,
        "/resource_providers",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body["errors"][0]["request_id"].is_string());
    let r = req(
        &e.router,
        Method::GET,
        "/resource_providers",
        Some("user"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("placement:resource_providers:list")
    );
    let r = req(
        &e.router,
        Method::GET,
        "/resource_providers",
        Some("service"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // project readers may see their own project's usages
    let r = req(
        &e.router,
        Method::GET,
        "/usages?project_id=p1",
        Some("user"),
        Some("1.9"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = req(
        &e.router,
        Method::GET,
        "/usages?project_id=p2",
        Some("user"),
        Some("1.9"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // bad JSON, schema violations, media types, accept
    let r = call(
        &e.router,
        Method::POST,
        "/resource_providers",
        "1.39",
        Some(json!({"transport": "car"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("JSON does not validate")
    );
    let mut bad = Request::builder()
        .method(Method::POST)
        .uri("/resource_providers")
        .header("X-Auth-Token", "admin")
        .header("Content-Type", "application/json")
        .body(Body::from("{\"name\": }"))
        .unwrap();
    bad.headers_mut()
        .insert("openstack-api-version", "placement 1.39".parse().unwrap());
    let resp = e.router.clone().oneshot(bad).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        v["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("Malformed JSON")
    );
    let plain = Request::builder()
        .method(Method::POST)
        .uri("/resource_providers")
        .header("X-Auth-Token", "admin")
        .header("Content-Type", "text/plain")
        .body(Body::from("a provider please"))
        .unwrap();
    assert_eq!(
        e.router.clone().oneshot(plain).await.unwrap().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let untyped = Request::builder()
        .method(Method::POST)
        .uri("/resource_providers")
        .header("X-Auth-Token", "admin")
        .header("Content-Length", "5")
        .body(Body::from("hello"))
        .unwrap();
    assert_eq!(
        e.router.clone().oneshot(untyped).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let bad_length = Request::builder()
        .method(Method::POST)
        .uri("/resource_providers")
        .header("X-Auth-Token", "admin")
        .header("Content-Type", "application/json")
        .header("Content-Length", "hi mom")
        .body(Body::empty())
        .unwrap();
    let resp = e.router.clone().oneshot(bad_length).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&bytes).contains("content-length header must be an integer"));
    let html = Request::builder()
        .uri("/nowhere")
        .header("Accept", "text/html")
        .body(Body::empty())
        .unwrap();
    let resp = e.router.clone().oneshot(html).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let text = Request::builder()
        .uri("/resource_providers")
        .header("X-Auth-Token", "admin")
        .header("Accept", "text/plain")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        e.router.clone().oneshot(text).await.unwrap().status(),
        StatusCode::NOT_ACCEPTABLE
    );
}

#[tokio::test]
async fn providers_crud_trees_and_generations() {
    let e = env().await;
    let r = &e.router;
    // before 1.20: 201 without a body
    let r19 = call(
        r,
        Method::POST,
        "/resource_providers",
        "1.19",
        Some(json!({"name": "old", "uuid": "2290d4af9e6e400b9d651ee01376f71a"})),
    )
    .await;
    assert_eq!(r19.status, StatusCode::CREATED);
    assert!(
        r19.headers["location"]
            .to_str()
            .unwrap()
            .ends_with("/resource_providers/2290d4af-9e6e-400b-9d65-1ee01376f71a")
    );
    assert!(r19.headers.get("content-type").is_none());
    // the same uuid spelled with dashes conflicts
    let dup = call(
        r,
        Method::POST,
        "/resource_providers",
        "1.39",
        Some(json!({"name": "other", "uuid": "2290d4af-9e6e-400b-9d65-1ee01376f71a"})),
    )
    .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert!(
        dup.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("uuid: 2290d4af-9e6e-400b-9d65-1ee01376f71a")
    );

    let cn = provider(r, "cn1", None).await;
    let shown = call(
        r,
        Method::GET,
        &format!("/resource_providers/{cn}"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(shown.body["generation"], 0);
    assert_eq!(shown.body["root_provider_uuid"], cn);
    assert_eq!(shown.body["parent_provider_uuid"], Value::Null);
    assert_eq!(shown.body["links"].as_array().unwrap().len(), 6);
    let old = call(
        r,
        Method::GET,
        &format!("/resource_providers/{cn}"),
        "1.13",
        None,
    )
    .await;
    assert_eq!(old.body.as_object().unwrap().len(), 4);

    let dup = call(
        r,
        Method::POST,
        "/resource_providers",
        "1.39",
        Some(json!({"name": "cn1"})),
    )
    .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(error_code(&dup), "placement.duplicate_name");
    assert!(
        dup.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("Conflicting resource provider name: cn1 already exists")
    );

    let numa = provider(r, "cn1_numa0", Some(&cn)).await;
    let child = call(
        r,
        Method::GET,
        &format!("/resource_providers/{numa}"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(child.body["root_provider_uuid"], cn);
    assert_eq!(child.body["parent_provider_uuid"], cn);
    let other = provider(r, "cn2", None).await;

    let tree = call(
        r,
        Method::GET,
        &format!("/resource_providers?in_tree={numa}"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(tree.body["resource_providers"].as_array().unwrap().len(), 2);
    let by_name = call(r, Method::GET, "/resource_providers?name=cn2", "1.39", None).await;
    assert_eq!(by_name.body["resource_providers"][0]["uuid"], other);
    let bad = call(
        r,
        Method::GET,
        "/resource_providers?spam=eggs",
        "1.39",
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("Invalid query string parameters")
    );

    // rename keeps the generation; loops and re-parenting are refused before 1.37
    let upd = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{other}"),
        "1.39",
        Some(json!({"name": "cn2-renamed"})),
    )
    .await;
    assert_eq!(upd.status, StatusCode::OK);
    assert_eq!(upd.body["name"], "cn2-renamed");
    assert_eq!(upd.body["generation"], 0);
    let taken = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{other}"),
        "1.39",
        Some(json!({"name": "cn1"})),
    )
    .await;
    assert_eq!(error_code(&taken), "placement.duplicate_name");
    let looped = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{cn}"),
        "1.39",
        Some(json!({"name": "cn1", "parent_provider_uuid": numa})),
    )
    .await;
    assert_eq!(looped.status, StatusCode::BAD_REQUEST);
    assert!(
        looped.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("creating loop")
    );
    let moved = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{numa}"),
        "1.36",
        Some(json!({"name": "cn1_numa0", "parent_provider_uuid": other})),
    )
    .await;
    assert_eq!(moved.status, StatusCode::BAD_REQUEST);
    let moved = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{numa}"),
        "1.37",
        Some(json!({"name": "cn1_numa0", "parent_provider_uuid": other})),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["root_provider_uuid"], other);
    let back = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{numa}"),
        "1.37",
        Some(json!({"name": "cn1_numa0", "parent_provider_uuid": cn})),
    )
    .await;
    assert_eq!(back.body["root_provider_uuid"], cn);

    let del = call(
        r,
        Method::DELETE,
        &format!("/resource_providers/{cn}"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(del.status, StatusCode::CONFLICT);
    assert_eq!(
        error_code(&del),
        "placement.resource_provider.cannot_delete_parent"
    );
    assert_eq!(
        call(
            r,
            Method::DELETE,
            &format!("/resource_providers/{numa}"),
            "1.39",
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(
            r,
            Method::DELETE,
            &format!("/resource_providers/{cn}"),
            "1.39",
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let gone = call(
        r,
        Method::DELETE,
        &format!("/resource_providers/{cn}"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let gone = call(
        r,
        Method::GET,
        &format!("/resource_providers/{cn}"),
        "1.39",
        None,
    )
    .await;
    assert!(
        gone.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("No resource provider with uuid")
    );
}

#[tokio::test]
async fn inventories_validation_generations_and_in_use() {
    let e = env().await;
    let r = &e.router;
    let rp = provider(r, "cn", None).await;
    let put = set_inventory(
        r,
        &rp,
        json!({
            "VCPU": {"total": 8, "allocation_ratio": 16.0, "max_unit": 8},
            "MEMORY_MB": {"total": 4096, "reserved": 512},
        }),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["resource_provider_generation"], 1);
    assert_eq!(put.body["inventories"]["VCPU"]["allocation_ratio"], 16.0);
    assert_eq!(put.body["inventories"]["MEMORY_MB"]["min_unit"], 1);
    assert_eq!(put.body["inventories"]["MEMORY_MB"]["max_unit"], 2147483647);
    assert_eq!(put.body["inventories"]["MEMORY_MB"]["step_size"], 1);
    // a stale generation is a conflict
    let stale = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{rp}/inventories"),
        "1.39",
        Some(json!({"resource_provider_generation": 0, "inventories": {}})),
    )
    .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(error_code(&stale), "placement.concurrent_update");
    // validation
    let zero = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{rp}/inventories"),
        "1.39",
        Some(json!({"resource_provider_generation": 1, "inventories": {"DISK_GB": {"total": 0}}})),
    )
    .await;
    assert_eq!(zero.status, StatusCode::BAD_REQUEST);
    assert!(
        zero.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("0 is less than the minimum of 1")
    );
    let reserved = call(r, Method::PUT, &format!("/resource_providers/{rp}/inventories"), "1.25",
        Some(json!({"resource_provider_generation": 1, "inventories": {"DISK_GB": {"total": 10, "reserved": 10}}}))).await;
    assert_eq!(reserved.status, StatusCode::BAD_REQUEST);
    assert!(
        reserved.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("greater than or equal to total")
    );
    let unknown = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{rp}/inventories"),
        "1.39",
        Some(
            json!({"resource_provider_generation": 1, "inventories": {"NO_CLASS": {"total": 10}}}),
        ),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("No such resource class NO_CLASS")
    );
    // one inventory
    let one = call(
        r,
        Method::GET,
        &format!("/resource_providers/{rp}/inventories/VCPU"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(one.body["total"], 8);
    assert_eq!(one.body["resource_provider_generation"], 1);
    let upd = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{rp}/inventories/VCPU"),
        "1.39",
        Some(json!({"resource_provider_generation": 1, "total": 16, "max_unit": 16})),
    )
    .await;
    assert_eq!(upd.status, StatusCode::OK, "{}", upd.body);
    assert_eq!(upd.body["resource_provider_generation"], 2);
    let missing = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{rp}/inventories/DISK_GB"),
        "1.39",
        Some(json!({"resource_provider_generation": 2, "total": 16})),
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let created = call(
        r,
        Method::POST,
        &format!("/resource_providers/{rp}/inventories"),
        "1.39",
        Some(json!({"resource_class": "DISK_GB", "total": 100})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["resource_provider_generation"], 3);
    // allocate, then try to remove the inventory in use
    let c = "f5a91a0a-e111-4a9c-8a33-7b320ae1e52a";
    let a = call(
        r,
        Method::PUT,
        &format!("/allocations/{c}"),
        "1.39",
        Some(alloc_body(
            &rp,
            json!({"VCPU": 4, "DISK_GB": 50}),
            Value::Null,
        )),
    )
    .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
    let g = generation(r, &rp).await;
    assert_eq!(g, 4);
    let inuse = call(r, Method::PUT, &format!("/resource_providers/{rp}/inventories"), "1.39",
        Some(json!({"resource_provider_generation": g, "inventories": {"MEMORY_MB": {"total": 4096}}}))).await;
    assert_eq!(inuse.status, StatusCode::CONFLICT);
    assert_eq!(error_code(&inuse), "placement.inventory.inuse");
    assert!(
        inuse.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("Inventory for 'VCPU, DISK_GB'")
    );
    let inuse = call(
        r,
        Method::DELETE,
        &format!("/resource_providers/{rp}/inventories"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(error_code(&inuse), "placement.inventory.inuse");
    let inuse = call(
        r,
        Method::DELETE,
        &format!("/resource_providers/{rp}/inventories/DISK_GB"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(inuse.status, StatusCode::CONFLICT);
    // as in placement, shrinking below usage is allowed (the provider is then over
    // capacity and takes no new allocations)
    let shrink = set_inventory(
        r,
        &rp,
        json!({"VCPU": {"total": 1}, "DISK_GB": {"total": 10}, "MEMORY_MB": {"total": 4096}}),
    )
    .await;
    assert_eq!(shrink.status, StatusCode::OK, "{}", shrink.body);
    let more = call(
        r,
        Method::PUT,
        "/allocations/4fa4553e-e739-4f0b-a758-2fa79fda2ee0",
        "1.39",
        Some(alloc_body(&rp, json!({"MEMORY_MB": 1}), Value::Null)),
    )
    .await;
    assert_eq!(more.status, StatusCode::NO_CONTENT);
    let over = call(
        r,
        Method::PUT,
        "/allocations/5fa4553e-e739-4f0b-a758-2fa79fda2ee0",
        "1.39",
        Some(alloc_body(&rp, json!({"VCPU": 1}), Value::Null)),
    )
    .await;
    assert_eq!(over.status, StatusCode::CONFLICT);
    // DELETE all inventories needs 1.5
    let old = call(
        r,
        Method::DELETE,
        &format!("/resource_providers/{rp}/inventories"),
        "1.4",
        None,
    )
    .await;
    assert_eq!(old.status, StatusCode::METHOD_NOT_ALLOWED);
    // usages
    let u = call(
        r,
        Method::GET,
        &format!("/resource_providers/{rp}/usages"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(u.body["usages"]["VCPU"], 4);
    assert_eq!(u.body["usages"]["DISK_GB"], 50);
    assert_eq!(u.body["usages"]["MEMORY_MB"], 1);
}

#[tokio::test]
async fn allocations_capacity_consumers_and_concurrency() {
    let e = env().await;
    let r = &e.router;
    let rp = provider(r, "cn", None).await;
    set_inventory(
        r,
        &rp,
        json!({"VCPU": {"total": 4, "max_unit": 4}, "DISK_GB": {"total": 100, "step_size": 10}}),
    )
    .await;
    let c1 = "11111111-1111-4111-8111-111111111111";
    // over capacity / constraints
    let big = call(
        r,
        Method::PUT,
        &format!("/allocations/{c1}"),
        "1.39",
        Some(alloc_body(&rp, json!({"VCPU": 5}), Value::Null)),
    )
    .await;
    assert_eq!(big.status, StatusCode::CONFLICT);
    assert!(
        big.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("violate inventory constraints")
    );
    let step = call(
        r,
        Method::PUT,
        &format!("/allocations/{c1}"),
        "1.39",
        Some(alloc_body(&rp, json!({"DISK_GB": 15}), Value::Null)),
    )
    .await;
    assert_eq!(step.status, StatusCode::CONFLICT);
    let none = call(
        r,
        Method::PUT,
        &format!("/allocations/{c1}"),
        "1.39",
        Some(alloc_body(&rp, json!({"MEMORY_MB": 1}), Value::Null)),
    )
    .await;
    assert_eq!(none.status, StatusCode::CONFLICT);
    assert!(
        none.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("Inventory for 'MEMORY_MB'")
    );
    let nop = call(
        r,
        Method::PUT,
        &format!("/allocations/{c1}"),
        "1.39",
        Some(alloc_body(
            "c3b9c2b4-5b5e-4a8e-a7a4-2c2c7b4f1c11",
            json!({"VCPU": 1}),
            Value::Null,
        )),
    )
    .await;
    assert_eq!(nop.status, StatusCode::BAD_REQUEST);
    assert!(
        nop.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("that does not exist")
    );
    // consumer generations
    let ok = call(
        r,
        Method::PUT,
        &format!("/allocations/{c1}"),
        "1.39",
        Some(alloc_body(&rp, json!({"VCPU": 3}), Value::Null)),
    )
    .await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.body);
    let got = call(r, Method::GET, &format!("/allocations/{c1}"), "1.39", None).await;
    assert_eq!(got.body["consumer_generation"], 1);
    assert_eq!(got.body["project_id"], "p1");
    assert_eq!(got.body["consumer_type"], "INSTANCE");
    assert_eq!(got.body["allocations"][&rp]["resources"]["VCPU"], 3);
    assert_eq!(got.body["allocations"][&rp]["generation"], 2);
    let again = call(
        r,
        Method::PUT,
        &format!("/allocations/{c1}"),
        "1.39",
        Some(alloc_body(&rp, json!({"VCPU": 2}), Value::Null)),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(error_code(&again), "placement.concurrent_update");
    assert!(
        again.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("consumer generation conflict")
    );
    // the capacity left is 1: a second consumer asking 2 is refused
    let c2 = "22222222-2222-4222-8222-222222222222";
    let full = call(
        r,
        Method::PUT,
        &format!("/allocations/{c2}"),
        "1.39",
        Some(alloc_body(&rp, json!({"VCPU": 2}), Value::Null)),
    )
    .await;
    assert_eq!(full.status, StatusCode::CONFLICT);
    assert!(
        full.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("would exceed the capacity")
    );
    // two writers with the same consumer generation: exactly one wins
    let body_a = alloc_body(&rp, json!({"VCPU": 1}), json!(1));
    let body_b = alloc_body(&rp, json!({"VCPU": 2}), json!(1));
    let uri = format!("/allocations/{c1}");
    let (a, b) = tokio::join!(
        call(r, Method::PUT, &uri, "1.39", Some(body_a)),
        call(r, Method::PUT, &uri, "1.39", Some(body_b)),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::NO_CONTENT, StatusCode::CONFLICT],
        "{} {}",
        a.body,
        b.body
    );
    let got = call(r, Method::GET, &uri, "1.39", None).await;
    assert_eq!(got.body["consumer_generation"], 2);
    // two new consumers racing for the last VCPUs: capacity holds
    let (x, y) = tokio::join!(
        call(
            r,
            Method::PUT,
            "/allocations/33333333-3333-4333-8333-333333333333",
            "1.39",
            Some(alloc_body(&rp, json!({"VCPU": 2}), Value::Null))
        ),
        call(
            r,
            Method::PUT,
            "/allocations/44444444-4444-4444-8444-444444444444",
            "1.39",
            Some(alloc_body(&rp, json!({"VCPU": 2}), Value::Null))
        ),
    );
    let used = call(
        r,
        Method::GET,
        &format!("/resource_providers/{rp}/usages"),
        "1.39",
        None,
    )
    .await;
    assert!(
        used.body["usages"]["VCPU"].as_i64().unwrap() <= 4,
        "{} {} {}",
        x.body,
        y.body,
        used.body
    );
    // provider allocations
    let by_rp = call(
        r,
        Method::GET,
        &format!("/resource_providers/{rp}/allocations"),
        "1.39",
        None,
    )
    .await;
    assert!(by_rp.body["allocations"][c1]["resources"]["VCPU"].is_i64());
    assert_eq!(by_rp.body["allocations"][c1]["consumer_generation"], 2);
    // the legacy list form (1.0) and dict form (1.12)
    let c3 = "55555555-5555-4555-8555-555555555555";
    let legacy = call(r, Method::PUT, &format!("/allocations/{c3}"), "1.0",
        Some(json!({"allocations": [{"resource_provider": {"uuid": rp}, "resources": {"DISK_GB": 10}}]}))).await;
    assert_eq!(legacy.status, StatusCode::NO_CONTENT, "{}", legacy.body);
    let legacy_get = call(r, Method::GET, &format!("/allocations/{c3}"), "1.0", None).await;
    assert!(legacy_get.body.get("project_id").is_none());
    let legacy_get = call(r, Method::GET, &format!("/allocations/{c3}"), "1.12", None).await;
    assert_eq!(
        legacy_get.body["project_id"],
        "00000000-0000-0000-0000-000000000000"
    );
    let needs_ids = call(r, Method::PUT, &format!("/allocations/{c3}"), "1.8",
        Some(json!({"allocations": [{"resource_provider": {"uuid": rp}, "resources": {"DISK_GB": 10}}]}))).await;
    assert_eq!(needs_ids.status, StatusCode::BAD_REQUEST);
    // POST several consumers atomically (one clears, one allocates)
    let post = call(r, Method::POST, "/allocations", "1.39", Some(json!({
        c3: {"allocations": {}, "project_id": "p1", "user_id": "u1", "consumer_generation": 1, "consumer_type": "INSTANCE"},
        "66666666-6666-4666-8666-666666666666": {"allocations": {rp.clone(): {"resources": {"DISK_GB": 20}}},
            "project_id": "p1", "user_id": "u2", "consumer_generation": null, "consumer_type": "MIGRATION"},
    }))).await;
    assert_eq!(post.status, StatusCode::NO_CONTENT, "{}", post.body);
    let cleared = call(r, Method::GET, &format!("/allocations/{c3}"), "1.39", None).await;
    assert_eq!(cleared.body, json!({"allocations": {}}));
    let old_post = call(r, Method::POST, "/allocations", "1.12", Some(json!({}))).await;
    assert_eq!(old_post.status, StatusCode::NOT_FOUND);
    // usages by project, user, consumer type
    let u = call(r, Method::GET, "/usages?project_id=p1", "1.9", None).await;
    assert_eq!(u.body["usages"]["DISK_GB"], 20);
    let u = call(
        r,
        Method::GET,
        "/usages?project_id=p1&user_id=u2",
        "1.9",
        None,
    )
    .await;
    assert_eq!(u.body["usages"], json!({"DISK_GB": 20}));
    let u = call(r, Method::GET, "/usages?project_id=p1", "1.38", None).await;
    assert_eq!(
        u.body["usages"]["MIGRATION"],
        json!({"DISK_GB": 20, "consumer_count": 1})
    );
    assert!(
        u.body["usages"]["INSTANCE"]["consumer_count"]
            .as_i64()
            .unwrap()
            >= 1
    );
    let u = call(
        r,
        Method::GET,
        "/usages?project_id=p1&consumer_type=all",
        "1.38",
        None,
    )
    .await;
    assert_eq!(u.body["usages"].as_object().unwrap().len(), 1);
    // delete
    assert_eq!(
        call(r, Method::DELETE, &uri, "1.39", None).await.status,
        StatusCode::NO_CONTENT
    );
    let again = call(r, Method::DELETE, &uri, "1.39", None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(
        again.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("No allocations for consumer")
    );
    // a provider with allocations cannot be deleted
    let del = call(
        r,
        Method::DELETE,
        &format!("/resource_providers/{rp}"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(error_code(&del), "placement.resource_provider.inuse");
}

#[tokio::test]
async fn concurrent_inventory_writers_one_wins() {
    let e = env().await;
    let r = &e.router;
    let rp = provider(r, "cn", None).await;
    let uri = format!("/resource_providers/{rp}/inventories");
    let (a, b) = tokio::join!(
        call(
            r,
            Method::PUT,
            &uri,
            "1.39",
            Some(json!({"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 2}}}))
        ),
        call(
            r,
            Method::PUT,
            &uri,
            "1.39",
            Some(json!({"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 4}}}))
        ),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    assert_eq!(generation(r, &rp).await, 1);
}

#[tokio::test]
async fn classes_traits_and_aggregates() {
    let e = env().await;
    let r = &e.router;
    let list = call(r, Method::GET, "/resource_classes", "1.39", None).await;
    let names: Vec<&str> = list.body["resource_classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"VCPU")
            && names.contains(&"PCPU")
            && names.contains(&"MEM_ENCRYPTION_CONTEXT")
    );
    assert_eq!(
        call(
            r,
            Method::POST,
            "/resource_classes",
            "1.39",
            Some(json!({"name": "CUSTOM_GPU"}))
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        call(
            r,
            Method::POST,
            "/resource_classes",
            "1.39",
            Some(json!({"name": "CUSTOM_GPU"}))
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        call(
            r,
            Method::POST,
            "/resource_classes",
            "1.39",
            Some(json!({"name": "GPU"}))
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(r, Method::PUT, "/resource_classes/CUSTOM_GPU", "1.7", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(r, Method::PUT, "/resource_classes/CUSTOM_FPGA", "1.7", None)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        call(r, Method::PUT, "/resource_classes/VCPU", "1.7", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let renamed = call(
        r,
        Method::PUT,
        "/resource_classes/CUSTOM_FPGA",
        "1.6",
        Some(json!({"name": "CUSTOM_FPGA2"})),
    )
    .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(renamed.body["name"], "CUSTOM_FPGA2");
    assert_eq!(
        call(
            r,
            Method::GET,
            "/resource_classes/CUSTOM_FPGA2",
            "1.39",
            None
        )
        .await
        .body["links"][0]["href"],
        "/resource_classes/CUSTOM_FPGA2"
    );
    assert_eq!(
        call(r, Method::DELETE, "/resource_classes/VCPU", "1.39", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let rp = provider(r, "gpu-host", None).await;
    set_inventory(r, &rp, json!({"CUSTOM_GPU": {"total": 2}})).await;
    assert_eq!(
        call(
            r,
            Method::DELETE,
            "/resource_classes/CUSTOM_GPU",
            "1.39",
            None
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        call(
            r,
            Method::DELETE,
            "/resource_classes/CUSTOM_FPGA2",
            "1.39",
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(
            r,
            Method::GET,
            "/resource_classes/CUSTOM_FPGA2",
            "1.39",
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // traits
    assert_eq!(
        call(r, Method::PUT, "/traits/CUSTOM_RAID", "1.39", None)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        call(r, Method::PUT, "/traits/CUSTOM_RAID", "1.39", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(r, Method::PUT, "/traits/raid", "1.39", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(r, Method::GET, "/traits/CUSTOM_RAID", "1.39", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(r, Method::GET, "/traits/CUSTOM_NOPE", "1.39", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let t = call(
        r,
        Method::GET,
        "/traits?name=startswith:HW_CPU_X86_AVX",
        "1.39",
        None,
    )
    .await;
    assert!(
        t.body["traits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "HW_CPU_X86_AVX2")
    );
    let t = call(
        r,
        Method::GET,
        "/traits?name=in:CUSTOM_RAID,COMPUTE_TRUSTED_CERTS",
        "1.39",
        None,
    )
    .await;
    assert_eq!(
        t.body["traits"],
        json!(["COMPUTE_TRUSTED_CERTS", "CUSTOM_RAID"])
    );
    assert_eq!(
        call(r, Method::GET, "/traits?name=in_abc", "1.39", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let set = call(r, Method::PUT, &format!("/resource_providers/{rp}/traits"), "1.39",
        Some(json!({"resource_provider_generation": 1, "traits": ["CUSTOM_RAID", "HW_CPU_X86_AVX2"]}))).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["resource_provider_generation"], 2);
    assert_eq!(
        set.body["traits"],
        json!(["HW_CPU_X86_AVX2", "CUSTOM_RAID"])
    );
    let stale = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{rp}/traits"),
        "1.39",
        Some(json!({"resource_provider_generation": 1, "traits": []})),
    )
    .await;
    assert_eq!(error_code(&stale), "placement.concurrent_update");
    let unknown = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{rp}/traits"),
        "1.39",
        Some(json!({"resource_provider_generation": 2, "traits": ["CUSTOM_NOPE"]})),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let assoc = call(r, Method::GET, "/traits?associated=true", "1.39", None).await;
    // standard traits first, then custom ones, as placement lists them
    assert_eq!(
        assoc.body["traits"],
        json!(["HW_CPU_X86_AVX2", "CUSTOM_RAID"])
    );
    assert_eq!(
        call(r, Method::DELETE, "/traits/CUSTOM_RAID", "1.39", None)
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        call(r, Method::DELETE, "/traits/HW_CPU_X86_AVX2", "1.39", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let listed = call(
        r,
        Method::GET,
        "/resource_providers?required=CUSTOM_RAID,!HW_CPU_X86_SSE",
        "1.39",
        None,
    )
    .await;
    assert_eq!(
        listed.body["resource_providers"].as_array().unwrap().len(),
        1
    );
    let listed = call(
        r,
        Method::GET,
        "/resource_providers?required=!CUSTOM_RAID",
        "1.39",
        None,
    )
    .await;
    assert_eq!(
        listed.body["resource_providers"].as_array().unwrap().len(),
        0
    );
    let listed = call(
        r,
        Method::GET,
        "/resource_providers?required=in:CUSTOM_RAID,HW_CPU_X86_SSE",
        "1.39",
        None,
    )
    .await;
    assert_eq!(
        listed.body["resource_providers"].as_array().unwrap().len(),
        1
    );
    let bogus = call(
        r,
        Method::GET,
        "/resource_providers?required=BOGUS_TRAIT",
        "1.39",
        None,
    )
    .await;
    assert!(
        bogus.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("No such trait(s): BOGUS_TRAIT.")
    );
    assert_eq!(
        call(
            r,
            Method::DELETE,
            &format!("/resource_providers/{rp}/traits"),
            "1.39",
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(r, Method::DELETE, "/traits/CUSTOM_RAID", "1.39", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    // aggregates: list form before 1.19, generation-aware after
    let agg1 = "5e08ea53-c4c6-448e-9334-ac4953de3cfa";
    let agg2 = "ecad2a2a-1ed4-4ce4-9a1a-24d8d5e1a0de";
    let old = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{rp}/aggregates"),
        "1.1",
        Some(json!([agg1])),
    )
    .await;
    assert_eq!(old.status, StatusCode::OK, "{}", old.body);
    assert_eq!(old.body, json!({"aggregates": [agg1]}));
    let g = generation(r, &rp).await;
    let new = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{rp}/aggregates"),
        "1.19",
        Some(json!({"aggregates": [agg1, agg2], "resource_provider_generation": g})),
    )
    .await;
    assert_eq!(new.body["resource_provider_generation"], g + 1);
    let stale = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{rp}/aggregates"),
        "1.19",
        Some(json!({"aggregates": [], "resource_provider_generation": g})),
    )
    .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body["errors"][0].get("code").is_none());
    let stale = call(
        r,
        Method::PUT,
        &format!("/resource_providers/{rp}/aggregates"),
        "1.39",
        Some(json!({"aggregates": [], "resource_provider_generation": g})),
    )
    .await;
    assert_eq!(error_code(&stale), "placement.concurrent_update");
    let got = call(
        r,
        Method::GET,
        &format!("/resource_providers/{rp}/aggregates"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(got.body["aggregates"].as_array().unwrap().len(), 2);
    assert_eq!(
        call(
            r,
            Method::GET,
            &format!("/resource_providers/{rp}/aggregates"),
            "1.0",
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let other = provider(r, "other", None).await;
    let m = call(
        r,
        Method::GET,
        &format!("/resource_providers?member_of={agg2}"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(m.body["resource_providers"][0]["uuid"], rp);
    let m = call(
        r,
        Method::GET,
        &format!("/resource_providers?member_of=in:{agg1},{agg2}"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(m.body["resource_providers"].as_array().unwrap().len(), 1);
    let m = call(
        r,
        Method::GET,
        &format!("/resource_providers?member_of=!{agg1}"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(m.body["resource_providers"][0]["uuid"], other);
    let m = call(
        r,
        Method::GET,
        &format!("/resource_providers?member_of=!{agg1}"),
        "1.31",
        None,
    )
    .await;
    assert_eq!(m.status, StatusCode::BAD_REQUEST);
    // resources filter
    let m = call(
        r,
        Method::GET,
        "/resource_providers?resources=CUSTOM_GPU:2",
        "1.39",
        None,
    )
    .await;
    assert_eq!(m.body["resource_providers"].as_array().unwrap().len(), 1);
    let m = call(
        r,
        Method::GET,
        "/resource_providers?resources=CUSTOM_GPU:3",
        "1.39",
        None,
    )
    .await;
    assert_eq!(m.body["resource_providers"].as_array().unwrap().len(), 0);
    let m = call(
        r,
        Method::GET,
        "/resource_providers?resources=NOPE:3",
        "1.39",
        None,
    )
    .await;
    assert_eq!(m.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn allocation_candidates_flat_nested_and_filters() {
    let e = env().await;
    let r = &e.router;
    let agg = "5e08ea53-c4c6-448e-9334-ac4953de3cfa";
    // two flat compute nodes
    let cn1 = provider(r, "cn1", None).await;
    let cn2 = provider(r, "cn2", None).await;
    for cn in [&cn1, &cn2] {
        set_inventory(
            r,
            cn,
            json!({"VCPU": {"total": 8}, "MEMORY_MB": {"total": 8192}, "DISK_GB": {"total": 100}}),
        )
        .await;
    }
    let g = generation(r, &cn2).await;
    call(
        r,
        Method::PUT,
        &format!("/resource_providers/{cn2}/traits"),
        "1.39",
        Some(json!({"resource_provider_generation": g, "traits": ["HW_CPU_X86_AVX2"]})),
    )
    .await;
    let g = generation(r, &cn1).await;
    call(
        r,
        Method::PUT,
        &format!("/resource_providers/{cn1}/aggregates"),
        "1.39",
        Some(json!({"resource_provider_generation": g, "aggregates": [agg]})),
    )
    .await;

    let all = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=VCPU:1,MEMORY_MB:512",
        "1.39",
        None,
    )
    .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.body["allocation_requests"].as_array().unwrap().len(), 2);
    let ps = &all.body["provider_summaries"][&cn1];
    assert_eq!(ps["resources"]["VCPU"], json!({"capacity": 8, "used": 0}));
    assert_eq!(ps["root_provider_uuid"], cn1);
    assert!(ps["traits"].is_array());
    assert_eq!(
        all.body["allocation_requests"][0]["mappings"][""]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // 1.26: only the requested classes in the summaries; no traits before 1.17
    let old = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=VCPU:1",
        "1.16",
        None,
    )
    .await;
    assert!(
        old.body["provider_summaries"][&cn1]["resources"]
            .get("DISK_GB")
            .is_none()
    );
    assert!(old.body["provider_summaries"][&cn1].get("traits").is_none());
    // 1.10: list form
    let list = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=VCPU:1",
        "1.10",
        None,
    )
    .await;
    assert!(list.body["allocation_requests"][0]["allocations"].is_array());
    assert_eq!(
        call(
            r,
            Method::GET,
            "/allocation_candidates?resources=VCPU:1",
            "1.9",
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    let req = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=VCPU:1&required=HW_CPU_X86_AVX2",
        "1.39",
        None,
    )
    .await;
    let reqs = req.body["allocation_requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0]["allocations"].get(&cn2).is_some());
    let forb = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=VCPU:1&required=!HW_CPU_X86_AVX2",
        "1.39",
        None,
    )
    .await;
    assert!(
        forb.body["allocation_requests"][0]["allocations"]
            .get(&cn1)
            .is_some()
    );
    let member = call(
        r,
        Method::GET,
        &format!("/allocation_candidates?resources=VCPU:1&member_of={agg}"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(
        member.body["allocation_requests"].as_array().unwrap().len(),
        1
    );
    assert!(
        member.body["allocation_requests"][0]["allocations"]
            .get(&cn1)
            .is_some()
    );
    let limited = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=VCPU:1&limit=1",
        "1.39",
        None,
    )
    .await;
    assert_eq!(
        limited.body["allocation_requests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        limited.body["provider_summaries"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
    let toobig = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=VCPU:9",
        "1.39",
        None,
    )
    .await;
    assert_eq!(
        toobig.body,
        json!({"allocation_requests": [], "provider_summaries": {}})
    );
    let bad = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=NOPE:1",
        "1.39",
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let bad = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=VCPU:1&required=CUSTOM_NOPE",
        "1.39",
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let root_req = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=VCPU:1&root_required=HW_CPU_X86_AVX2",
        "1.39",
        None,
    )
    .await;
    assert_eq!(
        root_req.body["allocation_requests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let dup = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=VCPU:1&root_required=A&root_required=B",
        "1.39",
        None,
    )
    .await;
    assert_eq!(error_code(&dup), "placement.query.duplicate_key");

    // a nested compute node: root with disk, two NUMA children with CPU and memory
    let cn3 = provider(r, "cn3", None).await;
    let n0 = provider(r, "cn3-numa0", Some(&cn3)).await;
    let n1 = provider(r, "cn3-numa1", Some(&cn3)).await;
    set_inventory(r, &cn3, json!({"DISK_GB": {"total": 500}})).await;
    for n in [&n0, &n1] {
        set_inventory(
            r,
            n,
            json!({"VCPU": {"total": 16}, "MEMORY_MB": {"total": 16384}}),
        )
        .await;
    }
    // only the nested host has 10 VCPU free on one provider, and 200 DISK_GB
    let nested = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=VCPU:10,MEMORY_MB:1024,DISK_GB:200",
        "1.39",
        None,
    )
    .await;
    let reqs = nested.body["allocation_requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 4, "{}", nested.body);
    for a in reqs {
        assert_eq!(a["allocations"][&cn3]["resources"]["DISK_GB"], 200);
    }
    let sums = nested.body["provider_summaries"].as_object().unwrap();
    assert_eq!(sums.len(), 3);
    assert_eq!(sums[&n0]["parent_provider_uuid"], cn3);
    // granular: CPU and memory from the same NUMA node, isolated groups
    let gran = call(r, Method::GET,
        &format!("/allocation_candidates?resources=DISK_GB:10&resources1=VCPU:10,MEMORY_MB:1024&resources2=VCPU:10&group_policy=isolate&in_tree={cn3}"),
        "1.39", None).await;
    let reqs = gran.body["allocation_requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 2, "{}", gran.body);
    for a in reqs {
        let m = &a["mappings"];
        assert_ne!(m["1"], m["2"]);
        assert_eq!(m[""], json!([cn3.clone()]));
    }
    let nopolicy = call(
        r,
        Method::GET,
        "/allocation_candidates?resources1=VCPU:1&resources2=VCPU:1",
        "1.39",
        None,
    )
    .await;
    assert_eq!(nopolicy.status, StatusCode::BAD_REQUEST);
    // before 1.29 a candidate may not combine providers of a tree
    let flat = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=VCPU:10,DISK_GB:200",
        "1.28",
        None,
    )
    .await;
    assert_eq!(
        flat.body["allocation_requests"].as_array().unwrap().len(),
        0
    );
    // the candidate can be claimed as-is
    let pick = nested.body["allocation_requests"][0]["allocations"].clone();
    let claim = call(r, Method::PUT, "/allocations/77777777-7777-4777-8777-777777777777", "1.39",
        Some(json!({"allocations": pick, "project_id": "p1", "user_id": "u1", "consumer_generation": null, "consumer_type": "INSTANCE"}))).await;
    assert_eq!(claim.status, StatusCode::NO_CONTENT, "{}", claim.body);
    let after = call(
        r,
        Method::GET,
        "/allocation_candidates?resources=DISK_GB:301",
        "1.39",
        None,
    )
    .await;
    assert_eq!(
        after.body["allocation_requests"].as_array().unwrap().len(),
        0
    );
}

#[tokio::test]
async fn reshaper_moves_inventory_and_allocations() {
    let e = env().await;
    let r = &e.router;
    let cn = provider(r, "cn", None).await;
    set_inventory(
        r,
        &cn,
        json!({"VCPU": {"total": 8}, "DISK_GB": {"total": 100}}),
    )
    .await;
    let c = "88888888-8888-4888-8888-888888888888";
    let a = call(
        r,
        Method::PUT,
        &format!("/allocations/{c}"),
        "1.39",
        Some(alloc_body(
            &cn,
            json!({"VCPU": 2, "DISK_GB": 10}),
            Value::Null,
        )),
    )
    .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let numa = provider(r, "numa", Some(&cn)).await;
    let gcn = generation(r, &cn).await;
    // moving VCPU to the child while its allocation stays on the root is refused
    let bad = req(r, Method::POST, "/reshaper", Some("service"), Some("1.39"), Some(json!({
        "inventories": {
            cn.clone(): {"resource_provider_generation": gcn, "inventories": {"DISK_GB": {"total": 100}}},
            numa.clone(): {"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 8}}},
        },
        "allocations": {},
    }))).await;
    assert_eq!(bad.status, StatusCode::CONFLICT);
    assert_eq!(error_code(&bad), "placement.inventory.inuse");
    let ok = req(r, Method::POST, "/reshaper", Some("service"), Some("1.39"), Some(json!({
        "inventories": {
            cn.clone(): {"resource_provider_generation": gcn, "inventories": {"DISK_GB": {"total": 100}}},
            numa.clone(): {"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 8}}},
        },
        "allocations": {c: {
            "allocations": {cn.clone(): {"resources": {"DISK_GB": 10}}, numa.clone(): {"resources": {"VCPU": 2}}},
            "project_id": "p1", "user_id": "u1", "consumer_generation": 1, "consumer_type": "INSTANCE",
        }},
    }))).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.body);
    let got = call(r, Method::GET, &format!("/allocations/{c}"), "1.39", None).await;
    assert_eq!(got.body["allocations"][&numa]["resources"]["VCPU"], 2);
    assert_eq!(got.body["consumer_generation"], 2);
    let inv = call(
        r,
        Method::GET,
        &format!("/resource_providers/{cn}/inventories"),
        "1.39",
        None,
    )
    .await;
    assert!(inv.body["inventories"].get("VCPU").is_none());
    let missing = req(r, Method::POST, "/reshaper", Some("service"), Some("1.39"), Some(json!({
        "inventories": {"99999999-9999-4999-8999-999999999999": {"resource_provider_generation": 0, "inventories": {}}},
        "allocations": {},
    }))).await;
    assert_eq!(
        error_code(&missing),
        "placement.resource_provider.not_found"
    );
    // the reshaper is for services (and admins), from 1.30
    let user = req(
        r,
        Method::POST,
        "/reshaper",
        Some("user"),
        Some("1.39"),
        Some(json!({})),
    )
    .await;
    assert_eq!(user.status, StatusCode::FORBIDDEN);
    let old = req(
        r,
        Method::POST,
        "/reshaper",
        Some("service"),
        Some("1.29"),
        Some(json!({})),
    )
    .await;
    assert_eq!(old.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_writers_never_overcommit() {
    let e = env().await;
    let r = &e.router;
    let rp = provider(r, "busy", None).await;
    set_inventory(r, &rp, json!({"VCPU": {"total": 8}})).await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..24 {
        let router = r.clone();
        let rp = rp.clone();
        set.spawn(async move {
            let consumer = format!("aaaaaaaa-0000-4000-8000-{i:012}");
            call(
                &router,
                Method::PUT,
                &format!("/allocations/{consumer}"),
                "1.39",
                Some(alloc_body(&rp, json!({"VCPU": 1}), Value::Null)),
            )
            .await
        });
    }
    let mut ok = 0;
    while let Some(res) = set.join_next().await {
        let resp = res.unwrap();
        match resp.status {
            StatusCode::NO_CONTENT => ok += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}: {}", resp.body),
        }
    }
    eprintln!("{ok} of 24 writers won");
    assert!(ok <= 8 && ok > 0, "{ok} writers won");
    let u = call(
        r,
        Method::GET,
        &format!("/resource_providers/{rp}/usages"),
        "1.39",
        None,
    )
    .await;
    assert_eq!(u.body["usages"]["VCPU"], ok);
    // every successful write moved the generation exactly once
    assert_eq!(u.body["resource_provider_generation"], 1 + ok);
}
