//! `POST /servers/{id}/action`: power, lock, rebuild, resize, snapshot, console output…

use std::sync::Arc;

use api::microversion::Version;
use api::openapi::Routes;
use api::{BaseUrl, RequestId};
use auth::Context;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::St;
use super::servers::{check_lock, metadata};
use crate::conductor::Op;
use crate::model::{Instance, Migration, task, vm};
use crate::scheduler::Request;
use crate::store::instances::{self, Changes};
use crate::store::{flavors, misc};
use crate::{ComputeService, Error, Result};

fn bad(m: impl Into<String>) -> Error {
    Error::BadRequest(m.into())
}

/// Nova's wrong-state conflict.
fn wrong_state(action: &str, i: &Instance) -> Error {
    match &i.task_state {
        Some(t) => Error::Conflict(format!(
            "Cannot '{action}' instance {} while it is in task_state {t}",
            i.uuid
        )),
        None => Error::Conflict(format!(
            "Cannot '{action}' instance {} while it is in vm_state {}",
            i.uuid, i.vm_state
        )),
    }
}

/// Check states and move to `task` atomically (another request may race us).
async fn begin(
    svc: &ComputeService,
    i: &Instance,
    action: &str,
    vm_states: &[&str],
    task: Option<&str>,
    extra: Changes,
) -> Result<()> {
    if !vm_states.contains(&i.vm_state.as_str()) || i.task_state.is_some() {
        return Err(wrong_state(action, i));
    }
    let c = Changes {
        task_state: Some(task.map(str::to_string)),
        ..extra
    };
    if !instances::update(&svc.db, &i.uuid, &c, &[None], vm_states, svc.now()).await? {
        return Err(wrong_state(action, i));
    }
    Ok(())
}

struct Ctx<'a> {
    svc: &'a Arc<ComputeService>,
    ctx: &'a Context,
    req: &'a RequestId,
    i: Instance,
}

impl Ctx<'_> {
    /// A simple agent-driven transition: states, record, run in the background.
    async fn simple(
        &self,
        action: &'static str,
        nova_action: &str,
        vm_states: &[&str],
        task: &'static str,
        op: Op,
    ) -> Result<Response> {
        check_lock(self.svc, self.ctx, &self.i)?;
        begin(
            self.svc,
            &self.i,
            nova_action,
            vm_states,
            Some(task),
            Changes::default(),
        )
        .await?;
        self.svc
            .start_action(&self.i, action, self.ctx, self.req)
            .await?;
        let s = self.svc.clone();
        let id = self.i.uuid.clone();
        tokio::spawn(async move { s.run_op(id, op).await });
        Ok(StatusCode::ACCEPTED.into_response())
    }
}

fn op(
    action: &'static str,
    event: &'static str,
    method: &'static str,
    args: Value,
    vm_state: &'static str,
    task_state: &'static str,
) -> Op {
    Op {
        action,
        event,
        method,
        args,
        vm_state,
        error_state: None,
        task_state,
    }
}

