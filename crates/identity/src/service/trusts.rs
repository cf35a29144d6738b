//! OS-TRUST rules: creating and redelegating trusts, looking them up the way keystone's
//! trust manager does (expired, used-up and broken-chain trusts are gone), deleting them
//! together with what was redelegated from them, and their JSON.

use auth::Context;
use serde_json::{Map, Value, json};

use crate::clock::{iso_micros, parse_iso};
use crate::model::{Role, merge, new_id};
use crate::revoke::RevokeEvent;
use crate::service::roles::On;
use crate::store::trust::{self as st, Trust};
use crate::{Error, Identity, Result, store};

/// keystone's `[trust] max_redelegation_count` default.
pub const MAX_REDELEGATION: i64 = 3;

/// Members of a create request that are not kept as extra attributes.
const KNOWN: &[&str] = &[
    "id",
    "trustor_user_id",
    "trustee_user_id",
    "project_id",
    "impersonation",
    "expires_at",
    "remaining_uses",
    "roles",
    "allow_redelegation",
    "redelegation_count",
    "redelegated_trust_id",
    "deleted_at",
    "links",
    "roles_links",
];

const SERVER_SUFFIX: &str = "The server could not comply with the request since it is either \
                             malformed or otherwise incorrect. The client is assumed to be in error.";

/// A role named in a create request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleRef {
    Id(String),
    Name(String),
}

/// A create request that passed keystone's request schema.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTrust {
    pub trustor_user_id: String,
    pub trustee_user_id: String,
    pub project_id: Option<String>,
    pub impersonation: bool,
    /// As sent; parsed (and checked against the clock) later, in keystone's order.
    pub expires_at: Option<String>,
    pub remaining_uses: Option<i64>,
    pub allow_redelegation: bool,
    pub redelegation_count: Option<i64>,
    pub roles: Vec<RoleRef>,
    pub extra: Map<String, Value>,
}

fn invalid(field: &str, why: impl std::fmt::Display) -> Error {
    Error::bad(format!("Invalid input for field '{field}': {why}"))
}

fn required_string(m: &Map<String, Value>, k: &str) -> Result<String> {
    match m.get(k) {
        None => Err(invalid(k, format!("'{k}' is a required property"))),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(invalid(k, format!("{other} is not of type 'string'"))),
    }
}

fn opt_string(m: &Map<String, Value>, k: &str) -> Result<Option<String>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(
            k,
            format!("{other} is not of type 'string', 'null'"),
        )),
    }
}

fn opt_bool(m: &Map<String, Value>, k: &str) -> Result<Option<bool>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(invalid(
            k,
            format!("{other} is not of type 'boolean', 'null'"),
        )),
    }
}

/// An integer or null, at least `min`.
fn opt_int(m: &Map<String, Value>, k: &str, min: i64) -> Result<Option<i64>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => match n.as_i64() {
            Some(i) if i >= min => Ok(Some(i)),
            Some(_) => Err(invalid(k, format!("{v} is less than the minimum of {min}"))),
            None => Err(invalid(k, format!("{v} is not of type 'integer', 'null'"))),
        },
        Some(other) => Err(invalid(
            k,
            format!("{other} is not of type 'integer', 'null'"),
        )),
    }
}

fn parse_roles(v: Option<&Value>) -> Result<Vec<RoleRef>> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => return Err(invalid("roles", format!("{other} is not of type 'array'"))),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, r) in items.iter().enumerate() {
        let field = format!("roles/{i}");
        let Value::Object(o) = r else {
            return Err(invalid(&field, format!("{r} is not of type 'object'")));
        };
        if o.len() != 1 {
            return Err(invalid(
                &field,
                format!("{r} must have exactly one property, 'id' or 'name'"),
            ));
        }
        let role = match (o.get("id"), o.get("name")) {
            (Some(Value::String(s)), None) if !s.is_empty() && s.len() <= 64 => {
                RoleRef::Id(s.clone())
            }
            (None, Some(Value::String(s))) if !s.trim().is_empty() && s.len() <= 255 => {
                RoleRef::Name(s.clone())
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(invalid(&field, format!("{r} has an invalid id or name")));
            }
            _ => {
                return Err(invalid(
                    &field,
                    format!("additional properties are not allowed in {r}"),
                ));
            }
        };
        if !out.contains(&role) {
            out.push(role);
        }
    }
    Ok(out)
}

