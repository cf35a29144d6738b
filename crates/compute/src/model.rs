//! Compute's records and nova's state machine vocabulary.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `vm_state` values.
pub mod vm {
    pub const ACTIVE: &str = "active";
    pub const BUILDING: &str = "building";
    pub const PAUSED: &str = "paused";
    pub const SUSPENDED: &str = "suspended";
    pub const STOPPED: &str = "stopped";
    pub const RESCUED: &str = "rescued";
    pub const RESIZED: &str = "resized";
    pub const SOFT_DELETED: &str = "soft-delete";
    pub const DELETED: &str = "deleted";
    pub const ERROR: &str = "error";
    pub const SHELVED: &str = "shelved";
    pub const SHELVED_OFFLOADED: &str = "shelved_offloaded";
}

/// `task_state` values.
pub mod task {
    pub const SCHEDULING: &str = "scheduling";
    pub const BLOCK_DEVICE_MAPPING: &str = "block_device_mapping";
    pub const NETWORKING: &str = "networking";
    pub const SPAWNING: &str = "spawning";
    pub const IMAGE_SNAPSHOT: &str = "image_snapshot";
    pub const IMAGE_BACKUP: &str = "image_backup";
    pub const IMAGE_SNAPSHOT_PENDING: &str = "image_snapshot_pending";
    pub const IMAGE_PENDING_UPLOAD: &str = "image_pending_upload";
    pub const IMAGE_UPLOADING: &str = "image_uploading";
    pub const REBOOTING: &str = "reboot_pending";
    pub const REBOOTING_HARD: &str = "reboot_pending_hard";
    pub const REBOOT_STARTED: &str = "reboot_started";
    pub const REBOOT_STARTED_HARD: &str = "reboot_started_hard";
    pub const PAUSING: &str = "pausing";
    pub const UNPAUSING: &str = "unpausing";
    pub const SUSPENDING: &str = "suspending";
    pub const RESUMING: &str = "resuming";
    pub const POWERING_OFF: &str = "powering-off";
    pub const POWERING_ON: &str = "powering-on";
    pub const REBUILDING: &str = "rebuilding";
    pub const RESCUING: &str = "rescuing";
    pub const UNRESCUING: &str = "unrescuing";
    pub const REBUILD_SPAWNING: &str = "rebuild_spawning";
    pub const RESIZE_PREP: &str = "resize_prep";
    pub const RESIZE_MIGRATING: &str = "resize_migrating";
    pub const RESIZE_MIGRATED: &str = "resize_migrated";
    pub const RESIZE_FINISH: &str = "resize_finish";
    pub const RESIZE_REVERTING: &str = "resize_reverting";
    pub const RESIZE_CONFIRMING: &str = "resize_confirming";
    pub const SHELVING: &str = "shelving";
    pub const SHELVING_IMAGE_PENDING_UPLOAD: &str = "shelving_image_pending_upload";
    pub const SHELVING_IMAGE_UPLOADING: &str = "shelving_image_uploading";
    pub const SHELVING_OFFLOADING: &str = "shelving_offloading";
    pub const UNSHELVING: &str = "unshelving";
    pub const DELETING: &str = "deleting";
    pub const SOFT_DELETING: &str = "soft-deleting";
    pub const RESTORING: &str = "restoring";
    pub const MIGRATING: &str = "migrating";
}

/// `power_state` values (nova's numbering).
pub mod power {
    pub const NOSTATE: i64 = 0;
    pub const RUNNING: i64 = 1;
    pub const PAUSED: i64 = 3;
    pub const SHUTDOWN: i64 = 4;
    pub const CRASHED: i64 = 6;
    pub const SUSPENDED: i64 = 7;
}

