//! SQL storage of image records, properties, tags, members and locations.

use std::collections::{BTreeMap, HashMap};

use db::{Arg, Db, RowExt, placeholders};

use crate::model::{Image, Member};

const COLS: &str = "id, name, status, visibility, owner, disk_format, container_format, size, virtual_size, \
     checksum, os_hash_algo, os_hash_value, min_disk, min_ram, protected, os_hidden, created_at, updated_at";

fn row(r: &db::Row) -> db::Result<Image> {
    Ok(Image {
        id: r.text("id")?,
        name: r.opt_text("name")?,
        status: r.text("status")?,
        visibility: r.text("visibility")?,
        owner: r.opt_text("owner")?,
        disk_format: r.opt_text("disk_format")?,
        container_format: r.opt_text("container_format")?,
        size: r.opt_int("size")?,
        virtual_size: r.opt_int("virtual_size")?,
        checksum: r.opt_text("checksum")?,
        os_hash_algo: r.opt_text("os_hash_algo")?,
        os_hash_value: r.opt_text("os_hash_value")?,
        min_disk: r.int("min_disk")?,
        min_ram: r.int("min_ram")?,
        protected: r.flag("protected")?,
        os_hidden: r.flag("os_hidden")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        properties: BTreeMap::new(),
        tags: Vec::new(),
        stores: Vec::new(),
    })
}

/// Fill properties, tags and stores of a page of images (one query each).
async fn complete(db: &Db, mut items: Vec<Image>) -> db::Result<Vec<Image>> {
    if items.is_empty() {
        return Ok(items);
    }
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    let ph = placeholders(ids.len());
    let mut props: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    for r in db
        .q(&format!(
            "SELECT image_id, name, value FROM image_property WHERE image_id IN ({ph})"
        ))
        .bind_all(ids.iter().copied())
        .fetch_all(db.pool())
        .await?
    {
        props
            .entry(r.text("image_id")?)
            .or_default()
            .insert(r.text("name")?, r.opt_text("value")?.unwrap_or_default());
    }
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    for r in db
        .q(&format!(
            "SELECT image_id, value FROM image_tag WHERE image_id IN ({ph}) ORDER BY value"
        ))
        .bind_all(ids.iter().copied())
        .fetch_all(db.pool())
        .await?
    {
        tags.entry(r.text("image_id")?)
            .or_default()
            .push(r.text("value")?);
    }
    let mut stores: HashMap<String, Vec<String>> = HashMap::new();
    for r in db
        .q(&format!(
            "SELECT image_id, store FROM image_location WHERE image_id IN ({ph}) AND status = 'active' ORDER BY created_at"
        ))
        .bind_all(ids.iter().copied())
        .fetch_all(db.pool())
        .await?
    {
        let s = stores.entry(r.text("image_id")?).or_default();
        let store = r.text("store")?;
        if !s.contains(&store) {
            s.push(store);
        }
    }
    for i in &mut items {
        i.properties = props.remove(&i.id).unwrap_or_default();
        i.tags = tags.remove(&i.id).unwrap_or_default();
        i.stores = stores.remove(&i.id).unwrap_or_default();
    }
    Ok(items)
}

/// An image that is not deleted.
pub async fn get(db: &Db, id: &str) -> db::Result<Option<Image>> {
    let sql = format!("SELECT {COLS} FROM image WHERE id = ? AND deleted_at IS NULL");
    let Some(r) = db.q(&sql).bind(id).fetch_optional(db.pool()).await? else {
        return Ok(None);
    };
    Ok(complete(db, vec![row(&r)?]).await?.pop())
}

/// Whether any image, even a deleted one, ever had this id (ids are never reused).
pub async fn id_taken(db: &Db, id: &str) -> db::Result<bool> {
    Ok(db
        .q("SELECT 1 AS x FROM image WHERE id = ?")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .is_some())
}

