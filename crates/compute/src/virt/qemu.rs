//! The QEMU driver: one `qemu-system-x86_64` process per guest, driven over QMP (no
//! libvirt). Guests live in `instances_path/<uuid>/` — a qcow2 overlay over a cached
//! base image (`instances_path/_base/`), ephemeral and swap disks, the config drive, the
//! serial console log, the QMP socket and `guest.json` (what is needed to start the
//! guest again or re-adopt it after the agent restarts). QEMU daemonizes, so guests
//! outlive the agent.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::process::Command;

pub use ::qemu::Accel;

use super::{Capacity, Driver, DriverError, DriverResult, GuestSpec, ImageSource, Snapshot};
use crate::model::{Flavor, power};

/// Driver options (`[DEFAULT]`, `[libvirt]`, `[vnc]`, `[serial_console]` names from nova
/// where they exist).
#[derive(Debug, Clone)]
pub struct QemuOptions {
    /// `[DEFAULT] instances_path`.
    pub instances_path: PathBuf,
    pub binary: PathBuf,
    pub accel: qemu::Accel,
    /// `[vnc] enabled`; QEMU's VNC servers listen on `[vnc] server_listen`.
    pub vnc: bool,
    pub vnc_listen: String,
    /// `[serial_console] enabled`; TCP ports from `port_range` on `proxyclient_address`.
    pub serial: bool,
    pub serial_listen: String,
    pub serial_ports: Range<u16>,
    /// `[DEFAULT] force_config_drive`.
    pub force_config_drive: bool,
    /// Console logs are rotated past this size (one old file kept).
    pub console_log_max: u64,
    /// `[libvirt] wait_soft_reboot_seconds`: a soft reboot becomes hard after this.
    pub soft_reboot_wait: Duration,
    /// `[image_cache] remove_unused_original_minimum_age_seconds`.
    pub cache_min_age: Duration,
    /// `[DEFAULT] reserved_host_disk_mb` is applied by the agent; this is the total.
    pub capacity: Capacity,
}

impl QemuOptions {
    /// Defaults for a host: capacity read from the machine, KVM probed.
    pub async fn for_host(instances_path: PathBuf) -> DriverResult<QemuOptions> {
        let binary = qemu::find_binary().ok_or_else(|| {
            DriverError::Failed(
                "qemu-system-x86_64 is not installed on this host: the qemu driver cannot run guests \
                 (install Debian's qemu-system-x86)"
                    .into(),
            )
        })?;
        if which("qemu-img").is_none() {
            return Err(DriverError::Failed(
                "qemu-img is not installed on this host (Debian's qemu-utils)".into(),
            ));
        }
        std::fs::create_dir_all(instances_path.join("_base")).map_err(|e| {
            DriverError::Failed(format!("cannot create {}: {e}", instances_path.display()))
        })?;
        let accel = qemu::probe_accel(&binary).await;
        let capacity = host_capacity(&instances_path);
        Ok(QemuOptions {
            instances_path,
            binary,
            accel,
            vnc: true,
            vnc_listen: "127.0.0.1".into(),
            serial: true,
            serial_listen: "127.0.0.1".into(),
            serial_ports: 10000..20000,
            force_config_drive: false,
            console_log_max: 2 << 20,
            soft_reboot_wait: Duration::from_secs(120),
            cache_min_age: Duration::from_secs(86_400),
            capacity,
        })
    }
}

/// What `guest.json` keeps about a guest.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    spec: GuestSpec,
    vm: qemu::VmConfig,
    /// Cache files the guest's disks and boot files use.
    bases: Vec<PathBuf>,
    /// A resize in progress: the flavor the guest had, its disk kept as `disk.resize`.
    resize_from: Option<Flavor>,
    /// Booted from a rescue disk.
    rescued: bool,
    /// The guest's memory was saved to `suspend.state` (suspended, no process).
    suspended: bool,
    started_at: Option<i64>,
}

struct Guest {
    saved: Saved,
    vm: Option<qemu::Vm>,
}

type GuestRef = Arc<tokio::sync::Mutex<Guest>>;

pub struct QemuDriver {
    opts: QemuOptions,
    version: i64,
    images: Arc<dyn ImageSource>,
    guests: Mutex<HashMap<String, GuestRef>>,
    /// Spawns in progress: uuid → destroy was asked meanwhile.
    building: Mutex<HashMap<String, bool>>,
    /// One download per base image at a time.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    last_cache_sweep: Mutex<Option<std::time::Instant>>,
}

fn failed(e: impl std::fmt::Display) -> DriverError {
    DriverError::Failed(e.to_string())
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(cmd))
            .find(|p| p.is_file())
    })
}

/// vCPUs, memory and the instances filesystem's size of this machine.
fn host_capacity(path: &Path) -> Capacity {
    let vcpus = std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1);
    let memory_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<i64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(1024);
    let disk_gb = rustix::fs::statvfs(path)
        .map(|s| (s.f_blocks.saturating_mul(s.f_frsize) >> 30) as i64)
        .unwrap_or(10);
    Capacity {
        vcpus,
        memory_mb,
        disk_gb: disk_gb.max(1),
    }
}

