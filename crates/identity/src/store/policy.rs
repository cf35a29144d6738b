//! The `/v3/policies` blobs and OS-OAUTH1 consumers: opaque records keystone only stores.

use db::{Db, RowExt};

use crate::model::{Extra, extra_json};
use crate::store::json_col;

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyBlob {
    pub id: String,
    pub policy_type: String,
    pub blob: String,
    pub extra: Extra,
}

fn policy_row(r: &db::Row) -> db::Result<PolicyBlob> {
    Ok(PolicyBlob {
        id: r.text("id")?,
        policy_type: r.text("type")?,
        blob: r.text("policy_blob")?,
        extra: json_col(r, "extra")?,
    })
}

pub async fn get_policy(db: &Db, id: &str) -> db::Result<Option<PolicyBlob>> {
    db.q("SELECT id, type, policy_blob, extra FROM policy WHERE id = ?")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(policy_row)
        .transpose()
}

pub async fn list_policies(db: &Db, policy_type: Option<&str>) -> db::Result<Vec<PolicyBlob>> {
    let q = match policy_type {
        Some(t) => db
            .q("SELECT id, type, policy_blob, extra FROM policy WHERE type = ? ORDER BY id")
            .bind(t),
        None => db.q("SELECT id, type, policy_blob, extra FROM policy ORDER BY id"),
    };
    q.fetch_all(db.pool())
        .await?
        .iter()
        .map(policy_row)
        .collect()
}

pub async fn save_policy(db: &Db, p: &PolicyBlob, insert: bool) -> db::Result<()> {
    let q = if insert {
        db.q("INSERT INTO policy (type, policy_blob, extra, id) VALUES (?, ?, ?, ?)")
    } else {
        db.q("UPDATE policy SET type = ?, policy_blob = ?, extra = ? WHERE id = ?")
    };
    q.bind(&p.policy_type)
        .bind(&p.blob)
        .bind(extra_json(&p.extra))
        .bind(&p.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete_policy(db: &Db, id: &str) -> db::Result<u64> {
    db.q("DELETE FROM policy WHERE id = ?")
        .bind(id)
        .execute(db.pool())
        .await
}

#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub id: String,
    pub description: Option<String>,
    /// Hash of the secret; the secret itself is shown once, on creation.
    pub secret: String,
    pub extra: Extra,
}

fn consumer_row(r: &db::Row) -> db::Result<Consumer> {
    Ok(Consumer {
        id: r.text("id")?,
        description: r.opt_text("description")?,
        secret: r.text("secret")?,
        extra: json_col(r, "extra")?,
    })
}

pub async fn get_consumer(db: &Db, id: &str) -> db::Result<Option<Consumer>> {
    db.q("SELECT id, description, secret, extra FROM oauth_consumer WHERE id = ?")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(consumer_row)
        .transpose()
}

pub async fn list_consumers(db: &Db) -> db::Result<Vec<Consumer>> {
    db.q("SELECT id, description, secret, extra FROM oauth_consumer ORDER BY id")
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(consumer_row)
        .collect()
}

pub async fn save_consumer(db: &Db, c: &Consumer, insert: bool) -> db::Result<()> {
    let q = if insert {
        db.q("INSERT INTO oauth_consumer (description, secret, extra, id) VALUES (?, ?, ?, ?)")
    } else {
        db.q("UPDATE oauth_consumer SET description = ?, secret = ?, extra = ? WHERE id = ?")
    };
    q.bind(&c.description)
        .bind(&c.secret)
        .bind(extra_json(&c.extra))
        .bind(&c.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete_consumer(db: &Db, id: &str) -> db::Result<u64> {
    db.q("DELETE FROM oauth_consumer WHERE id = ?")
        .bind(id)
        .execute(db.pool())
        .await
}