pub async fn insert(db: &Db, i: &Image) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q(&format!(
        "INSERT INTO image ({COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&i.id)
    .bind(&i.name)
    .bind(&i.status)
    .bind(&i.visibility)
    .bind(&i.owner)
    .bind(&i.disk_format)
    .bind(&i.container_format)
    .bind(i.size)
    .bind(i.virtual_size)
    .bind(&i.checksum)
    .bind(&i.os_hash_algo)
    .bind(&i.os_hash_value)
    .bind(i.min_disk)
    .bind(i.min_ram)
    .bind(i.protected)
    .bind(i.os_hidden)
    .bind(i.created_at)
    .bind(i.updated_at)
    .execute(tx.conn())
    .await?;
    write_children(db, &mut tx, i).await?;
    tx.commit().await
}

async fn write_children(db: &Db, tx: &mut db::Tx, i: &Image) -> db::Result<()> {
    db.q("DELETE FROM image_property WHERE image_id = ?")
        .bind(&i.id)
        .execute(tx.conn())
        .await?;
    db.q("DELETE FROM image_tag WHERE image_id = ?")
        .bind(&i.id)
        .execute(tx.conn())
        .await?;
    for (k, v) in &i.properties {
        db.q("INSERT INTO image_property (image_id, name, value) VALUES (?, ?, ?)")
            .bind(&i.id)
            .bind(k)
            .bind(v)
            .execute(tx.conn())
            .await?;
    }
    for t in &i.tags {
        db.q("INSERT INTO image_tag (image_id, value) VALUES (?, ?)")
            .bind(&i.id)
            .bind(t)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// Save every attribute of an image (properties and tags replaced).
pub async fn update(db: &Db, i: &Image) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("UPDATE image SET name = ?, status = ?, visibility = ?, owner = ?, disk_format = ?, container_format = ?,
             size = ?, virtual_size = ?, checksum = ?, os_hash_algo = ?, os_hash_value = ?, min_disk = ?, min_ram = ?,
             protected = ?, os_hidden = ?, updated_at = ? WHERE id = ?")
        .bind(&i.name)
        .bind(&i.status)
        .bind(&i.visibility)
        .bind(&i.owner)
        .bind(&i.disk_format)
        .bind(&i.container_format)
        .bind(i.size)
        .bind(i.virtual_size)
        .bind(&i.checksum)
        .bind(&i.os_hash_algo)
        .bind(&i.os_hash_value)
        .bind(i.min_disk)
        .bind(i.min_ram)
        .bind(i.protected)
        .bind(i.os_hidden)
        .bind(i.updated_at)
        .bind(&i.id)
        .execute(tx.conn())
        .await?;
    write_children(db, &mut tx, i).await?;
    tx.commit().await
}

/// Move an image from one status to another atomically; false when it was not in `from`.
pub async fn transition(db: &Db, id: &str, from: &[&str], to: &str, now: i64) -> db::Result<bool> {
    let sql = format!(
        "UPDATE image SET status = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL AND status IN ({})",
        placeholders(from.len())
    );
    let n = db
        .q(&sql)
        .bind(to)
        .bind(now)
        .bind(id)
        .bind_all(from.iter().copied())
        .execute(db.pool())
        .await?;
    Ok(n == 1)
}

/// Record the uploaded bits' facts and make the image active.
#[allow(clippy::too_many_arguments)]
pub async fn activate(
    db: &Db,
    id: &str,
    size: i64,
    virtual_size: Option<i64>,
    checksum: &str,
    hash_algo: &str,
    hash_value: &str,
    store: &str,
    url: &str,
    now: i64,
    from: &[&str],
) -> db::Result<bool> {
    let mut tx = db.begin().await?;
    let sql = format!(
        "UPDATE image SET status = 'active', size = ?, virtual_size = ?, checksum = ?, os_hash_algo = ?, os_hash_value = ?,
             updated_at = ? WHERE id = ? AND deleted_at IS NULL AND status IN ({})",
        placeholders(from.len())
    );
    let n = db
        .q(&sql)
        .bind(size)
        .bind(virtual_size)
        .bind(checksum)
        .bind(hash_algo)
        .bind(hash_value)
        .bind(now)
        .bind(id)
        .bind_all(from.iter().copied())
        .execute(tx.conn())
        .await?;
    if n != 1 {
        return Ok(false);
    }
    add_location_tx(db, &mut tx, id, store, url, now).await?;
    tx.commit().await?;
    Ok(true)
}

async fn add_location_tx(
    db: &Db,
    tx: &mut db::Tx,
    id: &str,
    store: &str,
    url: &str,
    now: i64,
) -> db::Result<()> {
    db.q("INSERT INTO image_location (id, image_id, store, url, status, created_at) VALUES (?, ?, ?, ?, 'active', ?)")
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(id)
        .bind(store)
        .bind(url)
        .bind(now)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn add_location(db: &Db, id: &str, store: &str, url: &str, now: i64) -> db::Result<()> {
    let mut tx = db.begin().await?;
    add_location_tx(db, &mut tx, id, store, url, now).await?;
    tx.commit().await
}

/// `(store, url)` of an image's active locations, oldest first.
pub async fn locations(db: &Db, id: &str) -> db::Result<Vec<(String, String)>> {
    db.q("SELECT store, url FROM image_location WHERE image_id = ? AND status = 'active' ORDER BY created_at")
        .bind(id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.text("store")?, r.text("url")?)))
        .collect()
}

/// Forget an image's copy in one store; returns its URL, or `None` when it had none there.
pub async fn remove_location(db: &Db, id: &str, store: &str) -> db::Result<Option<String>> {
    let mut tx = db.begin().await?;
    let row = db
        .q("SELECT id, url FROM image_location WHERE image_id = ? AND store = ? AND status = 'active'
            ORDER BY created_at")
        .bind(id)
        .bind(store)
        .fetch_optional(tx.conn())
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    db.q("DELETE FROM image_location WHERE id = ?")
        .bind(row.text("id")?)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(Some(row.text("url")?))
}

/// Undo an import that had to succeed everywhere: forget the image's data and put it
/// back to `queued`; returns the locations whose bits the caller removes.
pub async fn unload(db: &Db, id: &str, now: i64) -> db::Result<Vec<(String, String)>> {
    let locs = locations(db, id).await?;
    let mut tx = db.begin().await?;
    db.q(
        "UPDATE image SET status = 'queued', size = NULL, virtual_size = NULL, checksum = NULL,
             os_hash_algo = NULL, os_hash_value = NULL, updated_at = ?
          WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(tx.conn())
    .await?;
    db.q("DELETE FROM image_location WHERE image_id = ?")
        .bind(id)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(locs)
}

/// Mark deleted and forget its locations; returns them for the caller to remove bits.
pub async fn delete(db: &Db, id: &str, now: i64) -> db::Result<Vec<(String, String)>> {
    let locs = locations(db, id).await?;
    let mut tx = db.begin().await?;
    db.q("UPDATE image SET status = 'deleted', deleted_at = ?, updated_at = ? WHERE id = ?")
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(tx.conn())
        .await?;
    for sql in [
        "DELETE FROM image_location WHERE image_id = ?",
        "DELETE FROM image_member WHERE image_id = ?",
        "DELETE FROM image_tag WHERE image_id = ?",
        "DELETE FROM image_property WHERE image_id = ?",
    ] {
        db.q(sql).bind(id).execute(tx.conn()).await?;
    }
    tx.commit().await?;
    Ok(locs)
}

// ---- listing -----------------------------------------------------------------------------

/// A comparison on a column, from `gt:`, `in:`, … filter values.
#[derive(Debug, Clone)]
pub enum Cond {
    Eq(Arg),
    Neq(Arg),
    Gt(Arg),
    Gte(Arg),
    Lt(Arg),
    Lte(Arg),
    In(Vec<Arg>),
}

/// Who is asking: admins see everything; others what visibility allows.
#[derive(Debug, Clone)]
pub enum Viewer {
    Admin,
    Project(String),
}

#[derive(Debug, Clone, Default)]
pub struct Query {
    pub conds: Vec<(String, Cond)>,
    pub properties: Vec<(String, String)>,
    pub tags: Vec<String>,
    pub visibility: Option<String>,
    pub member_status: Option<String>,
    pub os_hidden: Option<bool>,
    /// `(column, descending)` in order; `id` is added as the last tie-breaker.
    pub sort: Vec<(String, bool)>,
    pub limit: usize,
    pub marker: Option<String>,
}

/// Columns sortable and filterable, and whether they hold text.
pub fn column_kind(c: &str) -> Option<bool> {
    match c {
        "name" | "status" | "visibility" | "owner" | "disk_format" | "container_format" | "id"
        | "checksum" | "os_hash_value" => Some(true),
        "size" | "virtual_size" | "min_disk" | "min_ram" | "created_at" | "updated_at"
        | "protected" | "os_hidden" => Some(false),
        _ => None,
    }
}

/// A sort expression; nullable columns are coalesced so NULLs sort (and page) stably,
/// NOT NULL ones stay bare so their indexes serve the ORDER BY.
fn keyed(c: &str) -> String {
    match (c, column_kind(c)) {
        (
            "id" | "status" | "visibility" | "created_at" | "updated_at" | "min_disk" | "min_ram"
            | "protected" | "os_hidden",
            _,
        ) => format!("i.{c}"),
        (_, Some(true)) => format!("COALESCE(i.{c}, '')"),
        _ => format!("COALESCE(i.{c}, -1)"),
    }
}

/// A page of images, and whether more follow.
pub async fn list(db: &Db, viewer: &Viewer, q: &Query) -> db::Result<(Vec<Image>, bool)> {
    let mut sql = format!(
        "SELECT {} FROM image i WHERE i.deleted_at IS NULL",
        COLS.split(", ")
            .map(|c| format!("i.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut args: Vec<Arg> = Vec::new();
    // Visibility.
    let member_status = q.member_status.clone().unwrap_or_else(|| "accepted".into());
    match (viewer, q.visibility.as_deref()) {
        (Viewer::Admin, Some(v)) if v != "all" => {
            sql.push_str(" AND i.visibility = ?");
            args.push(v.into());
        }
        (Viewer::Admin, _) => {}
        (Viewer::Project(p), vis) => {
            let shared = if member_status == "all" {
                "EXISTS (SELECT 1 FROM image_member m WHERE m.image_id = i.id AND m.member = ?)"
                    .to_string()
            } else {
                "EXISTS (SELECT 1 FROM image_member m WHERE m.image_id = i.id AND m.member = ? AND m.status = ?)"
                    .to_string()
            };
            let shared_args = |args: &mut Vec<Arg>| {
                args.push(p.into());
                if member_status != "all" {
                    args.push(member_status.as_str().into());
                }
            };
            match vis {
                Some("public") => sql.push_str(" AND i.visibility = 'public'"),
                Some("community") => sql.push_str(" AND i.visibility = 'community'"),
                Some("private") => {
                    sql.push_str(" AND i.visibility = 'private' AND i.owner = ?");
                    args.push(p.into());
                }
                Some("shared") => {
                    sql.push_str(&format!(
                        " AND i.visibility = 'shared' AND (i.owner = ? OR {shared})"
                    ));
                    args.push(p.into());
                    shared_args(&mut args);
                }
                Some("all") => {
                    sql.push_str(&format!(
                        " AND (i.owner = ? OR i.visibility IN ('public', 'community') OR (i.visibility = 'shared' AND {shared}))"
                    ));
                    args.push(p.into());
                    shared_args(&mut args);
                }
                _ => {
                    sql.push_str(&format!(
                        " AND (i.owner = ? OR i.visibility = 'public' OR (i.visibility = 'shared' AND {shared}))"
                    ));
                    args.push(p.into());
                    shared_args(&mut args);
                }
            }
        }
    }
    match q.os_hidden {
        Some(h) => {
            sql.push_str(" AND i.os_hidden = ?");
            args.push(h.into());
        }
        None => sql.push_str(" AND i.os_hidden = 0"),
    }
    for (col, c) in &q.conds {
        if column_kind(col).is_none() {
            continue;
        }
        let (op, vals): (&str, Vec<Arg>) = match c {
            Cond::Eq(a) => ("=", vec![a.clone()]),
            Cond::Neq(a) => ("<>", vec![a.clone()]),
            Cond::Gt(a) => (">", vec![a.clone()]),
            Cond::Gte(a) => (">=", vec![a.clone()]),
            Cond::Lt(a) => ("<", vec![a.clone()]),
            Cond::Lte(a) => ("<=", vec![a.clone()]),
            Cond::In(list) => {
                sql.push_str(&format!(" AND i.{col} IN ({})", placeholders(list.len())));
                args.extend(list.iter().cloned());
                continue;
            }
        };
        sql.push_str(&format!(" AND i.{col} {op} ?"));
        args.extend(vals);
    }
    for (k, v) in &q.properties {
        sql.push_str(" AND EXISTS (SELECT 1 FROM image_property p WHERE p.image_id = i.id AND p.name = ? AND p.value = ?)");
        args.push(k.into());
        args.push(v.into());
    }
    for t in &q.tags {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM image_tag t WHERE t.image_id = i.id AND t.value = ?)",
        );
        args.push(t.into());
    }
    let mut sort = q.sort.clone();
    if !sort.iter().any(|(c, _)| c == "id") {
        let desc = sort.last().is_none_or(|(_, d)| *d);
        sort.push(("id".into(), desc));
    }
    // Keyset pagination: rows strictly after the marker in sort order.
    if let Some(m) = &q.marker {
        let cols: Vec<String> = sort.iter().map(|(c, _)| keyed(c)).collect();
        let sel = cols
            .iter()
            .enumerate()
            .map(|(n, c)| format!("{} AS k{n}", c.replace("i.", "mk.")))
            .collect::<Vec<_>>()
            .join(", ");
        let mut ors = Vec::new();
        for (n, (_, desc)) in sort.iter().enumerate() {
            let mut ands: Vec<String> = (0..n).map(|j| format!("{} = mk.k{j}", cols[j])).collect();
            ands.push(format!(
                "{} {} mk.k{n}",
                cols[n],
                if *desc { "<" } else { ">" }
            ));
            ors.push(format!("({})", ands.join(" AND ")));
        }
        sql = format!(
            "{sql} AND EXISTS (SELECT 1 FROM (SELECT {sel} FROM image mk WHERE mk.id = ?) mk WHERE {})",
            ors.join(" OR ")
        );
        args.push(m.into());
    }
    let order = sort
        .iter()
        .map(|(c, d)| format!("{} {}", keyed(c), if *d { "DESC" } else { "ASC" }))
        .collect::<Vec<_>>()
        .join(", ");
    sql.push_str(&format!(" ORDER BY {order} LIMIT {}", q.limit + 1));
    let rows = db.q(&sql).bind_all(args).fetch_all(db.pool()).await?;
    let mut items = rows.iter().map(row).collect::<db::Result<Vec<_>>>()?;
    let more = items.len() > q.limit;
    items.truncate(q.limit);
    Ok((complete(db, items).await?, more))
}

pub async fn exists_any(db: &Db, id: &str) -> db::Result<bool> {
    Ok(db
        .q("SELECT 1 AS x FROM image WHERE id = ? AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .is_some())
}

// ---- members -----------------------------------------------------------------------------

fn member_row(r: &db::Row) -> db::Result<Member> {
    Ok(Member {
        image_id: r.text("image_id")?,
        member: r.text("member")?,
        status: r.text("status")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

pub async fn member(db: &Db, image_id: &str, member: &str) -> db::Result<Option<Member>> {
    db.q("SELECT image_id, member, status, created_at, updated_at FROM image_member WHERE image_id = ? AND member = ?")
        .bind(image_id)
        .bind(member)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(member_row)
        .transpose()
}

pub async fn members(db: &Db, image_id: &str) -> db::Result<Vec<Member>> {
    db.q("SELECT image_id, member, status, created_at, updated_at FROM image_member WHERE image_id = ? ORDER BY created_at, member")
        .bind(image_id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(member_row)
        .collect()
}

pub async fn add_member(db: &Db, m: &Member) -> db::Result<()> {
    db.q("INSERT INTO image_member (image_id, member, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
        .bind(&m.image_id)
        .bind(&m.member)
        .bind(&m.status)
        .bind(m.created_at)
        .bind(m.updated_at)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn set_member_status(
    db: &Db,
    image_id: &str,
    member: &str,
    status: &str,
    now: i64,
) -> db::Result<u64> {
    db.q("UPDATE image_member SET status = ?, updated_at = ? WHERE image_id = ? AND member = ?")
        .bind(status)
        .bind(now)
        .bind(image_id)
        .bind(member)
        .execute(db.pool())
        .await
}

pub async fn remove_member(db: &Db, image_id: &str, member: &str) -> db::Result<u64> {
    db.q("DELETE FROM image_member WHERE image_id = ? AND member = ?")
        .bind(image_id)
        .bind(member)
        .execute(db.pool())
        .await
}

/// Usage of a project: (image count, total size of active images).
pub async fn usage(db: &Db, owner: &str) -> db::Result<(i64, i64)> {
    let r = db
        .q("SELECT COUNT(*) AS n, CAST(SUM(COALESCE(size, 0)) AS BIGINT) AS s FROM image WHERE owner = ? AND deleted_at IS NULL")
        .bind(owner)
        .fetch_one(db.pool())
        .await?;
    Ok((r.int("n")?, r.opt_int("s")?.unwrap_or(0)))
}

// ---- tasks -------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    pub task_type: String,
    pub status: String,
    pub owner: String,
    pub image_id: Option<String>,
    pub input: serde_json::Value,
    pub result: serde_json::Value,
    pub message: String,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: Option<i64>,
}

impl Task {
    pub fn to_json(&self) -> serde_json::Value {
        use crate::model::glance_time;
        serde_json::json!({
            "id": self.id,
            "type": self.task_type,
            "status": self.status,
            "owner": self.owner,
            "input": self.input,
            "result": if self.result.is_null() { serde_json::Value::Null } else { self.result.clone() },
            "message": self.message,
            "image_id": self.image_id,
            "request_id": self.request_id,
            "user_id": self.user_id,
            "created_at": glance_time(self.created_at),
            "updated_at": glance_time(self.updated_at),
            "expires_at": self.expires_at.map(glance_time),
            "self": format!("/v2/tasks/{}", self.id),
            "schema": "/v2/schemas/task",
        })
    }
}

const TASK_COLS: &str = "id, type, status, owner, image_id, input, result, message, request_id, user_id, created_at, updated_at, expires_at";

fn task_row(r: &db::Row) -> db::Result<Task> {
    let json = |c: &str| -> db::Result<serde_json::Value> {
        Ok(r.opt_text(c)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null))
    };
    Ok(Task {
        id: r.text("id")?,
        task_type: r.text("type")?,
        status: r.text("status")?,
        owner: r.text("owner")?,
        image_id: r.opt_text("image_id")?,
        input: json("input")?,
        result: json("result")?,
        message: r.opt_text("message")?.unwrap_or_default(),
        request_id: r.opt_text("request_id")?,
        user_id: r.opt_text("user_id")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        expires_at: r.opt_int("expires_at")?,
    })
}

pub async fn insert_task(db: &Db, t: &Task) -> db::Result<()> {
    db.q(&format!(
        "INSERT INTO task ({TASK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&t.id)
    .bind(&t.task_type)
    .bind(&t.status)
    .bind(&t.owner)
    .bind(&t.image_id)
    .bind(t.input.to_string())
    .bind((!t.result.is_null()).then(|| t.result.to_string()))
    .bind(&t.message)
    .bind(&t.request_id)
    .bind(&t.user_id)
    .bind(t.created_at)
    .bind(t.updated_at)
    .bind(t.expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Finish (or advance) a task.
pub async fn set_task(
    db: &Db,
    id: &str,
    status: &str,
    result: Option<&serde_json::Value>,
    message: &str,
    image_id: Option<&str>,
    now: i64,
) -> db::Result<()> {
    db.q("UPDATE task SET status = ?, result = COALESCE(?, result), message = ?, image_id = COALESCE(?, image_id), updated_at = ? WHERE id = ?")
        .bind(status)
        .bind(result.map(|r| r.to_string()))
        .bind(message)
        .bind(image_id)
        .bind(now)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn get_task(db: &Db, id: &str) -> db::Result<Option<Task>> {
    db.q(&format!("SELECT {TASK_COLS} FROM task WHERE id = ?"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(task_row)
        .transpose()
}

/// Tasks of an image, or of an owner (`None` = all), newest first.
pub async fn list_tasks(
    db: &Db,
    image_id: Option<&str>,
    owner: Option<&str>,
) -> db::Result<Vec<Task>> {
    let mut sql = format!("SELECT {TASK_COLS} FROM task WHERE 1 = 1");
    let mut args: Vec<Arg> = Vec::new();
    if let Some(i) = image_id {
        sql.push_str(" AND image_id = ?");
        args.push(i.into());
    }
    if let Some(o) = owner {
        sql.push_str(" AND owner = ?");
        args.push(o.into());
    }
    sql.push_str(" ORDER BY created_at DESC, id");
    db.q(&sql)
        .bind_all(args)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(task_row)
        .collect()
}

/// Set (or with `None` remove) one property of an image, outside a full update.
pub async fn set_property(
    db: &Db,
    image_id: &str,
    name: &str,
    value: Option<&str>,
) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q("DELETE FROM image_property WHERE image_id = ? AND name = ?")
        .bind(image_id)
        .bind(name)
        .execute(tx.conn())
        .await?;
    if let Some(v) = value {
        db.q("INSERT INTO image_property (image_id, name, value) VALUES (?, ?, ?)")
            .bind(image_id)
            .bind(name)
            .bind(v)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await
}
