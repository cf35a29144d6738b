//! `POST /v3/auth/tokens`: authenticate with one or more methods, resolve the requested
//! scope, and mint a token — keystone's rules, including its refusals.

use std::sync::Arc;

use auth::{Scope, TokenPayload, token::new_audit_id};
use serde_json::Value;

use crate::model::{Project, User};
use crate::schema::ROOT_DOMAIN;
use crate::service::password;
use crate::service::tokens::{TokenProblem, Validated};
use crate::{Error, Identity, Result, store};

/// What the identity methods established.
struct Authenticated {
    user: User,
    methods: Vec<String>,
    /// From the token method: the original expiry and audit chain.
    expires_at: Option<i64>,
    parent_audit: Option<String>,
    /// From the token method: the scope of the token used (for rescoping rules).
    from_token: Option<Arc<Validated>>,
    app_cred: Option<store::appcred::AppCred>,
}

/// What the methods have established so far.
#[derive(Default)]
struct Partial {
    methods: Vec<String>,
    expires_at: Option<i64>,
    parent_audit: Option<String>,
    from_token: Option<Arc<Validated>>,
    app_cred: Option<store::appcred::AppCred>,
}

fn obj<'a>(v: &'a Value, key: &str, target: &str) -> Result<&'a serde_json::Map<String, Value>> {
    match v.get(key) {
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(Error::bad(format!(
            "Invalid input for field '{key}': it must be an object."
        ))),
        None => Err(Error::missing(key, target)),
    }
}

fn opt_str<'a>(m: &'a serde_json::Map<String, Value>, key: &str) -> Result<Option<&'a str>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(Error::bad(format!(
            "Invalid input for field '{key}': it must be a string."
        ))),
    }
}

impl Identity {
    /// Resolve `{"id": …}` or `{"name": …}` into a domain.
    async fn domain_ref(&self, m: &serde_json::Map<String, Value>) -> Result<Project> {
        if let Some(id) = opt_str(m, "id")? {
            return self.domain(id).await;
        }
        if let Some(name) = opt_str(m, "name")? {
            return match store::resource::get_by_name(&self.db, ROOT_DOMAIN, name).await? {
                Some(d) => Ok(d),
                None => Err(Error::not_found("domain", name)),
            };
        }
        Err(Error::missing("id or name", "domain"))
    }

