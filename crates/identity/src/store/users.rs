//! Users, their passwords, groups and group membership.

use db::{Db, RowExt, placeholders};

use crate::model::{Group, User, extra_json};
use crate::store::json_col;

const USER_COLS: &str = "u.id, u.domain_id, u.name, u.enabled, u.default_project_id, u.description, u.extra, u.options, \
     u.created_at, u.last_active_at, u.failed_auth_count, u.failed_auth_at, \
     (SELECT p.expires_at FROM password p WHERE p.user_id = u.id ORDER BY p.created_at DESC LIMIT 1) AS password_expires_at";

fn user_row(r: &db::Row) -> db::Result<User> {
    Ok(User {
        id: r.text("id")?,
        domain_id: r.text("domain_id")?,
        name: r.text("name")?,
        enabled: r.flag("enabled")?,
        default_project_id: r.opt_text("default_project_id")?,
        description: r.opt_text("description")?,
        extra: json_col(r, "extra")?,
        options: json_col(r, "options")?,
        created_at: r.int("created_at")?,
        last_active_at: r.opt_int("last_active_at")?,
        password_expires_at: r.opt_int("password_expires_at")?,
        failed_auth_count: r.int("failed_auth_count")?,
        failed_auth_at: r.opt_int("failed_auth_at")?,
    })
}

pub async fn get(db: &Db, id: &str) -> db::Result<Option<User>> {
    let sql = format!("SELECT {USER_COLS} FROM user_account u WHERE u.id = ?");
    db.q(&sql)
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(user_row)
        .transpose()
}

pub async fn get_by_name(db: &Db, domain_id: &str, name: &str) -> db::Result<Option<User>> {
    let sql =
        format!("SELECT {USER_COLS} FROM user_account u WHERE u.domain_id = ? AND u.name = ?");
    db.q(&sql)
        .bind(domain_id)
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(user_row)
        .transpose()
}

#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub domain_id: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub ids: Option<Vec<String>>,
    pub group_id: Option<String>,
}

pub async fn list(db: &Db, f: &UserFilter) -> db::Result<Vec<User>> {
    let mut sql = format!("SELECT {USER_COLS} FROM user_account u WHERE 1 = 1");
    let mut args: Vec<db::Arg> = Vec::new();
    if let Some(d) = &f.domain_id {
        sql.push_str(" AND u.domain_id = ?");
        args.push(d.into());
    }
    if let Some(n) = &f.name {
        sql.push_str(" AND u.name = ?");
        args.push(n.into());
    }
    if let Some(e) = f.enabled {
        sql.push_str(" AND u.enabled = ?");
        args.push(e.into());
    }
    if let Some(g) = &f.group_id {
        sql.push_str(" AND u.id IN (SELECT user_id FROM group_membership WHERE group_id = ?)");
        args.push(g.into());
    }
    if let Some(ids) = &f.ids {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(" AND u.id IN ({})", placeholders(ids.len())));
        args.extend(ids.iter().map(db::Arg::from));
    }
    sql.push_str(" ORDER BY u.name, u.id");
    db.q(&sql)
        .bind_all(args)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(user_row)
        .collect()
}

