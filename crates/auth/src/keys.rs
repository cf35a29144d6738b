//! A Fernet key repository with keystone's semantics.
//!
//! Keys live one per file in a directory, named by integer. `0` is the *staged* key (the
//! next primary, already accepted for decryption so that a rotation distributed to many
//! nodes never rejects a fresh token), the highest number is the *primary* key (used to
//! encrypt), everything between is a *secondary* key (decrypt only). Rotation promotes the
//! staged key to primary, writes a new staged key and purges the oldest secondaries beyond
//! `max_active_keys`. The same directory can be shared with Python keystone.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use fernet::Fernet;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key repository {0} does not exist or has no keys; run `ferrostack fernet setup`")]
    Missing(PathBuf),
    #[error("key file {path} is not a valid Fernet key")]
    Invalid { path: PathBuf },
    #[error("key repository {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("max_active_keys must be at least 1, got {0}")]
    MaxActive(usize),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A loaded key set: primary first, then secondaries newest first, staged last — the
/// order keystone hands to `MultiFernet`.
#[derive(Clone)]
pub struct KeySet {
    keys: Vec<Fernet>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl KeySet {
    /// Build from raw key strings (base64url, 32 bytes), primary first.
    pub fn from_keys(keys: &[String]) -> Option<KeySet> {
        let keys: Option<Vec<Fernet>> = keys.iter().map(|k| Fernet::new(k.trim())).collect();
        keys.filter(|k| !k.is_empty()).map(|keys| KeySet { keys })
    }

    /// Encrypt with the primary key at the given Unix time; padding stripped as keystone does.
    pub fn encrypt_at(&self, data: &[u8], now: u64) -> String {
        let t = self.keys[0].encrypt_at_time(data, now);
        t.trim_end_matches('=').to_string()
    }

    /// Decrypt with any key. `None` when no key authenticates the token.
    pub fn decrypt_at(&self, token: &str, now: u64) -> Option<Vec<u8>> {
        self.keys
            .iter()
            .find_map(|k| k.decrypt_at_time(token, None, now).ok())
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A directory of numbered Fernet key files.
#[derive(Debug, Clone)]
pub struct KeyRepository {
    dir: PathBuf,
    max_active_keys: usize,
}

impl KeyRepository {
    pub fn new(dir: impl Into<PathBuf>, max_active_keys: usize) -> Result<Self, KeyError> {
        if max_active_keys < 1 {
            return Err(KeyError::MaxActive(max_active_keys));
        }
        Ok(KeyRepository {
            dir: dir.into(),
            max_active_keys,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The numbered key files present, sorted ascending.
    fn indexes(&self) -> Result<Vec<u64>, KeyError> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir)(e)),
        };
        let mut idx = Vec::new();
        for entry in rd {
            let entry = entry.map_err(io(&self.dir))?;
            if let Some(n) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u64>().ok())
            {
                idx.push(n);
            }
        }
        idx.sort_unstable();
        Ok(idx)
    }

    fn key_path(&self, n: u64) -> PathBuf {
        self.dir.join(n.to_string())
    }

    fn write_key(&self, n: u64, key: &str) -> Result<(), KeyError> {
        // Write to a temporary file then rename, so a reader never sees a partial key.
        let tmp = self.dir.join(format!(".{n}.tmp"));
        let mut f = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(key.as_bytes()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        let dst = self.key_path(n);
        fs::rename(&tmp, &dst).map_err(io(&dst))
    }

    /// Create the repository when it has no keys: a staged key 0 and a primary key 1
    /// (what `keystone-manage fernet_setup` leaves). Returns whether keys were created.
    pub fn setup(&self) -> Result<bool, KeyError> {
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700)).map_err(io(&self.dir))?;
        if !self.indexes()?.is_empty() {
            return Ok(false);
        }
        self.write_key(0, &Fernet::generate_key())?;
        self.rotate()?;
        Ok(true)
    }

