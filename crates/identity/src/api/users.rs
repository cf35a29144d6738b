//! `/v3/users`, password changes, and a user's projects and groups.

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::params::{Fields, check_id, patch_map};
use crate::api::{Params, St, collection, created, member, no_content, ok};
use crate::model::{User, new_id};
use crate::revoke::RevokeEvent;
use crate::service::password;
use crate::{Error, Identity, Result, store};

const KNOWN: &[&str] = &[
    "id",
    "name",
    "domain_id",
    "enabled",
    "password",
    "default_project_id",
    "description",
    "options",
    "federated",
    "links",
    "password_expires_at",
];

const USER_OPTIONS: &[&str] = &[
    "ignore_change_password_upon_first_use",
    "ignore_password_expiry",
    "ignore_lockout_failure_attempts",
    "lock_password",
    "multi_factor_auth_rules",
    "multi_factor_auth_enabled",
    "ignore_user_inactivity",
];

fn target(u: &User) -> Value {
    json!({"target": {"user": {"id": u.id, "domain_id": u.domain_id, "name": u.name}}})
}

impl Identity {
    /// Check a new password against length, the regex and (for self-service) history.
    pub async fn check_new_password(
        &self,
        user_id: Option<&str>,
        pw: &str,
        self_service: bool,
    ) -> Result<()> {
        if pw.len() > self.cfg.max_password_length {
            return Err(Error::bad(format!(
                "Invalid input for field 'password': the password is longer than {} characters.",
                self.cfg.max_password_length
            )));
        }
        if let Some(re) = &self.cfg.password_regex {
            let ok = regex_lite_match(re, pw);
            if !ok {
                let why = self
                    .cfg
                    .password_regex_description
                    .clone()
                    .unwrap_or_else(|| "It does not meet the password requirements.".into());
                return Err(Error::bad(format!("Password validation error: {why}")));
            }
        }
        if let (Some(uid), true) = (user_id, self_service) {
            let history = store::users::passwords(&self.db, uid).await?;
            if let Some(cur) = history.first() {
                let min_age = self.cfg.minimum_password_age * 86_400 * 1_000_000;
                if min_age > 0 && cur.created_at + min_age > self.now_micros() {
                    return Err(Error::bad(format!(
                        "You cannot change your password at this time due to the minimum password age. Once you change your password, it must be used for {} day(s) before it can be changed.",
                        self.cfg.minimum_password_age
                    )));
                }
            }
            let n = self.cfg.unique_last_password_count;
            if n > 0 {
                for old in history.iter().take(n) {
                    if password::verify(pw, &old.hash).await {
                        return Err(Error::bad(format!(
                            "Password validation error: The new password cannot be identical to a previous password. The total number which includes the new password must be unique is {n}."
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    fn password_expiry(&self, u: Option<&User>) -> Option<i64> {
        let ignore = u
            .and_then(|u| u.options.get("ignore_password_expiry"))
            .and_then(Value::as_bool)
            == Some(true);
        match (self.cfg.password_expires_days, ignore) {
            (Some(days), false) => Some(self.now_micros() + days * 86_400 * 1_000_000),
            _ => None,
        }
    }

    /// Revoke every token of a user (disable, delete, password change).
    pub async fn revoke_user(&self, user_id: &str) -> Result<()> {
        let mut ev = RevokeEvent::new(self.now());
        ev.user_id = Some(user_id.to_string());
        self.revocations.add(&self.db, ev).await?;
        Ok(())
    }

    pub async fn create_user(
        &self,
        ctx: Option<&Context>,
        m: &serde_json::Map<String, Value>,
    ) -> Result<User> {
        let name = m.name("name", 255)?;
        let domain_id = match m.opt_string("domain_id")? {
            Some(d) => d,
            None => ctx
                .and_then(|c| {
                    c.user
                        .domain_id()
                        .map(str::to_string)
                        .or_else(|| c.user.project.as_ref().map(|p| p.domain.id.clone()))
                })
                .unwrap_or_else(|| self.cfg.default_domain_id.clone()),
        };
        self.domain(&domain_id).await?;
        let default_project_id = m.opt_string("default_project_id")?;
        if let Some(p) = &default_project_id {
            match store::resource::get(&self.db, p).await? {
                Some(pr) if pr.is_domain => {
                    return Err(Error::bad("The default project cannot be a domain."));
                }
                _ => {}
            }
        }
        let mut u = User {
            id: new_id(),
            domain_id,
            name: name.clone(),
            enabled: m.opt_bool("enabled")?.unwrap_or(true),
            default_project_id,
            description: m.opt_string("description")?,
            extra: m.extras(KNOWN),
            options: m.options(USER_OPTIONS)?.unwrap_or_default(),
            created_at: self.now_micros(),
            last_active_at: None,
            password_expires_at: None,
            failed_auth_count: 0,
            failed_auth_at: None,
        };
        let pw = match m.get("password") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => {
                self.check_new_password(None, p, false).await?;
                let hash = password::hash(p, self.cfg.password_hash_rounds).await?;
                u.password_expires_at = self.password_expiry(Some(&u));
                Some((hash, self.now_micros(), u.password_expires_at))
            }
            Some(_) => {
                return Err(Error::bad(
                    "Invalid input for field 'password': it must be a string.",
                ));
            }
        };
        store::users::insert(&self.db, &u, pw)
            .await
            .map_err(Error::or_duplicate("user", &name))?;
        self.changed().await;
        Ok(u)
    }
}

/// `[security_compliance] password_regex`; an invalid pattern rejects every password.
fn regex_lite_match(re: &str, s: &str) -> bool {
    match regex::Regex::new(re) {
        Ok(r) => r.is_match(s),
        Err(e) => {
            tracing::warn!(re, error = %e, "invalid [security_compliance] password_regex; rejecting passwords");
            false
        }
    }
}

/// `POST /v3/users`
pub async fn create(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "user")?;
    let t = json!({"target": {"user": {"domain_id": m.get("domain_id").cloned().unwrap_or(Value::Null)}}});
    id.enforce(&ctx, "identity:create_user", &t)?;
    let u = id.create_user(Some(&ctx), m).await?;
    Ok(created(json!({"user": u.to_json(&base)})))
}

/// `GET /v3/users`
pub async fn list(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    let t = json!({"target": {"domain_id": q.get("domain_id")}, "domain_id": q.get("domain_id")});
    id.enforce(&ctx, "identity:list_users", &t)?;
    let f = store::users::UserFilter {
        domain_id: q.get("domain_id").map(str::to_string),
        name: q.get("name").map(str::to_string),
        enabled: q.bool_filter("enabled"),
        ..Default::default()
    };
    let mut users = store::users::list(&id.db, &f).await?;
    if let Some(pe) = q.get("password_expires_at") {
        users = filter_password_expiry(users, pe)?;
    }
    let items = users.iter().map(|u| u.to_json(&base)).collect();
    Ok(collection(&id, "users", items, format!("{base}/v3/users")))
}

/// `password_expires_at={lt,lte,gt,gte,eq,neq}:TIMESTAMP`
fn filter_password_expiry(users: Vec<User>, spec: &str) -> Result<Vec<User>> {
    let (op, ts) = spec.split_once(':').unwrap_or(("eq", spec));
    let t = crate::clock::parse_iso(ts)
        .ok_or_else(|| Error::bad(format!("Invalid timestamp {ts:?} for password_expires_at.")))?;
    let keep = |e: Option<i64>| -> Result<bool> {
        let Some(e) = e else { return Ok(false) };
        Ok(match op {
            "lt" => e < t,
            "lte" => e <= t,
            "gt" => e > t,
            "gte" => e >= t,
            "eq" => e / 1_000_000 == t / 1_000_000,
            "neq" => e / 1_000_000 != t / 1_000_000,
            _ => {
                return Err(Error::bad(format!(
                    "Invalid operator {op:?} for password_expires_at."
                )));
            }
        })
    };
    let mut out = Vec::new();
    for u in users {
        if keep(u.password_expires_at)? {
            out.push(u);
        }
    }
    Ok(out)
}

/// `GET /v3/users/{id}`
pub async fn show(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
) -> Result<Response> {
    check_id("user", &uid)?;
    let u = id.user(&uid).await?;
    let t = target(&u);
    id.enforce(&ctx, "identity:get_user", &t)?;
    Ok(ok(json!({"user": u.to_json(&base)})))
}

/// `PATCH /v3/users/{id}`
pub async fn update(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let u = id.user(&uid).await?;
    let t = target(&u);
    id.enforce(&ctx, "identity:update_user", &t)?;
    let m = member(&body, "user")?;
    let mut u = u;
    if let Some(d) = m.get("domain_id")
        && d.as_str() != Some(u.domain_id.as_str())
    {
        return Err(Error::bad("Cannot change the domain_id of a user."));
    }
    if let Some(v) = m.get("id")
        && v.as_str() != Some(u.id.as_str())
    {
        return Err(Error::bad("Cannot change the ID of a user."));
    }
    let was_enabled = u.enabled;
    if m.contains_key("name") {
        u.name = m.name("name", 255)?;
    }
    if let Some(e) = m.opt_bool("enabled")? {
        u.enabled = e;
    }
    if m.contains_key("default_project_id") {
        u.default_project_id = m.opt_string("default_project_id")?;
    }
    if m.contains_key("description") {
        u.description = m.opt_string("description")?;
    }
    if let Some(o) = m.options(USER_OPTIONS)? {
        patch_map(&mut u.options, o);
    }
    for (k, v) in m.extras(KNOWN) {
        if v.is_null() {
            u.extra.remove(&k);
        } else {
            u.extra.insert(k, v);
        }
    }
    store::users::update(&id.db, &u)
        .await
        .map_err(Error::or_duplicate("user", &u.name))?;
    let mut revoke = was_enabled && !u.enabled;
    match m.get("password") {
        None | Some(Value::Null) => {}
        Some(Value::String(p)) => {
            id.check_new_password(Some(&u.id), p, false).await?;
            let hash = password::hash(p, id.cfg.password_hash_rounds).await?;
            let exp = id.password_expiry(Some(&u));
            store::users::set_password(
                &id.db,
                &u.id,
                &hash,
                id.now_micros(),
                exp,
                false,
                id.cfg.unique_last_password_count,
            )
            .await?;
            revoke = true;
        }
        Some(_) => {
            return Err(Error::bad(
                "Invalid input for field 'password': it must be a string.",
            ));
        }
    }
    if revoke {
        id.revoke_user(&u.id).await?;
    }
    id.changed().await;
    let u = id.user(&uid).await?;
    Ok(ok(json!({"user": u.to_json(&base)})))
}

/// `DELETE /v3/users/{id}`
pub async fn delete(State(id): St, ctx: Context, Path(uid): Path<String>) -> Result<Response> {
    let u = id.user(&uid).await?;
    let t = target(&u);
    id.enforce(&ctx, "identity:delete_user", &t)?;
    store::users::delete(&id.db, &u.id).await?;
    id.revoke_user(&u.id).await?;
    id.changed().await;
    Ok(no_content())
}

/// `POST /v3/users/{id}/password`: self-service change, authenticated by the old password.
pub async fn change_password(
    State(id): St,
    Path(uid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "user")?;
    let original = m
        .opt_string("original_password")?
        .ok_or_else(|| Error::bad("Invalid input for field 'original_password': 'original_password' is a required property"))?;
    let new = m.opt_string("password")?.ok_or_else(|| {
        Error::bad("Invalid input for field 'password': 'password' is a required property")
    })?;
    let Some(u) = store::users::get(&id.db, &uid).await? else {
        return Err(Error::Unauthorized);
    };
    let current = store::users::passwords(&id.db, &u.id).await?;
    let ok_pw = match current.first() {
        Some(p) => password::verify(&original, &p.hash).await,
        None => false,
    };
    if !ok_pw || !u.enabled {
        return Err(Error::UnauthorizedMsg(
            "Error when changing user password: the original password is not correct.".into(),
        ));
    }
    if u.options.get("lock_password").and_then(Value::as_bool) == Some(true) {
        return Err(Error::ForbiddenMsg(
            "You are not allowed to change the password of this user.".into(),
        ));
    }
    id.check_new_password(Some(&u.id), &new, true).await?;
    let hash = password::hash(&new, id.cfg.password_hash_rounds).await?;
    let exp = id.password_expiry(Some(&u));
    store::users::set_password(
        &id.db,
        &u.id,
        &hash,
        id.now_micros(),
        exp,
        true,
        id.cfg.unique_last_password_count,
    )
    .await?;
    id.revoke_user(&u.id).await?;
    id.changed().await;
    Ok(no_content())
}

/// `GET /v3/users/{id}/password` is not allowed.
pub async fn password_get() -> Result<Response> {
    Err(Error::MethodNotAllowed(
        "The method is not allowed for the requested URL.".into(),
    ))
}

/// `GET /v3/users/{id}/groups`
pub async fn groups(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    q: Params,
) -> Result<Response> {
    let u = id.user(&uid).await?;
    let t = target(&u);
    id.enforce(&ctx, "identity:list_groups_for_user", &t)?;
    let gs =
        store::users::list_groups(&id.db, q.get("domain_id"), q.get("name"), Some(&u.id)).await?;
    let items = gs.iter().map(|g| g.to_json(&base)).collect();
    Ok(collection(
        &id,
        "groups",
        items,
        format!("{base}/v3/users/{uid}/groups"),
    ))
}

/// `GET /v3/users/{id}/projects`
pub async fn projects(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    q: Params,
) -> Result<Response> {
    let u = id.user(&uid).await?;
    let t = target(&u);
    id.enforce(&ctx, "identity:list_user_projects", &t)?;
    let mut items = id.projects_for_user(&u.id).await?;
    if let Some(d) = q.get("domain_id") {
        items.retain(|p| p.domain_id == d);
    }
    if let Some(n) = q.get("name") {
        items.retain(|p| p.name == n);
    }
    if let Some(e) = q.bool_filter("enabled") {
        items.retain(|p| p.enabled == e);
    }
    let items = items.iter().map(|p| p.to_project_json(&base)).collect();
    Ok(collection(
        &id,
        "projects",
        items,
        format!("{base}/v3/users/{uid}/projects"),
    ))
}

impl Identity {
    /// Projects where the user holds a role directly, through a group or by inheritance.
    pub async fn projects_for_user(&self, user_id: &str) -> Result<Vec<crate::model::Project>> {
        use crate::model::AssignmentKind as K;
        let mut actors = vec![user_id.to_string()];
        actors.extend(store::users::group_ids_of(&self.db, user_id).await?);
        let f = store::assignment::AssignmentFilter {
            actor_ids: Some(actors),
            ..Default::default()
        };
        let mut ids = Vec::new();
        for a in store::assignment::list_assignments(&self.db, &f).await? {
            match (a.kind, a.inherited) {
                (K::UserProject | K::GroupProject, false) => ids.push(a.target_id),
                (K::UserProject | K::GroupProject, true) => {
                    ids.extend(store::resource::subtree_ids(&self.db, &a.target_id).await?)
                }
                (K::UserDomain | K::GroupDomain, true) => {
                    let f = store::resource::Filter {
                        is_domain: Some(false),
                        domain_id: Some(a.target_id),
                        ..Default::default()
                    };
                    ids.extend(
                        store::resource::list(&self.db, &f)
                            .await?
                            .into_iter()
                            .map(|p| p.id),
                    );
                }
                _ => {}
            }
        }
        ids.sort();
        ids.dedup();
        let f = store::resource::Filter {
            is_domain: Some(false),
            ids: Some(ids),
            ..Default::default()
        };
        Ok(store::resource::list(&self.db, &f).await?)
    }
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/users",
        get(list, "GET /v3/users"),
        post(create, "POST /v3/users")
    );
    let r = api::route!(
        r,
        "/v3/users/{user_id}",
        get(show, "GET /v3/users/{id}"),
        patch(update, "PATCH /v3/users/{id}"),
        delete(delete, "DELETE /v3/users/{id}")
    );
    let r = api::route!(
        r,
        "/v3/users/{user_id}/password",
        post(
            change_password,
            "POST /v3/users/{id}/password: self-service change, authenticated by the old password"
        ),
        get(password_get, "GET /v3/users/{id}/password is not allowed")
    );
    let r = api::route!(
        r,
        "/v3/users/{user_id}/groups",
        get(groups, "GET /v3/users/{id}/groups")
    );
    let r = api::route!(
        r,
        "/v3/users/{user_id}/projects",
        get(projects, "GET /v3/users/{id}/projects")
    );
    r
}