/// Check a create request against keystone's request schema (all failures are 400).
pub fn parse_new(m: &Map<String, Value>) -> Result<NewTrust> {
    let trustor_user_id = required_string(m, "trustor_user_id")?;
    let trustee_user_id = required_string(m, "trustee_user_id")?;
    let impersonation = match m.get("impersonation") {
        None => {
            return Err(invalid(
                "impersonation",
                "'impersonation' is a required property",
            ));
        }
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(invalid(
                "impersonation",
                format!("{other} is not of type 'boolean'"),
            ));
        }
    };
    opt_string(m, "redelegated_trust_id")?;
    Ok(NewTrust {
        trustor_user_id,
        trustee_user_id,
        // keystone treats an empty project id as none.
        project_id: opt_string(m, "project_id")?.filter(|p| !p.is_empty()),
        impersonation,
        expires_at: opt_string(m, "expires_at")?,
        remaining_uses: opt_int(m, "remaining_uses", 1)?,
        allow_redelegation: opt_bool(m, "allow_redelegation")?.unwrap_or(false),
        redelegation_count: opt_int(m, "redelegation_count", 0)?,
        roles: parse_roles(m.get("roles"))?,
        extra: m
            .iter()
            .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

/// A requested expiry: an ISO 8601 time (UTC when no zone is given) not in the past.
pub fn parse_expiry(s: &str, now_micros: i64) -> Result<i64> {
    let t = parse_iso(s)
        .ok_or_else(|| Error::bad(format!("Timestamp not in expected format. {SERVER_SUFFIX}")))?;
    if t < now_micros {
        return Err(Error::bad(format!(
            "The 'expires_at' must not be before now. {SERVER_SUFFIX}"
        )));
    }
    Ok(t)
}

/// The redelegation depth a new trust gets when it is not itself redelegated, with
/// keystone's checks of `allow_redelegation`, `redelegation_count` and `remaining_uses`.
pub fn initial_redelegation(n: &NewTrust) -> Result<i64> {
    let redelegatable = n.allow_redelegation && n.redelegation_count != Some(0);
    if !redelegatable {
        return Ok(0);
    }
    if let Some(r) = n.redelegation_count
        && r > MAX_REDELEGATION
    {
        return Err(Error::ForbiddenMsg(format!(
            "Requested redelegation depth of {r} is greater than allowed {MAX_REDELEGATION}"
        )));
    }
    if n.remaining_uses.is_some() {
        return Err(Error::bad(
            "remaining_uses must not be set if redelegation is allowed",
        ));
    }
    Ok(n.redelegation_count.unwrap_or(MAX_REDELEGATION))
}

/// The depth of a trust redelegated from `parent`; asking for any other explicit value
/// than the parent's less one is refused.
pub fn redelegated_count(n: &NewTrust, parent: &Trust) -> Result<i64> {
    let remaining = parent.redelegation_count.unwrap_or(0) - 1;
    let redelegatable = n.allow_redelegation && n.redelegation_count != Some(0);
    if !redelegatable {
        return Ok(0);
    }
    match n.redelegation_count {
        Some(r) if r != remaining => Err(Error::ForbiddenMsg(
            "Modifying \"redelegation_count\" upon redelegation is forbidden. Omitting this \
             parameter is advised."
                .into(),
        )),
        _ => Ok(remaining),
    }
}

/// keystone's check of `child` against a trust it is redelegated from (directly or
/// further up the chain). A child without expiry takes the parent's.
pub fn check_redelegation(parent: &Trust, child: &mut Trust) -> Result<()> {
    let depth = parent.redelegation_count.unwrap_or(0);
    if !(0 < depth && depth <= MAX_REDELEGATION) {
        return Err(Error::ForbiddenMsg(format!(
            "Remaining redelegation depth of {depth} out of allowed range of [0..{MAX_REDELEGATION}]"
        )));
    }
    if let Some(n) = child.remaining_uses {
        return Err(Error::ForbiddenMsg(format!(
            "Field \"remaining_uses\" is set to {n} while it must not be set in order to \
             redelegate a trust"
        )));
    }
    match (child.expires_at, parent.expires_at) {
        (Some(c), Some(p)) if p < c => {
            return Err(Error::ForbiddenMsg(
                "Requested expiration time is more than redelegated trust can provide".into(),
            ));
        }
        (None, p) => child.expires_at = p,
        _ => {}
    }
    if child.role_ids.iter().any(|r| !parent.role_ids.contains(r)) {
        return Err(Error::ForbiddenMsg(
            "Some of requested roles are not in redelegated trust".into(),
        ));
    }
    if child.impersonation && !parent.impersonation {
        return Err(Error::ForbiddenMsg(format!(
            "Impersonation is not allowed because redelegated trust does not specify \
             impersonation. Redelegated trust id: {}",
            parent.id
        )));
    }
    Ok(())
}

/// Whether a stored trust is still usable at `now_micros` (not expired, uses left).
pub fn is_live(t: &Trust, now_micros: i64) -> bool {
    t.expires_at.is_none_or(|e| e >= now_micros) && t.remaining_uses.is_none_or(|n| n > 0)
}

/// The policy target of a trust.
pub fn target(t: &Trust) -> Value {
    json!({"target": {"trust": {
        "id": t.id,
        "trustor_user_id": t.trustor_user_id,
        "trustee_user_id": t.trustee_user_id,
        "project_id": t.project_id,
        "impersonation": t.impersonation,
    }}})
}

/// keystone's `subsecond` ISO form of a trust time.
pub fn time_of(us: i64) -> String {
    iso_micros(us) + "Z"
}

/// A trust's own attributes, as in a list (no roles).
pub fn summary(t: &Trust, base: &str) -> Value {
    merge(
        json!({
            "id": t.id,
            "trustor_user_id": t.trustor_user_id,
            "trustee_user_id": t.trustee_user_id,
            "project_id": t.project_id,
            "impersonation": t.impersonation,
            "expires_at": t.expires_at.map(time_of),
            "remaining_uses": t.remaining_uses,
            "deleted_at": null,
            "redelegated_trust_id": t.redelegated_trust_id,
            "redelegation_count": t.redelegation_count.unwrap_or(0),
            "allow_redelegation": t.redelegation_count.unwrap_or(0) > 0,
            "links": {"self": format!("{base}/v3/OS-TRUST/trusts/{}", t.id)},
        }),
        &t.extra,
    )
}

/// A trust with its roles, as shown by create and get.
pub fn full(t: &Trust, roles: &[Role], base: &str) -> Value {
    let mut v = summary(t, base);
    v["roles"] = Value::Array(roles.iter().map(|r| r.to_json(base)).collect());
    v["roles_links"] = roles_links(t, base);
    v
}

pub fn roles_links(t: &Trust, base: &str) -> Value {
    json!({"self": format!("{base}/v3/OS-TRUST/trusts/{}/roles", t.id), "previous": null, "next": null})
}

/// keystone refuses every trust operation to application credential tokens.
pub fn refuse_app_cred(ctx: &Context) -> Result<()> {
    if ctx.user.app_cred_id.is_some()
        || ctx
            .user
            .methods
            .iter()
            .any(|m| m == "application_credential")
    {
        return Err(Error::Forbidden(
            "Using method 'application_credential' is not allowed for managing trusts".into(),
        ));
    }
    Ok(())
}

/// Which trusts a list asks for; keystone honours one filter, the trustor first, and
/// returns nothing for a query that names neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListFilter {
    All,
    Trustor(String),
    Trustee(String),
    Nothing,
}

pub fn list_filter(query: &[(String, String)]) -> ListFilter {
    let get = |k: &str| {
        query
            .iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    if query.is_empty() {
        ListFilter::All
    } else if let Some(t) = get("trustor_user_id") {
        ListFilter::Trustor(t)
    } else if let Some(t) = get("trustee_user_id") {
        ListFilter::Trustee(t)
    } else {
        ListFilter::Nothing
    }
}

impl Identity {
    /// A trust as keystone's trust manager returns it: 404 when unknown, deleted, expired
    /// or used up; 403 when a redelegation chain no longer holds.
    pub async fn active_trust(&self, tid: &str) -> Result<Trust> {
        let now = self.now_micros();
        let t = st::get(&self.db, tid)
            .await?
            .filter(|t| is_live(t, now))
            .ok_or_else(|| Error::not_found("trust", tid))?;
        let mut child = t.clone();
        for _ in 0..=MAX_REDELEGATION + 1 {
            let Some(pid) = child.redelegated_trust_id.clone() else {
                return Ok(t);
            };
            let parent = st::get(&self.db, &pid)
                .await?
                .filter(|p| is_live(p, now))
                .ok_or_else(|| Error::not_found("trust", &pid))?;
            check_redelegation(&parent, &mut child)?;
            let agent_ok = store::users::get(&self.db, &parent.trustee_user_id)
                .await?
                .is_some_and(|u| u.enabled);
            if !agent_ok {
                return Err(Error::ForbiddenMsg(
                    "One of the trust agents is disabled or deleted".into(),
                ));
            }
            child = parent;
        }
        Err(Error::ForbiddenMsg(
            "The redelegation chain of this trust is too long.".into(),
        ))
    }

    /// The roles a trust delegates that still exist.
    pub async fn trust_roles(&self, t: &Trust) -> Result<Vec<Role>> {
        Ok(store::assignment::roles_by_ids(&self.db, &t.role_ids).await?)
    }

    pub async fn render_trust(&self, t: &Trust, base: &str) -> Result<Value> {
        Ok(full(t, &self.trust_roles(t).await?, base))
    }

    async fn resolve_trust_role(&self, r: &RoleRef) -> Result<String> {
        match r {
            RoleRef::Id(id) => Ok(id.clone()),
            RoleRef::Name(name) => store::assignment::get_role_by_name(&self.db, name, None)
                .await?
                .map(|r| r.id)
                .ok_or_else(|| Error::not_found("role", name)),
        }
    }

    /// `POST /v3/OS-TRUST/trusts` after the policy check, in keystone's order of checks.
    pub async fn create_trust(&self, ctx: &Context, n: NewTrust) -> Result<Trust> {
        refuse_app_cred(ctx)?;
        if n.project_id.is_some() && n.roles.is_empty() {
            return Err(Error::Forbidden(
                "At least one role should be specified".into(),
            ));
        }
        if ctx.user.user_id != n.trustor_user_id {
            return Err(Error::Forbidden(
                "The authenticated user should match the trustor".into(),
            ));
        }
        self.user(&n.trustee_user_id).await?;
        let mut role_ids: Vec<String> = Vec::with_capacity(n.roles.len());
        for r in &n.roles {
            let id = self.resolve_trust_role(r).await?;
            if !role_ids.contains(&id) {
                role_ids.push(id);
            }
        }
        // The trustor must hold every delegated role on the project.
        let held: Vec<String> = match &n.project_id {
            Some(pid) => {
                let project = self.project(pid).await?;
                self.effective_roles(&n.trustor_user_id, On::Project(&project))
                    .await?
                    .into_iter()
                    .map(|r| r.id)
                    .collect()
            }
            None => Vec::new(),
        };
        if let Some(r) = role_ids.iter().find(|r| !held.contains(r)) {
            return Err(Error::not_found("role", r.clone()));
        }
        let expires_at = match &n.expires_at {
            Some(s) => Some(parse_expiry(s, self.now_micros())?),
            None => None,
        };
        let parent = match &ctx.user.trust_id {
            Some(pid) => Some(self.active_trust(pid).await?),
            None => None,
        };
        let count = initial_redelegation(&n)?;
        let mut t = Trust {
            id: new_id(),
            trustor_user_id: n.trustor_user_id.clone(),
            trustee_user_id: n.trustee_user_id.clone(),
            project_id: n.project_id.clone(),
            impersonation: n.impersonation,
            expires_at,
            remaining_uses: n.remaining_uses,
            redelegated_trust_id: None,
            redelegation_count: Some(count),
            deleted_at: None,
            extra: n.extra.clone(),
            role_ids,
        };
        if let Some(parent) = parent {
            t.redelegated_trust_id = Some(parent.id.clone());
            t.redelegation_count = Some(redelegated_count(&n, &parent)?);
            // Against the parent and every trust it was itself redelegated from.
            let mut cur = Some(parent);
            let mut hops = 0;
            while let Some(p) = cur {
                check_redelegation(&p, &mut t)?;
                hops += 1;
                cur = match (&p.redelegated_trust_id, hops <= MAX_REDELEGATION) {
                    (Some(up), true) => Some(
                        st::get(&self.db, up)
                            .await?
                            .ok_or_else(|| Error::not_found("trust", up))?,
                    ),
                    _ => None,
                };
            }
        }
        if t.expires_at.is_some() {
            let dup = st::list(&self.db, Some(&t.trustor_user_id), Some(&t.trustee_user_id))
                .await?
                .into_iter()
                .any(|o| {
                    o.project_id == t.project_id
                        && o.impersonation == t.impersonation
                        && o.expires_at == t.expires_at
                });
            if dup {
                return Err(Error::conflict("trust", "Duplicate entry"));
            }
        }
        st::insert(&self.db, &t).await?;
        self.changed().await;
        Ok(t)
    }

    /// Trusts for a list request (the policy check is the caller's).
    pub async fn list_trusts(&self, f: &ListFilter) -> Result<Vec<Trust>> {
        Ok(match f {
            ListFilter::All => st::list(&self.db, None, None).await?,
            ListFilter::Trustor(u) => st::list(&self.db, Some(u), None).await?,
            ListFilter::Trustee(u) => st::list(&self.db, None, Some(u)).await?,
            ListFilter::Nothing => Vec::new(),
        })
    }

    /// Delete a trust and everything redelegated from it; their tokens are revoked.
    pub async fn delete_trust(&self, t: &Trust) -> Result<()> {
        let mut doomed = vec![t.id.clone()];
        let mut i = 0;
        while i < doomed.len() {
            for child in st::children(&self.db, &doomed[i]).await? {
                if !doomed.contains(&child.id) {
                    doomed.push(child.id);
                }
            }
            i += 1;
        }
        let now = self.now();
        let now_us = self.now_micros();
        for d in &doomed {
            st::delete(&self.db, d, now_us).await?;
            let mut ev = RevokeEvent::new(now);
            ev.trust_id = Some(d.clone());
            self.revocations.add(&self.db, ev).await?;
        }
        self.changed().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn base_req() -> Value {
        json!({"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": true,
               "project_id": "p", "roles": [{"name": "member"}, {"id": "r1"}, {"id": "r1"}]})
    }

    fn trust(id: &str, count: i64, roles: &[&str], imp: bool, exp: Option<i64>) -> Trust {
        Trust {
            id: id.into(),
            trustor_user_id: "a".into(),
            trustee_user_id: "b".into(),
            project_id: Some("p".into()),
            impersonation: imp,
            expires_at: exp,
            remaining_uses: None,
            redelegated_trust_id: None,
            redelegation_count: Some(count),
            deleted_at: None,
            extra: Map::new(),
            role_ids: roles.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn parse_accepts_keystone_request() {
        let mut v = base_req();
        v["color"] = json!("blue");
        v["expires_at"] = json!("2030-01-01T00:00:00Z");
        let n = parse_new(&body(v)).expect("valid");
        assert_eq!(
            n.roles,
            vec![RoleRef::Name("member".into()), RoleRef::Id("r1".into())]
        );
        assert_eq!(n.project_id.as_deref(), Some("p"));
        assert!(n.impersonation);
        assert_eq!(n.extra.get("color"), Some(&json!("blue")));
        assert!(!n.allow_redelegation);
    }

    #[test]
    fn parse_rejects_schema_violations() {
        for (k, bad) in [
            ("impersonation", Value::Null),
            ("impersonation", json!("yes")),
            ("trustor_user_id", json!(3)),
            ("remaining_uses", json!(0)),
            ("remaining_uses", json!("1")),
            ("redelegation_count", json!(-1)),
            ("expires_at", json!(5)),
            ("allow_redelegation", json!(1)),
            ("roles", json!({"id": "x"})),
            ("roles", json!([{"id": "x", "name": "y"}])),
            ("roles", json!([{"colour": "x"}])),
            ("roles", json!([{}])),
        ] {
            let mut v = base_req();
            v[k] = bad.clone();
            assert!(
                matches!(parse_new(&body(v)), Err(Error::Validation(_))),
                "{k}={bad}"
            );
        }
        let mut v = base_req();
        if let Value::Object(m) = &mut v {
            m.remove("impersonation");
        }
        assert!(parse_new(&body(v)).is_err());
        let mut v = base_req();
        v["project_id"] = json!("");
        assert_eq!(parse_new(&body(v)).expect("valid").project_id, None);
    }

    #[test]
    fn expiry_must_parse_and_not_be_past() {
        let now = 1_700_000_000_000_000;
        assert!(parse_expiry("bad.123Z", now).is_err());
        assert!(parse_expiry("2000-01-01T00:00:00Z", now).is_err());
        assert_eq!(
            parse_expiry("2030-01-01T00:00:00", now).expect("ok"),
            1_893_456_000_000_000
        );
    }

    #[test]
    fn initial_depth_follows_keystone() {
        let mut n = parse_new(&body(base_req())).expect("valid");
        assert_eq!(initial_redelegation(&n).expect("ok"), 0);
        n.allow_redelegation = true;
        assert_eq!(initial_redelegation(&n).expect("ok"), MAX_REDELEGATION);
        n.redelegation_count = Some(2);
        assert_eq!(initial_redelegation(&n).expect("ok"), 2);
        n.redelegation_count = Some(0);
        assert_eq!(initial_redelegation(&n).expect("ok"), 0);
        n.redelegation_count = Some(MAX_REDELEGATION + 1);
        assert!(matches!(
            initial_redelegation(&n),
            Err(Error::ForbiddenMsg(_))
        ));
        n.redelegation_count = None;
        n.remaining_uses = Some(2);
        assert!(matches!(
            initial_redelegation(&n),
            Err(Error::Validation(_))
        ));
    }

    #[test]
    fn redelegated_depth_is_parents_less_one() {
        let parent = trust("p1", 3, &["r1"], true, None);
        let mut n = parse_new(&body(base_req())).expect("valid");
        assert_eq!(redelegated_count(&n, &parent).expect("ok"), 0);
        n.allow_redelegation = true;
        assert_eq!(redelegated_count(&n, &parent).expect("ok"), 2);
        n.redelegation_count = Some(2);
        assert_eq!(redelegated_count(&n, &parent).expect("ok"), 2);
        n.redelegation_count = Some(1);
        assert!(redelegated_count(&n, &parent).is_err());
    }

    #[test]
    fn redelegation_checks() {
        let parent = trust("p1", 2, &["r1", "r2"], false, Some(100));
        let mut ok = trust("c", 1, &["r1"], false, None);
        check_redelegation(&parent, &mut ok).expect("allowed");
        assert_eq!(ok.expires_at, Some(100), "inherits the parent's expiry");

        let mut later = trust("c", 1, &["r1"], false, Some(101));
        assert!(check_redelegation(&parent, &mut later).is_err());
        let mut more_roles = trust("c", 1, &["r1", "r3"], false, None);
        assert!(check_redelegation(&parent, &mut more_roles).is_err());
        let mut impersonating = trust("c", 1, &["r1"], true, None);
        assert!(check_redelegation(&parent, &mut impersonating).is_err());
        let mut limited = trust("c", 1, &["r1"], false, None);
        limited.remaining_uses = Some(1);
        assert!(check_redelegation(&parent, &mut limited).is_err());
        let spent = trust("p0", 0, &["r1", "r2"], false, None);
        let mut c = trust("c", 0, &["r1"], false, None);
        assert!(check_redelegation(&spent, &mut c).is_err());
    }

    #[test]
    fn liveness() {
        let mut t = trust("t", 0, &[], false, Some(10));
        assert!(is_live(&t, 10));
        assert!(!is_live(&t, 11));
        t.expires_at = None;
        t.remaining_uses = Some(0);
        assert!(!is_live(&t, 11));
        t.remaining_uses = Some(1);
        assert!(is_live(&t, 11));
    }

    #[test]
    fn list_filters() {
        let q = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(list_filter(&[]), ListFilter::All);
        assert_eq!(
            list_filter(&q(&[("trustee_user_id", "e"), ("trustor_user_id", "o")])),
            ListFilter::Trustor("o".into())
        );
        assert_eq!(
            list_filter(&q(&[("trustee_user_id", "e")])),
            ListFilter::Trustee("e".into())
        );
        assert_eq!(list_filter(&q(&[("x", "y")])), ListFilter::Nothing);
    }

    #[test]
    fn rendering() {
        let t = trust("t1", 0, &["r1"], true, Some(1_500_000));
        let s = summary(&t, "http://h");
        assert_eq!(s["expires_at"], json!("1970-01-01T00:00:01.500000Z"));
        assert_eq!(s["links"]["self"], json!("http://h/v3/OS-TRUST/trusts/t1"));
        assert_eq!(s["allow_redelegation"], json!(false));
        assert!(s.get("roles").is_none());
        let f = full(&t, &[], "http://h");
        assert_eq!(f["roles"], json!([]));
        assert_eq!(
            f["roles_links"]["self"],
            json!("http://h/v3/OS-TRUST/trusts/t1/roles")
        );
    }
}
