//! The virt driver interface the compute agent drives, and the drivers.
//!
//! A driver owns guests on one host. It is told what to run ([`GuestSpec`]) and reports
//! what is running; it never touches the compute database (the agent reports state to
//! the conductor over the bus).

pub mod fake;
pub mod qemu;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{Flavor, power};

/// Everything a driver needs to create or rebuild a guest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GuestSpec {
    pub uuid: String,
    /// The hypervisor-side name (`instance-0000002a`).
    pub name: String,
    pub display_name: String,
    pub hostname: String,
    pub project_id: String,
    pub user_id: String,
    pub flavor: Flavor,
    pub image_ref: String,
    /// The image record (properties, sizes, hashes) as the image service returned it.
    pub image_meta: Value,
    pub user_data: Option<String>,
    pub key_data: Option<String>,
    pub key_name: Option<String>,
    pub metadata: Map<String, Value>,
    pub config_drive: bool,
    pub availability_zone: Option<String>,
    pub launch_index: i64,
    pub reservation_id: String,
}

/// What the host offers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Capacity {
    pub vcpus: i64,
    pub memory_mb: i64,
    pub disk_gb: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("instance {0} not found on this host")]
    NotFound(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Failed(String),
}

pub type DriverResult<T> = Result<T, DriverError>;

/// A hypervisor driver.
#[async_trait]
pub trait Driver: Send + Sync {
    /// `fake`, `QEMU`… as `os-hypervisors` shows it.
    fn hypervisor_type(&self) -> &'static str;
    fn hypervisor_version(&self) -> i64;
    /// Capacity to report to placement.
    fn capacity(&self) -> Capacity;
    /// Traits to report to placement (`COMPUTE_*`).
    fn traits(&self) -> Vec<String> {
        Vec::new()
    }
    /// Create and start a guest.
    async fn spawn(&self, spec: &GuestSpec) -> DriverResult<()>;
    /// Stop and remove a guest and its files. Absent guests are not an error.
    async fn destroy(&self, uuid: &str) -> DriverResult<()>;
    /// Guests this driver knows about (running or not).
    async fn list(&self) -> Vec<String>;
    /// Nova's power state of a guest.
    async fn power_state(&self, uuid: &str) -> DriverResult<i64>;
    /// Clean shutdown, forced after `timeout_s`.
    async fn power_off(&self, uuid: &str, timeout_s: u64) -> DriverResult<()>;
    async fn power_on(&self, uuid: &str) -> DriverResult<()>;
    async fn reboot(&self, uuid: &str, hard: bool) -> DriverResult<()>;
    async fn pause(&self, uuid: &str) -> DriverResult<()>;
    async fn unpause(&self, uuid: &str) -> DriverResult<()>;
    async fn suspend(&self, uuid: &str) -> DriverResult<()>;
    async fn resume(&self, uuid: &str) -> DriverResult<()>;
    /// Replace the root disk from (possibly another) image and start again.
    async fn rebuild(&self, spec: &GuestSpec) -> DriverResult<()>;
    /// Apply a new flavor (cold resize on the same host: disk grown, guest restarted).
    async fn resize(&self, spec: &GuestSpec, new: &Flavor) -> DriverResult<()>;
    /// The guest's console log (whole or last lines).
    async fn console_output(&self, uuid: &str) -> DriverResult<String>;
    /// The guest's root disk flattened into the file `dest` (image data to upload).
    async fn snapshot(&self, uuid: &str, dest: &Path) -> DriverResult<Snapshot>;
    /// Where snapshots are written before upload (a directory of this host).
    fn scratch_dir(&self) -> PathBuf {
        std::env::temp_dir()
    }
    /// A resize was confirmed: drop what a revert would have needed.
    async fn confirm_resize(&self, _uuid: &str) -> DriverResult<()> {
        Ok(())
    }
    /// Housekeeping the agent runs every report interval (log rotation, caches).
    async fn periodic(&self) {}
    /// At agent start: `known` are the instances the cloud places on this host. The
    /// driver re-adopts running guests and removes what belongs to none of them.
    async fn recover(&self, _known: &[String]) {}
    /// Boot the guest from a rescue image with its own disk attached second.
    async fn rescue(&self, _spec: &GuestSpec, _rescue_image: &str) -> DriverResult<()> {
        Err(DriverError::Unsupported(
            "Rescue is not supported by this driver.".into(),
        ))
    }
    /// Back from rescue: boot from the guest's own disk again.
    async fn unrescue(&self, _uuid: &str) -> DriverResult<()> {
        Err(DriverError::Unsupported(
            "Unrescue is not supported by this driver.".into(),
        ))
    }
    /// Set the guest's administrator password (through its agent).
    async fn set_admin_password(&self, _uuid: &str, _password: &str) -> DriverResult<()> {
        Err(DriverError::Unsupported(
            "setting the admin password is not supported by this driver".into(),
        ))
    }
    /// nova's standard diagnostics of a guest (2.48 form).
    async fn diagnostics(&self, _uuid: &str) -> DriverResult<Value> {
        Err(DriverError::Unsupported(
            "Diagnostics are not supported by this driver.".into(),
        ))
    }
    /// Remote console access, when the driver has one.
    async fn console(&self, _uuid: &str, kind: &str) -> DriverResult<Value> {
        Err(DriverError::Unsupported(format!(
            "Console type {kind} is not supported by this driver."
        )))
    }
}

/// The formats of the image data a snapshot wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub disk_format: String,
    pub container_format: String,
}

/// Where a driver gets image data: the image service, with the service's credentials.
#[async_trait]
pub trait ImageSource: Send + Sync {
    /// Download image `id` into `dest` (verified against its recorded hash); returns
    /// the image record.
    async fn fetch(&self, id: &str, dest: &Path) -> Result<Value, String>;
}

#[async_trait]
impl ImageSource for crate::clients::Images {
    async fn fetch(&self, id: &str, dest: &Path) -> Result<Value, String> {
        self.download(id, dest, None)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The power state for a vm_state after an operation succeeded.
pub fn running(vm_state: &str) -> i64 {
    match vm_state {
        "paused" => power::PAUSED,
        "suspended" => power::SUSPENDED,
        "stopped" | "shelved" | "soft-delete" => power::SHUTDOWN,
        _ => power::RUNNING,
    }
}
