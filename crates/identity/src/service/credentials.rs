//! Credentials: blobs encrypted at rest with the credential key repository, EC2 credential
//! ids derived from their access key, and the rules keystone applies to delegated tokens.

use std::fmt::Write as _;
use std::path::Path;

use auth::Context;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::model::Extra;
use crate::store::credential::StoredCredential;
use crate::{Error, Identity, Result, store};

pub const EC2: &str = "ec2";

/// Blob keys that bind an EC2 credential to a delegation; they may never change.
const SCOPE_KEYS: &[&str] = &["trust_id", "app_cred_id", "access_token_id", "access_id"];

/// A credential with its blob decrypted.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub cred_type: String,
    pub blob: String,
    pub extra: Extra,
    pub created_at: i64,
}

impl Credential {
    pub fn to_json(&self, base: &str) -> Value {
        let mut v = json!({
            "id": self.id,
            "user_id": self.user_id,
            "project_id": self.project_id,
            "type": self.cred_type,
            "blob": self.blob,
            "links": {"self": format!("{base}/v3/credentials/{}", self.id)},
        });
        if let Value::Object(m) = &mut v {
            for (k, val) in &self.extra {
                m.entry(k.clone()).or_insert_with(|| val.clone());
            }
        }
        v
    }

    /// The policy target keystone builds: the credential itself.
    pub fn target(&self) -> Value {
        json!({"target": {"credential": {
            "id": self.id,
            "user_id": self.user_id,
            "project_id": self.project_id,
            "type": self.cred_type,
        }}})
    }

    pub fn is_ec2(&self) -> bool {
        self.cred_type.eq_ignore_ascii_case(EC2)
    }

    /// The EC2 view: `{"user_id","tenant_id","access","secret","trust_id","links"}`.
    pub fn to_ec2_json(&self, base: &str) -> Value {
        let blob = serde_json::from_str::<Map<String, Value>>(&self.blob).unwrap_or_default();
        let access = blob.get("access").cloned().unwrap_or(Value::Null);
        let link = format!(
            "{base}/v3/users/{}/credentials/OS-EC2/{}",
            self.user_id,
            access.as_str().unwrap_or_default()
        );
        json!({
            "user_id": self.user_id,
            "tenant_id": self.project_id,
            "access": access,
            "secret": blob.get("secret").cloned().unwrap_or(Value::Null),
            "trust_id": blob.get("trust_id").cloned().unwrap_or(Value::Null),
            "links": {"self": link},
        })
    }
}

/// Lowercase hex of SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in d {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Keystone's id of an EC2 credential: the SHA-256 of its access key.
pub fn ec2_id(access: &str) -> String {
    sha256_hex(access.as_bytes())
}

/// JSON text as Python's `json.dumps` writes it by default (`", "` and `": "` separators,
/// non-ASCII escaped), so blobs read the same as those keystone writes.
pub fn py_dumps(v: &Value) -> String {
    let mut out = String::new();
    py_write(v, &mut out);
    out
}

fn py_write(v: &Value, out: &mut String) {
    match v {
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_write(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_str(k, out);
                out.push_str(": ");
                py_write(x, out);
            }
            out.push('}');
        }
        Value::String(s) => py_str(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn py_str(s: &str, out: &mut String) {
    let quoted = Value::String(s.to_string()).to_string();
    for c in quoted.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                let _ = write!(out, "\\u{u:04x}");
            }
        }
    }
}

/// Parse an EC2 blob: a JSON object with a non-null `access`.
pub fn parse_ec2_blob(blob: &str) -> Result<Map<String, Value>> {
    let v: Value =
        serde_json::from_str(blob).map_err(|_| Error::bad("Invalid blob in credential"))?;
    let m = match v {
        Value::Object(m) if !m.is_empty() => m,
        _ => return Err(Error::missing("blob", "credential")),
    };
    if m.get("access").is_none_or(Value::is_null) {
        return Err(Error::missing("access", "credential"));
    }
    Ok(m)
}

