//! `ferrostack`: the all-in-one cloud, per-service serving and operator commands.

mod config;
mod node;

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};

use crate::config::Config;

/// jemalloc returns freed memory to the system (background purging) where glibc's
/// per-thread arenas kept hundreds of MiB after large listings: measured in
/// docs/performance.md.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// OpenStack-compatible cloud in one binary.
#[derive(Parser, Debug)]
#[command(name = "ferrostack", version, about, long_about = None)]
struct Cli {
    /// Configuration file (INI, oslo.config style). Options can also be set with
    /// FERROSTACK_<SECTION>__<OPTION> environment variables.
    #[arg(long, global = true, env = "FERROSTACK_CONFIG")]
    config: Option<PathBuf>,

    /// Log level filter (e.g. info, debug, identity=debug); RUST_LOG also works.
    #[arg(long, global = true, default_value = "info")]
    log: String,

    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run every service in one process, with its data in one directory (SQLite, in-process
    /// bus). The first start bootstraps the cloud and writes DIR/clouds.yaml and
    /// DIR/admin-openrc; later starts reuse the directory.
    Aio {
        /// Data directory (default: the user's data directory, e.g. ~/.local/share/ferrostack).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Address to listen on (default 127.0.0.1, or [DEFAULT] bind_host).
        #[arg(long)]
        bind: Option<std::net::IpAddr>,
        /// Virt driver of the local compute agent: qemu (real guests in
        /// qemu-system-x86_64, KVM when it works, else TCG) or fake (instant in-memory
        /// guests, for tests and scale). Default: [DEFAULT] compute_driver, else qemu.
        #[arg(long)]
        compute_driver: Option<String>,
    },
    /// Serve some services of a multi-node deployment, as the configuration file describes.
    Serve {
        /// Services to run: identity, image, placement, compute (API, scheduler and
        /// conductor), metadata / novncproxy / serialproxy (after compute), compute-agent
        /// (a hypervisor host; needs [DEFAULT] transport_url shared with compute).
        #[arg(required = true)]
        services: Vec<String>,
        /// Host name the compute agent registers as (default: [DEFAULT] host, else this
        /// machine's host name).
        #[arg(long)]
        host: Option<String>,
        /// The compute agent's virt driver: qemu or fake (default: [DEFAULT] compute_driver,
        /// else qemu).
        #[arg(long)]
        compute_driver: Option<String>,
        /// Data directory for keys and SQLite files (default: [DEFAULT] state_path or the
        /// user's data directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Create the default domain, admin project and user, roles, region and identity
    /// endpoints, like `keystone-manage bootstrap`. Safe to run again.
    Bootstrap {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, env = "OS_BOOTSTRAP_PASSWORD")]
        bootstrap_password: String,
        #[arg(long, default_value = "admin")]
        bootstrap_username: String,
        #[arg(long, default_value = "admin")]
        bootstrap_project_name: String,
        #[arg(long, default_value = "RegionOne")]
        bootstrap_region_id: String,
        /// Public identity URL for the catalog (e.g. http://controller:5000/v3).
        #[arg(long)]
        bootstrap_public_url: Option<String>,
        #[arg(long)]
        bootstrap_internal_url: Option<String>,
        #[arg(long)]
        bootstrap_admin_url: Option<String>,
    },
    /// Database operations.
    Db {
        #[command(subcommand)]
        op: DbOp,
    },
    /// Fernet token key repository operations.
    Fernet {
        #[command(subcommand)]
        op: KeyOp,
    },
    /// Credential encryption key repository operations.
    Credential {
        #[command(subcommand)]
        op: KeyOp,
    },
    /// Print a service's OpenAPI document (generated from its route table).
    Openapi {
        /// identity, image, placement, compute or metadata
        service: String,
    },
}

