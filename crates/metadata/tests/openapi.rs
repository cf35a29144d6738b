//! The committed OpenAPI document (docs/openapi/metadata.json) is the one the code
//! generates: regenerate with `ferrostack openapi metadata > docs/openapi/metadata.json`.

#[test]
fn committed_openapi_document_is_current() {
    assert_eq!(
        api::openapi::check_committed(env!("CARGO_MANIFEST_DIR"), "metadata", &metadata::openapi()),
        Ok(())
    );
}
