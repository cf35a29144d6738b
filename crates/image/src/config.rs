//! Image service options, named after Glance's where Glance has them.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// `[database] connection` of the image service.
    pub database_url: String,
    /// `[glance_store] filesystem_store_datadir`: the store when only one is enabled.
    pub filesystem_store_datadir: PathBuf,
    /// `enabled_backends = id:file, …` with each backend's directory; the first is the
    /// default. Empty means one store, `file`, in `filesystem_store_datadir`.
    pub backends: Vec<(String, PathBuf)>,
    /// Where `glance-direct` staging data waits for import (`[os_glance_staging_store]`).
    pub staging_dir: PathBuf,
    /// `[DEFAULT] image_size_cap` — largest image accepted, in bytes.
    pub image_size_cap: u64,
    /// `[DEFAULT] user_storage_quota`-style limits (used unless unified limits apply):
    /// total image size per project (bytes), image count, staging size (bytes).
    pub quota_image_size_total: Option<u64>,
    pub quota_image_count_total: Option<u64>,
    pub quota_image_stage_total: Option<u64>,
    /// `[DEFAULT] use_keystone_limits`: take quotas from identity's unified limits.
    pub use_keystone_limits: bool,
    /// `[DEFAULT] enabled_import_methods`
    pub enabled_import_methods: Vec<String>,
    /// `[import_filtering_opts] allowed_hosts` / `disallowed_hosts`, and whether private
    /// and loopback addresses may be fetched by `web-download` (never by default).
    pub web_download_allowed_hosts: Vec<String>,
    pub web_download_disallowed_hosts: Vec<String>,
    pub web_download_allow_private: bool,
    /// `[image_format] require_image_format_match`: refuse content that does not match
    /// the declared disk_format.
    pub require_image_format_match: bool,
    /// `[oslo_policy] policy_file`
    pub policy_file: Option<PathBuf>,
    pub enforce_scope: bool,
    /// `[DEFAULT] public_endpoint`
    pub public_endpoint: Option<String>,
    /// The image cache (`image_cache_dir` and its options); `None`: no cache, as Glance
    /// without `image_cache_dir`.
    pub cache: Option<crate::cache::CacheConfig>,
}

impl ImageConfig {
    pub fn for_data_dir(dir: &std::path::Path) -> Self {
        ImageConfig {
            database_url: format!("sqlite://{}/image.db", dir.display()),
            filesystem_store_datadir: dir.join("images"),
            backends: Vec::new(),
            staging_dir: dir.join("image-staging"),
            image_size_cap: 1 << 40,
            quota_image_size_total: None,
            quota_image_count_total: None,
            quota_image_stage_total: None,
            use_keystone_limits: false,
            enabled_import_methods: vec![
                "glance-direct".into(),
                "web-download".into(),
                "copy-image".into(),
            ],
            web_download_allowed_hosts: Vec::new(),
            web_download_disallowed_hosts: Vec::new(),
            web_download_allow_private: false,
            require_image_format_match: true,
            policy_file: None,
            enforce_scope: false,
            public_endpoint: None,
            cache: None,
        }
    }
}
