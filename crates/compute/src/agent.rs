//! The compute agent (nova-compute): registers its host and node, reports capacity to
//! placement, heartbeats, keeps power states in sync, and runs the virt driver on the
//! conductor's behalf. It never writes the compute database: it talks to the
//! conductor over the bus.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clients::{Images, Placement};
use crate::model::{ComputeNode, Flavor};
use crate::rpc::{COMPUTE_TOPIC, Endpoint, Rpc};
use crate::virt::{Driver, DriverError, GuestSpec};

/// Agent options (`[DEFAULT]` / `[compute]` names from nova where they exist).
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub host: String,
    /// `[DEFAULT] default_availability_zone` — the zone this host is in.
    pub zone: String,
    pub host_ip: String,
    /// `[DEFAULT] report_interval` seconds.
    pub report_interval: Duration,
    /// `[DEFAULT] sync_power_state_interval` seconds.
    pub sync_interval: Duration,
    pub cpu_allocation_ratio: f64,
    pub ram_allocation_ratio: f64,
    pub disk_allocation_ratio: f64,
    pub reserved_host_memory_mb: i64,
    pub reserved_host_disk_mb: i64,
    pub reserved_host_cpus: i64,
}

impl AgentConfig {
    pub fn for_host(host: &str) -> Self {
        AgentConfig {
            host: host.to_string(),
            zone: "nova".into(),
            host_ip: "127.0.0.1".into(),
            report_interval: Duration::from_secs(10),
            sync_interval: Duration::from_secs(60),
            cpu_allocation_ratio: 4.0,
            ram_allocation_ratio: 1.0,
            disk_allocation_ratio: 1.0,
            reserved_host_memory_mb: 512,
            reserved_host_disk_mb: 0,
            reserved_host_cpus: 0,
        }
    }
}

/// What the agent tells the conductor when it starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registration {
    pub host: String,
    pub zone: String,
    pub node: ComputeNode,
}

/// A power state the agent observed, reported to the conductor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PowerReport {
    pub host: String,
    /// `(instance uuid, power state or None when the guest is gone)`.
    pub states: Vec<(String, Option<i64>)>,
}

pub struct Agent {
    pub cfg: AgentConfig,
    pub driver: Arc<dyn Driver>,
    pub rpc: Rpc,
    pub placement: Placement,
    /// Snapshots are uploaded from here, as the requesting user.
    pub images: Images,
}

/// Keeps the agent's listener and loops alive; dropping it stops them.
pub struct AgentHandle {
    _listener: bus::Listener,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for AgentHandle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot register with the conductor: {0}")]
    Register(String),
    #[error("cannot report to placement: {0}")]
    Placement(String),
    #[error("cannot listen on the bus: {0}")]
    Bus(String),
}

impl Agent {
    fn node(&self) -> ComputeNode {
        let c = self.driver.capacity();
        ComputeNode {
            id: 0,
            uuid: uuid::Uuid::new_v4().to_string(),
            host: self.cfg.host.clone(),
            hypervisor_hostname: self.cfg.host.clone(),
            hypervisor_type: self.driver.hypervisor_type().to_string(),
            hypervisor_version: self.driver.hypervisor_version(),
            host_ip: self.cfg.host_ip.clone(),
            vcpus: c.vcpus,
            memory_mb: c.memory_mb,
            local_gb: c.disk_gb,
            cpu_info: json!({"arch": std::env::consts::ARCH, "model": "virtual", "vendor": "ferrostack",
                             "topology": {"cores": c.vcpus, "threads": 1, "sockets": 1}, "features": []}),
        }
    }

    fn inventories(&self) -> Value {
        let c = self.driver.capacity();
        let cfg = &self.cfg;
        json!({
            "VCPU": {"total": c.vcpus, "reserved": cfg.reserved_host_cpus, "min_unit": 1,
                     "max_unit": c.vcpus, "step_size": 1, "allocation_ratio": cfg.cpu_allocation_ratio},
            "MEMORY_MB": {"total": c.memory_mb, "reserved": cfg.reserved_host_memory_mb.min(c.memory_mb),
                          "min_unit": 1, "max_unit": c.memory_mb, "step_size": 1,
                          "allocation_ratio": cfg.ram_allocation_ratio},
            "DISK_GB": {"total": c.disk_gb, "reserved": cfg.reserved_host_disk_mb / 1024,
                        "min_unit": 1, "max_unit": c.disk_gb, "step_size": 1,
                        "allocation_ratio": cfg.disk_allocation_ratio},
        })
    }

