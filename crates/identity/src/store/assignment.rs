//! Roles, implied roles and role assignments.

use db::{Db, RowExt, placeholders};

use crate::model::{Assignment, AssignmentKind, Role, extra_json};
use crate::schema::NULL_DOMAIN;
use crate::store::json_col;

fn role_row(r: &db::Row) -> db::Result<Role> {
    let d = r.text("domain_id")?;
    Ok(Role {
        id: r.text("id")?,
        name: r.text("name")?,
        domain_id: (d != NULL_DOMAIN).then_some(d),
        description: r.opt_text("description")?,
        extra: json_col(r, "extra")?,
        options: json_col(r, "options")?,
    })
}

const ROLE_COLS: &str = "id, name, domain_id, description, extra, options";

pub async fn get_role(db: &Db, id: &str) -> db::Result<Option<Role>> {
    let sql = format!("SELECT {ROLE_COLS} FROM role WHERE id = ?");
    db.q(&sql)
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(role_row)
        .transpose()
}

pub async fn get_role_by_name(
    db: &Db,
    name: &str,
    domain_id: Option<&str>,
) -> db::Result<Option<Role>> {
    let sql = format!("SELECT {ROLE_COLS} FROM role WHERE name = ? AND domain_id = ?");
    db.q(&sql)
        .bind(name)
        .bind(domain_id.unwrap_or(NULL_DOMAIN))
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(role_row)
        .transpose()
}

/// Roles; `domain_id: None` lists global roles only.
pub async fn list_roles(
    db: &Db,
    name: Option<&str>,
    domain_id: Option<&str>,
) -> db::Result<Vec<Role>> {
    let mut sql = format!("SELECT {ROLE_COLS} FROM role WHERE domain_id = ?");
    let mut args: Vec<db::Arg> = vec![domain_id.unwrap_or(NULL_DOMAIN).into()];
    if let Some(n) = name {
        sql.push_str(" AND name = ?");
        args.push(n.into());
    }
    sql.push_str(" ORDER BY name, id");
    db.q(&sql)
        .bind_all(args)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(role_row)
        .collect()
}

pub async fn roles_by_ids(db: &Db, ids: &[String]) -> db::Result<Vec<Role>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {ROLE_COLS} FROM role WHERE id IN ({}) ORDER BY name",
        placeholders(ids.len())
    );
    db.q(&sql)
        .bind_all(ids.iter())
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(role_row)
        .collect()
}

pub async fn all_roles(db: &Db) -> db::Result<Vec<Role>> {
    let sql = format!("SELECT {ROLE_COLS} FROM role ORDER BY name");
    db.q(&sql)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(role_row)
        .collect()
}

