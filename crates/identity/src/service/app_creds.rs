//! Application credentials and access rules: what a user may delegate to an application,
//! validated the way keystone does.

use auth::Context;
use base64::Engine as _;
use rand::RngCore as _;
use serde_json::{Map, Value, json};

use crate::api::params::Fields;
use crate::clock::{iso_micros, parse_iso};
use crate::model::{Role, new_id};
use crate::service::cache::RoleTable;
use crate::service::password;
use crate::service::roles::On;
use crate::store::appcred::{AccessRule, AppCred};
use crate::{Error, Identity, Result, store};

const CREATE_FIELDS: &[&str] = &[
    "id",
    "name",
    "secret",
    "description",
    "expires_at",
    "project_id",
    "roles",
    "access_rules",
    "unrestricted",
    "system",
];

const METHODS: &[&str] = &["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"];

/// A role named in a create request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleRef {
    Id(String),
    Name(String),
}

/// An access rule as requested: by id (an existing rule of the user) or by its fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleInput {
    pub id: Option<String>,
    pub service: Option<String>,
    pub path: Option<String>,
    pub method: Option<String>,
}

/// A validated create request.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAppCred {
    pub name: String,
    pub secret: Option<String>,
    pub description: Option<String>,
    pub expires_at: Option<i64>,
    pub unrestricted: bool,
    pub roles: Vec<RoleRef>,
    pub access_rules: Vec<RuleInput>,
}

fn invalid(field: &str, why: impl std::fmt::Display) -> Error {
    Error::bad(format!("Invalid input for field '{field}': {why}"))
}

/// keystone's `id_string`: 1–64 characters of letters, digits and dashes.
fn id_string(field: &str, v: &Value) -> Result<String> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid(field, format!("{v} is not of type 'string'")))?;
    if s.is_empty() || s.len() > 64 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(invalid(field, format!("'{s}' is not a valid id")));
    }
    Ok(s.to_string())
}

fn parse_roles(v: &Value) -> Result<Vec<RoleRef>> {
    let Value::Array(items) = v else {
        return Err(invalid("roles", format!("{v} is not of type 'array'")));
    };
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let Value::Object(o) = it else {
            return Err(invalid("roles", format!("{it} is not of type 'object'")));
        };
        if o.len() != 1 {
            return Err(invalid(
                "roles",
                "each role must be given by exactly one of 'id' or 'name'",
            ));
        }
        if let Some(idv) = o.get("id") {
            out.push(RoleRef::Id(id_string("roles/id", idv)?));
        } else if let Some(n) = o.get("name") {
            match n.as_str() {
                Some(s) if !s.trim().is_empty() && s.chars().count() <= 255 => {
                    out.push(RoleRef::Name(s.to_string()))
                }
                _ => return Err(invalid("roles/name", format!("{n} is not a valid name"))),
            }
        } else {
            return Err(invalid(
                "roles",
                "additional properties are not allowed: only 'id' or 'name'",
            ));
        }
    }
    Ok(out)
}