    /// Register, report capacity, start serving and the periodic loops.
    pub async fn start(self: Arc<Self>) -> Result<AgentHandle, AgentError> {
        let reg = Registration {
            host: self.cfg.host.clone(),
            zone: self.cfg.zone.clone(),
            node: self.node(),
        };
        // The conductor may start a moment later (or restart): retry for a while.
        let mut attempt = 0;
        let node: ComputeNode = loop {
            match self.rpc.call_conductor("register", &reg).await {
                Ok(n) => break n,
                Err(e) if attempt < 30 => {
                    attempt += 1;
                    tracing::warn!(error = %e, "conductor not reachable yet; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(AgentError::Register(e.to_string())),
            }
        };
        self.placement
            .ensure_provider(&node.uuid, &node.hypervisor_hostname)
            .await
            .map_err(|e| AgentError::Placement(e.to_string()))?;
        self.placement
            .set_inventory(&node.uuid, &self.inventories(), &self.driver.traits())
            .await
            .map_err(|e| AgentError::Placement(e.to_string()))?;
        // Guests that outlived a previous agent are adopted again; leftovers of
        // instances deleted meanwhile are removed.
        match self
            .rpc
            .call_conductor::<Vec<String>>("instances_on_host", json!({"host": self.cfg.host}))
            .await
        {
            Ok(known) => self.driver.recover(&known).await,
            Err(e) => tracing::warn!(error = %e, "cannot list this host's instances to recover"),
        }
        let listener = self
            .rpc
            .serve(COMPUTE_TOPIC, &self.cfg.host, self.clone())
            .await
            .map_err(|e| AgentError::Bus(e.to_string()))?;
        let mut tasks = Vec::new();
        let me = self.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(me.cfg.report_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                me.driver.periodic().await;
                if let Err(e) = me
                    .rpc
                    .call_conductor::<Value>("heartbeat", json!({"host": me.cfg.host}))
                    .await
                {
                    tracing::warn!(error = %e, "heartbeat failed");
                }
            }
        }));
        let me = self.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(me.cfg.sync_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                me.sync_power_states().await;
            }
        }));
        tracing::info!(host = %self.cfg.host, node = %node.uuid, driver = self.driver.hypervisor_type(), "compute agent ready");
        Ok(AgentHandle {
            _listener: listener,
            tasks,
        })
    }

    /// Compare what the conductor believes runs here with the driver and report.
    pub async fn sync_power_states(&self) {
        let known: Vec<String> = match self
            .rpc
            .call_conductor("instances_on_host", json!({"host": self.cfg.host}))
            .await
        {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "power sync: cannot list instances");
                return;
            }
        };
        let mut states = Vec::new();
        for uuid in known {
            let s = match self.driver.power_state(&uuid).await {
                Ok(s) => Some(s),
                Err(DriverError::NotFound(_)) => None,
                Err(e) => {
                    tracing::warn!(instance = %uuid, error = %e, "power sync: cannot read state");
                    continue;
                }
            };
            states.push((uuid, s));
        }
        let report = PowerReport {
            host: self.cfg.host.clone(),
            states,
        };
        if let Err(e) = self
            .rpc
            .call_conductor::<Value>("power_report", &report)
            .await
        {
            tracing::warn!(error = %e, "power sync: cannot report");
        }
    }
}

fn spec(args: &Value) -> Result<GuestSpec, String> {
    serde_json::from_value(args.get("spec").cloned().unwrap_or(Value::Null))
        .map_err(|e| format!("malformed guest spec: {e}"))
}

fn uuid(args: &Value) -> Result<String, String> {
    args.get("uuid")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "missing uuid".to_string())
}

