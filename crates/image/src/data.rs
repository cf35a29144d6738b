//! The data path: uploads are streamed into a store while md5 and sha512 are computed on
//! two other threads and the format inspector looks at the head and tail; downloads are
//! streamed back, with ranges. Memory stays bounded whatever the image size.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use image_format::{DiskFormat, Inspector};
use md5::Digest as _;
use tokio::sync::mpsc;

use crate::backend::Store;
use crate::{Error, Result};

/// What an upload produced.
#[derive(Debug, Clone)]
pub struct Received {
    pub url: String,
    pub size: u64,
    pub checksum: String,
    pub os_hash_value: String,
    pub virtual_size: Option<u64>,
}

/// Why an upload failed; the caller decides the image status from it.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("Image exceeds the size limit of {0} bytes.")]
    TooLarge(u64),
    #[error("The upload was interrupted: {0}")]
    Interrupted(String),
    #[error("{0}")]
    BadData(String),
    #[error(transparent)]
    Store(#[from] crate::backend::StoreError),
}

impl From<UploadError> for Error {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::TooLarge(_) => Error::TooLarge(e.to_string()),
            UploadError::Interrupted(_) => Error::BadRequest(e.to_string()),
            UploadError::BadData(m) => Error::BadRequest(m),
            UploadError::Store(s) => Error::from(s),
        }
    }
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// A hashing thread fed by a bounded channel (the bound is the backpressure).
fn hasher<D: md5::Digest + Send + 'static>(
    mut d: D,
) -> (mpsc::Sender<bytes::Bytes>, tokio::task::JoinHandle<String>) {
    let (tx, mut rx) = mpsc::channel::<bytes::Bytes>(16);
    let h = tokio::task::spawn_blocking(move || {
        while let Some(b) = rx.blocking_recv() {
            d.update(&b);
        }
        hex(&d.finalize())
    });
    (tx, h)
}

/// Stream `body` into `store` as the data of `image_id`, at most `limit` bytes. When
/// `declared` is given, the content must be of that disk format and safe.
pub async fn receive(
    store: &Arc<dyn Store>,
    image_id: &str,
    body: Body,
    limit: u64,
    declared: Option<DiskFormat>,
    check_format: bool,
) -> Result<Received, UploadError> {
    let mut writer = store.writer(image_id).await?;
    let (md5_tx, md5_h) = hasher(md5::Md5::new());
    let (sha_tx, sha_h) = hasher(sha2::Sha512::new());
    let mut inspector = Inspector::new();
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    let outcome: Result<(), UploadError> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| UploadError::Interrupted(e.to_string()))?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(UploadError::TooLarge(limit));
            }
            inspector.update(&chunk);
            // A hashing thread only stops early if the runtime is shutting down.
            let _ = md5_tx.send(chunk.clone()).await;
            let _ = sha_tx.send(chunk.clone()).await;
            writer.write(&chunk).await?;
        }
        Ok(())
    }
    .await;
    drop(md5_tx);
    drop(sha_tx);
    let checksum = md5_h.await.unwrap_or_default();
    let sha = sha_h.await.unwrap_or_default();
    if let Err(e) = outcome {
        writer.abort().await;
        return Err(e);
    }
    let inspection = inspector.finish();
    // An empty upload carries nothing a hypervisor could be tricked with.
    if let Some(d) = declared
        && size > 0
        && check_format
        && let Err(e) = image_format::check(d, &inspection)
    {
        writer.abort().await;
        return Err(UploadError::BadData(format!(
            "Image data is not acceptable: {e}"
        )));
    }
    let url = writer.commit().await?;
    Ok(Received {
        url,
        size,
        checksum,
        os_hash_value: sha,
        virtual_size: inspection.virtual_size,
    })
}

/// Parse a single `Range: bytes=…` against `total`: `(offset, length)`.
pub fn parse_range(h: &str, total: u64) -> Option<(u64, u64)> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 {
            return None;
        }
        (total.saturating_sub(n), total.checked_sub(1)?)
    } else {
        let s: u64 = a.parse().ok()?;
        let e: u64 = if b.is_empty() {
            total.checked_sub(1)?
        } else {
            b.parse().ok()?
        };
        (s, e.min(total.checked_sub(1)?))
    };
    if start > end || start >= total {
        return None;
    }
    Some((start, end - start + 1))
}

/// Stream stored data as a download response (200, or 206 for a range).
pub async fn download(
    store: &dyn Store,
    url: &str,
    size: Option<u64>,
    checksum: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response> {
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let total = match size {
        Some(s) => s,
        None => store.read(url, 0, Some(0)).await?.0,
    };
    let (offset, len, partial) = match range {
        None => (0, total, false),
        Some(r) => match parse_range(r, total) {
            Some((o, l)) => (o, l, true),
            None => {
                let mut resp =
                    Error::RangeNotSatisfiable(format!("Requested range {r} not satisfiable"))
                        .into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                    resp.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(resp);
            }
        },
    };
    let (_, stream) = store.read(url, offset, Some(len)).await?;
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if partial {
        if let Ok(v) =
            HeaderValue::from_str(&format!("bytes {offset}-{}/{total}", offset + len - 1))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
    } else if let Some(c) = checksum
        && let Ok(v) = HeaderValue::from_str(c)
    {
        h.insert("content-md5", v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 10)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 10)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 10)));
        assert_eq!(parse_range("bytes=95-200", 100), Some((95, 5)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[tokio::test]
    async fn receive_hashes_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let s: Arc<dyn Store> = Arc::new(
            crate::backend::FileStore::new("file", "f", dir.path().to_path_buf()).unwrap(),
        );
        let r = receive(&s, "i1", Body::from("hello"), 100, None, false)
            .await
            .unwrap();
        assert_eq!(r.size, 5);
        assert_eq!(r.checksum, "5d41402abc4b2a76b9719d911017c592");
        assert!(r.os_hash_value.starts_with("9b71d224bd62f378"));
        let e = receive(&s, "i2", Body::from(vec![0u8; 200]), 100, None, false)
            .await
            .unwrap_err();
        assert!(matches!(e, UploadError::TooLarge(100)));
        // nothing but the first image is left in the store
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
