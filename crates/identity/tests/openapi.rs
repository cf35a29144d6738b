//! The committed OpenAPI document (docs/openapi/identity.json) is the one the route table
//! generates: regenerate with `ferrostack openapi identity > docs/openapi/identity.json`.

#[test]
fn committed_openapi_document_is_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi/identity.json"
    );
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path).expect("docs/openapi/identity.json exists"),
    )
    .expect("valid JSON");
    assert!(
        committed == identity::api::openapi(),
        "docs/openapi/identity.json is stale: run `ferrostack openapi identity > docs/openapi/identity.json`"
    );
}
