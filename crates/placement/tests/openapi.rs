//! The committed OpenAPI document (docs/openapi/placement.json) is the one the code
//! generates: regenerate with `ferrostack openapi placement > docs/openapi/placement.json`.

#[test]
fn committed_openapi_document_is_current() {
    assert_eq!(
        api::openapi::check_committed(
            env!("CARGO_MANIFEST_DIR"),
            "placement",
            &placement::api::openapi()
        ),
        Ok(())
    );
}