/// The API `status` for a vm_state / task_state pair (nova's state map).
pub fn api_status(vm_state: &str, task_state: Option<&str>) -> &'static str {
    let t = task_state.unwrap_or("");
    let rebuild = matches!(
        t,
        "rebuilding" | "rebuild_block_device_mapping" | "rebuild_spawning"
    );
    let resize = matches!(
        t,
        "resize_prep" | "resize_migrating" | "resize_migrated" | "resize_finish"
    );
    match vm_state {
        vm::ACTIVE => match t {
            "rebooting" | "reboot_pending" | "reboot_started" => "REBOOT",
            "rebooting_hard" | "reboot_pending_hard" | "reboot_started_hard" => "HARD_REBOOT",
            "updating_password" => "PASSWORD",
            "migrating" => "MIGRATING",
            _ if rebuild => "REBUILD",
            _ if resize => "RESIZE",
            _ => "ACTIVE",
        },
        vm::BUILDING => "BUILD",
        vm::STOPPED if resize => "RESIZE",
        vm::STOPPED if rebuild => "REBUILD",
        vm::STOPPED => "SHUTOFF",
        vm::RESIZED if t == "resize_reverting" => "REVERT_RESIZE",
        vm::RESIZED => "VERIFY_RESIZE",
        vm::PAUSED if t == "migrating" => "MIGRATING",
        vm::PAUSED => "PAUSED",
        vm::SUSPENDED => "SUSPENDED",
        vm::RESCUED => "RESCUE",
        vm::ERROR if rebuild => "REBUILD",
        vm::ERROR => "ERROR",
        vm::DELETED => "DELETED",
        vm::SOFT_DELETED => "SOFT_DELETED",
        vm::SHELVED => "SHELVED",
        vm::SHELVED_OFFLOADED => "SHELVED_OFFLOADED",
        _ => "UNKNOWN",
    }
}

/// The vm_states a `status` filter selects (nova's reverse map; task-dependent
/// statuses filter on vm_state and task_state together).
pub fn states_for_status(status: &str) -> Option<(Vec<&'static str>, Option<Vec<&'static str>>)> {
    let s = status.to_ascii_uppercase();
    Some(match s.as_str() {
        "ACTIVE" => (vec![vm::ACTIVE], None),
        "BUILD" => (vec![vm::BUILDING], None),
        "SHUTOFF" => (vec![vm::STOPPED], None),
        "VERIFY_RESIZE" => (vec![vm::RESIZED], None),
        "PAUSED" => (vec![vm::PAUSED], None),
        "SUSPENDED" => (vec![vm::SUSPENDED], None),
        "RESCUE" => (vec![vm::RESCUED], None),
        "ERROR" => (vec![vm::ERROR], None),
        "DELETED" => (vec![vm::DELETED], None),
        "SOFT_DELETED" => (vec![vm::SOFT_DELETED], None),
        "SHELVED" => (vec![vm::SHELVED], None),
        "SHELVED_OFFLOADED" => (vec![vm::SHELVED_OFFLOADED], None),
        "REBOOT" => (
            vec![vm::ACTIVE],
            Some(vec!["rebooting", "reboot_pending", "reboot_started"]),
        ),
        "HARD_REBOOT" => (
            vec![vm::ACTIVE],
            Some(vec![
                "rebooting_hard",
                "reboot_pending_hard",
                "reboot_started_hard",
            ]),
        ),
        "REBUILD" => (
            vec![vm::ACTIVE, vm::STOPPED, vm::ERROR],
            Some(vec![
                "rebuilding",
                "rebuild_block_device_mapping",
                "rebuild_spawning",
            ]),
        ),
        "RESIZE" => (
            vec![vm::ACTIVE, vm::STOPPED],
            Some(vec![
                "resize_prep",
                "resize_migrating",
                "resize_migrated",
                "resize_finish",
            ]),
        ),
        "MIGRATING" => (vec![vm::ACTIVE, vm::PAUSED], Some(vec!["migrating"])),
        "REVERT_RESIZE" => (vec![vm::RESIZED], Some(vec!["resize_reverting"])),
        _ => return None,
    })
}

/// A flavor, also embedded (as a snapshot) in each instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: i64,
    pub ram: i64,
    pub disk: i64,
    #[serde(default)]
    pub ephemeral: i64,
    #[serde(default)]
    pub swap: i64,
    #[serde(default = "one")]
    pub rxtx_factor: f64,
    #[serde(default = "yes")]
    pub is_public: bool,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub extra_specs: Map<String, Value>,
}

fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

/// A server.
#[derive(Debug, Clone)]
pub struct Instance {
    pub uuid: String,
    pub seq: i64,
    pub name: String,
    pub hostname: String,
    pub description: Option<String>,
    pub project_id: String,
    pub user_id: String,
    pub flavor: Flavor,
    /// The image id ("" for volume-backed servers).
    pub image_ref: String,
    /// The image's properties and sizes at boot (`min_disk`, `min_ram`, `properties`).
    pub image_meta: Value,
    pub key_name: Option<String>,
    pub key_data: Option<String>,
    pub user_data: Option<String>,
    pub config_drive: String,
    pub availability_zone: Option<String>,
    pub pinned_az: Option<String>,
    pub host: Option<String>,
    pub node: Option<String>,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub power_state: i64,
    /// `owner` or `admin` when locked.
    pub locked_by: Option<String>,
    pub locked_reason: Option<String>,
    pub access_ip_v4: Option<String>,
    pub access_ip_v6: Option<String>,
    pub reservation_id: String,
    pub launch_index: i64,
    pub metadata: Map<String, Value>,
    /// Internal facts (old flavor during resize, `clean_attempts`…).
    pub system_metadata: Map<String, Value>,
    /// Scheduling inputs: hints, group, requested host/node, retry state.
    pub request_spec: Value,
    pub tags: Vec<String>,
    pub launched_at: Option<i64>,
    pub terminated_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

impl Instance {
    pub fn status(&self) -> &'static str {
        api_status(&self.vm_state, self.task_state.as_deref())
    }

