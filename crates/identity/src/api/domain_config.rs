//! Domain-specific configuration: `/v3/domains/{id}/config[/{group}[/{option}]]` and the
//! defaults under `/v3/domains/config/...`. Only keystone's allowed groups and options
//! (`identity`, `ldap`) are accepted; sensitive options are stored but never shown.

use std::sync::Arc;

use api::Json;
use api::openapi::Routes;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use db::RowExt;
use serde_json::{Map, Value, json};

use crate::api::{St, no_content, ok};
use crate::{Error, Identity, Result};

/// keystone's defaults for the options a domain may override (keystone 30).
const DEFAULTS: &str = r#"{"identity": {"driver": "sql", "list_limit": null},
"ldap": {"url": "ldap://localhost", "user": null, "suffix": "cn=example,cn=com", "query_scope": "one",
"page_size": 0, "alias_dereferencing": "default", "debug_level": null, "chase_referrals": null,
"user_tree_dn": null, "user_filter": null, "user_objectclass": "inetOrgPerson", "user_id_attribute": "cn",
"user_name_attribute": "sn", "user_mail_attribute": "mail", "user_description_attribute": "description",
"user_pass_attribute": "userPassword", "user_enabled_attribute": "enabled", "user_enabled_invert": false,
"user_enabled_mask": 0, "user_enabled_default": "True", "user_attribute_ignore": ["default_project_id"],
"user_default_project_id_attribute": null, "user_enabled_emulation": false, "user_enabled_emulation_dn": null,
"user_enabled_emulation_use_group_config": false, "user_additional_attribute_mapping": [],
"group_tree_dn": null, "group_filter": null, "group_objectclass": "groupOfNames", "group_id_attribute": "cn",
"group_name_attribute": "ou", "group_members_are_ids": false, "group_member_attribute": "member",
"group_desc_attribute": "description", "group_attribute_ignore": [], "group_additional_attribute_mapping": [],
"tls_cacertfile": null, "tls_cacertdir": null, "use_tls": false, "tls_req_cert": "demand", "use_pool": true,
"pool_size": 10, "pool_retry_max": 3, "pool_retry_delay": 0.1, "pool_connection_timeout": -1,
"pool_connection_lifetime": 600, "use_auth_pool": true, "auth_pool_size": 100, "auth_pool_connection_lifetime": 60}}"#;

/// Options stored but never returned.
const SENSITIVE: &[(&str, &str)] = &[("ldap", "password")];

