//! Keypairs, per user.

use db::{Db, RowExt};

use crate::model::Keypair;

fn row(r: &db::Row) -> db::Result<Keypair> {
    Ok(Keypair {
        id: r.int("id")?,
        user_id: r.text("user_id")?,
        name: r.text("name")?,
        key_type: r.text("key_type")?,
        fingerprint: r.text("fingerprint")?,
        public_key: r.text("public_key")?,
        created_at: r.int("created_at")?,
    })
}

const COLS: &str = "id, user_id, name, key_type, fingerprint, public_key, created_at";

pub async fn insert(db: &Db, k: &mut Keypair) -> db::Result<()> {
    let mut tx = db.begin().await?;
    k.id = super::next_id(db, &mut tx, "keypair").await?;
    db.q(&format!(
        "INSERT INTO keypair ({COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(k.id)
    .bind(&k.user_id)
    .bind(&k.name)
    .bind(&k.key_type)
    .bind(&k.fingerprint)
    .bind(&k.public_key)
    .bind(k.created_at)
    .execute(tx.conn())
    .await?;
    tx.commit().await
}

pub async fn get(db: &Db, user_id: &str, name: &str) -> db::Result<Option<Keypair>> {
    db.q(&format!(
        "SELECT {COLS} FROM keypair WHERE user_id = ? AND name = ?"
    ))
    .bind(user_id)
    .bind(name)
    .fetch_optional(db.pool())
    .await?
    .map(|r| row(&r))
    .transpose()
}

pub async fn list(
    db: &Db,
    user_id: &str,
    marker: Option<&str>,
    limit: i64,
) -> db::Result<Vec<Keypair>> {
    let mut sql = format!("SELECT {COLS} FROM keypair WHERE user_id = ?");
    if marker.is_some() {
        sql.push_str(" AND name > ?");
    }
    sql.push_str(&format!(" ORDER BY name LIMIT {}", limit.max(0)));
    let mut q = db.q(&sql).bind(user_id);
    if let Some(m) = marker {
        q = q.bind(m);
    }
    q.fetch_all(db.pool()).await?.iter().map(row).collect()
}

pub async fn count(db: &Db, user_id: &str) -> db::Result<i64> {
    db.q("SELECT COUNT(*) AS n FROM keypair WHERE user_id = ?")
        .bind(user_id)
        .fetch_one(db.pool())
        .await?
        .int("n")
}

pub async fn delete(db: &Db, user_id: &str, name: &str) -> db::Result<bool> {
    Ok(db
        .q("DELETE FROM keypair WHERE user_id = ? AND name = ?")
        .bind(user_id)
        .bind(name)
        .execute(db.pool())
        .await?
        == 1)
}
