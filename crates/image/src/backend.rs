//! Where image bits live. A [`Store`] hands out writers for new data and streams stored
//! data back; hashing, inspection and size limits happen above it, in the upload pipeline,
//! so every store gets them.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the image data is not in the store")]
    NotFound,
    #[error("store {store}: {source}")]
    Io {
        store: String,
        #[source]
        source: io::Error,
    },
    #[error("store {0} is read-only")]
    ReadOnly(String),
}

/// Data being written; dropped without [`StoreWriter::commit`] it leaves nothing behind.
#[async_trait]
pub trait StoreWriter: Send {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError>;
    /// Make the data durable and visible; returns the location URL.
    async fn commit(self: Box<Self>) -> Result<String, StoreError>;
    /// Discard what was written.
    async fn abort(self: Box<Self>);
}

#[async_trait]
pub trait Store: Send + Sync {
    fn id(&self) -> &str;
    fn description(&self) -> &str;
    /// Start writing the data of `image_id`.
    async fn writer(&self, image_id: &str) -> Result<Box<dyn StoreWriter>, StoreError>;
    /// Stream stored data from `offset` (`len` bytes, or to the end); also returns the
    /// total size.
    async fn read(
        &self,
        url: &str,
        offset: u64,
        len: Option<u64>,
    ) -> Result<(u64, ByteStream), StoreError>;
    async fn delete(&self, url: &str) -> Result<(), StoreError>;
}

/// Files under a directory: `file:///dir/<image id>`.
pub struct FileStore {
    id: String,
    description: String,
    dir: PathBuf,
}

impl FileStore {
    pub fn new(id: &str, description: &str, dir: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(FileStore {
            id: id.to_string(),
            description: description.to_string(),
            dir,
        })
    }

    fn io(&self) -> impl FnOnce(io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            store: self.id.clone(),
            source,
        }
    }

    fn path_of(&self, url: &str) -> Result<PathBuf, StoreError> {
        let p = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        // Only files inside our directory: a location can never point elsewhere.
        if p.parent() != Some(self.dir.as_path()) {
            return Err(StoreError::NotFound);
        }
        Ok(p)
    }
}

struct FileWriter {
    store: String,
    tmp: PathBuf,
    dst: PathBuf,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
}

const WRITE_BUFFER: usize = 1 << 20;
/// Read chunk size for downloads.
pub const READ_CHUNK: usize = 1 << 20;

#[async_trait]
impl StoreWriter for FileWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        let store = self.store.clone();
        match &mut self.file {
            Some(f) => f
                .write_all(chunk)
                .await
                .map_err(|source| StoreError::Io { store, source }),
            None => Err(StoreError::Io {
                store,
                source: io::Error::other("writer already closed"),
            }),
        }
    }

    async fn commit(mut self: Box<Self>) -> Result<String, StoreError> {
        let store = self.store.clone();
        let io = |source| StoreError::Io {
            store: store.clone(),
            source,
        };
        if let Some(mut f) = self.file.take() {
            f.flush().await.map_err(io)?;
            f.get_mut().sync_all().await.map_err(io)?;
        }
        tokio::fs::rename(&self.tmp, &self.dst).await.map_err(io)?;
        Ok(format!("file://{}", self.dst.display()))
    }

    async fn abort(mut self: Box<Self>) {
        self.file.take();
        let _ = tokio::fs::remove_file(&self.tmp).await;
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        // An upload that was neither committed nor aborted (a dropped connection) must not
        // leave a partial file.
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[async_trait]
impl Store for FileStore {
    fn id(&self) -> &str {
        &self.id
    }

    fn description(&self) -> &str {
        &self.description
    }

    async fn writer(&self, image_id: &str) -> Result<Box<dyn StoreWriter>, StoreError> {
        let dst = self.dir.join(image_id);
        let tmp = self.dir.join(format!(
            ".{image_id}.{}.part",
            uuid::Uuid::new_v4().simple()
        ));
        let f = tokio::fs::File::create(&tmp).await.map_err(self.io())?;
        Ok(Box::new(FileWriter {
            store: self.id.clone(),
            tmp,
            dst,
            file: Some(tokio::io::BufWriter::with_capacity(WRITE_BUFFER, f)),
        }))
    }

    async fn read(
        &self,
        url: &str,
        offset: u64,
        len: Option<u64>,
    ) -> Result<(u64, ByteStream), StoreError> {
        let p = self.path_of(url)?;
        let mut f = match tokio::fs::File::open(&p).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(self.io()(e)),
        };
        let total = f.metadata().await.map_err(self.io())?.len();
        f.seek(io::SeekFrom::Start(offset))
            .await
            .map_err(self.io())?;
        use tokio::io::AsyncReadExt;
        let take = len.unwrap_or(total.saturating_sub(offset));
        let reader = f.take(take);
        let s = tokio_util::io::ReaderStream::with_capacity(reader, READ_CHUNK);
        Ok((total, Box::pin(s)))
    }

    async fn delete(&self, url: &str) -> Result<(), StoreError> {
        let p = self.path_of(url)?;
        match tokio::fs::remove_file(&p).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io()(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    async fn collect(mut s: ByteStream) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn write_commit_read_ranges_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStore::new("file", "local files", dir.path().join("images")).unwrap();
        let mut w = s.writer("img").await.unwrap();
        w.write(b"hello ").await.unwrap();
        w.write(b"world").await.unwrap();
        let url = w.commit().await.unwrap();
        let (total, st) = s.read(&url, 0, None).await.unwrap();
        assert_eq!(total, 11);
        assert_eq!(collect(st).await, b"hello world");
        let (_, st) = s.read(&url, 6, Some(3)).await.unwrap();
        assert_eq!(collect(st).await, b"wor");
        s.delete(&url).await.unwrap();
        assert!(matches!(
            s.read(&url, 0, None).await,
            Err(StoreError::NotFound)
        ));
        // locations outside the store directory are refused
        assert!(matches!(
            s.read("file:///etc/passwd", 0, None).await,
            Err(StoreError::NotFound)
        ));
    }

    #[tokio::test]
    async fn aborted_and_dropped_writers_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStore::new("file", "local files", dir.path().to_path_buf()).unwrap();
        let mut w = s.writer("a").await.unwrap();
        w.write(b"partial").await.unwrap();
        w.abort().await;
        {
            let mut w = s.writer("b").await.unwrap();
            w.write(b"partial").await.unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
