//! `/v3/credentials` and the EC2 credentials of a user
//! (`/v3/users/{user_id}/credentials/OS-EC2`).

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::api::params::{Fields, check_id};
use crate::api::{Params, St, collection, created, member, no_content, ok};
use crate::model::new_id;
use crate::service::credentials::{
    Credential, EC2, check_ec2_blob_update, check_project_scope, ec2_access, ec2_id,
    parse_ec2_blob, py_dumps,
};
use crate::{Error, Identity, Result, store};

const KNOWN: &[&str] = &["id", "user_id", "project_id", "type", "blob", "links"];

/// A required string member of a credential body.
fn required(m: &Map<String, Value>, k: &str) -> Result<String> {
    m.opt_string(k)?.ok_or_else(|| {
        Error::bad(format!(
            "Invalid input for field '{k}': '{k}' is a required property"
        ))
    })
}

/// Application credential tokens may only manage credentials when unrestricted.
async fn check_unrestricted(id: &Identity, ctx: &Context) -> Result<()> {
    let Some(ac_id) = &ctx.user.app_cred_id else {
        return Ok(());
    };
    let unrestricted = store::appcred::get(&id.db, ac_id)
        .await?
        .is_some_and(|a| a.unrestricted);
    if !unrestricted {
        return Err(Error::Forbidden(
            "Using method 'application_credential' is not allowed for managing additional credentials"
                .into(),
        ));
    }
    Ok(())
}

/// `POST /v3/credentials`
pub async fn create(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "credential")?;
    id.enforce(
        &ctx,
        "identity:create_credential",
        &json!({"target": {"credential": Value::Object(m.clone())}}),
    )?;
    let mut blob = required(m, "blob")?;
    let cred_type = required(m, "type")?;
    let user_id = required(m, "user_id")?;
    let project_id = m.opt_string("project_id")?;
    let is_ec2 = cred_type.eq_ignore_ascii_case(EC2);
    if is_ec2 && project_id.is_none() {
        return Err(Error::bad(
            "Invalid input for field 'project_id': 'project_id' is a required property",
        ));
    }
    if is_ec2 {
        check_unrestricted(&id, &ctx).await?;
    }
    check_project_scope(&ctx, project_id.as_deref(), "Credential")?;
    let cred_id = if is_ec2 {
        let mut b = parse_ec2_blob(&blob)?;
        let cid = ec2_id(&ec2_access(&b));
        // Credentials made with a delegated token authenticate back into that delegation.
        let mut bound = false;
        if let Some(t) = &ctx.user.trust_id {
            b.insert("trust_id".into(), json!(t));
            bound = true;
        }
        if let Some(a) = &ctx.user.app_cred_id {
            b.insert("app_cred_id".into(), json!(a));
            bound = true;
        }
        if bound {
            blob = py_dumps(&Value::Object(b));
        }
        cid
    } else {
        new_id()
    };
    let c = Credential {
        id: cred_id,
        user_id,
        project_id,
        cred_type,
        blob,
        extra: m.extras(KNOWN),
        created_at: id.now_micros(),
    };
    id.insert_credential(&c).await?;
    Ok(created(json!({"credential": c.to_json(&base)})))
}

/// `GET /v3/credentials`
pub async fn list(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    let t = if ctx.user.system.is_some() {
        json!({})
    } else {
        json!({"target": {"credential": {"user_id": ctx.user.user_id}}})
    };
    id.enforce(&ctx, "identity:list_credentials", &t)?;
    let all = id.list_credentials(q.get("user_id"), q.get("type")).await?;
    // Only what the caller may read: their own, unless policy says otherwise.
    let items = all
        .iter()
        .filter(|c| id.allowed(&ctx, "identity:get_credential", &c.target()))
        .filter(|c| check_project_scope(&ctx, c.project_id.as_deref(), "Credential").is_ok())
        .map(|c| c.to_json(&base))
        .collect();
    Ok(collection(
        &id,
        "credentials",
        items,
        format!("{base}/v3/credentials"),
    ))
}

/// Load a credential for a member operation: enforce against it (or an empty target when
/// it does not exist, so that callers without rights see 403 rather than 404), then 404.
async fn load(id: &Identity, ctx: &Context, action: &str, cid: &str) -> Result<Credential> {
    check_id("credential", cid)?;
    let c = id.credential(cid).await;
    let t = match &c {
        Ok(c) => c.target(),
        Err(_) => json!({}),
    };
    id.enforce(ctx, action, &t)?;
    let c = c?;
    check_project_scope(ctx, c.project_id.as_deref(), "Credential")?;
    Ok(c)
}

/// `GET /v3/credentials/{credential_id}`
pub async fn show(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(cid): Path<String>,
) -> Result<Response> {
    let c = load(&id, &ctx, "identity:get_credential", &cid).await?;
    Ok(ok(json!({"credential": c.to_json(&base)})))
}

