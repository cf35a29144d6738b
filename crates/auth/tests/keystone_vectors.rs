//! Golden vectors minted once by Python keystone (`tools/keystone-vectors/mint.py`).
//!
//! `tests/data/keystone-vectors.json` holds tokens keystone's `TokenFormatter` made with
//! the key repository in `tests/data/fernet-keys/`, the msgpack plaintext inside each and
//! the fields keystone's `validate_token()` returned. Every vector must open here with the
//! same fields, and our re-encoding of what we decoded must be keystone's plaintext byte
//! for byte, so a token we mint is one keystone would have minted.
//!
//! The reverse check (keystone validating tokens we mint) runs by hand: see
//! `tools/keystone-vectors/README.md` and [`write_reverse_vectors`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use auth::token::{creation_time, int_to_methods, methods_to_int, new_audit_id};
use auth::{KeyRepository, KeySet, Scope, TokenPayload};
use chrono::{DateTime, NaiveDateTime};
use serde_json::{Map, Value, json};

/// The field names of keystone's `validate_token()` tuple, in its order.
const FIELDS: [&str; 15] = [
    "user_id",
    "methods",
    "audit_ids",
    "system",
    "domain_id",
    "project_id",
    "trust_id",
    "federated_group_ids",
    "identity_provider_id",
    "protocol_id",
    "access_token_id",
    "app_cred_id",
    "thumbprint",
    "issued_at",
    "expires_at",
];

/// keystone's `isotime(subsecond=True)` spelling.
const ISO: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn keys() -> KeySet {
    KeyRepository::new(data().join("fernet-keys"), 3)
        .unwrap()
        .load()
        .unwrap()
}