fn parse_rules(v: &Value) -> Result<Vec<RuleInput>> {
    let Value::Array(items) = v else {
        return Err(invalid(
            "access_rules",
            format!("{v} is not of type 'array'"),
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let Value::Object(o) = it else {
            return Err(invalid(
                "access_rules",
                format!("{it} is not of type 'object'"),
            ));
        };
        let mut r = RuleInput::default();
        if let Some(v) = o.get("id") {
            r.id = Some(id_string("access_rules/id", v)?);
        }
        if let Some(v) = o.get("service") {
            r.service = Some(id_string("access_rules/service", v)?);
        }
        if let Some(v) = o.get("path") {
            let p = v.as_str().ok_or_else(|| {
                invalid("access_rules/path", format!("{v} is not of type 'string'"))
            })?;
            if p.chars().count() > 225 {
                return Err(invalid(
                    "access_rules/path",
                    "is longer than 225 characters",
                ));
            }
            if !p.starts_with('/') {
                return Err(invalid(
                    "access_rules/path",
                    format!("'{p}' does not match '^/'"),
                ));
            }
            r.path = Some(p.to_string());
        }
        if let Some(v) = o.get("method") {
            match v.as_str() {
                Some(m) if METHODS.contains(&m) => r.method = Some(m.to_string()),
                _ => {
                    return Err(invalid(
                        "access_rules/method",
                        format!("{v} is not one of {METHODS:?}"),
                    ));
                }
            }
        }
        if r.id.is_none() && (r.service.is_none() || r.method.is_none()) {
            return Err(invalid(
                "access_rules",
                "an access rule needs an 'id', or a 'service' and a 'method'",
            ));
        }
        out.push(r);
    }
    Ok(out)
}

/// Validate a create request body (`application_credential` member) at time `now` (µs).
pub fn parse_create(m: &Map<String, Value>, now: i64) -> Result<NewAppCred> {
    if let Some(k) = m.keys().find(|k| !CREATE_FIELDS.contains(&k.as_str())) {
        return Err(Error::bad(format!(
            "Invalid input for field 'application_credential': Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let name = m.name("name", 255)?;
    let secret = m.opt_string("secret")?.filter(|s| !s.is_empty());
    let description = m.opt_string("description")?;
    m.opt_string("project_id")?;
    m.opt_string("system")?;
    let expires_at = match m.opt_string("expires_at")? {
        None => None,
        Some(s) => {
            let t = parse_iso(&s).ok_or_else(|| {
                Error::bad(
                    "Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
                )
            })?;
            if t < now {
                return Err(Error::bad(
                    "The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
                ));
            }
            Some(t)
        }
    };
    let unrestricted = match m.get("unrestricted") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            return Err(invalid(
                "unrestricted",
                format!("{v} is not of type 'boolean'"),
            ));
        }
    };
    let roles = match m.get("roles") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_roles(v)?,
    };
    let access_rules = match m.get("access_rules") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_rules(v)?,
    };
    Ok(NewAppCred {
        name,
        secret,
        description,
        expires_at,
        unrestricted,
        roles,
        access_rules,
    })
}

/// A new secret as keystone makes them: 64 random bytes, URL-safe base64 without padding.
pub fn generate_secret() -> String {
    let mut b = [0u8; 64];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Requested role ids plus everything they imply, keeping the request's order.
pub fn with_implied(table: &RoleTable, ids: Vec<String>) -> Vec<String> {
    table.expand(ids)
}

pub fn rule_json(r: &AccessRule) -> Value {
    json!({"id": r.id, "service": r.service, "path": r.path, "method": r.method})
}

pub fn rule_member_json(r: &AccessRule, base: &str) -> Value {
    let mut v = rule_json(r);
    v["links"] = json!({"self": format!("{base}/v3/access_rules/{}", r.id)});
    v
}

fn role_json(r: &Role) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "domain_id": r.domain_id,
        "description": r.description,
        "options": r.options,
    })
}

/// An application credential as shown. `full` adds `user_id` and `system` (single GET);
/// `secret` only ever appears in the create response.
pub fn app_cred_json(
    ac: &AppCred,
    table: &RoleTable,
    base: &str,
    secret: Option<&str>,
    full: bool,
) -> Value {
    let mut roles: Vec<&Role> = ac
        .role_ids
        .iter()
        .filter_map(|id| table.roles.get(id))
        .collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    let roles: Vec<Value> = roles.into_iter().map(role_json).collect();
    let mut v = json!({
        "id": ac.id,
        "name": ac.name,
        "description": ac.description,
        "expires_at": ac.expires_at.map(iso_micros),
        "project_id": ac.project_id,
        "roles": roles,
        "unrestricted": ac.unrestricted,
        "links": {"self": format!("{base}/v3/users/{}/application_credentials/{}", ac.user_id, ac.id)},
    });
    if !ac.access_rules.is_empty() {
        v["access_rules"] = Value::Array(ac.access_rules.iter().map(rule_json).collect());
    }
    if full {
        v["user_id"] = json!(ac.user_id);
        v["system"] = json!(ac.system);
    }
    if let Some(s) = secret {
        v["secret"] = json!(s);
    }
    v
}

/// Trust-scoped tokens may not manage application credentials or access rules.
pub fn block_trust(ctx: &Context) -> Result<()> {
    if ctx.user.trust_id.is_some() {
        return Err(Error::ForbiddenMsg(
            "Cannot manage application credentials with a token issued via delegation.".into(),
        ));
    }
    Ok(())
}

impl Identity {
    /// Application credential tokens manage application credentials only when unrestricted.
    pub async fn check_unrestricted_app_cred(&self, ctx: &Context) -> Result<()> {
        let Some(ac_id) = &ctx.user.app_cred_id else {
            return Ok(());
        };
        let unrestricted = store::appcred::get(&self.db, ac_id)
            .await?
            .is_some_and(|a| a.unrestricted);
        if !unrestricted {
            return Err(Error::Forbidden(
                "Using method 'application_credential' is not allowed for managing additional application credentials".into(),
            ));
        }
        Ok(())
    }

