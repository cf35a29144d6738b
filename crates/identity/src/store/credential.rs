//! Credentials (`/v3/credentials` and EC2 credentials). Blobs are stored encrypted; this
//! module only moves rows, the service layer encrypts and decrypts.

use db::{Db, RowExt};

use crate::model::{Extra, extra_json};
use crate::store::json_col;

/// A credential row as stored: the blob is a Fernet token made with the credential keys.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCredential {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub cred_type: String,
    pub encrypted_blob: String,
    pub key_hash: String,
    pub extra: Extra,
    pub created_at: i64,
}

const COLS: &str = "id, user_id, project_id, type, encrypted_blob, key_hash, extra, created_at";

fn row(r: &db::Row) -> db::Result<StoredCredential> {
    Ok(StoredCredential {
        id: r.text("id")?,
        user_id: r.text("user_id")?,
        project_id: r.opt_text("project_id")?,
        cred_type: r.text("type")?,
        encrypted_blob: r.text("encrypted_blob")?,
        key_hash: r.text("key_hash")?,
        extra: json_col(r, "extra")?,
        created_at: r.int("created_at")?,
    })
}

pub async fn get(db: &Db, id: &str) -> db::Result<Option<StoredCredential>> {
    let sql = format!("SELECT {COLS} FROM credential WHERE id = ?");
    db.q(&sql)
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

/// Credentials, optionally of one user and/or one type.
pub async fn list(
    db: &Db,
    user_id: Option<&str>,
    cred_type: Option<&str>,
) -> db::Result<Vec<StoredCredential>> {
    let mut sql = format!("SELECT {COLS} FROM credential WHERE 1 = 1");
    let mut args: Vec<db::Arg> = Vec::new();
    if let Some(u) = user_id {
        sql.push_str(" AND user_id = ?");
        args.push(u.into());
    }
    if let Some(t) = cred_type {
        sql.push_str(" AND type = ?");
        args.push(t.into());
    }
    sql.push_str(" ORDER BY created_at, id");
    db.q(&sql)
        .bind_all(args)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(row)
        .collect()
}

pub async fn insert(db: &Db, c: &StoredCredential) -> db::Result<()> {
    db.q("INSERT INTO credential (id, user_id, project_id, type, encrypted_blob, key_hash, extra, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(&c.id)
        .bind(&c.user_id)
        .bind(&c.project_id)
        .bind(&c.cred_type)
        .bind(&c.encrypted_blob)
        .bind(&c.key_hash)
        .bind(extra_json(&c.extra))
        .bind(c.created_at)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn update(db: &Db, c: &StoredCredential) -> db::Result<()> {
    db.q("UPDATE credential SET user_id = ?, project_id = ?, type = ?, encrypted_blob = ?, key_hash = ?, extra = ?
          WHERE id = ?")
        .bind(&c.user_id)
        .bind(&c.project_id)
        .bind(&c.cred_type)
        .bind(&c.encrypted_blob)
        .bind(&c.key_hash)
        .bind(extra_json(&c.extra))
        .bind(&c.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete(db: &Db, id: &str) -> db::Result<u64> {
    db.q("DELETE FROM credential WHERE id = ?")
        .bind(id)
        .execute(db.pool())
        .await
}
