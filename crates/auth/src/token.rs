//! Keystone's Fernet token payloads.
//!
//! A token is `Fernet(msgpack([version, field, …]))` with base64 padding stripped. The
//! versions and field layouts are keystone's, so tokens minted here validate in keystone
//! with the same key repository and the reverse:
//!
//! | version | scope | fields after the version |
//! |---|---|---|
//! | 0 | unscoped | user, methods, expires, audit_ids |
//! | 1 | domain | user, methods, domain, expires, audit_ids |
//! | 2 | project | user, methods, project, expires, audit_ids |
//! | 3 | trust | user, methods, project, expires, audit_ids, trust |
//! | 4 | federated unscoped | user, methods, groups, idp, protocol, expires, audit_ids |
//! | 5 / 6 | federated project / domain | user, methods, scope, groups, idp, protocol, expires, audit_ids |
//! | 7 | OAuth1 | user, methods, project, access_token, expires, audit_ids |
//! | 8 | system | user, methods, system, expires, audit_ids |
//! | 9 | application credential | user, methods, project, expires, audit_ids, app_cred |
//! | 10 | OAuth2 | user, methods, project, domain, expires, audit_ids, thumbprint |
//!
//! Ids that parse as UUIDs travel as `[true, 16 bytes]`, others as `[false, "text"]`;
//! audit ids as the bytes their base64url text decodes to; expiry as float seconds.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rmpv::Value;

use crate::keys::KeySet;

/// Authentication methods and their bits (keystone's default `[auth] methods` order).
/// `ec2credential` is the marker keystone puts on tokens minted from EC2/S3 credentials;
/// without its bit the marker would be dropped and such a token would pass for a
/// password one.
pub const METHODS: [&str; 7] = [
    "external",
    "password",
    "token",
    "oauth1",
    "mapped",
    "application_credential",
    "ec2credential",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("Could not recognize Fernet token")]
    Undecryptable,
    #[error("This is not a recognized Fernet payload version: {0}")]
    UnknownVersion(i64),
    #[error("malformed token payload: {0}")]
    Malformed(&'static str),
}

/// What a token is scoped to.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Unscoped,
    Domain {
        domain_id: String,
    },
    Project {
        project_id: String,
    },
    Trust {
        project_id: String,
        trust_id: String,
    },
    System {
        system: String,
    },
    ApplicationCredential {
        project_id: String,
        app_cred_id: String,
    },
    FederatedUnscoped {
        group_ids: Vec<String>,
        idp_id: String,
        protocol_id: String,
    },
    FederatedProject {
        project_id: String,
        group_ids: Vec<String>,
        idp_id: String,
        protocol_id: String,
    },
    FederatedDomain {
        domain_id: String,
        group_ids: Vec<String>,
        idp_id: String,
        protocol_id: String,
    },
    OAuth1 {
        project_id: String,
        access_token_id: String,
    },
    OAuth2 {
        project_id: String,
        domain_id: String,
        thumbprint: String,
    },
}

/// The decoded content of a Fernet token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenPayload {
    pub user_id: String,
    pub methods: Vec<String>,
    pub scope: Scope,
    /// Unix seconds; keystone truncates to whole seconds.
    pub expires_at: i64,
    pub audit_ids: Vec<String>,
    /// Unix seconds, from the Fernet timestamp (not part of the payload).
    pub issued_at: i64,
}

/// Python's `uuid.UUID(s).bytes`, for the spellings keystone ids use.
pub fn uuid_bytes(s: &str) -> Option<[u8; 16]> {
    let h = s.replace("urn:", "").replace("uuid:", "");
    let h = h.trim_matches(|c| c == '{' || c == '}').replace('-', "");
    if h.len() != 32 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, chunk) in h.as_bytes().chunks(2).enumerate() {
        let hex = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(hex, 16).ok()?;
    }
    Some(out)
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

pub fn methods_to_int(methods: &[String]) -> u64 {
    let mut n = 0;
    for m in methods {
        if let Some(i) = METHODS.iter().position(|x| x == m) {
            n |= 1 << i;
        }
    }
    n
}

