//! The conductor: receives agents' registrations, heartbeats and power reports, and
//! drives every server operation — schedule, claim, ask the agent, record the outcome
//! (states, faults, instance action events). Only the conductor and the API write the
//! compute database.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::agent::{PowerReport, Registration};
use crate::model::{self, ActionEvent, Instance, power, task, vm};
use crate::rpc::Endpoint;
use crate::scheduler::{COMPUTE_BINARY, Request};
use crate::store::instances::{self, Changes};
use crate::store::misc;
use crate::virt::GuestSpec;
use crate::{ComputeService, Error, Result};

/// The conductor's RPC endpoint (topic `conductor`).
pub struct Conductor {
    pub svc: Arc<ComputeService>,
}

#[async_trait]
impl Endpoint for Conductor {
    async fn dispatch(&self, method: &str, args: Value) -> std::result::Result<Value, String> {
        let svc = &self.svc;
        let now = svc.now();
        let r: Result<Value> = async {
            match method {
                "register" => {
                    let reg: Registration = serde_json::from_value(args)
                        .map_err(|e| Error::BadRequest(e.to_string()))?;
                    misc::upsert_service(
                        &svc.db,
                        &reg.host,
                        COMPUTE_BINARY,
                        "compute",
                        &reg.zone,
                        now,
                    )
                    .await?;
                    crate::store::aggregates::sync_zone(&svc.db, &reg.host, &reg.zone).await?;
                    let node = misc::upsert_node(&svc.db, &reg.node, now).await?;
                    tracing::info!(host = %reg.host, node = %node.uuid, "compute host registered");
                    Ok(serde_json::to_value(node).unwrap_or(Value::Null))
                }
                "heartbeat" => {
                    let host = args["host"].as_str().unwrap_or_default();
                    misc::heartbeat(&svc.db, host, COMPUTE_BINARY, now).await?;
                    Ok(Value::Null)
                }
                "instances_on_host" => {
                    let host = args["host"].as_str().unwrap_or_default();
                    let ids: Vec<String> = instances::on_host(&svc.db, host)
                        .await?
                        .into_iter()
                        .filter(|i| i.task_state.is_none() && i.vm_state != vm::BUILDING)
                        .map(|i| i.uuid)
                        .collect();
                    Ok(json!(ids))
                }
                "power_report" => {
                    let rep: PowerReport = serde_json::from_value(args)
                        .map_err(|e| Error::BadRequest(e.to_string()))?;
                    svc.apply_power_report(&rep).await?;
                    Ok(Value::Null)
                }
                other => Err(Error::BadRequest(format!(
                    "unknown conductor method {other}"
                ))),
            }
        }
        .await;
        r.map_err(|e| e.to_string())
    }
}

/// How an operation the agent runs ends, for [`ComputeService::run_op`].
pub struct Op {
    /// The instance action name (`stop`, `reboot`…) its events attach to.
    pub action: &'static str,
    /// The event name (`compute_stop_instance`).
    pub event: &'static str,
    /// Agent method and arguments (the uuid is added).
    pub method: &'static str,
    pub args: Value,
    /// vm_state on success.
    pub vm_state: &'static str,
    /// vm_state on failure (`None`: leave it as it was; nova reverts most actions).
    pub error_state: Option<&'static str>,
    /// The task state the API set; the outcome is written only while it still holds.
    pub task_state: &'static str,
}

impl ComputeService {
    /// How long to wait for an agent operation that may wait for the guest (a clean
    /// shutdown, a snapshot, a disk rebuilt from an image).
    pub fn long_timeout(&self) -> std::time::Duration {
        self.rpc.timeout + std::time::Duration::from_secs(self.cfg.shutdown_timeout + 600)
    }