#[derive(Subcommand, Debug)]
enum DbOp {
    /// Apply pending schema migrations.
    Sync {
        /// Services whose schema to migrate (default: all).
        services: Vec<String>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Print the schema version of each service.
    Version {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum KeyOp {
    /// Create the key repository if it has no keys.
    Setup {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Promote the staged key, stage a new one and purge the oldest (distribute the
    /// repository to every node afterwards).
    Rotate {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn default_data_dir() -> Result<PathBuf> {
    match dirs::data_dir() {
        Some(d) => Ok(d.join("ferrostack")),
        None => bail!("cannot determine the user's data directory; pass --data-dir"),
    }
}

fn data_dir(cfg: &Config, given: Option<PathBuf>) -> Result<PathBuf> {
    match given.or_else(|| cfg.get("default", "state_path").map(PathBuf::from)) {
        Some(d) => Ok(d),
        None => default_data_dir(),
    }
}

fn init_logging(filter: &str) {
    let env = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(env)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let cfg = Config::load(cli.config.as_deref())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run(cli.cmd, cfg))
}

async fn run(cmd: Cmd, cfg: Config) -> Result<()> {
    match cmd {
        Cmd::Aio {
            data_dir: d,
            bind,
            compute_driver,
        } => {
            let dir = data_dir(&cfg, d)?;
            node::aio(cfg, dir, bind, compute_driver).await
        }
        Cmd::Serve {
            services,
            data_dir: d,
            host,
            compute_driver,
        } => {
            let dir = data_dir(&cfg, d)?;
            let opts = node::ServeOptions {
                host,
                compute_driver,
            };
            node::serve(cfg, dir, services, opts).await
        }
        Cmd::Bootstrap {
            data_dir: d,
            bootstrap_password,
            bootstrap_username,
            bootstrap_project_name,
            bootstrap_region_id,
            bootstrap_public_url,
            bootstrap_internal_url,
            bootstrap_admin_url,
        } => {
            let dir = data_dir(&cfg, d)?;
            let opts = identity::bootstrap::BootstrapOptions {
                admin_username: bootstrap_username,
                admin_password: bootstrap_password,
                project_name: bootstrap_project_name,
                region_id: bootstrap_region_id,
            };
            node::bootstrap(
                cfg,
                dir,
                opts,
                [
                    bootstrap_public_url,
                    bootstrap_internal_url,
                    bootstrap_admin_url,
                ],
            )
            .await
        }
        Cmd::Db { op } => match op {
            DbOp::Sync {
                services,
                data_dir: d,
            } => {
                let dir = data_dir(&cfg, d)?;
                node::db_sync(&cfg, &dir, &services).await
            }
            DbOp::Version { data_dir: d } => {
                let dir = data_dir(&cfg, d)?;
                node::db_version(&cfg, &dir).await
            }
        },
        Cmd::Fernet { op } => key_op(&cfg, op, false),
        Cmd::Credential { op } => key_op(&cfg, op, true),
        Cmd::Openapi { service } => {
            let doc = match service.as_str() {
                "identity" => identity::api::openapi(),
                "image" => image::api::openapi(),
                "compute" => compute::api::openapi(),
                "placement" => placement::api::openapi(),
                "metadata" => metadata::openapi(),
                other => {
                    bail!(
                        "no OpenAPI document for {other:?}; services: identity, image, placement, compute, metadata"
                    )
                }
            };
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
    }
}

fn key_op(cfg: &Config, op: KeyOp, credential: bool) -> Result<()> {
    let (d, rotate) = match op {
        KeyOp::Setup { data_dir } => (data_dir, false),
        KeyOp::Rotate { data_dir } => (data_dir, true),
    };
    let dir = data_dir(cfg, d)?;
    let ic = cfg.identity(&dir, None)?;
    let path = if credential {
        ic.credential_key_repository
    } else {
        ic.key_repository
    };
    let repo = auth::KeyRepository::new(&path, ic.max_active_keys)?;
    if rotate {
        repo.setup()?;
        let n = repo.rotate()?;
        println!("rotated {}: key {n} is now primary", path.display());
    } else if repo.setup()? {
        println!("created key repository {}", path.display());
    } else {
        println!("key repository {} already has keys", path.display());
    }
    Ok(())
}
