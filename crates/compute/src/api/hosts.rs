//! `os-hosts` (gone since 2.43) and the pre-2.53 hypervisor search and servers
//! listings.

use std::collections::BTreeMap;
use std::sync::Arc;

use api::microversion::Version;
use api::openapi::Routes;
use api::query::Params;
use auth::Context;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::St;
use crate::scheduler::COMPUTE_BINARY;
use crate::store::{instances, misc};
use crate::{ComputeService, Error, Result};

/// `os-hosts` is gone since 2.43.
fn gone(v: Version) -> Result<()> {
    super::removed_at(v, 2, 43)
}

/// `GET /os-hosts`: every service's host with its topic and zone.
pub async fn list(State(svc): St, ctx: Context, v: Version, p: Params) -> Result<Response> {
    gone(v)?;
    svc.enforce(&ctx, "os_compute_api:os-hosts:list", &json!({}))?;
    let zone = p.get("zone").filter(|z| !z.is_empty());
    let list: Vec<Value> = misc::services(&svc.db)
        .await?
        .iter()
        .filter(|s| zone.is_none_or(|z| z == s.zone))
        .map(|s| json!({"host_name": s.host, "service": s.topic, "zone": s.zone}))
        .collect();
    Ok(axum::Json(json!({"hosts": list})).into_response())
}

async fn compute_host(svc: &ComputeService, host: &str) -> Result<crate::model::Service> {
    misc::service(&svc.db, host, COMPUTE_BINARY)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Compute host {host} could not be found.")))
}

/// `GET /os-hosts/{host}`: capacity, current use and use per project.
pub async fn show(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(host): Path<String>,
) -> Result<Response> {
    gone(v)?;
    svc.enforce(&ctx, "os_compute_api:os-hosts:show", &json!({}))?;
    compute_host(&svc, &host).await?;
    let node = misc::nodes(&svc.db)
        .await?
        .into_iter()
        .find(|n| n.host == host);
    let insts = instances::on_host(&svc.db, &host).await?;
    let row = |project: &str, cpu: i64, mem: i64, disk: i64| {
        json!({"resource": {"host": host, "project": project, "cpu": cpu,
                            "memory_mb": mem, "disk_gb": disk}})
    };
    let mut out = Vec::new();
    if let Some(n) = &node {
        out.push(row("(total)", n.vcpus, n.memory_mb, n.local_gb));
    }
    let mut per: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    for i in &insts {
        let e = per.entry(i.project_id.as_str()).or_default();
        e.0 += i.flavor.vcpus;
        e.1 += i.flavor.ram;
        e.2 += i.flavor.disk + i.flavor.ephemeral;
    }
    let used = per
        .values()
        .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    out.push(row("(used_now)", used.0, used.1, used.2));
    out.push(row("(used_max)", used.0, used.1, used.2));
    for (p, (c, m, d)) in per {
        out.push(row(p, c, m, d));
    }
    Ok(axum::Json(json!({"host": out})).into_response())
}

