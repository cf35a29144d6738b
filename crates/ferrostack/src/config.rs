//! The configuration file: INI in the spirit of oslo.config, OpenStack option names where
//! OpenStack has them, and environment overrides `FERROSTACK_<SECTION>__<OPTION>`
//! (e.g. `FERROSTACK_DATABASE__CONNECTION`, `FERROSTACK_TOKEN__EXPIRATION`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use identity::IdentityConfig;

/// Parsed options: section -> option -> value, sections and options lower-cased.
#[derive(Debug, Clone, Default)]
pub struct Config {
    values: HashMap<String, HashMap<String, String>>,
    pub source: Option<PathBuf>,
}

impl Config {
    /// Read `path` (when given) and apply environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let mut c = Config::default();
        if let Some(p) = path {
            let ini = ini::Ini::load_from_file(p)
                .with_context(|| format!("cannot read configuration file {}", p.display()))?;
            for (section, props) in ini.iter() {
                let s = section.unwrap_or("DEFAULT").to_ascii_lowercase();
                for (k, v) in props.iter() {
                    c.values
                        .entry(s.clone())
                        .or_default()
                        .insert(k.to_ascii_lowercase(), v.to_string());
                }
            }
            c.source = Some(p.to_path_buf());
        }
        for (k, v) in std::env::vars() {
            if let Some(rest) = k.strip_prefix("FERROSTACK_")
                && let Some((s, o)) = rest.split_once("__")
            {
                c.values
                    .entry(s.to_ascii_lowercase())
                    .or_default()
                    .insert(o.to_ascii_lowercase(), v);
            }
        }
        Ok(c)
    }

    pub fn get(&self, section: &str, option: &str) -> Option<&str> {
        self.values
            .get(section)
            .and_then(|s| s.get(option))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn string(&self, section: &str, option: &str, default: &str) -> String {
        self.get(section, option).unwrap_or(default).to_string()
    }

    pub fn parse<T: std::str::FromStr>(&self, section: &str, option: &str, default: T) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(section, option) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e| anyhow::anyhow!("[{section}] {option} = {v:?}: {e}")),
        }
    }

    pub fn opt_parse<T: std::str::FromStr>(&self, section: &str, option: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(section, option) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|e| anyhow::anyhow!("[{section}] {option} = {v:?}: {e}")),
        }
    }

    pub fn flag(&self, section: &str, option: &str, default: bool) -> Result<bool> {
        match self
            .get(section, option)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => Ok(default),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some(v) => bail!("[{section}] {option} = {v:?}: expected true or false"),
        }
    }

    /// `[DEFAULT] bind_host` (127.0.0.1 unless set).
    pub fn bind_host(&self) -> Result<IpAddr> {
        self.parse("default", "bind_host", IpAddr::from([127, 0, 0, 1]))
    }

    /// `[<service>] bind_port`, else the service's standard port.
    pub fn port(&self, service: &str, default: u16) -> Result<u16> {
        self.parse(service, "bind_port", default)
    }

    /// The database URL of a service: `[<service>] connection`, else `[database] connection`
    /// (identity only), else SQLite in the data directory.
    pub fn database_url(&self, service: &str, data_dir: &Path) -> String {
        if let Some(u) = self.get(service, "connection") {
            return u.to_string();
        }
        if service == "identity"
            && let Some(u) = self.get("database", "connection")
        {
            return u.to_string();
        }
        // placement's own option name
        if service == "placement"
            && let Some(u) = self.get("placement_database", "connection")
        {
            return u.to_string();
        }
        format!("sqlite://{}/{service}.db", data_dir.display())
    }

    /// Identity options from `[identity]`, `[token]`, `[fernet_tokens]`, … sections.
    pub fn identity(
        &self,
        data_dir: &Path,
        public_endpoint: Option<String>,
    ) -> Result<IdentityConfig> {
        let mut c = IdentityConfig::for_data_dir(data_dir);
        c.database_url = self.database_url("identity", data_dir);
        c.token_expiration = self.parse("token", "expiration", c.token_expiration)?;
        c.allow_expired_window =
            self.parse("token", "allow_expired_window", c.allow_expired_window)?;
        c.allow_rescope_scoped_token = self.flag(
            "token",
            "allow_rescope_scoped_token",
            c.allow_rescope_scoped_token,
        )?;
        if let Some(p) = self.get("fernet_tokens", "key_repository") {
            c.key_repository = PathBuf::from(p);
        }
        c.max_active_keys = self.parse("fernet_tokens", "max_active_keys", c.max_active_keys)?;
        if let Some(p) = self.get("credential", "key_repository") {
            c.credential_key_repository = PathBuf::from(p);
        }
        c.default_domain_id = self.string("identity", "default_domain_id", &c.default_domain_id);
        c.password_hash_rounds =
            self.parse("identity", "password_hash_rounds", c.password_hash_rounds)?;
        if !(4..=31).contains(&c.password_hash_rounds) {
            bail!("[identity] password_hash_rounds must be between 4 and 31 (bcrypt cost)");
        }
        c.max_password_length =
            self.parse("identity", "max_password_length", c.max_password_length)?;
        c.list_limit = self.opt_parse("identity", "list_limit")?;
        c.policy_file = self.get("oslo_policy", "policy_file").map(PathBuf::from);
        c.enforce_scope = self.flag("oslo_policy", "enforce_scope", c.enforce_scope)?;
        c.public_endpoint = self
            .get("default", "public_endpoint")
            .map(str::to_string)
            .or(public_endpoint);
        c.max_request_body_size =
            self.parse("default", "max_request_body_size", c.max_request_body_size)?;
        if let (Some(n), Some(d)) = (
            self.get("resource", "admin_project_name"),
            self.get("resource", "admin_project_domain_name"),
        ) {
            c.admin_project = Some((n.to_string(), d.to_string()));
        }
        let sc = "security_compliance";
        c.unique_last_password_count = self.parse(
            sc,
            "unique_last_password_count",
            c.unique_last_password_count,
        )?;
        c.minimum_password_age = self.parse(sc, "minimum_password_age", c.minimum_password_age)?;
        c.password_expires_days = self.opt_parse(sc, "password_expires_days")?;
        c.lockout_failure_attempts = self.opt_parse(sc, "lockout_failure_attempts")?;
        c.lockout_duration = self.parse(sc, "lockout_duration", c.lockout_duration)?;
        c.password_regex = self.get(sc, "password_regex").map(str::to_string);
        c.password_regex_description = self
            .get(sc, "password_regex_description")
            .map(str::to_string);
        c.change_password_upon_first_use = self.flag(
            sc,
            "change_password_upon_first_use",
            c.change_password_upon_first_use,
        )?;
        c.cache_poll_seconds = self.parse("cache", "expiration_time", c.cache_poll_seconds)?;
        Ok(c)
    }
}