/// The methods in a bit set, highest bit first as keystone lists them (`["token",
/// "password"]` for 6).
pub fn int_to_methods(n: u64) -> Vec<String> {
    METHODS
        .iter()
        .enumerate()
        .rev()
        .filter(|(i, _)| n & (1 << i) != 0)
        .map(|(_, m)| (*m).to_string())
        .collect()
}

/// A new random audit id: 16 random bytes in unpadded base64url (22 characters).
pub fn new_audit_id() -> String {
    let b: [u8; 16] = rand::random();
    URL_SAFE_NO_PAD.encode(b)
}

// ---- encoding helpers -------------------------------------------------------------------

fn maybe_uuid(id: &str) -> Value {
    match uuid_bytes(id) {
        Some(b) => Value::Array(vec![Value::Boolean(true), Value::Binary(b.to_vec())]),
        None => Value::Array(vec![Value::Boolean(false), Value::from(id)]),
    }
}

fn strict_uuid(id: &str) -> Value {
    match uuid_bytes(id) {
        Some(b) => Value::Binary(b.to_vec()),
        // keystone only allows this for the configured default domain id
        None => Value::from(id),
    }
}

fn audit_bytes(ids: &[String]) -> Value {
    Value::Array(
        ids.iter()
            .map(|a| {
                let b = URL_SAFE_NO_PAD
                    .decode(a.trim_end_matches('='))
                    .unwrap_or_else(|_| a.as_bytes().to_vec());
                Value::Binary(b)
            })
            .collect(),
    )
}

fn groups(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|g| maybe_uuid(g)).collect())
}

// ---- decoding helpers -------------------------------------------------------------------

type R<T> = Result<T, TokenError>;

fn text(v: &Value) -> R<String> {
    match v {
        Value::String(s) => s
            .as_str()
            .map(str::to_string)
            .ok_or(TokenError::Malformed("non-utf8 string")),
        Value::Binary(b) => {
            String::from_utf8(b.clone()).map_err(|_| TokenError::Malformed("non-utf8 bytes"))
        }
        _ => Err(TokenError::Malformed("expected a string")),
    }
}

fn read_maybe_uuid(v: &Value) -> R<String> {
    match v {
        Value::Array(a) if a.len() == 2 => match (&a[0], &a[1]) {
            (Value::Boolean(true), Value::Binary(b)) if b.len() == 16 => Ok(hex(b)),
            (Value::Boolean(true), _) => Err(TokenError::Malformed("bad uuid bytes")),
            (Value::Boolean(false), v) => text(v),
            _ => Err(TokenError::Malformed("bad id pair")),
        },
        _ => Err(TokenError::Malformed("expected an id pair")),
    }
}

fn read_strict_uuid(v: &Value) -> R<String> {
    match v {
        Value::Binary(b) if b.len() == 16 => Ok(hex(b)),
        other => text(other),
    }
}

fn read_int(v: &Value) -> R<u64> {
    v.as_u64()
        .ok_or(TokenError::Malformed("expected an integer"))
}

fn read_time(v: &Value) -> R<i64> {
    match v {
        Value::F64(f) => Ok(f.floor() as i64),
        Value::F32(f) => Ok(f.floor() as i64),
        Value::Integer(i) => i.as_i64().ok_or(TokenError::Malformed("bad time")),
        _ => Err(TokenError::Malformed("expected a timestamp")),
    }
}

fn read_audit(v: &Value) -> R<Vec<String>> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::Binary(b) => Ok(URL_SAFE_NO_PAD.encode(b)),
                Value::String(_) => text(x),
                _ => Err(TokenError::Malformed("bad audit id")),
            })
            .collect(),
        _ => Err(TokenError::Malformed("expected audit ids")),
    }
}

fn read_groups(v: &Value) -> R<Vec<String>> {
    match v {
        Value::Array(a) => a.iter().map(read_maybe_uuid).collect(),
        _ => Err(TokenError::Malformed("expected group ids")),
    }
}

