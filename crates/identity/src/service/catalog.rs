//! The service catalog as tokens carry it, with endpoint URL substitution and project
//! endpoint filtering (OS-EP-FILTER).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::model::Endpoint;
use crate::service::cache::Stamped;
use crate::{Identity, Result, store};

/// Substitute `$(name)s` / `%(name)s` in an endpoint URL. `None` when a needed value is
/// missing (the endpoint is then left out of the catalog, as keystone does).
pub fn format_url(url: &str, project_id: Option<&str>, user_id: &str) -> Option<String> {
    let u = url.replace("$(", "%(");
    let mut out = String::with_capacity(u.len());
    let mut rest = u.as_str();
    while let Some(i) = rest.find("%(") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find(")s")?;
        let key = &after[..end];
        let val = match key {
            "tenant_id" | "project_id" => project_id?,
            "user_id" => user_id,
            _ => return None,
        };
        out.push_str(val);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Some(out)
}

/// Endpoint ids that match an endpoint group's filters.
pub fn group_matches(filters: &Value, ep: &Endpoint) -> bool {
    let Some(m) = filters.as_object() else {
        return false;
    };
    m.iter().all(|(k, v)| match k.as_str() {
        "service_id" => v.as_str() == Some(ep.service_id.as_str()),
        "region_id" => v.as_str() == ep.region_id.as_deref(),
        "interface" => v.as_str() == Some(ep.interface.as_str()),
        _ => false,
    })
}

impl Identity {
    /// Endpoint ids associated with a project, directly or through endpoint groups.
    /// Empty when the project has no associations (then every endpoint is listed).
    pub async fn project_endpoint_ids(&self, project_id: &str) -> Result<HashSet<String>> {
        use db::RowExt;
        let mut ids = HashSet::new();
        let rows = self
            .db
            .q("SELECT endpoint_id FROM project_endpoint WHERE project_id = ?")
            .bind(project_id)
            .fetch_all(self.db.pool())
            .await?;
        for r in rows {
            ids.insert(r.text("endpoint_id")?);
        }
        let groups = self
            .db
            .q("SELECT g.filters FROM endpoint_group g JOIN project_endpoint_group pg ON pg.endpoint_group_id = g.id WHERE pg.project_id = ?")
            .bind(project_id)
            .fetch_all(self.db.pool())
            .await?;
        if !groups.is_empty() {
            let eps = store::catalog::list_endpoints(&self.db).await?;
            for g in groups {
                let filters: Value =
                    serde_json::from_str(&g.text("filters")?).unwrap_or(Value::Null);
                for ep in &eps {
                    if group_matches(&filters, ep) {
                        ids.insert(ep.id.clone());
                    }
                }
            }
        }
        Ok(ids)
    }

    /// The v3 catalog for a user and (optional) project, cached until the next write.
    pub async fn catalog(&self, user_id: &str, project_id: Option<&str>) -> Result<Arc<Value>> {
        let key = format!("{}\u{0}{}", project_id.unwrap_or(""), user_id);
        let epoch = self.epoch();
        if let Some(s) = self.cache.catalogs.get(&key)
            && s.epoch == epoch
        {
            return Ok(s.value);
        }
        let services = store::catalog::list_services(&self.db).await?;
        let endpoints = store::catalog::list_endpoints(&self.db).await?;
        let filter = match project_id {
            Some(p) => self.project_endpoint_ids(p).await?,
            None => HashSet::new(),
        };
        let mut by_service: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for ep in &endpoints {
            if !ep.enabled || (!filter.is_empty() && !filter.contains(&ep.id)) {
                continue;
            }
            let Some(url) = format_url(&ep.url, project_id, user_id) else {
                continue;
            };
            by_service
                .entry(ep.service_id.as_str())
                .or_default()
                .push(json!({
                    "id": ep.id,
                    "interface": ep.interface,
                    "region": ep.region_id,
                    "region_id": ep.region_id,
                    "url": url,
                }));
        }
        let mut catalog = Vec::new();
        for s in services.iter().filter(|s| s.enabled) {
            let eps = by_service.remove(s.id.as_str()).unwrap_or_default();
            if !filter.is_empty() && eps.is_empty() {
                continue;
            }
            catalog.push(json!({
                "endpoints": eps,
                "id": s.id,
                "type": s.service_type,
                "name": s.name.clone().unwrap_or_default(),
            }));
        }
        let v = Arc::new(Value::Array(catalog));
        self.cache.catalogs.insert(
            key,
            Stamped {
                epoch,
                value: v.clone(),
            },
        );
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_substituted() {
        assert_eq!(
            format_url("http://h:8774/v2.1/$(project_id)s", Some("p1"), "u").as_deref(),
            Some("http://h:8774/v2.1/p1")
        );
        assert_eq!(
            format_url("http://h/AUTH_%(tenant_id)s", Some("p1"), "u").as_deref(),
            Some("http://h/AUTH_p1")
        );
        assert_eq!(format_url("http://h/$(project_id)s", None, "u"), None);
        assert_eq!(
            format_url("http://h:5000", None, "u").as_deref(),
            Some("http://h:5000")
        );
        assert_eq!(format_url("http://h/$(nope)s", Some("p"), "u"), None);
    }
}
