//! What a guest learns about itself, in nova's formats: the OpenStack metadata tree
//! (`openstack/<version>/meta_data.json`, `user_data`, `network_data.json`,
//! `vendor_data*.json`, `password`) and the EC2-style tree (`<version>/meta-data/…`,
//! `user-data`), written onto config drives and served over HTTP like
//! nova-api-metadata.

mod service;

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use service::{InstanceFinder, router};

/// EC2 metadata versions nova serves.
pub const EC2_VERSIONS: &[&str] = &[
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
];

/// OpenStack metadata versions nova serves (the release dates that changed it).
pub const OPENSTACK_VERSIONS: &[&str] = &[
    "2012-08-10",
    "2013-04-04",
    "2013-10-17",
    "2015-10-15",
    "2016-06-30",
    "2016-10-06",
    "2017-02-22",
    "2018-08-27",
    "2020-10-14",
    "2025-04-04",
];

const GRIZZLY: &str = "2013-04-04";
const HAVANA: &str = "2013-10-17";
const LIBERTY: &str = "2015-10-15";
const NEWTON_ONE: &str = "2016-06-30";
const NEWTON_TWO: &str = "2016-10-06";
const VICTORIA: &str = "2020-10-14";

/// Everything about one instance its metadata is made of.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InstanceMetadata {
    pub uuid: String,
    /// The display name.
    pub name: String,
    pub hostname: String,
    pub project_id: String,
    pub availability_zone: Option<String>,
    pub launch_index: i64,
    pub reservation_id: String,
    /// `instance-0000002a`
    pub hypervisor_name: String,
    /// The instance's numeric id (EC2 `i-0000002a`).
    pub instance_id: i64,
    /// The flavor's name.
    pub instance_type: String,
    pub image_id: String,
    pub kernel_id: Option<String>,
    pub ramdisk_id: Option<String>,
    pub user_data: Option<Vec<u8>>,
    /// `(key pair name, public key)`
    pub public_keys: Vec<(String, String)>,
    /// `ssh` or `x509`.
    pub key_type: Option<String>,
    /// Server metadata (string values).
    pub meta: Map<String, Value>,
    pub fixed_ips: Vec<String>,
    pub floating_ips: Vec<String>,
    pub security_groups: Vec<String>,
    /// `network_data.json` (`{"links": [], "networks": [], "services": []}` without
    /// networking).
    pub network_data: Value,
    /// The static vendor data (`vendor_data.json`, `vendor_data2.json`'s `static`).
    pub vendor_data: Value,
    pub launched_at: Option<String>,
    /// The encrypted password a guest posted (served back at `password`).
    pub admin_pass: Option<String>,
    /// Tagged devices (`devices` of meta_data.json since 2016-06-30).
    pub devices: Vec<Value>,
    pub dedicated_cpus: Vec<u32>,
}

/// What a metadata path resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Ok {
        content_type: &'static str,
        body: Vec<u8>,
    },
    NotFound,
}

const TEXT: &str = "text/plain";
const JSON: &str = "application/json";

fn at_least(versions: &[&str], required: &str, requested: &str) -> bool {
    let pos = |v: &str| versions.iter().position(|x| *x == v);
    match (pos(required), pos(requested)) {
        (Some(a), Some(b)) => b >= a,
        _ => false,
    }
}

fn os_at_least(required: &str, version: &str) -> bool {
    at_least(OPENSTACK_VERSIONS, required, version)
}

/// `latest` → the newest; unknown → None.
fn resolve<'a>(versions: &[&'a str], v: &str) -> Option<&'a str> {
    if v == "latest" {
        return versions.last().copied();
    }
    versions.iter().find(|x| **x == v).copied()
}

/// `ami-` / `aki-` / `ari-` ids from image uuids (stable, as nova's EC2 id mapping).
fn ec2_image_id(prefix: &str, uuid: &str) -> String {
    let hex: String = uuid
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(8)
        .collect();
    format!("{prefix}-{hex:0>8}")
}

