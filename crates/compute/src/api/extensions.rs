//! `/extensions`: the legacy extension list nova still publishes for old clients (each
//! alias names an API area that v2.1 always includes).

use std::sync::Arc;

use api::openapi::Routes;
use auth::Context;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::St;
use crate::{ComputeService, Error, Result};

/// (alias, name, updated)
const EXTENSIONS: &[(&str, &str, &str)] = &[
    ("NMN", "Multinic", "2014-12-03T00:00:00Z"),
    ("OS-DCF", "DiskConfig", "2014-12-03T00:00:00Z"),
    (
        "OS-EXT-AZ",
        "ExtendedAvailabilityZone",
        "2014-12-03T00:00:00Z",
    ),
    ("OS-EXT-IMG-SIZE", "ImageSize", "2014-12-03T00:00:00Z"),
    ("OS-EXT-IPS", "ExtendedIps", "2014-12-03T00:00:00Z"),
    ("OS-EXT-IPS-MAC", "ExtendedIpsMac", "2014-12-03T00:00:00Z"),
    (
        "OS-EXT-SRV-ATTR",
        "ExtendedServerAttributes",
        "2014-12-03T00:00:00Z",
    ),
    ("OS-EXT-STS", "ExtendedStatus", "2014-12-03T00:00:00Z"),
    ("OS-FLV-DISABLED", "FlavorDisabled", "2014-12-03T00:00:00Z"),
    ("OS-FLV-EXT-DATA", "FlavorExtraData", "2014-12-03T00:00:00Z"),
    ("OS-SCH-HNT", "SchedulerHints", "2014-12-03T00:00:00Z"),
    ("OS-SRV-USG", "ServerUsage", "2014-12-03T00:00:00Z"),
    ("os-access-ips", "AccessIPs", "2014-12-03T00:00:00Z"),
    ("os-admin-actions", "AdminActions", "2014-12-03T00:00:00Z"),
    ("os-admin-password", "AdminPassword", "2014-12-03T00:00:00Z"),
    ("os-agents", "Agents", "2014-12-03T00:00:00Z"),
    ("os-aggregates", "Aggregates", "2014-12-03T00:00:00Z"),
    (
        "os-assisted-volume-snapshots",
        "AssistedVolumeSnapshots",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-attach-interfaces",
        "AttachInterfaces",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-availability-zone",
        "AvailabilityZone",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-baremetal-ext-status",
        "BareMetalExtStatus",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-baremetal-nodes",
        "BareMetalNodes",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-block-device-mapping",
        "BlockDeviceMapping",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-block-device-mapping-v2-boot",
        "BlockDeviceMappingV2Boot",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-cell-capacities",
        "CellCapacities",
        "2014-12-03T00:00:00Z",
    ),
    ("os-cells", "Cells", "2014-12-03T00:00:00Z"),
    ("os-certificates", "Certificates", "2014-12-03T00:00:00Z"),
    ("os-cloudpipe", "Cloudpipe", "2014-12-03T00:00:00Z"),
    (
        "os-cloudpipe-update",
        "CloudpipeUpdate",
        "2014-12-03T00:00:00Z",
    ),
    ("os-config-drive", "ConfigDrive", "2014-12-03T00:00:00Z"),
    (
        "os-console-auth-tokens",
        "ConsoleAuthTokens",
        "2014-12-03T00:00:00Z",
    ),
    ("os-console-output", "ConsoleOutput", "2014-12-03T00:00:00Z"),
    ("os-consoles", "Consoles", "2014-12-03T00:00:00Z"),
    ("os-create-backup", "CreateBackup", "2014-12-03T00:00:00Z"),
    (
        "os-create-server-ext",
        "Createserverext",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-deferred-delete",
        "DeferredDelete",
        "2014-12-03T00:00:00Z",
    ),
    ("os-evacuate", "Evacuate", "2014-12-03T00:00:00Z"),
    (
        "os-extended-evacuate-find-host",
        "ExtendedEvacuateFindHost",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-extended-floating-ips",
        "ExtendedFloatingIps",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-extended-hypervisors",
        "ExtendedHypervisors",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-extended-networks",
        "ExtendedNetworks",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-extended-quotas",
        "ExtendedQuotas",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-extended-rescue-with-image",
        "ExtendedRescueWithImage",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-extended-services",
        "ExtendedServices",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-extended-services-delete",
        "ExtendedServicesDelete",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-extended-status",
        "ExtendedStatus",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-extended-volumes",
        "ExtendedVolumes",
        "2014-12-03T00:00:00Z",
    ),
    ("os-fixed-ips", "FixedIPs", "2014-12-03T00:00:00Z"),
    ("os-flavor-access", "FlavorAccess", "2014-12-03T00:00:00Z"),
    (
        "os-flavor-extra-specs",
        "FlavorExtraSpecs",
        "2014-12-03T00:00:00Z",
    ),
    ("os-flavor-manage", "FlavorManage", "2014-12-03T00:00:00Z"),
    ("os-flavor-rxtx", "FlavorRxtx", "2014-12-03T00:00:00Z"),
    ("os-flavor-swap", "FlavorSwap", "2014-12-03T00:00:00Z"),
    (
        "os-floating-ip-dns",
        "FloatingIpDns",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-floating-ip-pools",
        "FloatingIpPools",
        "2014-12-03T00:00:00Z",
    ),
    ("os-floating-ips", "FloatingIps", "2014-12-03T00:00:00Z"),
    (
        "os-floating-ips-bulk",
        "FloatingIpsBulk",
        "2014-12-03T00:00:00Z",
    ),
    ("os-fping", "Fping", "2014-12-03T00:00:00Z"),
    (
        "os-hide-server-addresses",
        "HideServerAddresses",
        "2014-12-03T00:00:00Z",
    ),
    ("os-hosts", "Hosts", "2014-12-03T00:00:00Z"),
    (
        "os-hypervisor-status",
        "HypervisorStatus",
        "2014-12-03T00:00:00Z",
    ),
    ("os-hypervisors", "Hypervisors", "2014-12-03T00:00:00Z"),
    (
        "os-instance-actions",
        "InstanceActions",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-instance_usage_audit_log",
        "OSInstanceUsageAuditLog",
        "2014-12-03T00:00:00Z",
    ),
    ("os-keypairs", "Keypairs", "2014-12-03T00:00:00Z"),
    ("os-lock-server", "LockServer", "2014-12-03T00:00:00Z"),
    ("os-migrate-server", "MigrateServer", "2014-12-03T00:00:00Z"),
    ("os-migrations", "Migrations", "2014-12-03T00:00:00Z"),
    (
        "os-multiple-create",
        "MultipleCreate",
        "2014-12-03T00:00:00Z",
    ),
    ("os-networks", "Networks", "2014-12-03T00:00:00Z"),
    (
        "os-networks-associate",
        "NetworkAssociationSupport",
        "2014-12-03T00:00:00Z",
    ),
    ("os-pause-server", "PauseServer", "2014-12-03T00:00:00Z"),
    ("os-personality", "Personality", "2014-12-03T00:00:00Z"),
    (
        "os-preserve-ephemeral-rebuild",
        "PreserveEphemeralOnRebuild",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-quota-class-sets",
        "QuotaClasses",
        "2014-12-03T00:00:00Z",
    ),
    ("os-quota-sets", "Quotas", "2014-12-03T00:00:00Z"),
    ("os-rescue", "Rescue", "2014-12-03T00:00:00Z"),
    (
        "os-security-group-default-rules",
        "SecurityGroupDefaultRules",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-security-groups",
        "SecurityGroups",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-server-diagnostics",
        "ServerDiagnostics",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-server-external-events",
        "ServerExternalEvents",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-server-group-quotas",
        "ServerGroupQuotas",
        "2014-12-03T00:00:00Z",
    ),
    ("os-server-groups", "ServerGroups", "2014-12-03T00:00:00Z"),
    (
        "os-server-list-multi-status",
        "ServerListMultiStatus",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-server-password",
        "ServerPassword",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-server-sort-keys",
        "ServerSortKeys",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-server-start-stop",
        "ServerStartStop",
        "2014-12-03T00:00:00Z",
    ),
    ("os-services", "Services", "2014-12-03T00:00:00Z"),
    ("os-shelve", "Shelve", "2014-12-03T00:00:00Z"),
    (
        "os-simple-tenant-usage",
        "SimpleTenantUsage",
        "2014-12-03T00:00:00Z",
    ),
    ("os-suspend-server", "SuspendServer", "2014-12-03T00:00:00Z"),
    (
        "os-tenant-networks",
        "OSTenantNetworks",
        "2014-12-03T00:00:00Z",
    ),
    ("os-used-limits", "UsedLimits", "2014-12-03T00:00:00Z"),
    (
        "os-used-limits-for-admin",
        "UsedLimitsForAdmin",
        "2014-12-03T00:00:00Z",
    ),
    ("os-user-data", "UserData", "2014-12-03T00:00:00Z"),
    ("os-user-quotas", "UserQuotas", "2014-12-03T00:00:00Z"),
    (
        "os-virtual-interfaces",
        "VirtualInterfaces",
        "2014-12-03T00:00:00Z",
    ),
    (
        "os-volume-attachment-update",
        "VolumeAttachmentUpdate",
        "2014-12-03T00:00:00Z",
    ),
    ("os-volumes", "Volumes", "2014-12-03T00:00:00Z"),
];

