//! The committed OpenAPI document (docs/openapi/metadata.json) is the one its operation list
//! generates: regenerate with `ferrostack openapi metadata > docs/openapi/metadata.json`.

#[test]
fn committed_openapi_document_is_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi/metadata.json"
    );
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path).expect("docs/openapi/metadata.json exists"),
    )
    .expect("valid JSON");
    assert!(
        committed == metadata::openapi(),
        "docs/openapi/metadata.json is stale: run `ferrostack openapi metadata > docs/openapi/metadata.json`"
    );
}