impl TokenPayload {
    fn version(&self) -> i64 {
        match self.scope {
            Scope::Unscoped => 0,
            Scope::Domain { .. } => 1,
            Scope::Project { .. } => 2,
            Scope::Trust { .. } => 3,
            Scope::FederatedUnscoped { .. } => 4,
            Scope::FederatedProject { .. } => 5,
            Scope::FederatedDomain { .. } => 6,
            Scope::OAuth1 { .. } => 7,
            Scope::System { .. } => 8,
            Scope::ApplicationCredential { .. } => 9,
            Scope::OAuth2 { .. } => 10,
        }
    }

    /// The msgpack payload keystone would produce.
    pub fn to_msgpack(&self) -> Vec<u8> {
        let user = maybe_uuid(&self.user_id);
        let methods = Value::from(methods_to_int(&self.methods));
        let exp = Value::F64(self.expires_at as f64);
        let audit = audit_bytes(&self.audit_ids);
        let mut f = vec![Value::from(self.version()), user, methods];
        match &self.scope {
            Scope::Unscoped => f.extend([exp, audit]),
            Scope::Domain { domain_id } => f.extend([strict_uuid(domain_id), exp, audit]),
            Scope::Project { project_id } => f.extend([maybe_uuid(project_id), exp, audit]),
            Scope::Trust {
                project_id,
                trust_id,
            } => f.extend([maybe_uuid(project_id), exp, audit, strict_uuid(trust_id)]),
            Scope::FederatedUnscoped {
                group_ids,
                idp_id,
                protocol_id,
            } => f.extend([
                groups(group_ids),
                maybe_uuid(idp_id),
                Value::from(protocol_id.as_str()),
                exp,
                audit,
            ]),
            Scope::FederatedProject {
                project_id: scope,
                group_ids,
                idp_id,
                protocol_id,
            }
            | Scope::FederatedDomain {
                domain_id: scope,
                group_ids,
                idp_id,
                protocol_id,
            } => f.extend([
                maybe_uuid(scope),
                groups(group_ids),
                maybe_uuid(idp_id),
                Value::from(protocol_id.as_str()),
                exp,
                audit,
            ]),
            Scope::OAuth1 {
                project_id,
                access_token_id,
            } => f.extend([
                maybe_uuid(project_id),
                maybe_uuid(access_token_id),
                exp,
                audit,
            ]),
            Scope::System { system } => f.extend([Value::from(system.as_str()), exp, audit]),
            Scope::ApplicationCredential {
                project_id,
                app_cred_id,
            } => f.extend([maybe_uuid(project_id), exp, audit, maybe_uuid(app_cred_id)]),
            Scope::OAuth2 {
                project_id,
                domain_id,
                thumbprint,
            } => f.extend([
                maybe_uuid(project_id),
                maybe_uuid(domain_id),
                exp,
                audit,
                Value::Array(vec![
                    Value::Boolean(false),
                    Value::from(thumbprint.as_str()),
                ]),
            ]),
        }
        let mut out = Vec::with_capacity(96);
        // Writing into a Vec cannot fail.
        let _ = rmpv::encode::write_value(&mut out, &Value::Array(f));
        out
    }

