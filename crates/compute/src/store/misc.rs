//! Services, compute nodes, instance actions, server groups, quotas and migrations.

use db::{Db, RowExt};
use serde_json::Value;

use super::obj;
use crate::model::{Action, ActionEvent, ComputeNode, Migration, ServerGroup, Service};

// ---- services -------------------------------------------------------------------------

const SVC_COLS: &str = "id, uuid, host, binary_name, topic, zone, disabled, disabled_reason, forced_down, last_seen_up, created_at, updated_at";

fn svc_row(r: &db::Row) -> db::Result<Service> {
    Ok(Service {
        id: r.int("id")?,
        uuid: r.text("uuid")?,
        host: r.text("host")?,
        binary: r.text("binary_name")?,
        topic: r.text("topic")?,
        zone: r.text("zone")?,
        disabled: r.flag("disabled")?,
        disabled_reason: r.opt_text("disabled_reason")?,
        forced_down: r.flag("forced_down")?,
        last_seen_up: r.opt_int("last_seen_up")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

/// Register (or find) a service; a heartbeat updates `last_seen_up`.
pub async fn upsert_service(
    db: &Db,
    host: &str,
    binary: &str,
    topic: &str,
    zone: &str,
    now: i64,
) -> db::Result<Service> {
    if let Some(s) = service(db, host, binary).await? {
        db.q("UPDATE compute_service SET last_seen_up = ?, report_count = report_count + 1, updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(now)
            .bind(s.id)
            .execute(db.pool())
            .await?;
        return Ok(Service {
            last_seen_up: Some(now),
            ..s
        });
    }
    let mut tx = db.begin().await?;
    let id = super::next_id(db, &mut tx, "service").await?;
    let uuid = uuid::Uuid::new_v4().to_string();
    db.q(&format!(
        "INSERT INTO compute_service ({SVC_COLS}) VALUES (?, ?, ?, ?, ?, ?, 0, NULL, 0, ?, ?, ?)"
    ))
    .bind(id)
    .bind(&uuid)
    .bind(host)
    .bind(binary)
    .bind(topic)
    .bind(zone)
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    service(db, host, binary)
        .await?
        .ok_or_else(|| db::DbError::decode("compute_service", std::io::Error::other("vanished")))
}

pub async fn heartbeat(db: &Db, host: &str, binary: &str, now: i64) -> db::Result<bool> {
    Ok(db
        .q("UPDATE compute_service SET last_seen_up = ?, report_count = report_count + 1 WHERE host = ? AND binary_name = ?")
        .bind(now)
        .bind(host)
        .bind(binary)
        .execute(db.pool())
        .await?
        == 1)
}

pub async fn service(db: &Db, host: &str, binary: &str) -> db::Result<Option<Service>> {
    db.q(&format!(
        "SELECT {SVC_COLS} FROM compute_service WHERE host = ? AND binary_name = ?"
    ))
    .bind(host)
    .bind(binary)
    .fetch_optional(db.pool())
    .await?
    .map(|r| svc_row(&r))
    .transpose()
}

pub async fn services(db: &Db) -> db::Result<Vec<Service>> {
    db.q(&format!(
        "SELECT {SVC_COLS} FROM compute_service ORDER BY id"
    ))
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(svc_row)
    .collect()
}

pub async fn service_by_id(db: &Db, key: &str) -> db::Result<Option<Service>> {
    let sql = format!("SELECT {SVC_COLS} FROM compute_service WHERE uuid = ?");
    if let Some(r) = db.q(&sql).bind(key).fetch_optional(db.pool()).await? {
        return Ok(Some(svc_row(&r)?));
    }
    let Ok(n) = key.parse::<i64>() else {
        return Ok(None);
    };
    db.q(&format!(
        "SELECT {SVC_COLS} FROM compute_service WHERE id = ?"
    ))
    .bind(n)
    .fetch_optional(db.pool())
    .await?
    .map(|r| svc_row(&r))
    .transpose()
}

pub async fn set_service_state(
    db: &Db,
    id: i64,
    disabled: Option<(bool, Option<&str>)>,
    forced_down: Option<bool>,
    now: i64,
) -> db::Result<()> {
    if let Some((d, reason)) = disabled {
        db.q("UPDATE compute_service SET disabled = ?, disabled_reason = ?, updated_at = ? WHERE id = ?")
            .bind(d)
            .bind(reason)
            .bind(now)
            .bind(id)
            .execute(db.pool())
            .await?;
    }
    if let Some(f) = forced_down {
        db.q("UPDATE compute_service SET forced_down = ?, updated_at = ? WHERE id = ?")
            .bind(f)
            .bind(now)
            .bind(id)
            .execute(db.pool())
            .await?;
    }
    Ok(())
}

pub async fn delete_service(db: &Db, id: i64) -> db::Result<()> {
    let mut tx = db.begin().await?;
    let row = db
        .q("SELECT host FROM compute_service WHERE id = ?")
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    if let Some(r) = row {
        db.q("DELETE FROM compute_node WHERE host = ?")
            .bind(r.text("host")?)
            .execute(tx.conn())
            .await?;
    }
    db.q("DELETE FROM compute_service WHERE id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

// ---- compute nodes --------------------------------------------------------------------

const NODE_COLS: &str = "id, uuid, host, hypervisor_hostname, hypervisor_type, hypervisor_version, host_ip, vcpus, memory_mb, local_gb, cpu_info";

fn node_row(r: &db::Row) -> db::Result<ComputeNode> {
    Ok(ComputeNode {
        id: r.int("id")?,
        uuid: r.text("uuid")?,
        host: r.text("host")?,
        hypervisor_hostname: r.text("hypervisor_hostname")?,
        hypervisor_type: r.text("hypervisor_type")?,
        hypervisor_version: r.int("hypervisor_version")?,
        host_ip: r.text("host_ip")?,
        vcpus: r.int("vcpus")?,
        memory_mb: r.int("memory_mb")?,
        local_gb: r.int("local_gb")?,
        cpu_info: serde_json::from_str(&r.text("cpu_info")?).unwrap_or(Value::Null),
    })
}

/// Create or refresh a compute node; keeps its uuid (the resource provider's) stable.
pub async fn upsert_node(db: &Db, n: &ComputeNode, now: i64) -> db::Result<ComputeNode> {
    if let Some(old) = node_by_name(db, &n.hypervisor_hostname).await? {
        db.q("UPDATE compute_node SET host = ?, hypervisor_type = ?, hypervisor_version = ?, host_ip = ?, vcpus = ?, memory_mb = ?, local_gb = ?, cpu_info = ?, updated_at = ? WHERE id = ?")
            .bind(&n.host)
            .bind(&n.hypervisor_type)
            .bind(n.hypervisor_version)
            .bind(&n.host_ip)
            .bind(n.vcpus)
            .bind(n.memory_mb)
            .bind(n.local_gb)
            .bind(n.cpu_info.to_string())
            .bind(now)
            .bind(old.id)
            .execute(db.pool())
            .await?;
        return Ok(ComputeNode {
            id: old.id,
            uuid: old.uuid,
            ..n.clone()
        });
    }
    let mut tx = db.begin().await?;
    let id = super::next_id(db, &mut tx, "compute_node").await?;
    db.q(&format!(
        "INSERT INTO compute_node ({NODE_COLS}, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(id)
    .bind(&n.uuid)
    .bind(&n.host)
    .bind(&n.hypervisor_hostname)
    .bind(&n.hypervisor_type)
    .bind(n.hypervisor_version)
    .bind(&n.host_ip)
    .bind(n.vcpus)
    .bind(n.memory_mb)
    .bind(n.local_gb)
    .bind(n.cpu_info.to_string())
    .bind(now)
    .bind(now)
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(ComputeNode { id, ..n.clone() })
}

pub async fn node_by_name(db: &Db, name: &str) -> db::Result<Option<ComputeNode>> {
    db.q(&format!(
        "SELECT {NODE_COLS} FROM compute_node WHERE hypervisor_hostname = ?"
    ))
    .bind(name)
    .fetch_optional(db.pool())
    .await?
    .map(|r| node_row(&r))
    .transpose()
}

pub async fn nodes(db: &Db) -> db::Result<Vec<ComputeNode>> {
    db.q(&format!("SELECT {NODE_COLS} FROM compute_node ORDER BY id"))
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(node_row)
        .collect()
}

// ---- instance actions -----------------------------------------------------------------

pub async fn start_action(db: &Db, a: &Action) -> db::Result<()> {
    db.q("INSERT INTO instance_action (id, instance_uuid, action, request_id, user_id, project_id, message, start_time, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(&a.id)
        .bind(&a.instance_uuid)
        .bind(&a.action)
        .bind(&a.request_id)
        .bind(&a.user_id)
        .bind(&a.project_id)
        .bind(&a.message)
        .bind(a.start_time)
        .bind(a.updated_at)
        .execute(db.pool())
        .await?;
    Ok(())
}

fn action_row(r: &db::Row) -> db::Result<Action> {
    Ok(Action {
        id: r.text("id")?,
        instance_uuid: r.text("instance_uuid")?,
        action: r.text("action")?,
        request_id: r.text("request_id")?,
        user_id: r.opt_text("user_id")?,
        project_id: r.opt_text("project_id")?,
        message: r.opt_text("message")?,
        start_time: r.int("start_time")?,
        updated_at: r.int("updated_at")?,
    })
}

const ACTION_COLS: &str =
    "id, instance_uuid, action, request_id, user_id, project_id, message, start_time, updated_at";

pub async fn actions(db: &Db, instance: &str) -> db::Result<Vec<Action>> {
    db.q(&format!(
        "SELECT {ACTION_COLS} FROM instance_action WHERE instance_uuid = ? ORDER BY start_time DESC, id DESC"
    ))
    .bind(instance)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(action_row)
    .collect()
}

pub async fn action(db: &Db, instance: &str, request_id: &str) -> db::Result<Option<Action>> {
    db.q(&format!(
        "SELECT {ACTION_COLS} FROM instance_action WHERE instance_uuid = ? AND request_id = ?"
    ))
    .bind(instance)
    .bind(request_id)
    .fetch_optional(db.pool())
    .await?
    .map(|r| action_row(&r))
    .transpose()
}

/// The latest action of a kind on an instance (events are attached to it).
pub async fn latest_action(db: &Db, instance: &str, kind: &str) -> db::Result<Option<Action>> {
    db.q(&format!(
        "SELECT {ACTION_COLS} FROM instance_action WHERE instance_uuid = ? AND action = ? ORDER BY start_time DESC LIMIT 1"
    ))
    .bind(instance)
    .bind(kind)
    .fetch_optional(db.pool())
    .await?
    .map(|r| action_row(&r))
    .transpose()
}

pub async fn set_action_message(db: &Db, id: &str, message: &str, now: i64) -> db::Result<()> {
    db.q("UPDATE instance_action SET message = ?, updated_at = ? WHERE id = ?")
        .bind(message)
        .bind(now)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn add_event(db: &Db, action_id: &str, e: &ActionEvent, now: i64) -> db::Result<()> {
    db.q("INSERT INTO instance_action_event (action_id, event, host, result, traceback, start_time, finish_time) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(action_id)
        .bind(&e.event)
        .bind(&e.host)
        .bind(&e.result)
        .bind(&e.traceback)
        .bind(e.start_time)
        .bind(e.finish_time)
        .execute(db.pool())
        .await?;
    db.q("UPDATE instance_action SET updated_at = ? WHERE id = ?")
        .bind(now)
        .bind(action_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn events(db: &Db, action_id: &str) -> db::Result<Vec<ActionEvent>> {
    db.q("SELECT event, host, result, traceback, start_time, finish_time FROM instance_action_event WHERE action_id = ? ORDER BY start_time")
        .bind(action_id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(ActionEvent {
                event: r.text("event")?,
                host: r.opt_text("host")?,
                result: r.opt_text("result")?,
                traceback: r.opt_text("traceback")?,
                start_time: r.int("start_time")?,
                finish_time: r.opt_int("finish_time")?,
            })
        })
        .collect()
}

// ---- server groups --------------------------------------------------------------------

pub async fn insert_group(db: &Db, g: &ServerGroup) -> db::Result<()> {
    db.q("INSERT INTO server_group (id, name, policy, rules, project_id, user_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.policy)
        .bind(Value::Object(g.rules.clone()).to_string())
        .bind(&g.project_id)
        .bind(&g.user_id)
        .bind(g.created_at)
        .execute(db.pool())
        .await?;
    Ok(())
}

async fn group_rows(db: &Db, rows: Vec<db::Row>) -> db::Result<Vec<ServerGroup>> {
    let mut out = Vec::new();
    for r in rows {
        let id = r.text("id")?;
        let members = db
            .q("SELECT m.instance_uuid FROM server_group_member m JOIN instance i ON i.uuid = m.instance_uuid
                WHERE m.group_id = ? AND i.deleted_at IS NULL ORDER BY i.created_at")
            .bind(&id)
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|m| m.text("instance_uuid"))
            .collect::<db::Result<Vec<_>>>()?;
        out.push(ServerGroup {
            id,
            name: r.text("name")?,
            policy: r.text("policy")?,
            rules: obj(&r, "rules")?,
            project_id: r.text("project_id")?,
            user_id: r.text("user_id")?,
            members,
            created_at: r.int("created_at")?,
        });
    }
    Ok(out)
}

pub async fn group(db: &Db, id: &str) -> db::Result<Option<ServerGroup>> {
    let rows = db
        .q("SELECT id, name, policy, rules, project_id, user_id, created_at FROM server_group WHERE id = ?")
        .bind(id)
        .fetch_all(db.pool())
        .await?;
    Ok(group_rows(db, rows).await?.pop())
}

pub async fn group_of(db: &Db, instance: &str) -> db::Result<Option<ServerGroup>> {
    let row = db
        .q("SELECT group_id FROM server_group_member WHERE instance_uuid = ?")
        .bind(instance)
        .fetch_optional(db.pool())
        .await?;
    match row {
        Some(r) => group(db, &r.text("group_id")?).await,
        None => Ok(None),
    }
}

pub async fn groups(
    db: &Db,
    project: Option<&str>,
    offset: i64,
    limit: i64,
) -> db::Result<Vec<ServerGroup>> {
    let mut sql =
        "SELECT id, name, policy, rules, project_id, user_id, created_at FROM server_group"
            .to_string();
    if project.is_some() {
        sql.push_str(" WHERE project_id = ?");
    }
    sql.push_str(&format!(
        " ORDER BY created_at, id LIMIT {} OFFSET {}",
        limit.max(0),
        offset.max(0)
    ));
    let mut q = db.q(&sql);
    if let Some(p) = project {
        q = q.bind(p);
    }
    let rows = q.fetch_all(db.pool()).await?;
    group_rows(db, rows).await
}

pub async fn count_groups(db: &Db, project: &str) -> db::Result<i64> {
    db.q("SELECT COUNT(*) AS n FROM server_group WHERE project_id = ?")
        .bind(project)
        .fetch_one(db.pool())
        .await?
        .int("n")
}

pub async fn delete_group(db: &Db, id: &str) -> db::Result<bool> {
    let mut tx = db.begin().await?;
    db.q("DELETE FROM server_group_member WHERE group_id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    let n = db
        .q("DELETE FROM server_group WHERE id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(n == 1)
}

/// Hosts of a group's live members other than `except`.
pub async fn group_hosts(db: &Db, group: &str, except: &str) -> db::Result<Vec<String>> {
    db.q(
        "SELECT i.host FROM server_group_member m JOIN instance i ON i.uuid = m.instance_uuid
          WHERE m.group_id = ? AND i.deleted_at IS NULL AND i.host IS NOT NULL AND i.uuid <> ?",
    )
    .bind(group)
    .bind(except)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| r.text("host"))
    .collect()
}

// ---- quotas ---------------------------------------------------------------------------

/// Overrides for a project (`user_id` "" for project-wide).
pub async fn quotas(db: &Db, project: &str, user: &str) -> db::Result<Vec<(String, i64)>> {
    db.q("SELECT resource, hard_limit FROM quota WHERE project_id = ? AND user_id = ?")
        .bind(project)
        .bind(user)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.text("resource")?, r.int("hard_limit")?)))
        .collect()
}

pub async fn set_quota(
    db: &Db,
    project: &str,
    user: &str,
    resource: &str,
    limit: i64,
) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("DELETE FROM quota WHERE project_id = ? AND user_id = ? AND resource = ?")
        .bind(project)
        .bind(user)
        .bind(resource)
        .execute(tx.conn())
        .await?;
    db.q("INSERT INTO quota (project_id, user_id, resource, hard_limit) VALUES (?, ?, ?, ?)")
        .bind(project)
        .bind(user)
        .bind(resource)
        .bind(limit)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

pub async fn delete_quotas(db: &Db, project: &str, user: Option<&str>) -> db::Result<()> {
    let mut sql = "DELETE FROM quota WHERE project_id = ?".to_string();
    if user.is_some() {
        sql.push_str(" AND user_id = ?");
    }
    let mut q = db.q(&sql).bind(project);
    if let Some(u) = user {
        q = q.bind(u);
    }
    q.execute(db.pool()).await?;
    Ok(())
}

pub async fn quota_class(db: &Db, class: &str) -> db::Result<Vec<(String, i64)>> {
    db.q("SELECT resource, hard_limit FROM quota_class WHERE class_name = ?")
        .bind(class)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.text("resource")?, r.int("hard_limit")?)))
        .collect()
}

pub async fn set_quota_class(db: &Db, class: &str, resource: &str, limit: i64) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("DELETE FROM quota_class WHERE class_name = ? AND resource = ?")
        .bind(class)
        .bind(resource)
        .execute(tx.conn())
        .await?;
    db.q("INSERT INTO quota_class (class_name, resource, hard_limit) VALUES (?, ?, ?)")
        .bind(class)
        .bind(resource)
        .bind(limit)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

// ---- migrations -----------------------------------------------------------------------

const MIG_COLS: &str = "id, uuid, instance_uuid, migration_type, status, source_compute, dest_compute, source_node, dest_node, old_flavor_id, new_flavor_id, project_id, user_id, created_at, updated_at";

fn mig_row(r: &db::Row) -> db::Result<Migration> {
    Ok(Migration {
        id: r.int("id")?,
        uuid: r.text("uuid")?,
        instance_uuid: r.text("instance_uuid")?,
        migration_type: r.text("migration_type")?,
        status: r.text("status")?,
        source_compute: r.opt_text("source_compute")?,
        dest_compute: r.opt_text("dest_compute")?,
        source_node: r.opt_text("source_node")?,
        dest_node: r.opt_text("dest_node")?,
        old_flavor_id: r.opt_text("old_flavor_id")?,
        new_flavor_id: r.opt_text("new_flavor_id")?,
        project_id: r.opt_text("project_id")?,
        user_id: r.opt_text("user_id")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

pub async fn insert_migration(db: &Db, m: &mut Migration) -> db::Result<()> {
    let mut tx = db.begin().await?;
    m.id = super::next_id(db, &mut tx, "migration").await?;
    db.q(&format!(
        "INSERT INTO migration ({MIG_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(m.id)
    .bind(&m.uuid)
    .bind(&m.instance_uuid)
    .bind(&m.migration_type)
    .bind(&m.status)
    .bind(&m.source_compute)
    .bind(&m.dest_compute)
    .bind(&m.source_node)
    .bind(&m.dest_node)
    .bind(&m.old_flavor_id)
    .bind(&m.new_flavor_id)
    .bind(&m.project_id)
    .bind(&m.user_id)
    .bind(m.created_at)
    .bind(m.updated_at)
    .execute(tx.conn())
    .await?;
    tx.commit().await
}

pub async fn set_migration_status(db: &Db, uuid: &str, status: &str, now: i64) -> db::Result<()> {
    db.q("UPDATE migration SET status = ?, updated_at = ? WHERE uuid = ?")
        .bind(status)
        .bind(now)
        .bind(uuid)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn migrations(db: &Db, instance: Option<&str>) -> db::Result<Vec<Migration>> {
    let mut sql = format!("SELECT {MIG_COLS} FROM migration");
    if instance.is_some() {
        sql.push_str(" WHERE instance_uuid = ?");
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC");
    let mut q = db.q(&sql);
    if let Some(i) = instance {
        q = q.bind(i);
    }
    q.fetch_all(db.pool()).await?.iter().map(mig_row).collect()
}

/// The in-progress resize of an instance (status `finished` awaiting confirm/revert).
pub async fn pending_resize(db: &Db, instance: &str) -> db::Result<Option<Migration>> {
    db.q(&format!(
        "SELECT {MIG_COLS} FROM migration WHERE instance_uuid = ? AND status = 'finished' ORDER BY created_at DESC LIMIT 1"
    ))
    .bind(instance)
    .fetch_optional(db.pool())
    .await?
    .map(|r| mig_row(&r))
    .transpose()
}
