//! Instances, their tags and faults.

use db::{Db, RowExt};
use serde_json::Value;

use super::{json_col, obj};
use crate::model::{Fault, Flavor, Instance, vm};

const COLS: &str = "uuid, seq, name, hostname, description, project_id, user_id, flavor, image_ref, image_meta,
    key_name, key_data, user_data, config_drive, availability_zone, pinned_az, host, node, vm_state, task_state,
    power_state, locked_by, locked_reason, access_ip_v4, access_ip_v6, reservation_id, launch_index, metadata,
    system_metadata, request_spec, launched_at, terminated_at, created_at, updated_at, deleted_at";

fn row(r: &db::Row) -> db::Result<Instance> {
    let flavor: Flavor =
        serde_json::from_str(&r.text("flavor")?).map_err(|e| db::DbError::decode("flavor", e))?;
    Ok(Instance {
        uuid: r.text("uuid")?,
        seq: r.int("seq")?,
        name: r.text("name")?,
        hostname: r.text("hostname")?,
        description: r.opt_text("description")?,
        project_id: r.text("project_id")?,
        user_id: r.text("user_id")?,
        flavor,
        image_ref: r.text("image_ref")?,
        image_meta: json_col(r, "image_meta")?,
        key_name: r.opt_text("key_name")?,
        key_data: r.opt_text("key_data")?,
        user_data: r.opt_text("user_data")?,
        config_drive: r.text("config_drive")?,
        availability_zone: r.opt_text("availability_zone")?,
        pinned_az: r.opt_text("pinned_az")?,
        host: r.opt_text("host")?,
        node: r.opt_text("node")?,
        vm_state: r.text("vm_state")?,
        task_state: r.opt_text("task_state")?,
        power_state: r.int("power_state")?,
        locked_by: r.opt_text("locked_by")?,
        locked_reason: r.opt_text("locked_reason")?,
        access_ip_v4: r.opt_text("access_ip_v4")?,
        access_ip_v6: r.opt_text("access_ip_v6")?,
        reservation_id: r.text("reservation_id")?,
        launch_index: r.int("launch_index")?,
        metadata: obj(r, "metadata")?,
        system_metadata: obj(r, "system_metadata")?,
        request_spec: json_col(r, "request_spec")?,
        tags: Vec::new(),
        launched_at: r.opt_int("launched_at")?,
        terminated_at: r.opt_int("terminated_at")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        deleted_at: r.opt_int("deleted_at")?,
    })
}

