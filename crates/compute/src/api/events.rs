//! `os-server-external-events` (how networking and block storage tell compute that
//! something happened to a server) and `os-instance_usage_audit_log`.

use std::sync::Arc;

use api::microversion::Version;
use api::openapi::Routes;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::St;
use crate::model::power;
use crate::scheduler::COMPUTE_BINARY;
use crate::store::instances::{self, Changes};
use crate::store::misc;
use crate::{ComputeService, Error, Result};

fn bad(m: impl Into<String>) -> Error {
    Error::BadRequest(m.into())
}

/// Event names accepted at a microversion.
fn known_event(name: &str, v: Version) -> bool {
    match name {
        "network-changed"
        | "network-vif-plugged"
        | "network-vif-unplugged"
        | "network-vif-deleted" => true,
        "volume-extended" => v.at_least(2, 51),
        "power-update" => v.at_least(2, 76),
        "accelerator-request-bound" => v.at_least(2, 82),
        "volume-reimaged" => v.at_least(2, 93),
        _ => false,
    }
}

fn check_event(e: &Map<String, Value>, v: Version) -> Result<()> {
    for k in e.keys() {
        if !matches!(k.as_str(), "name" | "server_uuid" | "status" | "tag") {
            return Err(bad(format!(
                "Invalid input for field/attribute events. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
    }
    let name = e.get("name").and_then(Value::as_str).ok_or_else(|| {
        bad("Invalid input for field/attribute events. 'name' is a required property")
    })?;
    if !known_event(name, v) {
        return Err(bad(format!(
            "Invalid input for field/attribute name. Value: {name}. '{name}' is not a valid event name"
        )));
    }
    if e.get("server_uuid").and_then(Value::as_str).is_none() {
        return Err(bad(
            "Invalid input for field/attribute events. 'server_uuid' is a required property",
        ));
    }
    if let Some(s) = e.get("status")
        && !matches!(s.as_str(), Some("failed" | "completed" | "in-progress"))
    {
        return Err(bad(format!(
            "Invalid input for field/attribute status. Value: {s}. It is not one of ['failed', 'completed', 'in-progress']"
        )));
    }
    if let Some(t) = e.get("tag")
        && t.as_str().is_none_or(|t| t.chars().count() > 255)
    {
        return Err(bad("Invalid input for field/attribute tag."));
    }
    if name == "power-update"
        && !matches!(
            e.get("tag").and_then(Value::as_str),
            Some("POWER_ON" | "POWER_OFF")
        )
    {
        return Err(bad(
            "Invalid input for field/attribute tag. power-update events need tag POWER_ON or POWER_OFF",
        ));
    }
    Ok(())
}

/// `POST /os-server-external-events`: each event gets a code (200 delivered, 404 no
/// such server, 422 the server is on no host); the answer is 200, 207 when some
/// failed, 404 when none found a server. `power-update` sets the power state;
/// network and volume events are acknowledged (no networking or volumes yet).
pub async fn create(
    State(svc): St,
    ctx: Context,
    v: Version,
    body: api::Json<Value>,
) -> Result<Response> {
    svc.enforce(
        &ctx,
        "os_compute_api:os-server-external-events:create",
        &json!({}),
    )?;
    let events = body
        .0
        .get("events")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| {
            bad("Invalid input for field/attribute events. 'events' is a required property")
        })?;
    if events.is_empty() {
        return Err(bad(
            "Invalid input for field/attribute events. [] is too short",
        ));
    }
    let mut parsed = Vec::new();
    for e in &events {
        let o = e
            .as_object()
            .ok_or_else(|| bad("Invalid input for field/attribute events."))?;
        check_event(o, v)?;
        parsed.push(o.clone());
    }
    let mut out = Vec::new();
    let (mut found, mut failed) = (0, 0);
    for mut e in parsed {
        let uuid = e["server_uuid"].as_str().unwrap_or_default().to_string();
        e.entry("status").or_insert(json!("completed"));
        let code = match instances::get(&svc.db, &uuid, false).await? {
            None => 404,
            Some(i) if i.host.is_none() => 422,
            Some(i) => {
                if e["name"] == "power-update" {
                    let on = e.get("tag").and_then(Value::as_str) == Some("POWER_ON");
                    let c = Changes {
                        power_state: Some(if on { power::RUNNING } else { power::SHUTDOWN }),
                        vm_state: Some(if on { "active" } else { "stopped" }.into()),
                        ..Default::default()
                    };
                    instances::update(&svc.db, &i.uuid, &c, &[None], &[], svc.now()).await?;
                }
                tracing::info!(instance = %i.uuid, event = %e["name"], status = %e["status"], "external event");
                200
            }
        };
        if code != 404 {
            found += 1;
        }
        if code != 200 {
            failed += 1;
        }
        e.insert("code".into(), json!(code));
        out.push(Value::Object(e));
    }
    if found == 0 {
        return Err(Error::NotFound("No instances found for any event".into()));
    }
    let status = if failed > 0 {
        StatusCode::MULTI_STATUS
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(json!({"events": out}))).into_response())
}

/// The audit period around `at` (nova's default: the previous calendar month).
fn period(at: chrono::DateTime<chrono::Utc>) -> (chrono::NaiveDateTime, chrono::NaiveDateTime) {
    use chrono::Datelike;
    let first = |y: i32, m: u32| {
        chrono::NaiveDate::from_ymd_opt(y, m, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default()
    };
    let end = first(at.year(), at.month());
    let (py, pm) = if at.month() == 1 {
        (at.year() - 1, 12)
    } else {
        (at.year(), at.month() - 1)
    };
    (first(py, pm), end)
}

/// No usage audit task runs in ferrostack yet: every compute host is reported as not
/// having run it for the period, as nova reports hosts without audit task logs.
async fn audit_log(svc: &ComputeService, at: chrono::DateTime<chrono::Utc>) -> Result<Value> {
    let hosts: Vec<String> = misc::services(&svc.db)
        .await?
        .into_iter()
        .filter(|s| s.binary == COMPUTE_BINARY)
        .map(|s| s.host)
        .collect();
    let (begin, end) = period(at);
    let fmt = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let n = hosts.len();
    Ok(json!({
        "hosts_not_run": hosts,
        "log": {},
        "num_hosts": n,
        "num_hosts_done": 0,
        "num_hosts_not_run": n,
        "num_hosts_running": 0,
        "overall_status": format!("0 of {n} hosts done. 0 errors."),
        "period_beginning": fmt(begin),
        "period_ending": fmt(end),
        "total_errors": 0,
        "total_instances": 0,
    }))
}

pub async fn audit_index(State(svc): St, ctx: Context) -> Result<Response> {
    svc.enforce(
        &ctx,
        "os_compute_api:os-instance-usage-audit-log:list",
        &json!({}),
    )?;
    let log = audit_log(&svc, chrono::Utc::now()).await?;
    Ok(axum::Json(json!({"instance_usage_audit_logs": log})).into_response())
}

pub async fn audit_show(
    State(svc): St,
    ctx: Context,
    Path(before): Path<String>,
) -> Result<Response> {
    svc.enforce(
        &ctx,
        "os_compute_api:os-instance-usage-audit-log:show",
        &json!({}),
    )?;
    let parsed = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(&before, f).ok())
    .ok_or_else(|| bad("Invalid timestamp for date. Expected format: %Y-%m-%d %H:%M:%S[.%f]"))?;
    let log = audit_log(&svc, parsed.and_utc()).await?;
    Ok(axum::Json(json!({"instance_usage_audit_log": log})).into_response())
}

pub fn routes() -> Routes<Arc<ComputeService>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v2.1/os-server-external-events",
        post(create, "Deliver external events to servers")
    );
    let r = api::route!(
        r,
        "/v2.1/os-instance_usage_audit_log",
        get(audit_index, "Show the current usage audit log")
    );
    api::route!(
        r,
        "/v2.1/os-instance_usage_audit_log/{before_timestamp}",
        get(audit_show, "Show the usage audit log before a time")
    )
}
