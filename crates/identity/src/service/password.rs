//! Password hashing with bcrypt (keystone's default scheme). Hashing runs on the blocking
//! pool: bcrypt is deliberately slow and would stall the async workers.

use crate::{Error, Result};

/// bcrypt only reads the first 72 bytes; keystone truncates the same way.
const BCRYPT_MAX: usize = 72;

fn truncated(password: &str) -> &[u8] {
    let b = password.as_bytes();
    &b[..b.len().min(BCRYPT_MAX)]
}

pub async fn hash(password: &str, cost: u32) -> Result<String> {
    let pw = truncated(password).to_vec();
    tokio::task::spawn_blocking(move || bcrypt::hash(pw, cost))
        .await
        .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))?
        .map_err(|e| Error::Internal(format!("bcrypt: {e}")))
}

/// Whether `password` matches `hash`. Unknown or corrupt hashes never match.
pub async fn verify(password: &str, hash: &str) -> bool {
    let pw = truncated(password).to_vec();
    let h = hash.to_string();
    tokio::task::spawn_blocking(move || bcrypt::verify(pw, &h).unwrap_or(false))
        .await
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so the time taken does not tell
/// whether a user name is valid.
pub fn decoy_hash(cost: u32) -> String {
    bcrypt::hash("ferrostack-decoy", cost).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("s3cret", 4).await.unwrap();
        assert!(h.starts_with("$2b$04$"));
        assert!(verify("s3cret", &h).await);
        assert!(!verify("wrong", &h).await);
        assert!(!verify("s3cret", "not-a-hash").await);
    }

    #[tokio::test]
    async fn keystone_hashes_verify() {
        // A hash in the format Python keystone stores (passlib/bcrypt `$2b$`).
        let h = bcrypt::hash("password", 4).unwrap();
        assert!(verify("password", &h).await);
        let long = "x".repeat(100);
        let h = hash(&long, 4).await.unwrap();
        assert!(
            verify(&"x".repeat(72), &h).await,
            "only 72 bytes count, as in bcrypt"
        );
    }
}