#[async_trait]
impl Endpoint for Agent {
    async fn dispatch(&self, method: &str, args: Value) -> Result<Value, String> {
        let d = &self.driver;
        let r: Result<Value, DriverError> = match method {
            "spawn" => d.spawn(&spec(&args)?).await.map(|()| Value::Null),
            "destroy" => d.destroy(&uuid(&args)?).await.map(|()| Value::Null),
            "power_off" => {
                let t = args.get("timeout").and_then(Value::as_u64).unwrap_or(60);
                d.power_off(&uuid(&args)?, t).await.map(|()| Value::Null)
            }
            "power_on" => d.power_on(&uuid(&args)?).await.map(|()| Value::Null),
            "reboot" => {
                let hard = args.get("hard").and_then(Value::as_bool).unwrap_or(false);
                d.reboot(&uuid(&args)?, hard).await.map(|()| Value::Null)
            }
            "pause" => d.pause(&uuid(&args)?).await.map(|()| Value::Null),
            "unpause" => d.unpause(&uuid(&args)?).await.map(|()| Value::Null),
            "suspend" => d.suspend(&uuid(&args)?).await.map(|()| Value::Null),
            "resume" => d.resume(&uuid(&args)?).await.map(|()| Value::Null),
            "rebuild" => d.rebuild(&spec(&args)?).await.map(|()| Value::Null),
            "resize" => {
                let new: Flavor =
                    serde_json::from_value(args.get("flavor").cloned().unwrap_or(Value::Null))
                        .map_err(|e| format!("malformed flavor: {e}"))?;
                d.resize(&spec(&args)?, &new).await.map(|()| Value::Null)
            }
            "power_state" => d.power_state(&uuid(&args)?).await.map(Value::from),
            "console_output" => d.console_output(&uuid(&args)?).await.map(Value::from),
            "console" => {
                let kind = args.get("type").and_then(Value::as_str).unwrap_or("novnc");
                d.console(&uuid(&args)?, kind).await
            }
            "snapshot" => {
                let path = self.snapshot_path(&args)?;
                d.snapshot(&uuid(&args)?, &path).await.map(|s| json!(s))
            }
            "upload_snapshot" => return self.upload_snapshot(&args).await,
            "confirm_resize" => d.confirm_resize(&uuid(&args)?).await.map(|()| Value::Null),
            "uptime" => Ok(Value::from(uptime_line())),
            "diagnostics" => d.diagnostics(&uuid(&args)?).await,
            "set_admin_password" => {
                let pw = args
                    .get("password")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                d.set_admin_password(&uuid(&args)?, pw)
                    .await
                    .map(|()| Value::Null)
            }
            "rescue" => {
                let image = args
                    .get("rescue_image_ref")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                d.rescue(&spec(&args)?, image).await.map(|()| Value::Null)
            }
            "unrescue" => d.unrescue(&uuid(&args)?).await.map(|()| Value::Null),
            other => return Err(format!("unknown compute agent method {other}")),
        };
        r.map_err(|e| e.to_string())
    }
}

impl Agent {
    /// Where the snapshot for image `image_id` is written before its upload.
    fn snapshot_path(&self, args: &Value) -> Result<std::path::PathBuf, String> {
        let image = args
            .get("image_id")
            .and_then(Value::as_str)
            .filter(|s| uuid::Uuid::parse_str(s).is_ok())
            .ok_or_else(|| "missing or malformed image_id".to_string())?;
        Ok(self.driver.scratch_dir().join(format!("snapshot-{image}")))
    }

    /// Upload a snapshot written by `snapshot` to its image as the requesting user,
    /// then remove the file (also when the upload fails).
    async fn upload_snapshot(&self, args: &Value) -> Result<Value, String> {
        let path = self.snapshot_path(args)?;
        let s = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or_default();
        let r = self
            .images
            .upload_file(
                s("image_id"),
                &path,
                s("disk_format"),
                s("container_format"),
                s("token"),
            )
            .await
            .map(|()| Value::Null)
            .map_err(|e| format!("snapshot upload failed: {e}"));
        let _ = tokio::fs::remove_file(&path).await;
        r
    }
}

/// This host's `uptime(1)` line from /proc: " 13:05:01 up 3 days,  2:04,  0 users,  load
/// average: 0.10, 0.20, 0.30".
fn uptime_line() -> String {
    let up = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0) as u64;
    let load: Vec<String> = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .map(str::to_string)
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, hours, mins) = (up / 86_400, up % 86_400 / 3600, up % 3600 / 60);
    format!(
        " {:02}:{:02}:{:02} up {days} days, {hours:2}:{mins:02},  0 users,  load average: {}",
        now % 86_400 / 3600,
        now % 3600 / 60,
        now % 60,
        load.join(", ")
    )
}
