//! The image service: Glance's v2 API.
//!
//! [`ImageService`] owns the database, the stores and the policy; handlers live in
//! [`api`], the upload/download pipeline in [`data`], rows in [`store`], bits in
//! [`backend`].

pub mod api;
pub mod backend;
pub mod cache;
pub mod config;
pub mod data;
pub mod error;
pub mod metadefs;
pub mod model;
pub mod policy_defaults;
pub mod schema;
pub mod store;

use std::sync::Arc;

use async_trait::async_trait;
use auth::{Context, Decision, Enforcer};
use serde_json::{Value, json};

pub use config::ImageConfig;
pub use error::{Error, Result};

use crate::backend::{FileStore, Store};
use crate::model::Image;

/// Quota limits from identity's unified limits (`resource` is Glance's name, e.g.
/// `image_count_total`; sizes in MiB).
#[async_trait]
pub trait LimitSource: Send + Sync {
    async fn limit(&self, project_id: &str, resource: &str) -> Option<i64>;
}

/// Where `image.create/update/upload/delete` notifications go (the bus, once it exists).
pub trait Notifier: Send + Sync {
    fn notify(&self, event_type: &str, payload: Value);
}

/// Logs notifications at debug level; the default until the message bus lands.
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn notify(&self, event_type: &str, payload: Value) {
        tracing::debug!(event_type, %payload, "notification");
    }
}

/// A project's image quotas; `-1` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub count: i64,
    pub size_mib: i64,
    pub stage_mib: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("image database: {0}")]
    Db(#[from] db::DbError),
    #[error("image store: {0}")]
    Io(#[from] std::io::Error),
    #[error("policy: {0}")]
    Policy(#[from] auth::policy::PolicyError),
}

/// The running image service.
pub struct ImageService {
    pub db: db::Db,
    pub cfg: ImageConfig,
    pub policy: Enforcer,
    pub stores: Vec<Arc<dyn Store>>,
    pub staging: Arc<FileStore>,
    pub limits: Option<Arc<dyn LimitSource>>,
    pub notifier: Arc<dyn Notifier>,
    /// Rendered image listings by caller and query, valid while nothing was written
    /// through this process and for at most [`LIST_CACHE_TTL`] (other nodes' writes).
    pub list_cache: quick_cache::sync::Cache<String, (u64, std::time::Instant, bytes::Bytes)>,
    /// The image cache of this node, when `image_cache_dir` is set.
    pub cache: Option<cache::ImageCache>,
}

/// How long a cached listing may be served without a local write invalidating it: the
/// bound on staleness when several image nodes share a database.
pub const LIST_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);

impl std::fmt::Debug for ImageService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageService")
            .field("db", &self.db)
            .finish()
    }
}

