//! The placement service: OpenStack Placement's REST API (microversions 1.0 – 1.39).
//!
//! [`PlacementService`] owns the database and the policy. Handlers live in [`api`],
//! SQL in [`store`], the pure rules in [`capacity`] (what fits in an inventory) and
//! [`candidates`] (which providers can satisfy a request), query-string grammar in
//! [`params`], and request-body schemas in [`schemas`] checked by [`validate`].

pub mod api;
pub mod candidates;
pub mod capacity;
pub mod error;
pub mod model;
pub mod params;
pub mod policy_defaults;
pub mod schema;
pub mod schemas;
pub mod service;
pub mod standard;
pub mod store;
pub mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use auth::{Context, Decision, Enforcer};
use serde_json::{Value, json};

pub use error::{Error, Result};

/// Placement options (placement's names where it has them).
#[derive(Debug, Clone)]
pub struct PlacementConfig {
    /// `[placement_database] connection`
    pub database_url: String,
    /// `[oslo_policy] policy_file`
    pub policy_file: Option<PathBuf>,
    /// `[oslo_policy] enforce_scope`
    pub enforce_scope: bool,
    /// `[placement] incomplete_consumer_project_id`: the project recorded for
    /// allocations written before microversion 1.8 (which carry no project).
    pub incomplete_consumer_project_id: String,
    /// `[placement] incomplete_consumer_user_id`
    pub incomplete_consumer_user_id: String,
    /// `[placement] allocation_conflict_retry_count`: how often an allocation write is
    /// retried when a provider's generation changed under it.
    pub allocation_conflict_retry_count: usize,
    /// `[placement] max_allocation_candidates` (-1: no limit).
    pub max_allocation_candidates: i64,
}

impl PlacementConfig {
    pub fn for_data_dir(dir: &Path) -> Self {
        PlacementConfig {
            database_url: format!("sqlite://{}/placement.db", dir.display()),
            policy_file: None,
            enforce_scope: false,
            incomplete_consumer_project_id: "00000000-0000-0000-0000-000000000000".into(),
            incomplete_consumer_user_id: "00000000-0000-0000-0000-000000000000".into(),
            allocation_conflict_retry_count: 10,
            max_allocation_candidates: -1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("placement database: {0}")]
    Db(#[from] db::DbError),
    #[error("policy: {0}")]
    Policy(#[from] auth::policy::PolicyError),
}

/// The running placement service.
pub struct PlacementService {
    pub db: db::Db,
    pub cfg: PlacementConfig,
    pub policy: Enforcer,
}

impl std::fmt::Debug for PlacementService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlacementService")
            .field("db", &self.db)
            .finish()
    }
}

impl PlacementService {
    pub async fn open(cfg: PlacementConfig) -> Result<Arc<Self>, StartError> {
        let db = db::Db::connect(&cfg.database_url).await?;
        db.migrate("placement", schema::MIGRATIONS).await?;
        let mut policy = Enforcer::new(&policy_defaults::rules(), cfg.enforce_scope);
        if let Some(p) = &cfg.policy_file {
            policy.load_overrides(p)?;
        }
        Ok(Arc::new(PlacementService { db, cfg, policy }))
    }

    pub fn now(&self) -> i64 {
        db::micros(std::time::SystemTime::now())
    }

    /// Enforce a placement rule with the default target (the caller's project and
    /// user); 403 with placement's wording when denied.
    pub fn enforce(&self, ctx: &Context, action: &str) -> Result<()> {
        let target = json!({
            "project_id": ctx.user.project_id(),
            "user_id": ctx.user.user_id,
        });
        self.enforce_on(ctx, action, &target)
    }

    pub fn enforce_on(&self, ctx: &Context, action: &str, target: &Value) -> Result<()> {
        let t = auth::policy::without_nulls(target);
        match self
            .policy
            .decide(action, &t, &ctx.creds(), ctx.user.scope())
        {
            Decision::Allow => Ok(()),
            Decision::Deny | Decision::WrongScope => Err(Error::Forbidden(format!(
                "Policy does not allow {action} to be performed."
            ))),
        }
    }
}