impl Config {
    /// Image options from `[image]` (Glance's option names), `[glance_store]` and
    /// `[import_filtering_opts]`.
    pub fn image(&self, data_dir: &Path) -> Result<image::ImageConfig> {
        let mut c = image::ImageConfig::for_data_dir(data_dir);
        c.database_url = self.database_url("image", data_dir);
        if let Some(d) = self.get("glance_store", "filesystem_store_datadir") {
            c.filesystem_store_datadir = PathBuf::from(d);
        }
        if let Some(b) = self.get("image", "enabled_backends") {
            for item in list(b) {
                let (id, kind) = item.split_once(':').unwrap_or((item.as_str(), "file"));
                if kind.trim() != "file" {
                    bail!(
                        "[image] enabled_backends: store type {kind:?} of {id} is not supported (file)"
                    );
                }
                let dir = match self.get(id.trim(), "filesystem_store_datadir") {
                    Some(d) => PathBuf::from(d),
                    None => data_dir.join(format!("images-{}", id.trim())),
                };
                c.backends.push((id.trim().to_string(), dir));
            }
        }
        if let Some(d) = self.get("os_glance_staging_store", "filesystem_store_datadir") {
            c.staging_dir = PathBuf::from(d);
        }
        c.image_size_cap = self.parse("image", "image_size_cap", c.image_size_cap)?;
        // glance: 0 means no limit
        c.quota_image_size_total = self
            .opt_parse("image", "user_storage_quota")?
            .filter(|&v: &u64| v > 0);
        c.quota_image_count_total = self.opt_parse("image", "image_count_quota")?;
        c.quota_image_stage_total = self.opt_parse("image", "image_stage_quota")?;
        c.use_keystone_limits = self.flag("image", "use_keystone_limits", c.use_keystone_limits)?;
        if let Some(m) = self.get("image", "enabled_import_methods") {
            c.enabled_import_methods = list(m);
        }
        if let Some(h) = self.get("import_filtering_opts", "allowed_hosts") {
            c.web_download_allowed_hosts = list(h);
        }
        if let Some(h) = self.get("import_filtering_opts", "disallowed_hosts") {
            c.web_download_disallowed_hosts = list(h);
        }
        c.web_download_allow_private = self.flag(
            "import_filtering_opts",
            "allow_private_addresses",
            c.web_download_allow_private,
        )?;
        c.require_image_format_match = self.flag(
            "image_format",
            "require_image_format_match",
            c.require_image_format_match,
        )?;
        c.policy_file = self.get("image", "policy_file").map(PathBuf::from);
        c.enforce_scope = self.flag("oslo_policy", "enforce_scope", c.enforce_scope)?;
        if let Some(dir) = self.get("image", "image_cache_dir") {
            let node = match self.get("image", "worker_self_reference_url") {
                Some(u) => u.to_string(),
                None => format!(
                    "http://{}:{}",
                    compute::hostname(),
                    self.port("image", 9292)?
                ),
            };
            c.cache = Some(image::cache::CacheConfig {
                dir: PathBuf::from(dir),
                max_size: self.parse("image", "image_cache_max_size", 10 << 30)?,
                stall_time: self.parse("image", "image_cache_stall_time", 86_400)?,
                node,
            });
        }
        Ok(c)
    }

