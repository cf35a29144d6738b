//! Database access shared by every ferrostack service.
//!
//! One code path serves SQLite (the embedded default), PostgreSQL and MySQL/MariaDB through
//! sqlx's `Any` driver. Services write SQL with `?` placeholders in a portable subset:
//!
//! - integers and booleans are `BIGINT` (booleans 0/1, read with [`RowExt::flag`]);
//! - timestamps are `BIGINT` microseconds since the epoch;
//! - indexed strings are `VARCHAR(n)`, free text `{TEXT}`, bytes `{BLOB}`;
//! - no reserved words as names (`user`, `system`, `key`, `groups`…).
//!
//! [`Db::q`] rewrites placeholders for PostgreSQL, and migrations expand the `{TEXT}`,
//! `{BLOB}` and `{TABLE}` (table options) tokens per engine. SQLite transactions take a
//! process-wide writer lock so concurrent writers queue instead of failing with `BUSY`.

mod migrate;
mod query;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

pub use migrate::Migration;
pub use query::{Arg, Query, RowExt, placeholders};
pub use sqlx::any::AnyRow as Row;

/// Errors from the database layer. Callers map them to their service's error type.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0:?}: use sqlite://, postgresql:// or mysql://")]
    UnsupportedUrl(String),
    #[error("a row with the same unique key already exists")]
    Conflict(#[source] sqlx::Error),
    #[error("a referenced row does not exist or is still referenced")]
    ForeignKey(#[source] sqlx::Error),
    #[error("database error")]
    Sqlx(#[source] sqlx::Error),
    #[error("column {column}: {source}")]
    Column {
        column: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migration {service} {version} ({name}) failed")]
    Migration {
        service: String,
        version: i64,
        name: String,
        #[source]
        source: Box<DbError>,
    },
    #[error(
        "the database schema of {service} is at version {found}, newer than this binary knows ({known})"
    )]
    SchemaTooNew {
        service: String,
        found: i64,
        known: i64,
    },
}

impl DbError {
    /// A column whose stored text does not decode (e.g. malformed JSON).
    pub fn decode(column: &str, e: impl std::error::Error + Send + Sync + 'static) -> DbError {
        DbError::Column {
            column: column.to_string(),
            source: sqlx::Error::Decode(Box::new(e)),
        }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(d) = &e {
            if d.is_unique_violation() {
                return DbError::Conflict(e);
            }
            if d.is_foreign_key_violation() {
                return DbError::ForeignKey(e);
            }
        }
        DbError::Sqlx(e)
    }
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend> {
        let scheme = url.split(':').next().unwrap_or_default();
        // oslo.db URLs name a driver: `mysql+pymysql://`, `postgresql+psycopg2://`.
        let base = scheme.split('+').next().unwrap_or_default();
        match base {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "mysql" | "mariadb" => Ok(Backend::MySql),
            _ => Err(DbError::UnsupportedUrl(redact(url))),
        }
    }
}

/// A URL with any password replaced, fit for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}://{}:***{}", &url[..s], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Normalise an oslo.db-style URL into one sqlx understands.
fn sqlx_url(url: &str, backend: Backend) -> String {
    if url == "sqlite::memory:" || url == "sqlite://:memory:" {
        return "sqlite::memory:".to_string();
    }
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    match backend {
        Backend::Sqlite => {
            let mut u = format!("sqlite://{rest}");
            if !rest.contains(":memory:") && !u.contains("mode=") {
                u.push_str(if u.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
            u
        }
        Backend::Postgres => format!("postgres://{rest}"),
        Backend::MySql => {
            // oslo.db URLs often carry `?charset=utf8`; sqlx spells it the same way.
            format!("mysql://{rest}")
        }
    }
}

/// A connection pool to one service's database.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    writer: Option<Arc<Mutex<()>>>,
    /// Bumped after every statement executed through [`Query::execute`] and every commit:
    /// read caches built at an older value are stale.
    writes: Arc<AtomicU64>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Db {
    /// Connect to `url` (`sqlite:///path/to/file.db`, `postgresql://u:p@host/db`,
    /// `mysql+pymysql://u:p@host/db`), creating a missing SQLite file.
    pub async fn connect(url: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let surl = sqlx_url(url, backend);
        let opts: AnyConnectOptions = surl.parse().map_err(DbError::Sqlx)?;
        let memory = surl.contains(":memory:");
        let max = match backend {
            Backend::Sqlite if memory => 1,
            Backend::Sqlite => 8,
            _ => 16,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(if memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if memory {
                None
            } else {
                Some(Duration::from_secs(1800))
            })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    match backend {
                        Backend::Sqlite => {
                            // The busy timeout first: switching to WAL takes a lock.
                            conn.execute("PRAGMA busy_timeout=10000").await?;
                            conn.execute("PRAGMA journal_mode=WAL").await?;
                            conn.execute("PRAGMA foreign_keys=ON").await?;
                            conn.execute("PRAGMA synchronous=NORMAL").await?;
                            // 1 MiB of page cache per connection (SQLite's default is
                            // 2 MiB): the OS caches the file too, and 8 connections
                            // per database add up.
                            conn.execute("PRAGMA cache_size=-1024").await?;
                        }
                        Backend::MySql => {
                            conn.execute(
                                "SET SESSION sql_mode='ANSI_QUOTES,STRICT_ALL_TABLES,NO_ZERO_DATE'",
                            )
                            .await?;
                        }
                        Backend::Postgres => {}
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(DbError::Sqlx)?;
        Ok(Db {
            pool,
            backend,
            writer: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
            writes: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A query with `?` placeholders, rewritten for the engine.
    pub fn q(&self, sql: &str) -> Query {
        Query::new(query::rewrite(sql, self.backend), self.writes.clone())
    }

    /// How many writes this pool has made: compare before and after to know whether
    /// anything changed (see [`Db`]'s `writes`).
    pub fn write_count(&self) -> u64 {
        self.writes.load(Ordering::Acquire)
    }

    /// Begin a transaction. On SQLite this also takes the writer lock, so concurrent
    /// read-then-write transactions queue instead of failing.
    pub async fn begin(&self) -> Result<Tx> {
        let guard = match &self.writer {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        };
        // A dropped transaction releases the lock at once but rolls back on its
        // connection a moment later; an IMMEDIATE transaction takes SQLite's write lock
        // up front, so it waits (busy timeout) for that instead of failing at its first
        // write with "database is locked".
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            _ => self.pool.begin().await?,
        };
        Ok(Tx {
            tx,
            _guard: guard,
            writes: self.writes.clone(),
        })
    }

    /// Close the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A transaction; dropped without [`Tx::commit`] it rolls back.
pub struct Tx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    writes: Arc<AtomicU64>,
}

impl Tx {
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        self.writes.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

/// Microseconds since the Unix epoch, the portable timestamp column format.
pub fn micros(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_from_oslo_urls() {
        assert_eq!(
            Backend::from_url("sqlite:////var/lib/x.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("mysql+pymysql://k:p@h/keystone").unwrap(),
            Backend::MySql
        );
        assert_eq!(
            Backend::from_url("postgresql+psycopg2://k:p@h/keystone").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::from_url("oracle://x").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("mysql://keystone:secret@db/keystone"),
            "mysql://keystone:***@db/keystone"
        );
        assert_eq!(redact("sqlite:///x.db"), "sqlite:///x.db");
    }
}
