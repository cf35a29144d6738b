//! OS-TRUST: `/v3/OS-TRUST/trusts` — delegation of roles on a project from a trustor to a
//! trustee, optionally impersonating, limited in time and uses, redelegable.

use std::sync::Arc;

use api::openapi::Routes;
use api::{BaseUrl, Json};
use auth::Context;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::api::params::Fields;
use crate::api::{Params, St, collection, created, member, no_content, ok};
use crate::clock::parse_iso;
use crate::model::{Role, merge, new_id};
use crate::revoke::RevokeEvent;
use crate::service::roles::On;
use crate::store::trust::{self as st, Trust};
use crate::{Error, Identity, Result, store};

/// keystone's `[trust] max_redelegation_count`.
const MAX_REDELEGATION: i64 = 3;

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
    "links",
    "roles_links",
];

fn target(t: &Trust) -> Value {
    json!({"target": {"trust": {"id": t.id, "trustor_user_id": t.trustor_user_id, "trustee_user_id": t.trustee_user_id}}})
}

fn time_of(us: i64) -> String {
    crate::clock::iso_micros(us) + "Z"
}

impl Identity {
    async fn render_trust(&self, t: &Trust, base: &str) -> Result<Value> {
        let roles = store::assignment::roles_by_ids(&self.db, &t.role_ids).await?;
        let v = json!({
            "id": t.id,
            "trustor_user_id": t.trustor_user_id,
            "trustee_user_id": t.trustee_user_id,
            "project_id": t.project_id,
            "impersonation": t.impersonation,
            "expires_at": t.expires_at.map(time_of),
            "remaining_uses": t.remaining_uses,
            "redelegated_trust_id": t.redelegated_trust_id,
            "redelegation_count": t.redelegation_count.unwrap_or(0),
            "allow_redelegation": t.redelegation_count.unwrap_or(0) > 0,
            "roles": roles.iter().map(|r| r.to_json(base)).collect::<Vec<_>>(),
            "roles_links": {"self": format!("{base}/v3/OS-TRUST/trusts/{}/roles", t.id), "previous": null, "next": null},
            "links": {"self": format!("{base}/v3/OS-TRUST/trusts/{}", t.id)},
        });
        Ok(merge(v, &t.extra))
    }

    async fn trust(&self, tid: &str) -> Result<Trust> {
        st::get(&self.db, tid)
            .await?
            .ok_or_else(|| Error::not_found("trust", tid))
    }

    /// Resolve `[{"id": …} | {"name": …}]` to roles.
    async fn trust_roles(&self, v: Option<&Value>) -> Result<Vec<Role>> {
        let Some(v) = v else { return Ok(Vec::new()) };
        let items = v
            .as_array()
            .ok_or_else(|| Error::bad("Invalid input for field 'roles': it must be a list."))?;
        let mut out: Vec<Role> = Vec::with_capacity(items.len());
        for r in items {
            let role = if let Some(id) = r.get("id").and_then(Value::as_str) {
                self.role(id).await?
            } else if let Some(name) = r.get("name").and_then(Value::as_str) {
                store::assignment::get_role_by_name(&self.db, name, None)
                    .await?
                    .ok_or_else(|| Error::not_found("role", name))?
            } else {
                return Err(Error::bad(
                    "Invalid input for field 'roles': each role needs an id or a name.",
                ));
            };
            if !out.iter().any(|x| x.id == role.id) {
                out.push(role);
            }
        }
        Ok(out)
    }