    /// Placement options from `[placement]` (placement's option names),
    /// `[placement_database]` and `[oslo_policy]`.
    pub fn placement(&self, data_dir: &Path) -> Result<placement::PlacementConfig> {
        let mut c = placement::PlacementConfig::for_data_dir(data_dir);
        c.database_url = self.database_url("placement", data_dir);
        c.policy_file = self.get("placement", "policy_file").map(PathBuf::from);
        c.enforce_scope = self.flag("oslo_policy", "enforce_scope", c.enforce_scope)?;
        if let Some(p) = self.get("placement", "incomplete_consumer_project_id") {
            c.incomplete_consumer_project_id = p.to_string();
        }
        if let Some(u) = self.get("placement", "incomplete_consumer_user_id") {
            c.incomplete_consumer_user_id = u.to_string();
        }
        c.allocation_conflict_retry_count = self.parse(
            "placement",
            "allocation_conflict_retry_count",
            c.allocation_conflict_retry_count,
        )?;
        c.max_allocation_candidates = self.parse(
            "placement",
            "max_allocation_candidates",
            c.max_allocation_candidates,
        )?;
        Ok(c)
    }

    /// `[DEFAULT] transport_url`: the message bus (in-process unless set).
    pub fn transport_url(&self) -> String {
        self.string("default", "transport_url", "memory://")
    }

