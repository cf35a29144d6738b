//! `/os-keypairs`, per user (admins may act for another user with `user_id`, 2.10).

use std::sync::Arc;

use api::BaseUrl;
use api::microversion::Version;
use api::openapi::Routes;
use api::query::Params;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::St;
use crate::model::{Keypair, iso_micro};
use crate::store::keypairs;
use crate::{ComputeService, Error, Result};

fn bad(m: impl Into<String>) -> Error {
    Error::BadRequest(m.into())
}

/// The MD5 fingerprint nova shows for an OpenSSH public key; None when it does not parse.
pub fn fingerprint(public_key: &str) -> Option<String> {
    let k = ssh_key::PublicKey::from_openssh(public_key.trim()).ok()?;
    let blob = k.to_bytes().ok()?;
    use md5::Digest;
    let d = md5::Md5::digest(&blob);
    Some(
        d.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// A new key pair (nova generated RSA; we generate Ed25519, which every client accepts).
fn generate(comment: &str) -> Result<(String, String)> {
    let mut k =
        ssh_key::PrivateKey::random(&mut ssh_key::rand_core::OsRng, ssh_key::Algorithm::Ed25519)
            .map_err(|e| Error::Internal(e.to_string()))?;
    k.set_comment(comment);
    let private = k
        .to_openssh(ssh_key::LineEnding::LF)
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_string();
    let public = k
        .public_key()
        .to_openssh()
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok((private, public))
}

/// nova's x509 fingerprint: SHA-1 of the certificate's DER, colon-separated hex.
fn x509_fingerprint(pem: &str) -> Option<String> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.trim().as_bytes()).ok()?;
    p.parse_x509().ok()?;
    use sha1::Digest;
    let d = sha1::Sha1::digest(&p.contents);
    Some(
        d.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// A new x509 key pair for certificate (WinRM) authentication: a self-signed client
/// certificate for the user with its private key (nova signs an RSA key; this is
/// ECDSA P-256). Returns (private key PEM, certificate PEM).
fn generate_x509(user_id: &str) -> Result<(String, String)> {
    let internal = |e: rcgen::Error| Error::Internal(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(internal)?;
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, user_id);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let cert = params.self_signed(&key).map_err(internal)?;
    Ok((key.serialize_pem(), cert.pem()))
}

fn view(k: &Keypair, v: Version, detail: bool) -> Value {
    let mut o = json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint});
    if v.at_least(2, 2) {
        o["type"] = json!(k.key_type);
    }
    if detail {
        o["user_id"] = json!(k.user_id);
        o["created_at"] = json!(iso_micro(k.created_at));
        o["deleted"] = json!(false);
        o["deleted_at"] = Value::Null;
        o["updated_at"] = Value::Null;
        o["id"] = json!(k.id);
    }
    o
}

fn target_user(ctx: &Context, v: Version, requested: Option<&str>) -> String {
    match requested {
        Some(u) if v.at_least(2, 10) => u.to_string(),
        _ => ctx.user.user_id.clone(),
    }
}

fn valid_name(n: &str, v: Version) -> Result<()> {
    let ok = !n.trim().is_empty()
        && n.len() <= 255
        && if v.at_least(2, 92) {
            n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@ ".contains(c))
        } else {
            n.chars().all(|c| c.is_alphanumeric() || "-_ ".contains(c))
        };
    if ok {
        Ok(())
    } else {
        Err(bad(
            "Keypair data is invalid: Keypair name contains unsafe characters",
        ))
    }
}

/// `POST /os-keypairs`
pub async fn create(
    State(svc): St,
    ctx: Context,
    v: Version,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    let o = body
        .get("keypair")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute keypair. 'keypair' is a required property")
        })?;
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute keypair. 'name' is a required property")
        })?
        .to_string();
    valid_name(&name, v)?;
    let user = target_user(&ctx, v, o.get("user_id").and_then(Value::as_str));
    svc.enforce(
        &ctx,
        "os_compute_api:os-keypairs:create",
        &json!({"user_id": user}),
    )?;
    let key_type = match o.get("type").and_then(Value::as_str) {
        None => "ssh",
        Some(t @ ("ssh" | "x509")) if v.at_least(2, 2) => {
            if t == "ssh" {
                "ssh"
            } else {
                "x509"
            }
        }
        Some(t) => {
            return Err(bad(format!(
                "Invalid input for field/attribute type. Value: {t}."
            )));
        }
    };
    let limit = crate::quota::get(
        &svc.quota_limits(ctx.user.project_id().unwrap_or_default(), Some(&user))
            .await?,
        "key_pairs",
    )
    .unwrap_or(-1);
    if limit >= 0 && keypairs::count(&svc.db, &user).await? >= limit {
        return Err(Error::OverQuota(
            "Quota exceeded, too many key pairs.".into(),
        ));
    }
    let (public_key, private_key) = match o.get("public_key").and_then(Value::as_str) {
        Some(pk) => (pk.trim().to_string(), None),
        None if v.at_least(2, 92) => {
            return Err(bad(
                "Invalid input for field/attribute keypair. 'public_key' is a required property",
            ));
        }
        None if key_type == "x509" => {
            let (private, cert) = generate_x509(&user)?;
            (cert, Some(private))
        }
        None => {
            let (private, public) = generate(&name)?;
            (public, Some(private))
        }
    };
    let fp = if key_type == "x509" {
        x509_fingerprint(&public_key)
    } else {
        fingerprint(&public_key)
    }
    .ok_or_else(|| bad("Keypair data is invalid: failed to generate fingerprint"))?;
    if keypairs::get(&svc.db, &user, &name).await?.is_some() {
        return Err(Error::Conflict(format!(
            "Key pair '{name}' already exists."
        )));
    }
    let mut k = Keypair {
        id: 0,
        user_id: user,
        name,
        key_type: key_type.into(),
        fingerprint: fp,
        public_key,
        created_at: svc.now(),
    };
    keypairs::insert(&svc.db, &mut k)
        .await
        .map_err(|e| match e {
            db::DbError::Conflict(_) => {
                Error::Conflict(format!("Key pair '{}' already exists.", k.name))
            }
            other => other.into(),
        })?;
    let mut out = view(&k, v, false);
    out["user_id"] = json!(k.user_id);
    if let Some(p) = private_key {
        out["private_key"] = json!(p);
    }
    let status = if v.at_least(2, 2) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(json!({"keypair": out}))).into_response())
}

