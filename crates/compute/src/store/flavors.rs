//! Flavors, their extra specs and project access.

use db::{Db, RowExt};
use serde_json::{Map, Value};

use super::obj;
use crate::model::Flavor;

const COLS: &str = "id, name, vcpus, ram, disk, ephemeral, swap, rxtx_factor, is_public, disabled, description, extra_specs, created_at";

fn row(r: &db::Row) -> db::Result<(Flavor, i64)> {
    Ok((
        Flavor {
            id: r.text("id")?,
            name: r.text("name")?,
            vcpus: r.int("vcpus")?,
            ram: r.int("ram")?,
            disk: r.int("disk")?,
            ephemeral: r.int("ephemeral")?,
            swap: r.int("swap")?,
            rxtx_factor: r.text("rxtx_factor")?.parse().unwrap_or(1.0),
            is_public: r.flag("is_public")?,
            disabled: r.flag("disabled")?,
            description: r.opt_text("description")?,
            extra_specs: obj(r, "extra_specs")?,
        },
        r.int("created_at")?,
    ))
}

/// Flavor id → nova's internal integer id (shown by `os-migrations` as
/// `old_instance_type_id` / `new_instance_type_id`).
pub async fn internal_ids(db: &Db) -> db::Result<std::collections::HashMap<String, i64>> {
    let rows = db
        .q("SELECT id, internal_id FROM flavor WHERE internal_id IS NOT NULL")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.text("id")?, r.int("internal_id")?)))
        .collect()
}

pub async fn insert(db: &Db, f: &Flavor, now: i64) -> db::Result<()> {
    let mut tx = db.begin().await?;
    let internal = super::next_id(db, &mut tx, "flavor").await?;
    db.q("INSERT INTO flavor (id, name, vcpus, ram, disk, ephemeral, swap, rxtx_factor, is_public, disabled, description, extra_specs, created_at, updated_at, internal_id)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(&f.id)
        .bind(&f.name)
        .bind(f.vcpus)
        .bind(f.ram)
        .bind(f.disk)
        .bind(f.ephemeral)
        .bind(f.swap)
        .bind(f.rxtx_factor.to_string())
        .bind(f.is_public)
        .bind(f.disabled)
        .bind(&f.description)
        .bind(Value::Object(f.extra_specs.clone()).to_string())
        .bind(now)
        .bind(now)
        .bind(internal)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

pub async fn get(db: &Db, id: &str) -> db::Result<Option<Flavor>> {
    db.q(&format!("SELECT {COLS} FROM flavor WHERE id = ?"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .map(|r| row(&r).map(|x| x.0))
        .transpose()
}

pub async fn by_name(db: &Db, name: &str) -> db::Result<Option<Flavor>> {
    db.q(&format!("SELECT {COLS} FROM flavor WHERE name = ?"))
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .map(|r| row(&r).map(|x| x.0))
        .transpose()
}

/// Flavors visible to `project` (None: all, for admins), filtered and sorted as nova.
pub struct ListQuery<'a> {
    pub project: Option<&'a str>,
    /// `None`: public + accessible; `Some(true)`: public only; `Some(false)`: private only.
    pub is_public: Option<bool>,
    pub min_ram: Option<i64>,
    pub min_disk: Option<i64>,
    pub sort_key: &'static str,
    pub ascending: bool,
    pub marker: Option<&'a Flavor>,
    pub limit: i64,
}

pub async fn list(db: &Db, q: &ListQuery<'_>) -> db::Result<Vec<Flavor>> {
    let mut sql = format!("SELECT {COLS} FROM flavor f WHERE 1 = 1");
    let mut args: Vec<db::Arg> = Vec::new();
    match (q.is_public, q.project) {
        (Some(true), _) => sql.push_str(" AND is_public = 1"),
        (Some(false), None) => sql.push_str(" AND is_public = 0"),
        (Some(false), Some(p)) => {
            sql.push_str(" AND is_public = 0 AND EXISTS (SELECT 1 FROM flavor_project a WHERE a.flavor_id = f.id AND a.project_id = ?)");
            args.push(p.into());
        }
        (None, Some(p)) => {
            sql.push_str(" AND (is_public = 1 OR EXISTS (SELECT 1 FROM flavor_project a WHERE a.flavor_id = f.id AND a.project_id = ?))");
            args.push(p.into());
        }
        (None, None) => {}
    }
    if let Some(m) = q.min_ram {
        sql.push_str(" AND ram >= ?");
        args.push(m.into());
    }
    if let Some(m) = q.min_disk {
        sql.push_str(" AND disk >= ?");
        args.push(m.into());
    }
    let col = q.sort_key;
    let (cmp, dir) = if q.ascending {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    if let Some(m) = q.marker {
        let v: db::Arg = match col {
            "name" => m.name.clone().into(),
            "id" => m.id.clone().into(),
            "vcpus" => m.vcpus.into(),
            "memory_mb" | "ram" => m.ram.into(),
            "root_gb" | "disk" => m.disk.into(),
            "ephemeral_gb" | "ephemeral" => m.ephemeral.into(),
            "swap" => m.swap.into(),
            _ => m.id.clone().into(),
        };
        sql.push_str(&format!(
            " AND ({col} {cmp} ? OR ({col} = ? AND id {cmp} ?))"
        ));
        args.push(v.clone());
        args.push(v);
        args.push(m.id.clone().into());
    }
    sql.push_str(&format!(
        " ORDER BY {col} {dir}, id {dir} LIMIT {}",
        q.limit.max(0)
    ));
    db.q(&sql)
        .bind_all(args)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| row(r).map(|x| x.0))
        .collect()
}

pub async fn delete(db: &Db, id: &str) -> db::Result<bool> {
    let mut tx = db.begin().await?;
    db.q("DELETE FROM flavor_project WHERE flavor_id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    let n = db
        .q("DELETE FROM flavor WHERE id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(n == 1)
}

pub async fn set_description(db: &Db, id: &str, d: Option<&str>, now: i64) -> db::Result<()> {
    db.q("UPDATE flavor SET description = ?, updated_at = ? WHERE id = ?")
        .bind(d)
        .bind(now)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn set_extra_specs(
    db: &Db,
    id: &str,
    specs: &Map<String, Value>,
    now: i64,
) -> db::Result<()> {
    db.q("UPDATE flavor SET extra_specs = ?, updated_at = ? WHERE id = ?")
        .bind(Value::Object(specs.clone()).to_string())
        .bind(now)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn access(db: &Db, id: &str) -> db::Result<Vec<String>> {
    db.q("SELECT project_id FROM flavor_project WHERE flavor_id = ? ORDER BY project_id")
        .bind(id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| r.text("project_id"))
        .collect()
}

pub async fn add_access(db: &Db, id: &str, project: &str) -> db::Result<()> {
    db.q("INSERT INTO flavor_project (flavor_id, project_id) VALUES (?, ?)")
        .bind(id)
        .bind(project)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn remove_access(db: &Db, id: &str, project: &str) -> db::Result<bool> {
    Ok(db
        .q("DELETE FROM flavor_project WHERE flavor_id = ? AND project_id = ?")
        .bind(id)
        .bind(project)
        .execute(db.pool())
        .await?
        == 1)
}
