//! The committed OpenAPI document (docs/openapi/compute.json) is the one the code
//! generates: regenerate with `ferrostack openapi compute > docs/openapi/compute.json`.

#[test]
fn committed_openapi_document_is_current() {
    assert_eq!(
        api::openapi::check_committed(
            env!("CARGO_MANIFEST_DIR"),
            "compute",
            &compute::api::openapi()
        ),
        Ok(())
    );
}
