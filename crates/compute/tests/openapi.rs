//! The committed OpenAPI document (docs/openapi/compute.json) is the one the route table
//! generates: regenerate with `ferrostack openapi compute > docs/openapi/compute.json`.

#[test]
fn committed_openapi_document_is_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi/compute.json"
    );
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path).expect("docs/openapi/compute.json exists"),
    )
    .expect("valid JSON");
    assert!(
        committed == compute::api::openapi(),
        "docs/openapi/compute.json is stale: run `ferrostack openapi compute > docs/openapi/compute.json`"
    );
}