    /// Decode a msgpack payload; `issued_at` comes from the Fernet envelope.
    pub fn from_msgpack(bytes: &[u8], issued_at: i64) -> R<TokenPayload> {
        let mut rd = bytes;
        let v =
            rmpv::decode::read_value(&mut rd).map_err(|_| TokenError::Malformed("not msgpack"))?;
        let Value::Array(a) = v else {
            return Err(TokenError::Malformed("payload is not an array"));
        };
        let version = a
            .first()
            .and_then(Value::as_i64)
            .ok_or(TokenError::Malformed("missing version"))?;
        let need = |n: usize| {
            if a.len() == n + 1 {
                Ok(())
            } else {
                Err(TokenError::Malformed("wrong number of fields"))
            }
        };
        let p = &a[1..];
        let (scope, exp_i, audit_i) = match version {
            0 => {
                need(4)?;
                (Scope::Unscoped, 2, 3)
            }
            1 => {
                need(5)?;
                (
                    Scope::Domain {
                        domain_id: read_strict_uuid(&p[2])?,
                    },
                    3,
                    4,
                )
            }
            2 => {
                need(5)?;
                (
                    Scope::Project {
                        project_id: read_maybe_uuid(&p[2])?,
                    },
                    3,
                    4,
                )
            }
            3 => {
                need(6)?;
                (
                    Scope::Trust {
                        project_id: read_maybe_uuid(&p[2])?,
                        trust_id: read_strict_uuid(&p[5])?,
                    },
                    3,
                    4,
                )
            }
            4 => {
                need(7)?;
                (
                    Scope::FederatedUnscoped {
                        group_ids: read_groups(&p[2])?,
                        idp_id: read_maybe_uuid(&p[3])?,
                        protocol_id: text(&p[4])?,
                    },
                    5,
                    6,
                )
            }
            5 | 6 => {
                need(8)?;
                let scope_id = read_maybe_uuid(&p[2])?;
                let group_ids = read_groups(&p[3])?;
                let idp_id = read_maybe_uuid(&p[4])?;
                let protocol_id = text(&p[5])?;
                let s = if version == 5 {
                    Scope::FederatedProject {
                        project_id: scope_id,
                        group_ids,
                        idp_id,
                        protocol_id,
                    }
                } else {
                    Scope::FederatedDomain {
                        domain_id: scope_id,
                        group_ids,
                        idp_id,
                        protocol_id,
                    }
                };
                (s, 6, 7)
            }
            7 => {
                need(6)?;
                (
                    Scope::OAuth1 {
                        project_id: read_maybe_uuid(&p[2])?,
                        access_token_id: read_maybe_uuid(&p[3])?,
                    },
                    4,
                    5,
                )
            }
            8 => {
                need(5)?;
                (
                    Scope::System {
                        system: text(&p[2])?,
                    },
                    3,
                    4,
                )
            }
            9 => {
                need(6)?;
                (
                    Scope::ApplicationCredential {
                        project_id: read_maybe_uuid(&p[2])?,
                        app_cred_id: read_maybe_uuid(&p[5])?,
                    },
                    3,
                    4,
                )
            }
            10 => {
                need(7)?;
                (
                    Scope::OAuth2 {
                        project_id: read_maybe_uuid(&p[2])?,
                        domain_id: read_maybe_uuid(&p[3])?,
                        thumbprint: read_maybe_uuid(&p[6])?,
                    },
                    4,
                    5,
                )
            }
            v => return Err(TokenError::UnknownVersion(v)),
        };
        Ok(TokenPayload {
            user_id: read_maybe_uuid(&p[0])?,
            methods: int_to_methods(read_int(&p[1])?),
            scope,
            expires_at: read_time(&p[exp_i])?,
            audit_ids: read_audit(&p[audit_i])?,
            issued_at,
        })
    }

    /// Mint a token at Unix time `now` (which becomes `issued_at`).
    pub fn seal(&self, keys: &KeySet, now: i64) -> String {
        keys.encrypt_at(&self.to_msgpack(), u64::try_from(now).unwrap_or(0))
    }

    /// Decrypt and decode a token with any active key.
    pub fn open(token: &str, keys: &KeySet, now: i64) -> R<TokenPayload> {
        // Fernet tokens are base64url; anything else cannot be one of ours.
        if token.is_empty()
            || token.len() > 8192
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        {
            return Err(TokenError::Undecryptable);
        }
        let bytes = keys
            .decrypt_at(token, u64::try_from(now).unwrap_or(0))
            .ok_or(TokenError::Undecryptable)?;
        let issued_at = creation_time(token).ok_or(TokenError::Undecryptable)?;
        TokenPayload::from_msgpack(&bytes, issued_at)
    }
}

