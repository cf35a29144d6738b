//! The committed OpenAPI document (docs/openapi/image.json) is the one the route table
//! generates: regenerate with `ferrostack openapi image > docs/openapi/image.json`.

#[test]
fn committed_openapi_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi/image.json");
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path).expect("docs/openapi/image.json exists"),
    )
    .expect("valid JSON");
    assert!(
        committed == image::api::openapi(),
        "docs/openapi/image.json is stale: run `ferrostack openapi image > docs/openapi/image.json`"
    );
}
