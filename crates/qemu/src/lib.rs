//! Drive `qemu-system-x86_64` guests without libvirt: build the command line from a
//! [`VmConfig`], start QEMU daemonized (so guests outlive the caller), talk QMP over the
//! guest's unix socket, re-adopt a running guest from its pidfile and socket, stop it,
//! and keep its serial console log bounded.

mod config;
mod console;
mod process;
mod qmp;

pub use config::{Accel, Disk, DiskBus, Nic, VmConfig};
pub use console::{read_console_log, rotate_console_log};
pub use process::{RunStatus, Vm, adopt, find_binary, probe_accel, spawn, version};
pub use qmp::Qmp;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// QEMU answered a command with an error.
    #[error("QMP {class}: {desc}")]
    Qmp { class: String, desc: String },
    /// Something unexpected on the QMP socket.
    #[error("QMP protocol error: {0}")]
    Protocol(String),
    #[error("timed out: {0}")]
    Timeout(String),
    /// QEMU refused to start; the message is QEMU's own.
    #[error("QEMU failed to start: {0}")]
    Spawn(String),
    #[error("not running: {0}")]
    NotRunning(String),
}

pub type Result<T> = std::result::Result<T, Error>;