/// The Fernet timestamp (bytes 1..9 of the decoded token): when the token was minted.
pub fn creation_time(token: &str) -> Option<i64> {
    let raw = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).ok()?;
    let ts: [u8; 8] = raw.get(1..9)?.try_into().ok()?;
    i64::try_from(u64::from_be_bytes(ts)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeySet {
        KeySet::from_keys(&[fernet::Fernet::generate_key()]).unwrap()
    }

    fn payload(scope: Scope) -> TokenPayload {
        TokenPayload {
            user_id: "0ca8f6a5e2f54e5ba0ad9f2b3c4d5e6f".into(),
            methods: vec!["token".into(), "password".into()],
            scope,
            expires_at: 1_900_000_000,
            audit_ids: vec![new_audit_id(), new_audit_id()],
            issued_at: 1_800_000_000,
        }
    }

    #[test]
    fn every_scope_round_trips() {
        let k = keys();
        let scopes = vec![
            Scope::Unscoped,
            Scope::Domain {
                domain_id: "default".into(),
            },
            Scope::Domain {
                domain_id: "11111111111111111111111111111111".into(),
            },
            Scope::Project {
                project_id: "not-a-uuid".into(),
            },
            Scope::Trust {
                project_id: "22222222222222222222222222222222".into(),
                trust_id: "33333333333333333333333333333333".into(),
            },
            Scope::System {
                system: "all".into(),
            },
            Scope::ApplicationCredential {
                project_id: "22222222222222222222222222222222".into(),
                app_cred_id: "44444444444444444444444444444444".into(),
            },
            Scope::FederatedProject {
                project_id: "22222222222222222222222222222222".into(),
                group_ids: vec!["55555555555555555555555555555555".into(), "g2".into()],
                idp_id: "idp".into(),
                protocol_id: "saml2".into(),
            },
        ];
        for s in scopes {
            let p = payload(s);
            let t = p.seal(&k, 1_800_000_000);
            assert!(!t.contains('='));
            let back = TokenPayload::open(&t, &k, 1_800_000_100).unwrap();
            assert_eq!(back, p);
        }
    }

    #[test]
    fn methods_are_bits() {
        assert_eq!(methods_to_int(&["password".into()]), 2);
        assert_eq!(methods_to_int(&["password".into(), "token".into()]), 6);
        assert_eq!(methods_to_int(&["application_credential".into()]), 32);
        assert_eq!(methods_to_int(&["ec2credential".into()]), 64);
        assert_eq!(int_to_methods(6), vec!["token", "password"]);
        assert_eq!(int_to_methods(64), vec!["ec2credential"]);
    }

    #[test]
    fn python_uuid_spellings() {
        let b = uuid_bytes("12345678-1234-5678-1234-567812345678").unwrap();
        assert_eq!(hex(&b), "12345678123456781234567812345678");
        assert!(uuid_bytes("{12345678123456781234567812345678}").is_some());
        assert!(uuid_bytes("default").is_none());
        assert!(uuid_bytes("1234567812345678123456781234567g").is_none());
    }

    #[test]
    fn garbage_and_foreign_keys_are_rejected() {
        let k = keys();
        let t = payload(Scope::Unscoped).seal(&k, 1_800_000_000);
        assert_eq!(
            TokenPayload::open(&t, &keys(), 1_800_000_000),
            Err(TokenError::Undecryptable)
        );
        assert_eq!(
            TokenPayload::open("not a token", &k, 0),
            Err(TokenError::Undecryptable)
        );
        assert_eq!(
            TokenPayload::open("", &k, 0),
            Err(TokenError::Undecryptable)
        );
        let mut tampered = t.clone().into_bytes();
        let mid = tampered.len() / 2;
        tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(TokenPayload::open(&tampered, &k, 1_800_000_000).is_err());
    }

    #[test]
    fn audit_ids_are_22_chars() {
        let a = new_audit_id();
        assert_eq!(a.len(), 22);
    }
}
