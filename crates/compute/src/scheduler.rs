//! The scheduler: placement's allocation candidates, then nova's filters (compute
//! enabled and up, availability zone, server group policies, host hints, image
//! properties) and weighers (free RAM, free CPU, recent build failures). The chosen
//! host's allocations are claimed in placement; the rest are alternates for retries.

use std::collections::HashMap;

use serde_json::Value;

use crate::clients::Candidate;
use crate::model::{ComputeNode, Flavor, Service};
use crate::store::misc;
use crate::{ComputeService, Error, Result};

/// The binary name compute agents register as.
pub const COMPUTE_BINARY: &str = "nova-compute";

/// What a build asks of the scheduler.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub instance_uuid: &'a str,
    pub project_id: &'a str,
    pub user_id: &'a str,
    pub flavor: &'a Flavor,
    pub image_meta: &'a Value,
    pub availability_zone: Option<&'a str>,
    /// `host` / `node` forced by an admin (`--availability-zone az:host`, `--host`).
    pub forced_host: Option<&'a str>,
    pub hints: &'a Value,
    /// Hosts already tried for this instance.
    pub ignore_hosts: &'a [String],
}

/// A chosen host with its claimed allocation.
#[derive(Debug, Clone)]
pub struct Selection {
    pub host: String,
    pub node: ComputeNode,
    pub allocation: Value,
}

/// Resource amounts a flavor needs from placement.
pub fn resources(f: &Flavor) -> Vec<(&'static str, i64)> {
    let swap_gb = (f.swap + 1023) / 1024;
    vec![
        ("VCPU", f.vcpus),
        ("MEMORY_MB", f.ram),
        ("DISK_GB", f.disk + f.ephemeral + swap_gb),
    ]
}

