//! The compute service: Nova's v2.1 API, the scheduler and conductor that place and
//! drive servers, and the compute agent with its virt drivers.
//!
//! [`ComputeService`] owns the database, policy, the bus and the clients of placement
//! and image; handlers live in [`api`], SQL in [`store`], scheduling in [`scheduler`],
//! orchestration in [`conductor`], the per-host agent in [`agent`] and drivers in
//! [`virt`].

pub mod agent;
pub mod api;
pub mod clients;
pub mod conductor;
pub mod consoles;
pub mod error;
pub mod metadata_api;
pub mod model;
pub mod notify;
pub mod policy_defaults;
pub mod quota;
pub mod rpc;
pub mod scheduler;
pub mod schema;
pub mod store;
pub mod virt;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use auth::{Context, Decision, Enforcer};
use serde_json::{Value, json};

pub use error::{Error, Result};

/// Compute options (nova's names where nova has them).
#[derive(Debug, Clone)]
pub struct ComputeConfig {
    pub database_url: String,
    pub policy_file: Option<PathBuf>,
    pub enforce_scope: bool,
    pub public_endpoint: Option<String>,
    /// `[scheduler] max_attempts`
    pub max_attempts: usize,
    /// `[DEFAULT] service_down_time` seconds.
    pub service_down_time: i64,
    /// `[DEFAULT] default_availability_zone`
    pub default_availability_zone: String,
    /// `[DEFAULT] default_schedule_zone`: the zone of servers created without one.
    pub default_schedule_zone: Option<String>,
    /// `[DEFAULT] rpc_response_timeout` seconds.
    pub rpc_timeout: Duration,
    /// `[scheduler] max_placement_results`
    pub max_placement_results: usize,
    /// `[DEFAULT] shutdown_timeout` seconds for a clean power off.
    pub shutdown_timeout: u64,
    /// `[DEFAULT] shelved_offload_time` seconds: 0 offloads on shelve, -1 never
    /// (only `shelveOffload` does).
    pub shelved_offload_time: i64,
    /// `[DEFAULT] shelved_poll_interval` seconds: how often shelved servers older than
    /// a positive `shelved_offload_time` are offloaded (0: every minute, negative:
    /// never).
    pub shelved_poll_interval: i64,
    /// `[DEFAULT] reclaim_instance_interval` seconds: above 0, deleting a server only
    /// soft-deletes it (restorable) and it is reclaimed after that long.
    pub reclaim_instance_interval: i64,
    /// Publish instance notifications on the bus (`[oslo_messaging_notifications]
    /// driver`: `noop` turns them off).
    pub notifications: bool,
    /// Quota defaults (`[quota]`).
    pub quota_defaults: Vec<(String, i64)>,
    /// `[vnc] novncproxy_base_url`: the noVNC page console URLs point at.
    pub novncproxy_base_url: String,
    /// `[serial_console] base_url`: the serial console proxy's websocket.
    pub serial_base_url: String,
    /// `[consoleauth] token_ttl` seconds.
    pub console_token_ttl: u64,
}

impl ComputeConfig {
    pub fn for_data_dir(dir: &Path) -> Self {
        ComputeConfig {
            database_url: format!("sqlite://{}/compute.db", dir.display()),
            policy_file: None,
            enforce_scope: false,
            public_endpoint: None,
            max_attempts: 3,
            service_down_time: 60,
            default_availability_zone: "nova".into(),
            default_schedule_zone: None,
            rpc_timeout: Duration::from_secs(60),
            max_placement_results: 1000,
            shutdown_timeout: 60,
            shelved_offload_time: 0,
            shelved_poll_interval: 3600,
            reclaim_instance_interval: 0,
            notifications: true,
            novncproxy_base_url: "http://127.0.0.1:6080/vnc_lite.html".into(),
            serial_base_url: "ws://127.0.0.1:6083/".into(),
            console_token_ttl: 600,
            quota_defaults: quota::DEFAULTS
                .iter()
                .map(|(k, v)| ((*k).to_string(), *v))
                .collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("compute database: {0}")]
    Db(#[from] db::DbError),
    #[error("policy: {0}")]
    Policy(#[from] auth::policy::PolicyError),
    #[error("message bus: {0}")]
    Bus(String),
}

/// The running compute API, scheduler and conductor.
pub struct ComputeService {
    pub db: db::Db,
    pub cfg: ComputeConfig,
    pub policy: Enforcer,
    pub rpc: rpc::Rpc,
    pub placement: clients::Placement,
    pub images: clients::Images,
    /// Recent build failures per host (the build failure weigher).
    pub failures: parking_lot::Mutex<std::collections::HashMap<String, u32>>,
}

impl std::fmt::Debug for ComputeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputeService")
            .field("db", &self.db)
            .finish()
    }
}

impl ComputeService {
    pub async fn open(
        cfg: ComputeConfig,
        rpc: rpc::Rpc,
        placement: clients::Placement,
        images: clients::Images,
    ) -> Result<Arc<Self>, StartError> {
        let db = db::Db::connect(&cfg.database_url).await?;
        db.migrate("compute", schema::MIGRATIONS).await?;
        let mut policy = Enforcer::new(policy_defaults::RULES, cfg.enforce_scope);
        if let Some(p) = &cfg.policy_file {
            policy.load_overrides(p)?;
        }
        Ok(Arc::new(ComputeService {
            db,
            cfg,
            policy,
            rpc,
            placement,
            images,
            failures: parking_lot::Mutex::new(std::collections::HashMap::new()),
        }))
    }