/// The access key of an EC2 blob as a string (numbers are accepted as keystone does).
pub fn ec2_access(blob: &Map<String, Value>) -> String {
    match blob.get("access") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// An EC2 blob's delegation keys must not change in an update.
pub fn check_ec2_blob_update(old: &str, new: &Map<String, Value>) -> Result<()> {
    let old: Map<String, Value> = serde_json::from_str(old).unwrap_or_default();
    for k in SCOPE_KEYS {
        let a = old.get(*k).filter(|v| !v.is_null());
        let b = new.get(*k).filter(|v| !v.is_null());
        if a != b {
            return Err(Error::bad(format!("{k} can not be updated for credential")));
        }
    }
    Ok(())
}

/// Restore the base64 padding keystone's Fernet tokens carry.
fn padded(mut token: String) -> String {
    while !token.len().is_multiple_of(4) {
        token.push('=');
    }
    token
}

/// A fingerprint of the primary credential key (the highest-numbered key file).
pub fn primary_key_hash(dir: &Path) -> Option<String> {
    let primary = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .max()?;
    let key = std::fs::read_to_string(dir.join(primary.to_string())).ok()?;
    Some(sha256_hex(key.trim().as_bytes()))
}

/// Whether the caller's token is a delegation (trust or application credential).
pub fn delegated(ctx: &Context) -> bool {
    ctx.user.trust_id.is_some() || ctx.user.app_cred_id.is_some()
}

/// Delegated tokens only reach credentials of the project they are scoped to.
pub fn check_project_scope(ctx: &Context, project_id: Option<&str>, what: &str) -> Result<()> {
    if delegated(ctx) && project_id != ctx.user.project_id() {
        return Err(Error::Forbidden(format!(
            "{what} project does not match the project scope of the delegated token"
        )));
    }
    Ok(())
}

impl Identity {
    /// Encrypt a blob: returns the stored form and the primary key's fingerprint.
    fn encrypt_blob(&self, cred_type: &str, blob: &str) -> (String, String) {
        // Keystone JSON-encodes EC2 blobs once more before encrypting them.
        let plain = if cred_type.eq_ignore_ascii_case(EC2) {
            Value::String(blob.to_string()).to_string()
        } else {
            blob.to_string()
        };
        let now = u64::try_from(self.now()).unwrap_or(0);
        let token = padded(self.credential_keys().encrypt_at(plain.as_bytes(), now));
        let hash = primary_key_hash(&self.cfg.credential_key_repository).unwrap_or_default();
        (token, hash)
    }

    fn decrypt(&self, c: StoredCredential) -> Result<Credential> {
        let now = u64::try_from(self.now()).unwrap_or(0);
        let plain = self
            .credential_keys()
            .decrypt_at(&c.encrypted_blob, now)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                Error::Internal(format!(
                    "credential {} could not be decrypted with the credential keys",
                    c.id
                ))
            })?;
        let blob = if c.cred_type.eq_ignore_ascii_case(EC2) {
            match serde_json::from_str::<Value>(&plain) {
                Ok(Value::String(s)) => s,
                Ok(v @ Value::Object(_)) => v.to_string(),
                _ => plain,
            }
        } else {
            plain
        };
        Ok(Credential {
            id: c.id,
            user_id: c.user_id,
            project_id: c.project_id,
            cred_type: c.cred_type,
            blob,
            extra: c.extra,
            created_at: c.created_at,
        })
    }

    pub async fn credential(&self, id: &str) -> Result<Credential> {
        match store::credential::get(&self.db, id).await? {
            Some(c) => self.decrypt(c),
            None => Err(Error::not_found("credential", id)),
        }
    }

    pub async fn list_credentials(
        &self,
        user_id: Option<&str>,
        cred_type: Option<&str>,
    ) -> Result<Vec<Credential>> {
        store::credential::list(&self.db, user_id, cred_type)
            .await?
            .into_iter()
            .map(|c| self.decrypt(c))
            .collect()
    }

    /// Store a new credential (id already assigned).
    pub async fn insert_credential(&self, c: &Credential) -> Result<()> {
        let (encrypted_blob, key_hash) = self.encrypt_blob(&c.cred_type, &c.blob);
        let row = StoredCredential {
            id: c.id.clone(),
            user_id: c.user_id.clone(),
            project_id: c.project_id.clone(),
            cred_type: c.cred_type.clone(),
            encrypted_blob,
            key_hash,
            extra: c.extra.clone(),
            created_at: c.created_at,
        };
        match store::credential::insert(&self.db, &row).await {
            Ok(()) => {}
            Err(db::DbError::Conflict(_)) => {
                return Err(Error::conflict(
                    "credential",
                    format!("Duplicate entry found with ID {}.", c.id),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        self.changed().await;
        Ok(())
    }

    pub async fn save_credential(&self, c: &Credential) -> Result<()> {
        let (encrypted_blob, key_hash) = self.encrypt_blob(&c.cred_type, &c.blob);
        let row = StoredCredential {
            id: c.id.clone(),
            user_id: c.user_id.clone(),
            project_id: c.project_id.clone(),
            cred_type: c.cred_type.clone(),
            encrypted_blob,
            key_hash,
            extra: c.extra.clone(),
            created_at: c.created_at,
        };
        store::credential::update(&self.db, &row).await?;
        self.changed().await;
        Ok(())
    }

    pub async fn delete_credential(&self, id: &str) -> Result<()> {
        if store::credential::delete(&self.db, id).await? == 0 {
            return Err(Error::not_found("credential", id));
        }
        self.changed().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_ids_are_sha256_of_access() {
        assert_eq!(
            ec2_id("181920"),
            "3d3367228f9c7665266604462ec60029bcd83ad89614021a80b2eb879c572510"
        );
    }

    #[test]
    fn ec2_blob_rules() {
        assert!(parse_ec2_blob("not json").is_err());
        assert!(parse_ec2_blob("{}").is_err());
        assert!(parse_ec2_blob("[1]").is_err());
        assert!(parse_ec2_blob(r#"{"secret":"x"}"#).is_err());
        assert!(parse_ec2_blob(r#"{"access":null}"#).is_err());
        let m = parse_ec2_blob(r#"{"access":"a","secret":"b"}"#).unwrap();
        assert_eq!(ec2_access(&m), "a");
        let m = parse_ec2_blob(r#"{"access":12}"#).unwrap();
        assert_eq!(ec2_access(&m), "12");
    }

    #[test]
    fn ec2_scope_keys_are_immutable() {
        let old = r#"{"access":"a","trust_id":"t1"}"#;
        let same = parse_ec2_blob(r#"{"access":"b","trust_id":"t1"}"#).unwrap();
        assert!(check_ec2_blob_update(old, &same).is_ok());
        let changed = parse_ec2_blob(r#"{"access":"b","trust_id":"t2"}"#).unwrap();
        assert!(check_ec2_blob_update(old, &changed).is_err());
        let dropped = parse_ec2_blob(r#"{"access":"b"}"#).unwrap();
        assert!(check_ec2_blob_update(old, &dropped).is_err());
        let added = parse_ec2_blob(r#"{"access":"b","app_cred_id":"x"}"#).unwrap();
        assert!(check_ec2_blob_update(r#"{"access":"a","trust_id":null}"#, &added).is_err());
    }

    #[test]
    fn python_json() {
        let v = json!({"access": "a", "secret": "b", "trust_id": null, "n": [1, {"x": true}]});
        assert_eq!(
            py_dumps(&v),
            r#"{"access": "a", "n": [1, {"x": true}], "secret": "b", "trust_id": null}"#
        );
        assert_eq!(py_dumps(&json!("é\"")), r#""\u00e9\"""#);
        assert_eq!(py_dumps(&json!("😀")), r#""\ud83d\ude00""#);
    }

    #[test]
    fn padding_restored() {
        assert_eq!(padded("abc".into()), "abc=");
        assert_eq!(padded("abcd".into()), "abcd");
        assert_eq!(padded("ab".into()), "ab==");
    }

    #[test]
    fn ec2_view() {
        let c = Credential {
            id: ec2_id("ak"),
            user_id: "u".into(),
            project_id: Some("p".into()),
            cred_type: "ec2".into(),
            blob: r#"{"access":"ak","secret":"sk","trust_id":null}"#.into(),
            extra: Extra::new(),
            created_at: 0,
        };
        let v = c.to_ec2_json("http://x");
        assert_eq!(v["tenant_id"], "p");
        assert_eq!(v["access"], "ak");
        assert_eq!(v["secret"], "sk");
        assert!(v["trust_id"].is_null());
        assert_eq!(
            v["links"]["self"],
            "http://x/v3/users/u/credentials/OS-EC2/ak"
        );
        let j = c.to_json("http://x");
        assert_eq!(j["type"], "ec2");
        assert_eq!(j["blob"], c.blob);
    }
}