impl ImageService {
    pub async fn open(
        cfg: ImageConfig,
        limits: Option<Arc<dyn LimitSource>>,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Arc<Self>, StartError> {
        let db = db::Db::connect(&cfg.database_url).await?;
        db.migrate("image", schema::MIGRATIONS).await?;
        metadefs::seed(&db, db::micros(std::time::SystemTime::now())).await?;
        let mut policy = Enforcer::new(policy_defaults::RULES, cfg.enforce_scope);
        if let Some(p) = &cfg.policy_file {
            policy.load_overrides(p)?;
        }
        let backends = if cfg.backends.is_empty() {
            vec![("file".to_string(), cfg.filesystem_store_datadir.clone())]
        } else {
            cfg.backends.clone()
        };
        let mut stores: Vec<Arc<dyn Store>> = Vec::new();
        for (id, dir) in backends {
            let desc = format!("Local filesystem store {id}");
            stores.push(Arc::new(FileStore::new(&id, &desc, dir)?));
        }
        let staging = Arc::new(FileStore::new(
            "os_glance_staging_store",
            "Staging area",
            cfg.staging_dir.clone(),
        )?);
        let (cache, cache_queue) = match &cfg.cache {
            Some(c) => {
                let (cache, rx) = cache::ImageCache::open(c.clone())?;
                (Some(cache), Some(rx))
            }
            None => (None, None),
        };
        let svc = Arc::new(ImageService {
            db,
            cfg,
            policy,
            stores,
            staging,
            limits,
            notifier,
            list_cache: quick_cache::sync::Cache::new(1024),
            cache,
        });
        if let Some(rx) = cache_queue {
            tokio::spawn(cache::run_worker(Arc::downgrade(&svc), rx));
        }
        Ok(svc)
    }

    pub fn now(&self) -> i64 {
        db::micros(std::time::SystemTime::now())
    }

    pub fn default_store(&self) -> Arc<dyn Store> {
        self.stores[0].clone()
    }

    pub fn store(&self, id: &str) -> Option<Arc<dyn Store>> {
        self.stores.iter().find(|s| s.id() == id).cloned()
    }

    pub fn is_admin(&self, ctx: &Context) -> bool {
        self.policy
            .check("context_is_admin", &json!({}), &ctx.creds())
    }

    /// Glance's policy target for an image: owner as `project_id`, visibility, and the
    /// caller's project as `member_id` when it is a member.
    pub fn target(&self, img: &Image, member_of: bool, ctx: &Context) -> Value {
        let mut t = json!({
            "project_id": img.owner,
            "owner": img.owner,
            "visibility": img.visibility,
            "id": img.id,
        });
        if member_of && let Some(p) = ctx.user.project_id() {
            t["member_id"] = json!(p);
        }
        t
    }

    /// Enforce a Glance policy rule; 403 with Glance's wording when denied.
    pub fn enforce(&self, ctx: &Context, action: &str, target: &Value) -> Result<()> {
        let t = auth::policy::without_nulls(target);
        match self
            .policy
            .decide(action, &t, &ctx.creds(), ctx.user.scope())
        {
            Decision::Allow => Ok(()),
            Decision::Deny | Decision::WrongScope => Err(Error::Forbidden(format!(
                "You are not authorized to complete {action} action."
            ))),
        }
    }

    pub fn allowed(&self, ctx: &Context, action: &str, target: &Value) -> bool {
        self.enforce(ctx, action, target).is_ok()
    }

    /// An image the caller may see, else 404 (never 403: others' private images do not
    /// exist for the caller).
    pub async fn visible_image(&self, ctx: &Context, id: &str) -> Result<(Image, bool)> {
        let img = store::get(&self.db, id)
            .await?
            .ok_or_else(|| Error::image_not_found(id))?;
        let member = match ctx.user.project_id() {
            Some(p) => store::member(&self.db, id, p).await?.is_some(),
            None => false,
        };
        // Glance's data-layer visibility (its policy alone lets any reader at shared
        // images): owner, public, community, or shared with the caller's project.
        let visible = self.is_admin(ctx)
            || img.owner.is_none()
            || matches!(img.visibility.as_str(), "public" | "community")
            || (img.owner.is_some() && img.owner.as_deref() == ctx.user.project_id())
            || (img.visibility == "shared" && member);
        if !visible || !self.allowed(ctx, "get_image", &self.target(&img, member, ctx)) {
            return Err(Error::image_not_found(id));
        }
        Ok((img, member))
    }

    /// The project's quotas (`-1` = unlimited): from identity's unified limits when
    /// `use_keystone_limits` is on, else from the configuration.
    pub async fn quotas(&self, project: &str) -> Quotas {
        let cfg = |v: Option<u64>, mib: bool| -> i64 {
            v.map(|x| i64::try_from(if mib { x >> 20 } else { x }).unwrap_or(i64::MAX))
                .unwrap_or(-1)
        };
        let mut q = Quotas {
            count: cfg(self.cfg.quota_image_count_total, false),
            size_mib: cfg(self.cfg.quota_image_size_total, true),
            stage_mib: cfg(self.cfg.quota_image_stage_total, true),
        };
        if self.cfg.use_keystone_limits
            && let Some(l) = &self.limits
        {
            q.count = l.limit(project, "image_count_total").await.unwrap_or(-1);
            q.size_mib = l.limit(project, "image_size_total").await.unwrap_or(-1);
            q.stage_mib = l.limit(project, "image_stage_total").await.unwrap_or(-1);
        }
        q
    }

    pub fn notify(&self, event: &str, img: &Image) {
        self.notifier.notify(event, img.to_json());
    }
}
