//! The metadata service's view of the compute database (nova-api-metadata): instances
//! found by id (behind a metadata proxy) and the password a guest posts, kept in the
//! instance's system metadata as nova does.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use crate::ComputeService;
use crate::store::instances::{self, Changes};

/// [`metadata::InstanceFinder`] over the compute database.
pub struct Finder(pub Arc<ComputeService>);

#[async_trait]
impl metadata::InstanceFinder for Finder {
    async fn by_id(&self, uuid: &str) -> Option<metadata::InstanceMetadata> {
        let i = instances::get(&self.0.db, uuid, false).await.ok()??;
        let mut md = crate::virt::qemu::instance_metadata(&ComputeService::guest_spec(&i));
        md.instance_id = i.seq;
        md.launched_at = i.launched_at.map(crate::model::iso);
        md.admin_pass = i
            .system_metadata
            .get("password")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        Some(md)
    }

    /// Guests are found by their fixed address once networking gives them one; until
    /// then only the `X-Instance-ID` path finds them.
    async fn by_address(&self, _ip: &str) -> Option<metadata::InstanceMetadata> {
        None
    }

    async fn set_password(&self, uuid: &str, password: &str) -> Result<bool, String> {
        let i = instances::get(&self.0.db, uuid, false)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("instance {uuid} not found"))?;
        if i.system_metadata
            .get("password")
            .and_then(|v| v.as_str())
            .is_some_and(|p| !p.is_empty())
        {
            return Ok(false);
        }
        let mut sysmeta = i.system_metadata.clone();
        sysmeta.insert("password".into(), json!(password));
        let ch = Changes {
            system_metadata: Some(sysmeta),
            ..Default::default()
        };
        instances::update(&self.0.db, uuid, &ch, &[], &[], self.0.now())
            .await
            .map(|_| true)
            .map_err(|e| e.to_string())
    }
}
