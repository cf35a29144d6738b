//! Placeholder: routes are added by the module's implementation.

use std::sync::Arc;

use axum::Router;

use crate::Identity;

pub fn routes() -> Router<Arc<Identity>> {
    Router::new()
}