    /// The role ids an application credential will carry.
    async fn app_cred_roles(
        &self,
        ctx: &Context,
        user_id: &str,
        project_id: &str,
        req: &[RoleRef],
        table: &RoleTable,
    ) -> Result<Vec<String>> {
        let token_roles: Vec<String> = ctx.user.roles.iter().map(|r| r.id.clone()).collect();
        if req.is_empty() {
            return Ok(token_roles);
        }
        let mut ids = Vec::with_capacity(req.len());
        for r in req {
            match r {
                RoleRef::Id(i) => ids.push(i.clone()),
                RoleRef::Name(n) => {
                    let role = store::assignment::get_role_by_name(&self.db, n, None)
                        .await?
                        .ok_or_else(|| Error::not_found("role", n.clone()))?;
                    ids.push(role.id);
                }
            }
        }
        let ids = with_implied(table, ids);
        if ids.iter().any(|i| !token_roles.contains(i)) {
            return Err(Error::bad(
                "Invalid application credential: Cannot create an application credential with unassigned role",
            ));
        }
        let project = self.project(project_id).await?;
        let held: Vec<String> = self
            .effective_roles(user_id, On::Project(&project))
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect();
        if let Some(missing) = ids.iter().find(|i| !held.contains(i)) {
            return Err(Error::bad(format!(
                "Invalid application credential: Could not find role assignment with role: {missing}, user or group: {user_id}, project, domain, or system: {project_id}."
            )));
        }
        Ok(ids)
    }

    /// Resolve requested access rules to stored or new rules of the user.
    async fn resolve_rules(&self, user_id: &str, req: &[RuleInput]) -> Result<Vec<AccessRule>> {
        let mut out: Vec<AccessRule> = Vec::with_capacity(req.len());
        for r in req {
            let mut found = None;
            if let Some(i) = &r.id {
                match store::appcred::get_rule(&self.db, i).await? {
                    Some(rule) if rule.user_id == user_id => found = Some(rule),
                    Some(_) => return Err(Error::not_found("Access Rule", i.clone())),
                    None => {}
                }
            }
            if found.is_none()
                && let (Some(s), Some(m)) = (&r.service, &r.method)
            {
                found =
                    store::appcred::find_rule(&self.db, user_id, s, r.path.as_deref(), m).await?;
            }
            let rule = match (found, &r.service, &r.method) {
                (Some(rule), _, _) => rule,
                (None, Some(s), Some(m)) => AccessRule {
                    id: r.id.clone().unwrap_or_else(new_id),
                    user_id: user_id.to_string(),
                    service: s.clone(),
                    path: r.path.clone(),
                    method: m.clone(),
                },
                (None, _, _) => {
                    return Err(Error::not_found(
                        "Access Rule",
                        r.id.clone().unwrap_or_default(),
                    ));
                }
            };
            if !out.iter().any(|x| x.id == rule.id) {
                out.push(rule);
            }
        }
        Ok(out)
    }

