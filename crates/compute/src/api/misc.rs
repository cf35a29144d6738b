//! Limits, quota sets, availability zones, hypervisors, services, server groups,
//! simple tenant usage and migrations.

use std::sync::Arc;

use api::microversion::Version;
use api::openapi::Routes;
use api::query::Params;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::St;
use crate::model::{ServerGroup, iso, iso_micro};
use crate::quota::{self, DEFAULTS, LEGACY};
use crate::scheduler::COMPUTE_BINARY;
use crate::store::{instances, misc};
use crate::{ComputeService, Error, Result};

fn bad(m: impl Into<String>) -> Error {
    Error::BadRequest(m.into())
}

/// Resources shown at a microversion (network quotas gone since 2.36, injected files
/// since 2.57).
fn shown(v: Version, res: &str) -> bool {
    if LEGACY.contains(&res) {
        return !v.at_least(2, 36);
    }
    if res.starts_with("injected_file") {
        return !v.at_least(2, 57);
    }
    true
}

pub async fn limits(State(svc): St, ctx: Context, v: Version, p: Params) -> Result<Response> {
    let project = match p.get("tenant_id") {
        Some(t) if svc.is_admin(&ctx) => t.to_string(),
        _ => ctx.user.project_id().unwrap_or_default().to_string(),
    };
    svc.enforce(
        &ctx,
        "os_compute_api:limits",
        &json!({"project_id": project}),
    )?;
    let l = svc.quota_limits(&project, None).await?;
    let u = svc.quota_usage(&project, &ctx.user.user_id).await?;
    let g = |k: &str| quota::get(&l, k).unwrap_or(-1);
    let used = |k: &str| quota::get(&u, k).unwrap_or(0);
    let mut abs = json!({
        "maxTotalInstances": g("instances"), "maxTotalCores": g("cores"), "maxTotalRAMSize": g("ram"),
        "maxServerMeta": g("metadata_items"), "maxTotalKeypairs": g("key_pairs"),
        "maxServerGroups": g("server_groups"), "maxServerGroupMembers": g("server_group_members"),
        "totalInstancesUsed": used("instances"), "totalCoresUsed": used("cores"), "totalRAMUsed": used("ram"),
        "totalServerGroupsUsed": used("server_groups"),
    });
    if !v.at_least(2, 36) {
        for (k, val) in [
            ("maxSecurityGroups", -1),
            ("maxSecurityGroupRules", -1),
            ("maxTotalFloatingIps", -1),
            ("totalSecurityGroupsUsed", 0),
            ("totalFloatingIpsUsed", 0),
        ] {
            abs[k] = json!(val);
        }
    }
    if !v.at_least(2, 39) {
        abs["maxImageMeta"] = json!(g("metadata_items"));
    }
    if !v.at_least(2, 57) {
        abs["maxPersonality"] = json!(g("injected_files"));
        abs["maxPersonalitySize"] = json!(g("injected_file_content_bytes"));
    }
    Ok(axum::Json(json!({"limits": {"rate": [], "absolute": abs}})).into_response())
}

fn quota_body(
    id: &str,
    limits: &[(String, i64)],
    v: Version,
    usage: Option<&[(String, i64)]>,
) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    for (k, l) in limits {
        if !shown(v, k) {
            continue;
        }
        match usage {
            Some(u) => {
                m.insert(
                    k.clone(),
                    json!({"limit": l, "in_use": quota::get(u, k).unwrap_or(0), "reserved": 0}),
                );
            }
            None => {
                m.insert(k.clone(), json!(l));
            }
        }
    }
    if !v.at_least(2, 36) {
        for k in LEGACY {
            m.entry((*k).to_string()).or_insert(if usage.is_some() {
                json!({"limit": -1, "in_use": 0, "reserved": 0})
            } else {
                json!(-1)
            });
        }
    }
    Value::Object(m)
}

pub async fn show_quota(
    State(svc): St,
    ctx: Context,
    v: Version,
    p: Params,
    Path(project): Path<String>,
) -> Result<Response> {
    let user = p.get("user_id");
    svc.enforce(
        &ctx,
        "os_compute_api:os-quota-sets:show",
        &json!({"project_id": project}),
    )?;
    let l = svc.quota_limits(&project, user).await?;
    Ok(axum::Json(json!({"quota_set": quota_body(&project, &l, v, None)})).into_response())
}

pub async fn quota_detail(
    State(svc): St,
    ctx: Context,
    v: Version,
    p: Params,
    Path(project): Path<String>,
) -> Result<Response> {
    let user = p.get("user_id");
    svc.enforce(
        &ctx,
        "os_compute_api:os-quota-sets:detail",
        &json!({"project_id": project}),
    )?;
    let l = svc.quota_limits(&project, user).await?;
    let u = svc
        .quota_usage(&project, user.unwrap_or(&ctx.user.user_id))
        .await?;
    Ok(axum::Json(json!({"quota_set": quota_body(&project, &l, v, Some(&u))})).into_response())
}

