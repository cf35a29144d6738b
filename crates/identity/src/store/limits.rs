//! Unified limits: registered (default) limits per service/region/resource, and project or
//! domain limits overriding them.

use db::{Db, RowExt};

#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredLimit {
    pub id: String,
    pub service_id: String,
    pub region_id: Option<String>,
    pub resource_name: String,
    pub default_limit: i64,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub id: String,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub service_id: String,
    pub region_id: Option<String>,
    pub resource_name: String,
    pub resource_limit: i64,
    pub description: Option<String>,
}

fn reg_row(r: &db::Row) -> db::Result<RegisteredLimit> {
    Ok(RegisteredLimit {
        id: r.text("id")?,
        service_id: r.text("service_id")?,
        region_id: r.opt_text("region_id")?,
        resource_name: r.text("resource_name")?,
        default_limit: r.int("default_limit")?,
        description: r.opt_text("description")?,
    })
}

fn limit_row(r: &db::Row) -> db::Result<Limit> {
    Ok(Limit {
        id: r.text("id")?,
        project_id: r.opt_text("project_id")?,
        domain_id: r.opt_text("domain_id")?,
        service_id: r.text("service_id")?,
        region_id: r.opt_text("region_id")?,
        resource_name: r.text("resource_name")?,
        resource_limit: r.int("resource_limit")?,
        description: r.opt_text("description")?,
    })
}

/// Filters shared by both listings; `None` means any.
#[derive(Debug, Default, Clone)]
pub struct LimitFilter {
    pub service_id: Option<String>,
    pub region_id: Option<String>,
    pub resource_name: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
}

fn where_clause(f: &LimitFilter, with_owner: bool) -> (String, Vec<db::Arg>) {
    let mut sql = String::from(" WHERE 1 = 1");
    let mut args = Vec::new();
    let mut add = |col: &str, v: &Option<String>| {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {col} = ?"));
            args.push(db::Arg::from(v));
        }
    };
    add("service_id", &f.service_id);
    add("region_id", &f.region_id);
    add("resource_name", &f.resource_name);
    if with_owner {
        add("project_id", &f.project_id);
        add("domain_id", &f.domain_id);
    }
    (sql, args)
}

const REG_COLS: &str = "id, service_id, region_id, resource_name, default_limit, description";
const LIMIT_COLS: &str =
    "id, project_id, domain_id, service_id, region_id, resource_name, resource_limit, description";

pub async fn list_registered(db: &Db, f: &LimitFilter) -> db::Result<Vec<RegisteredLimit>> {
    let (w, args) = where_clause(f, false);
    db.q(&format!(
        "SELECT {REG_COLS} FROM registered_limit{w} ORDER BY service_id, resource_name, id"
    ))
    .bind_all(args)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(reg_row)
    .collect()
}

pub async fn get_registered(db: &Db, id: &str) -> db::Result<Option<RegisteredLimit>> {
    db.q(&format!(
        "SELECT {REG_COLS} FROM registered_limit WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .as_ref()
    .map(reg_row)
    .transpose()
}

/// The registered limit for a service/region/resource (region `None` = any region).
pub async fn find_registered(
    db: &Db,
    service_id: &str,
    region_id: Option<&str>,
    resource: &str,
) -> db::Result<Option<RegisteredLimit>> {
    let q = match region_id {
        Some(r) => db
            .q(&format!(
                "SELECT {REG_COLS} FROM registered_limit WHERE service_id = ? AND region_id = ? AND resource_name = ?"
            ))
            .bind(service_id)
            .bind(r),
        None => db
            .q(&format!(
                "SELECT {REG_COLS} FROM registered_limit WHERE service_id = ? AND region_id IS NULL AND resource_name = ?"
            ))
            .bind(service_id),
    };
    q.bind(resource)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(reg_row)
        .transpose()
}

/// Insert several registered limits atomically.
pub async fn insert_registered(db: &Db, items: &[RegisteredLimit]) -> db::Result<()> {
    let mut tx = db.begin().await?;
    for r in items {
        db.q("INSERT INTO registered_limit (id, service_id, region_id, resource_name, default_limit, description)
              VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&r.id)
            .bind(&r.service_id)
            .bind(&r.region_id)
            .bind(&r.resource_name)
            .bind(r.default_limit)
            .bind(&r.description)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await
}

pub async fn update_registered(db: &Db, r: &RegisteredLimit) -> db::Result<()> {
    db.q("UPDATE registered_limit SET service_id = ?, region_id = ?, resource_name = ?, default_limit = ?, description = ? WHERE id = ?")
        .bind(&r.service_id)
        .bind(&r.region_id)
        .bind(&r.resource_name)
        .bind(r.default_limit)
        .bind(&r.description)
        .bind(&r.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete_registered(db: &Db, id: &str) -> db::Result<u64> {
    db.q("DELETE FROM registered_limit WHERE id = ?")
        .bind(id)
        .execute(db.pool())
        .await
}

pub async fn list_limits(db: &Db, f: &LimitFilter) -> db::Result<Vec<Limit>> {
    let (w, args) = where_clause(f, true);
    db.q(&format!(
        "SELECT {LIMIT_COLS} FROM project_limit{w} ORDER BY service_id, resource_name, id"
    ))
    .bind_all(args)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(limit_row)
    .collect()
}

pub async fn get_limit(db: &Db, id: &str) -> db::Result<Option<Limit>> {
    db.q(&format!(
        "SELECT {LIMIT_COLS} FROM project_limit WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .as_ref()
    .map(limit_row)
    .transpose()
}

pub async fn insert_limits(db: &Db, items: &[Limit]) -> db::Result<()> {
    let mut tx = db.begin().await?;
    for l in items {
        db.q("INSERT INTO project_limit (id, project_id, domain_id, service_id, region_id, resource_name, resource_limit, description)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(&l.id)
            .bind(&l.project_id)
            .bind(&l.domain_id)
            .bind(&l.service_id)
            .bind(&l.region_id)
            .bind(&l.resource_name)
            .bind(l.resource_limit)
            .bind(&l.description)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await
}

pub async fn update_limit(db: &Db, l: &Limit) -> db::Result<()> {
    db.q("UPDATE project_limit SET resource_limit = ?, description = ? WHERE id = ?")
        .bind(l.resource_limit)
        .bind(&l.description)
        .bind(&l.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete_limit(db: &Db, id: &str) -> db::Result<u64> {
    db.q("DELETE FROM project_limit WHERE id = ?")
        .bind(id)
        .execute(db.pool())
        .await
}
