//! Starting services: the all-in-one node, per-service serving and operator commands.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use identity::Identity;
use identity::bootstrap::{BootstrapOptions, CatalogEntry};

use crate::config::{Config, DriverChoice};

/// Every service ferrostack knows, with its OpenStack port.
pub const SERVICES: &[(&str, u16)] = &[
    ("identity", 5000),
    ("image", 9292),
    ("placement", 8778),
    ("compute", 8774),
    ("metadata", 8775),
    ("novncproxy", 6080),
    ("serialproxy", 6083),
];

/// The account the services use to call each other in `aio` (in the `service` project).
const SERVICE_USER: &str = "ferrostack-service";

fn known(service: &str) -> Result<u16> {
    match SERVICES.iter().find(|(s, _)| *s == service) {
        Some((_, p)) => Ok(*p),
        None => bail!(
            "unknown service {service:?}; known services: {}",
            SERVICES
                .iter()
                .map(|(s, _)| *s)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot set permissions on {}", dir.display()))?;
    Ok(())
}

/// Write a file readable by its owner only.
fn write_private(path: &Path, content: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn random_password() -> String {
    use base64::Engine;
    let b: [u8; 18] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The admin password of an existing data directory, from its admin-openrc.
fn existing_password(openrc: &Path) -> Option<String> {
    let text = fs::read_to_string(openrc).ok()?;
    text.lines().find_map(|l| {
        l.trim()
            .strip_prefix("export OS_PASSWORD=")
            .map(|v| v.trim_matches('\'').trim_matches('"').to_string())
    })
}

fn openrc(auth_url: &str, password: &str, region: &str) -> String {
    format!(
        "# ferrostack admin credentials: `. admin-openrc`, then use the openstack CLI.\n\
         export OS_AUTH_URL={auth_url}\n\
         export OS_IDENTITY_API_VERSION=3\n\
         export OS_USERNAME=admin\n\
         export OS_PASSWORD='{password}'\n\
         export OS_PROJECT_NAME=admin\n\
         export OS_USER_DOMAIN_NAME=Default\n\
         export OS_PROJECT_DOMAIN_NAME=Default\n\
         export OS_REGION_NAME={region}\n\
         export OS_INTERFACE=public\n"
    )
}

fn clouds_yaml(auth_url: &str, password: &str, region: &str) -> String {
    format!(
        "# ferrostack: OS_CLIENT_CONFIG_FILE=<this file> OS_CLOUD=ferrostack openstack ...\n\
         clouds:\n  ferrostack:\n    auth:\n      auth_url: {auth_url}\n      username: admin\n      \
         password: \"{password}\"\n      project_name: admin\n      user_domain_name: Default\n      \
         project_domain_name: Default\n    region_name: {region}\n    interface: public\n    \
         identity_api_version: 3\n"
    )
}

/// A service bound and ready to serve.
struct Bound {
    name: &'static str,
    /// Accept paths with a trailing slash (identity) or answer 404 (image).
    trim: bool,
    listener: tokio::net::TcpListener,
    router: axum::Router,
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

async fn run_all(bound: Vec<Bound>) -> Result<()> {
    let (tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut tasks = Vec::new();
    for b in bound {
        let mut rx = tx.subscribe();
        let name = b.name;
        tasks.push(tokio::spawn(async move {
            let r = api::server::serve(b.listener, b.router, b.trim, async move {
                let _ = rx.recv().await;
            })
            .await;
            (name, r)
        }));
    }
    shutdown_signal().await;
    let _ = tx.send(());
    for t in tasks {
        match t.await {
            Ok((_, Ok(()))) => {}
            Ok((name, Err(e))) => tracing::error!(service = name, error = %e, "server failed"),
            Err(e) => tracing::error!(error = %e, "server task failed"),
        }
    }
    Ok(())
}

async fn bind(host: IpAddr, port: u16) -> Result<tokio::net::TcpListener> {
    Ok(api::server::bind(SocketAddr::new(host, port)).await?)
}

fn url_host(host: IpAddr) -> String {
    match host {
        IpAddr::V4(a) if a.is_unspecified() => "127.0.0.1".into(),
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) if a.is_unspecified() => "[::1]".into(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

/// Quotas for the image service from identity's unified limits, in process.
struct IdentityLimits {
    id: Arc<Identity>,
    service_id: String,
    region: String,
}

#[async_trait::async_trait]
impl image::LimitSource for IdentityLimits {
    async fn limit(&self, project_id: &str, resource: &str) -> Option<i64> {
        match self
            .id
            .effective_limit(project_id, &self.service_id, Some(&self.region), resource)
            .await
        {
            Ok(Some(v)) => Some(v),
            Ok(None) => self
                .id
                .effective_limit(project_id, &self.service_id, None, resource)
                .await
                .ok()
                .flatten(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read unified limits");
                None
            }
        }
    }
}

async fn open_image(
    cfg: &Config,
    dir: &Path,
    limits: Option<Arc<dyn image::LimitSource>>,
) -> Result<Arc<image::ImageService>> {
    let ic = cfg.image(dir)?;
    image::ImageService::open(ic, limits, Arc::new(image::LogNotifier))
        .await
        .context("cannot start the image service")
}

async fn open_placement(cfg: &Config, dir: &Path) -> Result<Arc<placement::PlacementService>> {
    let pc = cfg.placement(dir)?;
    placement::PlacementService::open(pc)
        .await
        .context("cannot start the placement service")
}

/// Largest JSON body the compute API accepts (user data is at most 64 KiB).
const COMPUTE_MAX_BODY: usize = 1 << 20;

/// The service account's password in `aio`, generated once into the data directory.
fn service_password(dir: &Path) -> Result<String> {
    let path = dir.join("service-password");
    if let Ok(s) = fs::read_to_string(&path) {
        let s = s.trim();
        if !s.is_empty() {
            return Ok(s.to_string());
        }
    }
    let pw = random_password();
    write_private(&path, &format!("{pw}\n"))?;
    Ok(pw)
}

/// Where compute finds placement and image: fixed URLs in `aio`, else the catalog
/// (`[placement]` / `[glance]` `region_name` and `valid_interfaces`, nova's names).
fn client_endpoint(
    cfg: &Config,
    section: &str,
    service_type: &'static str,
    url: Option<String>,
) -> compute::clients::Endpoint {
    let interface = cfg.string(section, "valid_interfaces", "internal");
    compute::clients::Endpoint {
        service_type,
        url: url.or_else(|| cfg.get(section, "endpoint_override").map(str::to_string)),
        interface: interface
            .split(',')
            .next()
            .unwrap_or("internal")
            .trim()
            .to_string(),
        region: cfg.get(section, "region_name").map(str::to_string),
    }
}

fn placement_client(
    cfg: &Config,
    session: &Arc<auth::ServiceSession>,
    url: Option<String>,
) -> compute::clients::Placement {
    compute::clients::Placement::new(compute::clients::Rest::new(
        session.clone(),
        client_endpoint(cfg, "placement", "placement", url),
    ))
}

/// The compute API, scheduler and conductor (serving the conductor topic).
async fn open_compute(
    cfg: &Config,
    dir: &Path,
    bus: bus::Bus,
    session: &Arc<auth::ServiceSession>,
    placement_url: Option<String>,
    image_url: Option<String>,
) -> Result<(Arc<compute::ComputeService>, bus::Listener)> {
    let cc = cfg.compute(dir)?;
    let rpc = compute::rpc::Rpc {
        bus,
        timeout: cc.rpc_timeout,
    };
    let images = compute::clients::Images::new(compute::clients::Rest::new(
        session.clone(),
        client_endpoint(cfg, "glance", "image", image_url),
    ));
    let placement = placement_client(cfg, session, placement_url);
    let svc = compute::ComputeService::open(cc, rpc, placement, images)
        .await
        .context("cannot start the compute service")?;
    let conductor = svc
        .start_conductor()
        .await
        .context("cannot start the compute conductor")?;
    Ok((svc, conductor))
}

/// Start a compute agent in the background: it registers with the conductor and
/// reports to placement, retrying while they come up. The task owns the agent. Fails
/// when the driver cannot run on this host (QEMU missing…): no hypervisor registers.
#[allow(clippy::too_many_arguments)]
async fn spawn_agent(
    cfg: &Config,
    dir: &Path,
    host: Option<String>,
    driver: &DriverChoice,
    bus: bus::Bus,
    session: &Arc<auth::ServiceSession>,
    placement_url: Option<String>,
    image_url: Option<String>,
) -> Result<tokio::task::JoinHandle<()>> {
    let ac = cfg.agent(host)?;
    let images = compute::clients::Images::new(compute::clients::Rest::new(
        session.clone(),
        client_endpoint(cfg, "glance", "image", image_url),
    ));
    let driver = cfg
        .open_driver(driver, dir, Arc::new(images.clone()))
        .await
        .with_context(|| format!("the compute agent of host {} cannot start", ac.host))?;
    let timeout = cfg.compute(Path::new("."))?.rpc_timeout;
    let agent = Arc::new(compute::agent::Agent {
        cfg: ac,
        driver,
        rpc: compute::rpc::Rpc { bus, timeout },
        placement: placement_client(cfg, session, placement_url),
        images,
    });
    Ok(tokio::spawn(async move {
        let mut delay = std::time::Duration::from_millis(200);
        loop {
            match agent.clone().start().await {
                Ok(handle) => {
                    // Keep the listener and loops alive until the task is aborted.
                    let _handle = handle;
                    std::future::pending::<()>().await;
                }
                Err(e) => {
                    tracing::warn!(host = %agent.cfg.host, error = %e, "compute agent cannot start yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(10));
                }
            }
        }
    }))
}

/// nova-api-metadata over the compute database (`[neutron]
/// metadata_proxy_shared_secret` signs `X-Instance-ID`).
fn metadata_router(cfg: &Config, cmp: &Arc<compute::ComputeService>) -> axum::Router {
    metadata::router(
        Arc::new(compute::metadata_api::Finder(cmp.clone())),
        cfg.get("neutron", "metadata_proxy_shared_secret")
            .map(str::to_string),
    )
}

/// A console proxy (noVNC or serial) redeeming the compute database's tokens.
fn console_router(cfg: &Config, cmp: &Arc<compute::ComputeService>) -> axum::Router {
    console_proxy::router(
        Arc::new(compute::consoles::SqlTokenStore { db: cmp.db.clone() }),
        crate::config::proxy_options(cfg),
    )
}

async fn open_bus(cfg: &Config) -> Result<bus::Bus> {
    let url = cfg.transport_url();
    bus::Bus::from_url(&url)
        .await
        .context("cannot connect to the message bus ([DEFAULT] transport_url)")
}

/// Largest JSON body the placement API accepts (POST /allocations for many consumers).
const PLACEMENT_MAX_BODY: usize = 8 << 20;

/// Largest JSON body the image API accepts (image data is streamed, not limited here).
const IMAGE_MAX_BODY: usize = 1 << 20;

async fn open_identity(cfg: &Config, dir: &Path, public: Option<String>) -> Result<Arc<Identity>> {
    let ic = cfg.identity(dir, public)?;
    let id = Identity::open(ic, Arc::new(identity::SystemClock))
        .await
        .context("cannot start the identity service")?;
    Ok(id)
}

/// `ferrostack aio`
pub async fn aio(
    cfg: Config,
    dir: PathBuf,
    bind_host: Option<IpAddr>,
    compute_driver: Option<String>,
) -> Result<()> {
    let started = std::time::Instant::now();
    create_private_dir(&dir)?;
    let lock_path = dir.join(".lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        bail!(
            "another ferrostack is already running on {} (lock {} is held)",
            dir.display(),
            lock_path.display()
        );
    }
    let host = match bind_host {
        Some(h) => h,
        None => cfg.bind_host()?,
    };
    let region = cfg.string("default", "region_name", "RegionOne");
    let id_port = cfg.port("identity", known("identity")?)?;
    let base = format!("http://{}:{id_port}", url_host(host));
    let auth_url = format!("{base}/v3");

    let image_port = cfg.port("image", known("image")?)?;
    let image_url = format!("http://{}:{image_port}", url_host(host));
    let placement_port = cfg.port("placement", known("placement")?)?;
    let placement_url = format!("http://{}:{placement_port}", url_host(host));

    // Bind first: a taken port should fail before anything is written.
    let id_listener = bind(host, id_port).await?;
    let image_listener = bind(host, image_port).await?;
    let placement_listener = bind(host, placement_port).await?;
    let compute_port = cfg.port("compute", known("compute")?)?;
    let compute_url = format!("http://{}:{compute_port}/v2.1", url_host(host));
    let compute_listener = bind(host, compute_port).await?;
    let metadata_listener = bind(host, cfg.port("metadata", known("metadata")?)?).await?;
    let novnc_listener = bind(host, cfg.port("novncproxy", known("novncproxy")?)?).await?;
    let serial_listener = bind(host, cfg.port("serialproxy", known("serialproxy")?)?).await?;
    // Fail on a bad driver name or bus before anything is written.
    let driver = cfg.driver_choice(compute_driver.as_deref())?;
    let bus = open_bus(&cfg).await?;
    let id = open_identity(&cfg, &dir, None).await?;

    let openrc_path = dir.join("admin-openrc");
    let first_run = !openrc_path.exists();
    let password = match existing_password(&openrc_path) {
        Some(p) => p,
        None => random_password(),
    };
    let report = id
        .bootstrap(&BootstrapOptions {
            admin_username: "admin".into(),
            admin_password: password.clone(),
            project_name: "admin".into(),
            region_id: region.clone(),
        })
        .await
        .context("bootstrap failed")?;
    if first_run && !report.created {
        tracing::warn!(
            "{} has no admin-openrc but the admin user already exists; its password was not changed",
            dir.display()
        );
    }
    id.ensure_catalog_entry(
        &region,
        &CatalogEntry {
            service_type: "identity".into(),
            name: "keystone".into(),
            description: "ferrostack identity service".into(),
            public_url: auth_url.clone(),
            internal_url: auth_url.clone(),
            admin_url: auth_url.clone(),
        },
    )
    .await?;
    id.ensure_catalog_entry(
        &region,
        &CatalogEntry {
            service_type: "image".into(),
            name: "glance".into(),
            description: "ferrostack image service".into(),
            public_url: image_url.clone(),
            internal_url: image_url.clone(),
            admin_url: image_url.clone(),
        },
    )
    .await?;
    id.ensure_catalog_entry(
        &region,
        &CatalogEntry {
            service_type: "placement".into(),
            name: "placement".into(),
            description: "ferrostack placement service".into(),
            public_url: placement_url.clone(),
            internal_url: placement_url.clone(),
            admin_url: placement_url.clone(),
        },
    )
    .await?;
    id.ensure_catalog_entry(
        &region,
        &CatalogEntry {
            service_type: "compute".into(),
            name: "nova".into(),
            description: "ferrostack compute service".into(),
            public_url: compute_url.clone(),
            internal_url: compute_url.clone(),
            admin_url: compute_url.clone(),
        },
    )
    .await?;
    let service_pw = service_password(&dir)?;
    id.ensure_service_user(SERVICE_USER, &service_pw)
        .await
        .context("cannot create the service account")?;
    let session = Arc::new(auth::ServiceSession::new(auth::ServiceCredentials {
        auth_url: auth_url.clone(),
        username: SERVICE_USER.into(),
        password: service_pw,
        project_name: "service".into(),
        user_domain_name: "Default".into(),
        project_domain_name: "Default".into(),
    })?);
    let image_service_id = identity::store::catalog::list_services(&id.db)
        .await?
        .into_iter()
        .find(|s| s.service_type == "image")
        .map(|s| s.id)
        .unwrap_or_default();
    let limits: Arc<dyn image::LimitSource> = Arc::new(IdentityLimits {
        id: id.clone(),
        service_id: image_service_id,
        region: region.clone(),
    });
    let img = open_image(&cfg, &dir, Some(limits)).await?;
    let plc = open_placement(&cfg, &dir).await?;
    let (cmp, conductor) = open_compute(
        &cfg,
        &dir,
        bus.clone(),
        &session,
        Some(placement_url.clone()),
        Some(image_url.clone()),
    )
    .await?;
    // `[compute] local_agent = false`: this node is a controller only; hypervisors
    // join with `ferrostack serve compute-agent` over a shared transport_url.
    let agent = if cfg.flag("compute", "local_agent", true)? {
        match spawn_agent(
            &cfg,
            &dir,
            None,
            &driver,
            bus.clone(),
            &session,
            Some(placement_url.clone()),
            Some(image_url.clone()),
        )
        .await
        {
            Ok(a) => Some(a),
            Err(e) => {
                // The control plane still serves; this host just offers no hypervisor.
                tracing::error!("{e:#}; this host registers no hypervisor");
                None
            }
        }
    } else {
        None
    };
    let validator = auth::Validator {
        inner: id.validator(),
        auth_uri: auth_url.clone(),
    };
    write_private(&openrc_path, &openrc(&auth_url, &password, &region))?;
    write_private(
        &dir.join("clouds.yaml"),
        &clouds_yaml(&auth_url, &password, &region),
    )?;

    let _bg = id.spawn_background();
    let bound = vec![
        Bound {
            name: "identity",
            trim: true,
            listener: id_listener,
            router: identity::api::router(id.clone()),
        },
        Bound {
            name: "image",
            trim: false,
            listener: image_listener,
            router: image::api::router(img.clone(), validator.clone(), IMAGE_MAX_BODY),
        },
        Bound {
            name: "placement",
            trim: true,
            listener: placement_listener,
            router: placement::api::router(plc.clone(), validator.clone(), PLACEMENT_MAX_BODY),
        },
        Bound {
            name: "compute",
            trim: false,
            listener: compute_listener,
            router: compute::api::router(cmp.clone(), validator, COMPUTE_MAX_BODY),
        },
        Bound {
            name: "metadata",
            trim: false,
            listener: metadata_listener,
            router: metadata_router(&cfg, &cmp),
        },
        Bound {
            name: "novncproxy",
            trim: false,
            listener: novnc_listener,
            router: console_router(&cfg, &cmp),
        },
        Bound {
            name: "serialproxy",
            trim: false,
            listener: serial_listener,
            router: console_router(&cfg, &cmp),
        },
    ];
    tracing::info!(
        data_dir = %dir.display(),
        identity = %auth_url,
        image = %image_url,
        placement = %placement_url,
        compute = %compute_url,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "ferrostack all-in-one ready"
    );
    eprintln!(
        "ferrostack is up: identity {auth_url}, image {image_url}, placement {placement_url}, compute {compute_url}\n  credentials: . {}/admin-openrc   (or OS_CLIENT_CONFIG_FILE={}/clouds.yaml OS_CLOUD=ferrostack)",
        dir.display(),
        dir.display()
    );
    let r = run_all(bound).await;
    if let Some(a) = agent {
        a.abort();
    }
    conductor.stop().await;
    bus.close().await;
    id.db.close().await;
    img.db.close().await;
    plc.db.close().await;
    cmp.db.close().await;
    drop(lock);
    r
}

/// Options of `ferrostack serve` beyond the service list.
#[derive(Debug, Default)]
pub struct ServeOptions {
    /// The compute agent's host name (`--host`).
    pub host: Option<String>,
    /// The compute agent's driver (`--compute-driver`).
    pub compute_driver: Option<String>,
}

/// The service account of `[keystone_authtoken]`, validating tokens against identity.
fn remote_auth(cfg: &Config) -> Result<(Arc<auth::ServiceSession>, auth::Validator)> {
    let creds = cfg.service_credentials()?;
    let ttl =
        std::time::Duration::from_secs(cfg.parse("keystone_authtoken", "token_cache_time", 30)?);
    let auth_uri = creds.auth_url.clone();
    let session = Arc::new(auth::ServiceSession::new(creds)?);
    let remote = auth::RemoteValidator::with_session(session.clone(), ttl);
    Ok((
        session,
        auth::Validator {
            inner: Arc::new(remote),
            auth_uri,
        },
    ))
}

fn shared_auth(
    cfg: &Config,
    slot: &mut Option<(Arc<auth::ServiceSession>, auth::Validator)>,
) -> Result<(Arc<auth::ServiceSession>, auth::Validator)> {
    if let Some(r) = slot {
        return Ok(r.clone());
    }
    Ok(slot.insert(remote_auth(cfg)?).clone())
}

/// `ferrostack serve SERVICE...`
pub async fn serve(
    cfg: Config,
    dir: PathBuf,
    services: Vec<String>,
    opts: ServeOptions,
) -> Result<()> {
    create_private_dir(&dir)?;
    let host = cfg.bind_host()?;
    let mut bound = Vec::new();
    let mut keep = Vec::new();
    let mut listeners = Vec::new();
    let mut agents = Vec::new();
    let mut bus = None;
    let mut compute_svc: Option<Arc<compute::ComputeService>> = None;
    // One service account session (token, catalog, validation cache) for them all.
    let mut remote: Option<(Arc<auth::ServiceSession>, auth::Validator)> = None;
    for s in &services {
        if s == "compute-agent" {
            let (session, _) = shared_auth(&cfg, &mut remote)?;
            let b = match &bus {
                Some(b) => b,
                None => bus.insert(open_bus(&cfg).await?),
            };
            let choice = cfg.driver_choice(opts.compute_driver.as_deref())?;
            agents.push(
                spawn_agent(
                    &cfg,
                    &dir,
                    opts.host.clone(),
                    &choice,
                    b.clone(),
                    &session,
                    None,
                    None,
                )
                .await?,
            );
            tracing::info!(service = %s, "serving");
            continue;
        }
        let port = cfg.port(s, known(s)?)?;
        let listener = bind(host, port).await?;
        match s.as_str() {
            "identity" => {
                let id = open_identity(&cfg, &dir, None).await?;
                keep.push(id.spawn_background());
                bound.push(Bound {
                    name: "identity",
                    trim: true,
                    listener,
                    router: identity::api::router(id),
                });
            }
            "image" => {
                let (_, validator) = shared_auth(&cfg, &mut remote)?;
                let img = open_image(&cfg, &dir, None).await?;
                bound.push(Bound {
                    name: "image",
                    trim: false,
                    listener,
                    router: image::api::router(img, validator, IMAGE_MAX_BODY),
                });
            }
            "placement" => {
                let (_, validator) = shared_auth(&cfg, &mut remote)?;
                let plc = open_placement(&cfg, &dir).await?;
                bound.push(Bound {
                    name: "placement",
                    trim: true,
                    listener,
                    router: placement::api::router(plc, validator, PLACEMENT_MAX_BODY),
                });
            }
            "compute" => {
                let (session, validator) = shared_auth(&cfg, &mut remote)?;
                let b = match &bus {
                    Some(b) => b,
                    None => bus.insert(open_bus(&cfg).await?),
                };
                let (cmp, conductor) =
                    open_compute(&cfg, &dir, b.clone(), &session, None, None).await?;
                listeners.push(conductor);
                compute_svc = Some(cmp.clone());
                bound.push(Bound {
                    name: "compute",
                    trim: false,
                    listener,
                    router: compute::api::router(cmp, validator, COMPUTE_MAX_BODY),
                });
            }
            "metadata" | "novncproxy" | "serialproxy" => {
                // They read the compute database through the compute service.
                let Some(cmp) = &compute_svc else {
                    bail!("serve {s} after compute in the same command (e.g. `serve compute {s}`)");
                };
                let router = if s == "metadata" {
                    metadata_router(&cfg, cmp)
                } else {
                    console_router(&cfg, cmp)
                };
                bound.push(Bound {
                    name: if s == "metadata" {
                        "metadata"
                    } else {
                        "console proxy"
                    },
                    trim: false,
                    listener,
                    router,
                });
            }
            other => bail!("service {other:?} cannot be served yet"),
        }
        tracing::info!(service = %s, port, "serving");
    }
    let r = run_all(bound).await;
    for a in agents {
        a.abort();
    }
    for l in listeners {
        l.stop().await;
    }
    if let Some(b) = bus {
        b.close().await;
    }
    r
}

/// `ferrostack bootstrap`
pub async fn bootstrap(
    cfg: Config,
    dir: PathBuf,
    opts: BootstrapOptions,
    urls: [Option<String>; 3],
) -> Result<()> {
    create_private_dir(&dir)?;
    let id = open_identity(&cfg, &dir, None).await?;
    let r = id.bootstrap(&opts).await?;
    let [public, internal, admin] = urls;
    if let Some(public) = public {
        let internal = internal.unwrap_or_else(|| public.clone());
        let admin = admin.unwrap_or_else(|| public.clone());
        id.ensure_catalog_entry(
            &opts.region_id,
            &CatalogEntry {
                service_type: "identity".into(),
                name: "keystone".into(),
                description: "ferrostack identity service".into(),
                public_url: public,
                internal_url: internal,
                admin_url: admin,
            },
        )
        .await?;
    }
    println!(
        "bootstrapped: admin user {} ({}), project {} ({})",
        opts.admin_username,
        if r.created {
            "created"
        } else {
            "existing, password unchanged"
        },
        opts.project_name,
        r.admin_project_id
    );
    id.db.close().await;
    Ok(())
}

/// `ferrostack db sync`
pub async fn db_sync(cfg: &Config, dir: &Path, services: &[String]) -> Result<()> {
    create_private_dir(dir)?;
    let list: Vec<String> = if services.is_empty() {
        SERVICES.iter().map(|(s, _)| (*s).to_string()).collect()
    } else {
        services.to_vec()
    };
    for s in &list {
        known(s)?;
        let url = cfg.database_url(s, dir);
        let db = db::Db::connect(&url)
            .await
            .with_context(|| format!("cannot connect to {}", db::redact(&url)))?;
        let n = match s.as_str() {
            "identity" => db.migrate("identity", identity::schema::MIGRATIONS).await?,
            "image" => db.migrate("image", image::schema::MIGRATIONS).await?,
            "placement" => {
                db.migrate("placement", placement::schema::MIGRATIONS)
                    .await?
            }
            "compute" => db.migrate("compute", compute::schema::MIGRATIONS).await?,
            _ => 0,
        };
        println!(
            "{s}: {n} migration(s) applied, schema version {}",
            db.schema_version(s).await?
        );
        db.close().await;
    }
    Ok(())
}

/// `ferrostack db version`
pub async fn db_version(cfg: &Config, dir: &Path) -> Result<()> {
    for (s, _) in SERVICES {
        let url = cfg.database_url(s, dir);
        let db = db::Db::connect(&url)
            .await
            .with_context(|| format!("cannot connect to {}", db::redact(&url)))?;
        println!("{s}: {}", db.schema_version(s).await?);
        db.close().await;
    }
    Ok(())
}