pub async fn quota_defaults(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(project): Path<String>,
) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-quota-sets:defaults", &json!({}))?;
    let l = svc.quota_class_limits("default").await?;
    Ok(axum::Json(json!({"quota_set": quota_body(&project, &l, v, None)})).into_response())
}

pub async fn update_quota(
    State(svc): St,
    ctx: Context,
    v: Version,
    p: Params,
    Path(project): Path<String>,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    svc.enforce(
        &ctx,
        "os_compute_api:os-quota-sets:update",
        &json!({"project_id": project}),
    )?;
    let user = p.get("user_id").unwrap_or("");
    let q = body
        .get("quota_set")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute quota_set. 'quota_set' is a required property")
        })?;
    let force = q
        .get("force")
        .map(|f| {
            f.as_bool()
                .unwrap_or_else(|| f.as_str().is_some_and(api::query::truthy))
        })
        .unwrap_or(false);
    let usage = svc
        .quota_usage(
            &project,
            if user.is_empty() {
                &ctx.user.user_id
            } else {
                user
            },
        )
        .await?;
    let mut updates = Vec::new();
    for (k, val) in q {
        if k == "force" {
            continue;
        }
        if !quota::known(k) || !shown(v, k) {
            return Err(bad(format!(
                "Invalid input for field/attribute quota_set. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        let n = val.as_i64().or_else(|| val.as_str().and_then(|s| s.parse().ok())).ok_or_else(|| bad(format!("Invalid input for field/attribute {k}. Value: {val}. {val} is not of type 'integer'")))?;
        if n < -1 {
            return Err(bad(format!(
                "Invalid input for field/attribute {k}. Value: {n}. {n} is less than the minimum of -1"
            )));
        }
        let used = quota::get(&usage, k).unwrap_or(0);
        if !force && n >= 0 && n < used {
            return Err(bad(format!(
                "Quota limit {n} for {k} must be greater than or equal to already used and reserved {used}."
            )));
        }
        updates.push((k.clone(), n));
    }
    for (k, n) in updates {
        misc::set_quota(&svc.db, &project, user, &k, n).await?;
    }
    let l = svc
        .quota_limits(&project, (!user.is_empty()).then_some(user))
        .await?;
    let mut body = quota_body(&project, &l, v, None);
    if let Some(m) = body.as_object_mut() {
        m.remove("id");
    }
    Ok(axum::Json(json!({"quota_set": body})).into_response())
}

pub async fn delete_quota(
    State(svc): St,
    ctx: Context,
    p: Params,
    Path(project): Path<String>,
) -> Result<StatusCode> {
    svc.enforce(
        &ctx,
        "os_compute_api:os-quota-sets:delete",
        &json!({"project_id": project}),
    )?;
    misc::delete_quotas(&svc.db, &project, p.get("user_id")).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn show_quota_class(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(class): Path<String>,
) -> Result<Response> {
    svc.enforce(
        &ctx,
        "os_compute_api:os-quota-class-sets:show",
        &json!({"quota_class": class}),
    )?;
    let l = svc.quota_class_limits(&class).await?;
    Ok(axum::Json(json!({"quota_class_set": quota_body(&class, &l, v, None)})).into_response())
}

pub async fn update_quota_class(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(class): Path<String>,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    svc.enforce(
        &ctx,
        "os_compute_api:os-quota-class-sets:update",
        &json!({}),
    )?;
    let q = body.get("quota_class_set").and_then(Value::as_object).ok_or_else(|| bad("Invalid input for field/attribute quota_class_set. 'quota_class_set' is a required property"))?;
    let mut updates = Vec::new();
    for (k, val) in q {
        if !quota::known(k) || !shown(v, k) {
            return Err(bad(format!(
                "Invalid input for field/attribute quota_class_set. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        let n = val.as_i64().ok_or_else(|| bad(format!("Invalid input for field/attribute {k}. Value: {val}. {val} is not of type 'integer'")))?;
        if n < -1 {
            return Err(bad(format!(
                "Invalid input for field/attribute {k}. Value: {n}. {n} is less than the minimum of -1"
            )));
        }
        updates.push((k.clone(), n));
    }
    for (k, n) in updates {
        misc::set_quota_class(&svc.db, &class, &k, n).await?;
    }
    let l = svc.quota_class_limits(&class).await?;
    let mut body = quota_body(&class, &l, v, None);
    if let Some(m) = body.as_object_mut() {
        m.remove("id");
    }
    Ok(axum::Json(json!({"quota_class_set": body})).into_response())
}

// ---- availability zones ---------------------------------------------------------------

pub async fn zones(State(svc): St, ctx: Context) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-availability-zone:list", &json!({}))?;
    let mut names: Vec<String> = misc::services(&svc.db)
        .await?
        .into_iter()
        .filter(|s| s.binary == COMPUTE_BINARY && !s.disabled)
        .map(|s| s.zone)
        .collect();
    names.sort();
    names.dedup();
    let list: Vec<Value> = names
        .iter()
        .map(|z| json!({"zoneName": z, "zoneState": {"available": true}, "hosts": null}))
        .collect();
    Ok(axum::Json(json!({"availabilityZoneInfo": list})).into_response())
}

pub async fn zones_detail(State(svc): St, ctx: Context) -> Result<Response> {
    svc.enforce(
        &ctx,
        "os_compute_api:os-availability-zone:detail",
        &json!({}),
    )?;
    let services = misc::services(&svc.db).await?;
    let mut zones: Map<String, Value> = Map::new();
    for s in &services {
        let zone = if s.binary == COMPUTE_BINARY {
            s.zone.clone()
        } else {
            "internal".into()
        };
        let e = zones.entry(zone).or_insert_with(|| json!({}));
        e[&s.host][&s.binary] = json!({"available": !s.disabled && svc.service_is_up(s), "active": !s.disabled, "updated_at": iso_micro(s.updated_at)});
    }
    let list: Vec<Value> = zones
        .into_iter()
        .map(|(z, hosts)| json!({"zoneName": z, "zoneState": {"available": true}, "hosts": hosts}))
        .collect();
    Ok(axum::Json(json!({"availabilityZoneInfo": list})).into_response())
}

// ---- services --------------------------------------------------------------------------

fn service_json(svc: &ComputeService, s: &crate::model::Service, v: Version) -> Value {
    let mut o = json!({
        "id": if v.at_least(2, 53) { json!(s.uuid) } else { json!(s.id) },
        "binary": s.binary, "host": s.host, "zone": s.zone,
        "status": if s.disabled { "disabled" } else { "enabled" },
        "state": if svc.service_is_up(s) { "up" } else { "down" },
        "updated_at": iso_micro(s.last_seen_up.unwrap_or(s.updated_at)),
        "disabled_reason": s.disabled_reason,
    });
    if v.at_least(2, 11) {
        o["forced_down"] = json!(s.forced_down);
    }
    o
}

pub async fn services(State(svc): St, ctx: Context, v: Version, p: Params) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-services:list", &json!({}))?;
    let list: Vec<Value> = misc::services(&svc.db)
        .await?
        .iter()
        .filter(|s| p.get("host").is_none_or(|h| h == s.host))
        .filter(|s| p.get("binary").is_none_or(|b| b == s.binary))
        .map(|s| service_json(&svc, s, v))
        .collect();
    Ok(axum::Json(json!({"services": list})).into_response())
}

/// `PUT /os-services/{id}` (2.53): status / disabled_reason / forced_down.
pub async fn update_service(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    svc.enforce(&ctx, "os_compute_api:os-services:update", &json!({}))?;
    if !v.at_least(2, 53) {
        return legacy_service_action(&svc, v, &id, &body).await;
    }
    let s = misc::service_by_id(&svc.db, &id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Service {id} not found.")))?;
    let status = body.get("status").and_then(Value::as_str);
    let reason = body.get("disabled_reason").and_then(Value::as_str);
    let forced = body.get("forced_down").and_then(Value::as_bool);
    if status.is_none() && forced.is_none() {
        return Err(bad(
            "No updates were requested. Fields 'status' or 'forced_down' should be specified.",
        ));
    }
    if reason.is_some() && status != Some("disabled") {
        return Err(bad(
            "Specifying 'disabled_reason' with status 'enabled' is invalid.",
        ));
    }
    let disabled = match status {
        Some("enabled") => Some((false, None)),
        Some("disabled") => Some((true, reason)),
        Some(o) => {
            return Err(bad(format!(
                "Invalid input for field/attribute status. Value: {o}."
            )));
        }
        None => None,
    };
    misc::set_service_state(&svc.db, s.id, disabled, forced, svc.now()).await?;
    let s = misc::service_by_id(&svc.db, &id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Service {id} not found.")))?;
    Ok(axum::Json(json!({"service": service_json(&svc, &s, v)})).into_response())
}

/// Before 2.53: `PUT /os-services/{enable|disable|disable-log-reason|force-down}` with
/// the host and binary in the body.
async fn legacy_service_action(
    svc: &ComputeService,
    v: Version,
    action: &str,
    body: &Value,
) -> Result<Response> {
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|x| !x.is_empty())
            .ok_or_else(|| {
                bad(format!(
                    "Invalid input for field/attribute {k}. '{k}' is a required property"
                ))
            })
    };
    let known = ["enable", "disable", "disable-log-reason"];
    if !(known.contains(&action) || action == "force-down" && v.at_least(2, 11)) {
        return Err(Error::NotFound("Unknown action".into()));
    }
    let host = field("host")?;
    let binary = field("binary")?;
    let s = misc::service(&svc.db, host, binary).await?.ok_or_else(|| {
        Error::NotFound(format!(
            "Service {binary} on host {host} could not be found."
        ))
    })?;
    let now = svc.now();
    let out = match action {
        "enable" => {
            misc::set_service_state(&svc.db, s.id, Some((false, None)), None, now).await?;
            json!({"host": host, "binary": binary, "status": "enabled"})
        }
        "disable" => {
            misc::set_service_state(&svc.db, s.id, Some((true, None)), None, now).await?;
            json!({"host": host, "binary": binary, "status": "disabled"})
        }
        "disable-log-reason" => {
            let reason = field("disabled_reason")?;
            if reason.len() > 255 {
                return Err(bad(
                    "Invalid input for field/attribute disabled_reason. Value is too long",
                ));
            }
            misc::set_service_state(&svc.db, s.id, Some((true, Some(reason))), None, now).await?;
            json!({"host": host, "binary": binary, "status": "disabled", "disabled_reason": reason})
        }
        _ => {
            let forced = body
                .get("forced_down")
                .and_then(Value::as_bool)
                .ok_or_else(|| {
                    bad("Invalid input for field/attribute forced_down. 'forced_down' is a required property")
                })?;
            misc::set_service_state(&svc.db, s.id, None, Some(forced), now).await?;
            json!({"host": host, "binary": binary, "forced_down": forced})
        }
    };
    Ok(axum::Json(json!({"service": out})).into_response())
}

pub async fn delete_service(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    svc.enforce(&ctx, "os_compute_api:os-services:delete", &json!({}))?;
    let s = misc::service_by_id(&svc.db, &id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Service {id} not found.")))?;
    if s.binary == COMPUTE_BINARY && !instances::on_host(&svc.db, &s.host).await?.is_empty() {
        return Err(Error::Conflict("Unable to delete compute service that is hosting instances. Migrate or delete the instances first.".to_string()));
    }
    if s.binary == COMPUTE_BINARY
        && let Some(n) = misc::node_by_name(&svc.db, &s.host).await?
    {
        let _ = svc.placement.delete_provider(&n.uuid).await;
    }
    misc::delete_service(&svc.db, s.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- hypervisors -----------------------------------------------------------------------

async fn hypervisor_json(
    svc: &ComputeService,
    n: &crate::model::ComputeNode,
    v: Version,
    detail: bool,
) -> Result<Value> {
    let s = misc::service(&svc.db, &n.host, COMPUTE_BINARY).await?;
    let mut o = json!({
        "id": if v.at_least(2, 53) { json!(n.uuid) } else { json!(n.id) },
        "hypervisor_hostname": n.hypervisor_hostname,
        "state": if s.as_ref().is_some_and(|s| svc.service_is_up(s)) { "up" } else { "down" },
        "status": if s.as_ref().is_some_and(|s| s.disabled) { "disabled" } else { "enabled" },
    });
    if !detail {
        return Ok(o);
    }
    o["hypervisor_type"] = json!(n.hypervisor_type);
    o["hypervisor_version"] = json!(n.hypervisor_version);
    o["host_ip"] = json!(n.host_ip);
    o["service"] = json!({
        "host": n.host,
        "id": s.as_ref().map(|s| if v.at_least(2, 53) { json!(s.uuid) } else { json!(s.id) }),
        "disabled_reason": s.as_ref().and_then(|s| s.disabled_reason.clone()),
    });
    if !v.at_least(2, 88) {
        let insts = instances::on_host(&svc.db, &n.host).await?;
        let used_vcpus: i64 = insts.iter().map(|i| i.flavor.vcpus).sum();
        let used_ram: i64 = insts.iter().map(|i| i.flavor.ram).sum::<i64>() + 512;
        let used_disk: i64 = insts
            .iter()
            .map(|i| i.flavor.disk + i.flavor.ephemeral)
            .sum();
        o["vcpus"] = json!(n.vcpus);
        o["memory_mb"] = json!(n.memory_mb);
        o["local_gb"] = json!(n.local_gb);
        o["vcpus_used"] = json!(used_vcpus);
        o["memory_mb_used"] = json!(used_ram);
        o["local_gb_used"] = json!(used_disk);
        o["free_ram_mb"] = json!(n.memory_mb - used_ram);
        o["free_disk_gb"] = json!(n.local_gb - used_disk);
        o["current_workload"] = json!(0);
        o["running_vms"] = json!(insts.len());
        o["disk_available_least"] = json!(n.local_gb - used_disk);
        o["cpu_info"] = if v.at_least(2, 28) {
            n.cpu_info.clone()
        } else {
            json!(n.cpu_info.to_string())
        };
    }
    if v.at_least(2, 88) {
        o["uptime"] = Value::Null;
    }
    Ok(o)
}

async fn hypervisors_common(
    svc: &ComputeService,
    ctx: &Context,
    v: Version,
    p: &Params,
    detail: bool,
) -> Result<Response> {
    svc.enforce(
        ctx,
        if detail {
            "os_compute_api:os-hypervisors:list-detail"
        } else {
            "os_compute_api:os-hypervisors:list"
        },
        &json!({}),
    )?;
    let mut out = Vec::new();
    for n in misc::nodes(&svc.db).await? {
        if let Some(pat) = p.get("hypervisor_hostname_pattern")
            && !n.hypervisor_hostname.contains(pat)
        {
            continue;
        }
        let mut o = hypervisor_json(svc, &n, v, detail).await?;
        if v.at_least(2, 53) && p.get("with_servers").is_some_and(api::query::truthy) {
            let servers: Vec<Value> = instances::on_host(&svc.db, &n.host)
                .await?
                .iter()
                .map(|i| json!({"uuid": i.uuid, "name": i.instance_name()}))
                .collect();
            o["servers"] = json!(servers);
        }
        out.push(o);
    }
    if p.get("hypervisor_hostname_pattern").is_some() && out.is_empty() {
        return Err(Error::NotFound(
            "No hypervisor matching the pattern was found.".into(),
        ));
    }
    Ok(axum::Json(json!({"hypervisors": out})).into_response())
}

pub async fn hypervisors(State(svc): St, ctx: Context, v: Version, p: Params) -> Result<Response> {
    hypervisors_common(&svc, &ctx, v, &p, false).await
}

pub async fn hypervisors_detail(
    State(svc): St,
    ctx: Context,
    v: Version,
    p: Params,
) -> Result<Response> {
    hypervisors_common(&svc, &ctx, v, &p, true).await
}

pub async fn hypervisor(
    State(svc): St,
    ctx: Context,
    v: Version,
    p: Params,
    Path(id): Path<String>,
) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-hypervisors:show", &json!({}))?;
    let n = find_node(&svc, &id).await?;
    let mut o = hypervisor_json(&svc, &n, v, true).await?;
    if v.at_least(2, 88) {
        o["uptime"] = json!(host_uptime(&svc, &n.host).await);
    }
    if v.at_least(2, 53) && p.get("with_servers").is_some_and(api::query::truthy) {
        let servers: Vec<Value> = instances::on_host(&svc.db, &n.host)
            .await?
            .iter()
            .map(|i| json!({"uuid": i.uuid, "name": i.instance_name()}))
            .collect();
        o["servers"] = json!(servers);
    }
    Ok(axum::Json(json!({"hypervisor": o})).into_response())
}

/// The host's `uptime` line, asked from its agent (None when it does not answer).
async fn host_uptime(svc: &ComputeService, host: &str) -> Option<String> {
    svc.rpc
        .call_agent(
            host,
            "uptime",
            json!({}),
            Some(std::time::Duration::from_secs(5)),
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
}

/// `GET /os-hypervisors/{id}/uptime` (before 2.88; since then `uptime` is in show).
pub async fn hypervisor_uptime(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-hypervisors:uptime", &json!({}))?;
    super::removed_at(v, 2, 88)?;
    let n = find_node(&svc, &id).await?;
    let mut o = hypervisor_json(&svc, &n, v, false).await?;
    o["uptime"] = json!(host_uptime(&svc, &n.host).await);
    Ok(axum::Json(json!({"hypervisor": o})).into_response())
}

async fn find_node(svc: &ComputeService, id: &str) -> Result<crate::model::ComputeNode> {
    misc::nodes(&svc.db)
        .await?
        .into_iter()
        .find(|n| n.uuid == id || n.id.to_string() == id)
        .ok_or_else(|| Error::NotFound(format!("Hypervisor with ID '{id}' could not be found.")))
}

pub async fn hypervisor_statistics(State(svc): St, ctx: Context, v: Version) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-hypervisors:statistics", &json!({}))?;
    super::removed_at(v, 2, 88)?;
    let mut t = json!({"count": 0, "vcpus": 0, "memory_mb": 0, "local_gb": 0, "vcpus_used": 0, "memory_mb_used": 0,
                       "local_gb_used": 0, "free_ram_mb": 0, "free_disk_gb": 0, "current_workload": 0,
                       "running_vms": 0, "disk_available_least": 0});
    for n in misc::nodes(&svc.db).await? {
        let h = hypervisor_json(&svc, &n, v, true).await?;
        for k in [
            "vcpus",
            "memory_mb",
            "local_gb",
            "vcpus_used",
            "memory_mb_used",
            "local_gb_used",
            "free_ram_mb",
            "free_disk_gb",
            "running_vms",
            "disk_available_least",
        ] {
            t[k] = json!(t[k].as_i64().unwrap_or(0) + h[k].as_i64().unwrap_or(0));
        }
        t["count"] = json!(t["count"].as_i64().unwrap_or(0) + 1);
    }
    Ok(axum::Json(json!({"hypervisor_statistics": t})).into_response())
}

// ---- server groups ----------------------------------------------------------------------

fn group_json(g: &ServerGroup, v: Version) -> Value {
    let mut o = json!({"id": g.id, "name": g.name, "members": g.members, "metadata": {}});
    if v.at_least(2, 64) {
        o["policy"] = json!(g.policy);
        o["rules"] = Value::Object(g.rules.clone());
        if let Some(m) = o.as_object_mut() {
            m.remove("metadata");
        }
    } else {
        o["policies"] = json!([g.policy]);
    }
    if v.at_least(2, 13) {
        o["project_id"] = json!(g.project_id);
        o["user_id"] = json!(g.user_id);
    }
    o
}

pub async fn create_group(
    State(svc): St,
    ctx: Context,
    v: Version,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    let project = ctx.user.project_id().unwrap_or_default().to_string();
    svc.enforce(
        &ctx,
        "os_compute_api:os-server-groups:create",
        &json!({"project_id": project, "user_id": ctx.user.user_id}),
    )?;
    let o = body.get("server_group").and_then(Value::as_object).ok_or_else(|| bad("Invalid input for field/attribute server_group. 'server_group' is a required property"))?;
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty() && n.len() <= 255)
        .ok_or_else(|| bad("Invalid input for field/attribute name."))?;
    let policy = if v.at_least(2, 64) {
        o.get("policy").and_then(Value::as_str).map(str::to_string)
    } else {
        let p = o.get("policies").and_then(Value::as_array).ok_or_else(|| {
            bad("Invalid input for field/attribute server_group. 'policies' is a required property")
        })?;
        if p.len() != 1 {
            return Err(bad(
                "Invalid input for field/attribute policies. Exactly one policy is required.",
            ));
        }
        p[0].as_str().map(str::to_string)
    }
    .ok_or_else(|| {
        bad("Invalid input for field/attribute server_group. 'policy' is a required property")
    })?;
    let allowed: &[&str] = if v.at_least(2, 15) {
        &[
            "affinity",
            "anti-affinity",
            "soft-affinity",
            "soft-anti-affinity",
        ]
    } else {
        &["affinity", "anti-affinity"]
    };
    if !allowed.contains(&policy.as_str()) {
        return Err(bad(format!(
            "Invalid input for field/attribute policy. Value: {policy}. '{policy}' is not one of {allowed:?}"
        )));
    }
    let rules = match o.get("rules") {
        None => Map::new(),
        Some(Value::Object(r)) if v.at_least(2, 64) => {
            if policy != "anti-affinity" && !r.is_empty() {
                return Err(bad("Only anti-affinity policy supports rules.".to_string()));
            }
            for (k, val) in r {
                if k != "max_server_per_host" || val.as_i64().is_none_or(|n| n < 1) {
                    return Err(bad(format!(
                        "Invalid input for field/attribute rules. '{k}' is not valid."
                    )));
                }
            }
            r.clone()
        }
        Some(_) => return Err(bad("Invalid input for field/attribute rules.")),
    };
    let limit = quota::get(
        &svc.quota_limits(&project, Some(&ctx.user.user_id)).await?,
        "server_groups",
    )
    .unwrap_or(-1);
    if limit >= 0 && misc::count_groups(&svc.db, &project).await? >= limit {
        return Err(Error::OverQuota(
            "Quota exceeded, too many server groups.".into(),
        ));
    }
    let g = ServerGroup {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        policy,
        rules,
        project_id: project,
        user_id: ctx.user.user_id.clone(),
        members: Vec::new(),
        created_at: svc.now(),
    };
    misc::insert_group(&svc.db, &g).await?;
    Ok(axum::Json(json!({"server_group": group_json(&g, v)})).into_response())
}

pub async fn list_groups(State(svc): St, ctx: Context, v: Version, p: Params) -> Result<Response> {
    let project = ctx.user.project_id().unwrap_or_default().to_string();
    svc.enforce(
        &ctx,
        "os_compute_api:os-server-groups:index",
        &json!({"project_id": project}),
    )?;
    let all = p
        .get("all_projects")
        .is_some_and(|x| x.is_empty() || api::query::truthy(x))
        && svc.is_admin(&ctx);
    let limit = p.get("limit").and_then(|l| l.parse().ok()).unwrap_or(1000);
    let offset = p.get("offset").and_then(|l| l.parse().ok()).unwrap_or(0);
    let list: Vec<Value> = misc::groups(&svc.db, (!all).then_some(project.as_str()), offset, limit)
        .await?
        .iter()
        .map(|g| group_json(g, v))
        .collect();
    Ok(axum::Json(json!({"server_groups": list})).into_response())
}

async fn visible_group(
    svc: &ComputeService,
    ctx: &Context,
    id: &str,
    rule: &str,
) -> Result<ServerGroup> {
    let g = misc::group(&svc.db, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Server group {id} could not be found.")))?;
    svc.enforce(
        ctx,
        rule,
        &json!({"project_id": g.project_id, "user_id": g.user_id}),
    )
    .map_err(|_| Error::NotFound(format!("Server group {id} could not be found.")))?;
    Ok(g)
}

pub async fn show_group(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    let g = visible_group(&svc, &ctx, &id, "os_compute_api:os-server-groups:show").await?;
    Ok(axum::Json(json!({"server_group": group_json(&g, v)})).into_response())
}

pub async fn delete_group(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let g = visible_group(&svc, &ctx, &id, "os_compute_api:os-server-groups:delete").await?;
    misc::delete_group(&svc.db, &g.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- simple tenant usage -----------------------------------------------------------------

fn parse_ts(p: &Params, k: &str, default: i64) -> Result<i64> {
    match p.get(k) {
        None => Ok(default),
        Some(s) => {
            chrono::NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
                .map(|n| n.and_utc().timestamp_micros())
                .or_else(|_| {
                    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| {
                        d.and_hms_opt(0, 0, 0)
                            .map(|t| t.and_utc().timestamp_micros())
                            .unwrap_or(0)
                    })
                })
                .map_err(|_| bad(format!("Invalid {k} value: {s}")))
        }
    }
}

async fn usage_for(
    svc: &ComputeService,
    project: Option<&str>,
    start: i64,
    end: i64,
    detailed: bool,
) -> Result<Vec<Value>> {
    let list = instances::in_window(&svc.db, project, start, end).await?;
    let mut by: std::collections::BTreeMap<String, Vec<&crate::model::Instance>> =
        Default::default();
    for i in &list {
        by.entry(i.project_id.clone()).or_default().push(i);
    }
    let now = svc.now();
    let mut out = Vec::new();
    for (p, insts) in by {
        let (mut hours, mut mb, mut vcpu, mut gb) = (0.0, 0.0, 0.0, 0.0);
        let mut details = Vec::new();
        for i in insts {
            let a = i.created_at.max(start);
            let b = i.terminated_at.unwrap_or(now).min(end);
            let h = ((b - a).max(0) as f64) / 3.6e9;
            hours += h;
            mb += h * i.flavor.ram as f64;
            vcpu += h * i.flavor.vcpus as f64;
            gb += h * (i.flavor.disk + i.flavor.ephemeral) as f64;
            if detailed {
                details.push(json!({
                    "instance_id": i.uuid, "name": i.name, "hours": h, "memory_mb": i.flavor.ram,
                    "local_gb": i.flavor.disk + i.flavor.ephemeral, "vcpus": i.flavor.vcpus,
                    "tenant_id": i.project_id, "flavor": i.flavor.name,
                    "started_at": iso_micro(i.created_at), "ended_at": i.terminated_at.map(iso_micro),
                    "state": if i.deleted_at.is_some() { "terminated".to_string() } else { i.vm_state.clone() },
                    "uptime": ((now - i.created_at) / 1_000_000).max(0),
                }));
            }
        }
        let mut o = json!({"tenant_id": p, "total_hours": hours, "total_memory_mb_usage": mb,
            "total_vcpus_usage": vcpu, "total_local_gb_usage": gb,
            "start": iso_micro(start), "stop": iso_micro(end)});
        if detailed {
            o["server_usages"] = json!(details);
        }
        out.push(o);
    }
    Ok(out)
}

pub async fn usage_list(State(svc): St, ctx: Context, p: Params) -> Result<Response> {
    svc.enforce(
        &ctx,
        "os_compute_api:os-simple-tenant-usage:list",
        &json!({}),
    )?;
    let now = svc.now();
    let start = parse_ts(&p, "start", now - 86_400_000_000)?;
    let end = parse_ts(&p, "end", now)?;
    if start > end {
        return Err(bad(
            "Invalid start time. The start time cannot occur after the end time.",
        ));
    }
    let detailed = p
        .get("detailed")
        .is_some_and(|d| d == "1" || api::query::truthy(d));
    Ok(
        axum::Json(json!({"tenant_usages": usage_for(&svc, None, start, end, detailed).await?}))
            .into_response(),
    )
}

pub async fn usage_show(
    State(svc): St,
    ctx: Context,
    p: Params,
    Path(project): Path<String>,
) -> Result<Response> {
    svc.enforce(
        &ctx,
        "os_compute_api:os-simple-tenant-usage:show",
        &json!({"project_id": project}),
    )?;
    let now = svc.now();
    let start = parse_ts(&p, "start", now - 86_400_000_000)?;
    let end = parse_ts(&p, "end", now)?;
    if start > end {
        return Err(bad(
            "Invalid start time. The start time cannot occur after the end time.",
        ));
    }
    let u = usage_for(&svc, Some(&project), start, end, true)
        .await?
        .pop()
        .unwrap_or_else(|| json!({}));
    Ok(axum::Json(json!({"tenant_usage": u})).into_response())
}

// ---- migrations ---------------------------------------------------------------------------

pub async fn migrations(State(svc): St, ctx: Context, v: Version, p: Params) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-migrations:index", &json!({}))?;
    let internal = crate::store::flavors::internal_ids(&svc.db).await?;
    let list: Vec<Value> = misc::migrations(&svc.db, p.get("instance_uuid"))
        .await?
        .iter()
        .filter(|m| p.get("status").is_none_or(|s| s == m.status))
        .filter(|m| {
            p.get("migration_type")
                .is_none_or(|t| t == m.migration_type)
        })
        .map(|m| {
            let mut o = json!({
                "id": m.id, "instance_uuid": m.instance_uuid, "status": m.status,
                "source_compute": m.source_compute, "dest_compute": m.dest_compute,
                "source_node": m.source_node, "dest_node": m.dest_node, "dest_host": m.dest_compute,
                "old_instance_type_id": m.old_flavor_id.as_ref().and_then(|f| internal.get(f)),
                "new_instance_type_id": m.new_flavor_id.as_ref().and_then(|f| internal.get(f)),
                "created_at": iso_micro(m.created_at), "updated_at": iso_micro(m.updated_at),
            });
            if v.at_least(2, 23) {
                o["migration_type"] = json!(m.migration_type);
            }
            if v.at_least(2, 59) {
                o["uuid"] = json!(m.uuid);
            }
            if v.at_least(2, 80) {
                o["project_id"] = json!(m.project_id);
                o["user_id"] = json!(m.user_id);
            }
            o
        })
        .collect();
    let _ = iso;
    let _ = DEFAULTS;
    Ok(axum::Json(json!({"migrations": list})).into_response())
}

/// `GET /os-console-auth-tokens/{token}` (admin): where a console token leads; before
/// 2.31 only for RDP consoles, as nova.
pub async fn console_auth_token(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(token): Path<String>,
) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:os-console-auth-tokens", &json!({}))?;
    let store = crate::consoles::SqlTokenStore { db: svc.db.clone() };
    let t = console_proxy::TokenStore::get(
        &store,
        &console_proxy::hash_token(&token),
        console_proxy::now(),
    )
    .await
    .map_err(Error::Internal)?
    .ok_or_else(|| Error::NotFound(format!("The token '{token}' is invalid or has expired")))?;
    if !v.at_least(2, 31) && t.console_type != "rdp-html5" {
        return Err(Error::BadRequest(
            "The requested console type details are not accessible".into(),
        ));
    }
    Ok(axum::Json(json!({"console": {
        "instance_uuid": t.instance_uuid,
        "host": t.host,
        "port": t.port,
        "internal_access_path": t.internal_access_path,
    }}))
    .into_response())
}

pub fn routes() -> Routes<Arc<ComputeService>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v2.1/os-console-auth-tokens/{console_token}",
        get(console_auth_token, "Show a console connection's details")
    );
    let r = api::route!(
        r,
        "/v2.1/limits",
        get(limits, "Show rate and absolute limits")
    );
    let r = api::route!(
        r,
        "/v2.1/os-quota-sets/{project_id}",
        get(show_quota, "Show a quota"),
        put(update_quota, "Update a quota"),
        delete(delete_quota, "Revert a quota to defaults")
    );
    let r = api::route!(
        r,
        "/v2.1/os-quota-sets/{project_id}/detail",
        get(quota_detail, "Show a quota with usage")
    );
    let r = api::route!(
        r,
        "/v2.1/os-quota-sets/{project_id}/defaults",
        get(quota_defaults, "Show default quotas")
    );
    let r = api::route!(
        r,
        "/v2.1/os-quota-class-sets/{class}",
        get(show_quota_class, "Show a quota class"),
        put(update_quota_class, "Update a quota class")
    );
    let r = api::route!(
        r,
        "/v2.1/os-availability-zone",
        get(zones, "List availability zones")
    );
    let r = api::route!(
        r,
        "/v2.1/os-availability-zone/detail",
        get(zones_detail, "List availability zones with hosts")
    );
    let r = api::route!(
        r,
        "/v2.1/os-services",
        get(services, "List compute services")
    );
    let r = api::route!(
        r,
        "/v2.1/os-services/{service_id}",
        put(update_service, "Update a compute service"),
        delete(delete_service, "Delete a compute service")
    );
    let r = api::route!(
        r,
        "/v2.1/os-hypervisors",
        get(hypervisors, "List hypervisors")
    );
    let r = api::route!(
        r,
        "/v2.1/os-hypervisors/detail",
        get(hypervisors_detail, "List hypervisors with details")
    );
    let r = api::route!(
        r,
        "/v2.1/os-hypervisors/statistics",
        get(hypervisor_statistics, "Hypervisor statistics")
    );
    let r = api::route!(
        r,
        "/v2.1/os-hypervisors/{hypervisor_id}",
        get(hypervisor, "Show a hypervisor")
    );
    let r = api::route!(
        r,
        "/v2.1/os-hypervisors/{hypervisor_id}/uptime",
        get(hypervisor_uptime, "Show a hypervisor's uptime")
    );
    let r = api::route!(
        r,
        "/v2.1/os-server-groups",
        get(list_groups, "List server groups"),
        post(create_group, "Create a server group")
    );
    let r = api::route!(
        r,
        "/v2.1/os-server-groups/{group_id}",
        get(show_group, "Show a server group"),
        delete(delete_group, "Delete a server group")
    );
    let r = api::route!(
        r,
        "/v2.1/os-simple-tenant-usage",
        get(usage_list, "List usage of all projects")
    );
    let r = api::route!(
        r,
        "/v2.1/os-simple-tenant-usage/{project_id}",
        get(usage_show, "Show a project's usage")
    );
    api::route!(r, "/v2.1/os-migrations", get(migrations, "List migrations"))
}
