//! The committed OpenAPI document (docs/openapi/placement.json) is the one the route
//! table generates: regenerate with
//! `ferrostack openapi placement > docs/openapi/placement.json`.

#[test]
fn committed_openapi_document_is_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi/placement.json"
    );
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path).expect("docs/openapi/placement.json exists"),
    )
    .expect("valid JSON");
    assert!(
        committed == placement::api::openapi(),
        "docs/openapi/placement.json is stale: run `ferrostack openapi placement > docs/openapi/placement.json`"
    );
}