fn vectors() -> (Value, Vec<Value>) {
    let text = std::fs::read_to_string(data().join("keystone-vectors.json")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let vectors = doc["vectors"].as_array().unwrap().clone();
    (doc["header"].take(), vectors)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn iso_to_unix(s: &str) -> i64 {
    NaiveDateTime::parse_from_str(s, ISO)
        .unwrap_or_else(|e| panic!("{s:?} is not keystone's isotime: {e}"))
        .and_utc()
        .timestamp()
}

fn unix_to_iso(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .unwrap()
        .format(ISO)
        .to_string()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn put(f: &mut Map<String, Value>, k: &str, v: Value) {
    f.insert(k.to_string(), v);
}

fn put_federated(f: &mut Map<String, Value>, groups: &[String], idp: &str, protocol: &str) {
    let groups: Vec<Value> = groups.iter().map(|id| json!({ "id": id })).collect();
    put(f, "federated_group_ids", Value::Array(groups));
    put(f, "identity_provider_id", json!(idp));
    put(f, "protocol_id", json!(protocol));
}

/// Our payload as keystone's `validate_token()` would report it.
fn keystone_fields(p: &TokenPayload) -> Value {
    let mut f: Map<String, Value> = FIELDS
        .iter()
        .map(|k| (k.to_string(), Value::Null))
        .collect();
    put(&mut f, "user_id", json!(p.user_id));
    put(&mut f, "methods", json!(p.methods));
    put(&mut f, "audit_ids", json!(p.audit_ids));
    put(&mut f, "issued_at", json!(unix_to_iso(p.issued_at)));
    put(&mut f, "expires_at", json!(unix_to_iso(p.expires_at)));
    match &p.scope {
        Scope::Unscoped => {}
        Scope::Domain { domain_id } => put(&mut f, "domain_id", json!(domain_id)),
        Scope::Project { project_id } => put(&mut f, "project_id", json!(project_id)),
        Scope::Trust {
            project_id,
            trust_id,
        } => {
            put(&mut f, "project_id", json!(project_id));
            put(&mut f, "trust_id", json!(trust_id));
        }
        Scope::System { system } => put(&mut f, "system", json!(system)),
        Scope::ApplicationCredential {
            project_id,
            app_cred_id,
        } => {
            put(&mut f, "project_id", json!(project_id));
            put(&mut f, "app_cred_id", json!(app_cred_id));
        }
        Scope::FederatedUnscoped {
            group_ids,
            idp_id,
            protocol_id,
        } => put_federated(&mut f, group_ids, idp_id, protocol_id),
        Scope::FederatedProject {
            project_id,
            group_ids,
            idp_id,
            protocol_id,
        } => {
            put(&mut f, "project_id", json!(project_id));
            put_federated(&mut f, group_ids, idp_id, protocol_id);
        }
        Scope::FederatedDomain {
            domain_id,
            group_ids,
            idp_id,
            protocol_id,
        } => {
            put(&mut f, "domain_id", json!(domain_id));
            put_federated(&mut f, group_ids, idp_id, protocol_id);
        }
        Scope::OAuth1 {
            project_id,
            access_token_id,
        } => {
            put(&mut f, "project_id", json!(project_id));
            put(&mut f, "access_token_id", json!(access_token_id));
        }
        Scope::OAuth2 {
            project_id,
            domain_id,
            thumbprint,
        } => {
            put(&mut f, "project_id", json!(project_id));
            put(&mut f, "domain_id", json!(domain_id));
            put(&mut f, "thumbprint", json!(thumbprint));
        }
    }
    Value::Object(f)
}

/// keystone's payload class for a scope.
fn payload_class(s: &Scope) -> &'static str {
    match s {
        Scope::Unscoped => "UnscopedPayload",
        Scope::Domain { .. } => "DomainScopedPayload",
        Scope::Project { .. } => "ProjectScopedPayload",
        Scope::Trust { .. } => "TrustScopedPayload",
        Scope::FederatedUnscoped { .. } => "FederatedUnscopedPayload",
        Scope::FederatedProject { .. } => "FederatedProjectScopedPayload",
        Scope::FederatedDomain { .. } => "FederatedDomainScopedPayload",
        Scope::OAuth1 { .. } => "OauthScopedPayload",
        Scope::System { .. } => "SystemScopedPayload",
        Scope::ApplicationCredential { .. } => "ApplicationCredentialScopedPayload",
        Scope::OAuth2 { .. } => "Oauth2CredentialsScopedPayload",
    }
}

#[test]
fn header_and_key_repository_are_keystones() {
    let (header, vectors) = vectors();
    assert!(header["keystone_version"].as_str().is_some());
    assert_eq!(header["max_active_keys"], 3);
    assert_eq!(header["fields"], json!(FIELDS));
    // The bit order keystone minted with is ours.
    let methods: Vec<String> = serde_json::from_value(header["auth_methods"].clone()).unwrap();
    assert_eq!(methods, auth::token::METHODS);

    // keys 0, 1, 2: keystone encrypts with the highest (2), which we load first.
    let k = keys();
    assert_eq!(k.len(), 3);
    let primary = std::fs::read_to_string(data().join("fernet-keys/2")).unwrap();
    let only_primary = KeySet::from_keys(&[primary]).unwrap();
    for v in &vectors {
        let token = v["token"].as_str().unwrap();
        assert!(only_primary.decrypt_at(token, now() as u64).is_some());
    }
    // Every payload class keystone has is covered.
    let mut classes: Vec<&str> = vectors
        .iter()
        .map(|v| v["payload_class"].as_str().unwrap())
        .collect();
    classes.dedup();
    assert!(classes.len() >= 10, "{classes:?}");
}

#[test]
fn keystone_tokens_open_with_keystones_fields() {
    let k = keys();
    let (_, vectors) = vectors();
    assert!(!vectors.is_empty());
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let token = v["token"].as_str().unwrap();
        let want = &v["fields"];
        let p = TokenPayload::open(token, &k, now())
            .unwrap_or_else(|e| panic!("{name}: keystone's token does not open: {e}"));

        assert_eq!(payload_class(&p.scope), v["payload_class"], "{name}");
        assert_eq!(
            keystone_fields(&p),
            *want,
            "{name}: fields differ from keystone's"
        );
        // Timestamps, read the other way: keystone's strings to our Unix seconds.
        assert_eq!(
            p.expires_at,
            iso_to_unix(want["expires_at"].as_str().unwrap()),
            "{name}"
        );
        assert_eq!(
            p.issued_at,
            iso_to_unix(want["issued_at"].as_str().unwrap()),
            "{name}"
        );
        assert_eq!(Some(p.issued_at), creation_time(token), "{name}");

        // The plaintext keystone recorded decodes to the same payload.
        let plain = unhex(v["msgpack_hex"].as_str().unwrap());
        assert_eq!(
            k.decrypt_at(token, now() as u64).as_deref(),
            Some(&plain[..]),
            "{name}"
        );
        assert_eq!(
            TokenPayload::from_msgpack(&plain, p.issued_at).unwrap(),
            p,
            "{name}"
        );
    }
}

#[test]
fn our_encoding_is_keystones_plaintext() {
    let k = keys();
    let (_, vectors) = vectors();
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let token = v["token"].as_str().unwrap();
        let p = TokenPayload::open(token, &k, now()).unwrap();
        assert_eq!(
            hex(&p.to_msgpack()),
            v["msgpack_hex"].as_str().unwrap(),
            "{name}: our msgpack differs from keystone's"
        );
        // Sealed again by us (another IV and time), it carries the same plaintext.
        let t = p.seal(&k, p.issued_at);
        assert_eq!(
            hex(&k.decrypt_at(&t, p.issued_at as u64).unwrap()),
            v["msgpack_hex"].as_str().unwrap(),
            "{name}"
        );
    }
}