impl InstanceMetadata {
    /// `openstack/<version>/meta_data.json`.
    pub fn meta_data_json(&self, version: &str) -> Value {
        let mut m = Map::new();
        m.insert("uuid".into(), json!(self.uuid));
        if !self.meta.is_empty() {
            m.insert("meta".into(), Value::Object(self.meta.clone()));
        }
        if let Some((name, key)) = self.public_keys.first() {
            m.insert("public_keys".into(), json!({ name: key }));
            m.insert(
                "keys".into(),
                json!([{"name": name, "type": self.key_type.as_deref().unwrap_or("ssh"), "data": key}]),
            );
        }
        m.insert("hostname".into(), json!(self.hostname));
        m.insert("name".into(), json!(self.name));
        m.insert("launch_index".into(), json!(self.launch_index));
        m.insert("availability_zone".into(), json!(self.availability_zone));
        if os_at_least(GRIZZLY, version) {
            let seed: Vec<u8> = (0..512).map(|_| rand::random::<u8>()).collect();
            m.insert(
                "random_seed".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(seed)),
            );
        }
        if os_at_least(LIBERTY, version) {
            m.insert("project_id".into(), json!(self.project_id));
        }
        if os_at_least(NEWTON_ONE, version) {
            m.insert("devices".into(), json!(self.devices));
        }
        if os_at_least(VICTORIA, version) {
            m.insert("dedicated_cpus".into(), json!(self.dedicated_cpus));
        }
        Value::Object(m)
    }

    fn network_data_json(&self) -> Value {
        if self.network_data.is_null() {
            json!({"links": [], "networks": [], "services": []})
        } else {
            self.network_data.clone()
        }
    }

    fn vendor_static(&self) -> Value {
        if self.vendor_data.is_null() {
            json!({})
        } else {
            self.vendor_data.clone()
        }
    }

    /// The EC2 tree of a version (`meta-data`, and `user-data` when there is some).
    pub fn ec2_metadata(&self, version: &str) -> Option<Value> {
        let v = resolve(EC2_VERSIONS, version)?;
        let after = |req: &str| at_least(EC2_VERSIONS, req, v);
        let fixed = self.fixed_ips.first().cloned().unwrap_or_default();
        let floating = self.floating_ips.first().cloned().unwrap_or_default();
        let mut md = Map::new();
        md.insert("ami-id".into(), json!(ec2_image_id("ami", &self.image_id)));
        md.insert("ami-launch-index".into(), json!(self.launch_index));
        md.insert("ami-manifest-path".into(), json!("FIXME"));
        md.insert(
            "instance-id".into(),
            json!(format!("i-{:08x}", self.instance_id)),
        );
        md.insert("hostname".into(), json!(self.hostname));
        md.insert("local-ipv4".into(), json!(fixed));
        md.insert("reservation-id".into(), json!(self.reservation_id));
        md.insert("security-groups".into(), json!(self.security_groups));
        if let Some((name, key)) = self.public_keys.first() {
            md.insert(
                "public-keys".into(),
                json!({"0": {"_name": format!("0={name}"), "openssh-key": key}}),
            );
        }
        if after("2007-01-19") {
            md.insert("local-hostname".into(), json!(self.hostname));
            md.insert("public-hostname".into(), json!(self.hostname));
            md.insert("public-ipv4".into(), json!(floating));
        }
        if after("2007-08-29") {
            md.insert("instance-type".into(), json!(self.instance_type));
        }
        if after("2007-12-15") {
            md.insert(
                "block-device-mapping".into(),
                json!({"ami": "vda", "root": "/dev/vda"}),
            );
            if let Some(k) = &self.kernel_id {
                md.insert("kernel-id".into(), json!(ec2_image_id("aki", k)));
            }
            if let Some(r) = &self.ramdisk_id {
                md.insert("ramdisk-id".into(), json!(ec2_image_id("ari", r)));
            }
        }
        if after("2008-02-01") {
            md.insert(
                "placement".into(),
                json!({"availability-zone": self.availability_zone}),
            );
        }
        if after("2008-09-01") {
            md.insert("instance-action".into(), json!("none"));
        }
        let mut data = json!({"meta-data": md});
        if let Some(ud) = &self.user_data {
            data["user-data"] = json!(String::from_utf8_lossy(ud));
        }
        Some(data)
    }

    /// The files of `openstack/<version>/` (name → bytes, type), the password included
    /// (the service serves it; config drives leave it out).
    fn openstack_files(&self, version: &str) -> Vec<(&'static str, Vec<u8>, &'static str)> {
        let mut f = vec![(
            "meta_data.json",
            self.meta_data_json(version).to_string().into_bytes(),
            JSON,
        )];
        if let Some(ud) = &self.user_data {
            f.push(("user_data", ud.clone(), TEXT));
        }
        if os_at_least(GRIZZLY, version) {
            f.push((
                "password",
                self.admin_pass.clone().unwrap_or_default().into_bytes(),
                TEXT,
            ));
        }
        if os_at_least(HAVANA, version) {
            f.push((
                "vendor_data.json",
                self.vendor_static().to_string().into_bytes(),
                JSON,
            ));
        }
        if os_at_least(LIBERTY, version) {
            f.push((
                "network_data.json",
                self.network_data_json().to_string().into_bytes(),
                JSON,
            ));
        }
        if os_at_least(NEWTON_TWO, version) {
            f.push((
                "vendor_data2.json",
                json!({"static": self.vendor_static()})
                    .to_string()
                    .into_bytes(),
                JSON,
            ));
        }
        f
    }
}

