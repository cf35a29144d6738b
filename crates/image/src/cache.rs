//! The image cache of one image node (Glance's `image_cache_dir` with its centralized
//! database driver): full copies of active images in a local directory, served instead of
//! the store; what is cached and what waits in the queue are rows of the shared database,
//! keyed by this node's reference URL, so `GET /v2/cache/nodes/{image}` can answer for the
//! whole deployment. A worker task fills the cache from the queue, verifying each copy
//! against the image's checksum; the cache is pruned to its maximum size, least recently
//! used first.

use std::path::PathBuf;
use std::sync::{Arc, Weak};

use axum::body::Body;
use db::{Db, RowExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::backend::{FileStore, Store};
use crate::data::receive;
use crate::model::{Image, status};
use crate::{ImageService, store};

#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// `[image] image_cache_dir`
    pub dir: PathBuf,
    /// `[image] image_cache_max_size` in bytes (Glance: 10 GiB).
    pub max_size: u64,
    /// `[image] image_cache_stall_time`: seconds after which an unfinished copy is stale.
    pub stall_time: u64,
    /// `[image] worker_self_reference_url`: this node's name in the shared tables.
    pub node: String,
}

/// One cached image as Glance reports it (times in seconds since the epoch, as floats).
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    pub image_id: String,
    pub size: i64,
    pub hits: i64,
    pub checksum: Option<String>,
    pub last_accessed: i64,
    pub last_modified: i64,
}

