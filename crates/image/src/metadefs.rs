//! Metadata definitions ("metadefs"): namespaces and the objects, properties, tags and
//! resource-type associations inside them, stored as SQL rows whose free-form parts (a
//! property's JSON schema, an object's properties) are JSON documents.
//!
//! Children reference their namespace by its internal id, so renaming a namespace keeps them.

use db::{Db, RowExt};
use serde_json::{Map, Value, json};

use crate::model::glance_time;

/// The resource types every Glance database starts with.
pub const SEED_RESOURCE_TYPES: &[&str] = &[
    "OS::Glance::Image",
    "OS::Cinder::Volume",
    "OS::Nova::Flavor",
    "OS::Nova::Aggregate",
    "OS::Nova::Server",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Namespace {
    pub id: String,
    pub namespace: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub visibility: String,
    pub protected: bool,
    pub owner: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Namespace {
    pub fn href(&self) -> String {
        format!("/v2/metadefs/namespaces/{}", self.namespace)
    }

    /// The namespace's own fields as Glance renders them (children are added by callers).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "namespace": self.namespace,
            "visibility": self.visibility,
            "protected": self.protected,
            "owner": self.owner,
            "created_at": glance_time(self.created_at),
            "updated_at": glance_time(self.updated_at),
            "self": self.href(),
            "schema": "/v2/schemas/metadefs/namespace",
        });
        if let Some(d) = &self.display_name {
            v["display_name"] = json!(d);
        }
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        v
    }

    /// The policy target: owner as `project_id` and the visibility.
    pub fn target(&self) -> Value {
        json!({"project_id": self.owner, "owner": self.owner, "visibility": self.visibility})
    }
}

/// A named JSON document inside a namespace: an object (`body` = description, required,
/// properties) or a property (`body` = its JSON schema).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub name: String,
    pub body: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Association {
    pub name: String,
    pub prefix: Option<String>,
    pub properties_target: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Association {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "created_at": glance_time(self.created_at),
            "updated_at": glance_time(self.updated_at),
        });
        if let Some(p) = &self.prefix {
            v["prefix"] = json!(p);
        }
        if let Some(p) = &self.properties_target {
            v["properties_target"] = json!(p);
        }
        v
    }
}

/// Which kind of child document a table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Property,
    Tag,
}

impl Kind {
    /// The word glance's messages use for this kind.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Object => "object",
            Kind::Property => "property",
            Kind::Tag => "tag",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Kind::Object => "metadef_object",
            Kind::Property => "metadef_property",
            Kind::Tag => "metadef_tag",
        }
    }
}

const NS_COLS: &str = "id, namespace, display_name, description, visibility, protected, owner, created_at, updated_at";

