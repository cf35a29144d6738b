//! Owned queries with portable placeholders, and typed row access.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use crate::{Backend, DbError, Result};

/// A bound value. Booleans are stored as 0/1 integers.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Float(Option<f64>),
    Blob(Option<Vec<u8>>),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_string))
    }
}
impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Self {
        Arg::Text(v.clone())
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Int(Some(i64::from(v)))
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::Float(Some(v))
    }
}
impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Self {
        Arg::Blob(Some(v))
    }
}

/// Rewrite `?` placeholders to `$1, $2, …` for PostgreSQL (outside string literals).
pub(crate) fn rewrite(sql: &str, backend: Backend) -> String {
    if backend != Backend::Postgres {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut in_str = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                in_str = !in_str;
                out.push(c);
            }
            '?' if !in_str => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

/// A query owning its SQL and arguments; run it on a pool or inside a transaction.
#[derive(Debug, Clone)]
pub struct Query {
    sql: String,
    args: Vec<Arg>,
    writes: Arc<AtomicU64>,
}

impl Query {
    pub(crate) fn new(sql: String, writes: Arc<AtomicU64>) -> Self {
        Query {
            sql,
            args: Vec::new(),
            writes,
        }
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    #[must_use]
    pub fn bind(mut self, v: impl Into<Arg>) -> Self {
        self.args.push(v.into());
        self
    }

    /// Bind every value of an iterator (for `IN (?, ?, …)` lists built with [`placeholders`]).
    #[must_use]
    pub fn bind_all<I, V>(mut self, vs: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Arg>,
    {
        self.args.extend(vs.into_iter().map(Into::into));
        self
    }

    fn build(&self) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query::<Any>(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::Text(v) => q.bind(v.clone()),
                Arg::Int(v) => q.bind(*v),
                Arg::Float(v) => q.bind(*v),
                Arg::Blob(v) => q.bind(v.clone()),
            };
        }
        q
    }

    pub async fn fetch_all<'c, E>(&self, e: E) -> Result<Vec<AnyRow>>
    where
        E: Executor<'c, Database = Any>,
    {
        Ok(self.build().fetch_all(e).await?)
    }

    pub async fn fetch_optional<'c, E>(&self, e: E) -> Result<Option<AnyRow>>
    where
        E: Executor<'c, Database = Any>,
    {
        Ok(self.build().fetch_optional(e).await?)
    }

    pub async fn fetch_one<'c, E>(&self, e: E) -> Result<AnyRow>
    where
        E: Executor<'c, Database = Any>,
    {
        Ok(self.build().fetch_one(e).await?)
    }

    /// Execute and return the number of affected rows.
    pub async fn execute<'c, E>(&self, e: E) -> Result<u64>
    where
        E: Executor<'c, Database = Any>,
    {
        let n = self.build().execute(e).await?.rows_affected();
        self.writes.fetch_add(1, Ordering::AcqRel);
        Ok(n)
    }
}

/// `?, ?, ?` for an `IN (…)` list of `n` values (at least one `NULL` so SQL stays valid).
pub fn placeholders(n: usize) -> String {
    if n == 0 {
        return "NULL".to_string();
    }
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

/// Typed column access with errors that name the column.
pub trait RowExt {
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn int(&self, col: &str) -> Result<i64>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    fn flag(&self, col: &str) -> Result<bool>;
    fn blob(&self, col: &str) -> Result<Vec<u8>>;
}

fn col_err(col: &str, e: sqlx::Error) -> DbError {
    DbError::Column {
        column: col.to_string(),
        source: e,
    }
}

/// MySQL reports `TEXT` columns as blobs through the `Any` driver: read them as bytes.
fn utf8(col: &str, b: Vec<u8>) -> Result<String> {
    String::from_utf8(b).map_err(|e| col_err(col, sqlx::Error::Decode(Box::new(e))))
}

impl RowExt for AnyRow {
    fn text(&self, col: &str) -> Result<String> {
        match self.try_get::<String, _>(col) {
            Ok(s) => Ok(s),
            Err(e) => match self.try_get::<Vec<u8>, _>(col) {
                Ok(b) => utf8(col, b),
                Err(_) => Err(col_err(col, e)),
            },
        }
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        match self.try_get::<Option<String>, _>(col) {
            Ok(s) => Ok(s),
            Err(e) => match self.try_get::<Option<Vec<u8>>, _>(col) {
                Ok(b) => b.map(|b| utf8(col, b)).transpose(),
                Err(_) => Err(col_err(col, e)),
            },
        }
    }
    fn int(&self, col: &str) -> Result<i64> {
        self.try_get::<i64, _>(col).map_err(|e| col_err(col, e))
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        self.try_get::<Option<i64>, _>(col)
            .map_err(|e| col_err(col, e))
    }
    fn flag(&self, col: &str) -> Result<bool> {
        Ok(self.int(col)? != 0)
    }
    fn blob(&self, col: &str) -> Result<Vec<u8>> {
        self.try_get::<Vec<u8>, _>(col).map_err(|e| col_err(col, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_numbered() {
        assert_eq!(
            rewrite(
                "SELECT * FROM t WHERE a = ? AND b = '?' AND c = ?",
                Backend::Postgres
            ),
            "SELECT * FROM t WHERE a = $1 AND b = '?' AND c = $2"
        );
        assert_eq!(rewrite("a = ?", Backend::MySql), "a = ?");
    }

    #[test]
    fn in_lists() {
        assert_eq!(placeholders(3), "?, ?, ?");
        assert_eq!(placeholders(0), "NULL");
    }
}
