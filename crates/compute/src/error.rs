//! The compute service's errors, mapped once to Nova's error bodies
//! (`{"itemNotFound": {"code": 404, "message": …}}`).

use api::{ErrorStyle, Fault};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Quota exceeded on create: 403 in nova.
    #[error("{0}")]
    OverQuota(String),
    #[error("{0}")]
    NotImplemented(String),
    /// The scheduler found nowhere to put a server (recorded as its fault).
    #[error("{0}")]
    NoValidHost(String),
    #[error("{0}")]
    Unavailable(String),
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

impl From<crate::clients::ClientError> for Error {
    fn from(e: crate::clients::ClientError) -> Self {
        Error::Unavailable(e.to_string())
    }
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Forbidden(_) | Error::OverQuota(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) | Error::Db(db::DbError::Conflict(_)) => StatusCode::CONFLICT,
            Error::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::NoValidHost(_) => StatusCode::BAD_REQUEST,
            Error::Db(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn fault(&self) -> Fault {
        let message = match self {
            Error::Db(db::DbError::Conflict(_)) => "The resource already exists.".to_string(),
            Error::Db(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(e), "database error");
                Fault::internal().message
            }
            Error::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                Fault::internal().message
            }
            other => other.to_string(),
        };
        Fault::new(self.status(), message).styled(ErrorStyle::Nova)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.fault().into_response()
    }
}
