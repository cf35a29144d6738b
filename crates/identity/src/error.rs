//! The identity service's errors, mapped once to keystone's error body.

use api::{ErrorStyle, Fault};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404 `Could not find {kind}: {id}.`
    #[error("Could not find {kind}: {id}.")]
    NotFound { kind: &'static str, id: String },
    /// 404 with a message of its own.
    #[error("{0}")]
    NotFoundMsg(String),
    /// 409 `Conflict occurred attempting to store {kind} - {detail}`
    #[error("Conflict occurred attempting to store {kind} - {detail}")]
    Conflict { kind: &'static str, detail: String },
    /// 409 with a message of its own.
    #[error("{0}")]
    ConflictMsg(String),
    /// 400 with the reason.
    #[error("{0}")]
    Validation(String),
    /// 401; the message never tells which part of the credentials was wrong.
    #[error("The request you have made requires authentication.")]
    Unauthorized,
    /// 401 with a specific, non-revealing message.
    #[error("{0}")]
    UnauthorizedMsg(String),
    /// 403 `You are not authorized to perform the requested action: {0}.`
    #[error("You are not authorized to perform the requested action: {0}.")]
    Forbidden(String),
    /// 403 with a message of its own.
    #[error("{0}")]
    ForbiddenMsg(String),
    /// 405
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 501
    #[error("{0}")]
    NotImplemented(String),
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

impl From<Fault> for Error {
    fn from(f: Fault) -> Self {
        match f.status.as_u16() {
            404 => Error::NotFoundMsg(f.message),
            409 => Error::ConflictMsg(f.message),
            401 => Error::UnauthorizedMsg(f.message),
            403 => Error::ForbiddenMsg(f.message),
            400 => Error::Validation(f.message),
            _ => Error::Internal(f.message),
        }
    }
}

impl Error {
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            id: id.into(),
        }
    }

    pub fn conflict(kind: &'static str, detail: impl Into<String>) -> Self {
        Error::Conflict {
            kind,
            detail: detail.into(),
        }
    }

    /// A duplicate name, in keystone's words.
    pub fn duplicate(kind: &'static str, name: &str) -> Self {
        Error::conflict(kind, format!("Duplicate entry found with name {name}."))
    }

    pub fn bad(msg: impl Into<String>) -> Self {
        Error::Validation(msg.into())
    }

    /// Map a database error, turning a unique-key violation into keystone's duplicate 409.
    pub fn or_duplicate<'a>(
        kind: &'static str,
        name: &'a str,
    ) -> impl FnOnce(db::DbError) -> Error + 'a {
        move |e| match e {
            db::DbError::Conflict(_) => Error::duplicate(kind, name),
            other => Error::Db(other),
        }
    }

    /// `Expecting to find {attr} in {target}.` — keystone's missing-attribute message.
    pub fn missing(attr: &str, target: &str) -> Self {
        Error::Validation(format!(
            "Expecting to find {attr} in {target}. The server could not comply with the request \
             since it is either malformed or otherwise incorrect. The client is assumed to be in error."
        ))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound { .. } | Error::NotFoundMsg(_) => StatusCode::NOT_FOUND,
            Error::Conflict { .. } | Error::ConflictMsg(_) => StatusCode::CONFLICT,
            Error::Validation(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized | Error::UnauthorizedMsg(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) | Error::ForbiddenMsg(_) => StatusCode::FORBIDDEN,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Error::Db(db::DbError::Conflict(_)) => StatusCode::CONFLICT,
            Error::Db(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client sees. Internal errors are logged here, never shown.
    pub fn fault(&self) -> Fault {
        let status = self.status();
        let message = match self {
            Error::Db(db::DbError::Conflict(_)) => {
                "Conflict occurred attempting to store the resource - a duplicate entry exists."
                    .to_string()
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
        let mut f = Fault::new(status, message).styled(ErrorStyle::Keystone);
        if status == StatusCode::UNAUTHORIZED {
            f = f.with_header(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Keystone uri=\"/v3\""),
            );
        }
        f
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.fault().into_response()
    }
}
