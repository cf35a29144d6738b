//! A guest's configuration and the `qemu-system-x86_64` command line it becomes.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How guests are accelerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Accel {
    Kvm,
    /// Software emulation (`-accel tcg`).
    Tcg,
}

/// The bus a disk hangs off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiskBus {
    Virtio,
    Ide,
    Scsi,
}

/// A disk or cdrom.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Disk {
    pub path: PathBuf,
    /// `qcow2` or `raw`.
    pub format: String,
    pub bus: DiskBus,
    pub cdrom: bool,
    pub readonly: bool,
    /// The serial the guest sees (matching disks by serial is reliable; names are not).
    pub serial: Option<String>,
    pub boot_index: Option<u32>,
}

/// A network interface on a tap device.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Nic {
    pub id: String,
    pub mac: String,
    /// `virtio-net-pci`, `e1000`, `rtl8139`…
    pub model: String,
    /// The tap interface (created beforehand, in QEMU's network namespace).
    pub tap: String,
}

/// Everything QEMU is started with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VmConfig {
    pub name: String,
    pub uuid: String,
    pub accel: Accel,
    /// `pc` (i440fx) by default; q35 guests need AHCI in their kernel.
    pub machine: String,
    pub vcpus: u32,
    pub memory_mb: u64,
    pub disks: Vec<Disk>,
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    pub append: Option<String>,
    pub nics: Vec<Nic>,
    pub qmp_socket: PathBuf,
    pub pidfile: PathBuf,
    /// Everything the guest writes on its serial port is appended here.
    pub console_log: PathBuf,
    /// The same serial port as a TCP server (interactive console) when a port is set.
    pub serial_listen: String,
    pub serial_port: Option<u16>,
    /// A VNC server on this address, on a display QEMU picks among free ones.
    pub vnc_listen: Option<String>,
    /// SMBIOS system product (`OpenStack Compute`, as cloud-init checks).
    pub smbios_product: String,
    /// The guest clock runs in local time (Windows) instead of UTC.
    pub os_type_windows: bool,
    /// Start with the CPUs stopped (`-S`).
    pub start_paused: bool,
    pub extra_args: Vec<String>,
}

/// QEMU option values escape commas by doubling them.
fn esc(s: &str) -> String {
    s.replace(',', ",,")
}

fn p(path: &std::path::Path) -> String {
    esc(&path.to_string_lossy())
}

