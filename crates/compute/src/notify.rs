//! nova's versioned notifications on the bus (`instance.<action>.start/end/error`,
//! oslo's messagingv2 envelope, on the bus's notification topics): what telemetry and
//! other listeners consume. Publishing never fails an operation.

use serde_json::{Value, json};

use crate::model::{Instance, iso_micro, power};
use crate::{ComputeService, hostname};

/// nova's event name for an instance action.
pub fn event_name(action: &str) -> String {
    let n = match action {
        "stop" => "power_off",
        "start" => "power_on",
        "confirmResize" => "resize_confirm",
        "revertResize" => "resize_revert",
        "migrate" => "resize",
        "createImage" | "createBackup" => "snapshot",
        "shelveOffload" => "shelve_offload",
        "changePassword" => "update",
        other => return format!("instance.{}", other.to_ascii_lowercase()),
    };
    format!("instance.{n}")
}

fn power_name(p: i64) -> &'static str {
    match p {
        power::RUNNING => "running",
        power::PAUSED => "paused",
        power::SHUTDOWN => "shutdown",
        power::CRASHED => "crashed",
        power::SUSPENDED => "suspended",
        _ => "pending",
    }
}

/// nova's `InstanceActionPayload` (the fields consumers use).
pub fn payload(i: &Instance, fault: Option<&str>) -> Value {
    let f = &i.flavor;
    json!({
        "nova_object.name": "InstanceActionPayload",
        "nova_object.namespace": "nova",
        "nova_object.version": "1.8",
        "nova_object.data": {
            "uuid": i.uuid,
            "display_name": i.name,
            "host_name": i.hostname,
            "host": i.host,
            "node": i.node,
            "state": i.vm_state,
            "task_state": i.task_state,
            "power_state": power_name(i.power_state),
            "tenant_id": i.project_id,
            "user_id": i.user_id,
            "image_uuid": i.image_ref,
            "availability_zone": i.availability_zone,
            "key_name": i.key_name,
            "metadata": i.metadata,
            "created_at": iso_micro(i.created_at),
            "launched_at": i.launched_at.map(iso_micro),
            "terminated_at": i.terminated_at.map(iso_micro),
            "flavor": {
                "nova_object.name": "FlavorPayload",
                "nova_object.namespace": "nova",
                "nova_object.version": "1.4",
                "nova_object.data": {
                    "flavorid": f.id, "name": f.name, "vcpus": f.vcpus, "memory_mb": f.ram,
                    "root_gb": f.disk, "ephemeral_gb": f.ephemeral, "swap": f.swap,
                    "extra_specs": f.extra_specs,
                },
            },
            "fault": fault.map(|m| json!({
                "nova_object.name": "ExceptionPayload",
                "nova_object.namespace": "nova",
                "nova_object.version": "1.1",
                "nova_object.data": {"exception_message": m},
            })),
        },
    })
}

impl ComputeService {
    /// Publish `instance.<action>.<phase>` (`start`, `end` or `error`) for a server.
    pub async fn notify_instance(
        &self,
        i: &Instance,
        action: &str,
        phase: &str,
        fault: Option<&str>,
    ) {
        if !self.cfg.notifications {
            return;
        }
        let publisher = match &i.host {
            Some(h) => format!("nova-compute:{h}"),
            None => format!("nova-api:{}", hostname()),
        };
        let event = format!("{}.{phase}", event_name(action));
        let body = payload(i, fault);
        let n = if phase == "error" {
            bus::Notification::error(&publisher, &event, body)
        } else {
            bus::Notification::info(&publisher, &event, body)
        };
        if let Err(e) = self.rpc.bus.notify(n).await {
            tracing::debug!(event = %event, error = %e, "notification not published");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn actions_are_published_on_the_bus() {
        let bus = bus::Bus::memory();
        let mut rx = bus
            .subscribe_notifications("notifications", "")
            .await
            .unwrap();
        let session = Arc::new(
            auth::ServiceSession::new(auth::ServiceCredentials {
                auth_url: "http://127.0.0.1:1/v3".into(),
                username: "u".into(),
                password: "p".into(),
                project_name: "service".into(),
                user_domain_name: "Default".into(),
                project_domain_name: "Default".into(),
            })
            .unwrap(),
        );
        let endpoint = |t| crate::clients::Endpoint {
            service_type: t,
            url: Some("http://127.0.0.1:1".into()),
            interface: "internal".into(),
            region: None,
        };
        let mut cfg = crate::ComputeConfig::for_data_dir(std::path::Path::new("/nonexistent"));
        cfg.database_url = "sqlite::memory:".into();
        let rpc = crate::rpc::Rpc {
            bus: bus.clone(),
            timeout: std::time::Duration::from_secs(1),
        };
        let svc = ComputeService::open(
            cfg,
            rpc,
            crate::clients::Placement::new(crate::clients::Rest::new(
                session.clone(),
                endpoint("placement"),
            )),
            crate::clients::Images::new(crate::clients::Rest::new(session, endpoint("image"))),
        )
        .await
        .unwrap();
        let mut i = crate::store::tests::instance("u-1", "p-1", 1);
        i.host = Some("node-1".into());
        svc.notify_instance(&i, "stop", "start", None).await;
        svc.notify_instance(&i, "stop", "error", Some("boom")).await;
        let n = rx.recv().await.unwrap();
        assert_eq!(n.event_type, "instance.power_off.start");
        assert_eq!(n.publisher_id, "nova-compute:node-1");
        assert_eq!(n.payload["nova_object.data"]["uuid"], "u-1");
        let n = rx.recv().await.unwrap();
        assert_eq!(n.event_type, "instance.power_off.error");
        assert_eq!(n.priority, "ERROR");
        assert_eq!(
            n.payload["nova_object.data"]["fault"]["nova_object.data"]["exception_message"],
            "boom"
        );
    }

    #[test]
    fn nova_event_names() {
        assert_eq!(event_name("create"), "instance.create");
        assert_eq!(event_name("stop"), "instance.power_off");
        assert_eq!(event_name("createImage"), "instance.snapshot");
        assert_eq!(event_name("confirmResize"), "instance.resize_confirm");
        assert_eq!(event_name("shelveOffload"), "instance.shelve_offload");
    }
}
