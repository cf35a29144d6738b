//! The fake driver: guests are records in memory, every operation is instant. For tests
//! and scale runs; it can be told to fail (`[fake] fail_spawn`, or per server with the
//! metadata key `fake_fail` = `spawn` / `reboot` / …).

use std::collections::HashMap;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::Value;

use super::{Capacity, Driver, DriverError, DriverResult, GuestSpec, Snapshot};
use crate::model::{Flavor, power};

#[derive(Debug, Clone)]
struct Guest {
    spec: GuestSpec,
    state: i64,
    console: Vec<String>,
    started: std::time::Instant,
}

pub struct FakeDriver {
    capacity: Capacity,
    fail_spawn: bool,
    guests: Mutex<HashMap<String, Guest>>,
}

impl FakeDriver {
    pub fn new(capacity: Capacity, fail_spawn: bool) -> Self {
        FakeDriver {
            capacity,
            fail_spawn,
            guests: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(
        &self,
        uuid: &str,
        f: impl FnOnce(&mut Guest) -> DriverResult<T>,
    ) -> DriverResult<T> {
        let mut g = self.guests.lock();
        let guest = g
            .get_mut(uuid)
            .ok_or_else(|| DriverError::NotFound(uuid.to_string()))?;
        f(guest)
    }

    fn told_to_fail(spec: &GuestSpec, op: &str) -> bool {
        spec.metadata
            .get("fake_fail")
            .and_then(Value::as_str)
            .is_some_and(|v| v.split(',').any(|x| x.trim() == op))
    }

    fn transition(&self, uuid: &str, op: &str, from: &[i64], to: i64) -> DriverResult<()> {
        self.with(uuid, |g| {
            if Self::told_to_fail(&g.spec, op) {
                return Err(DriverError::Failed(format!(
                    "fake driver told to fail {op}"
                )));
            }
            if !from.is_empty() && !from.contains(&g.state) {
                return Err(DriverError::Failed(format!(
                    "cannot {op} a guest in power state {}",
                    g.state
                )));
            }
            g.state = to;
            g.console.push(format!("[fake] {op}"));
            Ok(())
        })
    }
}

#[async_trait]
impl Driver for FakeDriver {
    fn hypervisor_type(&self) -> &'static str {
        "fake"
    }

    fn hypervisor_version(&self) -> i64 {
        1000
    }

    fn capacity(&self) -> Capacity {
        self.capacity
    }

    fn traits(&self) -> Vec<String> {
        vec![
            "COMPUTE_NET_ATTACH_INTERFACE".into(),
            "COMPUTE_TRUSTED_CERTS".into(),
        ]
    }

    async fn spawn(&self, spec: &GuestSpec) -> DriverResult<()> {
        if self.fail_spawn || Self::told_to_fail(spec, "spawn") {
            return Err(DriverError::Failed(
                "fake driver told to fail spawning".into(),
            ));
        }
        let console = vec![
            format!("[fake] booting {} ({})", spec.hostname, spec.uuid),
            format!(
                "[fake] {} vCPU, {} MiB RAM, {} GiB disk",
                spec.flavor.vcpus, spec.flavor.ram, spec.flavor.disk
            ),
            format!("[fake] hostname: {}", spec.hostname),
            format!("[fake] instance uuid: {}", spec.uuid),
            "FAKE CONSOLE OUTPUT".into(),
        ];
        self.guests.lock().insert(
            spec.uuid.clone(),
            Guest {
                spec: spec.clone(),
                state: power::RUNNING,
                console,
                started: std::time::Instant::now(),
            },
        );
        Ok(())
    }

    async fn destroy(&self, uuid: &str) -> DriverResult<()> {
        self.guests.lock().remove(uuid);
        Ok(())
    }

    async fn list(&self) -> Vec<String> {
        self.guests.lock().keys().cloned().collect()
    }

    async fn power_state(&self, uuid: &str) -> DriverResult<i64> {
        self.with(uuid, |g| Ok(g.state))
    }

    async fn power_off(&self, uuid: &str, _timeout_s: u64) -> DriverResult<()> {
        self.transition(uuid, "power_off", &[], power::SHUTDOWN)
    }

    async fn power_on(&self, uuid: &str) -> DriverResult<()> {
        self.transition(uuid, "power_on", &[], power::RUNNING)
    }

    async fn reboot(&self, uuid: &str, hard: bool) -> DriverResult<()> {
        let op = if hard { "reboot_hard" } else { "reboot" };
        self.transition(uuid, op, &[], power::RUNNING)
    }

    async fn pause(&self, uuid: &str) -> DriverResult<()> {
        self.transition(uuid, "pause", &[power::RUNNING], power::PAUSED)
    }

    async fn unpause(&self, uuid: &str) -> DriverResult<()> {
        self.transition(uuid, "unpause", &[power::PAUSED], power::RUNNING)
    }

    async fn suspend(&self, uuid: &str) -> DriverResult<()> {
        self.transition(uuid, "suspend", &[power::RUNNING], power::SUSPENDED)
    }

    async fn resume(&self, uuid: &str) -> DriverResult<()> {
        self.transition(uuid, "resume", &[power::SUSPENDED], power::RUNNING)
    }

    async fn rebuild(&self, spec: &GuestSpec) -> DriverResult<()> {
        if Self::told_to_fail(spec, "rebuild") {
            return Err(DriverError::Failed(
                "fake driver told to fail rebuild".into(),
            ));
        }
        let mut g = self.guests.lock();
        let guest = g
            .get_mut(&spec.uuid)
            .ok_or_else(|| DriverError::NotFound(spec.uuid.clone()))?;
        guest.spec = spec.clone();
        guest.state = power::RUNNING;
        guest
            .console
            .push(format!("[fake] rebuilt from image {}", spec.image_ref));
        Ok(())
    }

    async fn resize(&self, spec: &GuestSpec, new: &Flavor) -> DriverResult<()> {
        self.with(&spec.uuid, |g| {
            g.spec.flavor = new.clone();
            g.console
                .push(format!("[fake] resized to flavor {}", new.name));
            Ok(())
        })
    }

    async fn rescue(&self, spec: &GuestSpec, rescue_image: &str) -> DriverResult<()> {
        if Self::told_to_fail(spec, "rescue") {
            return Err(DriverError::Failed(
                "fake driver told to fail rescue".into(),
            ));
        }
        self.with(&spec.uuid, |g| {
            g.state = power::RUNNING;
            g.console
                .push(format!("[fake] rescue boot from image {rescue_image}"));
            Ok(())
        })
    }

    async fn unrescue(&self, uuid: &str) -> DriverResult<()> {
        self.transition(uuid, "unrescue", &[], power::RUNNING)
    }

    async fn set_admin_password(&self, uuid: &str, _password: &str) -> DriverResult<()> {
        self.with(uuid, |g| {
            if Self::told_to_fail(&g.spec, "set_admin_password") {
                return Err(DriverError::Failed(
                    "fake driver told to fail set_admin_password".into(),
                ));
            }
            g.console.push("[fake] admin password changed".into());
            Ok(())
        })
    }

    async fn diagnostics(&self, uuid: &str) -> DriverResult<Value> {
        // nova's diagnostics `driver` is an enum without a fake member; like nova's own
        // fake driver this one reports the libvirt layout, with hypervisor "fake".
        self.with(uuid, |g| {
            let state = match g.state {
                power::RUNNING => "running",
                power::PAUSED => "paused",
                power::SUSPENDED => "suspended",
                power::CRASHED => "crashed",
                power::SHUTDOWN => "shutdown",
                _ => "pending",
            };
            let cpus: Vec<Value> = (0..g.spec.flavor.vcpus)
                .map(|id| serde_json::json!({"id": id, "time": 0, "utilisation": 0}))
                .collect();
            Ok(serde_json::json!({
                "state": state,
                "driver": "libvirt",
                "hypervisor": "fake",
                "hypervisor_os": std::env::consts::OS,
                "uptime": g.started.elapsed().as_secs(),
                "config_drive": g.spec.config_drive,
                "num_cpus": g.spec.flavor.vcpus,
                "num_nics": 0,
                "num_disks": 1,
                "cpu_details": cpus,
                "nic_details": [],
                "disk_details": [{"read_bytes": 0, "read_requests": 0, "write_bytes": 0,
                                  "write_requests": 0, "errors_count": 0}],
                "memory_details": {"maximum": g.spec.flavor.ram, "used": 0},
            }))
        })
    }

    async fn console_output(&self, uuid: &str) -> DriverResult<String> {
        self.with(uuid, |g| {
            let mut s = g.console.join("\n");
            s.push('\n');
            Ok(s)
        })
    }

    async fn snapshot(&self, uuid: &str, dest: &std::path::Path) -> DriverResult<Snapshot> {
        self.with(uuid, |_| Ok(()))?;
        tokio::fs::write(dest, vec![0u8; 1024])
            .await
            .map_err(|e| DriverError::Failed(format!("cannot write the snapshot: {e}")))?;
        Ok(Snapshot {
            disk_format: "raw".into(),
            container_format: "bare".into(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn spec(meta: &[(&str, &str)]) -> GuestSpec {
        GuestSpec {
            uuid: "u1".into(),
            name: "instance-00000001".into(),
            display_name: "vm".into(),
            hostname: "vm".into(),
            project_id: "p".into(),
            user_id: "u".into(),
            flavor: serde_json::from_value(
                serde_json::json!({"id": "1", "name": "tiny", "vcpus": 1, "ram": 64, "disk": 1}),
            )
            .unwrap(),
            image_ref: "img".into(),
            image_meta: Value::Null,
            user_data: None,
            key_data: None,
            key_name: None,
            metadata: meta
                .iter()
                .map(|(k, v)| ((*k).to_string(), Value::from(*v)))
                .collect(),
            config_drive: false,
            availability_zone: None,
            launch_index: 0,
            reservation_id: "r-1".into(),
        }
    }

    #[tokio::test]
    async fn lifecycle_follows_power_states() {
        let d = FakeDriver::new(
            Capacity {
                vcpus: 4,
                memory_mb: 4096,
                disk_gb: 40,
            },
            false,
        );
        d.spawn(&spec(&[])).await.unwrap();
        assert_eq!(d.power_state("u1").await.unwrap(), power::RUNNING);
        d.pause("u1").await.unwrap();
        assert!(
            d.suspend("u1").await.is_err(),
            "cannot suspend a paused guest"
        );
        d.unpause("u1").await.unwrap();
        d.power_off("u1", 1).await.unwrap();
        assert_eq!(d.power_state("u1").await.unwrap(), power::SHUTDOWN);
        assert!(d.console_output("u1").await.unwrap().contains("power_off"));
        d.destroy("u1").await.unwrap();
        assert!(matches!(
            d.power_state("u1").await,
            Err(DriverError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn can_be_told_to_fail() {
        let d = FakeDriver::new(
            Capacity {
                vcpus: 1,
                memory_mb: 1,
                disk_gb: 1,
            },
            false,
        );
        assert!(d.spawn(&spec(&[("fake_fail", "spawn")])).await.is_err());
        let always = FakeDriver::new(
            Capacity {
                vcpus: 1,
                memory_mb: 1,
                disk_gb: 1,
            },
            true,
        );
        assert!(always.spawn(&spec(&[])).await.is_err());
    }
}
