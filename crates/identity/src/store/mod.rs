//! SQL storage for identity resources. One module per resource family; the service layer
//! (`crate::service`) holds the rules, these functions only read and write rows.

pub mod appcred;
pub mod assignment;
pub mod catalog;
pub mod credential;
pub mod endpoint_filter;
pub mod limits;
pub mod policy;
pub mod resource;
pub mod trust;
pub mod users;

use db::{Db, RowExt};

/// Read an optional JSON-text column.
pub(crate) fn json_col(row: &db::Row, col: &str) -> db::Result<crate::model::Extra> {
    Ok(crate::model::parse_extra(row.opt_text(col)?))
}

/// Bump the change counter other identity nodes poll to drop their caches.
pub async fn bump_counter(db: &Db) -> db::Result<()> {
    db.q("UPDATE change_counter SET value = value + 1 WHERE id = 1")
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn read_counter(db: &Db) -> db::Result<i64> {
    let row = db
        .q("SELECT value FROM change_counter WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    row.int("value")
}