fn defaults() -> Map<String, Value> {
    match serde_json::from_str::<Value>(DEFAULTS) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn is_sensitive(group: &str, option: &str) -> bool {
    SENSITIVE.contains(&(group, option))
}

/// keystone's InvalidDomainConfig: 403.
fn invalid(msg: String) -> Error {
    Error::ForbiddenMsg(format!("Invalid domain specific configuration: {msg}"))
}

fn check_option(group: &str, option: &str) -> Result<()> {
    let d = defaults();
    let Some(Value::Object(g)) = d.get(group) else {
        return Err(invalid(format!(
            "group {group} is not supported for domain specific configurations"
        )));
    };
    if !g.contains_key(option) && !is_sensitive(group, option) {
        return Err(invalid(format!(
            "option {option} in group {group} is not supported for domain specific configurations"
        )));
    }
    Ok(())
}

/// Validate `{"group": {"option": value}}`.
fn check_config(cfg: &Map<String, Value>) -> Result<()> {
    if cfg.is_empty() {
        return Err(invalid("the configuration is empty".into()));
    }
    for (g, opts) in cfg {
        let Value::Object(o) = opts else {
            return Err(Error::bad(format!(
                "Invalid input for field 'config': group {g} must be an object."
            )));
        };
        for k in o.keys() {
            check_option(g, k)?;
        }
    }
    Ok(())
}

fn config_body(body: &Value) -> Result<Map<String, Value>> {
    match body.get("config") {
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(Error::bad(
            "Invalid input for field 'config': it must be an object.",
        )),
        None => Err(Error::missing("config", "request body")),
    }
}

impl Identity {
    /// The stored configuration of a domain, as `{group: {option: value}}`.
    async fn domain_config(
        &self,
        domain_id: &str,
        with_sensitive: bool,
    ) -> Result<Map<String, Value>> {
        let rows = self
            .db
            .q("SELECT group_name, option_name, value, is_sensitive FROM domain_config WHERE domain_id = ? ORDER BY group_name, option_name")
            .bind(domain_id)
            .fetch_all(self.db.pool())
            .await?;
        let mut out = Map::new();
        for r in rows {
            if r.flag("is_sensitive")? && !with_sensitive {
                continue;
            }
            let v: Value = serde_json::from_str(&r.text("value")?).unwrap_or(Value::Null);
            if let Value::Object(g) = out
                .entry(r.text("group_name")?)
                .or_insert_with(|| Value::Object(Map::new()))
            {
                g.insert(r.text("option_name")?, v);
            }
        }
        Ok(out)
    }

    /// Replace a domain's configuration with `cfg` (in one transaction).
    async fn store_domain_config(&self, domain_id: &str, cfg: &Map<String, Value>) -> Result<()> {
        let mut tx = self.db.begin().await?;
        self.db
            .q("DELETE FROM domain_config WHERE domain_id = ?")
            .bind(domain_id)
            .execute(tx.conn())
            .await?;
        for (g, opts) in cfg {
            if let Value::Object(o) = opts {
                for (k, v) in o {
                    self.db
                        .q("INSERT INTO domain_config (domain_id, group_name, option_name, value, is_sensitive) VALUES (?, ?, ?, ?, ?)")
                        .bind(domain_id)
                        .bind(g)
                        .bind(k)
                        .bind(v.to_string())
                        .bind(is_sensitive(g, k))
                        .execute(tx.conn())
                        .await?;
                }
            }
        }
        tx.commit().await?;
        self.changed().await;
        Ok(())
    }
}

fn no_config(domain_id: &str) -> Error {
    Error::NotFoundMsg(format!("Could not find config for domain {domain_id}."))
}

fn visible(cfg: Map<String, Value>) -> Map<String, Value> {
    cfg.into_iter()
        .map(|(g, opts)| {
            let o = match opts {
                Value::Object(o) => Value::Object(
                    o.into_iter()
                        .filter(|(k, _)| !is_sensitive(&g, k))
                        .collect(),
                ),
                other => other,
            };
            (g, o)
        })
        .filter(|(_, o)| o.as_object().is_none_or(|m| !m.is_empty()))
        .collect()
}

/// `PUT /v3/domains/{id}/config`: 201 when created, 200 when replaced.
pub async fn put(
    State(id): St,
    ctx: Context,
    Path(did): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:create_domain_config", &json!({}))?;
    id.domain(&did).await?;
    let cfg = config_body(&body)?;
    check_config(&cfg)?;
    let existed = !id.domain_config(&did, true).await?.is_empty();
    id.store_domain_config(&did, &cfg).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, axum::Json(json!({"config": visible(cfg)}))).into_response())
}

/// `GET /v3/domains/{id}/config`
pub async fn show(State(id): St, ctx: Context, Path(did): Path<String>) -> Result<Response> {
    id.enforce(&ctx, "identity:get_domain_config", &json!({}))?;
    id.domain(&did).await?;
    let cfg = id.domain_config(&did, false).await?;
    if cfg.is_empty() {
        return Err(no_config(&did));
    }
    Ok(ok(json!({"config": cfg})))
}

/// Merge `patch` (`{group: {option: value}}`) into the stored configuration.
async fn merge(id: &Identity, did: &str, patch: Map<String, Value>) -> Result<Map<String, Value>> {
    let mut cfg = id.domain_config(did, true).await?;
    if cfg.is_empty() {
        return Err(no_config(did));
    }
    for (g, opts) in patch {
        let entry = cfg.entry(g).or_insert_with(|| Value::Object(Map::new()));
        if let (Value::Object(dst), Value::Object(src)) = (entry, opts) {
            dst.extend(src);
        }
    }
    id.store_domain_config(did, &cfg).await?;
    Ok(visible(cfg))
}