/// `PUT /os-hosts/{host}`: `status` enable/disable the compute service;
/// `maintenance_mode` is not supported by ferrostack's drivers (501, as nova's
/// libvirt driver answers).
pub async fn update(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(host): Path<String>,
    body: api::Json<Value>,
) -> Result<Response> {
    gone(v)?;
    svc.enforce(&ctx, "os_compute_api:os-hosts:update", &json!({}))?;
    let o = body.0.as_object().cloned().unwrap_or_default();
    if let Some(k) = o
        .keys()
        .find(|k| !matches!(k.as_str(), "status" | "maintenance_mode"))
    {
        return Err(Error::BadRequest(format!(
            "Invalid input for field/attribute request body. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let pick = |k: &str| -> Result<Option<bool>> {
        match o.get(k) {
            None => Ok(None),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("enable") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("disable") => Ok(Some(false)),
            Some(other) => Err(Error::BadRequest(format!(
                "Invalid input for field/attribute {k}. Value: {other}. {other} is not one of ['enable', 'disable']"
            ))),
        }
    };
    let status = pick("status")?;
    let maintenance = pick("maintenance_mode")?;
    if status.is_none() && maintenance.is_none() {
        return Err(Error::BadRequest(
            "'status' or 'maintenance_mode' needed for host update".into(),
        ));
    }
    let s = compute_host(&svc, &host).await?;
    if maintenance.is_some() {
        return Err(Error::NotImplemented(
            "Virt driver does not implement host maintenance mode.".into(),
        ));
    }
    let mut out = json!({"host": host});
    if let Some(enable) = status {
        misc::set_service_state(&svc.db, s.id, Some((!enable, None)), None, svc.now()).await?;
        out["status"] = json!(if enable { "enabled" } else { "disabled" });
    }
    Ok(axum::Json(out).into_response())
}

/// `GET /os-hosts/{host}/{startup|shutdown|reboot}`: host power actions are not
/// something a cloud API should do to a hypervisor here (501, as nova's libvirt).
pub async fn power(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path((host, action)): Path<(String, String)>,
) -> Result<Response> {
    gone(v)?;
    if !matches!(action.as_str(), "startup" | "shutdown" | "reboot") {
        return Err(Error::NotFound("The resource could not be found.".into()));
    }
    // nova's rule for `startup` is `os-hosts:start`
    let rule = if action == "startup" {
        "os_compute_api:os-hosts:start".to_string()
    } else {
        format!("os_compute_api:os-hosts:{action}")
    };
    svc.enforce(&ctx, &rule, &json!({}))?;
    compute_host(&svc, &host).await?;
    Err(Error::NotImplemented(
        "Virt driver does not implement host power management.".into(),
    ))
}

async fn matching(svc: &ComputeService, pattern: &str) -> Result<Vec<crate::model::ComputeNode>> {
    let nodes: Vec<_> = misc::nodes(&svc.db)
        .await?
        .into_iter()
        .filter(|n| n.hypervisor_hostname.contains(pattern))
        .collect();
    if nodes.is_empty() {
        return Err(Error::NotFound(format!(
            "No hypervisor matching '{pattern}' could be found."
        )));
    }
    Ok(nodes)
}

/// `GET /os-hypervisors/{pattern}/search` and `.../servers` (before 2.53).
async fn search_common(
    svc: &ComputeService,
    ctx: &Context,
    v: Version,
    pattern: &str,
    servers: bool,
) -> Result<Response> {
    super::removed_at(v, 2, 53)?;
    let rule = if servers {
        "os_compute_api:os-hypervisors:servers"
    } else {
        "os_compute_api:os-hypervisors:search"
    };
    svc.enforce(ctx, rule, &json!({}))?;
    let mut out = Vec::new();
    for n in matching(svc, pattern).await? {
        let s = misc::service(&svc.db, &n.host, COMPUTE_BINARY).await?;
        let mut o = json!({
            "id": n.id,
            "hypervisor_hostname": n.hypervisor_hostname,
            "state": if s.as_ref().is_some_and(|s| svc.service_is_up(s)) { "up" } else { "down" },
            "status": if s.as_ref().is_some_and(|s| s.disabled) { "disabled" } else { "enabled" },
        });
        if servers {
            let list: Vec<Value> = instances::on_host(&svc.db, &n.host)
                .await?
                .iter()
                .map(|i| json!({"uuid": i.uuid, "name": i.instance_name()}))
                .collect();
            if !list.is_empty() {
                o["servers"] = json!(list);
            }
        }
        out.push(o);
    }
    Ok(axum::Json(json!({"hypervisors": out})).into_response())
}

pub async fn search(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(pattern): Path<String>,
) -> Result<Response> {
    search_common(&svc, &ctx, v, &pattern, false).await
}

pub async fn servers(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(pattern): Path<String>,
) -> Result<Response> {
    search_common(&svc, &ctx, v, &pattern, true).await
}

pub fn routes() -> Routes<Arc<ComputeService>> {
    let r = Routes::new();
    let r = api::route!(r, "/v2.1/os-hosts", get(list, "List hosts"));
    let r = api::route!(
        r,
        "/v2.1/os-hosts/{host_name}",
        get(show, "Show host details"),
        put(update, "Enable or disable a host")
    );
    let r = api::route!(
        r,
        "/v2.1/os-hosts/{host_name}/{action}",
        get(power, "Host power action")
    );
    let r = api::route!(
        r,
        "/v2.1/os-hypervisors/{pattern}/search",
        get(search, "Search hypervisors")
    );
    api::route!(
        r,
        "/v2.1/os-hypervisors/{pattern}/servers",
        get(servers, "List servers on hypervisors")
    )
}
