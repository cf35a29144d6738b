//! Domains and projects (one table, as in keystone) and project tags.

use std::collections::HashMap;

use db::{Db, RowExt, placeholders};

use crate::model::{Project, extra_json};
use crate::store::json_col;

const COLS: &str =
    "id, name, domain_id, parent_id, is_domain, enabled, description, extra, options";

fn from_row(r: &db::Row) -> db::Result<Project> {
    Ok(Project {
        id: r.text("id")?,
        name: r.text("name")?,
        domain_id: r.text("domain_id")?,
        parent_id: r.opt_text("parent_id")?,
        is_domain: r.flag("is_domain")?,
        enabled: r.flag("enabled")?,
        description: r.opt_text("description")?,
        extra: json_col(r, "extra")?,
        options: json_col(r, "options")?,
        tags: Vec::new(),
    })
}

async fn attach_tags(db: &Db, mut items: Vec<Project>) -> db::Result<Vec<Project>> {
    if items.is_empty() {
        return Ok(items);
    }
    let mut by_id: HashMap<String, Vec<String>> = HashMap::new();
    // Chunk to stay under every engine's bind limit.
    for chunk in items.chunks(500) {
        let ids: Vec<&str> = chunk.iter().map(|p| p.id.as_str()).collect();
        let sql = format!(
            "SELECT project_id, name FROM project_tag WHERE project_id IN ({}) ORDER BY name",
            placeholders(ids.len())
        );
        for r in db.q(&sql).bind_all(ids).fetch_all(db.pool()).await? {
            by_id
                .entry(r.text("project_id")?)
                .or_default()
                .push(r.text("name")?);
        }
    }
    for p in &mut items {
        p.tags = by_id.remove(&p.id).unwrap_or_default();
    }
    Ok(items)
}

pub async fn get(db: &Db, id: &str) -> db::Result<Option<Project>> {
    let sql = format!("SELECT {COLS} FROM project WHERE id = ?");
    let Some(r) = db.q(&sql).bind(id).fetch_optional(db.pool()).await? else {
        return Ok(None);
    };
    let p = from_row(&r)?;
    Ok(attach_tags(db, vec![p]).await?.pop())
}

pub async fn get_by_name(db: &Db, domain_id: &str, name: &str) -> db::Result<Option<Project>> {
    let sql = format!("SELECT {COLS} FROM project WHERE domain_id = ? AND name = ?");
    let Some(r) = db
        .q(&sql)
        .bind(domain_id)
        .bind(name)
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(None);
    };
    let p = from_row(&r)?;
    Ok(attach_tags(db, vec![p]).await?.pop())
}

/// Filters for listing; `None` means "any".
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub is_domain: Option<bool>,
    pub domain_id: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub parent_id: Option<String>,
    pub ids: Option<Vec<String>>,
}

pub async fn list(db: &Db, f: &Filter) -> db::Result<Vec<Project>> {
    let mut sql = format!("SELECT {COLS} FROM project WHERE 1 = 1");
    let mut q_args: Vec<db::Arg> = Vec::new();
    if let Some(d) = f.is_domain {
        sql.push_str(" AND is_domain = ?");
        q_args.push(d.into());
    }
    if let Some(d) = &f.domain_id {
        sql.push_str(" AND domain_id = ?");
        q_args.push(d.into());
    }
    if let Some(n) = &f.name {
        sql.push_str(" AND name = ?");
        q_args.push(n.into());
    }
    if let Some(e) = f.enabled {
        sql.push_str(" AND enabled = ?");
        q_args.push(e.into());
    }
    if let Some(p) = &f.parent_id {
        sql.push_str(" AND parent_id = ?");
        q_args.push(p.into());
    }
    if let Some(ids) = &f.ids {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(" AND id IN ({})", placeholders(ids.len())));
        q_args.extend(ids.iter().map(db::Arg::from));
    }
    sql.push_str(" ORDER BY name, id");
    let rows = db.q(&sql).bind_all(q_args).fetch_all(db.pool()).await?;
    let items = rows.iter().map(from_row).collect::<db::Result<Vec<_>>>()?;
    attach_tags(db, items).await
}

