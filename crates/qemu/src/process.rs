//! QEMU processes: start daemonized, re-adopt, probe, stop.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::{Accel, Error, Qmp, Result, VmConfig};

const START_TIMEOUT: Duration = Duration::from_secs(30);
const QMP_TIMEOUT: Duration = Duration::from_secs(10);

/// `qemu-system-x86_64` on `PATH` (or in /usr/bin).
pub fn find_binary() -> Option<PathBuf> {
    let name = "qemu-system-x86_64";
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// QEMU's version from `--version` (`QEMU emulator version 10.0.2 (…)`).
pub async fn version(binary: &Path) -> Result<(u32, u32, u32)> {
    let out = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .await?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version(&text)
        .ok_or_else(|| Error::Spawn(format!("cannot read QEMU's version from {text:?}")))
}

fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let v = text.split("version").nth(1)?.split_whitespace().next()?;
    let mut it = v.split('.').map(|x| {
        x.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
    });
    let major = it.next()?.ok()?;
    let minor = it.next().and_then(|x| x.ok()).unwrap_or(0);
    let micro = it.next().and_then(|x| x.ok()).unwrap_or(0);
    Some((major, minor, micro))
}

/// What QMP's `query-status` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStatus {
    pub running: bool,
    /// `running`, `paused`, `shutdown`, `suspended`, `internal-error`, `inmigrate`…
    pub status: String,
}

/// A running QEMU (started here or adopted).
#[derive(Debug, Clone)]
pub struct Vm {
    pub pid: i32,
    pub qmp_socket: PathBuf,
    pub pidfile: PathBuf,
}

fn read_pid(pidfile: &Path) -> Option<i32> {
    std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()
}

/// Whether `pid` is a live (not zombie) QEMU whose command line names `qmp`.
fn is_our_qemu(pid: i32, qmp: &Path) -> bool {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = std::fs::read_to_string(proc.join("stat")) else {
        return false;
    };
    // state is the field after the parenthesised command name
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|s| s.split_whitespace().next());
    if matches!(state, Some("Z") | Some("X") | None) {
        return false;
    }
    let Ok(cmd) = std::fs::read(proc.join("cmdline")) else {
        return false;
    };
    let cmd = String::from_utf8_lossy(&cmd);
    cmd.contains(&*qmp.to_string_lossy())
}

/// Start QEMU with `cfg` (which daemonizes: the guest outlives the caller) and return
/// once its QMP socket answers. QEMU's own message is the error when it refuses.
pub async fn spawn(binary: &Path, cfg: &VmConfig) -> Result<Vm> {
    let _ = std::fs::remove_file(&cfg.pidfile);
    let mut cmd = Command::new(binary);
    cmd.args(cfg.argv())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The daemonized QEMU must not die with the caller's process group or session.
    cmd.process_group(0);
    let child = cmd.spawn()?;
    // The parent exits once the guest is set up; the daemon then closes the pipes.
    let out = tokio::time::timeout(START_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| Error::Timeout(format!("QEMU did not start {}", cfg.name)))??;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        let msg = msg
            .lines()
            .map(|l| l.trim_start_matches("qemu-system-x86_64: "))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::Spawn(if msg.is_empty() {
            format!("exit status {}", out.status)
        } else {
            msg
        }));
    }
    let pid = read_pid(&cfg.pidfile)
        .ok_or_else(|| Error::Spawn(format!("no pid in {}", cfg.pidfile.display())))?;
    let vm = Vm {
        pid,
        qmp_socket: cfg.qmp_socket.clone(),
        pidfile: cfg.pidfile.clone(),
    };
    // QMP is listening before QEMU daemonizes; one round trip proves it.
    vm.qmp().await?;
    tracing::debug!(pid, name = %cfg.name, "qemu started");
    Ok(vm)
}

/// Re-attach to a guest started earlier, maybe by another process.
pub async fn adopt(qmp_socket: &Path, pidfile: &Path) -> Result<Vm> {
    let pid = read_pid(pidfile)
        .ok_or_else(|| Error::NotRunning(format!("no pid in {}", pidfile.display())))?;
    if !is_our_qemu(pid, qmp_socket) {
        return Err(Error::NotRunning(format!(
            "process {pid} is not the QEMU of {}",
            qmp_socket.display()
        )));
    }
    let vm = Vm {
        pid,
        qmp_socket: qmp_socket.to_path_buf(),
        pidfile: pidfile.to_path_buf(),
    };
    vm.qmp().await?;
    Ok(vm)
}

fn signal(pid: i32, sig: rustix::process::Signal) {
    if let Some(p) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(p, sig);
    }
}

impl Vm {
    /// Whether the QEMU process still runs.
    pub fn alive(&self) -> bool {
        is_our_qemu(self.pid, &self.qmp_socket)
    }

    /// A fresh QMP session (QEMU serves one client at a time: keep it short).
    pub async fn qmp(&self) -> Result<Qmp> {
        Qmp::connect(&self.qmp_socket, QMP_TIMEOUT).await
    }

