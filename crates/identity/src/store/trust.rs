//! OS-TRUST trusts and their delegated roles.

use db::{Db, RowExt};

use crate::model::{Extra, extra_json};
use crate::store::json_col;

#[derive(Debug, Clone, PartialEq)]
pub struct Trust {
    pub id: String,
    pub trustor_user_id: String,
    pub trustee_user_id: String,
    pub project_id: Option<String>,
    pub impersonation: bool,
    /// Microseconds since the epoch.
    pub expires_at: Option<i64>,
    pub remaining_uses: Option<i64>,
    pub redelegated_trust_id: Option<String>,
    pub redelegation_count: Option<i64>,
    pub deleted_at: Option<i64>,
    pub extra: Extra,
    pub role_ids: Vec<String>,
}

async fn complete(db: &Db, r: &db::Row) -> db::Result<Trust> {
    let id = r.text("id")?;
    let role_ids = db
        .q("SELECT role_id FROM trust_role WHERE trust_id = ? ORDER BY role_id")
        .bind(&id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|x| x.text("role_id"))
        .collect::<db::Result<Vec<_>>>()?;
    Ok(Trust {
        id,
        trustor_user_id: r.text("trustor_user_id")?,
        trustee_user_id: r.text("trustee_user_id")?,
        project_id: r.opt_text("project_id")?,
        impersonation: r.flag("impersonation")?,
        expires_at: r.opt_int("expires_at")?,
        remaining_uses: r.opt_int("remaining_uses")?,
        redelegated_trust_id: r.opt_text("redelegated_trust_id")?,
        redelegation_count: r.opt_int("redelegation_count")?,
        deleted_at: r.opt_int("deleted_at")?,
        extra: json_col(r, "extra")?,
        role_ids,
    })
}

const COLS: &str = "id, trustor_user_id, trustee_user_id, project_id, impersonation, expires_at, remaining_uses, \
                    redelegated_trust_id, redelegation_count, deleted_at, extra";

/// A trust that has not been deleted.
pub async fn get(db: &Db, id: &str) -> db::Result<Option<Trust>> {
    let sql = format!("SELECT {COLS} FROM trust WHERE id = ? AND deleted_at IS NULL");
    match db.q(&sql).bind(id).fetch_optional(db.pool()).await? {
        Some(r) => Ok(Some(complete(db, &r).await?)),
        None => Ok(None),
    }
}

pub async fn list(db: &Db, trustor: Option<&str>, trustee: Option<&str>) -> db::Result<Vec<Trust>> {
    let mut sql = format!("SELECT {COLS} FROM trust WHERE deleted_at IS NULL");
    let mut args: Vec<db::Arg> = Vec::new();
    if let Some(t) = trustor {
        sql.push_str(" AND trustor_user_id = ?");
        args.push(t.into());
    }
    if let Some(t) = trustee {
        sql.push_str(" AND trustee_user_id = ?");
        args.push(t.into());
    }
    sql.push_str(" ORDER BY id");
    let rows = db.q(&sql).bind_all(args).fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(complete(db, r).await?);
    }
    Ok(out)
}

pub async fn insert(db: &Db, t: &Trust) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("INSERT INTO trust (id, trustor_user_id, trustee_user_id, project_id, impersonation, expires_at, remaining_uses,
             redelegated_trust_id, redelegation_count, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(&t.id)
        .bind(&t.trustor_user_id)
        .bind(&t.trustee_user_id)
        .bind(&t.project_id)
        .bind(t.impersonation)
        .bind(t.expires_at)
        .bind(t.remaining_uses)
        .bind(&t.redelegated_trust_id)
        .bind(t.redelegation_count)
        .bind(extra_json(&t.extra))
        .execute(tx.conn())
        .await?;
    for r in &t.role_ids {
        db.q("INSERT INTO trust_role (trust_id, role_id) VALUES (?, ?)")
            .bind(&t.id)
            .bind(r)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await
}

/// Soft-delete, as keystone does (the id stays reserved).
pub async fn delete(db: &Db, id: &str, now: i64) -> db::Result<u64> {
    db.q("UPDATE trust SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(db.pool())
        .await
}

/// Use up one of a trust's remaining uses; false when none are left.
pub async fn consume(db: &Db, id: &str) -> db::Result<bool> {
    let n = db
        .q("UPDATE trust SET remaining_uses = remaining_uses - 1 WHERE id = ? AND remaining_uses IS NOT NULL AND remaining_uses > 0")
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(n == 1)
}

/// Live trusts redelegated from `parent`.
pub async fn children(db: &Db, parent: &str) -> db::Result<Vec<Trust>> {
    let sql = format!(
        "SELECT {COLS} FROM trust WHERE redelegated_trust_id = ? AND deleted_at IS NULL ORDER BY id"
    );
    let rows = db.q(&sql).bind(parent).fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(complete(db, r).await?);
    }
    Ok(out)
}