    /// Compute options (nova's names): `[compute] connection` or `[api_database]
    /// connection`, `[scheduler]`, `[quota]` and `[DEFAULT]` options.
    pub fn compute(&self, data_dir: &Path) -> Result<compute::ComputeConfig> {
        let mut c = compute::ComputeConfig::for_data_dir(data_dir);
        c.database_url = match self.get("api_database", "connection") {
            Some(u) if self.get("compute", "connection").is_none() => u.to_string(),
            _ => self.database_url("compute", data_dir),
        };
        c.policy_file = self.get("compute", "policy_file").map(PathBuf::from);
        c.enforce_scope = self.flag("oslo_policy", "enforce_scope", c.enforce_scope)?;
        c.public_endpoint = self.get("compute", "public_endpoint").map(str::to_string);
        c.max_attempts = self.parse("scheduler", "max_attempts", c.max_attempts)?;
        if c.max_attempts == 0 {
            bail!("[scheduler] max_attempts must be at least 1");
        }
        c.max_placement_results = self.parse(
            "scheduler",
            "max_placement_results",
            c.max_placement_results,
        )?;
        c.service_down_time = self.parse("default", "service_down_time", c.service_down_time)?;
        c.default_availability_zone = self.string(
            "default",
            "default_availability_zone",
            &c.default_availability_zone,
        );
        c.default_schedule_zone = self
            .get("default", "default_schedule_zone")
            .map(str::to_string);
        c.rpc_timeout = std::time::Duration::from_secs(self.parse(
            "default",
            "rpc_response_timeout",
            c.rpc_timeout.as_secs(),
        )?);
        c.shutdown_timeout = self.parse("default", "shutdown_timeout", c.shutdown_timeout)?;
        c.shelved_offload_time =
            self.parse("default", "shelved_offload_time", c.shelved_offload_time)?;
        c.shelved_poll_interval =
            self.parse("default", "shelved_poll_interval", c.shelved_poll_interval)?;
        c.reclaim_instance_interval = self.parse(
            "default",
            "reclaim_instance_interval",
            c.reclaim_instance_interval,
        )?;
        c.notifications = !list(&self.string("oslo_messaging_notifications", "driver", ""))
            .iter()
            .any(|d| d == "noop");
        for (name, v) in c.quota_defaults.iter_mut() {
            *v = self.parse("quota", name, *v)?;
        }
        let host = match self.bind_host()? {
            std::net::IpAddr::V6(a) => format!("[{a}]"),
            a => a.to_string(),
        };
        c.novncproxy_base_url = self.string(
            "vnc",
            "novncproxy_base_url",
            &format!(
                "http://{host}:{}/vnc_lite.html",
                self.port("novncproxy", 6080)?
            ),
        );
        c.serial_base_url = self.string(
            "serial_console",
            "base_url",
            &format!("ws://{host}:{}/", self.port("serialproxy", 6083)?),
        );
        c.console_token_ttl = self.parse("consoleauth", "token_ttl", c.console_token_ttl)?;
        Ok(c)
    }

    /// The compute agent of `host` (else `[DEFAULT] host`, else this machine's name).
    pub fn agent(&self, host: Option<String>) -> Result<compute::agent::AgentConfig> {
        let host = host
            .or_else(|| self.get("default", "host").map(str::to_string))
            .unwrap_or_else(compute::hostname);
        let mut c = compute::agent::AgentConfig::for_host(&host);
        let d = "default";
        c.zone = self.string(d, "default_availability_zone", &c.zone);
        c.host_ip = self.string(d, "my_ip", &c.host_ip);
        let secs = |o: &str, v: std::time::Duration| -> Result<std::time::Duration> {
            Ok(std::time::Duration::from_secs(
                self.parse(d, o, v.as_secs())?.max(1),
            ))
        };
        c.report_interval = secs("report_interval", c.report_interval)?;
        c.sync_interval = secs("sync_power_state_interval", c.sync_interval)?;
        for (o, v) in [
            ("cpu_allocation_ratio", &mut c.cpu_allocation_ratio),
            ("ram_allocation_ratio", &mut c.ram_allocation_ratio),
            ("disk_allocation_ratio", &mut c.disk_allocation_ratio),
        ] {
            let initial = self.parse(d, &format!("initial_{o}"), *v)?;
            *v = self.parse(d, o, initial)?;
            if *v <= 0.0 {
                bail!("[DEFAULT] {o} must be greater than 0");
            }
        }
        c.reserved_host_memory_mb =
            self.parse(d, "reserved_host_memory_mb", c.reserved_host_memory_mb)?;
        c.reserved_host_disk_mb =
            self.parse(d, "reserved_host_disk_mb", c.reserved_host_disk_mb)?;
        c.reserved_host_cpus = self.parse(d, "reserved_host_cpus", c.reserved_host_cpus)?;
        Ok(c)
    }

