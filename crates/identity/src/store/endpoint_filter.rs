//! OS-EP-FILTER: endpoint groups and project↔endpoint / project↔group associations.

use db::{Db, RowExt};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointGroup {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub filters: Value,
}

fn row(r: &db::Row) -> db::Result<EndpointGroup> {
    Ok(EndpointGroup {
        id: r.text("id")?,
        name: r.text("name")?,
        description: r.opt_text("description")?,
        filters: serde_json::from_str(&r.text("filters")?).unwrap_or(Value::Null),
    })
}

pub async fn get_group(db: &Db, id: &str) -> db::Result<Option<EndpointGroup>> {
    db.q("SELECT id, name, description, filters FROM endpoint_group WHERE id = ?")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

pub async fn list_groups(db: &Db, name: Option<&str>) -> db::Result<Vec<EndpointGroup>> {
    let q = match name {
        Some(n) => db
            .q("SELECT id, name, description, filters FROM endpoint_group WHERE name = ? ORDER BY name, id")
            .bind(n),
        None => db.q("SELECT id, name, description, filters FROM endpoint_group ORDER BY name, id"),
    };
    q.fetch_all(db.pool()).await?.iter().map(row).collect()
}

pub async fn save_group(db: &Db, g: &EndpointGroup, insert: bool) -> db::Result<()> {
    let q = if insert {
        db.q("INSERT INTO endpoint_group (name, description, filters, id) VALUES (?, ?, ?, ?)")
    } else {
        db.q("UPDATE endpoint_group SET name = ?, description = ?, filters = ? WHERE id = ?")
    };
    q.bind(&g.name)
        .bind(&g.description)
        .bind(g.filters.to_string())
        .bind(&g.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete_group(db: &Db, id: &str) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("DELETE FROM project_endpoint_group WHERE endpoint_group_id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    db.q("DELETE FROM endpoint_group WHERE id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

/// `table` is `project_endpoint` (column `endpoint_id`) or `project_endpoint_group`
/// (column `endpoint_group_id`).
fn assoc(group: bool) -> (&'static str, &'static str) {
    if group {
        ("project_endpoint_group", "endpoint_group_id")
    } else {
        ("project_endpoint", "endpoint_id")
    }
}

pub async fn associate(db: &Db, group: bool, what: &str, project_id: &str) -> db::Result<()> {
    if is_associated(db, group, what, project_id).await? {
        return Ok(());
    }
    let (t, c) = assoc(group);
    db.q(&format!("INSERT INTO {t} ({c}, project_id) VALUES (?, ?)"))
        .bind(what)
        .bind(project_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn dissociate(db: &Db, group: bool, what: &str, project_id: &str) -> db::Result<u64> {
    let (t, c) = assoc(group);
    db.q(&format!("DELETE FROM {t} WHERE {c} = ? AND project_id = ?"))
        .bind(what)
        .bind(project_id)
        .execute(db.pool())
        .await
}

pub async fn is_associated(db: &Db, group: bool, what: &str, project_id: &str) -> db::Result<bool> {
    let (t, c) = assoc(group);
    Ok(db
        .q(&format!(
            "SELECT 1 AS x FROM {t} WHERE {c} = ? AND project_id = ?"
        ))
        .bind(what)
        .bind(project_id)
        .fetch_optional(db.pool())
        .await?
        .is_some())
}

/// Projects associated with an endpoint (or a group).
pub async fn projects_of(db: &Db, group: bool, what: &str) -> db::Result<Vec<String>> {
    let (t, c) = assoc(group);
    db.q(&format!(
        "SELECT project_id FROM {t} WHERE {c} = ? ORDER BY project_id"
    ))
    .bind(what)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| r.text("project_id"))
    .collect()
}

/// Endpoints (or groups) associated directly with a project.
pub async fn of_project(db: &Db, group: bool, project_id: &str) -> db::Result<Vec<String>> {
    let (t, c) = assoc(group);
    db.q(&format!(
        "SELECT {c} AS x FROM {t} WHERE project_id = ? ORDER BY {c}"
    ))
    .bind(project_id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| r.text("x"))
    .collect()
}