/// Run a command; its stderr (or stdout) becomes the error.
async fn run(cmd: &str, args: &[&str]) -> DriverResult<String> {
    let out = Command::new(cmd)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| failed(format!("cannot run {cmd}: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let msg = if err.trim().is_empty() {
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            err.into_owned()
        };
        return Err(failed(format!("{cmd} failed: {}", msg.trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn path_str(p: &Path) -> DriverResult<&str> {
    p.to_str()
        .ok_or_else(|| failed(format!("path {} is not UTF-8", p.display())))
}

/// What `qemu-img info` says about an image file.
#[derive(Debug, Clone)]
struct ImageInfo {
    format: String,
    virtual_size: u64,
}

/// What qemu-img says about a file; `own` files (a guest's overlay) may have a
/// backing file, downloaded images may not (nor an external data file).
async fn qemu_img_info(path: &Path, own: bool) -> DriverResult<ImageInfo> {
    let out = run(
        "qemu-img",
        &["info", "--output=json", "--force-share", path_str(path)?],
    )
    .await?;
    let v: Value = serde_json::from_str(&out).map_err(failed)?;
    let external = v.get("backing-filename").is_some()
        || v["format-specific"]["data"]["data-file"].is_string();
    if !own && external {
        return Err(failed(
            "the image refers to other files (backing file or data file): refused",
        ));
    }
    Ok(ImageInfo {
        format: v["format"].as_str().unwrap_or("raw").to_string(),
        virtual_size: v["virtual-size"].as_u64().unwrap_or(0),
    })
}

/// The image's properties (image_meta keeps them under `properties`).
fn prop<'a>(spec: &'a GuestSpec, key: &str) -> Option<&'a str> {
    spec.image_meta["properties"][key]
        .as_str()
        .or_else(|| spec.image_meta[key].as_str())
        .filter(|s| !s.is_empty())
}

impl QemuDriver {
    /// The driver over `opts`, loading the guests recorded under `instances_path` (their
    /// QEMU processes are re-adopted through their QMP sockets).
    pub async fn open(opts: QemuOptions, images: Arc<dyn ImageSource>) -> DriverResult<Self> {
        let (ma, mi, mc) = qemu::version(&opts.binary).await.map_err(failed)?;
        let d = QemuDriver {
            version: i64::from(ma) * 1_000_000 + i64::from(mi) * 1000 + i64::from(mc),
            opts,
            images,
            guests: Mutex::new(HashMap::new()),
            building: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
            last_cache_sweep: Mutex::new(None),
        };
        d.load().await;
        tracing::info!(
            binary = %d.opts.binary.display(),
            accel = ?d.opts.accel,
            guests = d.guests.lock().len(),
            "qemu driver ready"
        );
        Ok(d)
    }

    fn dir(&self, uuid: &str) -> PathBuf {
        self.opts.instances_path.join(uuid)
    }

    fn base_dir(&self) -> PathBuf {
        self.opts.instances_path.join("_base")
    }

    /// Read every `guest.json` and adopt the processes still running.
    async fn load(&self) {
        let Ok(entries) = std::fs::read_dir(&self.opts.instances_path) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if uuid::Uuid::parse_str(&name).is_err() {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(e.path().join("guest.json")) else {
                continue;
            };
            let saved: Saved = match serde_json::from_str(&text) {
                Ok(s) => s,
                Err(err) => {
                    tracing::warn!(instance = %name, error = %err, "unreadable guest.json; ignored");
                    continue;
                }
            };
            let vm = qemu::adopt(&saved.vm.qmp_socket, &saved.vm.pidfile)
                .await
                .ok();
            tracing::info!(instance = %name, running = vm.is_some(), "guest found");
            self.guests
                .lock()
                .insert(name, Arc::new(tokio::sync::Mutex::new(Guest { saved, vm })));
        }
    }

    fn guest(&self, uuid: &str) -> DriverResult<GuestRef> {
        self.guests
            .lock()
            .get(uuid)
            .cloned()
            .ok_or_else(|| DriverError::NotFound(uuid.to_string()))
    }

    fn save(&self, saved: &Saved) -> DriverResult<()> {
        let dir = self.dir(&saved.spec.uuid);
        let tmp = dir.join("guest.json.tmp");
        let text = serde_json::to_vec_pretty(saved).map_err(failed)?;
        std::fs::write(&tmp, text).map_err(failed)?;
        std::fs::rename(&tmp, dir.join("guest.json")).map_err(failed)
    }

    /// The cached copy of image `id`, downloaded (and verified) on first use. Returns
    /// the file and what qemu-img found in it.
    async fn cached_image(&self, id: &str) -> DriverResult<(PathBuf, ImageInfo, Value)> {
        use sha1::Digest;
        let key = hex::encode(sha1::Sha1::digest(id.as_bytes()));
        let path = self.base_dir().join(&key);
        let meta_path = self.base_dir().join(format!("{key}.json"));
        let lock = self.fetching.lock().entry(key.clone()).or_default().clone();
        let _held = lock.lock().await;
        let record = match (path.exists(), std::fs::read(&meta_path)) {
            (true, Ok(m)) => serde_json::from_slice(&m).unwrap_or(Value::Null),
            _ => {
                tracing::info!(image = id, "downloading image into the cache");
                let rec = self
                    .images
                    .fetch(id, &path)
                    .await
                    .map_err(|e| failed(format!("cannot fetch image {id}: {e}")))?;
                std::fs::write(&meta_path, rec.to_string()).map_err(failed)?;
                rec
            }
        };
        // Touch: the cache sweep removes bases unused for a while.
        let _ = std::fs::File::open(&path).and_then(|f| f.set_modified(SystemTime::now()));
        let info = qemu_img_info(&path, false).await.map_err(|e| {
            failed(format!(
                "image {id} is corrupt or not a disk image: {}",
                e.to_string().trim_start_matches("qemu-img failed: ")
            ))
        })?;
        let declared = record["disk_format"].as_str().unwrap_or("raw");
        let declared_qemu = match declared {
            "qcow2" => "qcow2",
            "vmdk" => "vmdk",
            "vdi" => "vdi",
            "vhd" => "vpc",
            "vhdx" => "vhdx",
            _ => "raw",
        };
        if info.format != declared_qemu && !(declared == "iso" && info.format == "raw") {
            return Err(failed(format!(
                "image {id} is declared {declared} but its data is {}: refused",
                info.format
            )));
        }
        Ok((path, info, record))
    }

    /// Build everything a guest needs on disk and its QEMU configuration.
    async fn prepare(&self, spec: &GuestSpec, dir: &Path) -> DriverResult<Saved> {
        if spec.image_ref.is_empty() {
            return Err(failed(
                "booting from a volume is not supported by the qemu driver yet",
            ));
        }
        tokio::fs::create_dir_all(dir).await.map_err(failed)?;
        let mut bases = Vec::new();
        let (base, info, record) = self.cached_image(&spec.image_ref).await?;
        bases.push(base.clone());
        let disk_format = record["disk_format"].as_str().unwrap_or("raw");
        let mut kernel = None;
        let mut initrd = None;
        if let Some(k) = prop(spec, "kernel_id") {
            let (p, _, _) = self.cached_image(k).await?;
            bases.push(p.clone());
            kernel = Some(p);
            if let Some(r) = prop(spec, "ramdisk_id") {
                let (p, _, _) = self.cached_image(r).await?;
                bases.push(p.clone());
                initrd = Some(p);
            }
        }
        if matches!(disk_format, "aki" | "ari") {
            return Err(failed(format!(
                "image {} is a kernel or ramdisk ({disk_format}), not a bootable disk",
                spec.image_ref
            )));
        }
        let iso = disk_format == "iso";
        if kernel.is_none() && !iso && !has_boot_sector(&base, &info).await? {
            return Err(failed(format!(
                "image {} is not bootable: its disk has no boot sector and the image has no kernel_id",
                spec.image_ref
            )));
        }
        let gib = 1u64 << 30;
        let root_size = u64::try_from(spec.flavor.disk).unwrap_or(0) * gib;
        if root_size > 0 && info.virtual_size > root_size {
            return Err(failed(format!(
                "Flavor's disk is too small for requested image. Flavor disk is {root_size} bytes, image is {} bytes.",
                info.virtual_size
            )));
        }
        let root = dir.join("disk");
        let _ = tokio::fs::remove_file(&root).await;
        let mut args = vec![
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            info.format.as_str(),
            "-b",
            path_str(&base)?,
            path_str(&root)?,
        ];
        let size = root_size.max(info.virtual_size).to_string();
        if !iso {
            args.push(&size);
        }
        if iso {
            // An ISO boots from a cdrom; the root disk is a blank one of the flavor's size.
            let blank = (root_size.max(gib)).to_string();
            run(
                "qemu-img",
                &["create", "-q", "-f", "qcow2", path_str(&root)?, &blank],
            )
            .await?;
        } else {
            run("qemu-img", &args).await?;
        }
        if spec.flavor.ephemeral > 0 {
            make_fs_disk(
                &dir.join("disk.eph0"),
                u64::try_from(spec.flavor.ephemeral).unwrap_or(0) * gib,
                &["mkfs.ext4", "-q", "-F", "-L", "ephemeral0"],
            )
            .await?;
        }
        if spec.flavor.swap > 0 {
            make_fs_disk(
                &dir.join("disk.swap"),
                u64::try_from(spec.flavor.swap).unwrap_or(0) << 20,
                &["mkswap", "-L", "swap0"],
            )
            .await?;
        }
        if spec.config_drive || self.opts.force_config_drive {
            self.build_config_drive(spec, dir).await?;
        }
        let vm = self.vm_config(spec, dir, kernel, initrd, iso.then_some(base), false)?;
        Ok(Saved {
            spec: spec.clone(),
            vm,
            bases,
            resize_from: None,
            rescued: false,
            suspended: false,
            started_at: None,
        })
    }

    async fn build_config_drive(&self, spec: &GuestSpec, dir: &Path) -> DriverResult<()> {
        if which("genisoimage").is_none() {
            return Err(failed(
                "genisoimage is not installed on this host: config drives need it (Debian's genisoimage)",
            ));
        }
        let tree = dir.join("config-drive.d");
        let _ = tokio::fs::remove_dir_all(&tree).await;
        let md = instance_metadata(spec);
        metadata::write_config_drive_tree(&md, &tree).map_err(failed)?;
        let iso = dir.join("disk.config");
        let r = run(
            "genisoimage",
            &[
                "-o",
                path_str(&iso)?,
                "-ldots",
                "-allow-lowercase",
                "-allow-multidot",
                "-l",
                "-J",
                "-r",
                "-quiet",
                "-V",
                "config-2",
                "-publisher",
                "ferrostack",
                path_str(&tree)?,
            ],
        )
        .await;
        let _ = tokio::fs::remove_dir_all(&tree).await;
        r.map(|_| ())
    }

    /// QEMU's configuration for a guest. `rescue_from`: boot that disk first.
    fn vm_config(
        &self,
        spec: &GuestSpec,
        dir: &Path,
        kernel: Option<PathBuf>,
        initrd: Option<PathBuf>,
        cdrom_boot: Option<PathBuf>,
        rescue: bool,
    ) -> DriverResult<qemu::VmConfig> {
        let machine = prop(spec, "hw_machine_type").unwrap_or("pc").to_string();
        let bus = match prop(spec, "hw_disk_bus") {
            Some("ide") => qemu::DiskBus::Ide,
            Some("scsi") => qemu::DiskBus::Scsi,
            _ => qemu::DiskBus::Virtio,
        };
        let disk = |name: &str, format: &str, boot: Option<u32>| qemu::Disk {
            path: dir.join(name),
            format: format.into(),
            bus: bus.clone(),
            cdrom: false,
            readonly: false,
            serial: None,
            boot_index: boot,
        };
        let mut disks = Vec::new();
        if rescue {
            disks.push(disk("disk.rescue", "qcow2", Some(1)));
            disks.push(disk("disk", "qcow2", None));
        } else if let Some(iso) = cdrom_boot {
            disks.push(qemu::Disk {
                path: iso,
                format: "raw".into(),
                bus: qemu::DiskBus::Ide,
                cdrom: true,
                readonly: true,
                serial: None,
                boot_index: Some(1),
            });
            disks.push(disk("disk", "qcow2", Some(2)));
        } else {
            disks.push(disk("disk", "qcow2", Some(1)));
        }
        if dir.join("disk.eph0").exists() {
            disks.push(disk("disk.eph0", "raw", None));
        }
        if dir.join("disk.swap").exists() {
            disks.push(disk("disk.swap", "raw", None));
        }
        if dir.join("disk.config").exists() {
            // machine pc: an IDE cdrom, as nova's default; other machines: a virtio disk.
            let ide = machine == "pc" || machine.starts_with("pc-i440fx");
            disks.push(qemu::Disk {
                path: dir.join("disk.config"),
                format: "raw".into(),
                bus: if ide {
                    qemu::DiskBus::Ide
                } else {
                    qemu::DiskBus::Virtio
                },
                cdrom: ide,
                readonly: true,
                serial: None,
                boot_index: None,
            });
        }
        let append = kernel.as_ref().map(|_| {
            prop(spec, "os_command_line").map_or_else(
                || {
                    // nova's default for kernel/ramdisk guests, plus no_timer_check
                    // under TCG (as nova adds for virt_type=qemu).
                    let mut c = "root=/dev/vda console=tty0 console=ttyS0".to_string();
                    if self.opts.accel == qemu::Accel::Tcg {
                        c.push_str(" no_timer_check");
                    }
                    c
                },
                str::to_string,
            )
        });
        let serial_port = if self.opts.serial {
            free_port(&self.opts.serial_listen, self.opts.serial_ports.clone())
        } else {
            None
        };
        let vcpus = u32::try_from(spec.flavor.vcpus.max(1)).unwrap_or(1);
        let memory_mb = u64::try_from(spec.flavor.ram.max(16)).unwrap_or(128);
        Ok(qemu::VmConfig {
            name: spec.name.clone(),
            uuid: spec.uuid.clone(),
            accel: self.opts.accel,
            machine,
            vcpus,
            memory_mb,
            disks,
            kernel,
            initrd,
            append,
            nics: Vec::new(),
            qmp_socket: dir.join("qmp.sock"),
            pidfile: dir.join("qemu.pid"),
            console_log: dir.join("console.log"),
            serial_listen: self.opts.serial_listen.clone(),
            serial_port,
            vnc_listen: self.opts.vnc.then(|| self.opts.vnc_listen.clone()),
            smbios_product: "OpenStack Compute".into(),
            os_type_windows: prop(spec, "os_type") == Some("windows"),
            start_paused: false,
            extra_args: Vec::new(),
        })
    }

    /// Start QEMU for a guest (its serial port chosen again if taken meanwhile).
    async fn start(&self, g: &mut Guest, extra: &[&str]) -> DriverResult<()> {
        if let Some(p) = g.saved.vm.serial_port
            && !port_is_free(&g.saved.vm.serial_listen, p)
        {
            g.saved.vm.serial_port =
                free_port(&self.opts.serial_listen, self.opts.serial_ports.clone());
        }
        let mut cfg = g.saved.vm.clone();
        cfg.extra_args.extend(extra.iter().map(|s| s.to_string()));
        let _ = tokio::fs::remove_file(&cfg.qmp_socket).await;
        let vm = qemu::spawn(&self.opts.binary, &cfg).await.map_err(failed)?;
        g.vm = Some(vm);
        g.saved.started_at = Some(now_unix());
        self.save(&g.saved)
    }

    /// Stop QEMU at once (no guest shutdown).
    async fn kill(&self, g: &mut Guest) -> DriverResult<()> {
        if let Some(vm) = g.vm.take() {
            vm.kill(Duration::from_secs(5)).await.map_err(failed)?;
        }
        Ok(())
    }

    /// ACPI power button, then QEMU killed if the guest is still up after `timeout`.
    async fn shutdown(&self, g: &mut Guest, timeout: Duration) -> DriverResult<bool> {
        let Some(vm) = g.vm.as_ref().filter(|v| v.alive()) else {
            g.vm = None;
            return Ok(true);
        };
        // A paused (or stopped for a migration) guest cannot see the ACPI button: waiting
        // for it would only burn the whole timeout.
        let running = match Self::qmp(g, "query-status", None).await {
            Ok(st) => st["status"] == "running",
            Err(_) => true,
        };
        let clean = if timeout.is_zero() || !running {
            false
        } else {
            vm.powerdown_and_wait(timeout).await.unwrap_or(false)
        };
        self.kill(g).await?;
        Ok(clean)
    }

    fn running_vm(g: &Guest) -> DriverResult<&qemu::Vm> {
        g.vm.as_ref()
            .filter(|v| v.alive())
            .ok_or_else(|| failed(format!("guest {} is not running", g.saved.spec.uuid)))
    }

    async fn qmp(g: &Guest, cmd: &str, args: Option<Value>) -> DriverResult<Value> {
        let vm = Self::running_vm(g)?;
        let mut q = vm.qmp().await.map_err(failed)?;
        q.execute(cmd, args).await.map_err(failed)
    }

    fn power_of(g: &Guest, status: Option<&str>) -> i64 {
        match status {
            Some("running") => power::RUNNING,
            Some("paused") | Some("prelaunch") | Some("inmigrate") => power::PAUSED,
            Some("suspended") => power::SUSPENDED,
            Some("internal-error") | Some("guest-panicked") | Some("io-error") => power::CRASHED,
            Some("shutdown") => power::SHUTDOWN,
            Some(_) => power::RUNNING,
            None if g.saved.suspended => power::SUSPENDED,
            None => power::SHUTDOWN,
        }
    }

    async fn wait_migration(g: &Guest, what: &str) -> DriverResult<()> {
        for _ in 0..1200 {
            let st = Self::qmp(g, "query-migrate", None).await?;
            match st["status"].as_str() {
                Some("completed") => return Ok(()),
                Some("failed") | Some("cancelled") => {
                    return Err(failed(format!(
                        "{what} failed: {}",
                        st["error-desc"].as_str().unwrap_or("migration failed")
                    )));
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        Err(failed(format!("{what} did not finish in time")))
    }

    /// Guests not running anything and bases nobody uses for a while are removed.
    async fn sweep_cache(&self) {
        let in_use: HashSet<PathBuf> = {
            let guests: Vec<GuestRef> = self.guests.lock().values().cloned().collect();
            let mut s = HashSet::new();
            for g in guests {
                s.extend(g.lock().await.saved.bases.iter().cloned());
            }
            s
        };
        let Ok(entries) = std::fs::read_dir(self.base_dir()) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let age = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            if !stale_cache_file(&p, age, in_use.contains(&p), self.opts.cache_min_age) {
                continue;
            }
            tracing::info!(file = %p.display(), "removing an unused cached image or abandoned download");
            let _ = std::fs::remove_file(&p);
            if p.extension().is_none() {
                let _ = std::fs::remove_file(p.with_extension("json"));
            }
        }
    }

    async fn remove_guest_files(&self, uuid: &str) {
        let dir = self.dir(uuid);
        if dir.starts_with(&self.opts.instances_path) && dir != self.opts.instances_path {
            let _ = tokio::fs::remove_dir_all(&dir).await;
        }
    }
}

/// How long an image download's `.part` file may stay unchanged before the cache sweep
/// treats it as abandoned.
const ABANDONED_DOWNLOAD: Duration = Duration::from_secs(600);

/// Whether the cache sweep removes this file of `_base/`: a base image (no extension)
/// nobody uses, older than `min_age`; or a download's `.part` file left unchanged for
/// [`ABANDONED_DOWNLOAD`] (a download grows it continuously, so it was abandoned by an
/// agent that stopped mid-download). Record files (`.json`) go with their base.
fn stale_cache_file(p: &Path, age: Option<Duration>, in_use: bool, min_age: Duration) -> bool {
    match p.extension() {
        None => !in_use && age.is_some_and(|a| a > min_age),
        Some(x) if x == "part" => age.is_some_and(|a| a > ABANDONED_DOWNLOAD),
        Some(_) => false,
    }
}

fn port_is_free(addr: &str, port: u16) -> bool {
    std::net::TcpListener::bind((addr, port)).is_ok()
}

/// A free TCP port in `range` on `addr`, starting at a random point so that agents
/// sharing a host rarely race for the same one.
fn free_port(addr: &str, range: Range<u16>) -> Option<u16> {
    let len = u32::from(range.end.checked_sub(range.start).filter(|l| *l > 0)?);
    let start = rand::random::<u32>() % len;
    (0..len)
        .filter_map(|i| u16::try_from(u32::from(range.start) + (start + i) % len).ok())
        .find(|p| port_is_free(addr, *p))
}

/// Whether the first sector of an image ends with the 0x55AA boot signature.
async fn has_boot_sector(path: &Path, info: &ImageInfo) -> DriverResult<bool> {
    let out = tempfile_path(path, "bootsector");
    let r = run(
        "qemu-img",
        &[
            "dd",
            "-f",
            &info.format,
            "-O",
            "raw",
            "bs=512",
            "count=1",
            &format!("if={}", path_str(path)?),
            &format!("of={}", path_str(&out)?),
        ],
    )
    .await;
    let data = std::fs::read(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    r?;
    Ok(data.len() >= 512 && data[510] == 0x55 && data[511] == 0xAA)
}

fn tempfile_path(near: &Path, what: &str) -> PathBuf {
    let name = format!(".{what}-{}", uuid::Uuid::new_v4());
    near.parent().unwrap_or(Path::new("/tmp")).join(name)
}

/// A sparse raw disk of `size` bytes formatted by `mkfs` (the path is appended).
async fn make_fs_disk(path: &Path, size: u64, mkfs: &[&str]) -> DriverResult<()> {
    let f = std::fs::File::create(path).map_err(failed)?;
    f.set_len(size).map_err(failed)?;
    drop(f);
    let mut args: Vec<&str> = mkfs[1..].to_vec();
    args.push(path_str(path)?);
    run(mkfs[0], &args).await.map(|_| ())
}

/// The metadata the guest sees (config drive; the metadata service builds its own).
pub fn instance_metadata(spec: &GuestSpec) -> metadata::InstanceMetadata {
    let meta = spec
        .metadata
        .iter()
        .map(|(k, v)| {
            let s = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            (k.clone(), Value::String(s))
        })
        .collect();
    let user_data = spec.user_data.as_ref().and_then(|u| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(u).ok()
    });
    metadata::InstanceMetadata {
        uuid: spec.uuid.clone(),
        name: spec.display_name.clone(),
        hostname: spec.hostname.clone(),
        project_id: spec.project_id.clone(),
        availability_zone: spec.availability_zone.clone(),
        launch_index: spec.launch_index,
        reservation_id: spec.reservation_id.clone(),
        hypervisor_name: spec.name.clone(),
        instance_id: instance_number(&spec.name),
        instance_type: spec.flavor.name.clone(),
        image_id: spec.image_ref.clone(),
        kernel_id: prop(spec, "kernel_id").map(str::to_string),
        ramdisk_id: prop(spec, "ramdisk_id").map(str::to_string),
        user_data,
        public_keys: match (&spec.key_name, &spec.key_data) {
            (Some(n), Some(k)) => vec![(n.clone(), k.clone())],
            _ => Vec::new(),
        },
        key_type: spec.key_data.as_ref().map(|k| {
            if k.starts_with("-----BEGIN CERTIFICATE") {
                "x509".to_string()
            } else {
                "ssh".to_string()
            }
        }),
        meta,
        network_data: json!({"links": [], "networks": [], "services": []}),
        vendor_data: json!({}),
        ..Default::default()
    }
}

/// `instance-0000002a` → 42.
fn instance_number(name: &str) -> i64 {
    name.rsplit('-')
        .next()
        .and_then(|h| i64::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

#[async_trait]
impl Driver for QemuDriver {
    fn hypervisor_type(&self) -> &'static str {
        "QEMU"
    }

    fn hypervisor_version(&self) -> i64 {
        self.version
    }

    fn capacity(&self) -> Capacity {
        self.opts.capacity
    }

    fn traits(&self) -> Vec<String> {
        let mut t: Vec<String> = [
            "COMPUTE_IMAGE_TYPE_QCOW2",
            "COMPUTE_IMAGE_TYPE_RAW",
            "COMPUTE_IMAGE_TYPE_ISO",
            "COMPUTE_IMAGE_TYPE_AMI",
            "COMPUTE_IMAGE_TYPE_AKI",
            "COMPUTE_IMAGE_TYPE_ARI",
            "COMPUTE_RESCUE_BFV",
            "COMPUTE_STORAGE_BUS_VIRTIO",
            "COMPUTE_STORAGE_BUS_IDE",
            "COMPUTE_STORAGE_BUS_SCSI",
            "COMPUTE_GRAPHICS_MODEL_VGA",
        ]
        .into_iter()
        .map(str::to_string)
        .collect();
        if self.opts.accel == qemu::Accel::Kvm {
            t.push("HW_CPU_HYPERTHREADING".into());
        }
        t
    }

    async fn spawn(&self, spec: &GuestSpec) -> DriverResult<()> {
        let uuid = spec.uuid.clone();
        if self.guests.lock().contains_key(&uuid) {
            // A retried build landing here again: start from scratch.
            self.destroy(&uuid).await?;
        }
        self.building.lock().insert(uuid.clone(), false);
        let dir = self.dir(&uuid);
        let r = async {
            let saved = self.prepare(spec, &dir).await?;
            let mut g = Guest { saved, vm: None };
            if let Err(e) = self.start(&mut g, &[]).await {
                let _ = self.kill(&mut g).await;
                return Err(e);
            }
            Ok(g)
        }
        .await;
        let cancelled = self.building.lock().remove(&uuid).unwrap_or(false);
        match r {
            Ok(mut g) if cancelled => {
                let _ = self.kill(&mut g).await;
                self.remove_guest_files(&uuid).await;
                Err(failed("the instance was deleted while it was being built"))
            }
            Ok(g) => {
                tracing::info!(instance = %uuid, "guest started");
                self.guests
                    .lock()
                    .insert(uuid, Arc::new(tokio::sync::Mutex::new(g)));
                Ok(())
            }
            Err(e) => {
                tracing::warn!(instance = %uuid, error = %e, "guest failed to spawn; cleaned up");
                self.remove_guest_files(&uuid).await;
                Err(e)
            }
        }
    }

    async fn destroy(&self, uuid: &str) -> DriverResult<()> {
        if let Some(c) = self.building.lock().get_mut(uuid) {
            *c = true;
        }
        let g = self.guests.lock().remove(uuid);
        if let Some(g) = g {
            let mut g = g.lock().await;
            self.kill(&mut g).await?;
        } else if let Ok(vm) = qemu::adopt(
            &self.dir(uuid).join("qmp.sock"),
            &self.dir(uuid).join("qemu.pid"),
        )
        .await
        {
            let _ = vm.kill(Duration::from_secs(5)).await;
        }
        if !self.building.lock().contains_key(uuid) {
            self.remove_guest_files(uuid).await;
        }
        Ok(())
    }

    async fn list(&self) -> Vec<String> {
        self.guests.lock().keys().cloned().collect()
    }

    async fn power_state(&self, uuid: &str) -> DriverResult<i64> {
        let g = self.guest(uuid)?;
        let mut g = g.lock().await;
        let alive = g.vm.as_ref().is_some_and(qemu::Vm::alive);
        if !alive {
            g.vm = None;
            return Ok(Self::power_of(&g, None));
        }
        let st = match Self::qmp(&g, "query-status", None).await {
            Ok(v) => v["status"].as_str().map(str::to_string),
            Err(_) => Some("running".into()),
        };
        Ok(Self::power_of(&g, st.as_deref()))
    }

    async fn power_off(&self, uuid: &str, timeout_s: u64) -> DriverResult<()> {
        let g = self.guest(uuid)?;
        let mut g = g.lock().await;
        self.shutdown(&mut g, Duration::from_secs(timeout_s))
            .await?;
        Ok(())
    }

    async fn power_on(&self, uuid: &str) -> DriverResult<()> {
        let g = self.guest(uuid)?;
        let mut g = g.lock().await;
        if g.vm.as_ref().is_some_and(qemu::Vm::alive) {
            if Self::qmp(&g, "query-status", None).await?["status"] == "paused" {
                Self::qmp(&g, "cont", None).await?;
            }
            return Ok(());
        }
        if g.saved.suspended {
            g.saved.suspended = false;
            let _ = tokio::fs::remove_file(self.dir(uuid).join("suspend.state")).await;
        }
        self.start(&mut g, &[]).await
    }

    async fn reboot(&self, uuid: &str, hard: bool) -> DriverResult<()> {
        let g = self.guest(uuid)?;
        let mut g = g.lock().await;
        if !hard {
            let clean = self.shutdown(&mut g, self.opts.soft_reboot_wait).await?;
            if !clean {
                tracing::info!(instance = %uuid, "soft reboot timed out; rebooting hard");
            }
        } else {
            self.kill(&mut g).await?;
        }
        if g.saved.suspended {
            g.saved.suspended = false;
            let _ = tokio::fs::remove_file(self.dir(uuid).join("suspend.state")).await;
        }
        self.start(&mut g, &[]).await
    }

    async fn pause(&self, uuid: &str) -> DriverResult<()> {
        let g = self.guest(uuid)?;
        let g = g.lock().await;
        Self::qmp(&g, "stop", None).await.map(|_| ())
    }

    async fn unpause(&self, uuid: &str) -> DriverResult<()> {
        let g = self.guest(uuid)?;
        let g = g.lock().await;
        Self::qmp(&g, "cont", None).await.map(|_| ())
    }

    /// The guest's memory and devices are saved to `suspend.state`; QEMU exits.
    async fn suspend(&self, uuid: &str) -> DriverResult<()> {
        let g = self.guest(uuid)?;
        let mut g = g.lock().await;
        let state = self.dir(uuid).join("suspend.state");
        Self::qmp(&g, "stop", None).await?;
        let r = async {
            Self::qmp(
                &g,
                "migrate",
                Some(json!({"uri": format!("file:{}", path_str(&state)?)})),
            )
            .await?;
            Self::wait_migration(&g, "saving the guest's state").await
        }
        .await;
        if let Err(e) = r {
            let _ = Self::qmp(&g, "cont", None).await;
            let _ = tokio::fs::remove_file(&state).await;
            return Err(e);
        }
        self.kill(&mut g).await?;
        g.saved.suspended = true;
        self.save(&g.saved)
    }

    async fn resume(&self, uuid: &str) -> DriverResult<()> {
        let g = self.guest(uuid)?;
        let mut g = g.lock().await;
        if !g.saved.suspended {
            return Err(failed(format!("guest {uuid} is not suspended")));
        }
        let state = self.dir(uuid).join("suspend.state");
        self.start(&mut g, &["-S", "-incoming", "defer"]).await?;
        let r = async {
            Self::qmp(
                &g,
                "migrate-incoming",
                Some(json!({"uri": format!("file:{}", path_str(&state)?)})),
            )
            .await?;
            Self::wait_migration(&g, "restoring the guest's state").await?;
            Self::qmp(&g, "cont", None).await
        }
        .await;
        if let Err(e) = r {
            let _ = self.kill(&mut g).await;
            return Err(e);
        }
        g.saved.suspended = false;
        let _ = tokio::fs::remove_file(&state).await;
        self.save(&g.saved)
    }

    async fn rebuild(&self, spec: &GuestSpec) -> DriverResult<()> {
        let g = self.guest(&spec.uuid)?;
        let mut g = g.lock().await;
        self.kill(&mut g).await?;
        let dir = self.dir(&spec.uuid);
        for f in ["disk", "disk.config", "suspend.state", "disk.rescue"] {
            let _ = tokio::fs::remove_file(dir.join(f)).await;
        }
        let mut saved = self.prepare(spec, &dir).await?;
        saved.vm.serial_port = g.saved.vm.serial_port.or(saved.vm.serial_port);
        g.saved = saved;
        self.start(&mut g, &[]).await
    }

    /// Cold resize on this host: the guest is shut down, its disk kept for a revert
    /// (`disk.resize`) and grown to the new flavor, and it starts with the new size.
    /// Resizing back to the kept flavor (a revert) restores that disk.
    async fn resize(&self, spec: &GuestSpec, new: &Flavor) -> DriverResult<()> {
        let g = self.guest(&spec.uuid)?;
        let mut g = g.lock().await;
        let dir = self.dir(&spec.uuid);
        let (disk, backup) = (dir.join("disk"), dir.join("disk.resize"));
        self.shutdown(&mut g, Duration::from_secs(60)).await?;
        let reverting = g.saved.resize_from.as_ref().is_some_and(|f| f.id == new.id);
        if reverting && backup.exists() {
            tokio::fs::rename(&backup, &disk).await.map_err(failed)?;
            g.saved.resize_from = None;
        } else {
            let gib = 1u64 << 30;
            let cur = qemu_img_info(&disk, true).await?.virtual_size;
            let want = u64::try_from(new.disk).unwrap_or(0) * gib;
            if want > 0 && want < cur {
                self.start(&mut g, &[]).await?;
                return Err(failed("Resize error: Unable to resize disk down."));
            }
            tokio::fs::copy(&disk, &backup).await.map_err(failed)?;
            if want > cur {
                run(
                    "qemu-img",
                    &["resize", "-q", path_str(&disk)?, &want.to_string()],
                )
                .await?;
            }
            g.saved.resize_from = Some(g.saved.spec.flavor.clone());
        }
        g.saved.spec.flavor = new.clone();
        g.saved.vm.vcpus = u32::try_from(new.vcpus.max(1)).unwrap_or(1);
        g.saved.vm.memory_mb = u64::try_from(new.ram.max(16)).unwrap_or(128);
        self.start(&mut g, &[]).await
    }

    async fn confirm_resize(&self, uuid: &str) -> DriverResult<()> {
        let g = self.guest(uuid)?;
        let mut g = g.lock().await;
        let _ = tokio::fs::remove_file(self.dir(uuid).join("disk.resize")).await;
        g.saved.resize_from = None;
        self.save(&g.saved)
    }

    async fn console_output(&self, uuid: &str) -> DriverResult<String> {
        let g = self.guest(uuid)?;
        let log = g.lock().await.saved.vm.console_log.clone();
        qemu::read_console_log(&log, None).map_err(failed)
    }

    /// The root disk flattened (backing image included) into a qcow2 file. A running
    /// guest is paused meanwhile so the copy is consistent.
    async fn snapshot(&self, uuid: &str, dest: &Path) -> DriverResult<Snapshot> {
        let g = self.guest(uuid)?;
        let g = g.lock().await;
        let running = match g.vm.as_ref().filter(|v| v.alive()) {
            Some(_) => Self::qmp(&g, "query-status", None).await?["status"] == "running",
            None => false,
        };
        if running {
            Self::qmp(&g, "stop", None).await?;
        }
        let disk = self.dir(uuid).join("disk");
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(failed)?;
        }
        let r = run(
            "qemu-img",
            &[
                "convert",
                "-U",
                "-q",
                "-O",
                "qcow2",
                path_str(&disk)?,
                path_str(dest)?,
            ],
        )
        .await;
        if running {
            let _ = Self::qmp(&g, "cont", None).await;
        }
        if let Err(e) = r {
            let _ = tokio::fs::remove_file(dest).await;
            return Err(e);
        }
        Ok(Snapshot {
            disk_format: "qcow2".into(),
            container_format: "bare".into(),
        })
    }

    fn scratch_dir(&self) -> PathBuf {
        self.opts.instances_path.join("snapshots")
    }

    async fn rescue(&self, spec: &GuestSpec, rescue_image: &str) -> DriverResult<()> {
        let g = self.guest(&spec.uuid)?;
        let mut g = g.lock().await;
        let image = if rescue_image.is_empty() {
            spec.image_ref.as_str()
        } else {
            rescue_image
        };
        let (base, info, _) = self.cached_image(image).await?;
        let dir = self.dir(&spec.uuid);
        self.shutdown(&mut g, Duration::from_secs(60)).await?;
        let rescue = dir.join("disk.rescue");
        let _ = tokio::fs::remove_file(&rescue).await;
        run(
            "qemu-img",
            &[
                "create",
                "-q",
                "-f",
                "qcow2",
                "-F",
                &info.format,
                "-b",
                path_str(&base)?,
                path_str(&rescue)?,
            ],
        )
        .await?;
        let normal = g.saved.vm.clone();
        let mut cfg = self.vm_config(
            &g.saved.spec,
            &dir,
            normal.kernel.clone(),
            normal.initrd.clone(),
            None,
            true,
        )?;
        cfg.serial_port = normal.serial_port;
        g.saved.vm = cfg;
        g.saved.rescued = true;
        if !g.saved.bases.contains(&base) {
            g.saved.bases.push(base);
        }
        if let Err(e) = self.start(&mut g, &[]).await {
            g.saved.vm = normal;
            g.saved.rescued = false;
            let _ = self.start(&mut g, &[]).await;
            return Err(e);
        }
        Ok(())
    }

    async fn unrescue(&self, uuid: &str) -> DriverResult<()> {
        let g = self.guest(uuid)?;
        let mut g = g.lock().await;
        self.kill(&mut g).await?;
        let dir = self.dir(uuid);
        let _ = tokio::fs::remove_file(dir.join("disk.rescue")).await;
        let mut cfg = g.saved.vm.clone();
        cfg.disks.retain(|d| !d.path.ends_with("disk.rescue"));
        if let Some(d) = cfg.disks.iter_mut().find(|d| d.path.ends_with("disk")) {
            d.boot_index = Some(1);
        }
        g.saved.vm = cfg;
        g.saved.rescued = false;
        self.start(&mut g, &[]).await
    }

    async fn diagnostics(&self, uuid: &str) -> DriverResult<Value> {
        let g = self.guest(uuid)?;
        let g = g.lock().await;
        let status = match g.vm.as_ref().filter(|v| v.alive()) {
            Some(_) => Self::qmp(&g, "query-status", None)
                .await
                .ok()
                .and_then(|v| v["status"].as_str().map(str::to_string)),
            None => None,
        };
        let state = match Self::power_of(&g, status.as_deref()) {
            power::RUNNING => "running",
            power::PAUSED => "paused",
            power::SUSPENDED => "suspended",
            power::CRASHED => "crashed",
            _ => "shutdown",
        };
        let mut disks = Vec::new();
        if status.is_some()
            && let Ok(stats) = Self::qmp(&g, "query-blockstats", None).await
        {
            for d in stats.as_array().into_iter().flatten() {
                let s = &d["stats"];
                disks.push(json!({
                    "read_bytes": s["rd_bytes"], "read_requests": s["rd_operations"],
                    "write_bytes": s["wr_bytes"], "write_requests": s["wr_operations"],
                    "errors_count": s["failed_rd_operations"].as_i64().unwrap_or(0)
                        + s["failed_wr_operations"].as_i64().unwrap_or(0),
                }));
            }
        }
        let cpus: Vec<Value> = (0..g.saved.vm.vcpus)
            .map(|id| json!({"id": id, "time": 0, "utilisation": null}))
            .collect();
        let uptime = g
            .saved
            .started_at
            .filter(|_| status.is_some())
            .map(|t| now_unix() - t)
            .unwrap_or(0);
        // nova's diagnostics `driver` enum has no QEMU-native member: this driver does
        // libvirt's job and reports its layout.
        Ok(json!({
            "state": state,
            "driver": "libvirt",
            "hypervisor": "qemu",
            "hypervisor_os": std::env::consts::OS,
            "uptime": uptime,
            "config_drive": self.dir(uuid).join("disk.config").exists(),
            "num_cpus": g.saved.vm.vcpus,
            "num_nics": g.saved.vm.nics.len(),
            "num_disks": g.saved.vm.disks.len(),
            "cpu_details": cpus,
            "nic_details": [],
            "disk_details": disks,
            "memory_details": {"maximum": g.saved.vm.memory_mb, "used": g.saved.vm.memory_mb},
        }))
    }

    async fn console(&self, uuid: &str, kind: &str) -> DriverResult<Value> {
        let g = self.guest(uuid)?;
        let g = g.lock().await;
        match kind {
            "serial" => {
                let port = g
                    .saved
                    .vm
                    .serial_port
                    .filter(|_| self.opts.serial)
                    .ok_or_else(|| {
                        DriverError::Unsupported(
                            "Serial console is not enabled on this host.".into(),
                        )
                    })?;
                Self::running_vm(&g)?;
                Ok(json!({"host": g.saved.vm.serial_listen, "port": port}))
            }
            "novnc" | "vnc" => {
                if !self.opts.vnc {
                    return Err(DriverError::Unsupported(
                        "VNC console is not enabled on this host.".into(),
                    ));
                }
                let v = Self::qmp(&g, "query-vnc", None).await?;
                let port = v["service"]
                    .as_str()
                    .and_then(|p| p.parse::<u16>().ok())
                    .ok_or_else(|| failed("the guest has no VNC server"))?;
                let host = v["host"]
                    .as_str()
                    .unwrap_or(&self.opts.vnc_listen)
                    .to_string();
                Ok(json!({"host": host, "port": port}))
            }
            other => Err(DriverError::Unsupported(format!(
                "Unavailable console type {other}."
            ))),
        }
    }

    async fn periodic(&self) {
        let guests: Vec<GuestRef> = self.guests.lock().values().cloned().collect();
        for g in guests {
            let log = g.lock().await.saved.vm.console_log.clone();
            if let Err(e) = qemu::rotate_console_log(&log, self.opts.console_log_max) {
                tracing::debug!(log = %log.display(), error = %e, "cannot rotate console log");
            }
        }
        let due = {
            let mut last = self.last_cache_sweep.lock();
            let due = last.is_none_or(|t| t.elapsed() > Duration::from_secs(600));
            if due {
                *last = Some(std::time::Instant::now());
            }
            due
        };
        if due {
            self.sweep_cache().await;
        }
    }

    async fn recover(&self, known: &[String]) {
        let known: HashSet<&str> = known.iter().map(String::as_str).collect();
        let stale: Vec<String> = self
            .guests
            .lock()
            .keys()
            .filter(|k| !known.contains(k.as_str()))
            .cloned()
            .collect();
        for uuid in stale {
            tracing::info!(instance = %uuid, "removing the guest of a deleted instance");
            let _ = self.destroy(&uuid).await;
        }
        // Directories without a guest record (a spawn interrupted by a crash).
        if let Ok(entries) = std::fs::read_dir(&self.opts.instances_path) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if uuid::Uuid::parse_str(&name).is_ok()
                    && !known.contains(name.as_str())
                    && !self.guests.lock().contains_key(&name)
                {
                    let _ = self.destroy(&name).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_sweep_removes_unused_bases_and_abandoned_downloads() {
        let day = Duration::from_secs(86_400);
        let min = Duration::from_secs(3600);
        let base = Path::new("/i/_base/0a1b");
        assert!(stale_cache_file(base, Some(day), false, min));
        assert!(!stale_cache_file(base, Some(day), true, min));
        assert!(!stale_cache_file(
            base,
            Some(Duration::from_secs(60)),
            false,
            min
        ));
        assert!(!stale_cache_file(base, None, false, min));
        let part = Path::new("/i/_base/0a1b.part");
        assert!(stale_cache_file(
            part,
            Some(Duration::from_secs(601)),
            false,
            min
        ));
        assert!(!stale_cache_file(
            part,
            Some(Duration::from_secs(5)),
            false,
            min
        ));
        assert!(!stale_cache_file(
            Path::new("/i/_base/0a1b.json"),
            Some(day),
            false,
            min
        ));
    }

    #[test]
    fn instance_numbers_come_from_names() {
        assert_eq!(instance_number("instance-0000002a"), 42);
        assert_eq!(instance_number("weird"), 0);
    }
}