fn js(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Insert new instances (one request's `min_count..max_count`) in one transaction,
/// with their tags and server group membership.
pub async fn insert_many(db: &Db, items: &mut [Instance], group: Option<&str>) -> db::Result<()> {
    let mut tx = db.begin().await?;
    for i in items.iter_mut() {
        i.seq = super::next_id(db, &mut tx, "instance").await?;
        db.q(&format!(
            "INSERT INTO instance ({COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&i.uuid)
        .bind(i.seq)
        .bind(&i.name)
        .bind(&i.hostname)
        .bind(&i.description)
        .bind(&i.project_id)
        .bind(&i.user_id)
        .bind(js(&i.flavor))
        .bind(&i.image_ref)
        .bind(js(&i.image_meta))
        .bind(&i.key_name)
        .bind(&i.key_data)
        .bind(&i.user_data)
        .bind(&i.config_drive)
        .bind(&i.availability_zone)
        .bind(&i.pinned_az)
        .bind(&i.host)
        .bind(&i.node)
        .bind(&i.vm_state)
        .bind(&i.task_state)
        .bind(i.power_state)
        .bind(&i.locked_by)
        .bind(&i.locked_reason)
        .bind(&i.access_ip_v4)
        .bind(&i.access_ip_v6)
        .bind(&i.reservation_id)
        .bind(i.launch_index)
        .bind(js(&i.metadata))
        .bind(js(&i.system_metadata))
        .bind(js(&i.request_spec))
        .bind(i.launched_at)
        .bind(i.terminated_at)
        .bind(i.created_at)
        .bind(i.updated_at)
        .bind(i.deleted_at)
        .execute(tx.conn())
        .await?;
        for t in &i.tags {
            db.q("INSERT INTO instance_tag (instance_uuid, tag) VALUES (?, ?)")
                .bind(&i.uuid)
                .bind(t)
                .execute(tx.conn())
                .await?;
        }
        if let Some(g) = group {
            db.q("INSERT INTO server_group_member (group_id, instance_uuid) VALUES (?, ?)")
                .bind(g)
                .bind(&i.uuid)
                .execute(tx.conn())
                .await?;
        }
    }
    tx.commit().await
}

async fn load_tags(db: &Db, items: &mut [Instance]) -> db::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = items.iter().map(|i| i.uuid.clone()).collect();
    // Chunk to stay under every engine's bind limit.
    for chunk in ids.chunks(500) {
        let rows = db
            .q(&format!(
                "SELECT instance_uuid, tag FROM instance_tag WHERE instance_uuid IN ({}) ORDER BY tag",
                db::placeholders(chunk.len())
            ))
            .bind_all(chunk.iter().map(String::as_str))
            .fetch_all(db.pool())
            .await?;
        for r in rows {
            let id = r.text("instance_uuid")?;
            let tag = r.text("tag")?;
            if let Some(i) = items.iter_mut().find(|i| i.uuid == id) {
                i.tags.push(tag);
            }
        }
    }
    Ok(())
}

/// One instance (deleted ones too when `deleted`).
pub async fn get(db: &Db, uuid: &str, deleted: bool) -> db::Result<Option<Instance>> {
    let sql = if deleted {
        format!("SELECT {COLS} FROM instance WHERE uuid = ?")
    } else {
        format!("SELECT {COLS} FROM instance WHERE uuid = ? AND deleted_at IS NULL")
    };
    let Some(r) = db.q(&sql).bind(uuid).fetch_optional(db.pool()).await? else {
        return Ok(None);
    };
    let mut v = vec![row(&r)?];
    load_tags(db, &mut v).await?;
    Ok(v.pop())
}

/// Listing filters (already authorised and translated from the API's names).
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub vm_states: Option<Vec<String>>,
    pub task_states: Option<Vec<String>>,
    /// A regular expression the name must match (anywhere), as nova treats `name`.
    pub name: Option<String>,
    pub host: Option<String>,
    pub node: Option<String>,
    pub image: Option<String>,
    pub flavor: Option<String>,
    pub availability_zone: Option<String>,
    pub reservation_id: Option<String>,
    pub key_name: Option<String>,
    pub locked: Option<bool>,
    pub ip: Option<String>,
    pub uuid: Option<String>,
    pub changes_since: Option<i64>,
    pub changes_before: Option<i64>,
    pub tags: Vec<String>,
    pub tags_any: Vec<String>,
    pub not_tags: Vec<String>,
    pub not_tags_any: Vec<String>,
    /// `None`: live only; `Some(true)`: deleted only; `Some(false)`: live only.
    pub deleted: Option<bool>,
    /// Include deleted rows as well (changes-since listings).
    pub include_deleted: bool,
    pub description: Option<String>,
}

/// Sort keys nova accepts, mapped to columns.
pub fn sort_column(key: &str) -> Option<&'static str> {
    Some(match key {
        "created_at" => "created_at",
        "updated_at" => "updated_at",
        "display_name" | "name" => "name",
        "uuid" | "id" => "uuid",
        "vm_state" => "vm_state",
        "task_state" => "task_state",
        "power_state" => "power_state",
        "host" => "host",
        "node" => "node",
        "hostname" => "hostname",
        "project_id" => "project_id",
        "user_id" => "user_id",
        "availability_zone" => "availability_zone",
        "launched_at" => "launched_at",
        "terminated_at" => "terminated_at",
        "key_name" => "key_name",
        "image_ref" => "image_ref",
        "launch_index" => "launch_index",
        "reservation_id" => "reservation_id",
        "locked" | "locked_by" => "locked_by",
        "display_description" => "description",
        "access_ip_v4" | "access_ip_v6" | "config_drive" | "instance_type_id" | "kernel_id"
        | "ramdisk_id" | "root_device_name" | "progress" | "ephemeral_gb" | "memory_mb"
        | "root_gb" | "vcpus" | "os_type" | "architecture" => "created_at",
        _ => return None,
    })
}

fn push_in(sql: &mut String, args: &mut Vec<db::Arg>, col: &str, vals: &[String]) {
    sql.push_str(&format!(" AND {col} IN ({})", db::placeholders(vals.len())));
    args.extend(vals.iter().map(db::Arg::from));
}

/// A page of instances in the given order, with the marker's position resolved by the
/// caller (`after`: the marker instance).
pub async fn list(
    db: &Db,
    f: &Filter,
    sort: &[(&'static str, bool)],
    after: Option<&Instance>,
    limit: i64,
) -> db::Result<Vec<Instance>> {
    let mut sql = format!("SELECT {COLS} FROM instance i WHERE 1 = 1");
    let mut args: Vec<db::Arg> = Vec::new();
    match (f.deleted, f.include_deleted) {
        (_, true) => {}
        // Soft-deleted servers are listed with the deleted ones, as nova does.
        (Some(true), _) => sql.push_str(&format!(
            " AND (deleted_at IS NOT NULL OR vm_state = '{}')",
            vm::SOFT_DELETED
        )),
        _ => sql.push_str(&format!(
            " AND deleted_at IS NULL AND vm_state <> '{}'",
            vm::SOFT_DELETED
        )),
    }
    let eq = |sql: &mut String, args: &mut Vec<db::Arg>, col: &str, v: &Option<String>| {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {col} = ?"));
            args.push(v.into());
        }
    };
    eq(&mut sql, &mut args, "project_id", &f.project_id);
    eq(&mut sql, &mut args, "user_id", &f.user_id);
    eq(&mut sql, &mut args, "host", &f.host);
    eq(&mut sql, &mut args, "node", &f.node);
    eq(&mut sql, &mut args, "image_ref", &f.image);
    eq(
        &mut sql,
        &mut args,
        "availability_zone",
        &f.availability_zone,
    );
    eq(&mut sql, &mut args, "reservation_id", &f.reservation_id);
    eq(&mut sql, &mut args, "key_name", &f.key_name);
    eq(&mut sql, &mut args, "uuid", &f.uuid);
    if let Some(v) = &f.vm_states {
        push_in(&mut sql, &mut args, "vm_state", v);
    }
    if let Some(v) = &f.task_states {
        push_in(&mut sql, &mut args, "task_state", v);
    }
    if let Some(fl) = &f.flavor {
        // The embedded flavor snapshot keeps the id as `"id":"<flavorid>"`.
        sql.push_str(" AND flavor LIKE ?");
        args.push(format!("%\"id\":{}%", serde_json::Value::from(fl.as_str())).into());
    }
    // nova matches `name` as a regular expression (anywhere in the name): the SQL
    // keeps every other filter and the regex runs here, before the limit.
    let name_re = f.name.as_deref().map(|n| {
        regex::Regex::new(n).unwrap_or_else(|_| {
            regex::Regex::new(&regex::escape(n))
                .unwrap_or_else(|_| regex::Regex::new("$^").expect("valid"))
        })
    });
    if let Some(d) = &f.description {
        sql.push_str(" AND description LIKE ?");
        args.push(format!("%{d}%").into());
    }
    match f.locked {
        Some(true) => sql.push_str(" AND locked_by IS NOT NULL"),
        Some(false) => sql.push_str(" AND locked_by IS NULL"),
        None => {}
    }
    if let Some(t) = f.changes_since {
        sql.push_str(" AND updated_at >= ?");
        args.push(t.into());
    }
    if let Some(t) = f.changes_before {
        sql.push_str(" AND updated_at <= ?");
        args.push(t.into());
    }
    for t in &f.tags {
        sql.push_str(" AND EXISTS (SELECT 1 FROM instance_tag g WHERE g.instance_uuid = i.uuid AND g.tag = ?)");
        args.push(t.into());
    }
    if !f.tags_any.is_empty() {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM instance_tag g WHERE g.instance_uuid = i.uuid AND g.tag IN ({}))",
            db::placeholders(f.tags_any.len())
        ));
        args.extend(f.tags_any.iter().map(db::Arg::from));
    }
    if !f.not_tags.is_empty() {
        sql.push_str(&format!(
            " AND (SELECT COUNT(*) FROM instance_tag g WHERE g.instance_uuid = i.uuid AND g.tag IN ({})) < ?",
            db::placeholders(f.not_tags.len())
        ));
        args.extend(f.not_tags.iter().map(db::Arg::from));
        args.push(i64::try_from(f.not_tags.len()).unwrap_or(i64::MAX).into());
    }
    if !f.not_tags_any.is_empty() {
        sql.push_str(&format!(
            " AND NOT EXISTS (SELECT 1 FROM instance_tag g WHERE g.instance_uuid = i.uuid AND g.tag IN ({}))",
            db::placeholders(f.not_tags_any.len())
        ));
        args.extend(f.not_tags_any.iter().map(db::Arg::from));
    }
    // Keyset pagination over (sort keys..., uuid).
    let mut keys: Vec<(&str, bool)> = sort.to_vec();
    if !keys.iter().any(|(c, _)| *c == "uuid") {
        let dir = keys.first().map(|k| k.1).unwrap_or(false);
        keys.push(("uuid", dir));
    }
    if let Some(m) = after {
        let mut ors = Vec::new();
        for i in 0..keys.len() {
            let mut ands = Vec::new();
            for (c, _) in &keys[..i] {
                ands.push(format!("{c} = ?"));
                args.push(column_value(m, c));
            }
            let (c, asc) = keys[i];
            ands.push(format!("{c} {} ?", if asc { ">" } else { "<" }));
            args.push(column_value(m, c));
            ors.push(format!("({})", ands.join(" AND ")));
        }
        sql.push_str(&format!(" AND ({})", ors.join(" OR ")));
    }
    let order: Vec<String> = keys
        .iter()
        .map(|(c, asc)| format!("{c} {}", if *asc { "ASC" } else { "DESC" }))
        .collect();
    sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
    if name_re.is_none() {
        sql.push_str(&format!(" LIMIT {}", limit.max(0)));
    }
    let mut out: Vec<Instance> = db
        .q(&sql)
        .bind_all(args)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(row)
        .collect::<db::Result<_>>()?;
    if let Some(re) = &name_re {
        out.retain(|i| re.is_match(&i.name));
        out.truncate(usize::try_from(limit.max(0)).unwrap_or(usize::MAX));
    }
    load_tags(db, &mut out).await?;
    Ok(out)
}

