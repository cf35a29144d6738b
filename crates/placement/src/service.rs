//! Placement's writes, each one transaction. A writer reads the generations of the
//! providers it will change and, before anything else, bumps them with a conditional
//! `UPDATE … SET generation = generation + 1 WHERE uuid = ? AND generation = ?` (in UUID
//! order). That statement takes the provider's row lock and succeeds only if nobody
//! committed a change to the provider since the writer's reads, so what the writer then
//! checks (inventories, usage) is current, and of two writers that read the same
//! generation exactly one commits; the other gets [`Refused::Concurrent`]. Consumers are
//! guarded the same way by their own generation. A failed check rolls everything back.
//!
//! Errors are [`Refused`] values; handlers word them as placement does for each call.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use db::DbError;

use crate::PlacementService;
use crate::capacity::{self, Refusal, Want};
use crate::model::{Allocation, Consumer, Inventory, Provider};
use crate::standard;
use crate::store::{self, Conn};

/// Why a write did not happen.
#[derive(Debug)]
pub enum Refused {
    ProviderNotFound(String),
    /// The client's generation is not the provider's.
    Generation {
        actual: i64,
        given: i64,
    },
    /// Another writer changed the provider or consumer meanwhile.
    Concurrent,
    UnknownClass(String),
    UnknownTraits(Vec<String>),
    /// Inventories with allocations cannot be removed.
    InUse(Vec<String>),
    /// No inventory of this class on the provider.
    NoInventory(String),
    Duplicate(String),
    /// A provider tree rule (parent missing, loops, re-parenting before 1.37).
    Tree(String),
    HasChildren,
    HasAllocations,
    /// Consumer generation mismatch (message as placement words it).
    ConsumerGeneration(String),
    /// Allocations referencing a provider that does not exist.
    AllocationProvider(String),
    Capacity(Refusal),
    Db(DbError),
}

impl From<DbError> for Refused {
    fn from(e: DbError) -> Self {
        if is_transient(&e) {
            Refused::Concurrent
        } else {
            Refused::Db(e)
        }
    }
}

/// Deadlocks and serialization failures: the writer lost a race and may retry.
fn is_transient(e: &DbError) -> bool {
    let DbError::Sqlx(sqlx::Error::Database(d)) = e else {
        return false;
    };
    matches!(
        d.code().as_deref(),
        Some("40001" | "40P01" | "1213" | "1205")
    )
}

pub type Res<T> = Result<T, Refused>;

/// The order placement lists resource classes in (standard first, by definition).
pub fn class_order(name: &str) -> (usize, String) {
    match standard::RESOURCE_CLASSES.iter().position(|c| *c == name) {
        Some(i) => (i, String::new()),
        None => (usize::MAX, name.to_string()),
    }
}

pub async fn class_exists(
    svc: &PlacementService,
    c: &mut Conn,
    name: &str,
) -> Result<bool, DbError> {
    Ok(standard::is_standard_class(name) || store::custom_class(&svc.db, c, name).await?.is_some())
}

pub async fn trait_exists(
    svc: &PlacementService,
    c: &mut Conn,
    name: &str,
) -> Result<bool, DbError> {
    Ok(standard::is_standard_trait(name) || store::custom_trait(&svc.db, c, name).await?.is_some())
}

/// The traits among `names` that do not exist.
pub async fn missing_traits(
    svc: &PlacementService,
    c: &mut Conn,
    names: &BTreeSet<String>,
) -> Result<Vec<String>, DbError> {
    let mut missing = Vec::new();
    for n in names {
        if !trait_exists(svc, c, n).await? {
            missing.push(n.clone());
        }
    }
    Ok(missing)
}

async fn provider_in(svc: &PlacementService, c: &mut Conn, uuid: &str) -> Res<Provider> {
    store::get_provider(&svc.db, c, uuid)
        .await?
        .ok_or_else(|| Refused::ProviderNotFound(uuid.to_string()))
}

async fn bump(
    svc: &PlacementService,
    c: &mut Conn,
    uuid: &str,
    expected: i64,
    now: i64,
) -> Res<()> {
    if store::bump_generation(&svc.db, c, uuid, expected, now).await? {
        Ok(())
    } else {
        Err(Refused::Concurrent)
    }
}