    /// The driver's view of an instance.
    pub fn guest_spec(i: &Instance) -> GuestSpec {
        GuestSpec {
            uuid: i.uuid.clone(),
            name: i.instance_name(),
            display_name: i.name.clone(),
            hostname: i.hostname.clone(),
            project_id: i.project_id.clone(),
            user_id: i.user_id.clone(),
            flavor: i.flavor.clone(),
            image_ref: i.image_ref.clone(),
            image_meta: i.image_meta.clone(),
            user_data: i.user_data.clone(),
            key_data: i.key_data.clone(),
            key_name: i.key_name.clone(),
            metadata: i.metadata.clone(),
            config_drive: matches!(
                i.config_drive.to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on"
            ),
            availability_zone: i.availability_zone.clone(),
            launch_index: i.launch_index,
            reservation_id: i.reservation_id.clone(),
        }
    }

    /// Record an event of the latest `action` of an instance.
    pub async fn event(
        &self,
        uuid: &str,
        action: &str,
        event: &str,
        host: Option<&str>,
        start: i64,
        outcome: std::result::Result<(), &str>,
    ) {
        let r = async {
            let Some(a) = misc::latest_action(&self.db, uuid, action).await? else {
                return Ok::<(), Error>(());
            };
            let now = self.now();
            let e = ActionEvent {
                event: event.to_string(),
                host: host.map(str::to_string),
                result: Some(if outcome.is_ok() { "Success" } else { "Error" }.to_string()),
                traceback: outcome.err().map(str::to_string),
                start_time: start,
                finish_time: Some(now),
            };
            misc::add_event(&self.db, &a.id, &e, now).await?;
            if outcome.is_err() {
                misc::set_action_message(&self.db, &a.id, "Error", now).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = r {
            tracing::warn!(instance = uuid, error = %e, "cannot record instance action event");
        }
        if self.cfg.notifications
            && let Ok(Some(i)) = instances::get(&self.db, uuid, true).await
        {
            let phase = if outcome.is_ok() { "end" } else { "error" };
            self.notify_instance(&i, action, phase, outcome.err()).await;
        }
    }

    async fn fault(&self, uuid: &str, code: i64, message: &str, details: &str) {
        let f = model::Fault {
            code,
            message: message.to_string(),
            details: details.to_string(),
            created_at: self.now(),
        };
        if let Err(e) = instances::set_fault(&self.db, uuid, &f).await {
            tracing::warn!(instance = uuid, error = %e, "cannot record fault");
        }
    }

    /// Schedule and build one instance, retrying on alternates; ends ACTIVE or ERROR.
    pub async fn build(self: &Arc<Self>, uuid: String) {
        let start = self.now();
        let mut tried: Vec<String> = Vec::new();
        let mut last_error = String::new();
        for attempt in 0..self.cfg.max_attempts.max(1) {
            let Ok(Some(inst)) = instances::get(&self.db, &uuid, false).await else {
                return; // deleted while building
            };
            let hints = inst.request_spec["scheduler_hints"].clone();
            let forced = inst.request_spec["forced_host"]
                .as_str()
                .map(str::to_string);
            let req = Request {
                instance_uuid: &uuid,
                project_id: &inst.project_id,
                user_id: &inst.user_id,
                flavor: &inst.flavor,
                image_meta: &inst.image_meta,
                availability_zone: inst.availability_zone.as_deref(),
                forced_host: forced.as_deref(),
                hints: &hints,
                ignore_hosts: &tried,
            };
            let sel = match self.select(&req).await {
                Ok((s, _alternates)) => s,
                Err(e) => {
                    let msg = if attempt == 0 {
                        e.to_string()
                    } else {
                        format!(
                            "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance {uuid}."
                        )
                    };
                    self.event(
                        &uuid,
                        "create",
                        "conductor_schedule_and_build_instances",
                        None,
                        start,
                        Err(&msg),
                    )
                    .await;
                    self.build_failed(
                        &uuid,
                        &msg,
                        if last_error.is_empty() {
                            &msg
                        } else {
                            &last_error
                        },
                    )
                    .await;
                    return;
                }
            };
            let host = sel.host.clone();
            let changes = Changes {
                host: Some(Some(host.clone())),
                node: Some(Some(sel.node.hypervisor_hostname.clone())),
                task_state: Some(Some(task::SPAWNING.into())),
                availability_zone: Some(
                    inst.availability_zone
                        .clone()
                        .or_else(|| Some(self.cfg.default_availability_zone.clone())),
                ),
                ..Default::default()
            };
            if !instances::update(
                &self.db,
                &uuid,
                &changes,
                &[Some(task::SCHEDULING), Some(task::SPAWNING)],
                &[vm::BUILDING],
                self.now(),
            )
            .await
            .unwrap_or(false)
            {
                let _ = self.placement.release(&uuid).await;
                return; // deleted meanwhile
            }
            let spawn_start = self.now();
            let spec = Self::guest_spec(&inst);
            let r = self
                .rpc
                .call_agent(&host, "spawn", json!({"spec": spec}), None)
                .await;
            match r {
                Ok(_) => {
                    self.note_build_success(&host);
                    let now = self.now();
                    let done = Changes {
                        vm_state: Some(vm::ACTIVE.into()),
                        task_state: Some(None),
                        power_state: Some(power::RUNNING),
                        launched_at: Some(Some(now)),
                        ..Default::default()
                    };
                    let ok = instances::update(
                        &self.db,
                        &uuid,
                        &done,
                        &[Some(task::SPAWNING)],
                        &[vm::BUILDING],
                        now,
                    )
                    .await
                    .unwrap_or(false);
                    self.event(
                        &uuid,
                        "create",
                        "compute__do_build_and_run_instance",
                        Some(&host),
                        spawn_start,
                        Ok(()),
                    )
                    .await;
                    if !ok {
                        // Deleted during the build: take the guest down again.
                        let _ = self
                            .rpc
                            .call_agent(&host, "destroy", json!({"uuid": uuid}), None)
                            .await;
                        let _ = self.placement.release(&uuid).await;
                    }
                    return;
                }
                Err(e) => {
                    last_error = e.to_string();
                    tracing::warn!(instance = %uuid, host = %host, error = %e, "build failed; rescheduling");
                    self.note_build_failure(&host);
                    self.event(
                        &uuid,
                        "create",
                        "compute__do_build_and_run_instance",
                        Some(&host),
                        spawn_start,
                        Err(&last_error),
                    )
                    .await;
                    let _ = self
                        .rpc
                        .call_agent(
                            &host,
                            "destroy",
                            json!({"uuid": uuid}),
                            Some(Duration::from_secs(10)),
                        )
                        .await;
                    let _ = self.placement.release(&uuid).await;
                    let back = Changes {
                        host: Some(None),
                        node: Some(None),
                        task_state: Some(Some(task::SCHEDULING.into())),
                        ..Default::default()
                    };
                    let _ = instances::update(
                        &self.db,
                        &uuid,
                        &back,
                        &[Some(task::SPAWNING)],
                        &[vm::BUILDING],
                        self.now(),
                    )
                    .await;
                    tried.push(host);
                }
            }
        }
        let msg = format!(
            "Exceeded maximum number of retries. Exceeded max scheduling attempts {} for instance {uuid}. Last exception: {last_error}",
            self.cfg.max_attempts
        );
        self.build_failed(&uuid, &msg, &last_error).await;
    }

    async fn build_failed(&self, uuid: &str, message: &str, details: &str) {
        let _ = self.placement.release(uuid).await;
        self.fault(uuid, 500, message, details).await;
        let c = Changes {
            vm_state: Some(vm::ERROR.into()),
            task_state: Some(None),
            power_state: Some(power::NOSTATE),
            ..Default::default()
        };
        let _ = instances::update(&self.db, uuid, &c, &[], &[], self.now()).await;
    }

    /// Run an operation on the instance's host and record the outcome.
    pub async fn run_op(self: &Arc<Self>, uuid: String, op: Op) {
        let start = self.now();
        let Ok(Some(inst)) = instances::get(&self.db, &uuid, false).await else {
            return;
        };
        let Some(host) = inst.host.clone() else {
            return;
        };
        let mut args = op.args.clone();
        args["uuid"] = json!(uuid);
        if matches!(op.method, "rebuild" | "rescue") {
            args["spec"] = json!(Self::guest_spec(&inst));
        }
        let r = self
            .rpc
            .call_agent(&host, op.method, args, Some(self.long_timeout()))
            .await;
        let now = self.now();
        match r {
            Ok(_) => {
                let c = Changes {
                    vm_state: Some(op.vm_state.into()),
                    task_state: Some(None),
                    power_state: Some(crate::virt::running(op.vm_state)),
                    launched_at: (op.method == "rebuild").then_some(Some(now)),
                    ..Default::default()
                };
                let _ =
                    instances::update(&self.db, &uuid, &c, &[Some(op.task_state)], &[], now).await;
                self.event(&uuid, op.action, op.event, Some(&host), start, Ok(()))
                    .await;
            }
            Err(e) => {
                let msg = e.to_string();
                tracing::warn!(instance = %uuid, op = op.method, error = %msg, "operation failed");
                let c = Changes {
                    vm_state: op.error_state.map(str::to_string),
                    task_state: Some(None),
                    ..Default::default()
                };
                let _ =
                    instances::update(&self.db, &uuid, &c, &[Some(op.task_state)], &[], now).await;
                if op.error_state == Some(vm::ERROR) {
                    self.fault(&uuid, 500, &msg, &msg).await;
                }
                self.event(&uuid, op.action, op.event, Some(&host), start, Err(&msg))
                    .await;
            }
        }
    }

    /// Shelve offload: the guest leaves its host and the resources go back to
    /// placement; the server keeps its record as SHELVED_OFFLOADED.
    pub async fn offload(self: &Arc<Self>, uuid: String, action: &str) {
        let start = self.now();
        let Ok(Some(inst)) = instances::get(&self.db, &uuid, false).await else {
            return;
        };
        let mut result: std::result::Result<(), String> = Ok(());
        if let Some(host) = &inst.host
            && let Err(e) = self
                .rpc
                .call_agent(host, "destroy", json!({"uuid": uuid}), None)
                .await
        {
            result = Err(e.to_string());
        }
        if result.is_ok()
            && let Err(e) = self.placement.release(&uuid).await
        {
            result = Err(e.to_string());
        }
        let c = match &result {
            Ok(()) => Changes {
                vm_state: Some(vm::SHELVED_OFFLOADED.into()),
                task_state: Some(None),
                power_state: Some(power::NOSTATE),
                host: Some(None),
                node: Some(None),
                ..Default::default()
            },
            Err(_) => Changes {
                task_state: Some(None),
                ..Default::default()
            },
        };
        let _ = instances::update(
            &self.db,
            &uuid,
            &c,
            &[Some(task::SHELVING_OFFLOADING)],
            &[],
            self.now(),
        )
        .await;
        let err = result.as_ref().err().map(String::as_str);
        self.event(
            &uuid,
            action,
            "compute_shelve_offload_instance",
            inst.host.as_deref(),
            start,
            err.map_or(Ok(()), Err),
        )
        .await;
    }

    /// Unshelve an offloaded server: schedule it again (a new claim) and spawn it on
    /// the chosen host. Nothing fits: it stays SHELVED_OFFLOADED with the event's
    /// error; the spawn fails: ERROR with a fault, allocations released.
    pub async fn unshelve_offloaded(
        self: &Arc<Self>,
        uuid: String,
        zone: Option<String>,
        token: String,
    ) {
        let start = self.now();
        let Ok(Some(inst)) = instances::get(&self.db, &uuid, false).await else {
            return;
        };
        let hints = inst.request_spec["scheduler_hints"].clone();
        let zone = zone.or_else(|| inst.availability_zone.clone());
        let req = Request {
            instance_uuid: &uuid,
            project_id: &inst.project_id,
            user_id: &inst.user_id,
            flavor: &inst.flavor,
            image_meta: &inst.image_meta,
            availability_zone: zone.as_deref(),
            forced_host: None,
            hints: &hints,
            ignore_hosts: &[],
        };
        let event = "compute_unshelve_instance";
        let expect = [Some(task::UNSHELVING), Some(task::SPAWNING)];
        let sel = match self.select(&req).await {
            Ok((s, _)) => s,
            Err(e) => {
                let msg = e.to_string();
                let c = Changes {
                    task_state: Some(None),
                    ..Default::default()
                };
                let _ = instances::update(&self.db, &uuid, &c, &expect, &[], self.now()).await;
                self.event(&uuid, "unshelve", event, None, start, Err(&msg))
                    .await;
                return;
            }
        };
        let host = sel.host.clone();
        let placed = Changes {
            host: Some(Some(host.clone())),
            node: Some(Some(sel.node.hypervisor_hostname.clone())),
            task_state: Some(Some(task::SPAWNING.into())),
            availability_zone: Some(zone.clone()),
            ..Default::default()
        };
        let _ = instances::update(&self.db, &uuid, &placed, &expect, &[], self.now()).await;
        // The guest comes back from its shelved snapshot, which is then deleted.
        let shelved = inst
            .system_metadata
            .get("shelved_image_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut spec = Self::guest_spec(&inst);
        if let Some(img) = &shelved {
            spec.image_ref = img.clone();
        }
        let r = self
            .rpc
            .call_agent(&host, "spawn", json!({"spec": spec}), None)
            .await;
        let now = self.now();
        match r {
            Ok(_) => {
                let mut sysmeta = inst.system_metadata.clone();
                sysmeta.remove("shelved_image_id");
                sysmeta.remove("shelved_host");
                if let Some(img) = &shelved
                    && let Err(e) = self.images.delete(img, &token).await
                {
                    tracing::warn!(image = %img, error = %e, "cannot delete the shelved snapshot");
                }
                let c = Changes {
                    vm_state: Some(vm::ACTIVE.into()),
                    task_state: Some(None),
                    power_state: Some(power::RUNNING),
                    system_metadata: Some(sysmeta),
                    ..Default::default()
                };
                let _ = instances::update(&self.db, &uuid, &c, &expect, &[], now).await;
                self.event(&uuid, "unshelve", event, Some(&host), start, Ok(()))
                    .await;
            }
            Err(e) => {
                let msg = e.to_string();
                let _ = self.placement.release(&uuid).await;
                self.fault(&uuid, 500, &msg, &msg).await;
                let c = Changes {
                    vm_state: Some(vm::ERROR.into()),
                    task_state: Some(None),
                    power_state: Some(power::NOSTATE),
                    ..Default::default()
                };
                let _ = instances::update(&self.db, &uuid, &c, &expect, &[], now).await;
                self.event(&uuid, "unshelve", event, Some(&host), start, Err(&msg))
                    .await;
            }
        }
    }

    /// Servers in `vm_state` with no task whose system-metadata timestamp `key` is at
    /// least `age_s` seconds old, each moved to `task` (guarded: a request that got
    /// there first wins). A missing timestamp counts as old.
    async fn claim_aged(&self, vm_state: &str, key: &str, age_s: i64, task: &str) -> Vec<String> {
        let cutoff = self.now() - age_s.saturating_mul(1_000_000);
        let found = match instances::idle_in_state(&self.db, vm_state).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(vm_state, error = %e, "periodic task cannot list servers");
                return Vec::new();
            }
        };
        let c = Changes {
            task_state: Some(Some(task.into())),
            ..Default::default()
        };
        let mut claimed = Vec::new();
        for i in found {
            let at = i
                .system_metadata
                .get(key)
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if at > cutoff {
                continue;
            }
            if let Ok(true) =
                instances::update(&self.db, &i.uuid, &c, &[None], &[vm_state], self.now()).await
            {
                claimed.push(i.uuid);
            }
        }
        claimed
    }

    /// nova's `_poll_shelved_instances`: servers shelved longer than a positive
    /// `[DEFAULT] shelved_offload_time` leave their host.
    pub async fn offload_old_shelved(self: &Arc<Self>) {
        let age = self.cfg.shelved_offload_time;
        if age <= 0 {
            return;
        }
        for uuid in self
            .claim_aged(vm::SHELVED, "shelved_at", age, task::SHELVING_OFFLOADING)
            .await
        {
            tracing::info!(instance = %uuid, "shelved longer than shelved_offload_time: offloading");
            self.offload(uuid, "shelve").await;
        }
    }

    /// nova's `_reclaim_queued_deletes`: soft-deleted servers older than `[DEFAULT]
    /// reclaim_instance_interval` are deleted for good.
    pub async fn reclaim_soft_deleted(self: &Arc<Self>) {
        let age = self.cfg.reclaim_instance_interval;
        if age <= 0 {
            return;
        }
        for uuid in self
            .claim_aged(vm::SOFT_DELETED, "soft_deleted_at", age, task::DELETING)
            .await
        {
            tracing::info!(instance = %uuid, "reclaiming soft-deleted instance");
            self.destroy(uuid).await;
        }
    }

    /// Tear a server down: guest destroyed on its host, allocations released, record
    /// marked deleted.
    pub async fn destroy(self: &Arc<Self>, uuid: String) {
        let start = self.now();
        let Ok(Some(inst)) = instances::get(&self.db, &uuid, false).await else {
            return;
        };
        // Its console tokens die with it.
        let tokens = crate::consoles::SqlTokenStore {
            db: self.db.clone(),
        };
        let _ = console_proxy::TokenStore::delete_for_instance(&tokens, &uuid).await;
        let mut result: std::result::Result<(), String> = Ok(());
        if let Some(host) = &inst.host
            && let Err(e) = self
                .rpc
                .call_agent(host, "destroy", json!({"uuid": uuid}), None)
                .await
        {
            // A dead host cannot hold the record hostage (nova's local delete).
            tracing::warn!(instance = %uuid, host = %host, error = %e, "guest not destroyed on its host; deleting the record anyway");
            result = Err(e.to_string());
        }

        if let Err(e) = self.placement.release(&uuid).await {
            tracing::warn!(instance = %uuid, error = %e, "cannot release allocations");
        }
        let now = self.now();
        let c = Changes {
            vm_state: Some(vm::DELETED.into()),
            task_state: Some(None),
            power_state: Some(power::NOSTATE),
            terminated_at: Some(Some(now)),
            deleted_at: Some(now),
            ..Default::default()
        };
        let _ = instances::update(&self.db, &uuid, &c, &[], &[], now).await;
        self.event(
            &uuid,
            "delete",
            "compute_terminate_instance",
            inst.host.as_deref(),
            start,
            result.as_ref().map(|_| ()).map_err(String::as_str),
        )
        .await;
    }

    /// Apply what an agent observed: guests that stopped become SHUTOFF, vanished ones
    /// SHUTOFF with power state NOSTATE (nova's power-state sync).
    pub async fn apply_power_report(&self, rep: &PowerReport) -> Result<()> {
        for (uuid, state) in &rep.states {
            let Some(inst) = instances::get(&self.db, uuid, false).await? else {
                continue;
            };
            if inst.task_state.is_some() || inst.host.as_deref() != Some(rep.host.as_str()) {
                continue;
            }
            let observed = state.unwrap_or(power::NOSTATE);
            if observed == inst.power_state {
                continue;
            }
            let mut c = Changes {
                power_state: Some(observed),
                ..Default::default()
            };
            let stopped = matches!(observed, power::SHUTDOWN | power::NOSTATE | power::CRASHED);
            if inst.vm_state == vm::ACTIVE && stopped {
                c.vm_state = Some(vm::STOPPED.into());
                let now = self.now();
                let a = model::Action {
                    id: uuid::Uuid::new_v4().to_string(),
                    instance_uuid: uuid.clone(),
                    action: "stop".into(),
                    request_id: format!("req-{}", uuid::Uuid::new_v4()),
                    user_id: None,
                    project_id: Some(inst.project_id.clone()),
                    message: None,
                    start_time: now,
                    updated_at: now,
                };
                misc::start_action(&self.db, &a).await?;
                self.event(
                    uuid,
                    "stop",
                    "compute_sync_power_state",
                    Some(&rep.host),
                    now,
                    Ok(()),
                )
                .await;
                tracing::info!(instance = %uuid, power_state = observed, "guest stopped on its own: SHUTOFF");
            }
            instances::update(&self.db, uuid, &c, &[None], &[], self.now()).await?;
        }
        Ok(())
    }
}