    /// The virt driver chosen: `name` (from `--compute-driver`) else `[DEFAULT]
    /// compute_driver` (`qemu` by default). `fake` reports `[fake_driver] vcpus /
    /// memory_mb / disk_gb` (nova's fake driver sizes by default) and fails every spawn
    /// when `[fake_driver] fail_spawn` is set.
    pub fn driver_choice(&self, name: Option<&str>) -> Result<DriverChoice> {
        let name = name
            .map(str::to_string)
            .unwrap_or_else(|| self.string("default", "compute_driver", "qemu"));
        match name.as_str() {
            "fake" | "fake.FakeDriver" => {
                let f = "fake_driver";
                let cap = compute::virt::Capacity {
                    vcpus: self.parse(f, "vcpus", 1000)?,
                    memory_mb: self.parse(f, "memory_mb", 800_000)?,
                    disk_gb: self.parse(f, "disk_gb", 600_000)?,
                };
                if cap.vcpus <= 0 || cap.memory_mb <= 0 || cap.disk_gb <= 0 {
                    bail!("[fake_driver] vcpus, memory_mb and disk_gb must be positive");
                }
                let fail = self.flag(f, "fail_spawn", false)?;
                Ok(DriverChoice::Fake(cap, fail))
            }
            "qemu" | "libvirt.LibvirtDriver" => {
                match self.string("libvirt", "virt_type", "kvm").as_str() {
                    "kvm" | "qemu" => Ok(DriverChoice::Qemu),
                    other => {
                        bail!("[libvirt] virt_type {other:?} is not supported; use kvm or qemu")
                    }
                }
            }
            other => bail!("unknown compute driver {other:?}; choose qemu or fake"),
        }
    }

    /// Open the chosen driver. The qemu driver keeps its guests under `[DEFAULT]
    /// instances_path` (default `DIR/instances`), probes KVM once unless `[libvirt]
    /// virt_type = qemu` (TCG), and fails when QEMU is not installed.
    pub async fn open_driver(
        &self,
        choice: &DriverChoice,
        dir: &Path,
        images: Arc<dyn compute::virt::ImageSource>,
    ) -> Result<Arc<dyn compute::virt::Driver>> {
        use compute::virt::qemu::{QemuDriver, QemuOptions};
        match choice {
            DriverChoice::Fake(cap, fail) => {
                Ok(Arc::new(compute::virt::fake::FakeDriver::new(*cap, *fail)))
            }
            DriverChoice::Qemu => {
                let path = self
                    .get("default", "instances_path")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| dir.join("instances"));
                let mut o = QemuOptions::for_host(path).await?;
                if self.string("libvirt", "virt_type", "kvm") == "qemu" {
                    o.accel = compute::virt::qemu::Accel::Tcg;
                }
                o.vnc = self.flag("vnc", "enabled", true)?;
                o.vnc_listen = self.string("vnc", "server_listen", "127.0.0.1");
                o.serial = self.flag("serial_console", "enabled", true)?;
                o.serial_listen = self.string("serial_console", "proxyclient_address", "127.0.0.1");
                let range = self.string("serial_console", "port_range", "10000:20000");
                o.serial_ports = match range.split_once(':').map(|(a, b)| (a.parse(), b.parse())) {
                    Some((Ok(a), Ok(b))) if a < b => a..b,
                    _ => bail!("[serial_console] port_range must be START:END, not {range:?}"),
                };
                o.force_config_drive = self.flag("default", "force_config_drive", false)?;
                o.soft_reboot_wait = std::time::Duration::from_secs(self.parse(
                    "libvirt",
                    "wait_soft_reboot_seconds",
                    o.soft_reboot_wait.as_secs(),
                )?);
                o.cache_min_age = std::time::Duration::from_secs(self.parse(
                    "image_cache",
                    "remove_unused_original_minimum_age_seconds",
                    o.cache_min_age.as_secs(),
                )?);
                o.console_log_max =
                    self.parse("libvirt", "console_log_max_bytes", o.console_log_max)?;
                Ok(Arc::new(QemuDriver::open(o, images).await?))
            }
        }
    }

    /// `[keystone_authtoken]`: how a service deployed alone validates tokens.
    pub fn service_credentials(&self) -> Result<auth::ServiceCredentials> {
        let s = "keystone_authtoken";
        let need = |o: &str| {
            self.get(s, o).map(str::to_string).ok_or_else(|| {
                anyhow::anyhow!("[{s}] {o} is required to serve a service without identity")
            })
        };
        Ok(auth::ServiceCredentials {
            auth_url: need("auth_url")?,
            username: need("username")?,
            password: need("password")?,
            project_name: self.string(s, "project_name", "service"),
            user_domain_name: self.string(s, "user_domain_name", "Default"),
            project_domain_name: self.string(s, "project_domain_name", "Default"),
        })
    }
}

