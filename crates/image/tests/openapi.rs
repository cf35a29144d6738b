//! The committed OpenAPI document (docs/openapi/image.json) is the one the code
//! generates: regenerate with `ferrostack openapi image > docs/openapi/image.json`.

#[test]
fn committed_openapi_document_is_current() {
    assert_eq!(
        api::openapi::check_committed(env!("CARGO_MANIFEST_DIR"), "image", &image::api::openapi()),
        Ok(())
    );
}