pub async fn list(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    p: Params,
) -> Result<Response> {
    let user = target_user(&ctx, v, p.get("user_id"));
    svc.enforce(
        &ctx,
        "os_compute_api:os-keypairs:index",
        &json!({"user_id": user}),
    )?;
    let limit = if v.at_least(2, 35) {
        p.get("limit")
            .map(|l| l.parse::<i64>().map_err(|_| bad("Invalid limit")))
            .transpose()?
            .unwrap_or(1000)
    } else {
        i64::MAX
    };
    let marker = if v.at_least(2, 35) {
        p.get("marker")
    } else {
        None
    };
    if let Some(m) = marker
        && keypairs::get(&svc.db, &user, m).await?.is_none()
    {
        return Err(bad(format!("marker [{m}] not found")));
    }
    let list = keypairs::list(&svc.db, &user, marker, limit).await?;
    let items: Vec<Value> = list
        .iter()
        .map(|k| json!({"keypair": view(k, v, false)}))
        .collect();
    let mut out = json!({"keypairs": items});
    if v.at_least(2, 35)
        && i64::try_from(list.len()).unwrap_or(0) == limit
        && let Some(last) = list.last()
    {
        out["keypairs_links"] = json!([{"rel": "next", "href": format!("{base}/v2.1/os-keypairs?limit={limit}&marker={}", last.name)}]);
    }
    Ok(axum::Json(out).into_response())
}

pub async fn show(
    State(svc): St,
    ctx: Context,
    v: Version,
    p: Params,
    Path(name): Path<String>,
) -> Result<Response> {
    let user = target_user(&ctx, v, p.get("user_id"));
    svc.enforce(
        &ctx,
        "os_compute_api:os-keypairs:show",
        &json!({"user_id": user}),
    )?;
    let k = keypairs::get(&svc.db, &user, &name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Keypair {name} not found for user {user}")))?;
    Ok(axum::Json(json!({"keypair": view(&k, v, true)})).into_response())
}

pub async fn delete(
    State(svc): St,
    ctx: Context,
    v: Version,
    p: Params,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    let user = target_user(&ctx, v, p.get("user_id"));
    svc.enforce(
        &ctx,
        "os_compute_api:os-keypairs:delete",
        &json!({"user_id": user}),
    )?;
    if !keypairs::delete(&svc.db, &user, &name).await? {
        return Err(Error::NotFound(format!(
            "Keypair {name} not found for user {user}"
        )));
    }
    Ok(if v.at_least(2, 2) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    })
}

pub fn routes() -> Routes<Arc<ComputeService>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v2.1/os-keypairs",
        get(list, "List key pairs"),
        post(create, "Create or import a key pair")
    );
    api::route!(
        r,
        "/v2.1/os-keypairs/{keypair_name}",
        get(show, "Show a key pair"),
        delete(delete, "Delete a key pair")
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_md5_fingerprints() {
        let (private, public) = generate("k").unwrap();
        assert!(private.contains("OPENSSH PRIVATE KEY"));
        let fp = fingerprint(&public).unwrap();
        assert_eq!(fp.split(':').count(), 16);
        assert!(fingerprint("ssh-rsa not-base64 x").is_none());
        assert!(fingerprint("").is_none());
    }

    #[test]
    fn x509_keypair_round_trip() {
        let (private, cert) = generate_x509("user-1").unwrap();
        assert!(private.contains("PRIVATE KEY"));
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        let fp = x509_fingerprint(&cert).unwrap();
        assert_eq!(fp.split(':').count(), 20);
        assert_eq!(x509_fingerprint("not a certificate"), None);
    }
}
