//! The placement service's errors, mapped once to placement's error body
//! (`{"errors": [{"status", "title", "detail", "code", "request_id"}]}`).

use api::{ErrorStyle, Fault};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Placement's machine-readable error codes (`placement/errors.py`).
pub mod codes {
    pub const DEFAULT: &str = "placement.undefined_code";
    pub const INVENTORY_INUSE: &str = "placement.inventory.inuse";
    pub const CONCURRENT_UPDATE: &str = "placement.concurrent_update";
    pub const DUPLICATE_NAME: &str = "placement.duplicate_name";
    pub const PROVIDER_IN_USE: &str = "placement.resource_provider.inuse";
    pub const PROVIDER_CANNOT_DELETE_PARENT: &str =
        "placement.resource_provider.cannot_delete_parent";
    pub const RESOURCE_PROVIDER_NOT_FOUND: &str = "placement.resource_provider.not_found";
    pub const ILLEGAL_DUPLICATE_QUERYPARAM: &str = "placement.query.duplicate_key";
    pub const QUERYPARAM_BAD_VALUE: &str = "placement.query.bad_value";
    pub const QUERYPARAM_MISSING_VALUE: &str = "placement.query.missing_value";
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{msg}")]
    BadRequest {
        msg: String,
        code: Option<&'static str>,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("{msg}")]
    NotFound {
        msg: String,
        code: Option<&'static str>,
    },
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{msg}")]
    Conflict {
        msg: String,
        code: Option<&'static str>,
    },
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMedia(String),
    #[error("database error")]
    Db(#[source] db::DbError),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<db::DbError> for Error {
    fn from(e: db::DbError) -> Self {
        Error::Db(e)
    }
}

impl Error {
    pub fn bad(msg: impl Into<String>) -> Self {
        Error::BadRequest {
            msg: msg.into(),
            code: None,
        }
    }

    pub fn bad_code(msg: impl Into<String>, code: &'static str) -> Self {
        Error::BadRequest {
            msg: msg.into(),
            code: Some(code),
        }
    }

    pub fn not_found(msg: impl Into<String>) -> Self {
        Error::NotFound {
            msg: msg.into(),
            code: None,
        }
    }

    pub fn conflict(msg: impl Into<String>) -> Self {
        Error::Conflict {
            msg: msg.into(),
            code: None,
        }
    }

    pub fn conflict_code(msg: impl Into<String>, code: &'static str) -> Self {
        Error::Conflict {
            msg: msg.into(),
            code: Some(code),
        }
    }

    /// 404 for a route that exists only at other microversions.
    pub fn no_route() -> Self {
        Error::not_found("The resource could not be found.")
    }

    pub fn provider_not_found(uuid: &str) -> Self {
        Error::not_found(format!("No resource provider with uuid {uuid} found"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Db(db::DbError::Conflict(_)) => StatusCode::CONFLICT,
            Error::Db(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> Option<&'static str> {
        match self {
            Error::BadRequest { code, .. }
            | Error::NotFound { code, .. }
            | Error::Conflict { code, .. } => *code,
            Error::Db(db::DbError::Conflict(_)) => Some(codes::CONCURRENT_UPDATE),
            _ => None,
        }
    }

    pub fn fault(&self) -> Fault {
        let status = self.status();
        let message = match self {
            Error::Db(db::DbError::Conflict(_)) => {
                "Another thread concurrently updated the data. Please retry your update".to_string()
            }
            Error::Db(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(e), "database error");
                Fault::internal().message
            }
            Error::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                Fault::internal().message
            }
            other => {
                tracing::debug!(status = status.as_u16(), error = %other, "request failed");
                other.to_string()
            }
        };
        let mut f = Fault::new(status, message).styled(ErrorStyle::Placement);
        if let Some(c) = self.code() {
            f = f.with_code(c);
        }
        f
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.fault().into_response()
    }
}