/// Insert a user and, when given, its first password hash.
pub async fn insert(
    db: &Db,
    u: &User,
    password: Option<(String, i64, Option<i64>)>,
) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("INSERT INTO user_account (id, domain_id, name, enabled, default_project_id, description, extra, options, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(&u.id)
        .bind(&u.domain_id)
        .bind(&u.name)
        .bind(u.enabled)
        .bind(&u.default_project_id)
        .bind(&u.description)
        .bind(extra_json(&u.extra))
        .bind(extra_json(&u.options))
        .bind(u.created_at)
        .execute(tx.conn())
        .await?;
    if let Some((hash, now, expires)) = password {
        db.q("INSERT INTO password (id, user_id, hash, created_at, expires_at, self_service) VALUES (?, ?, ?, ?, ?, 0)")
            .bind(crate::model::new_id())
            .bind(&u.id)
            .bind(hash)
            .bind(now)
            .bind(expires)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await
}

pub async fn update(db: &Db, u: &User) -> db::Result<()> {
    db.q("UPDATE user_account SET name = ?, enabled = ?, default_project_id = ?, description = ?, extra = ?, options = ?,
             failed_auth_count = ?, failed_auth_at = ? WHERE id = ?")
        .bind(&u.name)
        .bind(u.enabled)
        .bind(&u.default_project_id)
        .bind(&u.description)
        .bind(extra_json(&u.extra))
        .bind(extra_json(&u.options))
        .bind(u.failed_auth_count)
        .bind(u.failed_auth_at)
        .bind(&u.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn touch_last_active(db: &Db, id: &str, now: i64) -> db::Result<()> {
    db.q("UPDATE user_account SET last_active_at = ?, failed_auth_count = 0 WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn record_failed_auth(db: &Db, id: &str, now: i64) -> db::Result<()> {
    db.q("UPDATE user_account SET failed_auth_count = failed_auth_count + 1, failed_auth_at = ? WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A stored password.
#[derive(Debug, Clone)]
pub struct Password {
    pub hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub self_service: bool,
}

/// The user's passwords, newest first.
pub async fn passwords(db: &Db, user_id: &str) -> db::Result<Vec<Password>> {
    db.q("SELECT hash, created_at, expires_at, self_service FROM password WHERE user_id = ? ORDER BY created_at DESC")
        .bind(user_id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(Password {
                hash: r.text("hash")?,
                created_at: r.int("created_at")?,
                expires_at: r.opt_int("expires_at")?,
                self_service: r.flag("self_service")?,
            })
        })
        .collect()
}

/// Add a new current password, keeping `keep` older ones for history checks.
pub async fn set_password(
    db: &Db,
    user_id: &str,
    hash: &str,
    now: i64,
    expires_at: Option<i64>,
    self_service: bool,
    keep: usize,
) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("INSERT INTO password (id, user_id, hash, created_at, expires_at, self_service) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(crate::model::new_id())
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .bind(expires_at)
        .bind(self_service)
        .execute(tx.conn())
        .await?;
    let rows = db
        .q("SELECT id FROM password WHERE user_id = ? ORDER BY created_at DESC")
        .bind(user_id)
        .fetch_all(tx.conn())
        .await?;
    for r in rows.iter().skip(keep.max(1)) {
        db.q("DELETE FROM password WHERE id = ?")
            .bind(r.text("id")?)
            .execute(tx.conn())
            .await?;
    }
    db.q("UPDATE user_account SET failed_auth_count = 0 WHERE id = ?")
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

pub async fn delete(db: &Db, id: &str) -> db::Result<()> {
    let mut tx = db.begin().await?;
    for sql in [
        "DELETE FROM password WHERE user_id = ?",
        "DELETE FROM group_membership WHERE user_id = ?",
        "DELETE FROM assignment WHERE actor_id = ?",
        "DELETE FROM credential WHERE user_id = ?",
        "DELETE FROM app_cred_role WHERE app_cred_id IN (SELECT id FROM app_cred WHERE user_id = ?)",
        "DELETE FROM app_cred_access_rule WHERE app_cred_id IN (SELECT id FROM app_cred WHERE user_id = ?)",
        "DELETE FROM app_cred WHERE user_id = ?",
        "DELETE FROM access_rule WHERE user_id = ?",
        "DELETE FROM user_account WHERE id = ?",
    ] {
        db.q(sql).bind(id).execute(tx.conn()).await?;
    }
    tx.commit().await
}

// ---- groups ------------------------------------------------------------------------------

fn group_row(r: &db::Row) -> db::Result<Group> {
    Ok(Group {
        id: r.text("id")?,
        domain_id: r.text("domain_id")?,
        name: r.text("name")?,
        description: r.opt_text("description")?,
        extra: json_col(r, "extra")?,
    })
}

pub async fn get_group(db: &Db, id: &str) -> db::Result<Option<Group>> {
    db.q("SELECT id, domain_id, name, description, extra FROM user_group WHERE id = ?")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(group_row)
        .transpose()
}

pub async fn get_group_by_name(db: &Db, domain_id: &str, name: &str) -> db::Result<Option<Group>> {
    db.q("SELECT id, domain_id, name, description, extra FROM user_group WHERE domain_id = ? AND name = ?")
        .bind(domain_id)
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(group_row)
        .transpose()
}

pub async fn list_groups(
    db: &Db,
    domain_id: Option<&str>,
    name: Option<&str>,
    member: Option<&str>,
) -> db::Result<Vec<Group>> {
    let mut sql =
        "SELECT id, domain_id, name, description, extra FROM user_group WHERE 1 = 1".to_string();
    let mut args: Vec<db::Arg> = Vec::new();
    if let Some(d) = domain_id {
        sql.push_str(" AND domain_id = ?");
        args.push(d.into());
    }
    if let Some(n) = name {
        sql.push_str(" AND name = ?");
        args.push(n.into());
    }
    if let Some(u) = member {
        sql.push_str(" AND id IN (SELECT group_id FROM group_membership WHERE user_id = ?)");
        args.push(u.into());
    }
    sql.push_str(" ORDER BY name, id");
    db.q(&sql)
        .bind_all(args)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(group_row)
        .collect()
}

pub async fn insert_group(db: &Db, g: &Group) -> db::Result<()> {
    db.q("INSERT INTO user_group (id, domain_id, name, description, extra) VALUES (?, ?, ?, ?, ?)")
        .bind(&g.id)
        .bind(&g.domain_id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(extra_json(&g.extra))
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn update_group(db: &Db, g: &Group) -> db::Result<()> {
    db.q("UPDATE user_group SET name = ?, description = ?, extra = ? WHERE id = ?")
        .bind(&g.name)
        .bind(&g.description)
        .bind(extra_json(&g.extra))
        .bind(&g.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete_group(db: &Db, id: &str) -> db::Result<()> {
    let mut tx = db.begin().await?;
    for sql in [
        "DELETE FROM group_membership WHERE group_id = ?",
        "DELETE FROM assignment WHERE actor_id = ?",
        "DELETE FROM user_group WHERE id = ?",
    ] {
        db.q(sql).bind(id).execute(tx.conn()).await?;
    }
    tx.commit().await
}

pub async fn add_member(db: &Db, group_id: &str, user_id: &str) -> db::Result<()> {
    let exists = db
        .q("SELECT 1 AS x FROM group_membership WHERE group_id = ? AND user_id = ?")
        .bind(group_id)
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?;
    if exists.is_none() {
        db.q("INSERT INTO group_membership (user_id, group_id) VALUES (?, ?)")
            .bind(user_id)
            .bind(group_id)
            .execute(db.pool())
            .await?;
    }
    Ok(())
}

pub async fn remove_member(db: &Db, group_id: &str, user_id: &str) -> db::Result<u64> {
    db.q("DELETE FROM group_membership WHERE group_id = ? AND user_id = ?")
        .bind(group_id)
        .bind(user_id)
        .execute(db.pool())
        .await
}

pub async fn is_member(db: &Db, group_id: &str, user_id: &str) -> db::Result<bool> {
    Ok(db
        .q("SELECT 1 AS x FROM group_membership WHERE group_id = ? AND user_id = ?")
        .bind(group_id)
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?
        .is_some())
}

pub async fn group_ids_of(db: &Db, user_id: &str) -> db::Result<Vec<String>> {
    db.q("SELECT group_id FROM group_membership WHERE user_id = ?")
        .bind(user_id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| r.text("group_id"))
        .collect()
}

pub async fn member_ids(db: &Db, group_id: &str) -> db::Result<Vec<String>> {
    db.q("SELECT user_id FROM group_membership WHERE group_id = ?")
        .bind(group_id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| r.text("user_id"))
        .collect()
}