/// `POST /servers/{id}/action`
pub async fn action(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    axum::Extension(req): axum::Extension<RequestId>,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    let Some((name, args)) = body
        .as_object()
        .and_then(|o| if o.len() == 1 { o.iter().next() } else { None })
    else {
        return Err(bad(
            "Malformed request body: exactly one action is expected.",
        ));
    };
    let rule = match name.as_str() {
        "os-stop" => "os_compute_api:servers:stop",
        "os-start" => "os_compute_api:servers:start",
        "reboot" => "os_compute_api:servers:reboot",
        "pause" => "os_compute_api:os-pause-server:pause",
        "unpause" => "os_compute_api:os-pause-server:unpause",
        "suspend" => "os_compute_api:os-suspend-server:suspend",
        "resume" => "os_compute_api:os-suspend-server:resume",
        "lock" => "os_compute_api:os-lock-server:lock",
        "unlock" => "os_compute_api:os-lock-server:unlock",
        "rebuild" => "os_compute_api:servers:rebuild",
        "resize" => "os_compute_api:servers:resize",
        "migrate" => "os_compute_api:os-migrate-server:migrate",
        "confirmResize" => "os_compute_api:servers:confirm_resize",
        "revertResize" => "os_compute_api:servers:revert_resize",
        "createImage" => "os_compute_api:servers:create_image",
        "createBackup" => "os_compute_api:os-create-backup",
        "os-getConsoleOutput" => "os_compute_api:os-console-output",
        "shelve" => "os_compute_api:os-shelve:shelve",
        "shelveOffload" => "os_compute_api:os-shelve:shelve_offload",
        "unshelve" => "os_compute_api:os-shelve:unshelve",
        "forceDelete" => "os_compute_api:os-deferred-delete:force",
        "restore" => "os_compute_api:os-deferred-delete:restore",
        "os-resetState" => "os_compute_api:os-admin-actions:reset_state",
        "rescue" => "os_compute_api:os-rescue",
        "unrescue" => "os_compute_api:os-unrescue",
        "os-getVNCConsole" | "os-getSPICEConsole" | "os-getSerialConsole" | "os-getRDPConsole" => {
            "os_compute_api:os-remote-consoles"
        }
        "changePassword" => "os_compute_api:os-admin-password",
        other => return Err(bad(format!("There is no such action: {other}"))),
    };
    let i = svc.visible(&ctx, &id, rule).await?;
    let c = Ctx {
        svc: &svc,
        ctx: &ctx,
        req: &req,
        i,
    };
    let stopped_ok = [
        vm::ACTIVE,
        vm::STOPPED,
        vm::PAUSED,
        vm::SUSPENDED,
        vm::ERROR,
        vm::RESCUED,
    ];
    match name.as_str() {
        "os-stop" => {
            c.simple(
                "stop",
                "stop",
                &[vm::ACTIVE, vm::RESCUED, vm::ERROR],
                task::POWERING_OFF,
                op(
                    "stop",
                    "compute_stop_instance",
                    "power_off",
                    json!({"timeout": svc.cfg.shutdown_timeout}),
                    vm::STOPPED,
                    task::POWERING_OFF,
                ),
            )
            .await
        }
        "os-start" => {
            c.simple(
                "start",
                "start",
                &[vm::STOPPED],
                task::POWERING_ON,
                op(
                    "start",
                    "compute_start_instance",
                    "power_on",
                    json!({}),
                    vm::ACTIVE,
                    task::POWERING_ON,
                ),
            )
            .await
        }
        "reboot" => {
            let kind = args
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_ascii_uppercase);
            let hard = match kind.as_deref() {
                Some("HARD") => true,
                Some("SOFT") => false,
                _ => {
                    return Err(bad(
                        "Invalid input for field/attribute type. Value must be SOFT or HARD.",
                    ));
                }
            };
            let (states, t): (&[&str], &'static str) = if hard {
                (
                    &[
                        vm::ACTIVE,
                        vm::STOPPED,
                        vm::PAUSED,
                        vm::SUSPENDED,
                        vm::ERROR,
                    ],
                    task::REBOOTING_HARD,
                )
            } else {
                (&[vm::ACTIVE], task::REBOOTING)
            };
            c.simple(
                "reboot",
                "reboot",
                states,
                t,
                op(
                    "reboot",
                    "compute_reboot_instance",
                    "reboot",
                    json!({"hard": hard}),
                    vm::ACTIVE,
                    t,
                ),
            )
            .await
        }
        "pause" => {
            c.simple(
                "pause",
                "pause",
                &[vm::ACTIVE],
                task::PAUSING,
                op(
                    "pause",
                    "compute_pause_instance",
                    "pause",
                    json!({}),
                    vm::PAUSED,
                    task::PAUSING,
                ),
            )
            .await
        }
        "unpause" => {
            c.simple(
                "unpause",
                "unpause",
                &[vm::PAUSED],
                task::UNPAUSING,
                op(
                    "unpause",
                    "compute_unpause_instance",
                    "unpause",
                    json!({}),
                    vm::ACTIVE,
                    task::UNPAUSING,
                ),
            )
            .await
        }
        "suspend" => {
            c.simple(
                "suspend",
                "suspend",
                &[vm::ACTIVE],
                task::SUSPENDING,
                op(
                    "suspend",
                    "compute_suspend_instance",
                    "suspend",
                    json!({}),
                    vm::SUSPENDED,
                    task::SUSPENDING,
                ),
            )
            .await
        }
        "resume" => {
            c.simple(
                "resume",
                "resume",
                &[vm::SUSPENDED],
                task::RESUMING,
                op(
                    "resume",
                    "compute_resume_instance",
                    "resume",
                    json!({}),
                    vm::ACTIVE,
                    task::RESUMING,
                ),
            )
            .await
        }
        "lock" => {
            let reason = if v.at_least(2, 73) {
                match args.get("locked_reason") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) if s.len() <= 255 => Some(s.clone()),
                    Some(_) => return Err(bad("Invalid input for field/attribute locked_reason.")),
                }
            } else {
                None
            };
            let by = if svc.is_admin(&ctx) && Some(c.i.project_id.as_str()) != ctx.user.project_id()
            {
                "admin"
            } else {
                "owner"
            };
            let ch = Changes {
                locked_by: Some(Some(by.into())),
                locked_reason: Some(reason),
                ..Default::default()
            };
            instances::update(&svc.db, &id, &ch, &[], &[], svc.now()).await?;
            svc.start_action(&c.i, "lock", &ctx, &req).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "unlock" => {
            if c.i.locked_by.as_deref() == Some("admin") && !svc.is_admin(&ctx) {
                svc.enforce(
                    &ctx,
                    "os_compute_api:os-lock-server:unlock:unlock_override",
                    &ComputeService::project_target(&c.i.project_id, None),
                )?;
            }
            let ch = Changes {
                locked_by: Some(None),
                locked_reason: Some(None),
                ..Default::default()
            };
            instances::update(&svc.db, &id, &ch, &[], &[], svc.now()).await?;
            svc.start_action(&c.i, "unlock", &ctx, &req).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-getConsoleOutput" => {
            let length = match args.get("length") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => Some(
                    s.parse::<i64>()
                        .map_err(|_| bad("Invalid input for field/attribute length."))?,
                ),
                Some(_) => return Err(bad("Invalid input for field/attribute length.")),
            };
            if length.is_some_and(|l| l < -1) {
                return Err(bad(
                    "Invalid input for field/attribute length. Value is less than the minimum of -1",
                ));
            }
            let Some(host) = c.i.host.clone().filter(|_| c.i.vm_state != vm::BUILDING) else {
                return Err(Error::Conflict(format!("Instance {id} is not ready")));
            };
            let out = svc
                .rpc
                .call_agent(&host, "console_output", json!({"uuid": id}), None)
                .await
                .map_err(|e| Error::Conflict(format!("Unable to get console output: {e}")))?;
            let text = out.as_str().unwrap_or_default();
            let text = match length {
                Some(n) if n >= 0 => {
                    let lines: Vec<&str> = text.lines().collect();
                    let n = usize::try_from(n).unwrap_or(0);
                    lines[lines.len().saturating_sub(n)..].join("\n")
                }
                _ => text.to_string(),
            };
            Ok(axum::Json(json!({"output": text})).into_response())
        }
        "os-getVNCConsole" | "os-getSPICEConsole" | "os-getSerialConsole" | "os-getRDPConsole" => {
            let kind = args
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let allowed: &[&str] = match name.as_str() {
                "os-getVNCConsole" => &["novnc", "xvpvnc"],
                "os-getSPICEConsole" => &["spice-html5"],
                "os-getSerialConsole" => &["serial"],
                _ => &["rdp-html5"],
            };
            if !allowed.contains(&kind.as_str()) {
                return Err(bad(format!(
                    "Invalid input for field/attribute type. Value: {kind}. '{kind}' is not one of {allowed:?}"
                )));
            }
            remote_console(&svc, &c.i, &kind)
                .await
                .map(|v| axum::Json(json!({"console": v})).into_response())
        }
        "rebuild" => rebuild(&c, v, &base, args).await,
        "resize" => resize(&c, args).await,
        "migrate" => migrate(&c, v, args).await,
        "confirmResize" => confirm_resize(&c).await,
        "revertResize" => revert_resize(&c).await,
        "createImage" => create_image(&c, v, &base, args).await,
        "createBackup" => create_backup(&c, v, &base, args).await,
        "shelve" => shelve(&c).await,
        "rescue" => rescue(&c, args).await,
        "unrescue" => {
            c.simple(
                "unrescue",
                "unrescue",
                &[vm::RESCUED],
                task::UNRESCUING,
                op(
                    "unrescue",
                    "compute_unrescue_instance",
                    "unrescue",
                    json!({}),
                    vm::ACTIVE,
                    task::UNRESCUING,
                ),
            )
            .await
        }
        "shelveOffload" => {
            check_lock(&svc, &ctx, &c.i)?;
            begin(
                &svc,
                &c.i,
                "shelveOffload",
                &[vm::SHELVED],
                Some(task::SHELVING_OFFLOADING),
                Changes::default(),
            )
            .await?;
            svc.start_action(&c.i, "shelveOffload", &ctx, &req).await?;
            let s = svc.clone();
            tokio::spawn(async move { s.offload(id, "shelveOffload").await });
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "unshelve" => unshelve(&c, v, args).await,
        "restore" => {
            check_lock(&svc, &ctx, &c.i)?;
            if c.i.vm_state != vm::SOFT_DELETED || c.i.task_state.is_some() {
                return Err(wrong_state("restore", &c.i));
            }
            // A soft-deleted server stops counting against the quota; back it counts.
            svc.check_quota(
                &c.i.project_id,
                &c.i.user_id,
                &[
                    ("instances", 1),
                    ("cores", c.i.flavor.vcpus),
                    ("ram", c.i.flavor.ram),
                ],
            )
            .await?;
            c.simple(
                "restore",
                "restore",
                &[vm::SOFT_DELETED],
                task::RESTORING,
                op(
                    "restore",
                    "compute_restore_instance",
                    "power_on",
                    json!({}),
                    vm::ACTIVE,
                    task::RESTORING,
                ),
            )
            .await
        }
        // Any server in any state, soft-deleted or not (nova).
        "forceDelete" => {
            check_lock(&svc, &ctx, &c.i)?;
            svc.delete_now(&c.i, &ctx, &req).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-resetState" => {
            let st = args
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let state = match st {
                "active" => vm::ACTIVE,
                "error" => vm::ERROR,
                _ => {
                    return Err(bad(format!(
                        "Invalid input for field/attribute state. Value: {st}."
                    )));
                }
            };
            let ch = Changes {
                vm_state: Some(state.into()),
                task_state: Some(None),
                ..Default::default()
            };
            instances::update(&svc.db, &id, &ch, &[], &[], svc.now()).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "changePassword" => {
            check_lock(&svc, &ctx, &c.i)?;
            let pw = args
                .get("adminPass")
                .and_then(Value::as_str)
                .filter(|p| p.len() <= 255)
                .ok_or_else(|| {
                    bad("Invalid input for field/attribute changePassword. 'adminPass' is a required property")
                })?;
            if c.i.vm_state != vm::ACTIVE || c.i.task_state.is_some() {
                return Err(wrong_state("changePassword", &c.i));
            }
            let host = c.i.host.clone().unwrap_or_default();
            svc.start_action(&c.i, "changePassword", &ctx, &req).await?;
            let start = svc.now();
            let r = svc
                .rpc
                .call_agent(
                    &host,
                    "set_admin_password",
                    json!({"uuid": c.i.uuid, "password": pw}),
                    None,
                )
                .await;
            let msg = r.as_ref().err().map(ToString::to_string);
            svc.event(
                &c.i.uuid,
                "changePassword",
                "compute_set_admin_password",
                Some(&host),
                start,
                msg.as_deref().map_or(Ok(()), Err),
            )
            .await;
            match msg {
                None => Ok(StatusCode::ACCEPTED.into_response()),
                Some(m) => Err(Error::NotImplemented(format!(
                    "Unable to set password on instance: {m}"
                ))),
            }
        }
        _ => {
            let _ = stopped_ok;
            Err(bad(format!("There is no such action: {name}")))
        }
    }
}

