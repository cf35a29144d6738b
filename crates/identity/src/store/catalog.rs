//! Regions, services and endpoints.

use db::{Db, RowExt};

use crate::model::{Endpoint, Region, Service, extra_json};
use crate::store::json_col;

fn region_row(r: &db::Row) -> db::Result<Region> {
    Ok(Region {
        id: r.text("id")?,
        description: r.opt_text("description")?,
        parent_region_id: r.opt_text("parent_region_id")?,
        extra: json_col(r, "extra")?,
    })
}

pub async fn get_region(db: &Db, id: &str) -> db::Result<Option<Region>> {
    db.q("SELECT id, description, parent_region_id, extra FROM region WHERE id = ?")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(region_row)
        .transpose()
}

pub async fn list_regions(db: &Db, parent: Option<&str>) -> db::Result<Vec<Region>> {
    let mut q = db.q("SELECT id, description, parent_region_id, extra FROM region ORDER BY id");
    if let Some(p) = parent {
        q = db
            .q("SELECT id, description, parent_region_id, extra FROM region WHERE parent_region_id = ? ORDER BY id")
            .bind(p);
    }
    q.fetch_all(db.pool())
        .await?
        .iter()
        .map(region_row)
        .collect()
}

pub async fn insert_region(db: &Db, r: &Region) -> db::Result<()> {
    db.q("INSERT INTO region (id, description, parent_region_id, extra) VALUES (?, ?, ?, ?)")
        .bind(&r.id)
        .bind(&r.description)
        .bind(&r.parent_region_id)
        .bind(extra_json(&r.extra))
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn update_region(db: &Db, r: &Region) -> db::Result<()> {
    db.q("UPDATE region SET description = ?, parent_region_id = ?, extra = ? WHERE id = ?")
        .bind(&r.description)
        .bind(&r.parent_region_id)
        .bind(extra_json(&r.extra))
        .bind(&r.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete_region(db: &Db, id: &str) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("UPDATE endpoint SET region_id = NULL WHERE region_id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    db.q("DELETE FROM region WHERE id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

fn service_row(r: &db::Row) -> db::Result<Service> {
    Ok(Service {
        id: r.text("id")?,
        service_type: r.text("type")?,
        name: r.opt_text("name")?,
        description: r.opt_text("description")?,
        enabled: r.flag("enabled")?,
        extra: json_col(r, "extra")?,
    })
}

pub async fn get_service(db: &Db, id: &str) -> db::Result<Option<Service>> {
    db.q("SELECT id, type, name, description, enabled, extra FROM service WHERE id = ?")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(service_row)
        .transpose()
}

pub async fn list_services(db: &Db) -> db::Result<Vec<Service>> {
    db.q("SELECT id, type, name, description, enabled, extra FROM service ORDER BY type, id")
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(service_row)
        .collect()
}

pub async fn insert_service(db: &Db, s: &Service) -> db::Result<()> {
    db.q("INSERT INTO service (id, type, name, description, enabled, extra) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(&s.id)
        .bind(&s.service_type)
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.enabled)
        .bind(extra_json(&s.extra))
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn update_service(db: &Db, s: &Service) -> db::Result<()> {
    db.q("UPDATE service SET type = ?, name = ?, description = ?, enabled = ?, extra = ? WHERE id = ?")
        .bind(&s.service_type)
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.enabled)
        .bind(extra_json(&s.extra))
        .bind(&s.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete_service(db: &Db, id: &str) -> db::Result<()> {
    let mut tx = db.begin().await?;
    for sql in [
        "DELETE FROM project_endpoint WHERE endpoint_id IN (SELECT id FROM endpoint WHERE service_id = ?)",
        "DELETE FROM endpoint WHERE service_id = ?",
        "DELETE FROM project_limit WHERE service_id = ?",
        "DELETE FROM registered_limit WHERE service_id = ?",
        "DELETE FROM service WHERE id = ?",
    ] {
        db.q(sql).bind(id).execute(tx.conn()).await?;
    }
    tx.commit().await
}

fn endpoint_row(r: &db::Row) -> db::Result<Endpoint> {
    Ok(Endpoint {
        id: r.text("id")?,
        service_id: r.text("service_id")?,
        interface: r.text("interface")?,
        url: r.text("url")?,
        region_id: r.opt_text("region_id")?,
        enabled: r.flag("enabled")?,
        extra: json_col(r, "extra")?,
    })
}

pub async fn get_endpoint(db: &Db, id: &str) -> db::Result<Option<Endpoint>> {
    db.q("SELECT id, service_id, interface, url, region_id, enabled, extra FROM endpoint WHERE id = ?")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(endpoint_row)
        .transpose()
}

pub async fn list_endpoints(db: &Db) -> db::Result<Vec<Endpoint>> {
    db.q("SELECT id, service_id, interface, url, region_id, enabled, extra FROM endpoint ORDER BY service_id, interface, id")
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(endpoint_row)
        .collect()
}

pub async fn insert_endpoint(db: &Db, e: &Endpoint) -> db::Result<()> {
    db.q("INSERT INTO endpoint (id, service_id, interface, url, region_id, enabled, extra) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(&e.id)
        .bind(&e.service_id)
        .bind(&e.interface)
        .bind(&e.url)
        .bind(&e.region_id)
        .bind(e.enabled)
        .bind(extra_json(&e.extra))
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn update_endpoint(db: &Db, e: &Endpoint) -> db::Result<()> {
    db.q("UPDATE endpoint SET service_id = ?, interface = ?, url = ?, region_id = ?, enabled = ?, extra = ? WHERE id = ?")
        .bind(&e.service_id)
        .bind(&e.interface)
        .bind(&e.url)
        .bind(&e.region_id)
        .bind(e.enabled)
        .bind(extra_json(&e.extra))
        .bind(&e.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete_endpoint(db: &Db, id: &str) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("DELETE FROM project_endpoint WHERE endpoint_id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    db.q("DELETE FROM endpoint WHERE id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}