/// Traits required / forbidden by flavor extra specs (`trait:X=required|forbidden`) and
/// image properties (`trait:X=required`).
pub fn traits(f: &Flavor, image_meta: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let props = image_meta.get("properties").unwrap_or(image_meta);
    let sources = f
        .extra_specs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default().to_string()))
        .chain(
            props
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default().to_string())),
        );
    for (k, v) in sources {
        if let Some(t) = k.strip_prefix("trait:") {
            match v.as_str() {
                "required" => out.push(t.to_string()),
                "forbidden" => out.push(format!("!{t}")),
                _ => {}
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn hint_list(hints: &Value, key: &str) -> Vec<String> {
    match hints.get(key) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

impl ComputeService {
    pub fn service_is_up(&self, s: &Service) -> bool {
        if s.forced_down {
            return false;
        }
        let Some(seen) = s.last_seen_up else {
            return false;
        };
        self.now() - seen <= self.cfg.service_down_time * 1_000_000
    }

    /// Hosts that pass the filters, best first, with their candidates.
    async fn filtered(&self, req: &Request<'_>) -> Result<Vec<(String, ComputeNode, Candidate)>> {
        let want = resources(req.flavor);
        let required = traits(req.flavor, req.image_meta);
        let candidates = self
            .placement
            .candidates(&want, &required, &[], self.cfg.max_placement_results)
            .await?;
        let services: HashMap<String, Service> = misc::services(&self.db)
            .await?
            .into_iter()
            .filter(|s| s.binary == COMPUTE_BINARY)
            .map(|s| (s.host.clone(), s))
            .collect();
        let nodes: HashMap<String, ComputeNode> = misc::nodes(&self.db)
            .await?
            .into_iter()
            .map(|n| (n.uuid.clone(), n))
            .collect();
        // Server group policy.
        let group = match req.hints.get("group").and_then(Value::as_str) {
            Some(g) => misc::group(&self.db, g).await?,
            None => None,
        };
        let group_hosts = match &group {
            Some(g) => misc::group_hosts(&self.db, &g.id, req.instance_uuid).await?,
            None => Vec::new(),
        };
        let max_per_host = group
            .as_ref()
            .and_then(|g| g.rules.get("max_server_per_host"))
            .and_then(Value::as_i64)
            .unwrap_or(1);
        // Aggregate multitenancy isolation: a host in aggregates carrying
        // `filter_tenant_id*` keys only takes those projects.
        let aggs = crate::store::aggregates::list(&self.db).await?;
        let tenant_ok = |host: &str| {
            let mut allowed = aggs
                .iter()
                .filter(|a| a.hosts.iter().any(|h| h == host))
                .flat_map(|a| {
                    a.metadata
                        .iter()
                        .filter(|(k, _)| k.starts_with("filter_tenant_id"))
                        .flat_map(|(_, v)| v.split(',').map(str::trim))
                })
                .peekable();
            allowed.peek().is_none() || allowed.any(|p| p == req.project_id)
        };
        let same_host = self.hint_hosts(req.hints, "same_host").await?;
        let different_host = self.hint_hosts(req.hints, "different_host").await?;
        let want_hv = req
            .image_meta
            .get("properties")
            .and_then(|p| p.get("img_hv_type").or_else(|| p.get("hypervisor_type")))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);

        let mut out = Vec::new();
        for c in candidates {
            let Some(node) = nodes.get(&c.root) else {
                continue;
            };
            let host = node.host.clone();
            let Some(svc) = services.get(&host) else {
                continue;
            };
            if svc.disabled || !self.service_is_up(svc) {
                continue;
            }
            if req.ignore_hosts.contains(&host) {
                continue;
            }
            if let Some(f) = req.forced_host
                && f != host
            {
                continue;
            }
            if let Some(az) = req.availability_zone
                && az != svc.zone
            {
                continue;
            }
            if !tenant_ok(&host) {
                continue;
            }
            if let Some(g) = &group {
                let on_host = i64::try_from(group_hosts.iter().filter(|h| **h == host).count())
                    .unwrap_or(i64::MAX);
                let ok = match g.policy.as_str() {
                    "affinity" => group_hosts.is_empty() || on_host > 0,
                    "anti-affinity" => on_host < max_per_host,
                    _ => true, // soft policies only weigh
                };
                if !ok {
                    continue;
                }
            }
            if !same_host.is_empty() && !same_host.contains(&host) {
                continue;
            }
            if different_host.contains(&host) {
                continue;
            }
            if let Some(hv) = &want_hv
                && !node.hypervisor_type.eq_ignore_ascii_case(hv)
            {
                continue;
            }
            out.push((host, node.clone(), c));
        }
        // Weigh: soft group policies, free RAM, free CPU, recent failures.
        let failures = self.failures.lock().clone();
        let soft = group.as_ref().map(|g| g.policy.clone());
        let weight = |host: &str, c: &Candidate| -> f64 {
            let mut w = c.free_ram_mb as f64 / 1024.0 + c.free_vcpus as f64;
            let on_host = group_hosts.iter().filter(|h| *h == host).count() as f64;
            match soft.as_deref() {
                Some("soft-affinity") => w += 1000.0 * on_host,
                Some("soft-anti-affinity") => w -= 1000.0 * on_host,
                _ => {}
            }
            w - 10_000.0 * f64::from(failures.get(host).copied().unwrap_or(0))
        };
        out.sort_by(|a, b| {
            weight(&b.0, &b.2)
                .partial_cmp(&weight(&a.0, &a.2))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(out)
    }

    async fn hint_hosts(&self, hints: &Value, key: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for id in hint_list(hints, key) {
            if let Some(i) = crate::store::instances::get(&self.db, &id, false).await?
                && let Some(h) = i.host
            {
                out.push(h);
            }
        }
        Ok(out)
    }

    /// Pick a host and claim its resources; also returns up to `max_attempts - 1`
    /// alternate hosts (unclaimed) for retries.
    pub async fn select(&self, req: &Request<'_>) -> Result<(Selection, Vec<String>)> {
        let hosts = self.filtered(req).await?;
        let mut iter = hosts.into_iter();
        while let Some((host, node, c)) = iter.next() {
            if self
                .placement
                .claim(req.instance_uuid, &c.request, req.project_id, req.user_id)
                .await?
            {
                let alternates: Vec<String> = iter
                    .map(|(h, _, _)| h)
                    .take(self.cfg.max_attempts.saturating_sub(1))
                    .collect();
                return Ok((
                    Selection {
                        host,
                        node,
                        allocation: c.request["allocations"].clone(),
                    },
                    alternates,
                ));
            }
        }
        Err(Error::NoValidHost(
            "No valid host was found. There are not enough hosts available.".into(),
        ))
    }

    pub fn note_build_failure(&self, host: &str) {
        *self.failures.lock().entry(host.to_string()).or_default() += 1;
    }

    pub fn note_build_success(&self, host: &str) {
        self.failures.lock().remove(host);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flavors_become_resources_and_traits() {
        let f: Flavor = serde_json::from_value(json!({
            "id": "1", "name": "f", "vcpus": 2, "ram": 512, "disk": 10, "ephemeral": 5, "swap": 1500,
            "extra_specs": {"trait:HW_CPU_X86_AVX": "required", "trait:CUSTOM_SLOW": "forbidden", "hw:cpu_policy": "shared"}
        }))
        .unwrap();
        assert_eq!(
            resources(&f),
            vec![("VCPU", 2), ("MEMORY_MB", 512), ("DISK_GB", 17)]
        );
        let img = json!({"properties": {"trait:COMPUTE_TRUSTED_CERTS": "required"}});
        assert_eq!(
            traits(&f, &img),
            vec!["!CUSTOM_SLOW", "COMPUTE_TRUSTED_CERTS", "HW_CPU_X86_AVX"]
        );
    }

    #[test]
    fn hints_accept_one_or_many() {
        assert_eq!(
            hint_list(&json!({"same_host": "a"}), "same_host"),
            vec!["a"]
        );
        assert_eq!(
            hint_list(&json!({"same_host": ["a", "b"]}), "same_host"),
            vec!["a", "b"]
        );
        assert!(hint_list(&json!({}), "same_host").is_empty());
    }
}
