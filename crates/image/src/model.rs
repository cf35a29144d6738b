//! Images as stored, and their Glance v2 JSON rendering.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// Image statuses, as Glance names them.
pub mod status {
    pub const QUEUED: &str = "queued";
    pub const SAVING: &str = "saving";
    pub const ACTIVE: &str = "active";
    pub const KILLED: &str = "killed";
    pub const DELETED: &str = "deleted";
    pub const UPLOADING: &str = "uploading";
    pub const IMPORTING: &str = "importing";
    pub const DEACTIVATED: &str = "deactivated";
}

pub const VISIBILITIES: &[&str] = &["public", "private", "shared", "community"];

pub const DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];

pub const CONTAINER_FORMATS: &[&str] = &[
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];

/// Attributes that are not free-form properties (the core of the image schema).
pub const CORE: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "os_hidden",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "owner",
    "size",
    "virtual_size",
    "min_ram",
    "min_disk",
    "disk_format",
    "container_format",
    "created_at",
    "updated_at",
    "tags",
    "direct_url",
    "locations",
    "self",
    "file",
    "schema",
    "stores",
];

/// Read-only attributes a client may not set.
pub const READ_ONLY: &[&str] = &[
    "status",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "size",
    "virtual_size",
    "created_at",
    "updated_at",
    "direct_url",
    "self",
    "file",
    "schema",
    "stores",
    "deleted",
    "deleted_at",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub id: String,
    pub name: Option<String>,
    pub status: String,
    pub visibility: String,
    pub owner: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub min_disk: i64,
    pub min_ram: i64,
    pub protected: bool,
    pub os_hidden: bool,
    /// Microseconds since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
    pub properties: BTreeMap<String, String>,
    pub tags: Vec<String>,
    /// Stores holding the bits (active images).
    pub stores: Vec<String>,
}

/// Glance's timestamps: `2024-01-02T03:04:05Z`.
pub fn glance_time(us: i64) -> String {
    chrono::DateTime::from_timestamp(us.div_euclid(1_000_000), 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl Image {
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        // Custom properties first; core attributes overwrite any clash.
        for (k, v) in &self.properties {
            m.insert(k.clone(), json!(v));
        }
        let core = json!({
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "visibility": self.visibility,
            "protected": self.protected,
            "os_hidden": self.os_hidden,
            "checksum": self.checksum,
            "os_hash_algo": self.os_hash_algo,
            "os_hash_value": self.os_hash_value,
            "owner": self.owner,
            "size": self.size,
            "virtual_size": self.virtual_size,
            "min_ram": self.min_ram,
            "min_disk": self.min_disk,
            "disk_format": self.disk_format,
            "container_format": self.container_format,
            "created_at": glance_time(self.created_at),
            "updated_at": glance_time(self.updated_at),
            "tags": self.tags,
            "self": format!("/v2/images/{}", self.id),
            "file": format!("/v2/images/{}/file", self.id),
            "schema": "/v2/schemas/image",
        });
        if let Value::Object(c) = core {
            m.extend(c);
        }
        if !self.stores.is_empty() {
            // A set to clients: listed in name order whatever order the copies landed.
            let mut stores: Vec<&str> = self.stores.iter().map(String::as_str).collect();
            stores.sort_unstable();
            stores.dedup();
            m.insert("stores".into(), json!(stores.join(",")));
        }
        Value::Object(m)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub image_id: String,
    pub member: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Member {
    pub fn to_json(&self) -> Value {
        json!({
            "image_id": self.image_id,
            "member_id": self.member,
            "status": self.status,
            "created_at": glance_time(self.created_at),
            "updated_at": glance_time(self.updated_at),
            "schema": "/v2/schemas/member",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_core_and_properties() {
        let mut props = BTreeMap::new();
        props.insert("hw_disk_bus".to_string(), "virtio".to_string());
        props.insert("status".to_string(), "fake".to_string());
        let i = Image {
            id: "1".into(),
            name: Some("n".into()),
            status: status::QUEUED.into(),
            visibility: "shared".into(),
            owner: Some("p".into()),
            disk_format: None,
            container_format: None,
            size: None,
            virtual_size: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            min_disk: 0,
            min_ram: 0,
            protected: false,
            os_hidden: false,
            created_at: 0,
            updated_at: 1_000_000,
            properties: props,
            tags: vec!["t".into()],
            stores: vec![],
        };
        let v = i.to_json();
        assert_eq!(v["hw_disk_bus"], "virtio");
        assert_eq!(v["status"], "queued", "core attributes win");
        assert_eq!(v["updated_at"], "1970-01-01T00:00:01Z");
        assert_eq!(v["file"], "/v2/images/1/file");
        assert!(v.get("stores").is_none());
    }
}
