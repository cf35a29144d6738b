//! Application credentials, their roles and access rules.

use db::{Db, RowExt, placeholders};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    pub id: String,
    pub user_id: String,
    pub service: String,
    pub path: Option<String>,
    pub method: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppCred {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub description: Option<String>,
    pub user_id: String,
    pub project_id: Option<String>,
    pub system: Option<String>,
    /// Microseconds since the epoch.
    pub expires_at: Option<i64>,
    pub unrestricted: bool,
    pub created_at: i64,
    pub role_ids: Vec<String>,
    pub access_rules: Vec<AccessRule>,
}

fn rule_row(r: &db::Row) -> db::Result<AccessRule> {
    Ok(AccessRule {
        id: r.text("id")?,
        user_id: r.text("user_id")?,
        service: r.text("service")?,
        path: r.opt_text("path")?,
        method: r.text("method")?,
    })
}

async fn complete(db: &Db, r: &db::Row) -> db::Result<AppCred> {
    let id = r.text("id")?;
    let role_ids = db
        .q("SELECT role_id FROM app_cred_role WHERE app_cred_id = ?")
        .bind(&id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|x| x.text("role_id"))
        .collect::<db::Result<Vec<_>>>()?;
    let access_rules = db
        .q("SELECT a.id, a.user_id, a.service, a.path, a.method FROM access_rule a
            JOIN app_cred_access_rule l ON l.access_rule_id = a.id WHERE l.app_cred_id = ? ORDER BY a.id")
        .bind(&id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(rule_row)
        .collect::<db::Result<Vec<_>>>()?;
    Ok(AppCred {
        id,
        name: r.text("name")?,
        secret_hash: r.text("secret_hash")?,
        description: r.opt_text("description")?,
        user_id: r.text("user_id")?,
        project_id: r.opt_text("project_id")?,
        system: r.opt_text("system_scope")?,
        expires_at: r.opt_int("expires_at")?,
        unrestricted: r.flag("unrestricted")?,
        created_at: r.int("created_at")?,
        role_ids,
        access_rules,
    })
}

const COLS: &str = "id, name, secret_hash, description, user_id, project_id, system_scope, expires_at, unrestricted, created_at";

pub async fn get(db: &Db, id: &str) -> db::Result<Option<AppCred>> {
    let sql = format!("SELECT {COLS} FROM app_cred WHERE id = ?");
    match db.q(&sql).bind(id).fetch_optional(db.pool()).await? {
        Some(r) => Ok(Some(complete(db, &r).await?)),
        None => Ok(None),
    }
}

pub async fn get_by_name(db: &Db, user_id: &str, name: &str) -> db::Result<Option<AppCred>> {
    let sql = format!("SELECT {COLS} FROM app_cred WHERE user_id = ? AND name = ?");
    match db
        .q(&sql)
        .bind(user_id)
        .bind(name)
        .fetch_optional(db.pool())
        .await?
    {
        Some(r) => Ok(Some(complete(db, &r).await?)),
        None => Ok(None),
    }
}

pub async fn list(db: &Db, user_id: &str, name: Option<&str>) -> db::Result<Vec<AppCred>> {
    let mut sql = format!("SELECT {COLS} FROM app_cred WHERE user_id = ?");
    let mut args: Vec<db::Arg> = vec![user_id.into()];
    if let Some(n) = name {
        sql.push_str(" AND name = ?");
        args.push(n.into());
    }
    sql.push_str(" ORDER BY name, id");
    let rows = db.q(&sql).bind_all(args).fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(complete(db, r).await?);
    }
    Ok(out)
}

/// Insert an application credential with its roles, reusing or creating access rules.
pub async fn insert(db: &Db, a: &AppCred) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("INSERT INTO app_cred (id, name, secret_hash, description, user_id, project_id, system_scope, expires_at, unrestricted, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(&a.id)
        .bind(&a.name)
        .bind(&a.secret_hash)
        .bind(&a.description)
        .bind(&a.user_id)
        .bind(&a.project_id)
        .bind(&a.system)
        .bind(a.expires_at)
        .bind(a.unrestricted)
        .bind(a.created_at)
        .execute(tx.conn())
        .await?;
    for r in &a.role_ids {
        db.q("INSERT INTO app_cred_role (app_cred_id, role_id) VALUES (?, ?)")
            .bind(&a.id)
            .bind(r)
            .execute(tx.conn())
            .await?;
    }
    for rule in &a.access_rules {
        let existing = db
            .q("SELECT id FROM access_rule WHERE id = ?")
            .bind(&rule.id)
            .fetch_optional(tx.conn())
            .await?;
        if existing.is_none() {
            db.q("INSERT INTO access_rule (id, user_id, service, path, method) VALUES (?, ?, ?, ?, ?)")
                .bind(&rule.id)
                .bind(&rule.user_id)
                .bind(&rule.service)
                .bind(&rule.path)
                .bind(&rule.method)
                .execute(tx.conn())
                .await?;
        }
        db.q("INSERT INTO app_cred_access_rule (app_cred_id, access_rule_id) VALUES (?, ?)")
            .bind(&a.id)
            .bind(&rule.id)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await
}

pub async fn delete(db: &Db, id: &str) -> db::Result<()> {
    let mut tx = db.begin().await?;
    for sql in [
        "DELETE FROM app_cred_role WHERE app_cred_id = ?",
        "DELETE FROM app_cred_access_rule WHERE app_cred_id = ?",
        "DELETE FROM app_cred WHERE id = ?",
    ] {
        db.q(sql).bind(id).execute(tx.conn()).await?;
    }
    tx.commit().await
}

/// Application credentials of a user on a project (to drop when the user loses access).
pub async fn ids_for_user_project(
    db: &Db,
    user_id: &str,
    project_id: &str,
) -> db::Result<Vec<String>> {
    db.q("SELECT id FROM app_cred WHERE user_id = ? AND project_id = ?")
        .bind(user_id)
        .bind(project_id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| r.text("id"))
        .collect()
}

pub async fn get_rule(db: &Db, id: &str) -> db::Result<Option<AccessRule>> {
    db.q("SELECT id, user_id, service, path, method FROM access_rule WHERE id = ?")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(rule_row)
        .transpose()
}

pub async fn list_rules(db: &Db, user_id: &str) -> db::Result<Vec<AccessRule>> {
    list_rules_filtered(db, user_id, &RuleFilter::default()).await
}

/// Filters of `GET /v3/users/{user_id}/access_rules`.
#[derive(Debug, Clone, Default)]
pub struct RuleFilter {
    pub service: Option<String>,
    pub path: Option<String>,
    pub method: Option<String>,
}

pub async fn list_rules_filtered(
    db: &Db,
    user_id: &str,
    f: &RuleFilter,
) -> db::Result<Vec<AccessRule>> {
    let mut sql =
        "SELECT id, user_id, service, path, method FROM access_rule WHERE user_id = ?".to_string();
    let mut args: Vec<db::Arg> = vec![user_id.into()];
    for (col, v) in [
        ("service", &f.service),
        ("path", &f.path),
        ("method", &f.method),
    ] {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {col} = ?"));
            args.push(v.into());
        }
    }
    sql.push_str(" ORDER BY id");
    db.q(&sql)
        .bind_all(args)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(rule_row)
        .collect()
}

/// A user's access rule with exactly these service, path and method (rules are shared
/// between a user's application credentials).
pub async fn find_rule(
    db: &Db,
    user_id: &str,
    service: &str,
    path: Option<&str>,
    method: &str,
) -> db::Result<Option<AccessRule>> {
    let rows = db
        .q("SELECT id, user_id, service, path, method FROM access_rule
            WHERE user_id = ? AND service = ? AND method = ? ORDER BY id")
        .bind(user_id)
        .bind(service)
        .bind(method)
        .fetch_all(db.pool())
        .await?;
    for r in &rows {
        let rule = rule_row(r)?;
        if rule.path.as_deref() == path {
            return Ok(Some(rule));
        }
    }
    Ok(None)
}

pub async fn rule_in_use(db: &Db, id: &str) -> db::Result<bool> {
    Ok(db
        .q("SELECT 1 AS x FROM app_cred_access_rule WHERE access_rule_id = ?")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .is_some())
}

pub async fn delete_rule(db: &Db, id: &str) -> db::Result<()> {
    db.q("DELETE FROM access_rule WHERE id = ?")
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Roles of several application credentials at once (for listing).
pub async fn role_ids_of(db: &Db, ids: &[String]) -> db::Result<Vec<(String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT app_cred_id, role_id FROM app_cred_role WHERE app_cred_id IN ({})",
        placeholders(ids.len())
    );
    db.q(&sql)
        .bind_all(ids.iter())
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.text("app_cred_id")?, r.text("role_id")?)))
        .collect()
}