/// Every file of a config drive: path → bytes (no `password`, as nova).
pub fn config_drive_files(md: &InstanceMetadata) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for v in EC2_VERSIONS.iter().chain(["latest"].iter()) {
        let Some(mut data) = md.ec2_metadata(v) else {
            continue;
        };
        if let Some(ud) = &md.user_data {
            out.insert(format!("ec2/{v}/user-data"), ud.clone());
        }
        if let Some(k) = data["meta-data"]["public-keys"]["0"].as_object_mut() {
            k.remove("_name");
        }
        out.insert(
            format!("ec2/{v}/meta-data.json"),
            data["meta-data"].to_string().into_bytes(),
        );
    }
    for v in OPENSTACK_VERSIONS.iter().chain(["latest"].iter()) {
        let version = resolve(OPENSTACK_VERSIONS, v).unwrap_or(v);
        for (name, body, _) in md.openstack_files(version) {
            if name != "password" {
                out.insert(format!("openstack/{v}/{name}"), body);
            }
        }
    }
    out
}

/// Write the config drive's files under `dir`.
pub fn write_config_drive_tree(md: &InstanceMetadata, dir: &Path) -> std::io::Result<()> {
    for (path, body) in config_drive_files(md) {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, body)?;
    }
    Ok(())
}

/// nova's listing of an EC2 tree node: keys (`name/` for subtrees, `_name` entries
/// for public keys).
fn ec2_listing(data: &Value) -> Vec<u8> {
    match data {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().filter(|k| *k != "_name").collect();
            keys.sort();
            keys.iter()
                .map(|k| match &m[k.as_str()] {
                    Value::Object(sub) => match sub.get("_name").and_then(Value::as_str) {
                        Some(n) => n.to_string(),
                        None => format!("{k}/"),
                    },
                    _ => (*k).clone(),
                })
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        }
        Value::Array(a) => a
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes(),
        Value::String(s) => s.clone().into_bytes(),
        Value::Null => Vec::new(),
        other => other.to_string().into_bytes(),
    }
}

/// A version listing: one per line, then `latest`.
fn version_list(versions: &[&str]) -> Vec<u8> {
    let mut v = versions.to_vec();
    v.push("latest");
    v.join("\n").into_bytes()
}

/// The metadata service's operations as (method, path, summary), for its OpenAPI
/// document. `{version}` is a dated version or `latest`; EC2 trees nest deeper than
/// `{item}` shows. The instance is named by `X-Instance-ID` (+ signature) or found by
/// the caller's address, never by a token.
pub const OPERATIONS: &[(&str, &str, &str)] = &[
    ("get", "/", "List the EC2-style metadata versions"),
    ("get", "/{version}", "List an EC2-style version's trees"),
    (
        "get",
        "/{version}/meta-data",
        "List the EC2-style meta-data items",
    ),
    (
        "get",
        "/{version}/meta-data/{item}",
        "Show one EC2-style meta-data item",
    ),
    (
        "get",
        "/{version}/user-data",
        "Show the user data (EC2 style)",
    ),
    ("get", "/openstack", "List the OpenStack metadata versions"),
    ("get", "/openstack/{version}", "List a version's files"),
    (
        "get",
        "/openstack/{version}/meta_data.json",
        "Show the instance's metadata",
    ),
    (
        "get",
        "/openstack/{version}/user_data",
        "Show the user data",
    ),
    (
        "get",
        "/openstack/{version}/network_data.json",
        "Show the network configuration",
    ),
    (
        "get",
        "/openstack/{version}/vendor_data.json",
        "Show the static vendor data",
    ),
    (
        "get",
        "/openstack/{version}/vendor_data2.json",
        "Show the dynamic vendor data",
    ),
    (
        "get",
        "/openstack/{version}/password",
        "Show the encrypted admin password",
    ),
    (
        "post",
        "/openstack/{version}/password",
        "Store the encrypted admin password once",
    ),
];

