//! Placement's rows, through [`db::Db`]. Every function takes a connection so that the
//! same code reads on a pooled connection and writes inside a transaction
//! (`tx.conn()`); writers that check capacity or generations call several of these in
//! one transaction and finish with [`bump_generation`], the guard against concurrent
//! writers.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use db::{Db, DbError, RowExt, placeholders};
use sqlx::Row as _;

use crate::model::{Allocation, Consumer, Inventory, Provider, ResourceClass};

pub type Conn = sqlx::AnyConnection;
type R<T> = Result<T, DbError>;

/// A pooled connection for reads.
pub async fn conn(db: &Db) -> R<sqlx::pool::PoolConnection<sqlx::Any>> {
    Ok(db.pool().acquire().await?)
}

fn float(row: &db::Row, col: &str) -> R<f64> {
    if let Ok(v) = row.try_get::<f64, _>(col) {
        return Ok(v);
    }
    if let Ok(v) = row.try_get::<i64, _>(col) {
        return Ok(v as f64);
    }
    let s = row.text(col)?;
    s.trim().parse::<f64>().map_err(|e| DbError::decode(col, e))
}

// ---------------------------------------------------------------------------
// Providers

const PROVIDER_COLS: &str =
    "uuid, name, generation, parent_uuid, root_uuid, created_at, updated_at";