pub async fn insert_role(db: &Db, r: &Role) -> db::Result<()> {
    db.q("INSERT INTO role (id, name, domain_id, description, extra, options) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(&r.id)
        .bind(&r.name)
        .bind(r.domain_id.as_deref().unwrap_or(NULL_DOMAIN))
        .bind(&r.description)
        .bind(extra_json(&r.extra))
        .bind(extra_json(&r.options))
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn update_role(db: &Db, r: &Role) -> db::Result<()> {
    db.q("UPDATE role SET name = ?, description = ?, extra = ?, options = ? WHERE id = ?")
        .bind(&r.name)
        .bind(&r.description)
        .bind(extra_json(&r.extra))
        .bind(extra_json(&r.options))
        .bind(&r.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete_role(db: &Db, id: &str) -> db::Result<()> {
    let mut tx = db.begin().await?;
    for sql in [
        "DELETE FROM assignment WHERE role_id = ?",
        "DELETE FROM implied_role WHERE prior_role_id = ?",
        "DELETE FROM implied_role WHERE implied_role_id = ?",
        "DELETE FROM app_cred_role WHERE role_id = ?",
        "DELETE FROM trust_role WHERE role_id = ?",
        "DELETE FROM role WHERE id = ?",
    ] {
        db.q(sql).bind(id).execute(tx.conn()).await?;
    }
    tx.commit().await
}

// ---- implied roles -----------------------------------------------------------------------

pub async fn implied_rules(db: &Db) -> db::Result<Vec<(String, String)>> {
    db.q("SELECT prior_role_id, implied_role_id FROM implied_role ORDER BY prior_role_id, implied_role_id")
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.text("prior_role_id")?, r.text("implied_role_id")?)))
        .collect()
}

pub async fn add_implied(db: &Db, prior: &str, implied: &str) -> db::Result<()> {
    db.q("INSERT INTO implied_role (prior_role_id, implied_role_id) VALUES (?, ?)")
        .bind(prior)
        .bind(implied)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn remove_implied(db: &Db, prior: &str, implied: &str) -> db::Result<u64> {
    db.q("DELETE FROM implied_role WHERE prior_role_id = ? AND implied_role_id = ?")
        .bind(prior)
        .bind(implied)
        .execute(db.pool())
        .await
}

// ---- assignments -------------------------------------------------------------------------

fn assignment_row(r: &db::Row) -> db::Result<Option<Assignment>> {
    let kind = r.text("kind")?;
    Ok(AssignmentKind::parse(&kind).map(|kind| Assignment {
        kind,
        actor_id: r.text("actor_id").unwrap_or_default(),
        target_id: r.text("target_id").unwrap_or_default(),
        role_id: r.text("role_id").unwrap_or_default(),
        inherited: r.flag("inherited").unwrap_or(false),
    }))
}

/// Assignments matching every given field.
#[derive(Debug, Default, Clone)]
pub struct AssignmentFilter {
    pub kinds: Option<Vec<AssignmentKind>>,
    pub actor_ids: Option<Vec<String>>,
    pub target_ids: Option<Vec<String>>,
    pub role_id: Option<String>,
    pub inherited: Option<bool>,
}

pub async fn list_assignments(db: &Db, f: &AssignmentFilter) -> db::Result<Vec<Assignment>> {
    let mut sql =
        "SELECT kind, actor_id, target_id, role_id, inherited FROM assignment WHERE 1 = 1"
            .to_string();
    let mut args: Vec<db::Arg> = Vec::new();
    if let Some(k) = &f.kinds {
        if k.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(" AND kind IN ({})", placeholders(k.len())));
        args.extend(k.iter().map(|k| db::Arg::from(k.as_str())));
    }
    if let Some(a) = &f.actor_ids {
        if a.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(" AND actor_id IN ({})", placeholders(a.len())));
        args.extend(a.iter().map(db::Arg::from));
    }
    if let Some(t) = &f.target_ids {
        if t.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(" AND target_id IN ({})", placeholders(t.len())));
        args.extend(t.iter().map(db::Arg::from));
    }
    if let Some(r) = &f.role_id {
        sql.push_str(" AND role_id = ?");
        args.push(r.into());
    }
    if let Some(i) = f.inherited {
        sql.push_str(" AND inherited = ?");
        args.push(i.into());
    }
    let rows = db.q(&sql).bind_all(args).fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        if let Some(a) = assignment_row(r)? {
            out.push(a);
        }
    }
    out.sort();
    Ok(out)
}

pub async fn grant(db: &Db, a: &Assignment) -> db::Result<()> {
    let exists = db
        .q("SELECT 1 AS x FROM assignment WHERE kind = ? AND actor_id = ? AND target_id = ? AND role_id = ? AND inherited = ?")
        .bind(a.kind.as_str())
        .bind(&a.actor_id)
        .bind(&a.target_id)
        .bind(&a.role_id)
        .bind(a.inherited)
        .fetch_optional(db.pool())
        .await?;
    if exists.is_none() {
        db.q("INSERT INTO assignment (kind, actor_id, target_id, role_id, inherited) VALUES (?, ?, ?, ?, ?)")
            .bind(a.kind.as_str())
            .bind(&a.actor_id)
            .bind(&a.target_id)
            .bind(&a.role_id)
            .bind(a.inherited)
            .execute(db.pool())
            .await?;
    }
    Ok(())
}

pub async fn revoke(db: &Db, a: &Assignment) -> db::Result<u64> {
    db.q("DELETE FROM assignment WHERE kind = ? AND actor_id = ? AND target_id = ? AND role_id = ? AND inherited = ?")
        .bind(a.kind.as_str())
        .bind(&a.actor_id)
        .bind(&a.target_id)
        .bind(&a.role_id)
        .bind(a.inherited)
        .execute(db.pool())
        .await
}

pub async fn exists(db: &Db, a: &Assignment) -> db::Result<bool> {
    Ok(db
        .q("SELECT 1 AS x FROM assignment WHERE kind = ? AND actor_id = ? AND target_id = ? AND role_id = ? AND inherited = ?")
        .bind(a.kind.as_str())
        .bind(&a.actor_id)
        .bind(&a.target_id)
        .bind(&a.role_id)
        .bind(a.inherited)
        .fetch_optional(db.pool())
        .await?
        .is_some())
}