fn column_value(i: &Instance, col: &str) -> db::Arg {
    match col {
        "created_at" => i.created_at.into(),
        "updated_at" => i.updated_at.into(),
        "name" => i.name.clone().into(),
        "uuid" => i.uuid.clone().into(),
        "vm_state" => i.vm_state.clone().into(),
        "task_state" => i.task_state.clone().into(),
        "power_state" => i.power_state.into(),
        "host" => i.host.clone().into(),
        "node" => i.node.clone().into(),
        "hostname" => i.hostname.clone().into(),
        "project_id" => i.project_id.clone().into(),
        "user_id" => i.user_id.clone().into(),
        "availability_zone" => i.availability_zone.clone().into(),
        "launched_at" => i.launched_at.into(),
        "terminated_at" => i.terminated_at.into(),
        "key_name" => i.key_name.clone().into(),
        "image_ref" => i.image_ref.clone().into(),
        "launch_index" => i.launch_index.into(),
        "reservation_id" => i.reservation_id.clone().into(),
        "locked_by" => i.locked_by.clone().into(),
        "description" => i.description.clone().into(),
        _ => i.created_at.into(),
    }
}

/// Fields an update may change. `None` leaves a column alone; `Some(None)` clears it.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub vm_state: Option<String>,
    pub task_state: Option<Option<String>>,
    pub power_state: Option<i64>,
    pub host: Option<Option<String>>,
    pub node: Option<Option<String>>,
    pub availability_zone: Option<Option<String>>,
    pub launched_at: Option<Option<i64>>,
    pub terminated_at: Option<Option<i64>>,
    pub flavor: Option<Flavor>,
    pub image_ref: Option<String>,
    pub image_meta: Option<Value>,
    pub name: Option<String>,
    pub hostname: Option<String>,
    pub description: Option<Option<String>>,
    pub access_ip_v4: Option<Option<String>>,
    pub access_ip_v6: Option<Option<String>>,
    pub locked_by: Option<Option<String>>,
    pub locked_reason: Option<Option<String>>,
    pub metadata: Option<serde_json::Map<String, Value>>,
    pub system_metadata: Option<serde_json::Map<String, Value>>,
    pub request_spec: Option<Value>,
    pub user_data: Option<Option<String>>,
    pub key_name: Option<Option<String>>,
    pub key_data: Option<Option<String>>,
    pub deleted_at: Option<i64>,
}