// ---- the reverse direction: tokens we mint, for keystone to validate ------------------

fn fresh_payloads(issued_at: i64) -> Vec<(&'static str, TokenPayload)> {
    let uuid = || uuid::Uuid::new_v4().simple().to_string();
    let p = |user: String, methods: &[&str], scope: Scope| TokenPayload {
        user_id: user,
        // In keystone's order, which is what its validate_token() reports.
        methods: int_to_methods(methods_to_int(
            &methods.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        )),
        scope,
        expires_at: 1_924_992_000,
        audit_ids: vec![new_audit_id()],
        issued_at,
    };
    vec![
        (
            "ferrostack-unscoped",
            p(uuid(), &["password"], Scope::Unscoped),
        ),
        (
            "ferrostack-rescoped-domain-default",
            p(
                "admin-user".into(),
                &["password", "token"],
                Scope::Domain {
                    domain_id: "default".into(),
                },
            ),
        ),
        (
            "ferrostack-project",
            p(uuid(), &["password"], Scope::Project { project_id: uuid() }),
        ),
        (
            "ferrostack-trust",
            p(
                uuid(),
                &["token"],
                Scope::Trust {
                    project_id: "demo".into(),
                    trust_id: uuid(),
                },
            ),
        ),
        (
            "ferrostack-federated-domain",
            p(
                uuid(),
                &["mapped"],
                Scope::FederatedDomain {
                    domain_id: uuid(),
                    group_ids: vec![uuid(), "federated-users".into()],
                    idp_id: "myidp".into(),
                    protocol_id: "openid".into(),
                },
            ),
        ),
        (
            "ferrostack-system",
            p(
                "admin-user".into(),
                &["password"],
                Scope::System {
                    system: "all".into(),
                },
            ),
        ),
        (
            "ferrostack-application-credential",
            p(
                uuid(),
                &["application_credential"],
                Scope::ApplicationCredential {
                    project_id: uuid(),
                    app_cred_id: uuid(),
                },
            ),
        ),
        (
            "ferrostack-ec2credential",
            p(
                uuid(),
                &["ec2credential"],
                Scope::Project { project_id: uuid() },
            ),
        ),
    ]
}

/// Tokens minted by us with the checked-in keys, in `mint.py verify`'s input shape:
/// `[{"name", "token", "expected": {keystone field: value}}]`. Covers every keystone
/// vector's payload re-sealed by us, plus fresh payloads built here.
fn reverse_vectors() -> Value {
    let k = keys();
    let t = now();
    let (_, vectors) = vectors();
    let mut out = Vec::new();
    for v in &vectors {
        let mut p = TokenPayload::open(v["token"].as_str().unwrap(), &k, t).unwrap();
        p.issued_at = t;
        let name = format!("resealed-{}", v["name"].as_str().unwrap());
        out.push((name, p));
    }
    for (name, p) in fresh_payloads(t) {
        out.push((name.to_string(), p));
    }
    Value::Array(
        out.into_iter()
            .map(|(name, p)| {
                json!({
                    "name": name,
                    "token": p.seal(&k, p.issued_at),
                    "expected": keystone_fields(&p),
                })
            })
            .collect(),
    )
}

#[test]
fn reverse_vectors_have_verify_shape_and_open_here() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferrostack-tokens.json");
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&reverse_vectors()).unwrap(),
    )
    .unwrap();

    let back: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let k = keys();
    for item in back.as_array().unwrap() {
        let expected = item["expected"].as_object().unwrap();
        assert_eq!(
            expected.keys().collect::<Vec<_>>().len(),
            FIELDS.len(),
            "{item}"
        );
        let p = TokenPayload::open(item["token"].as_str().unwrap(), &k, now()).unwrap();
        assert_eq!(keystone_fields(&p), item["expected"], "{}", item["name"]);
    }
}

/// Write ferrostack-minted tokens for `mint.py verify`:
///
/// ```sh
/// FERROSTACK_VECTORS_OUT=/tmp/ferrostack-tokens.json \
///     cargo test -p auth --test keystone_vectors -- --ignored write_reverse_vectors
/// /tmp/ks-venv/bin/python tools/keystone-vectors/mint.py verify /tmp/ferrostack-tokens.json
/// ```
#[test]
#[ignore = "writes tokens for a by-hand check with Python keystone; needs FERROSTACK_VECTORS_OUT"]
fn write_reverse_vectors() {
    let out = std::env::var_os("FERROSTACK_VECTORS_OUT")
        .expect("set FERROSTACK_VECTORS_OUT to the JSON file to write");
    std::fs::write(&out, serde_json::to_vec_pretty(&reverse_vectors()).unwrap()).unwrap();
}