/// Ask the guest's host where its console of `kind` listens, issue a console auth
/// token for it and answer `{"type", "url"}`.
async fn remote_console(svc: &ComputeService, i: &Instance, kind: &str) -> Result<Value> {
    let ready = [vm::ACTIVE, vm::PAUSED, vm::RESCUED].contains(&i.vm_state.as_str());
    let Some(host) = i.host.clone().filter(|_| ready) else {
        return Err(Error::Conflict(format!(
            "Instance {} is not ready.",
            i.uuid
        )));
    };
    let at = svc
        .rpc
        .call_agent(
            &host,
            "console",
            json!({"uuid": i.uuid, "type": kind}),
            None,
        )
        .await
        .map_err(|e| bad(e.to_string()))?;
    let target = console_proxy::ConsoleTarget {
        instance_uuid: i.uuid.clone(),
        console_type: kind.to_string(),
        host: at["host"].as_str().unwrap_or("127.0.0.1").to_string(),
        port: at["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| Error::Internal("the compute agent gave no console port".into()))?,
        internal_access_path: at["internal_access_path"].as_str().map(str::to_string),
    };
    let store = crate::consoles::SqlTokenStore { db: svc.db.clone() };
    let token = console_proxy::authorize(&store, target, svc.cfg.console_token_ttl)
        .await
        .map_err(Error::Internal)?;
    Ok(json!({"type": kind, "url": crate::consoles::console_url(&svc.cfg, kind, &token)}))
}

/// `POST /servers/{id}/remote-consoles` (2.6)
pub async fn remote_consoles(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    let i = svc
        .visible(&ctx, &id, "os_compute_api:os-remote-consoles")
        .await?;
    let rc = body.get("remote_console").ok_or_else(|| bad("Invalid input for field/attribute remote_console. 'remote_console' is a required property"))?;
    let protocol = rc
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = rc.get("type").and_then(Value::as_str).unwrap_or_default();
    let valid = matches!(
        (protocol, kind),
        ("vnc", "novnc")
            | ("vnc", "xvpvnc")
            | ("spice", "spice-html5")
            | ("serial", "serial")
            | ("mks", "webmks")
            | ("rdp", "rdp-html5")
    );
    if !valid {
        return Err(bad(format!(
            "Invalid input for field/attribute remote_console. Unsupported protocol {protocol} / type {kind}."
        )));
    }
    let mut v = remote_console(&svc, &i, kind).await?;
    v["protocol"] = json!(protocol);
    Ok(axum::Json(json!({"remote_console": v})).into_response())
}

/// `GET /servers/{id}/diagnostics` (admin): the driver's view of the guest; before
/// 2.48 in the flat libvirt-style layout.
pub async fn diagnostics(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    let i = svc
        .visible(&ctx, &id, "os_compute_api:os-server-diagnostics")
        .await?;
    let Some(host) = i.host.clone() else {
        return Err(Error::Conflict(format!(
            "Cannot 'get_diagnostics' instance {id} while it is in vm_state {}",
            i.vm_state
        )));
    };
    let d = svc
        .rpc
        .call_agent(&host, "diagnostics", json!({"uuid": i.uuid}), None)
        .await
        .map_err(|e| Error::NotImplemented(e.to_string()))?;
    if v.at_least(2, 48) {
        return Ok(axum::Json(d).into_response());
    }
    let mut flat = Map::new();
    for c in d["cpu_details"].as_array().into_iter().flatten() {
        flat.insert(format!("cpu{}_time", c["id"]), c["time"].clone());
    }
    for (n, disk) in d["disk_details"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let dev = format!("vd{}", char::from(b'a' + u8::try_from(n % 26).unwrap_or(0)));
        flat.insert(format!("{dev}_read"), disk["read_bytes"].clone());
        flat.insert(format!("{dev}_read_req"), disk["read_requests"].clone());
        flat.insert(format!("{dev}_write"), disk["write_bytes"].clone());
        flat.insert(format!("{dev}_write_req"), disk["write_requests"].clone());
        flat.insert(format!("{dev}_errors"), disk["errors_count"].clone());
    }
    let mb = d["memory_details"]["maximum"].as_i64().unwrap_or(0);
    flat.insert("memory".into(), json!(mb * 1024));
    flat.insert("memory-actual".into(), json!(mb * 1024));
    Ok(axum::Json(Value::Object(flat)).into_response())
}

/// Shelve: power off, snapshot the disk to the image `NAME-shelved` (kept in the
/// system metadata as `shelved_image_id`), SHELVED; with `[DEFAULT]
/// shelved_offload_time = 0` (nova's default) the server is offloaded right away.
async fn shelve(c: &Ctx<'_>) -> Result<Response> {
    let svc = c.svc;
    check_lock(svc, c.ctx, &c.i)?;
    let states = [vm::ACTIVE, vm::STOPPED, vm::PAUSED, vm::SUSPENDED];
    if !states.contains(&c.i.vm_state.as_str()) || c.i.task_state.is_some() {
        return Err(wrong_state("shelve", &c.i));
    }
    let img = svc
        .images
        .create(
            &json!({
                "name": format!("{}-shelved", c.i.name),
                "disk_format": "raw",
                "container_format": "bare",
                "visibility": "private",
                "instance_uuid": c.i.uuid,
                "image_type": "snapshot",
                "base_image_ref": c.i.image_ref,
                "user_id": c.i.user_id,
            }),
            &c.ctx.token,
        )
        .await?;
    let image_id = img["id"].as_str().unwrap_or_default().to_string();
    if let Err(e) = begin(
        svc,
        &c.i,
        "shelve",
        &states,
        Some(task::SHELVING),
        Changes::default(),
    )
    .await
    {
        let _ = svc.images.delete(&image_id, &c.ctx.token).await;
        return Err(e);
    }
    svc.start_action(&c.i, "shelve", c.ctx, c.req).await?;
    let s = svc.clone();
    let i = c.i.clone();
    let token = c.ctx.token.clone();
    tokio::spawn(async move { s.shelve_in_background(i, image_id, token).await });
    Ok(StatusCode::ACCEPTED.into_response())
}

impl ComputeService {
    /// Set the task state of a server (progress of a long action).
    async fn set_task(&self, uuid: &str, t: &str) {
        let ch = Changes {
            task_state: Some(Some(t.into())),
            ..Default::default()
        };
        let _ = instances::update(&self.db, uuid, &ch, &[], &[], self.now()).await;
    }

    /// Snapshot the guest on its host and upload the disk to `image_id` (created
    /// beforehand, as the caller), moving through the two task states given. A
    /// failure deletes the image.
    async fn snapshot_to_image(
        &self,
        i: &Instance,
        image_id: &str,
        token: &str,
        tasks: [&str; 2],
    ) -> std::result::Result<(), String> {
        let host = i.host.clone().unwrap_or_default();
        self.set_task(&i.uuid, tasks[0]).await;
        let r = async {
            let long = Some(self.long_timeout());
            let snap = self
                .rpc
                .call_agent(
                    &host,
                    "snapshot",
                    json!({"uuid": i.uuid, "image_id": image_id}),
                    long,
                )
                .await
                .map_err(|e| e.to_string())?;
            self.set_task(&i.uuid, tasks[1]).await;
            self.rpc
                .call_agent(
                    &host,
                    "upload_snapshot",
                    json!({"uuid": i.uuid, "image_id": image_id, "token": token,
                           "disk_format": snap["disk_format"],
                           "container_format": snap["container_format"]}),
                    long,
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        .await;
        if r.is_err() {
            let _ = self.images.delete(image_id, token).await;
        }
        r
    }

    async fn shelve_in_background(self: Arc<Self>, i: Instance, image_id: String, token: String) {
        let start = self.now();
        let host = i.host.clone().unwrap_or_default();
        let event = "compute_shelve_instance";
        let mut r = self
            .rpc
            .call_agent(
                &host,
                "power_off",
                json!({"uuid": i.uuid, "timeout": self.cfg.shutdown_timeout}),
                Some(self.long_timeout()),
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        if r.is_ok() {
            r = self
                .snapshot_to_image(
                    &i,
                    &image_id,
                    &token,
                    [
                        task::SHELVING_IMAGE_PENDING_UPLOAD,
                        task::SHELVING_IMAGE_UPLOADING,
                    ],
                )
                .await;
        } else {
            let _ = self.images.delete(&image_id, &token).await;
        }
        let offload = r.is_ok() && self.cfg.shelved_offload_time == 0;
        let ch = match &r {
            Ok(()) => {
                let mut sysmeta = i.system_metadata.clone();
                sysmeta.insert("shelved_image_id".into(), json!(image_id));
                sysmeta.insert("shelved_host".into(), json!(host));
                sysmeta.insert("shelved_at".into(), json!(self.now()));
                Changes {
                    vm_state: Some(vm::SHELVED.into()),
                    power_state: Some(crate::model::power::SHUTDOWN),
                    task_state: Some(offload.then(|| task::SHELVING_OFFLOADING.into())),
                    system_metadata: Some(sysmeta),
                    ..Default::default()
                }
            }
            Err(_) => Changes {
                task_state: Some(None),
                ..Default::default()
            },
        };
        let _ = instances::update(&self.db, &i.uuid, &ch, &[], &[], self.now()).await;
        self.event(
            &i.uuid,
            "shelve",
            event,
            Some(&host),
            start,
            r.as_ref().map(|_| ()).map_err(String::as_str),
        )
        .await;
        if offload {
            self.offload(i.uuid.clone(), "shelve").await;
        }
    }
}

/// Rescue: boot from a rescue image (the server's own, or `rescue_image_ref`); the
/// answer carries the admin password.
async fn rescue(c: &Ctx<'_>, args: &Value) -> Result<Response> {
    let svc = c.svc;
    check_lock(svc, c.ctx, &c.i)?;
    let o = match args {
        Value::Null => Map::new(),
        Value::Object(o) => o.clone(),
        _ => return Err(bad("Invalid input for field/attribute rescue.")),
    };
    if let Some(k) = o
        .keys()
        .find(|k| !matches!(k.as_str(), "adminPass" | "rescue_image_ref"))
    {
        return Err(bad(format!(
            "Invalid input for field/attribute rescue. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let password = match o.get("adminPass") {
        None => super::servers::random_password(),
        Some(Value::String(p)) if !p.is_empty() && p.len() <= 255 => p.clone(),
        Some(_) => return Err(bad("Invalid input for field/attribute adminPass.")),
    };
    let image = match o.get("rescue_image_ref") {
        None => c.i.image_ref.clone(),
        Some(Value::String(r)) => {
            svc.images
                .get(r, &c.ctx.token)
                .await?
                .ok_or_else(|| bad(format!("Image {r} could not be found.")))?;
            r.clone()
        }
        Some(_) => return Err(bad("Invalid input for field/attribute rescue_image_ref.")),
    };
    if image.is_empty() {
        return Err(bad("Cannot rescue a volume-backed instance"));
    }
    begin(
        svc,
        &c.i,
        "rescue",
        &[vm::ACTIVE, vm::STOPPED, vm::ERROR],
        Some(task::RESCUING),
        Changes::default(),
    )
    .await?;
    svc.start_action(&c.i, "rescue", c.ctx, c.req).await?;
    let s = svc.clone();
    let id = c.i.uuid.clone();
    let go = Op {
        error_state: Some(vm::ERROR),
        ..op(
            "rescue",
            "compute_rescue_instance",
            "rescue",
            json!({"rescue_image_ref": image}),
            vm::RESCUED,
            task::RESCUING,
        )
    };
    tokio::spawn(async move { s.run_op(id, go).await });
    Ok(axum::Json(json!({"adminPass": password})).into_response())
}

/// Unshelve: power on where it is, or schedule and spawn an offloaded server (2.77+
/// may name the availability zone).
async fn unshelve(c: &Ctx<'_>, v: Version, args: &Value) -> Result<Response> {
    let svc = c.svc;
    check_lock(svc, c.ctx, &c.i)?;
    let zone = match args {
        Value::Null => None,
        Value::Object(o) if v.at_least(2, 77) => match o.get("availability_zone") {
            None | Some(Value::Null) => None,
            Some(Value::String(z)) => Some(z.clone()),
            Some(_) => return Err(bad("Invalid input for field/attribute availability_zone.")),
        },
        _ => {
            return Err(bad(
                "Invalid input for field/attribute unshelve. Value: must be null before 2.77",
            ));
        }
    };
    if zone.is_some() && c.i.vm_state != vm::SHELVED_OFFLOADED {
        return Err(Error::Conflict(
            "The availability_zone parameter is only valid for a server in SHELVED_OFFLOADED state"
                .into(),
        ));
    }
    begin(
        svc,
        &c.i,
        "unshelve",
        &[vm::SHELVED, vm::SHELVED_OFFLOADED],
        Some(task::UNSHELVING),
        Changes::default(),
    )
    .await?;
    svc.start_action(&c.i, "unshelve", c.ctx, c.req).await?;
    let s = svc.clone();
    let id = c.i.uuid.clone();
    if c.i.vm_state == vm::SHELVED_OFFLOADED {
        let token = c.ctx.token.clone();
        tokio::spawn(async move { s.unshelve_offloaded(id, zone, token).await });
    } else {
        let on = op(
            "unshelve",
            "compute_unshelve_instance",
            "power_on",
            json!({}),
            vm::ACTIVE,
            task::UNSHELVING,
        );
        let token = c.ctx.token.clone();
        let shelved = c.i.system_metadata.get("shelved_image_id").cloned();
        tokio::spawn(async move {
            s.run_op(id.clone(), on).await;
            // Back on its host: the shelved snapshot is no longer needed.
            if let Ok(Some(i)) = instances::get(&s.db, &id, false).await
                && i.vm_state == vm::ACTIVE
                && let Some(img) = shelved.as_ref().and_then(Value::as_str)
            {
                let _ = s.images.delete(img, &token).await;
                let mut sysmeta = i.system_metadata.clone();
                sysmeta.remove("shelved_image_id");
                sysmeta.remove("shelved_host");
                let ch = Changes {
                    system_metadata: Some(sysmeta),
                    ..Default::default()
                };
                let _ = instances::update(&s.db, &id, &ch, &[], &[], s.now()).await;
            }
        });
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn rebuild(c: &Ctx<'_>, v: Version, base: &str, args: &Value) -> Result<Response> {
    let svc = c.svc;
    check_lock(svc, c.ctx, &c.i)?;
    let image_ref = args
        .get("imageRef")
        .and_then(Value::as_str)
        .map(|s| {
            s.trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(s)
                .to_string()
        })
        .ok_or_else(|| {
            bad("Invalid input for field/attribute rebuild. 'imageRef' is a required property")
        })?;
    let image = svc
        .images
        .get(&image_ref, &c.ctx.token)
        .await?
        .ok_or_else(|| bad(format!("Image {image_ref} could not be found.")))?;
    if image["status"].as_str() != Some("active") {
        return Err(bad(format!("Image {image_ref} is not active.")));
    }
    let mut ch = Changes {
        image_ref: Some(image_ref.clone()),
        image_meta: Some(
            json!({"id": image["id"], "name": image["name"], "size": image["size"],
            "virtual_size": image["virtual_size"], "min_disk": image["min_disk"], "min_ram": image["min_ram"],
            "disk_format": image["disk_format"], "os_hash_value": image["os_hash_value"], "properties": {}}),
        ),
        ..Default::default()
    };
    if let Some(n) = args.get("name").and_then(Value::as_str) {
        ch.name = Some(n.to_string());
    }
    if let Some(m) = args.get("metadata") {
        ch.metadata = Some(metadata(m, "metadata")?);
    }
    if v.at_least(2, 19) && args.get("description").is_some() {
        ch.description = Some(args["description"].as_str().map(str::to_string));
    }
    if v.at_least(2, 57) && args.get("user_data").is_some() {
        ch.user_data = Some(args["user_data"].as_str().map(str::to_string));
    }
    if v.at_least(2, 54)
        && let Some(k) = args.get("key_name")
    {
        match k.as_str() {
            None => {
                ch.key_name = Some(None);
                ch.key_data = Some(None);
            }
            Some(name) => {
                let kp = crate::store::keypairs::get(&svc.db, &c.i.user_id, name)
                    .await?
                    .ok_or_else(|| bad("Invalid key_name provided."))?;
                ch.key_name = Some(Some(kp.name));
                ch.key_data = Some(Some(kp.public_key));
            }
        }
    }
    let prior = c.i.vm_state.clone();
    begin(
        svc,
        &c.i,
        "rebuild",
        &[vm::ACTIVE, vm::STOPPED, vm::ERROR],
        Some(task::REBUILDING),
        ch,
    )
    .await?;
    svc.start_action(&c.i, "rebuild", c.ctx, c.req).await?;
    let s = svc.clone();
    let id = c.i.uuid.clone();
    let end = if prior == vm::STOPPED {
        vm::STOPPED
    } else {
        vm::ACTIVE
    };
    tokio::spawn(async move {
        s.run_op(
            id,
            Op {
                action: "rebuild",
                event: "compute_rebuild_instance",
                method: "rebuild",
                args: json!({}),
                vm_state: end,
                error_state: Some(vm::ERROR),
                task_state: task::REBUILDING,
            },
        )
        .await;
    });
    let i = instances::get(&svc.db, &c.i.uuid, false)
        .await?
        .ok_or_else(|| super::servers::not_found(&c.i.uuid))?;
    let mut body = svc.server_body(base, &i, svc.viewer(c.ctx, v)).await?;
    super::views::basic_before_2_75(&mut body, v, v.at_least(2, 54));
    svc.add_server_groups(&mut body, &i, v).await?;
    if let Some(m) = body.as_object_mut() {
        m.remove("OS-EXT-SRV-ATTR:user_data");
    }
    if v.at_least(2, 57) {
        body["user_data"] = json!(i.user_data);
    }
    body["adminPass"] = json!(match args.get("adminPass").and_then(Value::as_str) {
        Some(p) => p.to_string(),
        None => super::servers::random_password(),
    });
    Ok((StatusCode::ACCEPTED, axum::Json(json!({"server": body}))).into_response())
}

async fn resize(c: &Ctx<'_>, args: &Value) -> Result<Response> {
    let svc = c.svc;
    check_lock(svc, c.ctx, &c.i)?;
    let fref = args
        .get("flavorRef")
        .and_then(|f| {
            f.as_str()
                .map(str::to_string)
                .or_else(|| f.as_i64().map(|n| n.to_string()))
        })
        .map(|s| {
            s.trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(&s)
                .to_string()
        })
        .ok_or_else(|| {
            bad("Invalid input for field/attribute resize. 'flavorRef' is a required property")
        })?;
    let new = flavors::get(&svc.db, &fref)
        .await?
        .ok_or_else(|| bad(format!("Unable to find flavor {fref}")))?;
    if new.id == c.i.flavor.id {
        return Err(bad("When resizing, instances must change flavor!"));
    }
    if new.disk < c.i.flavor.disk && new.disk != 0 {
        return Err(bad("Resize error: Unable to resize disk down."));
    }
    if !matches!(c.i.vm_state.as_str(), "active" | "stopped") || c.i.task_state.is_some() {
        return Err(wrong_state("resize", &c.i));
    }
    svc.check_quota(
        &c.i.project_id,
        &c.i.user_id,
        &[
            ("cores", new.vcpus - c.i.flavor.vcpus),
            ("ram", new.ram - c.i.flavor.ram),
        ],
    )
    .await?;
    start_move(c, new, Move::Resize).await
}

/// Record the state to come back to, enter RESIZE_PREP and move in the background.
async fn start_move(c: &Ctx<'_>, flavor: crate::model::Flavor, mv: Move) -> Result<Response> {
    let svc = c.svc;
    let mut inst = c.i.clone();
    inst.system_metadata
        .insert("old_vm_state".into(), json!(c.i.vm_state));
    let sysmeta = inst.system_metadata.clone();
    begin(
        svc,
        &c.i,
        mv.action(),
        &[vm::ACTIVE, vm::STOPPED],
        Some(task::RESIZE_PREP),
        Changes {
            system_metadata: Some(sysmeta),
            ..Default::default()
        },
    )
    .await?;
    svc.start_action(&c.i, mv.action(), c.ctx, c.req).await?;
    let s = svc.clone();
    tokio::spawn(async move { s.do_resize(inst, flavor, mv).await });
    Ok(StatusCode::ACCEPTED.into_response())
}

/// How a server moves.
enum Move {
    Resize,
    Migrate(Option<String>),
}

impl Move {
    fn action(&self) -> &'static str {
        match self {
            Move::Resize => "resize",
            Move::Migrate(_) => "migrate",
        }
    }
    fn migration_type(&self) -> &'static str {
        match self {
            Move::Resize => "resize",
            Move::Migrate(_) => "migration",
        }
    }
    fn is_migrate(&self) -> bool {
        matches!(self, Move::Migrate(_))
    }
    fn target(&self) -> Option<&str> {
        match self {
            Move::Migrate(h) => h.as_deref(),
            Move::Resize => None,
        }
    }
}

/// `migrate` (admin): cold migration to another host (2.56: optionally a named one),
/// then confirm or revert like a resize.
async fn migrate(c: &Ctx<'_>, v: Version, args: &Value) -> Result<Response> {
    let svc = c.svc;
    let target = match args {
        Value::Null => None,
        Value::Object(o) if v.at_least(2, 56) => match o.get("host") {
            None | Some(Value::Null) => None,
            Some(Value::String(h)) if !h.is_empty() => Some(h.clone()),
            Some(_) => return Err(bad("Invalid input for field/attribute host.")),
        },
        _ => return Err(bad("Invalid input for field/attribute migrate.")),
    };
    if let Some(h) = &target {
        if c.i.host.as_deref() == Some(h.as_str()) {
            return Err(bad(format!("The target host can't be the same one: {h}")));
        }
        if misc::service(&svc.db, h, crate::scheduler::COMPUTE_BINARY)
            .await?
            .is_none()
        {
            return Err(Error::NotFound(format!(
                "Compute host {h} could not be found."
            )));
        }
    }
    if !matches!(c.i.vm_state.as_str(), "active" | "stopped") || c.i.task_state.is_some() {
        return Err(wrong_state("migrate", &c.i));
    }
    start_move(c, c.i.flavor.clone(), Move::Migrate(target)).await
}

impl ComputeService {
    /// Resize failed or was reverted: the instance takes its old allocations back
    /// from the migration consumer (the instance holds none at this point).
    async fn give_back_allocations(&self, i: &Instance, migration: &str) {
        if let Err(e) = self
            .placement
            .move_allocations(migration, &i.uuid, "INSTANCE", &i.project_id, &i.user_id)
            .await
        {
            tracing::warn!(instance = %i.uuid, error = %e, "cannot give allocations back");
        }
        let _ = self.placement.release(migration).await;
    }

    /// Resize: move the old allocations to a migration record, claim the new flavor,
    /// apply it on the host (same host or another), then wait for confirm/revert.
    /// Resize (a new flavor, any host) or cold migrate (same flavor, another host, or
    /// `target` when an admin names one): both end in VERIFY_RESIZE.
    async fn do_resize(self: Arc<Self>, i: Instance, new: crate::model::Flavor, mv: Move) {
        let action = mv.action();
        let start = self.now();
        let fail = |msg: String| {
            let s = self.clone();
            let id = i.uuid.clone();
            let old_state = i.vm_state.clone();
            async move {
                let ch = Changes {
                    vm_state: Some(old_state),
                    task_state: Some(None),
                    ..Default::default()
                };
                let _ = instances::update(&s.db, &id, &ch, &[], &[], s.now()).await;
                s.event(&id, action, "compute_prep_resize", None, start, Err(&msg))
                    .await;
            }
        };
        let Some(src) = i.host.clone() else {
            return fail("instance has no host".into()).await;
        };
        let now = self.now();
        let mut mig = Migration {
            id: 0,
            uuid: uuid::Uuid::new_v4().to_string(),
            instance_uuid: i.uuid.clone(),
            migration_type: mv.migration_type().into(),
            status: "pre-migrating".into(),
            source_compute: Some(src.clone()),
            dest_compute: None,
            source_node: i.node.clone(),
            dest_node: None,
            old_flavor_id: Some(i.flavor.id.clone()),
            new_flavor_id: Some(new.id.clone()),
            project_id: Some(i.project_id.clone()),
            user_id: Some(i.user_id.clone()),
            created_at: now,
            updated_at: now,
        };
        if let Err(e) = misc::insert_migration(&self.db, &mut mig).await {
            return fail(e.to_string()).await;
        }
        // Old allocations move to the migration; the instance claims the new flavor.
        let moved = match self
            .placement
            .move_allocations(&i.uuid, &mig.uuid, "MIGRATION", &i.project_id, &i.user_id)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::Conflict("cannot move allocations".into())),
            Err(e) => Err(Error::from(e)),
        };
        if let Err(e) = moved {
            let _ = misc::set_migration_status(&self.db, &mig.uuid, "error", self.now()).await;
            return fail(e.to_string()).await;
        }
        let hints = i.request_spec["scheduler_hints"].clone();
        let req = Request {
            instance_uuid: &i.uuid,
            project_id: &i.project_id,
            user_id: &i.user_id,
            flavor: &new,
            image_meta: &i.image_meta,
            availability_zone: i.availability_zone.as_deref(),
            forced_host: mv.target(),
            hints: &hints,
            ignore_hosts: if mv.is_migrate() {
                std::slice::from_ref(&src)
            } else {
                &[]
            },
        };
        let sel = match self.select(&req).await {
            Ok((s, _)) => s,
            Err(e) => {
                // Give the old allocations back.
                self.give_back_allocations(&i, &mig.uuid).await;
                let _ = misc::set_migration_status(&self.db, &mig.uuid, "error", self.now()).await;
                return fail(e.to_string()).await;
            }
        };
        let dest = sel.host.clone();
        let mut spec = Self::guest_spec(&i);
        let r = if dest == src {
            self.rpc
                .call_agent(
                    &src,
                    "resize",
                    json!({"spec": spec, "flavor": new}),
                    Some(self.long_timeout()),
                )
                .await
        } else {
            spec.flavor = new.clone();
            match self
                .rpc
                .call_agent(
                    &dest,
                    "spawn",
                    json!({"spec": spec}),
                    Some(self.long_timeout()),
                )
                .await
            {
                Ok(v) => {
                    let _ = self
                        .rpc
                        .call_agent(
                            &src,
                            "power_off",
                            json!({"uuid": i.uuid, "timeout": 10}),
                            Some(self.long_timeout()),
                        )
                        .await;
                    Ok(v)
                }
                Err(e) => Err(e),
            }
        };
        if let Err(e) = r {
            let _ = self.placement.release(&i.uuid).await;
            self.give_back_allocations(&i, &mig.uuid).await;
            let _ = misc::set_migration_status(&self.db, &mig.uuid, "error", self.now()).await;
            return fail(e.to_string()).await;
        }
        if sys_str(&i, "old_vm_state").as_deref() == Some(vm::STOPPED) {
            // A stopped server stays stopped on its new flavor (nova's finish_resize).
            let _ = self
                .rpc
                .call_agent(
                    &dest,
                    "power_off",
                    json!({"uuid": i.uuid, "timeout": 0}),
                    Some(self.long_timeout()),
                )
                .await;
        }
        let mut sysmeta = i.system_metadata.clone();
        sysmeta.insert(
            "old_flavor".into(),
            serde_json::to_value(&i.flavor).unwrap_or(Value::Null),
        );
        sysmeta.insert("old_host".into(), json!(src));
        sysmeta.insert("old_node".into(), json!(i.node));
        sysmeta.insert("migration_uuid".into(), json!(mig.uuid));
        let ch = Changes {
            vm_state: Some(vm::RESIZED.into()),
            task_state: Some(None),
            flavor: Some(new.clone()),
            host: Some(Some(dest.clone())),
            node: Some(Some(sel.node.hypervisor_hostname.clone())),
            system_metadata: Some(sysmeta),
            ..Default::default()
        };
        let _ = instances::update(&self.db, &i.uuid, &ch, &[], &[], self.now()).await;
        let _ = sqlx_free_set_dest(&self.db, &mig.uuid, &dest, &sel.node.hypervisor_hostname).await;
        let _ = misc::set_migration_status(&self.db, &mig.uuid, "finished", self.now()).await;
        self.event(
            &i.uuid,
            action,
            "compute_finish_resize",
            Some(&dest),
            start,
            Ok(()),
        )
        .await;
    }
}

async fn sqlx_free_set_dest(db: &db::Db, mig: &str, host: &str, node: &str) -> db::Result<u64> {
    db.q("UPDATE migration SET dest_compute = ?, dest_node = ? WHERE uuid = ?")
        .bind(host)
        .bind(node)
        .bind(mig)
        .execute(db.pool())
        .await
}

fn sys_str(i: &Instance, k: &str) -> Option<String> {
    i.system_metadata
        .get(k)
        .and_then(Value::as_str)
        .map(str::to_string)
}

async fn confirm_resize(c: &Ctx<'_>) -> Result<Response> {
    let svc = c.svc;
    check_lock(svc, c.ctx, &c.i)?;
    if c.i.vm_state != vm::RESIZED || c.i.task_state.is_some() {
        return Err(wrong_state("confirmResize", &c.i));
    }
    let mig = misc::pending_resize(&svc.db, &c.i.uuid)
        .await?
        .ok_or_else(|| bad("Instance has not been resized.".to_string()))?;
    let old_state = sys_str(&c.i, "old_vm_state").unwrap_or_else(|| vm::ACTIVE.into());
    let old_host = sys_str(&c.i, "old_host");
    svc.placement.release(&mig.uuid).await?;
    match old_host.filter(|h| Some(h) != c.i.host.as_ref()) {
        Some(h) => {
            let _ = svc
                .rpc
                .call_agent(&h, "destroy", json!({"uuid": c.i.uuid}), None)
                .await;
        }
        None => {
            if let Some(h) = &c.i.host {
                let _ = svc
                    .rpc
                    .call_agent(h, "confirm_resize", json!({"uuid": c.i.uuid}), None)
                    .await;
            }
        }
    }
    let mut sysmeta: Map<String, Value> = c.i.system_metadata.clone();
    for k in [
        "old_flavor",
        "old_host",
        "old_node",
        "migration_uuid",
        "old_vm_state",
    ] {
        sysmeta.remove(k);
    }
    let end = if old_state == vm::STOPPED {
        vm::STOPPED
    } else {
        vm::ACTIVE
    };
    let ch = Changes {
        vm_state: Some(end.into()),
        system_metadata: Some(sysmeta),
        ..Default::default()
    };
    instances::update(&svc.db, &c.i.uuid, &ch, &[None], &[vm::RESIZED], svc.now()).await?;
    misc::set_migration_status(&svc.db, &mig.uuid, "confirmed", svc.now()).await?;
    svc.start_action(&c.i, "confirmResize", c.ctx, c.req)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn revert_resize(c: &Ctx<'_>) -> Result<Response> {
    let svc = c.svc;
    check_lock(svc, c.ctx, &c.i)?;
    if c.i.vm_state != vm::RESIZED || c.i.task_state.is_some() {
        return Err(wrong_state("revertResize", &c.i));
    }
    let mig = misc::pending_resize(&svc.db, &c.i.uuid)
        .await?
        .ok_or_else(|| bad("Instance has not been resized.".to_string()))?;
    let old: crate::model::Flavor =
        c.i.system_metadata
            .get("old_flavor")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| Error::Internal("resize record lost the old flavor".into()))?;
    begin(
        svc,
        &c.i,
        "revertResize",
        &[vm::RESIZED],
        Some(task::RESIZE_REVERTING),
        Changes::default(),
    )
    .await?;
    svc.start_action(&c.i, "revertResize", c.ctx, c.req).await?;
    let s = svc.clone();
    let i = c.i.clone();
    tokio::spawn(async move {
        let start = s.now();
        let old_host = sys_str(&i, "old_host")
            .or(i.host.clone())
            .unwrap_or_default();
        let cur = i.host.clone().unwrap_or_default();
        let r = if old_host == cur {
            s.rpc
                .call_agent(
                    &cur,
                    "resize",
                    json!({"spec": ComputeService::guest_spec(&i), "flavor": old}),
                    Some(s.long_timeout()),
                )
                .await
                .map(|_| ())
        } else {
            let _ = s
                .rpc
                .call_agent(&cur, "destroy", json!({"uuid": i.uuid}), None)
                .await;
            s.rpc
                .call_agent(
                    &old_host,
                    "power_on",
                    json!({"uuid": i.uuid}),
                    Some(s.long_timeout()),
                )
                .await
                .map(|_| ())
        };
        // Allocations: the instance gets the old ones back from the migration.
        let _ = s.placement.release(&i.uuid).await;
        s.give_back_allocations(&i, &mig.uuid).await;
        let old_state = sys_str(&i, "old_vm_state").unwrap_or_else(|| vm::ACTIVE.into());
        let mut sysmeta = i.system_metadata.clone();
        let old_node = sys_str(&i, "old_node");
        for k in [
            "old_flavor",
            "old_host",
            "old_node",
            "migration_uuid",
            "old_vm_state",
        ] {
            sysmeta.remove(k);
        }
        let ch = Changes {
            vm_state: Some(if old_state == vm::STOPPED {
                vm::STOPPED.into()
            } else {
                vm::ACTIVE.into()
            }),
            task_state: Some(None),
            flavor: Some(old),
            host: Some(Some(old_host.clone())),
            node: Some(old_node),
            system_metadata: Some(sysmeta),
            ..Default::default()
        };
        let _ = instances::update(
            &s.db,
            &i.uuid,
            &ch,
            &[Some(task::RESIZE_REVERTING)],
            &[],
            s.now(),
        )
        .await;
        let _ = misc::set_migration_status(&s.db, &mig.uuid, "reverted", s.now()).await;
        let msg = r.as_ref().err().map(ToString::to_string);
        s.event(
            &i.uuid,
            "revertResize",
            "compute_finish_revert_resize",
            Some(&old_host),
            start,
            match &msg {
                None => Ok(()),
                Some(m) => Err(m.as_str()),
            },
        )
        .await;
    });
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `createBackup`: a snapshot typed as a backup; after it uploads, backups of the same
/// server and type beyond `rotation` are deleted, oldest first.
async fn create_backup(c: &Ctx<'_>, v: Version, base: &str, args: &Value) -> Result<Response> {
    let backup_type = args
        .get("backup_type")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute createBackup. 'backup_type' is a required property")
        })?;
    let rotation = match args.get("rotation") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        None => {
            return Err(bad(
                "Invalid input for field/attribute createBackup. 'rotation' is a required property",
            ));
        }
        _ => None,
    }
    .filter(|r| *r >= 0)
    .ok_or_else(|| {
        bad("Invalid input for field/attribute rotation. Value must be an integer >= 0")
    })?;
    let backup = Backup {
        kind: backup_type.to_string(),
        rotation,
    };
    snapshot(c, v, base, args, Some(backup)).await
}

async fn create_image(c: &Ctx<'_>, v: Version, base: &str, args: &Value) -> Result<Response> {
    snapshot(c, v, base, args, None).await
}

struct Backup {
    kind: String,
    rotation: i64,
}

/// Delete the server's backups of one type beyond `rotation`, oldest first.
async fn rotate_backups(svc: &ComputeService, i: &Instance, b: &Backup, token: &str) {
    let filters = [
        ("instance_uuid", i.uuid.clone()),
        ("image_type", "backup".to_string()),
        ("backup_type", b.kind.clone()),
        ("sort_key", "created_at".to_string()),
        ("sort_dir", "desc".to_string()),
    ];
    let images = match svc.images.list(&filters, token).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(instance = %i.uuid, error = %e, "cannot list backups to rotate");
            return;
        }
    };
    let keep = usize::try_from(b.rotation).unwrap_or(0);
    for img in images.iter().skip(keep) {
        if let Some(id) = img["id"].as_str()
            && let Err(e) = svc.images.delete(id, token).await
        {
            tracing::warn!(image = id, error = %e, "cannot delete an old backup");
        }
    }
}

async fn snapshot(
    c: &Ctx<'_>,
    v: Version,
    base: &str,
    args: &Value,
    backup: Option<Backup>,
) -> Result<Response> {
    let svc = c.svc;
    let action = if backup.is_some() {
        "createBackup"
    } else {
        "createImage"
    };
    let name = args
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty() && n.len() <= 255)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute name. 'name' is a required property")
        })?
        .to_string();
    let md = match args.get("metadata") {
        Some(m) => metadata(m, "metadata")?,
        None => Map::new(),
    };
    if !matches!(
        c.i.vm_state.as_str(),
        "active" | "stopped" | "paused" | "suspended"
    ) || c.i.task_state.is_some()
    {
        return Err(wrong_state(action, &c.i));
    }
    let mut body = json!({
        "name": name,
        "disk_format": "raw",
        "container_format": "bare",
        "visibility": "private",
        "instance_uuid": c.i.uuid,
        "image_type": "snapshot",
        "base_image_ref": c.i.image_ref,
        "owner_project_name": Value::Null,
        "user_id": c.i.user_id,
    });
    if let Some(o) = body.as_object_mut() {
        o.remove("owner_project_name");
        for (k, val) in &md {
            o.insert(k.clone(), val.clone());
        }
        if let Some(min_disk) = c.i.image_meta.get("min_disk").and_then(Value::as_i64) {
            o.insert("min_disk".into(), json!(min_disk.max(c.i.flavor.disk)));
        }
        if let Some(b) = &backup {
            o.insert("image_type".into(), json!("backup"));
            o.insert("backup_type".into(), json!(b.kind));
        }
    }
    let img = svc.images.create(&body, &c.ctx.token).await?;
    let image_id = img["id"].as_str().unwrap_or_default().to_string();
    begin(
        svc,
        &c.i,
        action,
        &[vm::ACTIVE, vm::STOPPED, vm::PAUSED, vm::SUSPENDED],
        Some(if backup.is_some() {
            task::IMAGE_BACKUP
        } else {
            task::IMAGE_SNAPSHOT
        }),
        Changes::default(),
    )
    .await?;
    svc.start_action(&c.i, action, c.ctx, c.req).await?;
    let s = svc.clone();
    let i = c.i.clone();
    let token = c.ctx.token.clone();
    let iid = image_id.clone();
    tokio::spawn(async move {
        let start = s.now();
        let host = i.host.clone().unwrap_or_default();
        let r = s
            .snapshot_to_image(
                &i,
                &iid,
                &token,
                [task::IMAGE_PENDING_UPLOAD, task::IMAGE_UPLOADING],
            )
            .await;
        if r.is_ok()
            && let Some(b) = &backup
        {
            rotate_backups(&s, &i, b, &token).await;
        }
        let ch = Changes {
            task_state: Some(None),
            ..Default::default()
        };
        let _ = instances::update(&s.db, &i.uuid, &ch, &[], &[], s.now()).await;
        let msg = r.as_ref().err().cloned();
        s.event(
            &i.uuid,
            action,
            if backup.is_some() {
                "compute_backup_instance"
            } else {
                "compute_snapshot_instance"
            },
            Some(&host),
            start,
            match &msg {
                None => Ok(()),
                Some(m) => Err(m.as_str()),
            },
        )
        .await;
    });
    let loc = format!("{base}/images/{image_id}");
    if v.at_least(2, 45) {
        return Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"image_id": image_id})),
        )
            .into_response());
    }
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, loc)]).into_response())
}

pub fn routes() -> Routes<Arc<ComputeService>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v2.1/servers/{server_id}/action",
        post(action, "Run a server action")
    );
    let r = api::route!(
        r,
        "/v2.1/servers/{server_id}/diagnostics",
        get(diagnostics, "Show server diagnostics")
    );
    api::route!(
        r,
        "/v2.1/servers/{server_id}/remote-consoles",
        post(remote_consoles, "Create a remote console")
    )
}
