//! Identity resources as stored, with their keystone JSON renderings.

use serde::Serialize;
use serde_json::{Map, Value, json};

/// Extra attributes keystone keeps and returns verbatim (e.g. a user's `email`).
pub type Extra = Map<String, Value>;

pub fn parse_extra(s: Option<String>) -> Extra {
    s.and_then(|s| serde_json::from_str::<Extra>(&s).ok())
        .unwrap_or_default()
}

pub fn extra_json(e: &Extra) -> Option<String> {
    if e.is_empty() {
        None
    } else {
        Some(Value::Object(e.clone()).to_string())
    }
}

/// Add extra attributes to a rendering, never overriding its own members.
pub fn merge(mut base: Value, extra: &Extra) -> Value {
    if let Value::Object(m) = &mut base {
        for (k, v) in extra {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    base
}

/// A project, or a domain (`is_domain`).
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: String,
    pub name: String,
    /// For domains: [`crate::schema::ROOT_DOMAIN`].
    pub domain_id: String,
    pub parent_id: Option<String>,
    pub is_domain: bool,
    pub enabled: bool,
    pub description: Option<String>,
    pub extra: Extra,
    pub options: Extra,
    pub tags: Vec<String>,
}

impl Project {
    pub fn to_project_json(&self, base: &str) -> Value {
        let domain_id = if self.is_domain {
            Value::Null
        } else {
            json!(self.domain_id)
        };
        merge(
            json!({
                "id": self.id,
                "name": self.name,
                "domain_id": domain_id,
                "parent_id": self.parent_id,
                "is_domain": self.is_domain,
                "enabled": self.enabled,
                "description": self.description.clone().unwrap_or_default(),
                "tags": self.tags,
                "options": self.options,
                "links": {"self": format!("{base}/v3/projects/{}", self.id)},
            }),
            &self.extra,
        )
    }

    pub fn to_domain_json(&self, base: &str) -> Value {
        merge(
            json!({
                "id": self.id,
                "name": self.name,
                "enabled": self.enabled,
                "description": self.description.clone().unwrap_or_default(),
                "tags": self.tags,
                "options": self.options,
                "links": {"self": format!("{base}/v3/domains/{}", self.id)},
            }),
            &self.extra,
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub enabled: bool,
    pub default_project_id: Option<String>,
    pub description: Option<String>,
    pub extra: Extra,
    pub options: Extra,
    pub created_at: i64,
    pub last_active_at: Option<i64>,
    pub password_expires_at: Option<i64>,
    pub failed_auth_count: i64,
    pub failed_auth_at: Option<i64>,
}

impl User {
    pub fn to_json(&self, base: &str) -> Value {
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "domain_id": self.domain_id,
            "enabled": self.enabled,
            "password_expires_at": self.password_expires_at.map(crate::clock::iso_micros),
            "options": self.options,
            "links": {"self": format!("{base}/v3/users/{}", self.id)},
        });
        if let Value::Object(m) = &mut v {
            if let Some(p) = &self.default_project_id {
                m.insert("default_project_id".into(), json!(p));
            }
            if let Some(d) = &self.description {
                m.insert("description".into(), json!(d));
            }
        }
        merge(v, &self.extra)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub description: Option<String>,
    pub extra: Extra,
}

impl Group {
    pub fn to_json(&self, base: &str) -> Value {
        merge(
            json!({
                "id": self.id,
                "name": self.name,
                "domain_id": self.domain_id,
                "description": self.description.clone().unwrap_or_default(),
                "links": {"self": format!("{base}/v3/groups/{}", self.id)},
            }),
            &self.extra,
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub id: String,
    pub name: String,
    /// `None` for global roles.
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub extra: Extra,
    pub options: Extra,
}

impl Role {
    pub fn to_json(&self, base: &str) -> Value {
        merge(
            json!({
                "id": self.id,
                "name": self.name,
                "domain_id": self.domain_id,
                "description": self.description,
                "options": self.options,
                "links": {"self": format!("{base}/v3/roles/{}", self.id)},
            }),
            &self.extra,
        )
    }

    /// The short form used inside implied-role documents.
    pub fn brief(&self, base: &str) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "links": {"self": format!("{base}/v3/roles/{}", self.id)},
        })
    }
}

/// Who holds a role on what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum AssignmentKind {
    UserProject,
    GroupProject,
    UserDomain,
    GroupDomain,
    UserSystem,
    GroupSystem,
}

impl AssignmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentKind::UserProject => "UserProject",
            AssignmentKind::GroupProject => "GroupProject",
            AssignmentKind::UserDomain => "UserDomain",
            AssignmentKind::GroupDomain => "GroupDomain",
            AssignmentKind::UserSystem => "UserSystem",
            AssignmentKind::GroupSystem => "GroupSystem",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "UserProject" => AssignmentKind::UserProject,
            "GroupProject" => AssignmentKind::GroupProject,
            "UserDomain" => AssignmentKind::UserDomain,
            "GroupDomain" => AssignmentKind::GroupDomain,
            "UserSystem" => AssignmentKind::UserSystem,
            "GroupSystem" => AssignmentKind::GroupSystem,
            _ => return None,
        })
    }

    pub fn is_group(self) -> bool {
        matches!(
            self,
            AssignmentKind::GroupProject
                | AssignmentKind::GroupDomain
                | AssignmentKind::GroupSystem
        )
    }
}

/// A stored role assignment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Assignment {
    pub kind: AssignmentKind,
    pub actor_id: String,
    /// Project or domain id, or `system` (always `all`).
    pub target_id: String,
    pub role_id: String,
    pub inherited: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub id: String,
    pub description: Option<String>,
    pub parent_region_id: Option<String>,
    pub extra: Extra,
}

impl Region {
    pub fn to_json(&self, base: &str) -> Value {
        merge(
            json!({
                "id": self.id,
                "description": self.description.clone().unwrap_or_default(),
                "parent_region_id": self.parent_region_id,
                "links": {"self": format!("{base}/v3/regions/{}", self.id)},
            }),
            &self.extra,
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub id: String,
    pub service_type: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub extra: Extra,
}

impl Service {
    pub fn to_json(&self, base: &str) -> Value {
        let mut v = json!({
            "id": self.id,
            "type": self.service_type,
            "enabled": self.enabled,
            "links": {"self": format!("{base}/v3/services/{}", self.id)},
        });
        if let Value::Object(m) = &mut v {
            if let Some(n) = &self.name {
                m.insert("name".into(), json!(n));
            }
            if let Some(d) = &self.description {
                m.insert("description".into(), json!(d));
            }
        }
        merge(v, &self.extra)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub service_id: String,
    pub interface: String,
    pub url: String,
    pub region_id: Option<String>,
    pub enabled: bool,
    pub extra: Extra,
}

impl Endpoint {
    pub fn to_json(&self, base: &str) -> Value {
        merge(
            json!({
                "id": self.id,
                "service_id": self.service_id,
                "interface": self.interface,
                "url": self.url,
                "region_id": self.region_id,
                "region": self.region_id,
                "enabled": self.enabled,
                "links": {"self": format!("{base}/v3/endpoints/{}", self.id)},
            }),
            &self.extra,
        )
    }
}

/// New opaque ids, as keystone makes them: 32 lowercase hex digits.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
