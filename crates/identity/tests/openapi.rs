//! The committed OpenAPI document (docs/openapi/identity.json) is the one the code
//! generates: regenerate with `ferrostack openapi identity > docs/openapi/identity.json`.

#[test]
fn committed_openapi_document_is_current() {
    assert_eq!(
        api::openapi::check_committed(
            env!("CARGO_MANIFEST_DIR"),
            "identity",
            &identity::api::openapi()
        ),
        Ok(())
    );
}