/// `PATCH /v3/credentials/{credential_id}`
pub async fn update(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(cid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let current = load(&id, &ctx, "identity:update_credential", &cid).await?;
    let m = member(&body, "credential")?;
    if m.is_empty() {
        return Err(Error::bad(
            "Invalid input for field 'credential': {} does not have enough properties",
        ));
    }
    let c = apply_update(&current, m)?;
    // The owner may not hand the credential to someone else: check the result too.
    id.enforce(&ctx, "identity:update_credential", &c.target())?;
    check_project_scope(&ctx, c.project_id.as_deref(), "Credential")?;
    id.save_credential(&c).await?;
    Ok(ok(json!({"credential": c.to_json(&base)})))
}

/// The credential after applying a PATCH body, with keystone's rules.
fn apply_update(current: &Credential, m: &Map<String, Value>) -> Result<Credential> {
    if let Some(v) = m.get("id")
        && v.as_str() != Some(current.id.as_str())
    {
        return Err(Error::bad("Cannot change ID"));
    }
    let mut c = current.clone();
    if m.contains_key("type") {
        c.cred_type = required(m, "type")?;
    }
    if m.contains_key("user_id") {
        c.user_id = required(m, "user_id")?;
    }
    if m.contains_key("project_id") {
        c.project_id = m.opt_string("project_id")?;
    }
    if m.contains_key("blob") {
        c.blob = required(m, "blob")?;
    }
    if current.is_ec2() && m.contains_key("blob") {
        let new_blob = parse_ec2_blob(&c.blob)?;
        check_ec2_blob_update(&current.blob, &new_blob)?;
    }
    if c.is_ec2() {
        if c.project_id.is_none() {
            return Err(Error::missing("project_id", "credential"));
        }
        if !current.is_ec2() {
            parse_ec2_blob(&c.blob)?;
        }
    }
    for (k, v) in m.extras(KNOWN) {
        if v.is_null() {
            c.extra.remove(&k);
        } else {
            c.extra.insert(k, v);
        }
    }
    Ok(c)
}

/// `DELETE /v3/credentials/{credential_id}`
pub async fn delete(State(id): St, ctx: Context, Path(cid): Path<String>) -> Result<Response> {
    let c = load(&id, &ctx, "identity:delete_credential", &cid).await?;
    id.delete_credential(&c.id).await?;
    Ok(no_content())
}

// ---- EC2 credentials ----------------------------------------------------------------------

fn owner_target(uid: &str) -> Value {
    json!({"user_id": uid, "target": {"user": {"id": uid}, "credential": {"user_id": uid}}})
}

/// `GET /v3/users/{user_id}/credentials/OS-EC2`
pub async fn ec2_list(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:ec2_list_credentials", &owner_target(&uid))?;
    check_id("user", &uid)?;
    id.user(&uid).await?;
    let items = id
        .list_credentials(Some(&uid), Some(EC2))
        .await?
        .iter()
        .filter(|c| check_project_scope(&ctx, c.project_id.as_deref(), "EC2 credential").is_ok())
        .map(|c| c.to_ec2_json(&base))
        .collect();
    Ok(collection(
        &id,
        "credentials",
        items,
        format!("{base}/v3/users/{uid}/credentials/OS-EC2"),
    ))
}

/// `POST /v3/users/{user_id}/credentials/OS-EC2` with `{"tenant_id": ...}`
pub async fn ec2_create(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:ec2_create_credential", &owner_target(&uid))?;
    check_unrestricted(&id, &ctx).await?;
    check_id("user", &uid)?;
    id.user(&uid).await?;
    let m = match &body {
        Value::Object(m) => m,
        _ => return Err(Error::bad("The request body must be a JSON object.")),
    };
    let tenant_id = m
        .opt_string("tenant_id")?
        .ok_or_else(|| Error::missing("tenant_id", "request body"))?;
    id.project(&tenant_id).await?;
    check_project_scope(&ctx, Some(&tenant_id), "EC2 credential")?;
    let access = new_id();
    let blob = json!({
        "access": access,
        "secret": new_id(),
        "trust_id": ctx.user.trust_id,
    });
    let c = Credential {
        id: ec2_id(&access),
        user_id: uid,
        project_id: Some(tenant_id),
        cred_type: EC2.into(),
        blob: py_dumps(&blob),
        extra: Default::default(),
        created_at: id.now_micros(),
    };
    id.insert_credential(&c).await?;
    Ok(created(json!({"credential": c.to_ec2_json(&base)})))
}

/// Look up an EC2 credential by access key for GET and DELETE.
async fn ec2_load(
    id: &Identity,
    ctx: &Context,
    action: &str,
    uid: &str,
    access: &str,
) -> Result<Credential> {
    let cid = ec2_id(access);
    // Keystone looks the credential up to build the policy target: unknown keys are 404.
    let c = id.credential(&cid).await?;
    let mut t = c.target();
    t["user_id"] = json!(uid);
    id.enforce(ctx, action, &t)?;
    check_id("user", uid)?;
    id.user(uid).await?;
    if !c.is_ec2() {
        return Err(Error::UnauthorizedMsg("EC2 access key not found.".into()));
    }
    if c.user_id != uid {
        return Err(Error::not_found("credential", cid));
    }
    check_project_scope(ctx, c.project_id.as_deref(), "EC2 credential")?;
    Ok(c)
}

/// `GET /v3/users/{user_id}/credentials/OS-EC2/{credential_id}`
pub async fn ec2_show(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path((uid, access)): Path<(String, String)>,
) -> Result<Response> {
    let c = ec2_load(&id, &ctx, "identity:ec2_get_credential", &uid, &access).await?;
    Ok(ok(json!({"credential": c.to_ec2_json(&base)})))
}

/// `DELETE /v3/users/{user_id}/credentials/OS-EC2/{credential_id}`
pub async fn ec2_delete(
    State(id): St,
    ctx: Context,
    Path((uid, access)): Path<(String, String)>,
) -> Result<Response> {
    let c = ec2_load(&id, &ctx, "identity:ec2_delete_credential", &uid, &access).await?;
    id.delete_credential(&c.id).await?;
    Ok(no_content())
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/credentials",
        get(list, "GET /v3/credentials"),
        post(create, "POST /v3/credentials")
    );
    let r = api::route!(
        r,
        "/v3/credentials/{credential_id}",
        get(show, "GET /v3/credentials/{credential_id}"),
        patch(update, "PATCH /v3/credentials/{credential_id}"),
        delete(delete, "DELETE /v3/credentials/{credential_id}")
    );
    let r = api::route!(
        r,
        "/v3/users/{user_id}/credentials/OS-EC2",
        get(ec2_list, "GET /v3/users/{user_id}/credentials/OS-EC2"),
        post(
            ec2_create,
            "POST /v3/users/{user_id}/credentials/OS-EC2 with {\"tenant_id\": ...}"
        )
    );
    let r = api::route!(
        r,
        "/v3/users/{user_id}/credentials/OS-EC2/{credential_id}",
        get(
            ec2_show,
            "GET /v3/users/{user_id}/credentials/OS-EC2/{credential_id}"
        ),
        delete(
            ec2_delete,
            "DELETE /v3/users/{user_id}/credentials/OS-EC2/{credential_id}"
        )
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(t: &str, blob: &str, project: Option<&str>) -> Credential {
        Credential {
            id: "c1".into(),
            user_id: "u1".into(),
            project_id: project.map(str::to_string),
            cred_type: t.into(),
            blob: blob.into(),
            extra: Default::default(),
            created_at: 0,
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn update_rules() {
        let cur = cred("cert", "abc", None);
        // id may be repeated but not changed
        assert!(apply_update(&cur, &obj(json!({"id": "c1", "blob": "x"}))).is_ok());
        assert!(apply_update(&cur, &obj(json!({"id": "c2"}))).is_err());
        // becoming ec2 needs a project and a valid blob
        assert!(apply_update(&cur, &obj(json!({"type": "ec2"}))).is_err());
        assert!(apply_update(&cur, &obj(json!({"type": "ec2", "project_id": "p"}))).is_err());
        let c = apply_update(
            &cur,
            &obj(json!({"type": "ec2", "project_id": "p", "blob": "{\"access\":\"a\"}", "color": "red"})),
        )
        .unwrap();
        assert_eq!(c.cred_type, "ec2");
        assert_eq!(c.extra.get("color"), Some(&json!("red")));
        // ec2 delegation keys are immutable
        let cur = cred("ec2", r#"{"access":"a","trust_id":"t"}"#, Some("p"));
        assert!(apply_update(&cur, &obj(json!({"blob": "{\"access\":\"b\"}"}))).is_err());
        let c = apply_update(
            &cur,
            &obj(json!({"blob": "{\"access\":\"b\",\"trust_id\":\"t\"}", "project_id": "p2"})),
        )
        .unwrap();
        assert_eq!(c.project_id.as_deref(), Some("p2"));
        assert_eq!(
            c.id, "c1",
            "the id of an ec2 credential does not follow its blob"
        );
        // ec2 credentials keep a project
        assert!(apply_update(&cur, &obj(json!({"project_id": null}))).is_err());
    }

    #[test]
    fn owner_target_shape() {
        let t = owner_target("u");
        assert_eq!(t["user_id"], "u");
        assert_eq!(t["target"]["credential"]["user_id"], "u");
    }
}