impl Cached {
    pub fn to_json(&self) -> Value {
        let secs = |us: i64| us as f64 / 1e6;
        json!({
            "image_id": self.image_id,
            "size": self.size,
            "hits": self.hits,
            "checksum": self.checksum,
            "last_accessed": secs(self.last_accessed),
            "last_modified": secs(self.last_modified),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Store(#[from] crate::backend::StoreError),
    #[error("image {0} has no data in any enabled store")]
    NoData(String),
    #[error("copy of image {id} has checksum {got}, the image says {want}")]
    Checksum {
        id: String,
        got: String,
        want: String,
    },
    #[error("reading the cache directory: {0}")]
    Read(#[source] std::io::Error),
    #[error("copying image data: {0}")]
    Copy(#[from] crate::data::UploadError),
}

pub struct ImageCache {
    pub cfg: CacheConfig,
    files: Arc<dyn Store>,
    queue: mpsc::UnboundedSender<String>,
}

impl std::fmt::Debug for ImageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageCache")
            .field("cfg", &self.cfg)
            .finish()
    }
}

fn now() -> i64 {
    db::micros(std::time::SystemTime::now())
}

impl ImageCache {
    /// The cache and the receiving end of its work queue (see [`run_worker`]).
    pub fn open(cfg: CacheConfig) -> std::io::Result<(Self, mpsc::UnboundedReceiver<String>)> {
        let files: Arc<dyn Store> = Arc::new(FileStore::new(
            "image-cache",
            "Image cache",
            cfg.dir.clone(),
        )?);
        let (queue, rx) = mpsc::unbounded_channel();
        Ok((ImageCache { cfg, files, queue }, rx))
    }

    fn url(&self, image_id: &str) -> String {
        format!("file://{}", self.cfg.dir.join(image_id).display())
    }

    /// The local copy of a cached image, to serve in place of the store's; counts a hit.
    /// `None` when the image is not cached here (or its file has gone, which drops the
    /// entry).
    pub async fn open_for_read(
        &self,
        db: &Db,
        image_id: &str,
    ) -> Result<Option<(&dyn Store, String)>, CacheError> {
        let hit = db
            .q("UPDATE image_cache SET hits = hits + 1, last_accessed = ? WHERE node = ? AND image_id = ?")
            .bind(now())
            .bind(self.cfg.node.as_str())
            .bind(image_id)
            .execute(db.pool())
            .await?;
        if hit == 0 {
            return Ok(None);
        }
        if !self.cfg.dir.join(image_id).is_file() {
            self.delete_cached(db, image_id).await?;
            return Ok(None);
        }
        Ok(Some((self.files.as_ref(), self.url(image_id))))
    }

    async fn entry(&self, db: &Db, image_id: &str) -> Result<Option<Cached>, CacheError> {
        Ok(db
            .q("SELECT image_id, size, hits, checksum, last_accessed, last_modified FROM image_cache WHERE node = ? AND image_id = ?")
            .bind(self.cfg.node.as_str())
            .bind(image_id)
            .fetch_optional(db.pool())
            .await?
            .as_ref()
            .map(cached_row)
            .transpose()?)
    }

    /// This node's cached images, least recently used first.
    pub async fn cached(&self, db: &Db) -> Result<Vec<Cached>, CacheError> {
        db.q("SELECT image_id, size, hits, checksum, last_accessed, last_modified FROM image_cache WHERE node = ? ORDER BY last_accessed, image_id")
            .bind(self.cfg.node.as_str())
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| cached_row(r).map_err(CacheError::from))
            .collect()
    }

    /// This node's queue, oldest first.
    pub async fn queued(&self, db: &Db) -> Result<Vec<String>, CacheError> {
        db.q("SELECT image_id FROM image_cache_queue WHERE node = ? ORDER BY queued_at, image_id")
            .bind(self.cfg.node.as_str())
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| r.text("image_id").map_err(CacheError::from))
            .collect()
    }

    /// Every node that holds a copy of the image.
    pub async fn nodes(db: &Db, image_id: &str) -> Result<Vec<String>, CacheError> {
        db.q("SELECT node FROM image_cache WHERE image_id = ? ORDER BY node")
            .bind(image_id)
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| r.text("node").map_err(CacheError::from))
            .collect()
    }

    /// Queue an image for caching and wake the worker; `false` when it is cached or
    /// queued already.
    pub async fn queue(&self, db: &Db, image_id: &str) -> Result<bool, CacheError> {
        if self.entry(db, image_id).await?.is_some() {
            return Ok(false);
        }
        self.enqueue(db, image_id).await
    }

    /// [`Self::queue`] for an image known not to be cached (the worker skips it if it
    /// has been since); `false` when it is queued already.
    pub async fn enqueue(&self, db: &Db, image_id: &str) -> Result<bool, CacheError> {
        let r = db
            .q("INSERT INTO image_cache_queue (node, image_id, queued_at) VALUES (?, ?, ?)")
            .bind(self.cfg.node.as_str())
            .bind(image_id)
            .bind(now())
            .execute(db.pool())
            .await;
        match r {
            Ok(_) => {
                let _ = self.queue.send(image_id.to_string());
                Ok(true)
            }
            Err(db::DbError::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn is_queued(&self, db: &Db, image_id: &str) -> Result<bool, CacheError> {
        Ok(db
            .q("SELECT image_id FROM image_cache_queue WHERE node = ? AND image_id = ?")
            .bind(self.cfg.node.as_str())
            .bind(image_id)
            .fetch_optional(db.pool())
            .await?
            .is_some())
    }

    pub async fn delete_queued(&self, db: &Db, image_id: Option<&str>) -> Result<u64, CacheError> {
        let mut sql = "DELETE FROM image_cache_queue WHERE node = ?".to_string();
        if image_id.is_some() {
            sql.push_str(" AND image_id = ?");
        }
        let mut q = db.q(&sql).bind(self.cfg.node.as_str());
        if let Some(id) = image_id {
            q = q.bind(id);
        }
        Ok(q.execute(db.pool()).await?)
    }

    /// Drop one cached copy: its row, then its file.
    pub async fn delete_cached(&self, db: &Db, image_id: &str) -> Result<u64, CacheError> {
        let n = db
            .q("DELETE FROM image_cache WHERE node = ? AND image_id = ?")
            .bind(self.cfg.node.as_str())
            .bind(image_id)
            .execute(db.pool())
            .await?;
        self.files.delete(&self.url(image_id)).await?;
        Ok(n)
    }

    /// An image is gone: drop it from every node's cache and queue, and this node's copy
    /// (other nodes' `clean` removes their files, which no longer have an entry).
    pub async fn forget(&self, db: &Db, image_id: &str) -> Result<(), CacheError> {
        for table in ["image_cache_queue", "image_cache"] {
            db.q(&format!("DELETE FROM {table} WHERE image_id = ?"))
                .bind(image_id)
                .execute(db.pool())
                .await?;
        }
        self.files.delete(&self.url(image_id)).await?;
        Ok(())
    }

    pub async fn delete_all_cached(&self, db: &Db) -> Result<u64, CacheError> {
        let mut n = 0;
        for c in self.cached(db).await? {
            n += self.delete_cached(db, &c.image_id).await?;
        }
        Ok(n)
    }

    /// Whether the image is cached or queued here.
    pub async fn knows(&self, db: &Db, image_id: &str) -> Result<bool, CacheError> {
        Ok(self.entry(db, image_id).await?.is_some() || self.is_queued(db, image_id).await?)
    }

    /// Remove cached copies, least recently used first, until the cache fits its
    /// maximum size: `(files, bytes)` removed.
    pub async fn prune(&self, db: &Db) -> Result<(u64, u64), CacheError> {
        let cached = self.cached(db).await?;
        let mut total: u64 = cached.iter().map(|c| c.size.max(0) as u64).sum();
        let (mut files, mut bytes) = (0, 0);
        for c in cached {
            if total <= self.cfg.max_size {
                break;
            }
            self.delete_cached(db, &c.image_id).await?;
            let size = c.size.max(0) as u64;
            total -= size;
            files += 1;
            bytes += size;
        }
        Ok((files, bytes))
    }

    /// Remove what should not be there: unfinished copies older than the stall time,
    /// files without an entry and entries without a file.
    pub async fn clean(&self, db: &Db) -> Result<(), CacheError> {
        let known: std::collections::HashSet<String> = self
            .cached(db)
            .await?
            .into_iter()
            .map(|c| c.image_id)
            .collect();
        let stall = std::time::Duration::from_secs(self.cfg.stall_time);
        let mut present = std::collections::HashSet::new();
        let mut dir = tokio::fs::read_dir(&self.cfg.dir)
            .await
            .map_err(CacheError::Read)?;
        while let Some(e) = dir.next_entry().await.map_err(CacheError::Read)? {
            let name = e.file_name().to_string_lossy().to_string();
            let partial = name.starts_with('.') && name.ends_with(".part");
            let stale = partial
                && e.metadata()
                    .await
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age >= stall);
            if stale || (!partial && !known.contains(&name)) {
                let _ = tokio::fs::remove_file(e.path()).await;
            } else if !partial {
                present.insert(name);
            }
        }
        for id in known.difference(&present) {
            self.delete_cached(db, id).await?;
        }
        Ok(())
    }

    /// Copy an active image into the cache, checking it against the image's checksum.
    async fn fill(&self, svc: &ImageService, img: &Image) -> Result<(), CacheError> {
        let locs = store::locations(&svc.db, &img.id).await?;
        let (s, url) = locs
            .into_iter()
            .find_map(|(sid, url)| svc.store(&sid).map(|s| (s, url)))
            .ok_or_else(|| CacheError::NoData(img.id.clone()))?;
        let (_, data) = s.read(&url, 0, None).await?;
        let got = receive(
            &self.files,
            &img.id,
            Body::from_stream(data),
            u64::MAX,
            None,
            false,
        )
        .await?;
        if let Some(want) = img.checksum.as_deref()
            && want != got.checksum
        {
            // no entry points at it, but it must not linger until the next clean
            self.files.delete(&got.url).await?;
            return Err(CacheError::Checksum {
                id: img.id.clone(),
                got: got.checksum,
                want: want.to_string(),
            });
        }
        let t = now();
        let r = svc
            .db
            .q("INSERT INTO image_cache (node, image_id, size, hits, checksum, last_accessed, last_modified) VALUES (?, ?, ?, 0, ?, ?, ?)")
            .bind(self.cfg.node.as_str())
            .bind(img.id.as_str())
            .bind(i64::try_from(got.size).unwrap_or(i64::MAX))
            .bind(Some(got.checksum))
            .bind(t)
            .bind(t)
            .execute(svc.db.pool())
            .await;
        match r {
            Ok(_) | Err(db::DbError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Cache one queued image (if it is still queued and active), then prune.
    async fn process(&self, svc: &ImageService, image_id: &str) -> Result<(), CacheError> {
        if !self.is_queued(&svc.db, image_id).await? {
            return Ok(());
        }
        let img = store::get(&svc.db, image_id).await?;
        let outcome = match &img {
            Some(img) if img.status == status::ACTIVE => {
                if self.entry(&svc.db, image_id).await?.is_some() {
                    Ok(())
                } else {
                    self.fill(svc, img).await
                }
            }
            _ => Ok(()),
        };
        self.delete_queued(&svc.db, Some(image_id)).await?;
        outcome?;
        self.prune(&svc.db).await?;
        Ok(())
    }
}

fn cached_row(r: &db::Row) -> db::Result<Cached> {
    Ok(Cached {
        image_id: r.text("image_id")?,
        size: r.int("size")?,
        hits: r.int("hits")?,
        checksum: r.opt_text("checksum")?,
        last_accessed: r.int("last_accessed")?,
        last_modified: r.int("last_modified")?,
    })
}

/// The cache worker: caches each image put on the queue, one at a time, and at start
/// whatever this node's queue held when the process stopped. Ends with the service.
pub async fn run_worker(svc: Weak<ImageService>, mut rx: mpsc::UnboundedReceiver<String>) {
    if let Some(s) = svc.upgrade()
        && let Some(c) = &s.cache
    {
        match c.queued(&s.db).await {
            Ok(ids) => {
                for id in ids {
                    let _ = c.queue.send(id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "image cache: cannot read the queue"),
        }
        if let Err(e) = c.clean(&s.db).await {
            tracing::warn!(error = %e, "image cache: clean-up failed");
        }
    }
    while let Some(id) = rx.recv().await {
        let Some(s): Option<Arc<ImageService>> = svc.upgrade() else {
            return;
        };
        let Some(c) = &s.cache else { return };
        match c.process(&s, &id).await {
            Ok(()) => tracing::debug!(image = %id, "image cache: processed"),
            Err(e) => tracing::warn!(image = %id, error = %e, "image cache: not cached"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn setup(max_size: u64) -> (Db, ImageCache, tempfile::TempDir) {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        db.migrate("image", crate::schema::MIGRATIONS)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cfg = CacheConfig {
            dir: dir.path().join("cache"),
            max_size,
            stall_time: 3600,
            node: "http://node-1:9292".into(),
        };
        let (c, _rx) = ImageCache::open(cfg).unwrap();
        (db, c, dir)
    }

    async fn put(db: &Db, c: &ImageCache, id: &str, size: usize, accessed: i64) {
        std::fs::write(c.cfg.dir.join(id), vec![0u8; size]).unwrap();
        db.q("INSERT INTO image_cache (node, image_id, size, hits, checksum, last_accessed, last_modified) VALUES (?, ?, ?, 0, NULL, ?, ?)")
            .bind(c.cfg.node.as_str())
            .bind(id)
            .bind(size as i64)
            .bind(accessed)
            .bind(accessed)
            .execute(db.pool())
            .await
            .unwrap();
    }

    fn ids(v: Vec<Cached>) -> Vec<String> {
        v.into_iter().map(|c| c.image_id).collect()
    }

    #[tokio::test]
    async fn prune_drops_least_recently_used_until_it_fits() {
        let (db, c, _d) = setup(25).await;
        put(&db, &c, "old", 10, 1).await;
        put(&db, &c, "mid", 10, 2).await;
        put(&db, &c, "new", 10, 3).await;
        assert_eq!(c.prune(&db).await.unwrap(), (1, 10));
        assert_eq!(ids(c.cached(&db).await.unwrap()), ["mid", "new"]);
        assert!(!c.cfg.dir.join("old").exists());
        assert_eq!(c.prune(&db).await.unwrap(), (0, 0));
    }

    #[tokio::test]
    async fn reads_count_hits_and_lost_files_drop_their_entry() {
        let (db, c, _d) = setup(1 << 20).await;
        put(&db, &c, "a", 4, 1).await;
        assert!(c.open_for_read(&db, "a").await.unwrap().is_some());
        assert!(c.open_for_read(&db, "a").await.unwrap().is_some());
        let a = c.cached(&db).await.unwrap().remove(0);
        assert_eq!(a.hits, 2);
        assert!(a.last_accessed > 1);
        std::fs::remove_file(c.cfg.dir.join("a")).unwrap();
        assert!(c.open_for_read(&db, "a").await.unwrap().is_none());
        assert!(c.cached(&db).await.unwrap().is_empty());
        assert!(c.open_for_read(&db, "never").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn queue_once_and_not_when_cached() {
        let (db, c, _d) = setup(1 << 20).await;
        assert!(c.queue(&db, "q").await.unwrap());
        assert!(!c.queue(&db, "q").await.unwrap());
        put(&db, &c, "cached", 1, 1).await;
        assert!(!c.queue(&db, "cached").await.unwrap());
        assert_eq!(c.queued(&db).await.unwrap(), ["q"]);
        assert!(c.knows(&db, "q").await.unwrap() && c.knows(&db, "cached").await.unwrap());
        c.forget(&db, "cached").await.unwrap();
        assert!(!c.knows(&db, "cached").await.unwrap());
        assert!(!c.cfg.dir.join("cached").exists());
        assert_eq!(c.delete_queued(&db, None).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn clean_removes_strays_and_orphans() {
        let (db, c, _d) = setup(1 << 20).await;
        put(&db, &c, "kept", 1, 1).await;
        put(&db, &c, "lost", 1, 1).await;
        std::fs::remove_file(c.cfg.dir.join("lost")).unwrap();
        std::fs::write(c.cfg.dir.join("stray"), b"x").unwrap();
        std::fs::write(c.cfg.dir.join(".fresh.1234.part"), b"x").unwrap();
        c.clean(&db).await.unwrap();
        assert_eq!(ids(c.cached(&db).await.unwrap()), ["kept"]);
        let mut left: Vec<String> = std::fs::read_dir(&c.cfg.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        left.sort();
        // a partial copy younger than the stall time is still being written
        assert_eq!(left, [".fresh.1234.part", "kept"]);
    }
}
