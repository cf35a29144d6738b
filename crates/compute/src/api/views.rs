//! Response bodies, shaped by microversion as nova's views are.

use api::microversion::Version;
use serde_json::{Map, Value, json};

use crate::model::{Fault, Flavor, Instance, iso, iso_micro};

pub fn link(base: &str, kind: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{base}/v2.1/{kind}/{id}")},
        {"rel": "bookmark", "href": format!("{base}/{kind}/{id}")}
    ])
}

/// The flavor as embedded in a server: a link before 2.47, the details since.
fn server_flavor(base: &str, f: &Flavor, v: Version) -> Value {
    if v.at_least(2, 47) {
        let mut o = json!({
            "vcpus": f.vcpus, "ram": f.ram, "disk": f.disk, "ephemeral": f.ephemeral,
            "swap": f.swap, "original_name": f.name,
        });
        o["extra_specs"] = Value::Object(f.extra_specs.clone());
        o
    } else {
        json!({"id": f.id, "links": [{"rel": "bookmark", "href": format!("{base}/flavors/{}", f.id)}]})
    }
}

/// Who is asking: admins see `OS-EXT-SRV-ATTR:*`.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub admin: bool,
    pub version: Version,
}

/// `GET /servers` entries.
pub fn server_brief(base: &str, i: &Instance) -> Value {
    json!({"id": i.uuid, "name": i.name, "links": link(base, "servers", &i.uuid)})
}

/// The full server body (`GET /servers/{id}`, `/servers/detail`).
pub fn server(
    base: &str,
    i: &Instance,
    who: Viewer,
    fault: Option<&Fault>,
    host_status: Option<&str>,
) -> Value {
    let v = who.version;
    let mut s = Map::new();
    let mut put = |k: &str, val: Value| {
        s.insert(k.to_string(), val);
    };
    put("id", json!(i.uuid));
    put("name", json!(i.name));
    put("status", json!(i.status()));
    put("tenant_id", json!(i.project_id));
    put("user_id", json!(i.user_id));
    put("metadata", Value::Object(i.metadata.clone()));
    put("hostId", json!(host_id(&i.project_id, i.host.as_deref())));
    put(
        "image",
        if i.image_ref.is_empty() {
            json!("")
        } else {
            json!({"id": i.image_ref, "links": [{"rel": "bookmark", "href": format!("{base}/images/{}", i.image_ref)}]})
        },
    );
    put("flavor", server_flavor(base, &i.flavor, v));
    put("created", json!(iso(i.created_at)));
    put("updated", json!(iso(i.updated_at)));
    put("addresses", json!({}));
    put(
        "accessIPv4",
        json!(i.access_ip_v4.clone().unwrap_or_default()),
    );
    put(
        "accessIPv6",
        json!(i.access_ip_v6.clone().unwrap_or_default()),
    );
    put("links", link(base, "servers", &i.uuid));
    put("OS-DCF:diskConfig", json!("MANUAL"));
    if matches!(
        i.status(),
        "ACTIVE" | "BUILD" | "REBUILD" | "RESIZE" | "VERIFY_RESIZE" | "MIGRATING"
    ) {
        put(
            "progress",
            json!(if i.status() == "BUILD" { 0 } else { 100 }),
        );
    }
    put(
        "OS-EXT-AZ:availability_zone",
        json!(i.availability_zone.clone().unwrap_or_default()),
    );
    put("config_drive", json!(i.config_drive));
    put("key_name", json!(i.key_name));
    put(
        "OS-SRV-USG:launched_at",
        json!(i.launched_at.map(iso_micro)),
    );
    put(
        "OS-SRV-USG:terminated_at",
        json!(i.terminated_at.map(iso_micro)),
    );
    put("OS-EXT-STS:task_state", json!(i.task_state));
    put("OS-EXT-STS:vm_state", json!(i.vm_state));
    put("OS-EXT-STS:power_state", json!(i.power_state));
    put("os-extended-volumes:volumes_attached", json!([]));
    if who.admin {
        put("OS-EXT-SRV-ATTR:host", json!(i.host));
        put("OS-EXT-SRV-ATTR:instance_name", json!(i.instance_name()));
        put("OS-EXT-SRV-ATTR:hypervisor_hostname", json!(i.node));
    }
    if v.at_least(2, 3) && who.admin {
        put("OS-EXT-SRV-ATTR:reservation_id", json!(i.reservation_id));
        put("OS-EXT-SRV-ATTR:launch_index", json!(i.launch_index));
        put("OS-EXT-SRV-ATTR:kernel_id", json!(prop(i, "kernel_id")));
        put("OS-EXT-SRV-ATTR:ramdisk_id", json!(prop(i, "ramdisk_id")));
        put("OS-EXT-SRV-ATTR:root_device_name", json!("/dev/vda"));
        put("OS-EXT-SRV-ATTR:user_data", json!(i.user_data));
    }
    if v.at_least(2, 3) && (who.admin || v.at_least(2, 90)) {
        put("OS-EXT-SRV-ATTR:hostname", json!(i.hostname));
    }
    if v.at_least(2, 9) {
        put("locked", json!(i.locked_by.is_some()));
    }
    if v.at_least(2, 16)
        && let Some(hs) = host_status
    {
        put("host_status", json!(hs));
    }
    if v.at_least(2, 19) {
        put("description", json!(i.description));
    }
    if v.at_least(2, 26) {
        put("tags", json!(i.tags));
    }
    if v.at_least(2, 63) {
        put("trusted_image_certificates", Value::Null);
    }
    if v.at_least(2, 73) {
        put("locked_reason", json!(i.locked_reason));
    }
    if v.at_least(2, 96) {
        put("pinned_availability_zone", json!(i.pinned_az));
    }
    if let Some(f) = fault
        && matches!(i.vm_state.as_str(), "error" | "deleted")
    {
        let mut fo = json!({"code": f.code, "message": f.message, "created": iso(f.created_at)});
        if who.admin || f.code != 500 {
            fo["details"] = json!(f.details);
        }
        put("fault", fo);
    }
    Value::Object(s)
}