impl VmConfig {
    /// The command line, without the binary.
    pub fn argv(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
        push(&[
            "-name",
            &format!("guest={},debug-threads=on", esc(&self.name)),
        ]);
        push(&["-uuid", &self.uuid]);
        push(&["-machine", &esc(&self.machine)]);
        match self.accel {
            Accel::Kvm => push(&["-accel", "kvm", "-cpu", "host"]),
            // A smaller translation cache than the default saves ~20 MiB per guest.
            Accel::Tcg => push(&["-accel", "tcg,tb-size=32"]),
        }
        push(&["-smp", &self.vcpus.max(1).to_string()]);
        push(&["-m", &self.memory_mb.to_string()]);
        push(&[
            "-no-user-config",
            "-nodefaults",
            "-msg",
            "timestamp=off",
            "-daemonize",
        ]);
        push(&["-pidfile", &p(&self.pidfile)]);
        push(&[
            "-qmp",
            &format!("unix:{},server=on,wait=off", p(&self.qmp_socket)),
        ]);
        push(&[
            "-smbios",
            &format!(
                "type=1,manufacturer=ferrostack,product={},serial={},uuid={}",
                esc(&self.smbios_product),
                self.uuid,
                self.uuid
            ),
        ]);
        let rtc = if self.os_type_windows {
            "base=localtime,driftfix=slew"
        } else {
            "base=utc,driftfix=slew"
        };
        push(&["-rtc", rtc]);
        let log = format!("logfile={},logappend=on", p(&self.console_log));
        let chardev = match self.serial_port {
            Some(port) => format!(
                "socket,id=serial0,host={},port={port},server=on,wait=off,telnet=off,{log}",
                esc(&self.serial_listen)
            ),
            None => format!("null,id=serial0,{log}"),
        };
        push(&["-chardev", &chardev, "-serial", "chardev:serial0"]);
        match &self.vnc_listen {
            Some(addr) => push(&[
                "-vga",
                "std",
                "-display",
                "none",
                "-vnc",
                &format!("{}:0,to=99", esc(addr)),
            ]),
            None => push(&["-vga", "none", "-display", "none"]),
        }
        if let Some(k) = &self.kernel {
            push(&["-kernel", &p(k)]);
            if let Some(i) = &self.initrd {
                push(&["-initrd", &p(i)]);
            }
            if let Some(c) = &self.append {
                push(&["-append", c]);
            }
        }
        let mut ide_slot = 0u32;
        let mut scsi = false;
        for (n, d) in self.disks.iter().enumerate() {
            let ro = if d.readonly || d.cdrom { "on" } else { "off" };
            push(&[
                "-drive",
                &format!(
                    "file={},format={},if=none,id=drive{n},readonly={ro},cache=writeback",
                    p(&d.path),
                    esc(&d.format)
                ),
            ]);
            let mut dev = match (&d.bus, d.cdrom) {
                (DiskBus::Virtio, _) => format!("virtio-blk-pci,drive=drive{n},id=disk{n}"),
                (DiskBus::Ide, cd) => {
                    let (bus, unit) = (ide_slot / 2, ide_slot % 2);
                    ide_slot += 1;
                    let kind = if cd { "ide-cd" } else { "ide-hd" };
                    format!("{kind},drive=drive{n},id=disk{n},bus=ide.{bus},unit={unit}")
                }
                (DiskBus::Scsi, cd) => {
                    if !scsi {
                        push(&["-device", "virtio-scsi-pci,id=scsi0"]);
                        scsi = true;
                    }
                    let kind = if cd { "scsi-cd" } else { "scsi-hd" };
                    format!("{kind},drive=drive{n},id=disk{n},bus=scsi0.0")
                }
            };
            if let Some(b) = d.boot_index {
                dev.push_str(&format!(",bootindex={b}"));
            }
            if let Some(s) = &d.serial {
                dev.push_str(&format!(",serial={}", esc(s)));
            }
            push(&["-device", &dev]);
        }
        for nic in &self.nics {
            push(&[
                "-netdev",
                &format!(
                    "tap,id={},ifname={},script=no,downscript=no,vnet_hdr=off",
                    esc(&nic.id),
                    esc(&nic.tap)
                ),
                "-device",
                &format!(
                    "{},netdev={},mac={}",
                    esc(&nic.model),
                    esc(&nic.id),
                    esc(&nic.mac)
                ),
            ]);
        }
        if self.start_paused {
            push(&["-S"]);
        }
        a.extend(self.extra_args.iter().cloned());
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> VmConfig {
        VmConfig {
            name: "instance-00000001".into(),
            uuid: "11111111-2222-3333-4444-555555555555".into(),
            accel: Accel::Tcg,
            machine: "pc".into(),
            vcpus: 2,
            memory_mb: 256,
            disks: vec![
                Disk {
                    path: "/i/disk".into(),
                    format: "qcow2".into(),
                    bus: DiskBus::Virtio,
                    cdrom: false,
                    readonly: false,
                    serial: Some("root".into()),
                    boot_index: Some(1),
                },
                Disk {
                    path: "/i/disk.config".into(),
                    format: "raw".into(),
                    bus: DiskBus::Ide,
                    cdrom: true,
                    readonly: true,
                    serial: None,
                    boot_index: None,
                },
            ],
            kernel: Some("/b/k".into()),
            initrd: Some("/b/r".into()),
            append: Some("root=/dev/vda console=ttyS0".into()),
            nics: vec![Nic {
                id: "net0".into(),
                mac: "fa:16:3e:00:00:01".into(),
                model: "virtio-net-pci".into(),
                tap: "tap0".into(),
            }],
            qmp_socket: "/i/qmp.sock".into(),
            pidfile: "/i/qemu.pid".into(),
            console_log: "/i/console.log".into(),
            serial_listen: "127.0.0.1".into(),
            serial_port: Some(10001),
            vnc_listen: Some("127.0.0.1".into()),
            smbios_product: "OpenStack Compute".into(),
            os_type_windows: false,
            start_paused: false,
            extra_args: vec![],
        }
    }

    fn after<'a>(argv: &'a [String], flag: &str) -> Vec<&'a str> {
        argv.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].as_str())
            .collect()
    }

    #[test]
    fn command_line() {
        let a = cfg().argv();
        assert_eq!(after(&a, "-accel"), ["tcg,tb-size=32"]);
        assert_eq!(after(&a, "-machine"), ["pc"]);
        assert_eq!(after(&a, "-smp"), ["2"]);
        assert_eq!(after(&a, "-m"), ["256"]);
        assert!(a.contains(&"-daemonize".to_string()));
        assert!(a.contains(&"-nodefaults".to_string()));
        assert_eq!(after(&a, "-qmp"), ["unix:/i/qmp.sock,server=on,wait=off"]);
        assert_eq!(after(&a, "-pidfile"), ["/i/qemu.pid"]);
        assert_eq!(
            after(&a, "-chardev"),
            [
                "socket,id=serial0,host=127.0.0.1,port=10001,server=on,wait=off,telnet=off,logfile=/i/console.log,logappend=on"
            ]
        );
        assert_eq!(after(&a, "-vnc"), ["127.0.0.1:0,to=99"]);
        assert_eq!(after(&a, "-kernel"), ["/b/k"]);
        assert_eq!(after(&a, "-initrd"), ["/b/r"]);
        assert_eq!(after(&a, "-append"), ["root=/dev/vda console=ttyS0"]);
        assert_eq!(
            after(&a, "-drive"),
            [
                "file=/i/disk,format=qcow2,if=none,id=drive0,readonly=off,cache=writeback",
                "file=/i/disk.config,format=raw,if=none,id=drive1,readonly=on,cache=writeback"
            ]
        );
        assert_eq!(
            after(&a, "-device"),
            [
                "virtio-blk-pci,drive=drive0,id=disk0,bootindex=1,serial=root",
                "ide-cd,drive=drive1,id=disk1,bus=ide.0,unit=0",
                "virtio-net-pci,netdev=net0,mac=fa:16:3e:00:00:01"
            ]
        );
        assert_eq!(
            after(&a, "-netdev"),
            ["tap,id=net0,ifname=tap0,script=no,downscript=no,vnet_hdr=off"]
        );
        assert!(!a.contains(&"-S".to_string()));
    }

    #[test]
    fn without_consoles_and_with_commas() {
        let mut c = cfg();
        c.serial_port = None;
        c.vnc_listen = None;
        c.accel = Accel::Kvm;
        c.console_log = "/i/a,b.log".into();
        c.start_paused = true;
        let a = c.argv();
        assert_eq!(
            after(&a, "-chardev"),
            ["null,id=serial0,logfile=/i/a,,b.log,logappend=on"]
        );
        assert_eq!(after(&a, "-vga"), ["none"]);
        assert_eq!(after(&a, "-cpu"), ["host"]);
        assert!(a.contains(&"-S".to_string()));
    }
}