/// Apply changes when the instance is in one of `expected_task` task states (`None`
/// in the list means "no task"); an empty list skips the check. Returns false when the
/// guard did not match (someone else changed it first) or the instance is gone.
pub async fn update(
    db: &Db,
    uuid: &str,
    c: &Changes,
    expected_task: &[Option<&str>],
    expected_vm: &[&str],
    now: i64,
) -> db::Result<bool> {
    let mut sets: Vec<String> = vec!["updated_at = ?".into()];
    let mut args: Vec<db::Arg> = vec![now.into()];
    macro_rules! set {
        ($field:expr, $col:literal) => {
            if let Some(v) = &$field {
                sets.push(concat!($col, " = ?").into());
                args.push(v.clone().into());
            }
        };
        (json $field:expr, $col:literal) => {
            if let Some(v) = &$field {
                sets.push(concat!($col, " = ?").into());
                args.push(js(v).into());
            }
        };
    }
    set!(c.vm_state, "vm_state");
    set!(c.task_state, "task_state");
    set!(c.power_state, "power_state");
    set!(c.host, "host");
    set!(c.node, "node");
    set!(c.availability_zone, "availability_zone");
    set!(c.launched_at, "launched_at");
    set!(c.terminated_at, "terminated_at");
    set!(json c.flavor, "flavor");
    set!(c.image_ref, "image_ref");
    set!(json c.image_meta, "image_meta");
    set!(c.name, "name");
    set!(c.hostname, "hostname");
    set!(c.description, "description");
    set!(c.access_ip_v4, "access_ip_v4");
    set!(c.access_ip_v6, "access_ip_v6");
    set!(c.locked_by, "locked_by");
    set!(c.locked_reason, "locked_reason");
    set!(json c.metadata, "metadata");
    set!(json c.system_metadata, "system_metadata");
    set!(json c.request_spec, "request_spec");
    set!(c.user_data, "user_data");
    set!(c.key_name, "key_name");
    set!(c.key_data, "key_data");
    set!(c.deleted_at, "deleted_at");
    let mut sql = format!(
        "UPDATE instance SET {} WHERE uuid = ? AND deleted_at IS NULL",
        sets.join(", ")
    );
    args.push(uuid.into());
    if !expected_task.is_empty() {
        let named: Vec<&str> = expected_task.iter().flatten().copied().collect();
        let mut conds = Vec::new();
        if expected_task.iter().any(Option::is_none) {
            conds.push("task_state IS NULL".to_string());
        }
        if !named.is_empty() {
            conds.push(format!("task_state IN ({})", db::placeholders(named.len())));
            args.extend(named.iter().map(|s| db::Arg::from(*s)));
        }
        sql.push_str(&format!(" AND ({})", conds.join(" OR ")));
    }
    if !expected_vm.is_empty() {
        sql.push_str(&format!(
            " AND vm_state IN ({})",
            db::placeholders(expected_vm.len())
        ));
        args.extend(expected_vm.iter().map(|s| db::Arg::from(*s)));
    }
    Ok(db.q(&sql).bind_all(args).execute(db.pool()).await? == 1)
}

