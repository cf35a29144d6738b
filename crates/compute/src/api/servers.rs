//! `/servers`: create, list, show, update, delete; metadata, tags, instance actions.

use std::sync::Arc;

use api::microversion::Version;
use api::openapi::Routes;
use api::query::Params;
use api::{BaseUrl, RequestId};
use auth::Context;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::St;
use super::views::{self, Viewer};
use crate::model::{Action, Instance, iso_micro, power, states_for_status, task, vm};
use crate::store::instances::{self, Changes, Filter};
use crate::store::{flavors, keypairs, misc};
use crate::{ComputeService, Error, Result};

type Body = api::Json<Value>;

pub(crate) fn not_found(id: &str) -> Error {
    Error::NotFound(format!("Instance {id} could not be found."))
}

impl ComputeService {
    /// A server the caller may see (404 otherwise, never 403).
    pub async fn visible(&self, ctx: &Context, id: &str, rule: &str) -> Result<Instance> {
        let i = instances::get(&self.db, id, false)
            .await?
            .ok_or_else(|| not_found(id))?;
        let target = Self::project_target(&i.project_id, Some(&i.user_id));
        if !self.allowed(ctx, rule, &target) {
            if self.allowed(ctx, "os_compute_api:servers:show", &target) {
                return Err(self
                    .enforce(ctx, rule, &target)
                    .err()
                    .unwrap_or_else(|| not_found(id)));
            }
            return Err(not_found(id));
        }
        Ok(i)
    }

    pub fn viewer(&self, ctx: &Context, v: Version) -> Viewer {
        Viewer {
            admin: self.is_admin(ctx),
            version: v,
        }
    }

    /// Record the start of an instance action.
    pub async fn start_action(
        &self,
        i: &Instance,
        action: &str,
        ctx: &Context,
        req: &RequestId,
    ) -> Result<()> {
        let now = self.now();
        misc::start_action(
            &self.db,
            &Action {
                id: uuid::Uuid::new_v4().to_string(),
                instance_uuid: i.uuid.clone(),
                action: action.to_string(),
                request_id: req.0.clone(),
                user_id: Some(ctx.user.user_id.clone()),
                project_id: ctx.user.project_id().map(str::to_string),
                message: None,
                start_time: now,
                updated_at: now,
            },
        )
        .await?;
        self.notify_instance(i, action, "start", None).await;
        Ok(())
    }

    async fn render(&self, base: &str, list: &[Instance], who: Viewer) -> Result<Vec<Value>> {
        let ids: Vec<&str> = list.iter().map(|i| i.uuid.as_str()).collect();
        let faults = instances::faults(&self.db, &ids).await?;
        let services = if who.version.at_least(2, 16) {
            misc::services(&self.db).await?
        } else {
            Vec::new()
        };
        Ok(list
            .iter()
            .map(|i| {
                let f = faults.iter().find(|(u, _)| *u == i.uuid).map(|(_, f)| f);
                let hs = i
                    .host
                    .as_deref()
                    .map(|h| match services.iter().find(|s| s.host == h) {
                        Some(s) if s.forced_down => "DOWN",
                        Some(s) if !self.service_is_up(s) => "UNKNOWN",
                        Some(s) if s.disabled => "MAINTENANCE",
                        Some(_) => "UP",
                        None => "UNKNOWN",
                    });
                let hs = if who.admin { hs.or(Some("")) } else { None };
                views::server(base, i, who, f, hs)
            })
            .collect())
    }

    /// `server_groups` (the server's group, 2.71+) in show, update and rebuild answers.
    pub async fn add_server_groups(
        &self,
        body: &mut Value,
        i: &Instance,
        v: Version,
    ) -> Result<()> {
        if v.at_least(2, 71) {
            let g = misc::group_of(&self.db, &i.uuid).await?;
            body["server_groups"] = json!(g.map(|g| vec![g.id]).unwrap_or_default());
        }
        Ok(())
    }

    pub async fn server_body(&self, base: &str, i: &Instance, who: Viewer) -> Result<Value> {
        Ok(self
            .render(base, std::slice::from_ref(i), who)
            .await?
            .pop()
            .unwrap_or(Value::Null))
    }
}

fn bad(m: impl Into<String>) -> Error {
    Error::BadRequest(m.into())
}

fn str_field<'a>(o: &'a Map<String, Value>, k: &str, max: usize) -> Result<Option<&'a str>> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s)),
        Some(Value::String(_)) => Err(bad(format!(
            "Invalid input for field/attribute {k}. Value is longer than {max} characters."
        ))),
        Some(other) => Err(bad(format!(
            "Invalid input for field/attribute {k}. Value: {other}. {other} is not of type 'string'"
        ))),
    }
}

/// A server name as nova's schema accepts it: 1–255 characters, not only spaces.
fn server_name(v: Option<&Value>, required: bool) -> Result<Option<String>> {
    match v {
        None if required => Err(bad(
            "Invalid input for field/attribute server. Value: {}. 'name' is a required property",
        )),
        None => Ok(None),
        Some(Value::String(s)) => {
            if s.is_empty() || s.chars().count() > 255 {
                return Err(bad(format!(
                    "Invalid input for field/attribute name. Value: {s}. '{s}' does not match the server name format"
                )));
            }
            if s.trim().is_empty() {
                return Err(bad(
                    "Invalid input for field/attribute name. Value must not be only spaces.",
                ));
            }
            Ok(Some(s.clone()))
        }
        Some(o) => Err(bad(format!(
            "Invalid input for field/attribute name. Value: {o}. {o} is not of type 'string'"
        ))),
    }
}

/// Metadata as nova validates it: string keys 1–255, string values ≤ 255.
pub(crate) fn metadata(v: &Value, field: &str) -> Result<Map<String, Value>> {
    let Some(m) = v.as_object() else {
        return Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {v}. {v} is not of type 'object'"
        )));
    };
    for (k, val) in m {
        if k.is_empty() || k.chars().count() > 255 {
            return Err(bad(format!(
                "Invalid input for field/attribute {field}. Metadata key must be 1 to 255 characters."
            )));
        }
        match val {
            Value::String(s) if s.chars().count() <= 255 => {}
            Value::String(_) => {
                return Err(bad(format!(
                    "Invalid input for field/attribute {field}. Metadata value for {k} is longer than 255 characters."
                )));
            }
            other => {
                return Err(bad(format!(
                    "Invalid input for field/attribute {k}. Value: {other}. {other} is not of type 'string'"
                )));
            }
        }
    }
    Ok(m.clone())
}