/// Update and rebuild answer with the basic server view before 2.75 (no extended
/// attributes, key name, config drive or security groups).
/// `keep_key_name`: rebuild shows `key_name` from 2.54.
pub fn basic_before_2_75(body: &mut Value, v: Version, keep_key_name: bool) {
    if v.at_least(2, 75) {
        return;
    }
    if let Some(m) = body.as_object_mut() {
        m.retain(|k, _| {
            (!k.contains(':') || k == "OS-DCF:diskConfig")
                && !matches!(
                    k.as_str(),
                    "config_drive" | "security_groups" | "host_status"
                )
                && (k != "key_name" || keep_key_name)
        });
    }
}

fn prop(i: &Instance, k: &str) -> String {
    i.image_meta
        .get("properties")
        .and_then(|p| p.get(k))
        .or_else(|| i.image_meta.get(k))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Nova's opaque per-project host id: sha224(project + host), "" when unplaced.
pub fn host_id(project: &str, host: Option<&str>) -> String {
    use sha2::Digest;
    match host {
        Some(h) if !h.is_empty() => {
            let d = sha2::Sha224::digest(format!("{project}{h}").as_bytes());
            d.iter().map(|b| format!("{b:02x}")).collect()
        }
        _ => String::new(),
    }
}

/// A flavor body.
pub fn flavor(base: &str, f: &Flavor, v: Version, detail: bool, show_specs: bool) -> Value {
    let mut o = json!({"id": f.id, "name": f.name, "links": link(base, "flavors", &f.id)});
    if v.at_least(2, 55) {
        o["description"] = json!(f.description);
    }
    if !detail {
        return o;
    }
    o["vcpus"] = json!(f.vcpus);
    o["ram"] = json!(f.ram);
    o["disk"] = json!(f.disk);
    o["OS-FLV-EXT-DATA:ephemeral"] = json!(f.ephemeral);
    o["swap"] = if f.swap == 0 && !v.at_least(2, 75) {
        json!("")
    } else {
        json!(f.swap)
    };
    o["rxtx_factor"] = json!(f.rxtx_factor);
    o["os-flavor-access:is_public"] = json!(f.is_public);
    o["OS-FLV-DISABLED:disabled"] = json!(f.disabled);
    if v.at_least(2, 61) && show_specs {
        o["extra_specs"] = Value::Object(f.extra_specs.clone());
    }
    o
}
