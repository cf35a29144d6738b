//! `/v3/users/{user_id}/application_credentials` and `/v3/users/{user_id}/access_rules`.

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::params::check_id;
use crate::api::{Params, St, collection, created, member, no_content, ok};
use crate::service::app_creds::{app_cred_json, block_trust, rule_member_json};
use crate::store::appcred::{AppCred, RuleFilter};
use crate::{Error, Identity, Result, store};

/// Keystone's `rule:owner` reads `user_id` from the target; keep the user too.
fn owner_target(uid: &str) -> Value {
    json!({"user_id": uid, "target": {"user": {"id": uid}}})
}

/// `POST /v3/users/{user_id}/application_credentials`
pub async fn create(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(
        &ctx,
        "identity:create_application_credential",
        &owner_target(&uid),
    )?;
    let m = member(&body, "application_credential")?;
    block_trust(&ctx)?;
    id.check_unrestricted_app_cred(&ctx).await?;
    if ctx.user.user_id != uid {
        return Err(Error::Forbidden(
            "Cannot create an application credential for another user".into(),
        ));
    }
    let (ac, secret) = id.create_app_cred(&ctx, &uid, m).await?;
    let table = id.role_table().await?;
    Ok(created(json!({
        "application_credential": app_cred_json(&ac, &table, &base, Some(&secret), false)
    })))
}

/// `GET /v3/users/{user_id}/application_credentials`
pub async fn list(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    q: Params,
) -> Result<Response> {
    id.enforce(
        &ctx,
        "identity:list_application_credentials",
        &owner_target(&uid),
    )?;
    block_trust(&ctx)?;
    let acs = store::appcred::list(&id.db, &uid, q.get("name")).await?;
    let table = id.role_table().await?;
    let items = acs
        .iter()
        .map(|a| app_cred_json(a, &table, &base, None, false))
        .collect();
    Ok(collection(
        &id,
        "application_credentials",
        items,
        format!("{base}/v3/users/{uid}/application_credentials"),
    ))
}

/// Load an application credential for GET/DELETE. Policy is checked against the owner of
/// the credential, not the user in the path (keystone closes the same loophole).
async fn load(
    id: &Identity,
    ctx: &Context,
    action: &str,
    uid: &str,
    acid: &str,
) -> Result<AppCred> {
    check_id("application credential", acid)?;
    let ac = store::appcred::get(&id.db, acid).await?;
    let owner = ac.as_ref().map_or(uid, |a| a.user_id.as_str());
    id.enforce(ctx, action, &owner_target(owner))?;
    block_trust(ctx)?;
    match ac {
        Some(a) if a.user_id == uid => Ok(a),
        _ => Err(Error::not_found("Application Credential", acid.to_string())),
    }
}

/// `GET /v3/users/{user_id}/application_credentials/{application_credential_id}`
pub async fn show(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path((uid, acid)): Path<(String, String)>,
) -> Result<Response> {
    let ac = load(
        &id,
        &ctx,
        "identity:get_application_credential",
        &uid,
        &acid,
    )
    .await?;
    let table = id.role_table().await?;
    Ok(ok(json!({
        "application_credential": app_cred_json(&ac, &table, &base, None, true)
    })))
}

/// `DELETE /v3/users/{user_id}/application_credentials/{application_credential_id}`
pub async fn delete(
    State(id): St,
    ctx: Context,
    Path((uid, acid)): Path<(String, String)>,
) -> Result<Response> {
    let ac = load(
        &id,
        &ctx,
        "identity:delete_application_credential",
        &uid,
        &acid,
    )
    .await?;
    id.check_unrestricted_app_cred(&ctx).await?;
    store::appcred::delete(&id.db, &ac.id).await?;
    // Tokens of the credential fail validation from now on: it no longer exists.
    id.changed().await;
    Ok(no_content())
}

// ---- access rules -------------------------------------------------------------------------