/// A hostname derived from a display name as nova does (RFC 952/1123 safe).
pub(crate) fn sanitize_hostname(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        match c {
            'a'..='z' | '0'..='9' | '-' | '.' => out.push(c),
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            ' ' | '_' => out.push('-'),
            _ => {}
        }
    }
    let trimmed: String = out
        .trim_matches(|c| c == '-' || c == '.')
        .chars()
        .take(63)
        .collect();
    if trimmed.is_empty() {
        "server".into()
    } else {
        trimmed
    }
}

/// `flavorRef` may be an id or a URL ending in it.
fn last_segment(s: &str) -> &str {
    s.trim_end_matches('/').rsplit('/').next().unwrap_or(s)
}

fn count(v: Option<&Value>, field: &str) -> Result<Option<i64>> {
    match v {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_i64().filter(|x| *x >= 1).map(Some).ok_or_else(|| {
            bad(format!("Invalid input for field/attribute {field}. Value: {n}. {n} is less than the minimum of 1"))
        }),
        Some(Value::String(s)) => s.parse::<i64>().ok().filter(|x| *x >= 1).map(Some).ok_or_else(|| {
            bad(format!("Invalid input for field/attribute {field}. Value: {s}. '{s}' does not match '^[0-9]*$'"))
        }),
        Some(o) => Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {o}. {o} is not of type 'integer', 'string'"
        ))),
    }
}