    pub async fn create_trust(
        &self,
        ctx: &Context,
        m: &serde_json::Map<String, Value>,
    ) -> Result<Trust> {
        let trustor = m.name("trustor_user_id", 64)?;
        let trustee = m.name("trustee_user_id", 64)?;
        let impersonation = m.opt_bool("impersonation")?.ok_or_else(|| {
            Error::bad(
                "Invalid input for field 'impersonation': 'impersonation' is a required property",
            )
        })?;
        self.user(&trustee).await?;
        let project_id = m.opt_string("project_id")?;
        let expires_at = match m.get("expires_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(parse_iso(s).ok_or_else(|| {
                Error::bad(format!(
                    "Invalid input for field 'expires_at': {s:?} is not a valid time."
                ))
            })?),
            Some(_) => {
                return Err(Error::bad(
                    "Invalid input for field 'expires_at': it must be a string.",
                ));
            }
        };
        if expires_at.is_some_and(|e| e <= self.now_micros()) {
            return Err(Error::bad(
                "Invalid input for field 'expires_at': the expiry is in the past.",
            ));
        }
        let remaining_uses = match m.get("remaining_uses") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_i64() {
                Some(n) if n > 0 => Some(n),
                _ => {
                    return Err(Error::bad(
                        "Invalid input for field 'remaining_uses': a positive integer or null is required.",
                    ));
                }
            },
        };
        let roles = self.trust_roles(m.get("roles")).await?;
        let allow_redelegation = m.opt_bool("allow_redelegation")?.unwrap_or(false);
        let requested_count = match m.get("redelegation_count") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
                Error::bad("Invalid input for field 'redelegation_count': a non-negative integer is required.")
            })?),
        };
        let mut t = Trust {
            id: new_id(),
            trustor_user_id: trustor.clone(),
            trustee_user_id: trustee,
            project_id: project_id.clone(),
            impersonation,
            expires_at,
            remaining_uses,
            redelegated_trust_id: None,
            redelegation_count: if allow_redelegation {
                Some(
                    requested_count
                        .unwrap_or(MAX_REDELEGATION)
                        .min(MAX_REDELEGATION),
                )
            } else {
                None
            },
            deleted_at: None,
            extra: m.extras(KNOWN),
            role_ids: roles.iter().map(|r| r.id.clone()).collect(),
        };

        if let Some(parent_id) = &ctx.user.trust_id {
            // Redelegation from a trust-scoped token.
            let parent = self.trust(parent_id).await?;
            let left = parent.redelegation_count.unwrap_or(0);
            if left <= 0 {
                return Err(Error::ForbiddenMsg(
                    "Redelegation is not allowed for this trust.".into(),
                ));
            }
            if t.role_ids.iter().any(|r| !parent.role_ids.contains(r)) {
                return Err(Error::ForbiddenMsg(
                    "Some of the requested roles are not in the redelegated trust.".into(),
                ));
            }
            if t.impersonation && !parent.impersonation {
                return Err(Error::ForbiddenMsg(
                    "Impersonation is not allowed by the redelegated trust.".into(),
                ));
            }
            if let Some(pe) = parent.expires_at {
                match t.expires_at {
                    Some(e) if e > pe => {
                        return Err(Error::ForbiddenMsg(
                            "The requested expiration time is later than the redelegated trust's."
                                .into(),
                        ));
                    }
                    None => t.expires_at = Some(pe),
                    _ => {}
                }
            }
            if t.project_id != parent.project_id {
                return Err(Error::ForbiddenMsg(
                    "A redelegated trust must keep the project.".into(),
                ));
            }
            t.redelegated_trust_id = Some(parent.id.clone());
            t.redelegation_count = if allow_redelegation {
                Some(left - 1)
            } else {
                None
            };
        } else if let Some(pid) = &project_id {
            let project = self.project(pid).await?;
            if t.role_ids.is_empty() {
                return Err(Error::bad(
                    "At least one role should be specified for a trust on a project.",
                ));
            }
            let held: Vec<String> = self
                .effective_roles(&trustor, On::Project(&project))
                .await?
                .into_iter()
                .map(|r| r.id)
                .collect();
            if let Some(r) = roles.iter().find(|r| !held.contains(&r.id)) {
                return Err(Error::ForbiddenMsg(format!(
                    "The trustor does not hold role {} on project {pid}.",
                    r.id
                )));
            }
        } else if !t.role_ids.is_empty() {
            return Err(Error::bad("Roles can only be delegated on a project."));
        }
        st::insert(&self.db, &t).await?;
        self.changed().await;
        Ok(t)
    }
}

/// `POST /v3/OS-TRUST/trusts`
pub async fn create(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "trust")?;
    let t = json!({"target": {"trust": {"trustor_user_id": m.get("trustor_user_id")}}});
    id.enforce(&ctx, "identity:create_trust", &t)?;
    let tr = id.create_trust(&ctx, m).await?;
    Ok(created(
        json!({"trust": id.render_trust(&tr, &base).await?}),
    ))
}

/// `GET /v3/OS-TRUST/trusts`
pub async fn list(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    q: Params,
) -> Result<Response> {
    let trustor = q.get("trustor_user_id");
    let trustee = q.get("trustee_user_id");
    if let Some(t) = trustor {
        id.enforce(
            &ctx,
            "identity:list_trusts_for_trustor",
            &json!({"target": {"trust": {"trustor_user_id": t}}}),
        )?;
    }
    if let Some(t) = trustee {
        id.enforce(
            &ctx,
            "identity:list_trusts_for_trustee",
            &json!({"target": {"trust": {"trustee_user_id": t}}}),
        )?;
    }
    if trustor.is_none() && trustee.is_none() {
        id.enforce(&ctx, "identity:list_trusts", &json!({}))?;
    }
    let now = id.now_micros();
    let mut items = Vec::new();
    for t in st::list(&id.db, trustor, trustee).await? {
        if t.expires_at.is_some_and(|e| e <= now) {
            continue;
        }
        items.push(id.render_trust(&t, &base).await?);
    }
    Ok(collection(
        &id,
        "trusts",
        items,
        format!("{base}/v3/OS-TRUST/trusts"),
    ))
}

