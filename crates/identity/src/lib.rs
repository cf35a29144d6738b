//! The identity service: keystone's v3 API.
//!
//! [`Identity`] owns the database, the Fernet keys, the policy enforcer and the caches.
//! HTTP handlers live in [`api`], one module per resource; the rules they apply live in
//! [`service`]; rows are read and written by [`store`].

pub mod api;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod error;
pub mod model;
pub mod policy_defaults;
pub mod revoke;
pub mod schema;
pub mod service;
pub mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use auth::{Enforcer, KeyRepository, KeySet};
use parking_lot::RwLock;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::IdentityConfig;
pub use error::{Error, Result};

/// Why the identity service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("identity database: {0}")]
    Db(#[from] db::DbError),
    #[error("fernet keys: {0}")]
    Keys(#[from] auth::keys::KeyError),
    #[error("policy: {0}")]
    Policy(#[from] auth::policy::PolicyError),
}

/// The running identity service.
pub struct Identity {
    pub db: db::Db,
    pub cfg: IdentityConfig,
    pub clock: Arc<dyn Clock>,
    pub policy: Enforcer,
    keys: RwLock<Arc<KeySet>>,
    key_repo: KeyRepository,
    cred_keys: RwLock<Arc<KeySet>>,
    cred_key_repo: KeyRepository,
    /// Content fingerprint of both key repositories when last loaded.
    key_print: parking_lot::Mutex<String>,
    /// Bumped by every write; caches built at an older epoch are stale.
    epoch: AtomicU64,
    /// The last value of the shared change counter this node has seen.
    seen_counter: AtomicI64,
    pub(crate) revocations: revoke::Revocations,
    pub(crate) cache: service::cache::Caches,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("db", &self.db).finish()
    }
}

impl Identity {
    /// Connect, migrate, load keys (creating them on first start) and policy.
    pub async fn open(
        cfg: IdentityConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Identity>, StartError> {
        let db = db::Db::connect(&cfg.database_url).await?;
        db.migrate("identity", schema::MIGRATIONS).await?;
        Self::with_db(db, cfg, clock).await
    }

    /// Like [`Identity::open`] on an already connected and migrated database.
    pub async fn with_db(
        db: db::Db,
        cfg: IdentityConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Identity>, StartError> {
        let key_repo = KeyRepository::new(&cfg.key_repository, cfg.max_active_keys)?;
        key_repo.setup()?;
        let keys = key_repo.load()?;
        let cred_key_repo =
            KeyRepository::new(&cfg.credential_key_repository, cfg.max_active_keys)?;
        cred_key_repo.setup()?;
        let cred_keys = cred_key_repo.load()?;
        let mut policy = Enforcer::new(policy_defaults::RULES, cfg.enforce_scope);
        if let Some(p) = &cfg.policy_file {
            let n = policy.load_overrides(p)?;
            tracing::info!(file = %p.display(), rules = n, "loaded policy overrides");
        }
        let key_print = format!(
            "{}|{}",
            key_repo.fingerprint()?,
            cred_key_repo.fingerprint()?
        );
        let counter = store::read_counter(&db).await?;
        let id = Identity {
            db,
            cfg,
            clock,
            policy,
            keys: RwLock::new(Arc::new(keys)),
            key_repo,
            cred_keys: RwLock::new(Arc::new(cred_keys)),
            cred_key_repo,
            key_print: parking_lot::Mutex::new(key_print),
            epoch: AtomicU64::new(1),
            seen_counter: AtomicI64::new(counter),
            revocations: revoke::Revocations::default(),
            cache: service::cache::Caches::new(),
        };
        id.revocations.reload(&id.db, id.clock.now()).await?;
        Ok(Arc::new(id))
    }

    /// The Fernet keys tokens are minted and validated with.
    pub fn keys(&self) -> Arc<KeySet> {
        self.keys.read().clone()
    }

    pub fn credential_keys(&self) -> Arc<KeySet> {
        self.cred_keys.read().clone()
    }

    /// Re-read both key repositories (after `fernet rotate` or a key distribution).
    pub fn reload_keys(&self) -> Result<(), auth::keys::KeyError> {
        *self.keys.write() = Arc::new(self.key_repo.load()?);
        *self.cred_keys.write() = Arc::new(self.cred_key_repo.load()?);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Record that identity data changed: drop this node's caches and tell other nodes.
    pub async fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Err(e) = store::bump_counter(&self.db).await {
            tracing::warn!(error = %e, "could not bump the shared change counter");
        } else {
            self.seen_counter.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Pick up changes made by other identity nodes sharing the database.
    pub async fn poll_changes(&self) {
        match store::read_counter(&self.db).await {
            Ok(v) if v != self.seen_counter.load(Ordering::Acquire) => {
                self.seen_counter.store(v, Ordering::Release);
                self.epoch.fetch_add(1, Ordering::AcqRel);
                if let Err(e) = self.revocations.reload(&self.db, self.clock.now()).await {
                    tracing::warn!(error = %e, "could not reload revocation events");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not read the shared change counter"),
        }
        // A `fernet rotate` (here or distributed from another node) takes effect here.
        let print = self
            .key_repo
            .fingerprint()
            .and_then(|a| Ok(format!("{a}|{}", self.cred_key_repo.fingerprint()?)));
        match print {
            Ok(p) if *self.key_print.lock() != p => match self.reload_keys() {
                Ok(()) => {
                    tracing::info!("fernet keys changed on disk; reloaded");
                    *self.key_print.lock() = p;
                }
                Err(e) => tracing::warn!(error = %e, "could not reload fernet keys"),
            },
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not read the key repositories"),
        }
    }

    /// Background work: poll the shared change counter and key repository.
    pub fn spawn_background(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = Arc::downgrade(self);
        let period = std::time::Duration::from_secs(self.cfg.cache_poll_seconds.max(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(me) = me.upgrade() else { break };
                me.poll_changes().await;
            }
        })
    }

    /// A token validator for other services in the same process.
    pub fn validator(self: &Arc<Self>) -> Arc<dyn auth::TokenValidator> {
        Arc::new(service::tokens::LocalValidator(self.clone()))
    }
}