/// `POST /servers`
pub async fn create(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    axum::Extension(req): axum::Extension<RequestId>,
    body: Body,
) -> Result<Response> {
    let api::Json(body) = body;
    let s = body
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute server. 'server' is a required property")
        })?;
    let project = ctx
        .user
        .project_id()
        .ok_or_else(|| Error::Forbidden("A project-scoped token is required.".into()))?
        .to_string();
    let user = ctx.user.user_id.clone();
    svc.enforce(
        &ctx,
        "os_compute_api:servers:create",
        &ComputeService::project_target(&project, Some(&user)),
    )?;

    let name = server_name(s.get("name"), true)?.unwrap_or_default();
    let flavor_ref = match s.get("flavorRef") {
        Some(Value::String(f)) if !f.is_empty() => last_segment(f).to_string(),
        Some(Value::Number(n)) => n.to_string(),
        None => {
            return Err(bad(
                "Invalid input for field/attribute server. 'flavorRef' is a required property",
            ));
        }
        Some(o) => {
            return Err(bad(format!(
                "Invalid input for field/attribute flavorRef. Value: {o}. {o} is not valid"
            )));
        }
    };
    let image_ref = match s.get("imageRef") {
        Some(Value::String(i)) => last_segment(i).to_string(),
        None | Some(Value::Null) => String::new(),
        Some(o) => {
            return Err(bad(format!(
                "Invalid input for field/attribute imageRef. Value: {o}. {o} is not of type 'string'"
            )));
        }
    };
    if v.at_least(2, 37) {
        match s.get("networks") {
            None => {
                return Err(bad(
                    "Invalid input for field/attribute server. 'networks' is a required property",
                ));
            }
            Some(Value::String(n)) if n == "none" || n == "auto" => {}
            Some(Value::Array(a)) if a.is_empty() => {}
            Some(Value::Array(_)) => {
                return Err(bad(
                    "Requested networks cannot be provided: the network service is not available in this deployment.",
                ));
            }
            Some(o) => {
                return Err(bad(format!(
                    "Invalid input for field/attribute networks. Value: {o}. {o} is not valid under any of the given schemas"
                )));
            }
        }
    } else if let Some(Value::Array(a)) = s.get("networks")
        && !a.is_empty()
    {
        return Err(bad(
            "Requested networks cannot be provided: the network service is not available in this deployment.",
        ));
    }
    if let Some(b) = s.get("block_device_mapping_v2").and_then(Value::as_array)
        && b.iter().any(|m| {
            m.get("source_type").and_then(Value::as_str) != Some("image")
                || m.get("destination_type").and_then(Value::as_str) == Some("volume")
        })
    {
        return Err(bad(
            "Block device mappings with volumes are not supported: the volume service is not available in this deployment.",
        ));
    }
    if image_ref.is_empty() {
        return Err(bad(
            "Invalid input for field/attribute imageRef. An image is required (volume-backed servers need the volume service).",
        ));
    }

    // Flavor (visible to the project) and image.
    let flavor = flavors::get(&svc.db, &flavor_ref)
        .await?
        .ok_or_else(|| bad(format!("Flavor {flavor_ref} could not be found.")))?;
    if !flavor.is_public
        && !svc.is_admin(&ctx)
        && !flavors::access(&svc.db, &flavor.id)
            .await?
            .contains(&project)
    {
        return Err(bad(format!("Flavor {flavor_ref} could not be found.")));
    }
    if flavor.disabled {
        return Err(bad(format!("Flavor {flavor_ref} is disabled.")));
    }
    let image = svc
        .images
        .get(&image_ref, &ctx.token)
        .await?
        .ok_or_else(|| bad(format!("Image {image_ref} could not be found.")))?;
    if image["status"].as_str() != Some("active") {
        return Err(bad(format!("Image {image_ref} is not active.")));
    }
    let gib = 1i64 << 30;
    let image_size = image["virtual_size"]
        .as_i64()
        .or_else(|| image["size"].as_i64())
        .unwrap_or(0);
    let min_disk = image["min_disk"].as_i64().unwrap_or(0);
    if flavor.disk > 0 {
        if image_size > flavor.disk * gib {
            return Err(bad(format!(
                "Flavor's disk is too small for requested image. Flavor disk is {} bytes, image is {image_size} bytes.",
                flavor.disk * gib
            )));
        }
        if min_disk > flavor.disk {
            return Err(bad(format!(
                "Flavor's disk is too small for requested image. Flavor disk is {} bytes, minimum requested disk is {} bytes.",
                flavor.disk * gib,
                min_disk * gib
            )));
        }
    }
    if image["min_ram"].as_i64().unwrap_or(0) > flavor.ram {
        return Err(bad("Flavor's memory is too small for requested image."));
    }
    let image_meta = image_meta(&image);

    // Key pair, user data, metadata, AZ, counts, hints.
    let (key_name, key_data) = match str_field(s, "key_name", 255)? {
        Some(k) => {
            let kp = keypairs::get(&svc.db, &user, k)
                .await?
                .ok_or_else(|| bad("Invalid key_name provided."))?;
            (Some(kp.name), Some(kp.public_key))
        }
        None => (None, None),
    };
    let user_data = match s.get("user_data") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) => {
            if u.len() > 65535 {
                return Err(bad(
                    "Invalid input for field/attribute user_data. Value is too long.",
                ));
            }
            base64::engine::general_purpose::STANDARD
                .decode(u.trim())
                .map_err(|_| bad("User data needs to be valid base 64."))?;
            Some(u.clone())
        }
        Some(o) => {
            return Err(bad(format!(
                "Invalid input for field/attribute user_data. Value: {o}. {o} is not of type 'string'"
            )));
        }
    };
    let md = match s.get("metadata") {
        None => Map::new(),
        Some(m) => metadata(m, "metadata")?,
    };
    let (mut az, forced_host) = match str_field(s, "availability_zone", 255)? {
        None => (svc.cfg.default_schedule_zone.clone(), None),
        Some(a) => {
            let mut parts = a.splitn(3, ':');
            let zone = parts.next().unwrap_or_default();
            let host = parts.next().filter(|h| !h.is_empty());
            if host.is_some() {
                svc.enforce(
                    &ctx,
                    "os_compute_api:servers:create:forced_host",
                    &ComputeService::project_target(&project, Some(&user)),
                )?;
            }
            (
                (!zone.is_empty()).then(|| zone.to_string()),
                host.map(str::to_string),
            )
        }
    };
    if let Some(z) = &az {
        let zones: Vec<String> = misc::services(&svc.db)
            .await?
            .into_iter()
            .map(|s| s.zone)
            .collect();
        if !zones.contains(z) {
            return Err(bad(
                "The requested availability zone is not available".to_string()
            ));
        }
    }
    let pinned = az.clone();
    let min = count(s.get("min_count"), "min_count")?.unwrap_or(1);
    let max = count(s.get("max_count"), "max_count")?.unwrap_or(min);
    if min > max {
        return Err(bad("min_count must be <= max_count"));
    }
    let hints = body
        .get("OS-SCH-HNT:scheduler_hints")
        .or_else(|| body.get("os:scheduler_hints"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    if !hints.is_object() {
        return Err(bad(
            "Invalid input for field/attribute OS-SCH-HNT:scheduler_hints. It must be an object.",
        ));
    }
    let group = match hints.get("group") {
        None => None,
        Some(Value::String(g)) => {
            let grp = misc::group(&svc.db, g)
                .await?
                .ok_or_else(|| bad(format!("Invalid server group {g}")))?;
            Some(grp)
        }
        Some(_) => {
            return Err(bad(
                "Invalid input for field/attribute group. Value must be a UUID string.",
            ));
        }
    };
    let description = if v.at_least(2, 19) {
        str_field(s, "description", 255)?.map(str::to_string)
    } else {
        if s.contains_key("description") {
            return Err(bad(
                "Invalid input for field/attribute server. Additional properties are not allowed ('description' was unexpected)",
            ));
        }
        None
    };
    let tags: Vec<String> = match s.get("tags") {
        Some(Value::Array(a)) if v.at_least(2, 52) => {
            let t: Vec<String> = a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
            if t.len() != a.len()
                || t.iter()
                    .any(|x| x.is_empty() || x.len() > 60 || x.contains('/') || x.contains(','))
            {
                return Err(bad("Invalid input for field/attribute tags."));
            }
            if t.len() > 50 {
                return Err(bad(
                    "Invalid input for field/attribute tags. Too many tags (50 at most).",
                ));
            }
            t
        }
        Some(_) => return Err(bad("Invalid input for field/attribute tags.")),
        None => Vec::new(),
    };
    let hostname_req = if v.at_least(2, 90) {
        str_field(s, "hostname", 255)?.map(str::to_string)
    } else {
        None
    };
    if hostname_req.is_some() && max > 1 {
        return Err(bad("Cannot set hostname for multiple instances."));
    }
    let config_drive = match s.get("config_drive") {
        None | Some(Value::Null) => String::new(),
        Some(Value::Bool(b)) => {
            if *b {
                "True".into()
            } else {
                String::new()
            }
        }
        Some(Value::String(x)) => x.clone(),
        Some(o) => {
            return Err(bad(format!(
                "Invalid input for field/attribute config_drive. Value: {o}."
            )));
        }
    };
    let access_v4 = str_field(s, "accessIPv4", 64)?.map(str::to_string);
    if let Some(ip) = &access_v4
        && ip.parse::<std::net::Ipv4Addr>().is_err()
    {
        return Err(bad(format!(
            "Invalid input for field/attribute accessIPv4. Value: {ip}. '{ip}' is not a 'ipv4'"
        )));
    }
    let access_v6 = ipv6_field(s)?.filter(|x| !x.is_empty());
    let admin_pass = match str_field(s, "adminPass", 255)? {
        Some(p) => p.to_string(),
        None => random_password(),
    };

    // Quotas: instances/cores/ram for max first, then as many as fit down to min.
    svc.check_metadata_quota(&project, &user, md.len()).await?;
    let mut n = max;
    loop {
        match svc
            .check_quota(
                &project,
                &user,
                &[
                    ("instances", n),
                    ("cores", n * flavor.vcpus),
                    ("ram", n * flavor.ram),
                ],
            )
            .await
        {
            Ok(()) => break,
            Err(e) if n > min => {
                let _ = e;
                n -= 1;
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(g) = &group {
        let limit = crate::quota::get(
            &svc.quota_limits(&project, Some(&user)).await?,
            "server_group_members",
        )
        .unwrap_or(-1);
        if limit >= 0 && i64::try_from(g.members.len()).unwrap_or(i64::MAX) + n > limit {
            return Err(Error::OverQuota(
                "Quota exceeded, too many servers in group".into(),
            ));
        }
    }

    let now = svc.now();
    let reservation = format!("r-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    if az.is_none() && forced_host.is_some() {
        az = None;
    }
    let mut items: Vec<Instance> = (0..n)
        .map(|idx| {
            let display = if n > 1 { format!("{name}-{}", idx + 1) } else { name.clone() };
            let hostname = hostname_req.clone().unwrap_or_else(|| sanitize_hostname(&display));
            Instance {
                uuid: uuid::Uuid::new_v4().to_string(),
                seq: 0,
                name: display,
                hostname,
                description: description.clone(),
                project_id: project.clone(),
                user_id: user.clone(),
                flavor: flavor.clone(),
                image_ref: image_ref.clone(),
                image_meta: image_meta.clone(),
                key_name: key_name.clone(),
                key_data: key_data.clone(),
                user_data: user_data.clone(),
                config_drive: config_drive.clone(),
                availability_zone: az.clone(),
                pinned_az: pinned.clone(),
                host: None,
                node: None,
                vm_state: vm::BUILDING.into(),
                task_state: Some(task::SCHEDULING.into()),
                power_state: power::NOSTATE,
                locked_by: None,
                locked_reason: None,
                access_ip_v4: access_v4.clone(),
                access_ip_v6: access_v6.clone(),
                reservation_id: reservation.clone(),
                launch_index: idx,
                metadata: md.clone(),
                system_metadata: Map::new(),
                request_spec: json!({"scheduler_hints": hints, "forced_host": forced_host, "num_instances": n}),
                tags: tags.clone(),
                launched_at: None,
                terminated_at: None,
                created_at: now,
                updated_at: now,
                deleted_at: None,
            }
        })
        .collect();
    instances::insert_many(&svc.db, &mut items, group.as_ref().map(|g| g.id.as_str())).await?;
    for i in &items {
        svc.start_action(i, "create", &ctx, &req).await?;
        let s2 = svc.clone();
        let id = i.uuid.clone();
        tokio::spawn(async move { s2.build(id).await });
    }
    let first = &items[0];
    if body
        .get("server")
        .and_then(|s| s.get("return_reservation_id"))
        .and_then(Value::as_bool)
        == Some(true)
    {
        return Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"reservation_id": reservation})),
        )
            .into_response());
    }
    let mut out = json!({
        "id": first.uuid,
        "links": views::link(&base, "servers", &first.uuid),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": [{"name": "default"}],
    });
    out["adminPass"] = json!(admin_pass);
    let loc = format!("{base}/v2.1/servers/{}", first.uuid);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, loc)],
        axum::Json(json!({"server": out})),
    )
        .into_response())
}