    /// Create an application credential for the caller, bound to the caller's project.
    /// Returns it with its secret in clear (shown once).
    pub async fn create_app_cred(
        &self,
        ctx: &Context,
        user_id: &str,
        m: &Map<String, Value>,
    ) -> Result<(AppCred, String)> {
        let req = parse_create(m, self.now_micros())?;
        let project_id = ctx.user.project_id().map(str::to_string).ok_or_else(|| {
            Error::bad(
                "Invalid application credential: an application credential can only be created with a project-scoped token",
            )
        })?;
        let table = self.role_table().await?;
        let role_ids = self
            .app_cred_roles(ctx, user_id, &project_id, &req.roles, &table)
            .await?;
        let access_rules = self.resolve_rules(user_id, &req.access_rules).await?;
        let secret = req.secret.clone().unwrap_or_else(generate_secret);
        let secret_hash = password::hash(&secret, self.cfg.password_hash_rounds).await?;
        let ac = AppCred {
            id: new_id(),
            name: req.name.clone(),
            secret_hash,
            description: req.description,
            user_id: user_id.to_string(),
            project_id: Some(project_id),
            system: None,
            expires_at: req.expires_at,
            unrestricted: req.unrestricted,
            created_at: self.now_micros(),
            role_ids,
            access_rules,
        };
        match store::appcred::insert(&self.db, &ac).await {
            Ok(()) => {}
            Err(db::DbError::Conflict(_)) => {
                return Err(Error::duplicate("application_credential", &req.name));
            }
            Err(e) => return Err(e.into()),
        }
        self.changed().await;
        Ok((ac, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn create_body_validation() {
        let now = 1_000_000_000_000_000;
        assert!(parse_create(&obj(json!({})), now).is_err(), "name required");
        assert!(parse_create(&obj(json!({"name": "  "})), now).is_err());
        assert!(parse_create(&obj(json!({"name": "a", "bogus": 1})), now).is_err());
        let r = parse_create(&obj(json!({"name": "a", "secret": ""})), now).unwrap();
        assert_eq!(r.secret, None, "an empty secret is generated");
        assert!(!r.unrestricted);
        let r = parse_create(
            &obj(json!({"name": "a", "unrestricted": true, "expires_at": "2100-01-01T00:00:00"})),
            now,
        )
        .unwrap();
        assert!(r.unrestricted);
        assert_eq!(r.expires_at, parse_iso("2100-01-01T00:00:00"));
        assert!(
            parse_create(
                &obj(json!({"name": "a", "expires_at": "2000-01-01T00:00:00Z"})),
                now
            )
            .is_err(),
            "expiry in the past"
        );
        assert!(parse_create(&obj(json!({"name": "a", "expires_at": "soon"})), now).is_err());
        assert!(parse_create(&obj(json!({"name": "a", "unrestricted": "yes"})), now).is_err());
    }

    #[test]
    fn role_refs() {
        let now = 0;
        let r = parse_create(
            &obj(json!({"name": "a", "roles": [{"id": "abc"}, {"name": "member"}]})),
            now,
        )
        .unwrap();
        assert_eq!(
            r.roles,
            vec![RoleRef::Id("abc".into()), RoleRef::Name("member".into())]
        );
        for bad in [
            json!({"name": "a", "roles": [{"id": "abc", "name": "x"}]}),
            json!({"name": "a", "roles": [{}]}),
            json!({"name": "a", "roles": [{"domain": "x"}]}),
            json!({"name": "a", "roles": "member"}),
        ] {
            assert!(parse_create(&obj(bad), now).is_err());
        }
    }

    #[test]
    fn access_rule_inputs() {
        let now = 0;
        let r = parse_create(
            &obj(json!({"name": "a", "access_rules": [
                {"service": "compute", "path": "/v2.1/servers/*/ips", "method": "GET"},
                {"id": "0123abcd"}
            ]})),
            now,
        )
        .unwrap();
        assert_eq!(r.access_rules.len(), 2);
        assert_eq!(r.access_rules[0].service.as_deref(), Some("compute"));
        assert_eq!(r.access_rules[1].id.as_deref(), Some("0123abcd"));
        for bad in [
            json!([{"service": "compute", "path": "/x", "method": "FETCH"}]),
            json!([{"service": "compute", "path": "x", "method": "GET"}]),
            json!([{"service": "comp ute", "method": "GET"}]),
            json!([{"service": "compute"}]),
            json!([{"path": "/x"}]),
            json!(["x"]),
        ] {
            assert!(
                parse_create(&obj(json!({"name": "a", "access_rules": bad})), now).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn secrets() {
        let s = generate_secret();
        assert_eq!(s.len(), 86);
        assert!(
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(s, generate_secret());
    }

    #[test]
    fn rendering() {
        let mut table = RoleTable::default();
        table.roles.insert(
            "r1".into(),
            Role {
                id: "r1".into(),
                name: "member".into(),
                domain_id: None,
                description: None,
                extra: Default::default(),
                options: Default::default(),
            },
        );
        let mut ac = AppCred {
            id: "a1".into(),
            name: "n".into(),
            secret_hash: "h".into(),
            description: None,
            user_id: "u1".into(),
            project_id: Some("p1".into()),
            system: None,
            expires_at: Some(1_500_000),
            unrestricted: false,
            created_at: 0,
            role_ids: vec!["r1".into(), "gone".into()],
            access_rules: vec![],
        };
        let v = app_cred_json(&ac, &table, "http://k", Some("s3"), false);
        assert_eq!(v["secret"], "s3");
        assert_eq!(v["expires_at"], "1970-01-01T00:00:01.500000");
        assert_eq!(v["roles"].as_array().map(Vec::len), Some(1));
        assert_eq!(v["roles"][0]["name"], "member");
        assert!(v.get("access_rules").is_none());
        assert!(v.get("user_id").is_none());
        assert_eq!(
            v["links"]["self"],
            "http://k/v3/users/u1/application_credentials/a1"
        );
        ac.access_rules.push(AccessRule {
            id: "ar".into(),
            user_id: "u1".into(),
            service: "compute".into(),
            path: Some("/x".into()),
            method: "GET".into(),
        });
        let v = app_cred_json(&ac, &table, "http://k", None, true);
        assert!(v.get("secret").is_none());
        assert_eq!(v["user_id"], "u1");
        assert_eq!(
            v["access_rules"][0],
            json!({"id": "ar", "service": "compute", "path": "/x", "method": "GET"})
        );
        let r = rule_member_json(&ac.access_rules[0], "http://k");
        assert_eq!(r["links"]["self"], "http://k/v3/access_rules/ar");
    }
}