    /// `query-status`.
    pub async fn status(&self) -> Result<RunStatus> {
        let v = self.qmp().await?.execute("query-status", None).await?;
        Ok(RunStatus {
            running: v["running"].as_bool().unwrap_or(false),
            status: v["status"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Wait up to `timeout` for the process to end; true when it did.
    pub async fn wait_exit(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if !self.alive() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stop QEMU: `quit` over QMP, then SIGTERM after `grace`, then SIGKILL. Returns
    /// once the process is gone; an already dead guest is fine.
    pub async fn kill(&self, grace: Duration) -> Result<()> {
        if !self.alive() {
            return Ok(());
        }
        if let Ok(mut q) = Qmp::connect(&self.qmp_socket, Duration::from_secs(2)).await {
            let _ = q.execute("quit", None).await;
        }
        if self.wait_exit(grace).await {
            return Ok(());
        }
        signal(self.pid, rustix::process::Signal::TERM);
        if self.wait_exit(Duration::from_secs(5)).await {
            return Ok(());
        }
        signal(self.pid, rustix::process::Signal::KILL);
        if self.wait_exit(Duration::from_secs(10)).await {
            Ok(())
        } else {
            Err(Error::Timeout(format!("QEMU {} does not die", self.pid)))
        }
    }

    /// Press the ACPI power button and wait up to `timeout` for QEMU to exit (the
    /// guest shut down); true when it did. The button is pressed again every few
    /// seconds, as nova does: a guest still booting misses the first press.
    pub async fn powerdown_and_wait(&self, timeout: Duration) -> Result<bool> {
        const RETRY: Duration = Duration::from_secs(3);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if !self.alive() {
                return Ok(true);
            }
            if let Ok(mut q) = self.qmp().await {
                let _ = q.execute("system_powerdown", None).await;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            if self.wait_exit(left.min(RETRY)).await {
                return Ok(true);
            }
        }
    }
}

/// A boot sector that switches the CPU from real mode to long mode and writes "LM" to
/// the first serial port (source: `probe.S`, assembled with GNU as).
const LONG_MODE_PROBE: [u8; 150] = [
    0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x7c, 0xbf, 0x00, 0x10, 0xb9,
    0x00, 0x18, 0xf3, 0xab, 0x66, 0xc7, 0x06, 0x00, 0x10, 0x03, 0x20, 0x00, 0x00, 0x66, 0xc7, 0x06,
    0x00, 0x20, 0x03, 0x30, 0x00, 0x00, 0x66, 0xc7, 0x06, 0x00, 0x30, 0x83, 0x00, 0x00, 0x00, 0x66,
    0x0f, 0x01, 0x16, 0x90, 0x7c, 0x0f, 0x20, 0xe0, 0x66, 0x83, 0xc8, 0x20, 0x0f, 0x22, 0xe0, 0x66,
    0xb8, 0x00, 0x10, 0x00, 0x00, 0x0f, 0x22, 0xd8, 0x66, 0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32,
    0x66, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x0f, 0x30, 0x0f, 0x20, 0xc0, 0x66, 0x0d, 0x01, 0x00, 0x00,
    0x80, 0x0f, 0x22, 0xc0, 0x66, 0xea, 0x6c, 0x7c, 0x00, 0x00, 0x08, 0x00, 0x66, 0xba, 0xf8, 0x03,
    0xb0, 0x4c, 0xee, 0xb0, 0x4d, 0xee, 0xf4, 0xeb, 0xfd, 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9a, 0x20, 0x00,
    0x0f, 0x00, 0x80, 0x7c, 0x00, 0x00,
];

/// Whether KVM really runs guests here: a tiny VM (`-accel kvm -cpu host`, as guests
/// would run) boots [`LONG_MODE_PROBE`] and must print "LM" on its serial port within a
/// few seconds. A QEMU that refuses KVM, aborts (hosts whose KVM cannot set the guest's
/// MSRs) or hangs means TCG.
pub async fn probe_accel(binary: &Path) -> Accel {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        tracing::info!("no usable /dev/kvm: guests run under TCG (software emulation)");
        return Accel::Tcg;
    }
    let dir = std::env::temp_dir().join(format!("fs-kvm-probe-{}", std::process::id()));
    let r = probe_kvm(binary, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    match r {
        Ok(()) => {
            tracing::info!("KVM works: guests are accelerated");
            Accel::Kvm
        }
        Err(e) => {
            tracing::info!(reason = %e, "KVM does not work here: guests run under TCG");
            Accel::Tcg
        }
    }
}

async fn probe_kvm(binary: &Path, dir: &Path) -> std::result::Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let (img, out) = (dir.join("probe.img"), dir.join("serial.out"));
    let mut disk = vec![0u8; 4096];
    disk[..LONG_MODE_PROBE.len()].copy_from_slice(&LONG_MODE_PROBE);
    disk[510] = 0x55;
    disk[511] = 0xAA;
    std::fs::write(&img, &disk).map_err(|e| e.to_string())?;
    let mut child = Command::new(binary)
        .args([
            "-machine", "pc", "-accel", "kvm", "-cpu", "host", "-m", "16",
        ])
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .arg("-serial")
        .arg(format!("file:{}", out.display()))
        .arg("-drive")
        .arg(format!(
            "file={},format=raw,if=ide,readonly=on",
            img.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let verdict = loop {
        if std::fs::read(&out).is_ok_and(|b| b.windows(2).any(|w| w == b"LM")) {
            break Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use tokio::io::AsyncReadExt;
                let _ = e.read_to_string(&mut err).await;
            }
            break Err(format!("QEMU exited ({status}): {}", err.trim()));
        }
        if tokio::time::Instant::now() >= deadline {
            break Err("the probe guest made no progress".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = child.kill().await;
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2)\nCopyright"),
            Some((10, 0, 2))
        );
        assert_eq!(
            parse_version("QEMU emulator version 7.2.0"),
            Some((7, 2, 0))
        );
        assert_eq!(parse_version("nonsense"), None);
    }
}