/// Replace an instance's tags.
pub async fn set_tags(db: &Db, uuid: &str, tags: &[String], now: i64) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("DELETE FROM instance_tag WHERE instance_uuid = ?")
        .bind(uuid)
        .execute(tx.conn())
        .await?;
    for t in tags {
        db.q("INSERT INTO instance_tag (instance_uuid, tag) VALUES (?, ?)")
            .bind(uuid)
            .bind(t)
            .execute(tx.conn())
            .await?;
    }
    db.q("UPDATE instance SET updated_at = ? WHERE uuid = ?")
        .bind(now)
        .bind(uuid)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

/// Record (replace) the fault of an instance.
pub async fn set_fault(db: &Db, uuid: &str, f: &Fault) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("DELETE FROM instance_fault WHERE instance_uuid = ?")
        .bind(uuid)
        .execute(tx.conn())
        .await?;
    db.q("INSERT INTO instance_fault (instance_uuid, code, message, details, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(uuid)
        .bind(f.code)
        .bind(&f.message)
        .bind(&f.details)
        .bind(f.created_at)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

pub async fn faults(db: &Db, uuids: &[&str]) -> db::Result<Vec<(String, Fault)>> {
    let mut out = Vec::new();
    for chunk in uuids.chunks(500) {
        if chunk.is_empty() {
            continue;
        }
        let rows = db
            .q(&format!(
                "SELECT instance_uuid, code, message, details, created_at FROM instance_fault WHERE instance_uuid IN ({})",
                db::placeholders(chunk.len())
            ))
            .bind_all(chunk.iter().copied())
            .fetch_all(db.pool())
            .await?;
        for r in rows {
            out.push((
                r.text("instance_uuid")?,
                Fault {
                    code: r.int("code")?,
                    message: r.text("message")?,
                    details: r.text("details")?,
                    created_at: r.int("created_at")?,
                },
            ));
        }
    }
    Ok(out)
}

/// Live instances of a project (and user) for quota counting: (count, cores, ram).
pub async fn usage(
    db: &Db,
    project_id: &str,
    user_id: Option<&str>,
) -> db::Result<(i64, i64, i64)> {
    let mut sql = format!(
        "SELECT flavor FROM instance WHERE project_id = ? AND deleted_at IS NULL AND vm_state <> '{}'",
        vm::SOFT_DELETED
    );
    if user_id.is_some() {
        sql.push_str(" AND user_id = ?");
    }
    let mut q = db.q(&sql).bind(project_id);
    if let Some(u) = user_id {
        q = q.bind(u);
    }
    let rows = q.fetch_all(db.pool()).await?;
    let (mut n, mut cores, mut ram) = (0, 0, 0);
    for r in rows {
        n += 1;
        if let Ok(f) = serde_json::from_str::<Flavor>(&r.text("flavor")?) {
            cores += f.vcpus;
            ram += f.ram;
        }
    }
    Ok((n, cores, ram))
}

/// Instances on a host (for the agent's power sync and hypervisor statistics).
pub async fn on_host(db: &Db, host: &str) -> db::Result<Vec<Instance>> {
    db.q(&format!(
        "SELECT {COLS} FROM instance WHERE host = ? AND deleted_at IS NULL"
    ))
    .bind(host)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(row)
    .collect()
}

/// Live instances in `vm_state` with no task running (the periodic offload of shelved
/// servers and the reclaim of soft-deleted ones).
pub async fn idle_in_state(db: &Db, vm_state: &str) -> db::Result<Vec<Instance>> {
    db.q(&format!(
        "SELECT {COLS} FROM instance WHERE vm_state = ? AND task_state IS NULL AND deleted_at IS NULL"
    ))
    .bind(vm_state)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(row)
    .collect()
}

/// Every live instance in the given project (or all) — for usage reports.
pub async fn in_window(
    db: &Db,
    project_id: Option<&str>,
    start: i64,
    end: i64,
) -> db::Result<Vec<Instance>> {
    let mut sql = format!(
        "SELECT {COLS} FROM instance WHERE created_at < ? AND (terminated_at IS NULL OR terminated_at > ?)"
    );
    if project_id.is_some() {
        sql.push_str(" AND project_id = ?");
    }
    let mut q = db.q(&sql).bind(end).bind(start);
    if let Some(p) = project_id {
        q = q.bind(p);
    }
    q.fetch_all(db.pool()).await?.iter().map(row).collect()
}
