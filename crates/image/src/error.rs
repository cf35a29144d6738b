//! The image service's errors, mapped once to Glance's (webob) error body.

use api::{ErrorStyle, Fault};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    #[error("The request you have made requires authentication.")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMedia(String),
    #[error("{0}")]
    RangeNotSatisfiable(String),
    #[error("{0}")]
    ServiceUnavailable(String),
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

impl From<crate::backend::StoreError> for Error {
    fn from(e: crate::backend::StoreError) -> Self {
        match e {
            crate::backend::StoreError::NotFound => {
                Error::NotFound("Image data not found in the store.".into())
            }
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<crate::cache::CacheError> for Error {
    fn from(e: crate::cache::CacheError) -> Self {
        match e {
            crate::cache::CacheError::Db(d) => Error::Db(d),
            crate::cache::CacheError::Store(s) => Error::from(s),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl Error {
    pub fn image_not_found(id: &str) -> Self {
        Error::NotFound(format!("No image found with ID {id}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            Error::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Db(db::DbError::Conflict(_)) => StatusCode::CONFLICT,
            Error::Db(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn fault(&self) -> Fault {
        let status = self.status();
        let message = match self {
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
        Fault::new(status, message).styled(ErrorStyle::Glance)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.fault().into_response()
    }
}