/// The service's OpenAPI document: no token, the instance named by headers or address.
pub fn openapi() -> Value {
    let ops: Vec<api::openapi::Operation> = OPERATIONS
        .iter()
        .map(|&(method, path, summary)| api::openapi::Operation {
            method,
            path,
            summary,
        })
        .collect();
    let public: Vec<String> = OPERATIONS
        .iter()
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    let public: Vec<&str> = public.iter().map(String::as_str).collect();
    api::openapi::document(
        "ferrostack metadata (OpenStack instance metadata service)",
        "latest",
        &ops,
        &public,
    )
}

/// Answer a metadata-service GET path as nova-api-metadata does.
pub fn lookup(md: &InstanceMetadata, path: &str) -> Answer {
    let tokens: Vec<&str> = path.split('/').filter(|t| !t.is_empty()).collect();
    let ok = |content_type, body| Answer::Ok { content_type, body };
    match tokens.as_slice() {
        [] => ok(TEXT, version_list(EC2_VERSIONS)),
        ["openstack"] => ok(TEXT, version_list(OPENSTACK_VERSIONS)),
        ["openstack", v, rest @ ..] => {
            let Some(version) = resolve(OPENSTACK_VERSIONS, v) else {
                return Answer::NotFound;
            };
            let files = md.openstack_files(version);
            match rest {
                [] => ok(
                    TEXT,
                    files
                        .iter()
                        .map(|(n, _, _)| *n)
                        .collect::<Vec<_>>()
                        .join("\n")
                        .into_bytes(),
                ),
                [name] => files
                    .into_iter()
                    .find(|(n, _, _)| n == name)
                    .map_or(Answer::NotFound, |(_, body, ct)| ok(ct, body)),
                _ => Answer::NotFound,
            }
        }
        [v, rest @ ..] => {
            let tokens: Vec<&str> = if *v == "ec2" {
                rest.to_vec()
            } else {
                tokens.clone()
            };
            let Some((v, rest)) = tokens.split_first() else {
                return lookup(md, "/");
            };
            let Some(data) = md.ec2_metadata(v) else {
                return Answer::NotFound;
            };
            let mut node = &data;
            for t in rest {
                match node.get(*t) {
                    Some(n) => node = n,
                    None => return Answer::NotFound,
                }
            }
            ok(TEXT, ec2_listing(node))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_get_path_is_served() {
        let md = sample();
        for (method, path, _) in OPERATIONS.iter().filter(|o| o.0 == "get") {
            let concrete = path
                .replace("{version}", "latest")
                .replace("{item}", "instance-id");
            assert!(
                matches!(lookup(&md, &concrete), Answer::Ok { .. }),
                "{method} {path}"
            );
        }
    }

    pub(crate) fn sample() -> InstanceMetadata {
        InstanceMetadata {
            uuid: "0f8b4ad7-67a3-4d1d-9a05-3cfd7b3b3a11".into(),
            name: "web one".into(),
            hostname: "web-one".into(),
            project_id: "p1".into(),
            availability_zone: Some("nova".into()),
            reservation_id: "r-abc".into(),
            hypervisor_name: "instance-0000002a".into(),
            instance_id: 42,
            instance_type: "m1.tiny".into(),
            image_id: "5b3a8c0e-0000-4000-8000-000000000000".into(),
            user_data: Some(b"#!/bin/sh\necho hi\n".to_vec()),
            public_keys: vec![("k1".into(), "ssh-ed25519 AAAA k1".into())],
            key_type: Some("ssh".into()),
            meta: [("role".to_string(), json!("web"))].into_iter().collect(),
            ..Default::default()
        }
    }

    fn body(a: Answer) -> String {
        match a {
            Answer::Ok { body, .. } => String::from_utf8(body).unwrap(),
            Answer::NotFound => panic!("not found"),
        }
    }

    #[test]
    fn meta_data_keys_follow_versions() {
        let md = sample();
        let old = md.meta_data_json("2012-08-10");
        assert!(old.get("random_seed").is_none() && old.get("project_id").is_none());
        assert_eq!(old["public_keys"]["k1"], "ssh-ed25519 AAAA k1");
        let new = md.meta_data_json("2025-04-04");
        for k in [
            "uuid",
            "meta",
            "public_keys",
            "keys",
            "hostname",
            "name",
            "launch_index",
            "availability_zone",
            "random_seed",
            "project_id",
            "devices",
            "dedicated_cpus",
        ] {
            assert!(new.get(k).is_some(), "{k}");
        }
        let seed = base64::engine::general_purpose::STANDARD
            .decode(new["random_seed"].as_str().unwrap())
            .unwrap();
        assert_eq!(seed.len(), 512);
    }

    #[test]
    fn service_paths() {
        let md = sample();
        assert!(body(lookup(&md, "/")).ends_with("2009-04-04\nlatest"));
        assert!(body(lookup(&md, "/openstack")).starts_with("2012-08-10\n"));
        let files = body(lookup(&md, "/openstack/latest"));
        assert_eq!(
            files,
            "meta_data.json\nuser_data\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json"
        );
        let j: Value =
            serde_json::from_str(&body(lookup(&md, "/openstack/latest/meta_data.json"))).unwrap();
        assert_eq!(j["uuid"], md.uuid);
        assert_eq!(
            body(lookup(&md, "/openstack/2012-08-10/user_data")),
            "#!/bin/sh\necho hi\n"
        );
        assert_eq!(
            lookup(&md, "/openstack/1999-01-01/meta_data.json"),
            Answer::NotFound
        );
        let listing = body(lookup(&md, "/latest/meta-data/"));
        assert!(listing.contains("placement/") && listing.contains("public-keys/"));
        assert_eq!(body(lookup(&md, "/latest/meta-data/public-keys")), "0=k1");
        assert_eq!(
            body(lookup(&md, "/latest/meta-data/public-keys/0/openssh-key")),
            "ssh-ed25519 AAAA k1"
        );
        assert_eq!(
            body(lookup(
                &md,
                "/2009-04-04/meta-data/placement/availability-zone"
            )),
            "nova"
        );
        assert_eq!(
            body(lookup(&md, "/latest/meta-data/instance-id")),
            "i-0000002a"
        );
        assert_eq!(
            body(lookup(&md, "/ec2/latest/user-data")),
            "#!/bin/sh\necho hi\n"
        );
        let mut none = md.clone();
        none.user_data = None;
        assert_eq!(lookup(&none, "/latest/user-data"), Answer::NotFound);
        assert_eq!(
            lookup(&none, "/openstack/latest/user_data"),
            Answer::NotFound
        );
    }

    #[test]
    fn config_drive_layout() {
        let files = config_drive_files(&sample());
        for p in [
            "openstack/latest/meta_data.json",
            "openstack/latest/user_data",
            "openstack/latest/network_data.json",
            "openstack/latest/vendor_data.json",
            "openstack/latest/vendor_data2.json",
            "openstack/2012-08-10/meta_data.json",
            "ec2/latest/meta-data.json",
            "ec2/2009-04-04/user-data",
        ] {
            assert!(files.contains_key(p), "{p}");
        }
        assert!(!files.contains_key("openstack/2012-08-10/network_data.json"));
        assert!(!files.keys().any(|k| k.ends_with("password")));
        let ec2: Value = serde_json::from_slice(&files["ec2/latest/meta-data.json"]).unwrap();
        assert!(ec2["public-keys"]["0"].get("_name").is_none());
        let dir = std::env::temp_dir().join(format!("md-test-{}", std::process::id()));
        write_config_drive_tree(&sample(), &dir).unwrap();
        assert!(dir.join("openstack/latest/meta_data.json").is_file());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