fn provider(r: &db::Row) -> R<Provider> {
    Ok(Provider {
        uuid: r.text("uuid")?,
        name: r.text("name")?,
        generation: r.int("generation")?,
        parent_uuid: r.opt_text("parent_uuid")?,
        root_uuid: r.text("root_uuid")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

pub async fn get_provider(db: &Db, c: &mut Conn, uuid: &str) -> R<Option<Provider>> {
    db.q(&format!(
        "SELECT {PROVIDER_COLS} FROM placement_provider WHERE uuid = ?"
    ))
    .bind(uuid)
    .fetch_optional(&mut *c)
    .await?
    .map(|r| provider(&r))
    .transpose()
}

/// Providers, oldest first, optionally narrowed by name, uuid and tree root.
pub async fn list_providers(
    db: &Db,
    c: &mut Conn,
    name: Option<&str>,
    uuid: Option<&str>,
    root: Option<&str>,
) -> R<Vec<Provider>> {
    let mut sql = format!("SELECT {PROVIDER_COLS} FROM placement_provider WHERE 1 = 1");
    let mut args: Vec<String> = Vec::new();
    if let Some(n) = name {
        sql.push_str(" AND name = ?");
        args.push(n.to_string());
    }
    if let Some(u) = uuid {
        sql.push_str(" AND uuid = ?");
        args.push(u.to_string());
    }
    if let Some(r) = root {
        sql.push_str(" AND root_uuid = ?");
        args.push(r.to_string());
    }
    sql.push_str(" ORDER BY created_at, uuid");
    let rows = db.q(&sql).bind_all(args).fetch_all(&mut *c).await?;
    rows.iter().map(provider).collect()
}

pub async fn insert_provider(db: &Db, c: &mut Conn, p: &Provider) -> R<()> {
    db.q("INSERT INTO placement_provider (uuid, name, generation, parent_uuid, root_uuid, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(&p.uuid)
        .bind(&p.name)
        .bind(p.generation)
        .bind(&p.parent_uuid)
        .bind(&p.root_uuid)
        .bind(p.created_at)
        .bind(p.updated_at)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Rename and re-parent; the provider's subtree follows it to its new root.
pub async fn update_provider(
    db: &Db,
    c: &mut Conn,
    p: &Provider,
    subtree: &[String],
    now: i64,
) -> R<()> {
    db.q("UPDATE placement_provider SET name = ?, parent_uuid = ?, root_uuid = ?, updated_at = ? WHERE uuid = ?")
        .bind(&p.name)
        .bind(&p.parent_uuid)
        .bind(&p.root_uuid)
        .bind(now)
        .bind(&p.uuid)
        .execute(&mut *c)
        .await?;
    if !subtree.is_empty() {
        db.q(&format!(
            "UPDATE placement_provider SET root_uuid = ? WHERE uuid IN ({})",
            placeholders(subtree.len())
        ))
        .bind(&p.root_uuid)
        .bind_all(subtree.iter().cloned())
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

pub async fn has_children(db: &Db, c: &mut Conn, uuid: &str) -> R<bool> {
    Ok(db
        .q("SELECT uuid FROM placement_provider WHERE parent_uuid = ?")
        .bind(uuid)
        .fetch_optional(&mut *c)
        .await?
        .is_some())
}

pub async fn has_allocations(db: &Db, c: &mut Conn, uuid: &str) -> R<bool> {
    Ok(db
        .q("SELECT consumer_uuid FROM placement_allocation WHERE rp_uuid = ?")
        .bind(uuid)
        .fetch_optional(&mut *c)
        .await?
        .is_some())
}

/// Delete a provider and its inventories, aggregate and trait associations.
/// Returns false when it did not exist.
pub async fn delete_provider(db: &Db, c: &mut Conn, uuid: &str) -> R<bool> {
    for table in [
        "placement_inventory",
        "placement_provider_aggregate",
        "placement_provider_trait",
    ] {
        db.q(&format!("DELETE FROM {table} WHERE rp_uuid = ?"))
            .bind(uuid)
            .execute(&mut *c)
            .await?;
    }
    Ok(db
        .q("DELETE FROM placement_provider WHERE uuid = ?")
        .bind(uuid)
        .execute(&mut *c)
        .await?
        > 0)
}

/// The guard of every provider write: bump the generation only if it is still the one
/// the writer read. False means another writer got there first.
pub async fn bump_generation(
    db: &Db,
    c: &mut Conn,
    uuid: &str,
    expected: i64,
    now: i64,
) -> R<bool> {
    bump_generation_by(db, c, uuid, expected, 1, now).await
}

/// [`bump_generation`] by several steps (one write standing for several changes).
pub async fn bump_generation_by(
    db: &Db,
    c: &mut Conn,
    uuid: &str,
    expected: i64,
    by: i64,
    now: i64,
) -> R<bool> {
    Ok(db
        .q("UPDATE placement_provider SET generation = generation + ?, updated_at = ? WHERE uuid = ? AND generation = ?")
        .bind(by)
        .bind(now)
        .bind(uuid)
        .bind(expected)
        .execute(&mut *c)
        .await?
        == 1)
}

// ---------------------------------------------------------------------------
// Resource classes

pub async fn custom_classes(db: &Db, c: &mut Conn) -> R<Vec<ResourceClass>> {
    let rows = db
        .q("SELECT name, updated_at FROM placement_custom_class ORDER BY created_at, name")
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ResourceClass {
                name: r.text("name")?,
                updated_at: Some(r.int("updated_at")?),
            })
        })
        .collect()
}

pub async fn custom_class(db: &Db, c: &mut Conn, name: &str) -> R<Option<ResourceClass>> {
    db.q("SELECT name, updated_at FROM placement_custom_class WHERE name = ?")
        .bind(name)
        .fetch_optional(&mut *c)
        .await?
        .map(|r| {
            Ok(ResourceClass {
                name: r.text("name")?,
                updated_at: Some(r.int("updated_at")?),
            })
        })
        .transpose()
}

pub async fn insert_custom_class(db: &Db, c: &mut Conn, name: &str, now: i64) -> R<()> {
    db.q("INSERT INTO placement_custom_class (name, created_at, updated_at) VALUES (?, ?, ?)")
        .bind(name)
        .bind(now)
        .bind(now)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Rename a custom class everywhere it is referenced.
pub async fn rename_custom_class(db: &Db, c: &mut Conn, old: &str, new: &str, now: i64) -> R<()> {
    db.q("UPDATE placement_custom_class SET name = ?, updated_at = ? WHERE name = ?")
        .bind(new)
        .bind(now)
        .bind(old)
        .execute(&mut *c)
        .await?;
    for table in ["placement_inventory", "placement_allocation"] {
        db.q(&format!(
            "UPDATE {table} SET resource_class = ? WHERE resource_class = ?"
        ))
        .bind(new)
        .bind(old)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

pub async fn class_in_use(db: &Db, c: &mut Conn, name: &str) -> R<bool> {
    Ok(db
        .q("SELECT rp_uuid FROM placement_inventory WHERE resource_class = ?")
        .bind(name)
        .fetch_optional(&mut *c)
        .await?
        .is_some())
}

pub async fn delete_custom_class(db: &Db, c: &mut Conn, name: &str) -> R<bool> {
    Ok(db
        .q("DELETE FROM placement_custom_class WHERE name = ?")
        .bind(name)
        .execute(&mut *c)
        .await?
        > 0)
}

// ---------------------------------------------------------------------------
// Traits

/// Custom traits with their creation time.
pub async fn custom_traits(db: &Db, c: &mut Conn) -> R<Vec<(String, i64)>> {
    let rows = db
        .q("SELECT name, created_at FROM placement_custom_trait ORDER BY name")
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.text("name")?, r.int("created_at")?)))
        .collect()
}

pub async fn custom_trait(db: &Db, c: &mut Conn, name: &str) -> R<Option<i64>> {
    db.q("SELECT created_at FROM placement_custom_trait WHERE name = ?")
        .bind(name)
        .fetch_optional(&mut *c)
        .await?
        .map(|r| r.int("created_at"))
        .transpose()
}

pub async fn insert_custom_trait(db: &Db, c: &mut Conn, name: &str, now: i64) -> R<()> {
    db.q("INSERT INTO placement_custom_trait (name, created_at) VALUES (?, ?)")
        .bind(name)
        .bind(now)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn delete_custom_trait(db: &Db, c: &mut Conn, name: &str) -> R<bool> {
    Ok(db
        .q("DELETE FROM placement_custom_trait WHERE name = ?")
        .bind(name)
        .execute(&mut *c)
        .await?
        > 0)
}

pub async fn trait_in_use(db: &Db, c: &mut Conn, name: &str) -> R<bool> {
    Ok(db
        .q("SELECT rp_uuid FROM placement_provider_trait WHERE trait_name = ?")
        .bind(name)
        .fetch_optional(&mut *c)
        .await?
        .is_some())
}

/// Traits associated with at least one provider.
pub async fn associated_traits(db: &Db, c: &mut Conn) -> R<BTreeSet<String>> {
    let rows = db
        .q("SELECT DISTINCT trait_name FROM placement_provider_trait")
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(|r| r.text("trait_name")).collect()
}

/// A provider's traits, sorted, with the latest association time.
pub async fn provider_traits(db: &Db, c: &mut Conn, uuid: &str) -> R<(Vec<String>, Option<i64>)> {
    let rows = db
        .q("SELECT trait_name, created_at FROM placement_provider_trait WHERE rp_uuid = ? ORDER BY trait_name")
        .bind(uuid)
        .fetch_all(&mut *c)
        .await?;
    let mut names = Vec::with_capacity(rows.len());
    let mut last = None;
    for r in &rows {
        names.push(r.text("trait_name")?);
        let t = r.int("created_at")?;
        last = Some(last.map_or(t, |l: i64| l.max(t)));
    }
    crate::standard::sort_traits(&mut names);
    Ok((names, last))
}

/// `key → {values}` from a two-column query.
async fn grouped(db: &Db, c: &mut Conn, sql: &str) -> R<HashMap<String, BTreeSet<String>>> {
    let rows = db.q(sql).fetch_all(&mut *c).await?;
    let mut m: HashMap<String, BTreeSet<String>> = HashMap::new();
    for r in &rows {
        m.entry(r.text("k")?).or_default().insert(r.text("v")?);
    }
    Ok(m)
}

/// Every provider's traits.
pub async fn all_provider_traits(db: &Db, c: &mut Conn) -> R<HashMap<String, BTreeSet<String>>> {
    grouped(
        db,
        c,
        "SELECT rp_uuid AS k, trait_name AS v FROM placement_provider_trait",
    )
    .await
}

pub async fn set_provider_traits(
    db: &Db,
    c: &mut Conn,
    uuid: &str,
    add: &[String],
    remove: &[String],
    now: i64,
) -> R<()> {
    if !remove.is_empty() {
        db.q(&format!(
            "DELETE FROM placement_provider_trait WHERE rp_uuid = ? AND trait_name IN ({})",
            placeholders(remove.len())
        ))
        .bind(uuid)
        .bind_all(remove.iter().cloned())
        .execute(&mut *c)
        .await?;
    }
    for t in add {
        db.q("INSERT INTO placement_provider_trait (rp_uuid, trait_name, created_at) VALUES (?, ?, ?)")
            .bind(uuid)
            .bind(t)
            .bind(now)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Aggregates

pub async fn provider_aggregates(db: &Db, c: &mut Conn, uuid: &str) -> R<Vec<String>> {
    let rows = db
        .q("SELECT aggregate_uuid FROM placement_provider_aggregate WHERE rp_uuid = ? ORDER BY aggregate_uuid")
        .bind(uuid)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(|r| r.text("aggregate_uuid")).collect()
}

pub async fn all_provider_aggregates(
    db: &Db,
    c: &mut Conn,
) -> R<HashMap<String, BTreeSet<String>>> {
    grouped(
        db,
        c,
        "SELECT rp_uuid AS k, aggregate_uuid AS v FROM placement_provider_aggregate",
    )
    .await
}

pub async fn set_provider_aggregates(
    db: &Db,
    c: &mut Conn,
    uuid: &str,
    add: &[String],
    remove: &[String],
) -> R<()> {
    if !remove.is_empty() {
        db.q(&format!(
            "DELETE FROM placement_provider_aggregate WHERE rp_uuid = ? AND aggregate_uuid IN ({})",
            placeholders(remove.len())
        ))
        .bind(uuid)
        .bind_all(remove.iter().cloned())
        .execute(&mut *c)
        .await?;
    }
    for a in add {
        db.q("INSERT INTO placement_provider_aggregate (rp_uuid, aggregate_uuid) VALUES (?, ?)")
            .bind(uuid)
            .bind(a)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Inventories and usage

const INV_COLS: &str = "rp_uuid, resource_class, total, reserved, min_unit, max_unit, step_size, allocation_ratio, updated_at";

fn inventory(r: &db::Row) -> R<Inventory> {
    Ok(Inventory {
        resource_class: r.text("resource_class")?,
        total: r.int("total")?,
        reserved: r.int("reserved")?,
        min_unit: r.int("min_unit")?,
        max_unit: r.int("max_unit")?,
        step_size: r.int("step_size")?,
        allocation_ratio: float(r, "allocation_ratio")?,
        updated_at: r.int("updated_at")?,
    })
}

/// A provider's inventories, by resource class.
pub async fn inventories(db: &Db, c: &mut Conn, uuid: &str) -> R<BTreeMap<String, Inventory>> {
    let rows = db
        .q(&format!(
            "SELECT {INV_COLS} FROM placement_inventory WHERE rp_uuid = ?"
        ))
        .bind(uuid)
        .fetch_all(&mut *c)
        .await?;
    let mut m = BTreeMap::new();
    for r in &rows {
        let i = inventory(r)?;
        m.insert(i.resource_class.clone(), i);
    }
    Ok(m)
}

/// Inventories of several providers, keyed by (provider, class).
pub async fn inventories_of(
    db: &Db,
    c: &mut Conn,
    uuids: &[String],
) -> R<HashMap<(String, String), Inventory>> {
    let mut m = HashMap::new();
    if uuids.is_empty() {
        return Ok(m);
    }
    let rows = db
        .q(&format!(
            "SELECT {INV_COLS} FROM placement_inventory WHERE rp_uuid IN ({})",
            placeholders(uuids.len())
        ))
        .bind_all(uuids.iter().cloned())
        .fetch_all(&mut *c)
        .await?;
    for r in &rows {
        let i = inventory(r)?;
        m.insert((r.text("rp_uuid")?, i.resource_class.clone()), i);
    }
    Ok(m)
}

/// Every inventory, keyed by (provider, class).
pub async fn all_inventories(db: &Db, c: &mut Conn) -> R<HashMap<(String, String), Inventory>> {
    let rows = db
        .q(&format!("SELECT {INV_COLS} FROM placement_inventory"))
        .fetch_all(&mut *c)
        .await?;
    let mut m = HashMap::new();
    for r in &rows {
        let i = inventory(r)?;
        m.insert((r.text("rp_uuid")?, i.resource_class.clone()), i);
    }
    Ok(m)
}

/// Usage (sum of allocations) per (provider, class); `None` means every provider.
pub async fn usage(
    db: &Db,
    c: &mut Conn,
    uuids: Option<&[String]>,
) -> R<HashMap<(String, String), i64>> {
    let rows = match uuids {
        Some([]) => Vec::new(),
        Some(u) => {
            db.q(&format!(
                "SELECT rp_uuid, resource_class, used FROM placement_allocation WHERE rp_uuid IN ({})",
                placeholders(u.len())
            ))
            .bind_all(u.iter().cloned())
            .fetch_all(&mut *c)
            .await?
        }
        None => {
            db.q("SELECT rp_uuid, resource_class, used FROM placement_allocation")
                .fetch_all(&mut *c)
                .await?
        }
    };
    let mut m: HashMap<(String, String), i64> = HashMap::new();
    for r in &rows {
        let e = m
            .entry((r.text("rp_uuid")?, r.text("resource_class")?))
            .or_insert(0);
        *e = e.saturating_add(r.int("used")?);
    }
    Ok(m)
}

pub async fn upsert_inventory(
    db: &Db,
    c: &mut Conn,
    uuid: &str,
    inv: &Inventory,
    exists: bool,
    now: i64,
) -> R<()> {
    if exists {
        db.q("UPDATE placement_inventory SET total = ?, reserved = ?, min_unit = ?, max_unit = ?, step_size = ?, allocation_ratio = ?, updated_at = ? WHERE rp_uuid = ? AND resource_class = ?")
            .bind(inv.total)
            .bind(inv.reserved)
            .bind(inv.min_unit)
            .bind(inv.max_unit)
            .bind(inv.step_size)
            .bind(inv.allocation_ratio)
            .bind(now)
            .bind(uuid)
            .bind(&inv.resource_class)
            .execute(&mut *c)
            .await?;
    } else {
        db.q("INSERT INTO placement_inventory (rp_uuid, resource_class, total, reserved, min_unit, max_unit, step_size, allocation_ratio, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(uuid)
            .bind(&inv.resource_class)
            .bind(inv.total)
            .bind(inv.reserved)
            .bind(inv.min_unit)
            .bind(inv.max_unit)
            .bind(inv.step_size)
            .bind(inv.allocation_ratio)
            .bind(now)
            .bind(now)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub async fn delete_inventories(db: &Db, c: &mut Conn, uuid: &str, classes: &[String]) -> R<u64> {
    if classes.is_empty() {
        return Ok(0);
    }
    db.q(&format!(
        "DELETE FROM placement_inventory WHERE rp_uuid = ? AND resource_class IN ({})",
        placeholders(classes.len())
    ))
    .bind(uuid)
    .bind_all(classes.iter().cloned())
    .execute(&mut *c)
    .await
}

/// The classes among `classes` that have allocations on the provider.
pub async fn classes_in_use(
    db: &Db,
    c: &mut Conn,
    uuid: &str,
    classes: &[String],
) -> R<Vec<String>> {
    if classes.is_empty() {
        return Ok(Vec::new());
    }
    let rows = db
        .q(&format!(
            "SELECT DISTINCT resource_class FROM placement_allocation WHERE rp_uuid = ? AND resource_class IN ({})",
            placeholders(classes.len())
        ))
        .bind(uuid)
        .bind_all(classes.iter().cloned())
        .fetch_all(&mut *c)
        .await?;
    let used: BTreeSet<String> = rows
        .iter()
        .map(|r| r.text("resource_class"))
        .collect::<R<_>>()?;
    // Keep the caller's order (placement names them in inventory order).
    Ok(classes
        .iter()
        .filter(|c| used.contains(c.as_str()))
        .cloned()
        .collect())
}

// ---------------------------------------------------------------------------
// Consumers and allocations

fn consumer(r: &db::Row) -> R<Consumer> {
    Ok(Consumer {
        uuid: r.text("uuid")?,
        project_id: r.text("project_id")?,
        user_id: r.text("user_id")?,
        consumer_type: r.opt_text("consumer_type")?,
        generation: r.int("generation")?,
        updated_at: r.int("updated_at")?,
    })
}

pub async fn get_consumer(db: &Db, c: &mut Conn, uuid: &str) -> R<Option<Consumer>> {
    db.q("SELECT uuid, project_id, user_id, consumer_type, generation, updated_at FROM placement_consumer WHERE uuid = ?")
        .bind(uuid)
        .fetch_optional(&mut *c)
        .await?
        .map(|r| consumer(&r))
        .transpose()
}

pub async fn consumers_of(db: &Db, c: &mut Conn, uuids: &[String]) -> R<HashMap<String, Consumer>> {
    if uuids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = db
        .q(&format!(
            "SELECT uuid, project_id, user_id, consumer_type, generation, updated_at FROM placement_consumer WHERE uuid IN ({})",
            placeholders(uuids.len())
        ))
        .bind_all(uuids.iter().cloned())
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| consumer(r).map(|c| (c.uuid.clone(), c)))
        .collect()
}

pub async fn insert_consumer(db: &Db, c: &mut Conn, k: &Consumer, now: i64) -> R<()> {
    db.q("INSERT INTO placement_consumer (uuid, project_id, user_id, consumer_type, generation, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(&k.uuid)
        .bind(&k.project_id)
        .bind(&k.user_id)
        .bind(&k.consumer_type)
        .bind(k.generation)
        .bind(now)
        .bind(now)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Record the consumer's project, user and type, and bump its generation if it is
/// still `expected`. False: another writer changed the consumer meanwhile.
pub async fn bump_consumer(
    db: &Db,
    c: &mut Conn,
    k: &Consumer,
    expected: i64,
    now: i64,
) -> R<bool> {
    Ok(db
        .q("UPDATE placement_consumer SET project_id = ?, user_id = ?, consumer_type = ?, generation = generation + 1, updated_at = ? WHERE uuid = ? AND generation = ?")
        .bind(&k.project_id)
        .bind(&k.user_id)
        .bind(&k.consumer_type)
        .bind(now)
        .bind(&k.uuid)
        .bind(expected)
        .execute(&mut *c)
        .await?
        == 1)
}

pub async fn delete_consumer(db: &Db, c: &mut Conn, uuid: &str) -> R<()> {
    db.q("DELETE FROM placement_consumer WHERE uuid = ?")
        .bind(uuid)
        .execute(&mut *c)
        .await?;
    Ok(())
}

fn allocation(r: &db::Row) -> R<Allocation> {
    Ok(Allocation {
        consumer_uuid: r.text("consumer_uuid")?,
        rp_uuid: r.text("rp_uuid")?,
        resource_class: r.text("resource_class")?,
        used: r.int("used")?,
        updated_at: r.int("updated_at")?,
    })
}

const ALLOC_COLS: &str = "consumer_uuid, rp_uuid, resource_class, used, updated_at";

pub async fn consumer_allocations(db: &Db, c: &mut Conn, uuid: &str) -> R<Vec<Allocation>> {
    let rows = db
        .q(&format!(
            "SELECT {ALLOC_COLS} FROM placement_allocation WHERE consumer_uuid = ? ORDER BY rp_uuid, resource_class"
        ))
        .bind(uuid)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(allocation).collect()
}

pub async fn provider_allocations(db: &Db, c: &mut Conn, uuid: &str) -> R<Vec<Allocation>> {
    let rows = db
        .q(&format!(
            "SELECT {ALLOC_COLS} FROM placement_allocation WHERE rp_uuid = ? ORDER BY consumer_uuid, resource_class"
        ))
        .bind(uuid)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(allocation).collect()
}

pub async fn delete_consumer_allocations(db: &Db, c: &mut Conn, uuid: &str) -> R<u64> {
    db.q("DELETE FROM placement_allocation WHERE consumer_uuid = ?")
        .bind(uuid)
        .execute(&mut *c)
        .await
}

pub async fn insert_allocation(db: &Db, c: &mut Conn, a: &Allocation, now: i64) -> R<()> {
    db.q("INSERT INTO placement_allocation (consumer_uuid, rp_uuid, resource_class, used, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(&a.consumer_uuid)
        .bind(&a.rp_uuid)
        .bind(&a.resource_class)
        .bind(a.used)
        .bind(now)
        .bind(now)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// One row of a project's usage: class, consumer type, consumer, amount.
#[derive(Debug, Clone)]
pub struct UsageRow {
    pub resource_class: String,
    pub consumer_type: Option<String>,
    pub consumer_uuid: String,
    pub used: i64,
}

pub async fn project_usage(
    db: &Db,
    c: &mut Conn,
    project_id: &str,
    user_id: Option<&str>,
) -> R<Vec<UsageRow>> {
    let mut sql = "SELECT a.resource_class, a.used, a.consumer_uuid, k.consumer_type FROM placement_allocation a JOIN placement_consumer k ON a.consumer_uuid = k.uuid WHERE k.project_id = ?".to_string();
    if user_id.is_some() {
        sql.push_str(" AND k.user_id = ?");
    }
    let mut q = db.q(&sql).bind(project_id);
    if let Some(u) = user_id {
        q = q.bind(u);
    }
    let rows = q.fetch_all(&mut *c).await?;
    rows.iter()
        .map(|r| {
            Ok(UsageRow {
                resource_class: r.text("resource_class")?,
                consumer_type: r.opt_text("consumer_type")?,
                consumer_uuid: r.text("consumer_uuid")?,
                used: r.int("used")?,
            })
        })
        .collect()
}