/// The image facts kept with an instance.
fn image_meta(img: &Value) -> Value {
    let reserved = [
        "id",
        "name",
        "status",
        "visibility",
        "owner",
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "min_disk",
        "min_ram",
        "protected",
        "os_hidden",
        "created_at",
        "updated_at",
        "tags",
        "self",
        "file",
        "schema",
        "disk_format",
        "container_format",
        "locations",
        "direct_url",
        "stores",
    ];
    let props: Map<String, Value> = img
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !reserved.contains(&k.as_str()) && !k.starts_with("os_glance"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    json!({
        "id": img["id"], "name": img["name"], "size": img["size"], "virtual_size": img["virtual_size"],
        "min_disk": img["min_disk"], "min_ram": img["min_ram"], "disk_format": img["disk_format"],
        "container_format": img["container_format"], "os_hash_algo": img["os_hash_algo"],
        "os_hash_value": img["os_hash_value"], "checksum": img["checksum"], "properties": props,
    })
}

/// `accessIPv6` in its canonical (compressed) form, as nova stores it; "" clears.
fn ipv6_field(s: &Map<String, Value>) -> Result<Option<String>> {
    let Some(ip) = str_field(s, "accessIPv6", 64)? else {
        return Ok(None);
    };
    if ip.is_empty() {
        return Ok(Some(String::new()));
    }
    ip.parse::<std::net::Ipv6Addr>()
        .map(|a| Some(a.to_string()))
        .map_err(|_| {
            bad(format!(
                "Invalid input for field/attribute accessIPv6. Value: {ip}. '{ip}' is not a 'ipv6'"
            ))
        })
}

pub(crate) fn random_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    (0..12)
        .map(|_| char::from(CHARS[rand::random_range(0..CHARS.len())]))
        .collect()
}

fn parse_time(s: &str) -> Result<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_micros())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
                .map(|n| n.and_utc().timestamp_micros())
        })
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_micros()).unwrap_or(0))
        })
        .map_err(|_| bad(format!("Invalid input for field/attribute changes-since. Value: {s}. '{s}' is not a 'date-time'")))
}