pub async fn insert(db: &Db, p: &Project, now: i64) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("INSERT INTO project (id, name, domain_id, parent_id, is_domain, enabled, description, extra, options, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.domain_id)
        .bind(&p.parent_id)
        .bind(p.is_domain)
        .bind(p.enabled)
        .bind(&p.description)
        .bind(extra_json(&p.extra))
        .bind(extra_json(&p.options))
        .bind(now)
        .execute(tx.conn())
        .await?;
    for t in &p.tags {
        db.q("INSERT INTO project_tag (project_id, name) VALUES (?, ?)")
            .bind(&p.id)
            .bind(t)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await
}

pub async fn update(db: &Db, p: &Project) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("UPDATE project SET name = ?, enabled = ?, description = ?, extra = ?, options = ?, parent_id = ? WHERE id = ?")
        .bind(&p.name)
        .bind(p.enabled)
        .bind(&p.description)
        .bind(extra_json(&p.extra))
        .bind(extra_json(&p.options))
        .bind(&p.parent_id)
        .bind(&p.id)
        .execute(tx.conn())
        .await?;
    db.q("DELETE FROM project_tag WHERE project_id = ?")
        .bind(&p.id)
        .execute(tx.conn())
        .await?;
    for t in &p.tags {
        db.q("INSERT INTO project_tag (project_id, name) VALUES (?, ?)")
            .bind(&p.id)
            .bind(t)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await
}

/// Delete projects (or a domain) and everything that only exists for them.
pub async fn delete(db: &Db, ids: &[String]) -> db::Result<()> {
    let mut tx = db.begin().await?;
    for id in ids {
        for sql in [
            "DELETE FROM project_tag WHERE project_id = ?",
            "DELETE FROM assignment WHERE target_id = ?",
            "DELETE FROM project_endpoint WHERE project_id = ?",
            "DELETE FROM project_endpoint_group WHERE project_id = ?",
            "DELETE FROM project_limit WHERE project_id = ?",
            "DELETE FROM project_limit WHERE domain_id = ?",
            "DELETE FROM domain_config WHERE domain_id = ?",
            "DELETE FROM credential WHERE project_id = ?",
            "DELETE FROM app_cred_role WHERE app_cred_id IN (SELECT id FROM app_cred WHERE project_id = ?)",
            "DELETE FROM app_cred_access_rule WHERE app_cred_id IN (SELECT id FROM app_cred WHERE project_id = ?)",
            "DELETE FROM app_cred WHERE project_id = ?",
            "DELETE FROM project WHERE id = ?",
        ] {
            db.q(sql).bind(id).execute(tx.conn()).await?;
        }
    }
    tx.commit().await
}

/// The ids of every project below `id` (children first, all depths).
pub async fn subtree_ids(db: &Db, id: &str) -> db::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut frontier = vec![id.to_string()];
    while let Some(cur) = frontier.pop() {
        let rows = db
            .q("SELECT id FROM project WHERE parent_id = ? AND is_domain = 0")
            .bind(&cur)
            .fetch_all(db.pool())
            .await?;
        for r in rows {
            let child = r.text("id")?;
            out.push(child.clone());
            frontier.push(child);
        }
    }
    Ok(out)
}

/// Projects that carry a tag: with `all` every listed tag must be present.
pub async fn ids_with_tags(db: &Db, tags: &[String], all: bool) -> db::Result<Vec<String>> {
    if tags.is_empty() {
        return Ok(Vec::new());
    }
    let sql = if all {
        format!(
            "SELECT project_id FROM project_tag WHERE name IN ({}) GROUP BY project_id HAVING COUNT(DISTINCT name) = ?",
            placeholders(tags.len())
        )
    } else {
        format!(
            "SELECT DISTINCT project_id FROM project_tag WHERE name IN ({})",
            placeholders(tags.len())
        )
    };
    let mut q = db.q(&sql).bind_all(tags.iter());
    if all {
        q = q.bind(i64::try_from(tags.len()).unwrap_or(i64::MAX));
    }
    q.fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| r.text("project_id"))
        .collect()
}

pub async fn count_in_domain(db: &Db, domain_id: &str) -> db::Result<i64> {
    let r = db
        .q("SELECT COUNT(*) AS n FROM project WHERE domain_id = ?")
        .bind(domain_id)
        .fetch_one(db.pool())
        .await?;
    r.int("n")
}