    async fn heartbeat_internal_services(&self, host: &str) {
        for (binary, topic) in [
            ("nova-conductor", "conductor"),
            ("nova-scheduler", "scheduler"),
        ] {
            if let Err(e) =
                store::misc::upsert_service(&self.db, host, binary, topic, "internal", self.now())
                    .await
            {
                tracing::warn!(service = binary, error = %e, "service heartbeat failed");
            }
        }
    }

    /// Serve the conductor topic on the bus (agents register and report here), and
    /// keep the `nova-conductor` and `nova-scheduler` service records of this host
    /// alive (zone `internal`, as nova lists them).
    pub async fn start_conductor(self: &Arc<Self>) -> Result<bus::Listener, StartError> {
        let host = hostname();
        let h = host.clone();
        let period = Duration::from_secs((self.cfg.service_down_time / 3).clamp(1, 10) as u64);
        // The records exist before the API answers (clients list services at once).
        self.heartbeat_internal_services(&host).await;
        self.periodically(period, move |me| {
            let h = h.clone();
            async move { me.heartbeat_internal_services(&h).await }
        });
        if self.cfg.shelved_offload_time > 0 && self.cfg.shelved_poll_interval >= 0 {
            let every = match self.cfg.shelved_poll_interval {
                0 => 60,
                n => n as u64,
            };
            self.periodically(Duration::from_secs(every), |me| async move {
                me.offload_old_shelved().await
            });
        }
        if self.cfg.reclaim_instance_interval > 0 {
            let every = self.cfg.reclaim_instance_interval.min(60) as u64;
            self.periodically(Duration::from_secs(every), |me| async move {
                me.reclaim_soft_deleted().await
            });
        }
        self.rpc
            .serve(
                rpc::CONDUCTOR_TOPIC,
                &host,
                Arc::new(conductor::Conductor { svc: self.clone() }),
            )
            .await
            .map_err(|e| StartError::Bus(e.to_string()))
    }

    /// Run `task` every `period` (first after one period) while the service lives.
    fn periodically<F, Fut>(self: &Arc<Self>, period: Duration, task: F)
    where
        F: Fn(Arc<Self>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let service = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(me) = service.upgrade() else {
                    return; // the service is gone
                };
                task(me).await;
            }
        });
    }

    pub fn now(&self) -> i64 {
        db::micros(std::time::SystemTime::now())
    }

    pub fn is_admin(&self, ctx: &Context) -> bool {
        self.policy
            .check("context_is_admin", &json!({}), &ctx.creds())
    }

    /// Enforce a nova policy rule; 403 with nova's wording when denied.
    pub fn enforce(&self, ctx: &Context, action: &str, target: &Value) -> Result<()> {
        let t = auth::policy::without_nulls(target);
        match self
            .policy
            .decide(action, &t, &ctx.creds(), ctx.user.scope())
        {
            Decision::Allow => Ok(()),
            Decision::Deny | Decision::WrongScope => Err(Error::Forbidden(format!(
                "Policy doesn't allow {action} to be performed."
            ))),
        }
    }

    pub fn allowed(&self, ctx: &Context, action: &str, target: &Value) -> bool {
        self.enforce(ctx, action, target).is_ok()
    }

    /// The target nova uses for a project-owned resource.
    pub fn project_target(project_id: &str, user_id: Option<&str>) -> Value {
        json!({"project_id": project_id, "user_id": user_id})
    }
}

/// This machine's host name (the default `host` of services).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
