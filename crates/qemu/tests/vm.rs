//! A real QEMU guest (no disk: the BIOS just waits), when qemu-system-x86_64 exists.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use qemu::{Accel, VmConfig};

fn config(dir: &std::path::Path) -> VmConfig {
    VmConfig {
        name: "probe-test".into(),
        uuid: "6f1a54c4-0000-4000-8000-000000000001".into(),
        accel: Accel::Tcg,
        machine: "pc".into(),
        vcpus: 1,
        memory_mb: 32,
        disks: vec![],
        kernel: None,
        initrd: None,
        append: None,
        nics: vec![],
        qmp_socket: dir.join("qmp.sock"),
        pidfile: dir.join("qemu.pid"),
        console_log: dir.join("console.log"),
        serial_listen: "127.0.0.1".into(),
        serial_port: None,
        vnc_listen: Some("127.0.0.1".into()),
        smbios_product: "OpenStack Compute".into(),
        os_type_windows: false,
        start_paused: false,
        extra_args: vec![],
    }
}

#[tokio::test]
async fn spawn_control_adopt_kill() {
    let Some(bin) = qemu::find_binary() else {
        eprintln!("qemu-system-x86_64 not installed: skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let vm = qemu::spawn(&bin, &cfg).await.unwrap();
    assert!(vm.alive());
    assert_eq!(vm.status().await.unwrap().status, "running");
    let mut q = vm.qmp().await.unwrap();
    q.execute("stop", None).await.unwrap();
    let st = q.execute("query-status", None).await.unwrap();
    assert_eq!(st["status"], "paused");
    q.execute("cont", None).await.unwrap();
    let vnc = q.execute("query-vnc", None).await.unwrap();
    assert!(vnc["service"].as_str().unwrap().parse::<u16>().unwrap() >= 5900);
    drop(q);
    // another process (here: a fresh handle) re-adopts it from its files
    let again = qemu::adopt(&cfg.qmp_socket, &cfg.pidfile).await.unwrap();
    assert_eq!(again.pid, vm.pid);
    again.kill(Duration::from_secs(5)).await.unwrap();
    assert!(!vm.alive());
    assert!(qemu::adopt(&cfg.qmp_socket, &cfg.pidfile).await.is_err());
}

#[tokio::test]
async fn refused_start_reports_qemus_message() {
    let Some(bin) = qemu::find_binary() else {
        eprintln!("qemu-system-x86_64 not installed: skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.disks.push(qemu::Disk {
        path: dir.path().join("missing.qcow2"),
        format: "qcow2".into(),
        bus: qemu::DiskBus::Virtio,
        cdrom: false,
        readonly: false,
        serial: None,
        boot_index: Some(1),
    });
    match qemu::spawn(&bin, &cfg).await {
        Err(qemu::Error::Spawn(m)) => assert!(m.contains("missing.qcow2"), "{m}"),
        other => panic!("expected a spawn error, got {other:?}"),
    }
}

#[tokio::test]
async fn kvm_probe_answers() {
    let Some(bin) = qemu::find_binary() else {
        eprintln!("qemu-system-x86_64 not installed: skipped");
        return;
    };
    let accel = qemu::probe_accel(&bin).await;
    eprintln!("accelerator on this host: {accel:?}");
}