/// Keystone's target for access rules: the user of the path, when it exists.
async fn user_target(id: &Identity, uid: &str) -> Result<Value> {
    let mut t = json!({"user_id": uid});
    if let Some(u) = store::users::get(&id.db, uid).await? {
        t["target"] = json!({"user": {"id": u.id, "domain_id": u.domain_id, "name": u.name}});
    }
    Ok(t)
}

/// `GET /v3/users/{user_id}/access_rules`
pub async fn rules_list(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    q: Params,
) -> Result<Response> {
    let t = user_target(&id, &uid).await?;
    id.enforce(&ctx, "identity:list_access_rules", &t)?;
    block_trust(&ctx)?;
    let f = RuleFilter {
        service: q.get("service").map(str::to_string),
        path: q.get("path").map(str::to_string),
        method: q.get("method").map(str::to_string),
    };
    let rules = store::appcred::list_rules_filtered(&id.db, &uid, &f).await?;
    let items = rules.iter().map(|r| rule_member_json(r, &base)).collect();
    Ok(collection(
        &id,
        "access_rules",
        items,
        format!("{base}/v3/users/{uid}/access_rules"),
    ))
}

async fn load_rule(
    id: &Identity,
    ctx: &Context,
    action: &str,
    uid: &str,
    rid: &str,
) -> Result<store::appcred::AccessRule> {
    let t = user_target(id, uid).await?;
    id.enforce(ctx, action, &t)?;
    block_trust(ctx)?;
    check_id("Access Rule", rid)?;
    match store::appcred::get_rule(&id.db, rid).await? {
        Some(r) if r.user_id == uid => Ok(r),
        _ => Err(Error::not_found("Access Rule", rid.to_string())),
    }
}

/// `GET /v3/users/{user_id}/access_rules/{access_rule_id}`
pub async fn rule_show(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path((uid, rid)): Path<(String, String)>,
) -> Result<Response> {
    let r = load_rule(&id, &ctx, "identity:get_access_rule", &uid, &rid).await?;
    Ok(ok(json!({"access_rule": rule_member_json(&r, &base)})))
}

/// `DELETE /v3/users/{user_id}/access_rules/{access_rule_id}`: refused while an
/// application credential still uses the rule.
pub async fn rule_delete(
    State(id): St,
    ctx: Context,
    Path((uid, rid)): Path<(String, String)>,
) -> Result<Response> {
    let r = load_rule(&id, &ctx, "identity:delete_access_rule", &uid, &rid).await?;
    if store::appcred::rule_in_use(&id.db, &r.id).await? {
        return Err(Error::ForbiddenMsg(
            "May not delete access rule in use".into(),
        ));
    }
    store::appcred::delete_rule(&id.db, &r.id).await?;
    id.changed().await;
    Ok(no_content())
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/users/{user_id}/application_credentials",
        get(list, "GET /v3/users/{user_id}/application_credentials"),
        post(create, "POST /v3/users/{user_id}/application_credentials")
    );
    let r = api::route!(
        r,
        "/v3/users/{user_id}/application_credentials/{application_credential_id}",
        get(
            show,
            "GET /v3/users/{user_id}/application_credentials/{application_credential_id}"
        ),
        delete(
            delete,
            "DELETE /v3/users/{user_id}/application_credentials/{application_credential_id}"
        )
    );
    let r = api::route!(
        r,
        "/v3/users/{user_id}/access_rules",
        get(rules_list, "GET /v3/users/{user_id}/access_rules")
    );
    let r = api::route!(
        r,
        "/v3/users/{user_id}/access_rules/{access_rule_id}",
        get(
            rule_show,
            "GET /v3/users/{user_id}/access_rules/{access_rule_id}"
        ),
        delete(
            rule_delete,
            "DELETE /v3/users/{user_id}/access_rules/{access_rule_id}: refused while an"
        )
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = owner_target("u1");
        assert_eq!(t["user_id"], "u1");
        assert_eq!(t["target"]["user"]["id"], "u1");
    }
}
