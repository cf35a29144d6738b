//! Identity service options, named after keystone's where keystone has them.

use std::path::PathBuf;

/// `[identity]`, `[token]`, `[fernet_tokens]`, `[credential]`, `[oslo_policy]`, … options.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// `[database] connection`
    pub database_url: String,
    /// `[token] expiration` — seconds a token lives.
    pub token_expiration: i64,
    /// `[token] allow_expired_window` — seconds after expiry a token may still be
    /// validated with `allow_expired=1`.
    pub allow_expired_window: i64,
    /// `[token] allow_rescope_scoped_token`
    pub allow_rescope_scoped_token: bool,
    /// `[fernet_tokens] key_repository`
    pub key_repository: PathBuf,
    /// `[fernet_tokens] max_active_keys`
    pub max_active_keys: usize,
    /// `[credential] key_repository` — keys that encrypt credential blobs at rest.
    pub credential_key_repository: PathBuf,
    /// `[identity] default_domain_id`
    pub default_domain_id: String,
    /// `[identity] password_hash_rounds` (bcrypt cost, 4–31).
    pub password_hash_rounds: u32,
    /// `[identity] max_password_length`
    pub max_password_length: usize,
    /// `[identity] list_limit`
    pub list_limit: Option<usize>,
    /// `[oslo_policy] policy_file`
    pub policy_file: Option<PathBuf>,
    /// `[oslo_policy] enforce_scope`
    pub enforce_scope: bool,
    /// `[DEFAULT] public_endpoint`
    pub public_endpoint: Option<String>,
    /// `[DEFAULT] max_request_body_size`
    pub max_request_body_size: usize,
    /// `[resource] admin_project_name` / `admin_project_domain_name`: tokens scoped to this
    /// project are `is_admin_project`; when unset every token is.
    pub admin_project: Option<(String, String)>,
    /// `[security_compliance] unique_last_password_count`
    pub unique_last_password_count: usize,
    /// `[security_compliance] minimum_password_age` (days)
    pub minimum_password_age: i64,
    /// `[security_compliance] password_expires_days`
    pub password_expires_days: Option<i64>,
    /// `[security_compliance] lockout_failure_attempts`
    pub lockout_failure_attempts: Option<u32>,
    /// `[security_compliance] lockout_duration` (seconds)
    pub lockout_duration: i64,
    /// `[security_compliance] password_regex`
    pub password_regex: Option<String>,
    /// `[security_compliance] password_regex_description`
    pub password_regex_description: Option<String>,
    /// `[security_compliance] change_password_upon_first_use`
    pub change_password_upon_first_use: bool,
    /// `[cache] expiration_time` — how often (seconds) this node re-reads the change
    /// counter that other identity nodes bump, so their writes reach its caches.
    pub cache_poll_seconds: u64,
}

impl IdentityConfig {
    /// Defaults for a data directory, as `ferrostack aio` uses them.
    pub fn for_data_dir(dir: &std::path::Path) -> Self {
        IdentityConfig {
            database_url: format!("sqlite://{}/identity.db", dir.display()),
            token_expiration: 3600,
            allow_expired_window: 48 * 3600,
            allow_rescope_scoped_token: true,
            key_repository: dir.join("fernet-keys"),
            max_active_keys: 3,
            credential_key_repository: dir.join("credential-keys"),
            default_domain_id: "default".into(),
            password_hash_rounds: 12,
            max_password_length: 4096,
            list_limit: None,
            policy_file: None,
            enforce_scope: false,
            public_endpoint: None,
            max_request_body_size: 114_688,
            admin_project: None,
            unique_last_password_count: 0,
            minimum_password_age: 0,
            password_expires_days: None,
            lockout_failure_attempts: None,
            lockout_duration: 1800,
            password_regex: None,
            password_regex_description: None,
            change_password_upon_first_use: false,
            cache_poll_seconds: 2,
        }
    }
}