fn db_conflict(e: DbError) -> Refused {
    match e {
        DbError::Conflict(_) => Refused::Concurrent,
        other => Refused::from(other),
    }
}

// ---------------------------------------------------------------------------
// Providers

pub async fn create_provider(
    svc: &PlacementService,
    uuid: &str,
    name: &str,
    parent: Option<&str>,
) -> Res<Provider> {
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let c = tx.conn();
    let mut dups = Vec::new();
    if store::get_provider(&svc.db, c, uuid).await?.is_some() {
        dups.push(format!("uuid: {uuid}"));
    }
    if !store::list_providers(&svc.db, c, Some(name), None, None)
        .await?
        .is_empty()
    {
        dups.push(format!("name: {name}"));
    }
    if !dups.is_empty() {
        return Err(Refused::Duplicate(dups.join(", ")));
    }
    let root = match parent {
        Some(p) if p == uuid => {
            return Err(Refused::Tree(
                "parent provider UUID cannot be same as UUID. Please set parent provider \
                 UUID to None if there is no parent."
                    .into(),
            ));
        }
        Some(p) => match store::get_provider(&svc.db, c, p).await? {
            Some(pp) => pp.root_uuid,
            None => return Err(Refused::Tree("parent provider UUID does not exist.".into())),
        },
        None => uuid.to_string(),
    };
    let p = Provider {
        uuid: uuid.to_string(),
        name: name.to_string(),
        generation: 0,
        parent_uuid: parent.map(str::to_string),
        root_uuid: root,
        created_at: now,
        updated_at: now,
    };
    match store::insert_provider(&svc.db, c, &p).await {
        Ok(()) => {}
        Err(DbError::Conflict(_)) => {
            return Err(Refused::Duplicate(format!("name: {name}")));
        }
        Err(DbError::ForeignKey(_)) => {
            return Err(Refused::Tree("parent provider UUID does not exist.".into()));
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    Ok(p)
}

/// The provider and every descendant.
async fn subtree(svc: &PlacementService, c: &mut Conn, p: &Provider) -> Res<Vec<String>> {
    let tree = store::list_providers(&svc.db, c, None, None, Some(&p.root_uuid)).await?;
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in &tree {
        if let Some(par) = &t.parent_uuid {
            children
                .entry(par.as_str())
                .or_default()
                .push(t.uuid.as_str());
        }
    }
    let mut out = vec![p.uuid.clone()];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(out[i].as_str()) {
            out.extend(kids.iter().map(|k| (*k).to_string()));
        }
        i += 1;
    }
    Ok(out)
}

/// Rename and, when `parent` is given, re-parent (1.37 also moves and un-parents).
pub async fn update_provider(
    svc: &PlacementService,
    uuid: &str,
    name: &str,
    parent: Option<Option<&str>>,
    allow_reparent: bool,
) -> Res<Provider> {
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let c = tx.conn();
    let mut p = provider_in(svc, c, uuid).await?;
    let mut moved: Vec<String> = Vec::new();
    match parent {
        None => {}
        Some(Some(new_parent)) => {
            let Some(pp) = store::get_provider(&svc.db, c, new_parent).await? else {
                return Err(Refused::Tree("parent provider UUID does not exist.".into()));
            };
            if p.parent_uuid
                .as_deref()
                .is_some_and(|cur| cur != new_parent)
                && !allow_reparent
            {
                return Err(Refused::Tree(
                    "re-parenting a provider is not currently allowed.".into(),
                ));
            }
            let sub = subtree(svc, c, &p).await?;
            if sub.iter().any(|s| s == new_parent) {
                return Err(Refused::Tree(
                    "creating loop in the provider tree is not allowed.".into(),
                ));
            }
            p.parent_uuid = Some(new_parent.to_string());
            p.root_uuid = pp.root_uuid;
            moved = sub.into_iter().filter(|s| s != uuid).collect();
        }
        Some(None) if p.parent_uuid.is_some() => {
            if !allow_reparent {
                return Err(Refused::Tree(
                    "un-parenting a provider is not currently allowed.".into(),
                ));
            }
            let sub = subtree(svc, c, &p).await?;
            p.parent_uuid = None;
            p.root_uuid = p.uuid.clone();
            moved = sub.into_iter().filter(|s| s != uuid).collect();
        }
        Some(None) => {}
    }
    if p.name != name {
        let same = store::list_providers(&svc.db, c, Some(name), None, None).await?;
        if same.iter().any(|o| o.uuid != p.uuid) {
            return Err(Refused::Duplicate(name.to_string()));
        }
    }
    p.name = name.to_string();
    match store::update_provider(&svc.db, c, &p, &moved, now).await {
        Ok(()) => {}
        Err(DbError::Conflict(_)) => return Err(Refused::Duplicate(name.to_string())),
        Err(DbError::ForeignKey(_)) => {
            return Err(Refused::Tree("parent provider UUID does not exist.".into()));
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    p.updated_at = now;
    Ok(p)
}

pub async fn delete_provider(svc: &PlacementService, uuid: &str) -> Res<()> {
    let mut tx = svc.db.begin().await?;
    let c = tx.conn();
    let p = provider_in(svc, c, uuid).await?;
    // Lock out allocation writers while checking.
    bump(svc, c, uuid, p.generation, svc.now()).await?;
    if store::has_children(&svc.db, c, uuid).await? {
        return Err(Refused::HasChildren);
    }
    if store::has_allocations(&svc.db, c, uuid).await? {
        return Err(Refused::HasAllocations);
    }
    match store::delete_provider(&svc.db, c, uuid).await {
        Ok(true) => {}
        Ok(false) => return Err(Refused::ProviderNotFound(uuid.to_string())),
        Err(DbError::ForeignKey(_)) => return Err(Refused::HasChildren),
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Inventories

/// Warn about inventories now smaller than their usage (placement allows it).
async fn warn_over_capacity(
    svc: &PlacementService,
    c: &mut Conn,
    uuid: &str,
    invs: &[Inventory],
) -> Res<()> {
    let used = store::usage(&svc.db, c, Some(&[uuid.to_string()])).await?;
    for inv in invs {
        if let Some(u) = used.get(&(uuid.to_string(), inv.resource_class.clone()))
            && (*u as f64) > inv.capacity_f()
        {
            tracing::warn!(
                provider = uuid,
                resource_class = %inv.resource_class,
                "resource provider is now over capacity"
            );
        }
    }
    Ok(())
}

/// Replace a provider's whole inventory. `given`: the client's generation (None for
/// `DELETE /inventories`, which only guards against concurrent writers).
pub async fn replace_inventories(
    svc: &PlacementService,
    uuid: &str,
    given: Option<i64>,
    invs: &[Inventory],
) -> Res<(i64, Vec<Inventory>)> {
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let c = tx.conn();
    let p = provider_in(svc, c, uuid).await?;
    if let Some(g) = given
        && g != p.generation
    {
        return Err(Refused::Generation {
            actual: p.generation,
            given: g,
        });
    }
    bump(svc, c, uuid, p.generation, now).await?;
    for inv in invs {
        if !class_exists(svc, c, &inv.resource_class).await? {
            return Err(Refused::UnknownClass(inv.resource_class.clone()));
        }
    }
    set_inventories_in(svc, c, uuid, invs, now).await?;
    tx.commit().await?;
    let out = invs
        .iter()
        .map(|i| Inventory {
            updated_at: now,
            ..i.clone()
        })
        .collect();
    Ok((p.generation + 1, out))
}

/// The inventory rows of a replacement (no generation handling).
async fn set_inventories_in(
    svc: &PlacementService,
    c: &mut Conn,
    uuid: &str,
    invs: &[Inventory],
    now: i64,
) -> Res<()> {
    let existing = store::inventories(&svc.db, c, uuid).await?;
    let wanted: BTreeSet<&str> = invs.iter().map(|i| i.resource_class.as_str()).collect();
    let mut to_delete: Vec<String> = existing
        .keys()
        .filter(|k| !wanted.contains(k.as_str()))
        .cloned()
        .collect();
    to_delete.sort_by_key(|a| class_order(a));
    let mut in_use = store::classes_in_use(&svc.db, c, uuid, &to_delete).await?;
    if !in_use.is_empty() {
        in_use.sort_by_key(|a| class_order(a));
        return Err(Refused::InUse(in_use));
    }
    store::delete_inventories(&svc.db, c, uuid, &to_delete).await?;
    for inv in invs {
        let exists = existing.contains_key(&inv.resource_class);
        store::upsert_inventory(&svc.db, c, uuid, inv, exists, now)
            .await
            .map_err(db_conflict)?;
    }
    warn_over_capacity(svc, c, uuid, invs).await?;
    Ok(())
}

/// `POST /inventories`: add one class that is not there yet.
pub async fn add_inventory(
    svc: &PlacementService,
    uuid: &str,
    inv: &Inventory,
) -> Res<(i64, Inventory)> {
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let c = tx.conn();
    let p = provider_in(svc, c, uuid).await?;
    bump(svc, c, uuid, p.generation, now).await?;
    if !class_exists(svc, c, &inv.resource_class).await? {
        return Err(Refused::UnknownClass(inv.resource_class.clone()));
    }
    store::upsert_inventory(&svc.db, c, uuid, inv, false, now)
        .await
        .map_err(db_conflict)?;
    tx.commit().await?;
    Ok((
        p.generation + 1,
        Inventory {
            updated_at: now,
            ..inv.clone()
        },
    ))
}

/// `PUT /inventories/{rc}`: update one existing class.
pub async fn update_inventory(
    svc: &PlacementService,
    uuid: &str,
    given: i64,
    inv: &Inventory,
) -> Res<(i64, Inventory)> {
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let c = tx.conn();
    let p = provider_in(svc, c, uuid).await?;
    if given != p.generation {
        return Err(Refused::Generation {
            actual: p.generation,
            given,
        });
    }
    bump(svc, c, uuid, p.generation, now).await?;
    if !class_exists(svc, c, &inv.resource_class).await? {
        return Err(Refused::UnknownClass(inv.resource_class.clone()));
    }
    let existing = store::inventories(&svc.db, c, uuid).await?;
    if !existing.contains_key(&inv.resource_class) {
        return Err(Refused::NoInventory(inv.resource_class.clone()));
    }
    store::upsert_inventory(&svc.db, c, uuid, inv, true, now).await?;
    warn_over_capacity(svc, c, uuid, std::slice::from_ref(inv)).await?;
    tx.commit().await?;
    Ok((
        p.generation + 1,
        Inventory {
            updated_at: now,
            ..inv.clone()
        },
    ))
}

/// `DELETE /inventories/{rc}`.
pub async fn delete_inventory(svc: &PlacementService, uuid: &str, rc: &str) -> Res<()> {
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let c = tx.conn();
    let p = provider_in(svc, c, uuid).await?;
    if !class_exists(svc, c, rc).await? {
        return Err(Refused::UnknownClass(rc.to_string()));
    }
    bump(svc, c, uuid, p.generation, now).await?;
    let classes = vec![rc.to_string()];
    if !store::classes_in_use(&svc.db, c, uuid, &classes)
        .await?
        .is_empty()
    {
        return Err(Refused::InUse(classes));
    }
    if store::delete_inventories(&svc.db, c, uuid, &classes).await? == 0 {
        return Err(Refused::NoInventory(rc.to_string()));
    }
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Traits and aggregates

/// Replace a provider's traits; the generation moves only if something changed.
pub async fn set_traits(
    svc: &PlacementService,
    uuid: &str,
    given: Option<i64>,
    traits: &BTreeSet<String>,
) -> Res<i64> {
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let c = tx.conn();
    let p = provider_in(svc, c, uuid).await?;
    if let Some(g) = given
        && g != p.generation
    {
        return Err(Refused::Generation {
            actual: p.generation,
            given: g,
        });
    }
    let missing = missing_traits(svc, c, traits).await?;
    if !missing.is_empty() {
        return Err(Refused::UnknownTraits(missing));
    }
    let (current, _) = store::provider_traits(&svc.db, c, uuid).await?;
    let current: BTreeSet<String> = current.into_iter().collect();
    let add: Vec<String> = traits.difference(&current).cloned().collect();
    let remove: Vec<String> = current.difference(traits).cloned().collect();
    if add.is_empty() && remove.is_empty() {
        return Ok(p.generation);
    }
    bump(svc, c, uuid, p.generation, now).await?;
    store::set_provider_traits(&svc.db, c, uuid, &add, &remove, now)
        .await
        .map_err(db_conflict)?;
    tx.commit().await?;
    Ok(p.generation + 1)
}

/// Replace a provider's aggregates; with a generation (1.19+) it is checked and bumped.
pub async fn set_aggregates(
    svc: &PlacementService,
    uuid: &str,
    given: Option<i64>,
    aggs: &[String],
) -> Res<i64> {
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let c = tx.conn();
    let p = provider_in(svc, c, uuid).await?;
    if let Some(g) = given
        && g != p.generation
    {
        return Err(Refused::Generation {
            actual: p.generation,
            given: g,
        });
    }
    let generation = if given.is_some() {
        bump(svc, c, uuid, p.generation, now).await?;
        p.generation + 1
    } else {
        p.generation
    };
    let current: BTreeSet<String> = store::provider_aggregates(&svc.db, c, uuid)
        .await?
        .into_iter()
        .collect();
    let wanted: BTreeSet<String> = aggs.iter().cloned().collect();
    let add: Vec<String> = wanted.difference(&current).cloned().collect();
    let remove: Vec<String> = current.difference(&wanted).cloned().collect();
    store::set_provider_aggregates(&svc.db, c, uuid, &add, &remove)
        .await
        .map_err(db_conflict)?;
    tx.commit().await?;
    Ok(generation)
}

// ---------------------------------------------------------------------------
// Allocations

/// What a request asks for one consumer.
#[derive(Debug, Clone)]
pub struct ConsumerWrite {
    pub uuid: String,
    pub project_id: String,
    pub user_id: String,
    /// Checked when `check_generation` (1.28+): `None` means "must not exist yet".
    pub generation: Option<i64>,
    pub check_generation: bool,
    /// `None` keeps the consumer's type (before 1.38).
    pub consumer_type: Option<String>,
    /// provider -> class -> amount; empty clears the consumer's allocations.
    pub allocations: BTreeMap<String, BTreeMap<String, i64>>,
}

/// Replace the allocations of several consumers atomically, retrying (as placement
/// does) when only a provider generation moved under the writer.
pub async fn write_allocations(svc: &PlacementService, writes: &[ConsumerWrite]) -> Res<()> {
    let mut attempts = svc.cfg.allocation_conflict_retry_count.max(1);
    loop {
        attempts -= 1;
        match write_allocations_once(svc, writes, None).await {
            Err(Refused::Concurrent) if attempts > 0 => {
                tracing::debug!("retrying allocation write after a generation conflict");
                tokio::task::yield_now().await;
            }
            other => return other,
        }
    }
}

/// Inventories applied before the allocations are replaced (the reshaper's interim
/// inventory), per provider with the client's generation.
pub type InterimInventories<'a> = Option<&'a BTreeMap<String, (i64, Vec<Inventory>)>>;

async fn write_allocations_once(
    svc: &PlacementService,
    writes: &[ConsumerWrite],
    reshape: InterimInventories<'_>,
) -> Res<()> {
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let c = tx.conn();
    // Providers whose generation moves: those allocated from, those of consumers being
    // emptied, and reshaped ones (a consumer moving elsewhere leaves its old providers'
    // generations alone, as in placement).
    let mut providers: BTreeMap<String, Provider> = BTreeMap::new();
    for w in writes {
        for rp in w.allocations.keys() {
            if !providers.contains_key(rp) {
                match store::get_provider(&svc.db, c, rp).await? {
                    Some(p) => {
                        providers.insert(rp.clone(), p);
                    }
                    None => return Err(Refused::AllocationProvider(rp.clone())),
                }
            }
        }
    }
    // Consumers and their generations.
    let uuids: Vec<String> = writes.iter().map(|w| w.uuid.clone()).collect();
    let existing = store::consumers_of(&svc.db, c, &uuids).await?;
    let mut previous: Vec<Allocation> = Vec::new();
    for w in writes {
        match existing.get(&w.uuid) {
            Some(k) => {
                if w.check_generation && w.generation != Some(k.generation) {
                    return Err(Refused::ConsumerGeneration(format!(
                        "consumer generation conflict - expected {} but got {}",
                        k.generation,
                        w.generation
                            .map_or_else(|| "None".to_string(), |g| g.to_string())
                    )));
                }
                previous.extend(store::consumer_allocations(&svc.db, c, &w.uuid).await?);
            }
            None => {
                if w.check_generation
                    && let Some(g) = w.generation
                {
                    return Err(Refused::ConsumerGeneration(format!(
                        "consumer generation conflict - expected null but got {g}"
                    )));
                }
            }
        }
    }
    let emptied: BTreeSet<&str> = writes
        .iter()
        .filter(|w| w.allocations.is_empty())
        .map(|w| w.uuid.as_str())
        .collect();
    for a in &previous {
        if emptied.contains(a.consumer_uuid.as_str())
            && !providers.contains_key(&a.rp_uuid)
            && let Some(p) = store::get_provider(&svc.db, c, &a.rp_uuid).await?
        {
            providers.insert(a.rp_uuid.clone(), p);
        }
    }
    let in_allocations: BTreeSet<String> = providers.keys().cloned().collect();
    if let Some(interim) = reshape {
        for (rp, (given, _)) in interim {
            let p = match providers.get(rp) {
                Some(p) => p.clone(),
                None => provider_in(svc, c, rp).await?,
            };
            if *given != p.generation {
                return Err(Refused::Generation {
                    actual: p.generation,
                    given: *given,
                });
            }
            providers.insert(rp.clone(), p);
        }
    }
    // The guard: every provider touched, in UUID order. A reshape moves a provider's
    // generation as placement's does: once for its allocations, once for its interim
    // inventory (when it gets some) and once for its final inventory.
    for p in providers.values() {
        let mut by = 0;
        if in_allocations.contains(p.uuid.as_str()) {
            by += 1;
        }
        if let Some((_, invs)) = reshape.and_then(|r| r.get(&p.uuid)) {
            by += if invs.is_empty() { 1 } else { 2 };
        }
        if !store::bump_generation_by(&svc.db, c, &p.uuid, p.generation, by.max(1), now).await? {
            return Err(Refused::Concurrent);
        }
    }
    if let Some(interim) = reshape {
        for (rp, (_, invs)) in interim {
            // Interim inventory: what is there plus what is coming.
            let mut by_class = store::inventories(&svc.db, c, rp).await?;
            for inv in invs {
                if !class_exists(svc, c, &inv.resource_class).await? {
                    return Err(Refused::UnknownClass(inv.resource_class.clone()));
                }
                by_class.insert(inv.resource_class.clone(), inv.clone());
            }
            let merged: Vec<Inventory> = by_class.into_values().collect();
            set_inventories_in(svc, c, rp, &merged, now).await?;
        }
    }
    // Usage before and after removing the consumers' current allocations.
    let rp_list: Vec<String> = providers.keys().cloned().collect();
    let prev_used = store::usage(&svc.db, c, Some(&rp_list)).await?;
    for w in writes {
        store::delete_consumer_allocations(&svc.db, c, &w.uuid).await?;
    }
    let used = store::usage(&svc.db, c, Some(&rp_list)).await?;
    let inventories = store::inventories_of(&svc.db, c, &rp_list).await?;
    let mut wants: Vec<Want> = Vec::new();
    for w in writes {
        for (rp, res) in &w.allocations {
            for (rc, amount) in res {
                if !class_exists(svc, c, rc).await? {
                    return Err(Refused::UnknownClass(rc.clone()));
                }
                wants.push(Want {
                    provider: rp.clone(),
                    resource_class: rc.clone(),
                    amount: *amount,
                });
            }
        }
    }
    capacity::check(&wants, &inventories, &used, &prev_used).map_err(Refused::Capacity)?;
    for w in writes {
        for (rp, res) in &w.allocations {
            for (rc, amount) in res {
                let a = Allocation {
                    consumer_uuid: w.uuid.clone(),
                    rp_uuid: rp.clone(),
                    resource_class: rc.clone(),
                    used: *amount,
                    updated_at: now,
                };
                store::insert_allocation(&svc.db, c, &a, now)
                    .await
                    .map_err(db_conflict)?;
            }
        }
        // The consumer record: created, updated and generation-bumped, or removed
        // when it has nothing left.
        let base = existing.get(&w.uuid);
        let k = Consumer {
            uuid: w.uuid.clone(),
            project_id: w.project_id.clone(),
            user_id: w.user_id.clone(),
            consumer_type: match (&w.consumer_type, base) {
                (Some(t), _) => Some(t.clone()),
                (None, Some(b)) => b.consumer_type.clone(),
                (None, None) => None,
            },
            generation: 0,
            updated_at: now,
        };
        match base {
            Some(b) => {
                if !store::bump_consumer(&svc.db, c, &k, b.generation, now).await? {
                    return Err(Refused::Concurrent);
                }
                if w.allocations.is_empty() {
                    store::delete_consumer(&svc.db, c, &w.uuid).await?;
                }
            }
            None => {
                if !w.allocations.is_empty() {
                    // Created at generation 0, written once: generation 1.
                    let k = Consumer { generation: 1, ..k };
                    store::insert_consumer(&svc.db, c, &k, now)
                        .await
                        .map_err(|e| match e {
                            DbError::Conflict(_) => Refused::ConsumerGeneration(
                                "consumer generation conflict - expected null but the \
                                 consumer was created concurrently"
                                    .into(),
                            ),
                            other => Refused::Db(other),
                        })?;
                }
            }
        }
    }
    if let Some(interim) = reshape {
        // Final inventories: exactly what was asked.
        for (rp, (_, invs)) in interim {
            set_inventories_in(svc, c, rp, invs, now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// `DELETE /allocations/{consumer}`. False when the consumer had no allocations.
/// Unconditional, as in placement: removing allocations cannot overcommit anything,
/// and provider generations do not move.
pub async fn delete_allocations(svc: &PlacementService, consumer: &str) -> Res<bool> {
    let mut tx = svc.db.begin().await?;
    let c = tx.conn();
    let n = store::delete_consumer_allocations(&svc.db, c, consumer).await?;
    if n == 0 {
        return Ok(false);
    }
    store::delete_consumer(&svc.db, c, consumer).await?;
    tx.commit().await?;
    Ok(true)
}

/// `POST /reshaper`: move inventory and allocations in one transaction.
pub async fn reshape(
    svc: &PlacementService,
    inventories: &BTreeMap<String, (i64, Vec<Inventory>)>,
    writes: &[ConsumerWrite],
) -> Res<()> {
    write_allocations_once(svc, writes, Some(inventories)).await
}

impl From<Refused> for crate::Error {
    /// Default wording; handlers word the refusals placement words specially.
    fn from(r: Refused) -> Self {
        use crate::error::{Error, codes};
        match r {
            Refused::ProviderNotFound(u) => Error::provider_not_found(&u),
            Refused::Generation { .. } => Error::conflict_code(
                "resource provider generation conflict",
                codes::CONCURRENT_UPDATE,
            ),
            Refused::Concurrent => Error::conflict_code(
                "Another thread concurrently updated the data. Please retry your update",
                codes::CONCURRENT_UPDATE,
            ),
            Refused::UnknownClass(c) => Error::bad(format!("No such resource class {c}.")),
            Refused::UnknownTraits(t) => Error::bad(format!("No such trait {}", t.join(", "))),
            Refused::InUse(classes) => Error::conflict_code(
                format!("Inventory for '{}' in use.", classes.join(", ")),
                codes::INVENTORY_INUSE,
            ),
            Refused::NoInventory(c) => Error::not_found(format!("No inventory of class {c} found")),
            Refused::Duplicate(d) => Error::conflict_code(
                format!("Conflicting resource provider {d} already exists."),
                codes::DUPLICATE_NAME,
            ),
            Refused::Tree(m) => Error::bad(m),
            Refused::HasChildren => Error::conflict_code(
                "Cannot delete resource provider that is a parent of another. Delete child \
                 providers first.",
                codes::PROVIDER_CANNOT_DELETE_PARENT,
            ),
            Refused::HasAllocations => {
                Error::conflict_code("Resource provider has allocations.", codes::PROVIDER_IN_USE)
            }
            Refused::ConsumerGeneration(m) => Error::conflict_code(m, codes::CONCURRENT_UPDATE),
            Refused::AllocationProvider(rp) => Error::bad(format!(
                "Allocation for resource provider '{rp}' that does not exist."
            )),
            Refused::Capacity(c) => Error::conflict(format!("Unable to allocate inventory: {c}")),
            Refused::Db(e) => Error::Db(e),
        }
    }
}