async fn list_common(
    svc: &Arc<ComputeService>,
    ctx: &Context,
    v: Version,
    base: &str,
    p: &Params,
    detail: bool,
) -> Result<Response> {
    let project = ctx.user.project_id().unwrap_or_default().to_string();
    svc.enforce(
        ctx,
        if detail {
            "os_compute_api:servers:detail"
        } else {
            "os_compute_api:servers:index"
        },
        &ComputeService::project_target(&project, None),
    )?;
    let admin = svc.is_admin(ctx);
    let mut f = Filter::default();
    let all_tenants = p.has("all_tenants")
        && (p
            .get("all_tenants")
            .is_none_or(|x| x.is_empty() || api::query::truthy(x)));
    if all_tenants {
        svc.enforce(
            ctx,
            "os_compute_api:servers:index:get_all_tenants",
            &json!({}),
        )?;
    }
    let scoped_project = p.get("project_id").or_else(|| p.get("tenant_id"));
    f.project_id = match (all_tenants, scoped_project) {
        (true, Some(pid)) if admin => Some(pid.to_string()),
        (true, None) => None,
        (false, Some(pid)) if admin && all_tenants => Some(pid.to_string()),
        _ => Some(project.clone()),
    };
    if admin && scoped_project.is_some() && !all_tenants {
        f.project_id = Some(project.clone());
    }
    if let Some(st) = p.get("status") {
        match states_for_status(st) {
            Some((vms, tasks)) => {
                f.vm_states = Some(vms.into_iter().map(str::to_string).collect());
                f.task_states = tasks.map(|t| t.into_iter().map(str::to_string).collect());
            }
            None => {
                // Unknown statuses match nothing, as nova.
                return Ok(axum::Json(json!({"servers": []})).into_response());
            }
        }
    }
    f.name = p.get("name").map(str::to_string);
    f.image = p.get("image").map(|s| last_segment(s).to_string());
    f.flavor = p.get("flavor").map(|s| last_segment(s).to_string());
    f.reservation_id = p.get("reservation_id").map(str::to_string);
    if let Some(cs) = p.get("changes-since") {
        f.changes_since = Some(parse_time(cs)?);
        f.include_deleted = true;
    }
    if v.at_least(2, 66)
        && let Some(cb) = p.get("changes-before")
    {
        f.changes_before = Some(parse_time(cb)?);
        f.include_deleted = true;
    }
    if let (Some(a), Some(b)) = (f.changes_since, f.changes_before)
        && a > b
    {
        return Err(bad(
            "The value of changes-since must be less than or equal to changes-before.",
        ));
    }
    if v.at_least(2, 26) {
        let tags = |k: &str| {
            p.get(k)
                .map(|s| s.split(',').map(str::to_string).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        f.tags = tags("tags");
        f.tags_any = tags("tags-any");
        f.not_tags = tags("not-tags");
        f.not_tags_any = tags("not-tags-any");
    }
    if v.at_least(2, 73) {
        f.locked = p.bool_filter("locked");
    }
    if admin || v.at_least(2, 83) {
        f.user_id = p.get("user_id").map(str::to_string);
        f.availability_zone = p.get("availability_zone").map(str::to_string);
        f.key_name = p.get("key_name").map(str::to_string);
        if v.at_least(2, 19) {
            f.description = p.get("description").map(str::to_string);
        }
    }
    if admin {
        f.host = p.get("host").map(str::to_string);
        f.node = p.get("node").map(str::to_string);
        f.uuid = p.get("uuid").map(str::to_string);
        if let Some(d) = p.get("deleted") {
            f.deleted = Some(api::query::truthy(d));
        }
    }
    if p.has("ip") || p.has("ip6") {
        // No addresses without the network service: nothing matches.
        return Ok(axum::Json(json!({"servers": []})).into_response());
    }
    // Sorting.
    let keys = p.all("sort_key");
    let dirs = p.all("sort_dir");
    let mut sort: Vec<(&'static str, bool)> = Vec::new();
    for (idx, k) in keys.iter().enumerate() {
        let col = instances::sort_column(k).ok_or_else(|| {
            bad(format!(
                "Invalid input for field/attribute sort_key. Value: {k}."
            ))
        })?;
        if !admin && matches!(*k, "host" | "node") {
            return Err(Error::Forbidden(format!(
                "Only administrators can sort servers by {k}"
            )));
        }
        let dir = match dirs.get(idx).or(dirs.last()).copied().unwrap_or("desc") {
            "asc" => true,
            "desc" => false,
            d => {
                return Err(bad(format!(
                    "Invalid input for field/attribute sort_dir. Value: {d}."
                )));
            }
        };
        sort.push((col, dir));
    }
    if sort.is_empty() {
        sort.push(("created_at", false));
    }
    let limit = match p.get("limit") {
        Some(l) => l.parse::<i64>().ok().filter(|x| *x >= 0).ok_or_else(|| {
            bad(format!(
                "Invalid input for field/attribute limit. Value: {l}."
            ))
        })?,
        None => 1000,
    }
    .min(1000);
    let after = match p.get("marker") {
        Some(m) => Some(
            instances::get(&svc.db, m, true)
                .await?
                .filter(|i| f.project_id.as_ref().is_none_or(|p| *p == i.project_id))
                .ok_or_else(|| bad(format!("marker [{m}] not found")))?,
        ),
        None => None,
    };
    let list = instances::list(&svc.db, &f, &sort, after.as_ref(), limit).await?;
    let who = svc.viewer(ctx, v);
    let body: Vec<Value> = if detail {
        svc.render(base, &list, who).await?
    } else {
        list.iter().map(|i| views::server_brief(base, i)).collect()
    };
    let mut out = json!({"servers": body});
    if i64::try_from(list.len()).unwrap_or(0) == limit
        && limit > 0
        && let Some(last) = list.last()
    {
        let path = if detail { "servers/detail" } else { "servers" };
        let mut q: Vec<String> =
            p.0.iter()
                .filter(|(k, _)| k != "marker")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
        q.push(format!("marker={}", last.uuid));
        out["servers_links"] =
            json!([{"rel": "next", "href": format!("{base}/v2.1/{path}?{}", q.join("&"))}]);
    }
    Ok(axum::Json(out).into_response())
}

pub async fn list(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    p: Params,
) -> Result<Response> {
    list_common(&svc, &ctx, v, &base, &p, false).await
}

pub async fn detail(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    p: Params,
) -> Result<Response> {
    list_common(&svc, &ctx, v, &base, &p, true).await
}

/// `GET /servers/{id}`
pub async fn show(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> Result<Response> {
    let i = svc
        .visible(&ctx, &id, "os_compute_api:servers:show")
        .await?;
    let mut body = svc.server_body(&base, &i, svc.viewer(&ctx, v)).await?;
    svc.add_server_groups(&mut body, &i, v).await?;
    Ok(axum::Json(json!({"server": body})).into_response())
}

/// `PUT /servers/{id}`
pub async fn update(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response> {
    let api::Json(body) = body;
    let i = svc
        .visible(&ctx, &id, "os_compute_api:servers:update")
        .await?;
    let s = body
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute server. 'server' is a required property")
        })?;
    let mut c = Changes::default();
    for k in s.keys() {
        let ok = matches!(
            k.as_str(),
            "name" | "accessIPv4" | "accessIPv6" | "OS-DCF:diskConfig"
        ) || (k == "description" && v.at_least(2, 19))
            || (k == "hostname" && v.at_least(2, 90));
        if !ok {
            return Err(bad(format!(
                "Invalid input for field/attribute server. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
    }
    if let Some(n) = server_name(s.get("name"), false)? {
        c.name = Some(n);
    }
    if s.contains_key("description") {
        c.description = Some(str_field(s, "description", 255)?.map(str::to_string));
    }
    if let Some(h) = str_field(s, "hostname", 255)? {
        c.hostname = Some(h.to_string());
    }
    if s.contains_key("accessIPv4") {
        let ip = str_field(s, "accessIPv4", 64)?.map(str::to_string);
        if let Some(x) = &ip
            && !x.is_empty()
            && x.parse::<std::net::Ipv4Addr>().is_err()
        {
            return Err(bad(format!(
                "Invalid input for field/attribute accessIPv4. Value: {x}. '{x}' is not a 'ipv4'"
            )));
        }
        c.access_ip_v4 = Some(ip.filter(|x| !x.is_empty()));
    }
    if s.contains_key("accessIPv6") {
        c.access_ip_v6 = Some(ipv6_field(s)?.filter(|x| !x.is_empty()));
    }
    instances::update(&svc.db, &id, &c, &[], &[], svc.now()).await?;
    let i = instances::get(&svc.db, &i.uuid, false)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let mut body = svc.server_body(&base, &i, svc.viewer(&ctx, v)).await?;
    super::views::basic_before_2_75(&mut body, v, false);
    svc.add_server_groups(&mut body, &i, v).await?;
    Ok(axum::Json(json!({"server": body})).into_response())
}

/// 409 when a non-admin touches a server locked by an admin or someone else.
pub(crate) fn check_lock(svc: &ComputeService, ctx: &Context, i: &Instance) -> Result<()> {
    if i.locked_by.is_some() && !svc.is_admin(ctx) {
        return Err(Error::Conflict(format!("Instance {} is locked", i.uuid)));
    }
    Ok(())
}

/// `DELETE /servers/{id}`: with `[DEFAULT] reclaim_instance_interval` above 0 a server
/// that has run is only soft-deleted (powered off, restorable until reclaimed).
pub async fn delete(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
    axum::Extension(req): axum::Extension<RequestId>,
) -> Result<StatusCode> {
    let i = svc
        .visible(&ctx, &id, "os_compute_api:servers:delete")
        .await?;
    check_lock(&svc, &ctx, &i)?;
    if i.task_state.as_deref() == Some(task::DELETING) {
        return Ok(StatusCode::NO_CONTENT);
    }
    if svc.cfg.reclaim_instance_interval > 0 && svc.soft_delete(&i, &ctx, &req).await? {
        return Ok(StatusCode::NO_CONTENT);
    }
    svc.delete_now(&i, &ctx, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl ComputeService {
    /// Queue a server for deletion (nova's soft delete): the guest is powered off on
    /// its host and the server waits as SOFT_DELETED, keeping its resources. False
    /// when it cannot be (never launched or no host, as nova; also while a task runs,
    /// where nova would power it off mid-task): the caller then deletes it outright.
    async fn soft_delete(
        self: &Arc<Self>,
        i: &Instance,
        ctx: &Context,
        req: &RequestId,
    ) -> Result<bool> {
        if i.vm_state == vm::SOFT_DELETED && i.task_state.is_none() {
            return Ok(true); // already queued
        }
        if i.launched_at.is_none() || i.host.is_none() || i.task_state.is_some() {
            return Ok(false);
        }
        self.delete_shelved_image(i, &ctx.token).await;
        let mut sysmeta = i.system_metadata.clone();
        for k in ["shelved_image_id", "shelved_host", "shelved_at"] {
            sysmeta.remove(k);
        }
        sysmeta.insert("soft_deleted_at".into(), json!(self.now()));
        let c = Changes {
            task_state: Some(Some(task::SOFT_DELETING.into())),
            system_metadata: Some(sysmeta),
            ..Default::default()
        };
        if !instances::update(&self.db, &i.uuid, &c, &[None], &[], self.now()).await? {
            return Ok(false);
        }
        self.start_action(i, "delete", ctx, req).await?;
        let op = crate::conductor::Op {
            action: "delete",
            event: "compute_soft_delete_instance",
            method: "power_off",
            // nova's soft delete does not wait for a clean shutdown.
            args: json!({"timeout": 0}),
            vm_state: vm::SOFT_DELETED,
            error_state: None,
            task_state: task::SOFT_DELETING,
        };
        let me = self.clone();
        let id = i.uuid.clone();
        tokio::spawn(async move { me.run_op(id, op).await });
        Ok(true)
    }

    /// Delete a server now, whatever it is doing.
    pub(crate) async fn delete_now(
        self: &Arc<Self>,
        i: &Instance,
        ctx: &Context,
        req: &RequestId,
    ) -> Result<()> {
        let c = Changes {
            task_state: Some(Some(task::DELETING.into())),
            ..Default::default()
        };
        if !instances::update(&self.db, &i.uuid, &c, &[], &[], self.now()).await? {
            return Ok(()); // deleted meanwhile
        }
        self.delete_shelved_image(i, &ctx.token).await;
        self.start_action(i, "delete", ctx, req).await?;
        let me = self.clone();
        let id = i.uuid.clone();
        tokio::spawn(async move { me.destroy(id).await });
        Ok(())
    }

    /// The disk image a shelved server was saved to goes with the server (nova).
    async fn delete_shelved_image(&self, i: &Instance, token: &str) {
        if !matches!(i.vm_state.as_str(), vm::SHELVED | vm::SHELVED_OFFLOADED) {
            return;
        }
        if let Some(img) = i
            .system_metadata
            .get("shelved_image_id")
            .and_then(Value::as_str)
            && let Err(e) = self.images.delete(img, token).await
        {
            tracing::warn!(instance = %i.uuid, image = img, error = %e, "cannot delete the shelved image");
        }
    }
}

// ---- metadata ------------------------------------------------------------------------

async fn meta_target(
    svc: &ComputeService,
    ctx: &Context,
    id: &str,
    rule: &str,
) -> Result<Instance> {
    svc.visible(ctx, id, rule).await
}

pub async fn list_metadata(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
) -> Result<Response> {
    let i = meta_target(&svc, &ctx, &id, "os_compute_api:server-metadata:index").await?;
    Ok(axum::Json(json!({"metadata": i.metadata})).into_response())
}

async fn write_metadata(
    svc: &ComputeService,
    ctx: &Context,
    i: &Instance,
    md: Map<String, Value>,
) -> Result<()> {
    check_lock(svc, ctx, i)?;
    svc.check_metadata_quota(&i.project_id, &i.user_id, md.len())
        .await?;
    let c = Changes {
        metadata: Some(md),
        ..Default::default()
    };
    instances::update(&svc.db, &i.uuid, &c, &[], &[], svc.now()).await?;
    Ok(())
}

/// `POST /servers/{id}/metadata`: merge.
pub async fn update_metadata(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response> {
    let api::Json(body) = body;
    let i = meta_target(&svc, &ctx, &id, "os_compute_api:server-metadata:update").await?;
    let new = metadata(body.get("metadata").unwrap_or(&Value::Null), "metadata")?;
    let mut md = i.metadata.clone();
    md.extend(new);
    write_metadata(&svc, &ctx, &i, md.clone()).await?;
    Ok(axum::Json(json!({"metadata": md})).into_response())
}

/// `PUT /servers/{id}/metadata`: replace.
pub async fn replace_metadata(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response> {
    let api::Json(body) = body;
    let i = meta_target(&svc, &ctx, &id, "os_compute_api:server-metadata:update_all").await?;
    let md = metadata(body.get("metadata").unwrap_or(&Value::Null), "metadata")?;
    write_metadata(&svc, &ctx, &i, md.clone()).await?;
    Ok(axum::Json(json!({"metadata": md})).into_response())
}

pub async fn show_metadata_item(
    State(svc): St,
    ctx: Context,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response> {
    let i = meta_target(&svc, &ctx, &id, "os_compute_api:server-metadata:show").await?;
    let val = i
        .metadata
        .get(&key)
        .ok_or_else(|| Error::NotFound("Metadata item was not found".into()))?;
    Ok(axum::Json(json!({"meta": {key: val}})).into_response())
}

pub async fn set_metadata_item(
    State(svc): St,
    ctx: Context,
    Path((id, key)): Path<(String, String)>,
    body: Body,
) -> Result<Response> {
    let api::Json(body) = body;
    let i = meta_target(&svc, &ctx, &id, "os_compute_api:server-metadata:create").await?;
    let m = metadata(body.get("meta").unwrap_or(&Value::Null), "meta")?;
    if m.len() != 1 {
        return Err(bad("Request body contains too many items"));
    }
    if !m.contains_key(&key) {
        return Err(bad("Request body and URI mismatch"));
    }
    let mut md = i.metadata.clone();
    md.extend(m.clone());
    write_metadata(&svc, &ctx, &i, md).await?;
    Ok(axum::Json(json!({"meta": m})).into_response())
}

pub async fn delete_metadata_item(
    State(svc): St,
    ctx: Context,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode> {
    let i = meta_target(&svc, &ctx, &id, "os_compute_api:server-metadata:delete").await?;
    let mut md = i.metadata.clone();
    if md.remove(&key).is_none() {
        return Err(Error::NotFound("Metadata item was not found".into()));
    }
    write_metadata(&svc, &ctx, &i, md).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- tags (2.26) -----------------------------------------------------------------------

fn need_tags(v: Version) -> Result<()> {
    if v.at_least(2, 26) {
        Ok(())
    } else {
        Err(Error::NotFound("The resource could not be found.".into()))
    }
}

fn valid_tag(t: &str) -> Result<()> {
    if t.is_empty() || t.len() > 60 || t.contains('/') || t.contains(',') {
        return Err(bad(format!(
            "Invalid input for field/attribute tags. Value: {t}."
        )));
    }
    Ok(())
}

fn tags_editable(i: &Instance) -> Result<()> {
    if !matches!(
        i.vm_state.as_str(),
        "active"
            | "paused"
            | "suspended"
            | "stopped"
            | "shelved"
            | "shelved_offloaded"
            | "building"
            | "error"
            | "resized"
            | "rescued"
    ) {
        return Err(Error::Conflict(format!(
            "Cannot 'update tags' instance {} while it is in vm_state {}",
            i.uuid, i.vm_state
        )));
    }
    Ok(())
}

pub async fn list_tags(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    need_tags(v)?;
    let i = svc
        .visible(&ctx, &id, "os_compute_api:os-server-tags:index")
        .await?;
    Ok(axum::Json(json!({"tags": i.tags})).into_response())
}

pub async fn replace_tags(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response> {
    need_tags(v)?;
    let api::Json(body) = body;
    let i = svc
        .visible(&ctx, &id, "os_compute_api:os-server-tags:update_all")
        .await?;
    tags_editable(&i)?;
    let tags: Vec<String> = body
        .get("tags")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute tags. 'tags' is a required property")
        })?
        .iter()
        .map(|t| {
            t.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad("Invalid input for field/attribute tags."))
        })
        .collect::<Result<_>>()?;
    for t in &tags {
        valid_tag(t)?;
    }
    let mut tags = tags;
    tags.sort();
    tags.dedup();
    if tags.len() > 50 {
        return Err(bad("The number of tags exceeded the per-server limit 50"));
    }
    instances::set_tags(&svc.db, &id, &tags, svc.now()).await?;
    Ok(axum::Json(json!({"tags": tags})).into_response())
}

pub async fn delete_tags(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    need_tags(v)?;
    let i = svc
        .visible(&ctx, &id, "os_compute_api:os-server-tags:delete_all")
        .await?;
    tags_editable(&i)?;
    instances::set_tags(&svc.db, &id, &[], svc.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn check_tag(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    need_tags(v)?;
    let i = svc
        .visible(&ctx, &id, "os_compute_api:os-server-tags:show")
        .await?;
    if i.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound(format!("Tag {tag} could not be found.")))
    }
}

pub async fn add_tag(
    State(svc): St,
    ctx: Context,
    v: Version,
    BaseUrl(base): BaseUrl,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response> {
    need_tags(v)?;
    valid_tag(&tag)?;
    let i = svc
        .visible(&ctx, &id, "os_compute_api:os-server-tags:update")
        .await?;
    tags_editable(&i)?;
    if i.tags.contains(&tag) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if i.tags.len() >= 50 {
        return Err(bad("The number of tags exceeded the per-server limit 50"));
    }
    let mut tags = i.tags.clone();
    tags.push(tag.clone());
    instances::set_tags(&svc.db, &id, &tags, svc.now()).await?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("{base}/v2.1/servers/{id}/tags/{tag}"),
        )],
    )
        .into_response())
}

pub async fn delete_tag(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    need_tags(v)?;
    let i = svc
        .visible(&ctx, &id, "os_compute_api:os-server-tags:delete")
        .await?;
    tags_editable(&i)?;
    if !i.tags.contains(&tag) {
        return Err(Error::NotFound(format!("Tag {tag} could not be found.")));
    }
    let tags: Vec<String> = i.tags.into_iter().filter(|t| *t != tag).collect();
    instances::set_tags(&svc.db, &id, &tags, svc.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- instance actions -----------------------------------------------------------------

fn action_json(a: &Action, v: Version) -> Value {
    let mut o = json!({
        "action": a.action, "instance_uuid": a.instance_uuid, "request_id": a.request_id,
        "user_id": a.user_id, "project_id": a.project_id, "message": a.message,
        "start_time": iso_micro(a.start_time),
    });
    if v.at_least(2, 58) {
        o["updated_at"] = json!(iso_micro(a.updated_at));
    }
    o
}

pub async fn list_actions(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    let i = match instances::get(&svc.db, &id, true).await? {
        Some(i) => i,
        None => return Err(not_found(&id)),
    };
    svc.enforce(
        &ctx,
        "os_compute_api:os-instance-actions:list",
        &ComputeService::project_target(&i.project_id, None),
    )
    .map_err(|_| not_found(&id))?;
    let list: Vec<Value> = misc::actions(&svc.db, &id)
        .await?
        .iter()
        .map(|a| action_json(a, v))
        .collect();
    Ok(axum::Json(json!({"instanceActions": list})).into_response())
}

pub async fn show_action(
    State(svc): St,
    ctx: Context,
    v: Version,
    Path((id, req)): Path<(String, String)>,
) -> Result<Response> {
    let i = instances::get(&svc.db, &id, true)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let target = ComputeService::project_target(&i.project_id, None);
    svc.enforce(&ctx, "os_compute_api:os-instance-actions:show", &target)
        .map_err(|_| not_found(&id))?;
    let a = misc::action(&svc.db, &id, &req)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Action {req} could not be found.")))?;
    let mut o = action_json(&a, v);
    if svc.allowed(&ctx, "os_compute_api:os-instance-actions:events", &target) {
        let admin = svc.is_admin(&ctx);
        let evs: Vec<Value> = misc::events(&svc.db, &a.id)
            .await?
            .iter()
            .map(|e| {
                let mut x = json!({
                    "event": e.event, "start_time": iso_micro(e.start_time),
                    "finish_time": e.finish_time.map(iso_micro), "result": e.result,
                });
                if admin {
                    x["traceback"] = json!(e.traceback);
                }
                if v.at_least(2, 62) {
                    x["hostId"] = json!(views::host_id(&i.project_id, e.host.as_deref()));
                    if admin {
                        x["host"] = json!(e.host);
                    }
                }
                x
            })
            .collect();
        o["events"] = json!(evs);
    }
    Ok(axum::Json(json!({"instanceAction": o})).into_response())
}

pub fn routes() -> Routes<Arc<ComputeService>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v2.1/servers",
        get(list, "List servers"),
        post(create, "Create servers")
    );
    let r = api::route!(
        r,
        "/v2.1/servers/detail",
        get(detail, "List servers with details")
    );
    let r = api::route!(
        r,
        "/v2.1/servers/{server_id}",
        get(show, "Show a server"),
        put(update, "Update a server"),
        delete(delete, "Delete a server")
    );
    let r = api::route!(
        r,
        "/v2.1/servers/{server_id}/metadata",
        get(list_metadata, "List server metadata"),
        post(update_metadata, "Merge server metadata"),
        put(replace_metadata, "Replace server metadata")
    );
    let r = api::route!(
        r,
        "/v2.1/servers/{server_id}/metadata/{key}",
        get(show_metadata_item, "Show a metadata item"),
        put(set_metadata_item, "Set a metadata item"),
        delete(delete_metadata_item, "Delete a metadata item")
    );
    let r = api::route!(
        r,
        "/v2.1/servers/{server_id}/tags",
        get(list_tags, "List server tags"),
        put(replace_tags, "Replace server tags"),
        delete(delete_tags, "Delete all server tags")
    );
    let r = api::route!(
        r,
        "/v2.1/servers/{server_id}/tags/{tag}",
        get(check_tag, "Check a server tag"),
        put(add_tag, "Add a server tag"),
        delete(delete_tag, "Delete a server tag")
    );
    let r = api::route!(
        r,
        "/v2.1/servers/{server_id}/os-instance-actions",
        get(list_actions, "List instance actions")
    );
    api::route!(
        r,
        "/v2.1/servers/{server_id}/os-instance-actions/{request_id}",
        get(show_action, "Show an instance action")
    )
}