/// The trust, 404 when unknown or expired, then the policy check (keystone's order).
async fn visible(id: &Identity, ctx: &Context, tid: &str, action: &str) -> Result<Trust> {
    let t = id.trust(tid).await?;
    id.enforce(ctx, action, &target(&t))?;
    if t.expires_at.is_some_and(|e| e <= id.now_micros()) {
        return Err(Error::not_found("trust", tid));
    }
    Ok(t)
}

/// `GET /v3/OS-TRUST/trusts/{id}`
pub async fn show(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(tid): Path<String>,
) -> Result<Response> {
    let t = visible(&id, &ctx, &tid, "identity:get_trust").await?;
    Ok(ok(json!({"trust": id.render_trust(&t, &base).await?})))
}

/// `DELETE /v3/OS-TRUST/trusts/{id}`: its tokens, and trusts redelegated from it, go too.
pub async fn delete(State(id): St, ctx: Context, Path(tid): Path<String>) -> Result<Response> {
    let t = id.trust(&tid).await?;
    let tv = target(&t);
    id.enforce(&ctx, "identity:delete_trust", &tv)?;
    let mut doomed = vec![t.id.clone()];
    let mut i = 0;
    while i < doomed.len() {
        for child in st::list(&id.db, None, None).await? {
            if child.redelegated_trust_id.as_deref() == Some(doomed[i].as_str())
                && !doomed.contains(&child.id)
            {
                doomed.push(child.id);
            }
        }
        i += 1;
    }
    let now = id.now();
    for d in &doomed {
        st::delete(&id.db, d, id.now_micros()).await?;
        let mut ev = RevokeEvent::new(now);
        ev.trust_id = Some(d.clone());
        id.revocations.add(&id.db, ev).await?;
    }
    id.changed().await;
    Ok(no_content())
}

/// `GET /v3/OS-TRUST/trusts/{id}/roles`
pub async fn roles(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path(tid): Path<String>,
) -> Result<Response> {
    let t = visible(&id, &ctx, &tid, "identity:list_roles_for_trust").await?;
    let rs = store::assignment::roles_by_ids(&id.db, &t.role_ids).await?;
    let items = rs.iter().map(|r| r.to_json(&base)).collect();
    Ok(collection(
        &id,
        "roles",
        items,
        format!("{base}/v3/OS-TRUST/trusts/{tid}/roles"),
    ))
}

/// `GET|HEAD /v3/OS-TRUST/trusts/{id}/roles/{role_id}`
pub async fn role(
    State(id): St,
    ctx: Context,
    BaseUrl(base): BaseUrl,
    Path((tid, rid)): Path<(String, String)>,
) -> Result<Response> {
    let t = visible(&id, &ctx, &tid, "identity:get_role_for_trust").await?;
    if !t.role_ids.contains(&rid) {
        return Err(Error::NotFoundMsg(format!(
            "Role {rid} is not delegated by trust {tid}."
        )));
    }
    let r = id.role(&rid).await?;
    Ok(ok(json!({"role": r.to_json(&base)})))
}

pub fn routes() -> Routes<Arc<Identity>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v3/OS-TRUST/trusts",
        get(list, "GET /v3/OS-TRUST/trusts"),
        post(create, "POST /v3/OS-TRUST/trusts")
    );
    let r = api::route!(
        r,
        "/v3/OS-TRUST/trusts/{trust_id}",
        get(show, "GET /v3/OS-TRUST/trusts/{id}"),
        delete(
            delete,
            "DELETE /v3/OS-TRUST/trusts/{id}: its tokens, and trusts redelegated from it, go too"
        )
    );
    let r = api::route!(
        r,
        "/v3/OS-TRUST/trusts/{trust_id}/roles",
        get(roles, "GET /v3/OS-TRUST/trusts/{id}/roles")
    );
    let r = api::route!(
        r,
        "/v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}",
        get(role, "GET|HEAD /v3/OS-TRUST/trusts/{id}/roles/{role_id}"),
        head(role, "GET|HEAD /v3/OS-TRUST/trusts/{id}/roles/{role_id}")
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_times_render_with_microseconds_and_z() {
        assert_eq!(time_of(1_500_000), "1970-01-01T00:00:01.500000Z");
    }
}
