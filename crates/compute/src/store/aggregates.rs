//! Host aggregates: hosts and metadata, and the availability zone they give a host.

use std::collections::BTreeMap;

use db::{Db, RowExt};

use crate::model::Aggregate;

async fn load(db: &Db, rows: Vec<db::Row>) -> db::Result<Vec<Aggregate>> {
    let hosts = db
        .q("SELECT aggregate_id, host FROM aggregate_host ORDER BY host")
        .fetch_all(db.pool())
        .await?;
    let meta = db
        .q("SELECT aggregate_id, meta_key, meta_value FROM aggregate_metadata")
        .fetch_all(db.pool())
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let id = r.int("id")?;
        let mut a = Aggregate {
            id,
            uuid: r.text("uuid")?,
            name: r.text("name")?,
            hosts: Vec::new(),
            metadata: BTreeMap::new(),
            created_at: r.int("created_at")?,
            updated_at: r.opt_int("updated_at")?,
        };
        for h in &hosts {
            if h.int("aggregate_id")? == id {
                a.hosts.push(h.text("host")?);
            }
        }
        for m in &meta {
            if m.int("aggregate_id")? == id {
                a.metadata
                    .insert(m.text("meta_key")?, m.text("meta_value")?);
            }
        }
        out.push(a);
    }
    Ok(out)
}

const COLS: &str = "id, uuid, name, created_at, updated_at";

pub async fn list(db: &Db) -> db::Result<Vec<Aggregate>> {
    let rows = db
        .q(&format!("SELECT {COLS} FROM aggregate ORDER BY id"))
        .fetch_all(db.pool())
        .await?;
    load(db, rows).await
}

pub async fn get(db: &Db, id: i64) -> db::Result<Option<Aggregate>> {
    let rows = db
        .q(&format!("SELECT {COLS} FROM aggregate WHERE id = ?"))
        .bind(id)
        .fetch_all(db.pool())
        .await?;
    Ok(load(db, rows).await?.pop())
}

pub async fn name_taken(db: &Db, name: &str, except: i64) -> db::Result<bool> {
    Ok(db
        .q("SELECT id FROM aggregate WHERE name = ? AND id <> ?")
        .bind(name)
        .bind(except)
        .fetch_optional(db.pool())
        .await?
        .is_some())
}

/// Insert with its initial metadata; assigns `a.id`.
pub async fn insert(db: &Db, a: &mut Aggregate) -> db::Result<()> {
    let mut tx = db.begin().await?;
    a.id = super::next_id(db, &mut tx, "aggregate").await?;
    db.q(
        "INSERT INTO aggregate (id, uuid, name, created_at, updated_at) VALUES (?, ?, ?, ?, NULL)",
    )
    .bind(a.id)
    .bind(&a.uuid)
    .bind(&a.name)
    .bind(a.created_at)
    .execute(tx.conn())
    .await?;
    write_metadata(db, &mut tx, a.id, &a.metadata).await?;
    tx.commit().await
}

async fn write_metadata(
    db: &Db,
    tx: &mut db::Tx,
    id: i64,
    metadata: &BTreeMap<String, String>,
) -> db::Result<()> {
    db.q("DELETE FROM aggregate_metadata WHERE aggregate_id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    for (k, v) in metadata {
        db.q(
            "INSERT INTO aggregate_metadata (aggregate_id, meta_key, meta_value) VALUES (?, ?, ?)",
        )
        .bind(id)
        .bind(k)
        .bind(v)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Store the name, metadata and hosts of `a` as they are now.
pub async fn save(db: &Db, a: &Aggregate, now: i64) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("UPDATE aggregate SET name = ?, updated_at = ? WHERE id = ?")
        .bind(&a.name)
        .bind(now)
        .bind(a.id)
        .execute(tx.conn())
        .await?;
    write_metadata(db, &mut tx, a.id, &a.metadata).await?;
    db.q("DELETE FROM aggregate_host WHERE aggregate_id = ?")
        .bind(a.id)
        .execute(tx.conn())
        .await?;
    for h in &a.hosts {
        db.q("INSERT INTO aggregate_host (aggregate_id, host) VALUES (?, ?)")
            .bind(a.id)
            .bind(h)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await
}

pub async fn delete(db: &Db, id: i64) -> db::Result<()> {
    let mut tx = db.begin().await?;
    for t in ["aggregate_metadata", "aggregate_host"] {
        db.q(&format!("DELETE FROM {t} WHERE aggregate_id = ?"))
            .bind(id)
            .execute(tx.conn())
            .await?;
    }
    db.q("DELETE FROM aggregate WHERE id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

/// The availability zone of `host`: from its aggregates, else `default`.
pub fn zone_of<'a>(aggregates: &'a [Aggregate], host: &str, default: &'a str) -> &'a str {
    aggregates
        .iter()
        .filter(|a| a.hosts.iter().any(|h| h == host))
        .find_map(Aggregate::zone)
        .unwrap_or(default)
}

/// Store the zone `host`'s aggregates give it on its compute service record.
pub async fn sync_zone(db: &Db, host: &str, default: &str) -> db::Result<()> {
    let all = list(db).await?;
    let zone = zone_of(&all, host, default);
    db.q("UPDATE compute_service SET zone = ? WHERE host = ? AND binary_name = 'nova-compute'")
        .bind(zone)
        .bind(host)
        .execute(db.pool())
        .await?;
    Ok(())
}
