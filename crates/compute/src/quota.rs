//! Nova's quotas: defaults from configuration, the `default` quota class, project and
//! per-user overrides; usage counted from the database at check time.

use crate::store::{instances, keypairs, misc};
use crate::{ComputeService, Error, Result};

/// Nova's default limits (`[quota]`); -1 is unlimited.
pub const DEFAULTS: &[(&str, i64)] = &[
    ("instances", 10),
    ("cores", 20),
    ("ram", 51200),
    ("metadata_items", 128),
    ("injected_files", 5),
    ("injected_file_content_bytes", 10240),
    ("injected_file_path_bytes", 255),
    ("key_pairs", 100),
    ("server_groups", 10),
    ("server_group_members", 10),
];

/// Resources shown by `os-quota-sets` before 2.36 as well (network ones, unlimited).
pub const LEGACY: &[&str] = &[
    "fixed_ips",
    "floating_ips",
    "security_groups",
    "security_group_rules",
];

pub fn known(resource: &str) -> bool {
    DEFAULTS.iter().any(|(k, _)| *k == resource) || LEGACY.contains(&resource)
}

impl ComputeService {
    /// A server's or image's metadata may hold at most `metadata_items` entries.
    pub async fn check_metadata_quota(
        &self,
        project: &str,
        user: &str,
        count: usize,
    ) -> Result<()> {
        let limit = get(
            &self.quota_limits(project, Some(user)).await?,
            "metadata_items",
        )
        .unwrap_or(-1);
        if limit >= 0 && i64::try_from(count).unwrap_or(i64::MAX) > limit {
            return Err(crate::Error::OverQuota(format!(
                "Quota exceeded for metadata_items: Requested {count}, but already used 0 of {limit} metadata_items"
            )));
        }
        Ok(())
    }

    /// Effective limits of a project (and user): config defaults ← `default` class ←
    /// project overrides ← user overrides.
    pub async fn quota_limits(
        &self,
        project: &str,
        user: Option<&str>,
    ) -> Result<Vec<(String, i64)>> {
        let mut out = self.quota_class_limits("default").await?;
        for (k, v) in misc::quotas(&self.db, project, "").await? {
            set(&mut out, &k, v);
        }
        if let Some(u) = user {
            for (k, v) in misc::quotas(&self.db, project, u).await? {
                set(&mut out, &k, v);
            }
        }
        Ok(out)
    }

    pub async fn quota_class_limits(&self, class: &str) -> Result<Vec<(String, i64)>> {
        let mut out = self.cfg.quota_defaults.clone();
        for (k, v) in misc::quota_class(&self.db, class).await? {
            set(&mut out, &k, v);
        }
        Ok(out)
    }

    /// Current usage of the counted resources.
    pub async fn quota_usage(&self, project: &str, user: &str) -> Result<Vec<(String, i64)>> {
        let (n, cores, ram) = instances::usage(&self.db, project, None).await?;
        Ok(vec![
            ("instances".into(), n),
            ("cores".into(), cores),
            ("ram".into(), ram),
            ("key_pairs".into(), keypairs::count(&self.db, user).await?),
            (
                "server_groups".into(),
                misc::count_groups(&self.db, project).await?,
            ),
        ])
    }

    /// Refuse (403, nova's message) when adding `deltas` would exceed a limit.
    pub async fn check_quota(
        &self,
        project: &str,
        user: &str,
        deltas: &[(&str, i64)],
    ) -> Result<()> {
        let limits = self.quota_limits(project, Some(user)).await?;
        let usage = self.quota_usage(project, user).await?;
        let mut over = Vec::new();
        for (res, want) in deltas {
            let limit = get(&limits, res).unwrap_or(-1);
            if limit < 0 || *want <= 0 {
                continue;
            }
            let used = get(&usage, res).unwrap_or(0);
            if used + want > limit {
                over.push((res.to_string(), *want, used, limit));
            }
        }
        if over.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = over.iter().map(|o| o.0.as_str()).collect();
        let req: Vec<String> = over.iter().map(|o| o.1.to_string()).collect();
        let used: Vec<String> = over.iter().map(|o| o.2.to_string()).collect();
        let lim: Vec<String> = over.iter().map(|o| o.3.to_string()).collect();
        Err(Error::OverQuota(format!(
            "Quota exceeded for {}: Requested {}, but already used {} of {} {}",
            names.join(", "),
            req.join(", "),
            used.join(", "),
            lim.join(", "),
            names.join(", ")
        )))
    }
}

fn set(v: &mut Vec<(String, i64)>, k: &str, limit: i64) {
    match v.iter_mut().find(|(n, _)| n == k) {
        Some(e) => e.1 = limit,
        None => v.push((k.to_string(), limit)),
    }
}

pub fn get(v: &[(String, i64)], k: &str) -> Option<i64> {
    v.iter().find(|(n, _)| n == k).map(|(_, l)| *l)
}