    /// Libvirt-style name nova shows to admins (`instance-0000002a`).
    pub fn instance_name(&self) -> String {
        format!("instance-{:08x}", self.seq)
    }
}

/// An `os-keypairs` entry.
#[derive(Debug, Clone)]
pub struct Keypair {
    pub id: i64,
    pub user_id: String,
    pub name: String,
    pub key_type: String,
    pub fingerprint: String,
    pub public_key: String,
    pub created_at: i64,
}

/// A recorded failure, shown as `fault` on servers in ERROR.
#[derive(Debug, Clone)]
pub struct Fault {
    pub code: i64,
    pub message: String,
    pub details: String,
    pub created_at: i64,
}

/// A compute service row (`os-services`).
#[derive(Debug, Clone)]
pub struct Service {
    pub id: i64,
    pub uuid: String,
    pub host: String,
    pub binary: String,
    pub topic: String,
    pub zone: String,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub forced_down: bool,
    pub last_seen_up: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A hypervisor (`os-hypervisors`), one per compute node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComputeNode {
    pub id: i64,
    pub uuid: String,
    pub host: String,
    pub hypervisor_hostname: String,
    pub hypervisor_type: String,
    pub hypervisor_version: i64,
    pub host_ip: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
    pub cpu_info: Value,
}

#[derive(Debug, Clone)]
pub struct ServerGroup {
    pub id: String,
    pub name: String,
    pub policy: String,
    pub rules: Map<String, Value>,
    pub project_id: String,
    pub user_id: String,
    pub members: Vec<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct Action {
    pub id: String,
    pub instance_uuid: String,
    pub action: String,
    pub request_id: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub message: Option<String>,
    pub start_time: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct ActionEvent {
    pub event: String,
    pub host: Option<String>,
    pub result: Option<String>,
    pub traceback: Option<String>,
    pub start_time: i64,
    pub finish_time: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Migration {
    pub id: i64,
    pub uuid: String,
    pub instance_uuid: String,
    pub migration_type: String,
    pub status: String,
    pub source_compute: Option<String>,
    pub dest_compute: Option<String>,
    pub source_node: Option<String>,
    pub dest_node: Option<String>,
    pub old_flavor_id: Option<String>,
    pub new_flavor_id: Option<String>,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Nova's time format in API bodies (`2024-01-02T03:04:05Z`).
pub fn iso(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Nova's time format with microseconds (`launched_at`, instance actions:
/// `2024-01-02T03:04:05.000000`).
pub fn iso_micro(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.6f").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_nova_state_map() {
        assert_eq!(api_status("active", None), "ACTIVE");
        assert_eq!(
            api_status("active", Some("reboot_pending_hard")),
            "HARD_REBOOT"
        );
        assert_eq!(api_status("building", Some("scheduling")), "BUILD");
        assert_eq!(api_status("stopped", Some("resize_prep")), "RESIZE");
        assert_eq!(api_status("stopped", Some("powering-on")), "SHUTOFF");
        assert_eq!(
            api_status("resized", Some("resize_reverting")),
            "REVERT_RESIZE"
        );
        assert_eq!(api_status("error", Some("rebuilding")), "REBUILD");
        assert_eq!(api_status("shelved_offloaded", None), "SHELVED_OFFLOADED");
        assert_eq!(states_for_status("shutoff").unwrap().0, vec!["stopped"]);
        assert!(states_for_status("nonsense").is_none());
    }

    #[test]
    fn names_and_times() {
        let t = 1_700_000_000_123_456;
        assert_eq!(iso(t), "2023-11-14T22:13:20Z");
        assert_eq!(iso_micro(t), "2023-11-14T22:13:20.123456");
    }
}

/// A host aggregate (`os-aggregates`); its availability zone is the metadata key
/// `availability_zone`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Aggregate {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub hosts: Vec<String>,
    pub metadata: std::collections::BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

impl Aggregate {
    pub fn zone(&self) -> Option<&str> {
        self.metadata.get("availability_zone").map(String::as_str)
    }
}