/// `PATCH /v3/domains/{id}/config`
pub async fn update(
    State(id): St,
    ctx: Context,
    Path(did): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:update_domain_config", &json!({}))?;
    id.domain(&did).await?;
    let patch = config_body(&body)?;
    check_config(&patch)?;
    Ok(ok(json!({"config": merge(&id, &did, patch).await?})))
}

/// `DELETE /v3/domains/{id}/config`
pub async fn delete(State(id): St, ctx: Context, Path(did): Path<String>) -> Result<Response> {
    id.enforce(&ctx, "identity:delete_domain_config", &json!({}))?;
    id.domain(&did).await?;
    if id.domain_config(&did, true).await?.is_empty() {
        return Err(no_config(&did));
    }
    id.store_domain_config(&did, &Map::new()).await?;
    Ok(no_content())
}

/// `GET /v3/domains/{id}/config/{group}`
pub async fn show_group(
    State(id): St,
    ctx: Context,
    Path((did, group)): Path<(String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:get_domain_config", &json!({}))?;
    id.domain(&did).await?;
    if !defaults().contains_key(&group) {
        return Err(invalid(format!(
            "group {group} is not supported for domain specific configurations"
        )));
    }
    let cfg = id.domain_config(&did, false).await?;
    match cfg.get(&group) {
        Some(g) => Ok(ok(json!({"config": {group: g}}))),
        None => Err(Error::NotFoundMsg(format!(
            "Could not find group {group} in the config of domain {did}."
        ))),
    }
}

/// `PATCH /v3/domains/{id}/config/{group}`
pub async fn update_group(
    State(id): St,
    ctx: Context,
    Path((did, group)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:update_domain_config", &json!({}))?;
    id.domain(&did).await?;
    let patch = config_body(&body)?;
    if patch.keys().any(|g| g != &group) {
        return Err(Error::bad(format!(
            "The body may only configure the group named in the URL ({group})."
        )));
    }
    check_config(&patch)?;
    Ok(ok(json!({"config": merge(&id, &did, patch).await?})))
}

/// `DELETE /v3/domains/{id}/config/{group}`
pub async fn delete_group(
    State(id): St,
    ctx: Context,
    Path((did, group)): Path<(String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:delete_domain_config", &json!({}))?;
    id.domain(&did).await?;
    let mut cfg = id.domain_config(&did, true).await?;
    if cfg.remove(&group).is_none() {
        return Err(Error::NotFoundMsg(format!(
            "Could not find group {group} in the config of domain {did}."
        )));
    }
    id.store_domain_config(&did, &cfg).await?;
    Ok(no_content())
}

/// `GET /v3/domains/{id}/config/{group}/{option}`
pub async fn show_option(
    State(id): St,
    ctx: Context,
    Path((did, group, option)): Path<(String, String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:get_domain_config", &json!({}))?;
    id.domain(&did).await?;
    check_option(&group, &option)?;
    let cfg = id.domain_config(&did, false).await?;
    match cfg.get(&group).and_then(|g| g.get(&option)) {
        Some(v) => Ok(ok(json!({"config": {option: v}}))),
        None => Err(Error::NotFoundMsg(format!(
            "Could not find option {option} of group {group} in the config of domain {did}."
        ))),
    }
}

/// `PATCH /v3/domains/{id}/config/{group}/{option}`
pub async fn update_option(
    State(id): St,
    ctx: Context,
    Path((did, group, option)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:update_domain_config", &json!({}))?;
    id.domain(&did).await?;
    check_option(&group, &option)?;
    let patch = config_body(&body)?;
    let Some(v) = patch.get(&option) else {
        return Err(Error::bad(format!(
            "The body must set the option named in the URL ({option})."
        )));
    };
    if patch.len() != 1 {
        return Err(Error::bad(
            "The body may only set the option named in the URL.",
        ));
    }
    let mut g = Map::new();
    g.insert(option.clone(), v.clone());
    let mut p = Map::new();
    p.insert(group, Value::Object(g));
    Ok(ok(json!({"config": merge(&id, &did, p).await?})))
}

/// `DELETE /v3/domains/{id}/config/{group}/{option}`
pub async fn delete_option(
    State(id): St,
    ctx: Context,
    Path((did, group, option)): Path<(String, String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:delete_domain_config", &json!({}))?;
    id.domain(&did).await?;
    let mut cfg = id.domain_config(&did, true).await?;
    let removed = cfg
        .get_mut(&group)
        .and_then(Value::as_object_mut)
        .and_then(|g| g.remove(&option));
    if removed.is_none() {
        return Err(Error::NotFoundMsg(format!(
            "Could not find option {option} of group {group} in the config of domain {did}."
        )));
    }
    if cfg
        .get(&group)
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        cfg.remove(&group);
    }
    id.store_domain_config(&did, &cfg).await?;
    Ok(no_content())
}

/// `GET /v3/domains/config/default`
pub async fn default_all(State(id): St, ctx: Context) -> Result<Response> {
    id.enforce(&ctx, "identity:get_domain_config_default", &json!({}))?;
    Ok(ok(json!({"config": defaults()})))
}

/// `GET /v3/domains/config/{group}/default`
pub async fn default_group(
    State(id): St,
    ctx: Context,
    Path(group): Path<String>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:get_domain_config_default", &json!({}))?;
    match defaults().get(&group) {
        Some(g) => Ok(ok(json!({"config": {group: g}}))),
        None => Err(invalid(format!(
            "group {group} is not supported for domain specific configurations"
        ))),
    }
}

/// `GET /v3/domains/config/{group}/{option}/default`
pub async fn default_option(
    State(id): St,
    ctx: Context,
    Path((group, option)): Path<(String, String)>,
) -> Result<Response> {
    id.enforce(&ctx, "identity:get_domain_config_default", &json!({}))?;
    check_option(&group, &option)?;
    if is_sensitive(&group, &option) {
        return Err(invalid(format!(
            "option {option} in group {group} is sensitive"
        )));
    }
    let d = defaults();
    let v = d
        .get(&group)
        .and_then(|g| g.get(&option))
        .cloned()
        .unwrap_or(Value::Null);
    Ok(ok(json!({"config": {option: v}})))
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/domains/config/default",
        get(default_all, "GET /v3/domains/config/default")
    );
    let r = api::route!(
        r,
        "/v3/domains/config/{group}/default",
        get(default_group, "GET /v3/domains/config/{group}/default")
    );
    let r = api::route!(
        r,
        "/v3/domains/config/{group}/{option}/default",
        get(
            default_option,
            "GET /v3/domains/config/{group}/{option}/default"
        )
    );
    let r = api::route!(
        r,
        "/v3/domains/{domain_id}/config",
        get(show, "GET /v3/domains/{id}/config"),
        put(
            put,
            "PUT /v3/domains/{id}/config: 201 when created, 200 when replaced"
        ),
        patch(update, "PATCH /v3/domains/{id}/config"),
        delete(delete, "DELETE /v3/domains/{id}/config")
    );
    let r = api::route!(
        r,
        "/v3/domains/{domain_id}/config/{group}",
        get(show_group, "GET /v3/domains/{id}/config/{group}"),
        patch(update_group, "PATCH /v3/domains/{id}/config/{group}"),
        delete(delete_group, "DELETE /v3/domains/{id}/config/{group}")
    );
    let r = api::route!(
        r,
        "/v3/domains/{domain_id}/config/{group}/{option}",
        get(show_option, "GET /v3/domains/{id}/config/{group}/{option}"),
        patch(
            update_option,
            "PATCH /v3/domains/{id}/config/{group}/{option}"
        ),
        delete(
            delete_option,
            "DELETE /v3/domains/{id}/config/{group}/{option}"
        )
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_groups_and_options() {
        assert!(check_option("ldap", "url").is_ok());
        assert!(check_option("ldap", "password").is_ok());
        assert!(check_option("identity", "driver").is_ok());
        assert!(check_option("ldap", "nope").is_err());
        assert!(check_option("token", "expiration").is_err());
        let mut cfg = Map::new();
        cfg.insert("ldap".into(), json!({"url": "ldap://x", "password": "s"}));
        assert!(check_config(&cfg).is_ok());
        let shown = visible(cfg);
        assert_eq!(
            shown["ldap"],
            json!({"url": "ldap://x"}),
            "sensitive options are never shown"
        );
    }
}