    /// Promote the staged key to primary, stage a new key, purge the oldest secondaries.
    /// Returns the new primary's index.
    pub fn rotate(&self) -> Result<u64, KeyError> {
        let idx = self.indexes()?;
        if !idx.contains(&0) {
            self.write_key(0, &Fernet::generate_key())?;
        }
        let next = idx.iter().copied().max().unwrap_or(0) + 1;
        let staged = self.key_path(0);
        let promoted = self.key_path(next);
        fs::rename(&staged, &promoted).map_err(io(&promoted))?;
        self.write_key(0, &Fernet::generate_key())?;
        // Purge: keep the staged key plus the newest (max_active_keys - 1) others.
        let mut others: Vec<u64> = self.indexes()?.into_iter().filter(|&n| n != 0).collect();
        others.sort_unstable_by(|a, b| b.cmp(a));
        let keep = self.max_active_keys.saturating_sub(1).max(1);
        for n in others.into_iter().skip(keep) {
            let p = self.key_path(n);
            fs::remove_file(&p).map_err(io(&p))?;
        }
        Ok(next)
    }

    /// A fingerprint of the repository's content: changes whenever a key is added,
    /// rotated or removed (to notice a rotation made by another process).
    pub fn fingerprint(&self) -> Result<String, KeyError> {
        let mut out = String::new();
        for n in self.indexes()? {
            let p = self.key_path(n);
            let k = fs::read_to_string(&p).map_err(io(&p))?;
            out.push_str(&format!("{n}:{};", k.trim()));
        }
        Ok(out)
    }

    /// Load the active keys, primary first.
    pub fn load(&self) -> Result<KeySet, KeyError> {
        let mut idx = self.indexes()?;
        if idx.is_empty() {
            return Err(KeyError::Missing(self.dir.clone()));
        }
        idx.sort_unstable_by(|a, b| b.cmp(a));
        let mut keys = Vec::with_capacity(idx.len());
        for n in idx {
            let p = self.key_path(n);
            let k = fs::read_to_string(&p).map_err(io(&p))?;
            keys.push(k.trim().to_string());
        }
        KeySet::from_keys(&keys).ok_or_else(|| KeyError::Invalid {
            path: self.dir.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_rotate_and_purge_like_keystone() {
        let dir = tempfile::tempdir().unwrap();
        let repo = KeyRepository::new(dir.path().join("fernet-keys"), 3).unwrap();
        assert!(repo.setup().unwrap());
        assert!(!repo.setup().unwrap());
        assert_eq!(repo.indexes().unwrap(), vec![0, 1]);

        let ks1 = repo.load().unwrap();
        let token = ks1.encrypt_at(b"hello", 1_700_000_000);
        assert!(!token.ends_with('='));

        // Rotating: the token minted with the old primary still decrypts.
        assert_eq!(repo.rotate().unwrap(), 2);
        assert_eq!(repo.indexes().unwrap(), vec![0, 1, 2]);
        let ks2 = repo.load().unwrap();
        assert_eq!(
            ks2.decrypt_at(&token, 1_700_000_010).as_deref(),
            Some(&b"hello"[..])
        );

        // Two more rotations with max_active_keys = 3 purge key 1.
        repo.rotate().unwrap();
        assert_eq!(repo.indexes().unwrap(), vec![0, 2, 3]);
        let ks3 = repo.load().unwrap();
        assert_eq!(ks3.decrypt_at(&token, 1_700_000_010), None);
        let mode = fs::metadata(repo.key_path(3)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn staged_key_already_decrypts() {
        let dir = tempfile::tempdir().unwrap();
        let repo = KeyRepository::new(dir.path(), 3).unwrap();
        repo.setup().unwrap();
        // A node that has rotated mints with what was the staged key...
        let staged = fs::read_to_string(repo.key_path(0)).unwrap();
        let other = KeySet::from_keys(&[staged]).unwrap();
        let token = other.encrypt_at(b"x", 1_700_000_000);
        // ...and this node, not yet rotated, accepts it.
        assert!(
            repo.load()
                .unwrap()
                .decrypt_at(&token, 1_700_000_001)
                .is_some()
        );
    }

    #[test]
    fn empty_repository_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let repo = KeyRepository::new(dir.path().join("none"), 3).unwrap();
        assert!(matches!(repo.load(), Err(KeyError::Missing(_))));
        assert!(KeyRepository::new(dir.path(), 0).is_err());
    }
}