    /// Find the user an auth method names: by id, or by name within a domain.
    async fn user_ref(&self, m: &serde_json::Map<String, Value>) -> Result<Option<User>> {
        if let Some(id) = opt_str(m, "id")? {
            return Ok(store::users::get(&self.db, id).await?);
        }
        let Some(name) = opt_str(m, "name")? else {
            return Err(Error::missing("id or name", "user"));
        };
        let dm = match m.get("domain") {
            Some(Value::Object(d)) => d,
            _ => return Err(Error::missing("domain", "user")),
        };
        let domain = match self.domain_ref(dm).await {
            Ok(d) => d,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(store::users::get_by_name(&self.db, &domain.id, name).await?)
    }

    /// Checks every method applies to the user: enabled, domain enabled, not locked.
    async fn assert_user_usable(&self, u: &User) -> Result<()> {
        if !u.enabled {
            tracing::debug!(user = %u.id, "authentication refused: user disabled");
            return Err(Error::Unauthorized);
        }
        match store::resource::get(&self.db, &u.domain_id).await? {
            Some(d) if d.enabled => Ok(()),
            _ => {
                tracing::debug!(user = %u.id, "authentication refused: domain disabled");
                Err(Error::Unauthorized)
            }
        }
    }

    async fn password_method(&self, body: &Value) -> Result<User> {
        let pw = obj(body, "password", "identity")?;
        let um = match pw.get("user") {
            Some(Value::Object(m)) => m,
            _ => return Err(Error::missing("user", "password")),
        };
        let secret = opt_str(um, "password")?.ok_or_else(|| Error::missing("password", "user"))?;
        let user = self.user_ref(um).await?;
        let Some(user) = user else {
            // Spend the same effort as for a real user, so timing tells nothing.
            let cost = self.cfg.password_hash_rounds;
            let decoy = tokio::task::spawn_blocking(move || password::decoy_hash(cost))
                .await
                .unwrap_or_default();
            let _ = password::verify(secret, &decoy).await;
            return Err(Error::Unauthorized);
        };
        let now = self.now_micros();
        if let Some(max) = self.cfg.lockout_failure_attempts {
            let locked_until = user
                .failed_auth_at
                .map(|t| t + self.cfg.lockout_duration * 1_000_000);
            if user.failed_auth_count >= i64::from(max) && locked_until.is_some_and(|t| t > now) {
                return Err(Error::UnauthorizedMsg(
                    "The account is locked for user. Try again later.".into(),
                ));
            }
        }
        let current = store::users::passwords(&self.db, &user.id).await?;
        let ok = match current.first() {
            Some(p) => password::verify(secret, &p.hash).await,
            None => false,
        };
        if !ok {
            store::users::record_failed_auth(&self.db, &user.id, now).await?;
            return Err(Error::Unauthorized);
        }
        self.assert_user_usable(&user).await?;
        if let Some(p) = current.first()
            && p.expires_at.is_some_and(|e| e <= now)
        {
            return Err(Error::UnauthorizedMsg(
                "The password is expired and needs to be changed for user.".into(),
            ));
        }
        if user.failed_auth_count > 0 {
            store::users::touch_last_active(&self.db, &user.id, now).await?;
        }
        Ok(user)
    }

    async fn token_method(&self, body: &Value) -> Result<Arc<Validated>> {
        let t = obj(body, "token", "identity")?;
        let id = opt_str(t, "id")?.ok_or_else(|| Error::missing("id", "token"))?;
        match self.validate_token(id, false).await {
            Ok(v) => Ok(v),
            Err(TokenProblem::Internal(e)) => Err(e),
            Err(_) => Err(Error::Unauthorized),
        }
    }

    async fn app_cred_method(&self, body: &Value) -> Result<store::appcred::AppCred> {
        let m = obj(body, "application_credential", "identity")?;
        let secret = opt_str(m, "secret")?
            .ok_or_else(|| Error::missing("secret", "application_credential"))?;
        let ac = if let Some(id) = opt_str(m, "id")? {
            store::appcred::get(&self.db, id).await?
        } else if let Some(name) = opt_str(m, "name")? {
            let um = match m.get("user") {
                Some(Value::Object(u)) => u,
                _ => return Err(Error::missing("user", "application_credential")),
            };
            match self.user_ref(um).await? {
                Some(u) => store::appcred::get_by_name(&self.db, &u.id, name).await?,
                None => None,
            }
        } else {
            return Err(Error::missing("id or name", "application_credential"));
        };
        let Some(ac) = ac else {
            return Err(Error::Unauthorized);
        };
        if !password::verify(secret, &ac.secret_hash).await {
            return Err(Error::Unauthorized);
        }
        if ac.expires_at.is_some_and(|e| e <= self.now_micros()) {
            return Err(Error::Unauthorized);
        }
        Ok(ac)
    }

    async fn authenticate(&self, identity: &Value, scope_requested: bool) -> Result<Authenticated> {
        let methods: Vec<String> = match identity.get("methods") {
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .map(|m| {
                    m.as_str().map(str::to_string).ok_or_else(|| {
                        Error::bad(
                            "Invalid input for field 'methods': method names must be strings.",
                        )
                    })
                })
                .collect::<Result<_>>()?,
            Some(_) => {
                return Err(Error::bad(
                    "Invalid input for field 'methods': a non-empty list is required.",
                ));
            }
            None => return Err(Error::missing("methods", "identity")),
        };
        let mut user: Option<User> = None;
        let mut out = Partial::default();
        for m in &methods {
            let u = match m.as_str() {
                "password" => self.password_method(identity).await?,
                "token" => {
                    let v = self.token_method(identity).await?;
                    let u = self
                        .user(&v.payload.user_id)
                        .await
                        .map_err(|_| Error::Unauthorized)?;
                    out.expires_at = Some(v.payload.expires_at);
                    out.parent_audit = v
                        .payload
                        .audit_ids
                        .get(1)
                        .or(v.payload.audit_ids.first())
                        .cloned();
                    out.methods.extend(v.payload.methods.iter().cloned());
                    out.from_token = Some(v);
                    u
                }
                "application_credential" => {
                    if scope_requested {
                        return Err(Error::UnauthorizedMsg(
                            "Application credentials cannot request a scope.".into(),
                        ));
                    }
                    let ac = self.app_cred_method(identity).await?;
                    let u = self
                        .user(&ac.user_id)
                        .await
                        .map_err(|_| Error::Unauthorized)?;
                    self.assert_user_usable(&u).await?;
                    out.app_cred = Some(ac);
                    u
                }
                _ => {
                    return Err(Error::UnauthorizedMsg(
                        "Attempted to authenticate with an unsupported method.".into(),
                    ));
                }
            };
            if let Some(prev) = &user
                && prev.id != u.id
            {
                return Err(Error::UnauthorizedMsg(
                    "The methods used identify different users.".into(),
                ));
            }
            user = Some(u);
        }
        for m in methods {
            if !out.methods.contains(&m) {
                out.methods.push(m);
            }
        }
        Ok(Authenticated {
            user: user.ok_or(Error::Unauthorized)?,
            methods: out.methods,
            expires_at: out.expires_at,
            parent_audit: out.parent_audit,
            from_token: out.from_token,
            app_cred: out.app_cred,
        })
    }

    /// The scope a request asks for, resolved to ids.
    async fn requested_scope(&self, scope: Option<&Value>) -> Result<Option<Scope>> {
        let Some(scope) = scope else { return Ok(None) };
        if scope.as_str() == Some("unscoped") {
            return Ok(Some(Scope::Unscoped));
        }
        let Some(m) = scope.as_object() else {
            return Err(Error::bad("Invalid input for field 'scope'."));
        };
        let kinds = ["project", "domain", "OS-TRUST:trust", "unscoped", "system"];
        if kinds.iter().filter(|k| m.contains_key(**k)).count() != 1 {
            return Err(Error::missing(
                "project, domain, OS-TRUST:trust or unscoped",
                "scope",
            ));
        }
        if m.contains_key("unscoped") {
            return Ok(Some(Scope::Unscoped));
        }
        if let Some(s) = m.get("system") {
            if s.get("all").and_then(Value::as_bool) == Some(true) {
                return Ok(Some(Scope::System {
                    system: "all".into(),
                }));
            }
            return Err(Error::bad(
                "Invalid input for field 'system': only {\"all\": true} is supported.",
            ));
        }
        if let Some(Value::Object(d)) = m.get("domain") {
            let dom = match self.domain_ref(d).await {
                Ok(d) => d,
                Err(Error::NotFound { .. }) => return Err(Error::Unauthorized),
                Err(e) => return Err(e),
            };
            if !dom.enabled {
                return Err(Error::Unauthorized);
            }
            return Ok(Some(Scope::Domain { domain_id: dom.id }));
        }
        if let Some(Value::Object(p)) = m.get("project") {
            let project = if let Some(id) = opt_str(p, "id")? {
                store::resource::get(&self.db, id).await?
            } else if let Some(name) = opt_str(p, "name")? {
                let d = match p.get("domain") {
                    Some(Value::Object(d)) => d,
                    _ => return Err(Error::missing("domain", "project")),
                };
                match self.domain_ref(d).await {
                    Ok(dom) => store::resource::get_by_name(&self.db, &dom.id, name).await?,
                    Err(Error::NotFound { .. }) => None,
                    Err(e) => return Err(e),
                }
            } else {
                return Err(Error::missing("id or name", "project"));
            };
            let Some(project) = project else {
                return Err(Error::Unauthorized);
            };
            if !project.enabled {
                return Err(Error::Unauthorized);
            }
            return Ok(Some(if project.is_domain {
                Scope::Domain {
                    domain_id: project.id,
                }
            } else {
                Scope::Project {
                    project_id: project.id,
                }
            }));
        }
        if let Some(Value::Object(t)) = m.get("OS-TRUST:trust") {
            let id = opt_str(t, "id")?.ok_or_else(|| Error::missing("id", "OS-TRUST:trust"))?;
            return Ok(Some(Scope::Trust {
                project_id: String::new(),
                trust_id: id.to_string(),
            }));
        }
        Err(Error::bad("Invalid input for field 'scope'."))
    }

    /// Authenticate and mint a token. Returns the token and what it stands for.
    pub async fn issue_token(&self, body: &Value) -> Result<Arc<Validated>> {
        let authv = body
            .get("auth")
            .ok_or_else(|| Error::missing("auth", "request body"))?;
        let identity = authv
            .get("identity")
            .ok_or_else(|| Error::missing("identity", "auth"))?;
        let scope_v = authv.get("scope");
        let scope_requested = scope_v.is_some_and(|s| s.as_str() != Some("unscoped"));
        let a = self.authenticate(identity, scope_requested).await?;
        let requested = self.requested_scope(scope_v).await?;

        // Rescoping rules for the token method.
        if let Some(prev) = &a.from_token {
            let prev_scope = &prev.payload.scope;
            match prev_scope {
                Scope::Trust { .. } => {
                    return Err(Error::ForbiddenMsg(
                        "You are not authorized to perform the requested action: Using trust-scoped token to create another token. Create a new trust-scoped token instead.".into(),
                    ));
                }
                Scope::System { .. }
                    if matches!(
                        requested,
                        Some(Scope::Project { .. } | Scope::Domain { .. })
                    ) =>
                {
                    return Err(Error::ForbiddenMsg(
                        "You are not authorized to perform the requested action: Using a system-scoped token to create a project-scoped or domain-scoped token is not allowed.".into(),
                    ));
                }
                Scope::ApplicationCredential { .. } if scope_requested => {
                    return Err(Error::ForbiddenMsg(
                        "You are not authorized to perform the requested action: Using an application credential token to create a scoped token is not allowed.".into(),
                    ));
                }
                Scope::Unscoped => {}
                _ if !self.cfg.allow_rescope_scoped_token && scope_requested => {
                    return Err(Error::ForbiddenMsg(
                        "You are not authorized to perform the requested action: rescope a scoped token.".into(),
                    ));
                }
                _ => {}
            }
        }

        let now = self.now();
        let mut expires_at = a.expires_at.unwrap_or(now + self.cfg.token_expiration);
        let user = &a.user;
        let scope = if let Some(ac) = &a.app_cred {
            if let Some(e) = ac.expires_at {
                expires_at = expires_at.min(e.div_euclid(1_000_000));
            }
            match (&ac.project_id, &ac.system) {
                (Some(p), _) => Scope::ApplicationCredential {
                    project_id: p.clone(),
                    app_cred_id: ac.id.clone(),
                },
                (None, Some(s)) => Scope::System { system: s.clone() },
                (None, None) => return Err(Error::Unauthorized),
            }
        } else if let Some(Scope::ApplicationCredential { .. }) =
            a.from_token.as_ref().map(|v| &v.payload.scope)
        {
            // Re-issuing an application credential token keeps its scope.
            a.from_token
                .as_ref()
                .map(|v| v.payload.scope.clone())
                .unwrap_or(Scope::Unscoped)
        } else {
            match requested {
                Some(Scope::Trust { trust_id, .. }) => {
                    let t = store::trust::get(&self.db, &trust_id)
                        .await?
                        .ok_or_else(|| Error::not_found("trust", &trust_id))?;
                    if t.trustee_user_id != user.id {
                        return Err(Error::ForbiddenMsg("User is not a trustee.".into()));
                    }
                    if let Some(e) = t.expires_at {
                        if e <= self.now_micros() {
                            return Err(Error::not_found("trust", &trust_id));
                        }
                        expires_at = expires_at.min(e.div_euclid(1_000_000));
                    }
                    if t.remaining_uses.is_some() && !store::trust::consume(&self.db, &t.id).await?
                    {
                        return Err(Error::ForbiddenMsg("Trust has no remaining uses.".into()));
                    }
                    Scope::Trust {
                        project_id: t.project_id.clone().unwrap_or_default(),
                        trust_id: t.id,
                    }
                }
                Some(s) => s,
                None => self.default_scope(user).await?,
            }
        };

        let mut audit_ids = vec![new_audit_id()];
        if let Some(p) = a.parent_audit {
            audit_ids.push(p);
        }
        let payload = TokenPayload {
            user_id: user.id.clone(),
            // Keystone's canonical order, the same a validation of this token shows.
            methods: auth::token::int_to_methods(auth::token::methods_to_int(&a.methods)),
            scope,
            expires_at,
            audit_ids,
            issued_at: now,
        };
        let token = payload.seal(&self.keys(), now);
        let scope_kind = scope_name(&payload.scope);
        let v = match self.build(token, payload).await {
            Ok(v) => v,
            Err(TokenProblem::Internal(e)) => return Err(e),
            Err(TokenProblem::Invalid(reason)) => {
                tracing::debug!(user = %user.id, reason, "no token: scope not usable");
                return Err(Error::UnauthorizedMsg(format!(
                    "User {} has no access to {scope_kind}.",
                    user.id
                )));
            }
            Err(TokenProblem::Expired) => return Err(Error::Unauthorized),
        };
        Ok(Arc::new(v))
    }

    /// Without a requested scope: the user's default project if usable, else unscoped.
    async fn default_scope(&self, user: &User) -> Result<Scope> {
        let Some(pid) = &user.default_project_id else {
            return Ok(Scope::Unscoped);
        };
        match store::resource::get(&self.db, pid).await? {
            Some(p) if p.enabled && !p.is_domain => {
                let roles = self
                    .effective_roles(&user.id, crate::service::roles::On::Project(&p))
                    .await?;
                if roles.is_empty() {
                    Ok(Scope::Unscoped)
                } else {
                    Ok(Scope::Project { project_id: p.id })
                }
            }
            _ => Ok(Scope::Unscoped),
        }
    }
}

fn scope_name(s: &Scope) -> &'static str {
    match s {
        Scope::Project { .. } | Scope::ApplicationCredential { .. } | Scope::Trust { .. } => {
            "the project"
        }
        Scope::Domain { .. } => "the domain",
        Scope::System { .. } => "the system",
        _ => "the requested scope",
    }
}