fn view(e: &(&str, &str, &str)) -> Value {
    let (alias, name, updated) = *e;
    json!({
        "alias": alias,
        "name": name,
        "updated": updated,
        "description": format!("The {name} API area."),
        "namespace": "http://docs.openstack.org/compute/ext/fake_xml",
        "links": [],
    })
}

pub async fn list(State(svc): St, ctx: Context) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:extensions", &json!({}))?;
    let list: Vec<Value> = EXTENSIONS.iter().map(view).collect();
    Ok(axum::Json(json!({"extensions": list})).into_response())
}

pub async fn show(State(svc): St, ctx: Context, Path(alias): Path<String>) -> Result<Response> {
    svc.enforce(&ctx, "os_compute_api:extensions", &json!({}))?;
    let e = EXTENSIONS
        .iter()
        .find(|e| e.0 == alias)
        .ok_or_else(|| Error::NotFound("Extension could not be found.".into()))?;
    Ok(axum::Json(json!({"extension": view(e)})).into_response())
}

pub fn routes() -> Routes<Arc<ComputeService>> {
    let r = Routes::new();
    let r = api::route!(r, "/v2.1/extensions", get(list, "List extensions"));
    api::route!(
        r,
        "/v2.1/extensions/{alias}",
        get(show, "Show an extension")
    )
}
