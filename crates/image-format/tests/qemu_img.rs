//! Real images made by `qemu-img` (installed by scripts/test-all) are recognised, sized and
//! judged like Glance's inspector does.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use image_format::{Detected, DiskFormat, check, inspect_bytes};

fn qemu_img(args: &[&str]) -> bool {
    match Command::new("qemu-img").args(args).output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => panic!("qemu-img {args:?}: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => false,
    }
}

fn make(dir: &Path, name: &str, args: &[&str]) -> Option<Vec<u8>> {
    let p = dir.join(name);
    let p = p.to_str().unwrap();
    let mut a: Vec<&str> = vec!["create", "-q"];
    a.extend_from_slice(args);
    a.push(p);
    a.push("64M");
    if !qemu_img(&a) {
        return None;
    }
    Some(std::fs::read(p).unwrap())
}

#[test]
fn images_made_by_qemu_img() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&str, &[&str], DiskFormat)] = &[
        ("a.qcow2", &["-f", "qcow2"], DiskFormat::Qcow2),
        ("a.vmdk", &["-f", "vmdk"], DiskFormat::Vmdk),
        (
            "s.vmdk",
            &["-f", "vmdk", "-o", "subformat=streamOptimized"],
            DiskFormat::Vmdk,
        ),
        ("a.vhd", &["-f", "vpc"], DiskFormat::Vhd),
        (
            "f.vhd",
            &["-f", "vpc", "-o", "subformat=fixed"],
            DiskFormat::Vhd,
        ),
        ("a.vhdx", &["-f", "vhdx"], DiskFormat::Vhdx),
        ("a.vdi", &["-f", "vdi"], DiskFormat::Vdi),
    ];
    for (name, args, fmt) in cases {
        let Some(data) = make(d, name, args) else {
            eprintln!("qemu-img is not installed: skipping the real-image checks");
            return;
        };
        let i = inspect_bytes(&data);
        assert_eq!(i.detected, Some(Detected::Format(*fmt)), "{name}");
        assert!(check(*fmt, &i).is_ok(), "{name}: {i:?}");
        assert!(check(DiskFormat::Raw, &i).is_err(), "{name} declared raw");
        let vs = i.virtual_size.unwrap_or(0);
        // VHD rounds to its CHS geometry.
        assert!(
            (63 << 20..=65 << 20).contains(&vs),
            "{name}: virtual size {vs}"
        );
    }
    let raw = make(d, "a.raw", &["-f", "raw"]).unwrap();
    let i = inspect_bytes(&raw);
    assert_eq!(i.detected, None);
    assert!(check(DiskFormat::Raw, &i).is_ok());
    assert!(check(DiskFormat::Qcow2, &i).is_err());

    // A qcow2 with a backing file, and one with an external data file: refused.
    let base = d.join("a.qcow2");
    let over = d.join("over.qcow2");
    assert!(qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        base.to_str().unwrap(),
        "-F",
        "qcow2",
        over.to_str().unwrap()
    ]));
    let i = inspect_bytes(&std::fs::read(&over).unwrap());
    assert!(
        check(DiskFormat::Qcow2, &i)
            .unwrap_err()
            .to_string()
            .contains("backing")
    );
    let data_file = d.join("data.raw");
    let df = d.join("df.qcow2");
    assert!(qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-o",
        &format!("data_file={}", data_file.display()),
        df.to_str().unwrap(),
        "64M",
    ]));
    let i = inspect_bytes(&std::fs::read(&df).unwrap());
    assert!(
        check(DiskFormat::Qcow2, &i)
            .unwrap_err()
            .to_string()
            .contains("data file"),
        "{i:?}"
    );
}