fn ns_row(r: &db::Row) -> db::Result<Namespace> {
    Ok(Namespace {
        id: r.text("id")?,
        namespace: r.text("namespace")?,
        display_name: r.opt_text("display_name")?,
        description: r.opt_text("description")?,
        visibility: r.text("visibility")?,
        protected: r.flag("protected")?,
        owner: r.text("owner")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

/// Create the seed resource types when missing (idempotent).
pub async fn seed(db: &Db, now: i64) -> db::Result<()> {
    for name in SEED_RESOURCE_TYPES {
        ensure_resource_type(db, name, true, now).await?;
    }
    Ok(())
}

async fn ensure_resource_type(db: &Db, name: &str, protected: bool, now: i64) -> db::Result<()> {
    let exists = db
        .q("SELECT name FROM metadef_resource_type WHERE name = ?")
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .is_some();
    if !exists {
        let r = db
            .q("INSERT INTO metadef_resource_type (name, protected, created_at, updated_at) VALUES (?, ?, ?, ?)")
            .bind(name)
            .bind(protected)
            .bind(now)
            .bind(now)
            .execute(db.pool())
            .await;
        match r {
            Ok(_) | Err(db::DbError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Every resource type, by name.
pub async fn resource_types(db: &Db) -> db::Result<Vec<(String, i64, i64)>> {
    db.q("SELECT name, created_at, updated_at FROM metadef_resource_type ORDER BY name")
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.text("name")?, r.int("created_at")?, r.int("updated_at")?)))
        .collect()
}

pub async fn get(db: &Db, namespace: &str) -> db::Result<Option<Namespace>> {
    db.q(&format!(
        "SELECT {NS_COLS} FROM metadef_namespace WHERE namespace = ?"
    ))
    .bind(namespace)
    .fetch_optional(db.pool())
    .await?
    .as_ref()
    .map(ns_row)
    .transpose()
}

/// Namespace listing options.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `None`: everything (admin); `Some(p)`: public ones and those owned by `p`.
    pub viewer: Option<String>,
    pub visibility: Option<String>,
    pub resource_types: Vec<String>,
    pub sort_key: String,
    pub ascending: bool,
    pub marker: Option<Namespace>,
    pub limit: usize,
}

/// A page of namespaces, plus whether more follow.
pub async fn list(db: &Db, q: &ListQuery) -> db::Result<(Vec<Namespace>, bool)> {
    let mut sql = format!("SELECT {NS_COLS} FROM metadef_namespace n WHERE 1 = 1");
    let mut args: Vec<db::Arg> = Vec::new();
    if let Some(p) = &q.viewer {
        sql.push_str(" AND (visibility = 'public' OR owner = ?)");
        args.push(p.into());
    }
    if let Some(v) = &q.visibility {
        sql.push_str(" AND visibility = ?");
        args.push(v.into());
    }
    if !q.resource_types.is_empty() {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM metadef_ns_resource_type a WHERE a.namespace_id = n.id AND a.resource_type IN ({}))",
            db::placeholders(q.resource_types.len())
        ));
        args.extend(q.resource_types.iter().map(db::Arg::from));
    }
    let col = match q.sort_key.as_str() {
        "namespace" => "namespace",
        "updated_at" => "updated_at",
        _ => "created_at",
    };
    let (cmp, dir) = if q.ascending {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    if let Some(m) = &q.marker {
        let mv: db::Arg = match col {
            "namespace" => m.namespace.clone().into(),
            "updated_at" => m.updated_at.into(),
            _ => m.created_at.into(),
        };
        sql.push_str(&format!(
            " AND ({col} {cmp} ? OR ({col} = ? AND id {cmp} ?))"
        ));
        args.push(mv.clone());
        args.push(mv);
        args.push(m.id.clone().into());
    }
    sql.push_str(&format!(" ORDER BY {col} {dir}, id {dir}"));
    let limit = q.limit.max(1);
    sql.push_str(&format!(" LIMIT {}", limit + 1));
    let mut items: Vec<Namespace> = db
        .q(&sql)
        .bind_all(args)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(ns_row)
        .collect::<db::Result<_>>()?;
    let more = items.len() > limit;
    items.truncate(limit);
    Ok((items, more))
}

/// Everything a namespace is created with, written in one transaction.
#[derive(Debug, Default)]
pub struct NewChildren {
    pub associations: Vec<Association>,
    pub objects: Vec<Item>,
    pub properties: Vec<Item>,
    pub tags: Vec<Item>,
}

pub async fn insert(db: &Db, ns: &Namespace, children: &NewChildren) -> db::Result<()> {
    let mut tx = db.begin().await?;
    db.q(&format!(
        "INSERT INTO metadef_namespace ({NS_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&ns.id)
    .bind(&ns.namespace)
    .bind(&ns.display_name)
    .bind(&ns.description)
    .bind(&ns.visibility)
    .bind(ns.protected)
    .bind(&ns.owner)
    .bind(ns.created_at)
    .bind(ns.updated_at)
    .execute(tx.conn())
    .await?;
    for a in &children.associations {
        insert_association_tx(db, &mut tx, &ns.id, a).await?;
    }
    for (kind, items) in [
        (Kind::Object, &children.objects),
        (Kind::Property, &children.properties),
        (Kind::Tag, &children.tags),
    ] {
        for i in items {
            insert_item_tx(db, &mut tx, kind, &ns.id, i).await?;
        }
    }
    tx.commit().await
}

pub async fn update(db: &Db, ns: &Namespace) -> db::Result<()> {
    db.q("UPDATE metadef_namespace SET namespace = ?, display_name = ?, description = ?, visibility = ?, protected = ?, owner = ?, updated_at = ? WHERE id = ?")
        .bind(&ns.namespace)
        .bind(&ns.display_name)
        .bind(&ns.description)
        .bind(&ns.visibility)
        .bind(ns.protected)
        .bind(&ns.owner)
        .bind(ns.updated_at)
        .bind(&ns.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Delete a namespace and everything in it.
pub async fn delete(db: &Db, ns_id: &str) -> db::Result<()> {
    let mut tx = db.begin().await?;
    for t in [
        "metadef_object",
        "metadef_property",
        "metadef_tag",
        "metadef_ns_resource_type",
    ] {
        db.q(&format!("DELETE FROM {t} WHERE namespace_id = ?"))
            .bind(ns_id)
            .execute(tx.conn())
            .await?;
    }
    db.q("DELETE FROM metadef_namespace WHERE id = ?")
        .bind(ns_id)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

// ---- objects, properties, tags -------------------------------------------------------------

fn item_row(r: &db::Row) -> db::Result<Item> {
    let body = r
        .opt_text("body")?
        .and_then(|s| serde_json::from_str::<Map<String, Value>>(&s).ok())
        .unwrap_or_default();
    Ok(Item {
        name: r.text("name")?,
        body,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

async fn insert_item_tx(
    db: &Db,
    tx: &mut db::Tx,
    kind: Kind,
    ns_id: &str,
    i: &Item,
) -> db::Result<()> {
    db.q(&format!(
        "INSERT INTO {} (namespace_id, name, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        kind.table()
    ))
    .bind(ns_id)
    .bind(&i.name)
    .bind(Value::Object(i.body.clone()).to_string())
    .bind(i.created_at)
    .bind(i.updated_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn items(db: &Db, kind: Kind, ns_id: &str) -> db::Result<Vec<Item>> {
    db.q(&format!(
        "SELECT name, body, created_at, updated_at FROM {} WHERE namespace_id = ? ORDER BY created_at, name",
        kind.table()
    ))
    .bind(ns_id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(item_row)
    .collect()
}

pub async fn item(db: &Db, kind: Kind, ns_id: &str, name: &str) -> db::Result<Option<Item>> {
    db.q(&format!(
        "SELECT name, body, created_at, updated_at FROM {} WHERE namespace_id = ? AND name = ?",
        kind.table()
    ))
    .bind(ns_id)
    .bind(name)
    .fetch_optional(db.pool())
    .await?
    .as_ref()
    .map(item_row)
    .transpose()
}

pub async fn insert_item(db: &Db, kind: Kind, ns_id: &str, i: &Item) -> db::Result<()> {
    let mut tx = db.begin().await?;
    insert_item_tx(db, &mut tx, kind, ns_id, i).await?;
    tx.commit().await
}

/// Add items in one transaction, first removing every existing one of the kind when
/// `replace` (the tag list's "create" without append).
pub async fn put_items(
    db: &Db,
    kind: Kind,
    ns_id: &str,
    items: &[Item],
    replace: bool,
) -> db::Result<()> {
    let mut tx = db.begin().await?;
    if replace {
        db.q(&format!(
            "DELETE FROM {} WHERE namespace_id = ?",
            kind.table()
        ))
        .bind(ns_id)
        .execute(tx.conn())
        .await?;
    }
    for i in items {
        insert_item_tx(db, &mut tx, kind, ns_id, i).await?;
    }
    tx.commit().await
}

/// Rename and/or rewrite one item; false when it does not exist.
pub async fn update_item(
    db: &Db,
    kind: Kind,
    ns_id: &str,
    old_name: &str,
    i: &Item,
) -> db::Result<bool> {
    let n = db
        .q(&format!(
            "UPDATE {} SET name = ?, body = ?, updated_at = ? WHERE namespace_id = ? AND name = ?",
            kind.table()
        ))
        .bind(&i.name)
        .bind(Value::Object(i.body.clone()).to_string())
        .bind(i.updated_at)
        .bind(ns_id)
        .bind(old_name)
        .execute(db.pool())
        .await?;
    Ok(n > 0)
}

/// Delete one item (`Some(name)`) or all of a kind; returns how many went.
pub async fn delete_items(db: &Db, kind: Kind, ns_id: &str, name: Option<&str>) -> db::Result<u64> {
    let mut sql = format!("DELETE FROM {} WHERE namespace_id = ?", kind.table());
    if name.is_some() {
        sql.push_str(" AND name = ?");
    }
    let mut q = db.q(&sql).bind(ns_id);
    if let Some(n) = name {
        q = q.bind(n);
    }
    q.execute(db.pool()).await
}

// ---- resource type associations -----------------------------------------------------------

async fn insert_association_tx(
    db: &Db,
    tx: &mut db::Tx,
    ns_id: &str,
    a: &Association,
) -> db::Result<()> {
    let exists = db
        .q("SELECT name FROM metadef_resource_type WHERE name = ?")
        .bind(&a.name)
        .fetch_optional(tx.conn())
        .await?
        .is_some();
    if !exists {
        db.q("INSERT INTO metadef_resource_type (name, protected, created_at, updated_at) VALUES (?, ?, ?, ?)")
            .bind(&a.name)
            .bind(false)
            .bind(a.created_at)
            .bind(a.created_at)
            .execute(tx.conn())
            .await?;
    }
    db.q("INSERT INTO metadef_ns_resource_type (namespace_id, resource_type, prefix, properties_target, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(ns_id)
        .bind(&a.name)
        .bind(&a.prefix)
        .bind(&a.properties_target)
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Associate a resource type (created when unknown, as Glance does).
pub async fn add_association(db: &Db, ns_id: &str, a: &Association) -> db::Result<()> {
    let mut tx = db.begin().await?;
    insert_association_tx(db, &mut tx, ns_id, a).await?;
    tx.commit().await
}

pub async fn associations(db: &Db, ns_id: &str) -> db::Result<Vec<Association>> {
    db.q("SELECT resource_type, prefix, properties_target, created_at, updated_at FROM metadef_ns_resource_type WHERE namespace_id = ? ORDER BY created_at, resource_type")
        .bind(ns_id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(Association {
                name: r.text("resource_type")?,
                prefix: r.opt_text("prefix")?,
                properties_target: r.opt_text("properties_target")?,
                created_at: r.int("created_at")?,
                updated_at: r.int("updated_at")?,
            })
        })
        .collect()
}

pub async fn remove_association(db: &Db, ns_id: &str, resource_type: &str) -> db::Result<u64> {
    db.q("DELETE FROM metadef_ns_resource_type WHERE namespace_id = ? AND resource_type = ?")
        .bind(ns_id)
        .bind(resource_type)
        .execute(db.pool())
        .await
}

/// How a listing of a namespace's children is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemSort {
    CreatedAt,
    UpdatedAt,
    Name,
}

impl ItemSort {
    pub fn parse(key: &str) -> Option<Self> {
        match key {
            "created_at" => Some(Self::CreatedAt),
            "updated_at" => Some(Self::UpdatedAt),
            "name" => Some(Self::Name),
            _ => None,
        }
    }
}

/// One page of `items`: sorted by `sort` (ties by name, in the same direction), starting
/// after the item named `marker`, at most `limit` long. `None` when the marker is not one of
/// the items.
pub fn page_items(
    mut items: Vec<Item>,
    sort: ItemSort,
    ascending: bool,
    marker: Option<&str>,
    limit: Option<usize>,
) -> Option<Vec<Item>> {
    items.sort_by(|a, b| {
        let by = match sort {
            ItemSort::CreatedAt => a.created_at.cmp(&b.created_at),
            ItemSort::UpdatedAt => a.updated_at.cmp(&b.updated_at),
            ItemSort::Name => std::cmp::Ordering::Equal,
        }
        .then_with(|| a.name.cmp(&b.name));
        if ascending { by } else { by.reverse() }
    });
    let start = match marker {
        Some(m) => items.iter().position(|i| i.name == m)? + 1,
        None => 0,
    };
    let end = limit.map_or(items.len(), |l| items.len().min(start + l));
    items.truncate(end);
    Some(items.split_off(start))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tag(name: &str, at: i64) -> Item {
        Item {
            name: name.into(),
            body: Map::new(),
            created_at: at,
            updated_at: 10 - at,
        }
    }

    #[test]
    fn tag_pages_follow_sort_marker_and_limit() {
        let tags = vec![tag("b", 1), tag("a", 2), tag("c", 3), tag("d", 3)];
        let names = |v: Option<Vec<Item>>| -> Vec<String> {
            v.unwrap().into_iter().map(|i| i.name).collect()
        };
        // glance's default: newest first
        let all = page_items(tags.clone(), ItemSort::CreatedAt, false, None, None);
        assert_eq!(names(all), ["d", "c", "a", "b"]);
        let first = page_items(tags.clone(), ItemSort::Name, true, None, Some(2));
        assert_eq!(names(first), ["a", "b"]);
        let next = page_items(tags.clone(), ItemSort::Name, true, Some("b"), Some(2));
        assert_eq!(names(next), ["c", "d"]);
        let last = page_items(tags.clone(), ItemSort::Name, true, Some("d"), Some(2));
        assert!(names(last).is_empty());
        let by_update = page_items(tags.clone(), ItemSort::UpdatedAt, true, None, Some(1));
        assert_eq!(names(by_update), ["c"]);
        assert!(page_items(tags, ItemSort::Name, true, Some("zz"), None).is_none());
    }

    async fn db() -> Db {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        db.migrate("image", crate::schema::MIGRATIONS)
            .await
            .unwrap();
        seed(&db, 1).await.unwrap();
        db
    }

    fn ns(name: &str, owner: &str, visibility: &str, at: i64) -> Namespace {
        Namespace {
            id: format!("id-{name}"),
            namespace: name.into(),
            display_name: None,
            description: None,
            visibility: visibility.into(),
            protected: false,
            owner: owner.into(),
            created_at: at,
            updated_at: at,
        }
    }

    fn item(name: &str) -> Item {
        Item {
            name: name.into(),
            body: Map::new(),
            created_at: 1,
            updated_at: 1,
        }
    }

    #[tokio::test]
    async fn seed_is_idempotent() {
        let db = db().await;
        seed(&db, 2).await.unwrap();
        let names: Vec<String> = resource_types(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert!(names.contains(&"OS::Glance::Image".to_string()));
        assert_eq!(names.len(), 5);
    }

    #[tokio::test]
    async fn listing_honours_visibility_resource_types_and_markers() {
        let db = db().await;
        let assoc = Association {
            name: "OS::Nova::Flavor".into(),
            prefix: None,
            properties_target: None,
            created_at: 1,
            updated_at: 1,
        };
        let with_assoc = NewChildren {
            associations: vec![assoc],
            ..Default::default()
        };
        insert(&db, &ns("a", "p1", "public", 1), &with_assoc)
            .await
            .unwrap();
        insert(&db, &ns("b", "p1", "private", 2), &NewChildren::default())
            .await
            .unwrap();
        insert(&db, &ns("c", "p2", "private", 3), &NewChildren::default())
            .await
            .unwrap();
        let q = |viewer: Option<&str>| ListQuery {
            viewer: viewer.map(str::to_string),
            sort_key: "namespace".into(),
            ascending: true,
            limit: 10,
            ..Default::default()
        };
        let names = |v: Vec<Namespace>| v.into_iter().map(|n| n.namespace).collect::<Vec<_>>();
        assert_eq!(
            names(list(&db, &q(Some("p2"))).await.unwrap().0),
            ["a", "c"]
        );
        assert_eq!(names(list(&db, &q(None)).await.unwrap().0), ["a", "b", "c"]);
        let mut rt = q(None);
        rt.resource_types = vec!["OS::Nova::Flavor".into()];
        assert_eq!(names(list(&db, &rt).await.unwrap().0), ["a"]);
        let mut page = q(None);
        page.limit = 1;
        let (first, more) = list(&db, &page).await.unwrap();
        assert!(more);
        page.marker = first.into_iter().next();
        let (second, _) = list(&db, &page).await.unwrap();
        assert_eq!(names(second), ["b"]);
    }

    #[tokio::test]
    async fn a_failed_create_leaves_nothing_and_delete_cascades() {
        let db = db().await;
        let dup = NewChildren {
            objects: vec![item("o"), item("o")],
            ..Default::default()
        };
        assert!(insert(&db, &ns("x", "p", "public", 1), &dup).await.is_err());
        assert!(get(&db, "x").await.unwrap().is_none(), "rolled back");
        let ok = NewChildren {
            objects: vec![item("o")],
            properties: vec![item("p")],
            tags: vec![item("t1"), item("t2")],
            ..Default::default()
        };
        let n = ns("x", "p", "public", 1);
        insert(&db, &n, &ok).await.unwrap();
        put_items(&db, Kind::Tag, &n.id, &[item("t3")], true)
            .await
            .unwrap();
        let tags: Vec<String> = items(&db, Kind::Tag, &n.id)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.name)
            .collect();
        assert_eq!(tags, ["t3"]);
        delete(&db, &n.id).await.unwrap();
        assert!(get(&db, "x").await.unwrap().is_none());
        assert!(items(&db, Kind::Object, &n.id).await.unwrap().is_empty());
        assert!(items(&db, Kind::Property, &n.id).await.unwrap().is_empty());
    }
}