/// The console proxies' options: noVNC's web client from Debian's `novnc` package
/// when installed, `[console] allowed_origins`.
pub fn proxy_options(cfg: &Config) -> console_proxy::ProxyOptions {
    console_proxy::ProxyOptions {
        novnc_dir: Some(PathBuf::from(cfg.string(
            "vnc",
            "novnc_dir",
            "/usr/share/novnc",
        ))),
        allowed_origins: list(&cfg.string("console", "allowed_origins", "")),
    }
}

/// A virt driver named in the configuration, checked but not opened yet.
#[derive(Debug, Clone)]
pub enum DriverChoice {
    Fake(compute::virt::Capacity, bool),
    Qemu,
}

/// `a, b ,c` → `["a", "b", "c"]`
fn list(v: &str) -> Vec<String> {
    v.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|x| x.trim().trim_matches('\'').trim_matches('"').to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_values_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.conf");
        std::fs::write(
            &p,
            "[DEFAULT]\nbind_host = 0.0.0.0\n[database]\nconnection = postgresql://k:p@h/ks\n[token]\nexpiration = 600\n[identity]\nbind_port = 15000\npassword_hash_rounds = 4\n",
        )
        .unwrap();
        let c = Config::load(Some(&p)).unwrap();
        assert_eq!(c.bind_host().unwrap().to_string(), "0.0.0.0");
        assert_eq!(c.port("identity", 5000).unwrap(), 15000);
        assert_eq!(c.port("image", 9292).unwrap(), 9292);
        let ic = c.identity(dir.path(), None).unwrap();
        assert_eq!(ic.token_expiration, 600);
        assert_eq!(ic.database_url, "postgresql://k:p@h/ks");
        assert_eq!(ic.password_hash_rounds, 4);
        assert_eq!(
            c.database_url("image", Path::new("/d")),
            "sqlite:///d/image.db"
        );
        let pc = c.placement(Path::new("/d")).unwrap();
        assert_eq!(pc.database_url, "sqlite:///d/placement.db");
        assert_eq!(pc.allocation_conflict_retry_count, 10);
    }

    #[test]
    fn placement_options() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.conf");
        std::fs::write(
            &p,
            "[placement_database]\nconnection = mysql+pymysql://p:s@db/placement\n[placement]\npolicy_file = /etc/p.yaml\nmax_allocation_candidates = 50\n[oslo_policy]\nenforce_scope = true\n",
        )
        .unwrap();
        let c = Config::load(Some(&p)).unwrap();
        let pc = c.placement(dir.path()).unwrap();
        assert_eq!(pc.database_url, "mysql+pymysql://p:s@db/placement");
        assert_eq!(pc.policy_file, Some(PathBuf::from("/etc/p.yaml")));
        assert_eq!(pc.max_allocation_candidates, 50);
        assert!(pc.enforce_scope);
    }

    #[test]
    fn bad_values_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.conf");
        std::fs::write(&p, "[token]\nexpiration = soon\n").unwrap();
        let c = Config::load(Some(&p)).unwrap();
        let e = c.identity(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("[token] expiration"), "{e}");
    }
}
