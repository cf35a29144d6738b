"""Real guests end to end: `ferrostack aio` with the qemu driver (KVM probed, TCG here),
the tiny Debian-kernel + busybox guest from scripts/build-test-guest.sh, driven by the
real `openstack` CLI. Observes the guest itself: its serial console, its QEMU process,
QMP, the files under instances_path."""

import base64
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse

import pytest
import websocket

from conftest import ROOT, Cloud, unique

GUEST_DIR = os.environ.get("FERROSTACK_TEST_GUEST", os.path.join(ROOT, "target", "test-guest"))
BOOT_TIMEOUT = 240  # TCG on a busy 2-core machine


def qemu_pids(marker):
    """pids of qemu-system processes whose command line mentions `marker`."""
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(os.path.join(d, "cmdline"), "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if "qemu-system" in cmd and marker in cmd:
            pids.append(int(os.path.basename(d)))
    return pids


def qmp(sock_path, command):
    """One QMP command on the guest's socket (the agent holds no connection open)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock_path)
    f = s.makefile("rw")
    json.loads(f.readline())  # greeting
    for cmd in ("qmp_capabilities", command):
        f.write(json.dumps({"execute": cmd}) + "\n")
        f.flush()
        while True:
            msg = json.loads(f.readline())
            if "return" in msg or "error" in msg:
                break
    s.close()
    return msg.get("return")


@pytest.fixture(scope="module")
def guest_files():
    subprocess.run([os.path.join(ROOT, "scripts", "build-test-guest.sh"), GUEST_DIR], check=True)
    return {n: os.path.join(GUEST_DIR, n) for n in ("vmlinuz", "initrd.img", "disk.qcow2")}


@pytest.fixture(scope="module")
def qcloud(guest_files):
    workdir = tempfile.mkdtemp(prefix="ferrostack-qemu-")
    # A clean power off may wait for as long as it likes: a guest that cannot see the ACPI
    # button (paused) must be powered off at once, not after this timeout.
    c = Cloud(workdir, None, compute_driver="qemu", defaults="shutdown_timeout = 3600\n",
              extra_conf="[libvirt]\nwait_soft_reboot_seconds = 60\n")
    c.start()
    yield c
    c.stop()
    # Guests outlive the control plane by design: whatever a failed test left behind
    # is killed here.
    for pid in qemu_pids(workdir):
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    if os.environ.get("FERROSTACK_KEEP") != "1":
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def env(qcloud, guest_files):
    c = qcloud
    tiny, small = unique("m1.tiny"), unique("m1.small")
    c.os("flavor", "create", "--vcpus", "1", "--ram", "128", "--disk", "1", tiny)
    c.os("flavor", "create", "--vcpus", "1", "--ram", "192", "--disk", "2", small)
    img = c.os("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
               "--file", guest_files["disk.qcow2"], "--public", unique("tiny"), "-f", "json")
    # wait for the agent to register its hypervisor
    deadline = time.time() + 60
    while time.time() < deadline:
        hv = c.os("hypervisor", "list", "-f", "json")
        if hv:
            break
        time.sleep(1)
    assert hv and hv[0]["Hypervisor Type"] == "QEMU", hv
    return {"tiny": tiny, "small": small, "image": img["id"]}


def instances_dir(c):
    return os.path.join(c.data_dir, "instances")


def console(c, server):
    return c.os("console", "log", "show", server).stdout


def wait_console(c, server, pattern, count=1, timeout=BOOT_TIMEOUT):
    deadline = time.time() + timeout
    out = ""
    while time.time() < deadline:
        out = console(c, server)
        if len(re.findall(pattern, out)) >= count:
            return out
        time.sleep(2)
    raise AssertionError(f"{server}: {pattern!r} x{count} not in console:\n{out[-3000:]}")


def wait_status(c, server, want, timeout=BOOT_TIMEOUT):
    deadline = time.time() + timeout
    s = None
    while time.time() < deadline:
        s = c.os("server", "show", server, "-f", "json")
        if s["status"] == want and not s.get("OS-EXT-STS:task_state"):
            return s
        if s["status"] == "ERROR" and want != "ERROR":
            raise AssertionError(f"{server} went ERROR: {s.get('fault')}")
        time.sleep(1)
    raise AssertionError(f"{server} did not reach {want}: {s and s['status']}")


def boot(c, env, name, *extra, image=None):
    s = c.os("server", "create", "--image", image or env["image"], "--flavor", env["tiny"],
             "--nic", "none", *extra, "--wait", name, "-f", "json")
    assert s["status"] == "ACTIVE", s
    return s


def test_boot_reads_config_drive_and_prints_metadata(qcloud, env):
    c = qcloud
    ud = os.path.join(c.workdir, "ud.txt")
    with open(ud, "w") as f:
        f.write("hello from user-data\n")
    name = unique("vm")
    s = boot(c, env, name, "--user-data", ud, "--config-drive", "true")
    out = wait_console(c, name, r"ferrostack-guest: ready")
    assert f"ferrostack-guest: uuid={s['id']}" in out
    assert f"ferrostack-guest: hostname={name}" in out
    assert "hello from user-data" in out
    assert "no_timer_check" in out or "Linux version" in out
    # one QEMU process, running
    pids = qemu_pids(s["id"])
    assert len(pids) == 1
    sock = os.path.join(instances_dir(c), s["id"], "qmp.sock")
    assert qmp(sock, "query-status")["status"] == "running"
    # console length
    tail = c.os("console", "log", "show", "--lines", "3", name).stdout
    assert len(tail.strip().splitlines()) <= 3

    # stop: the guest powers off through ACPI, its QEMU exits
    c.os("server", "stop", name)
    wait_status(c, name, "SHUTOFF")
    assert qemu_pids(s["id"]) == []
    assert "ferrostack-guest: powering off" in console(c, name)
    # start: a second boot
    c.os("server", "start", name)
    wait_status(c, name, "ACTIVE")
    wait_console(c, name, r"ferrostack-guest: ready", count=2)
    # soft reboot (ACPI, then started again) and hard reboot
    c.os("server", "reboot", "--soft", "--wait", name)
    wait_console(c, name, r"ferrostack-guest: ready", count=3)
    c.os("server", "reboot", "--hard", "--wait", name)
    wait_console(c, name, r"ferrostack-guest: ready", count=4)
    # pause / unpause: QMP says so
    c.os("server", "pause", name)
    wait_status(c, name, "PAUSED")
    assert qmp(sock, "query-status")["status"] == "paused"
    c.os("server", "unpause", name)
    wait_status(c, name, "ACTIVE")
    assert qmp(sock, "query-status")["status"] == "running"
    # suspend: state saved to disk, no process; resume: the same boot goes on
    c.os("server", "suspend", name)
    wait_status(c, name, "SUSPENDED")
    assert qemu_pids(s["id"]) == []
    assert os.path.exists(os.path.join(instances_dir(c), s["id"], "suspend.state"))
    c.os("server", "resume", name)
    wait_status(c, name, "ACTIVE")
    assert len(qemu_pids(s["id"])) == 1
    assert qmp(sock, "query-status")["status"] == "running"
    assert len(re.findall("ferrostack-guest: ready", console(c, name))) == 4

    # delete: no process, no files
    c.os("server", "delete", "--wait", name)
    assert qemu_pids(s["id"]) == []
    assert not os.path.exists(os.path.join(instances_dir(c), s["id"]))


def test_serial_and_vnc_consoles(qcloud, env):
    c = qcloud
    name = unique("con")
    boot(c, env, name)
    wait_console(c, name, r"ferrostack-guest: ready")
    url = c.os("console", "url", "show", "--serial", name, "-f", "json")["url"]
    assert url.startswith("ws://")
    ws = websocket.create_connection(url, timeout=20, subprotocols=["binary"])
    ws.send_binary(b"echo serial-$((40+2))\n")
    got = b""
    deadline = time.time() + 60
    ws.settimeout(5)
    while b"serial-42" not in got and time.time() < deadline:
        try:
            data = ws.recv()
        except websocket.WebSocketTimeoutException:
            ws.send_binary(b"\n")
            continue
        got += data if isinstance(data, bytes) else data.encode()
    ws.close()
    assert b"serial-42" in got
    # a bad token is refused
    bad = re.sub(r"token=[^&]+", "token=nope", url)
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(bad, timeout=10)

    url = c.os("console", "url", "show", "--novnc", name, "-f", "json")["url"]
    q = urllib.parse.urlparse(url)
    token = urllib.parse.parse_qs(urllib.parse.parse_qs(q.query)["path"][0].lstrip("?"))["token"][0]
    ws = websocket.create_connection(f"ws://{q.netloc}/websockify?token={token}", timeout=20,
                                     subprotocols=["binary"], origin=f"http://{q.netloc}")
    banner = ws.recv()
    ws.close()
    assert banner.startswith(b"RFB 003."), banner
    c.os("server", "delete", "--wait", name)


def test_snapshot_boots_as_new_server(qcloud, env):
    c = qcloud
    name = unique("src")
    boot(c, env, name)
    wait_console(c, name, r"ferrostack-guest: ready")
    snap = unique("snap")
    c.os("server", "image", "create", "--name", snap, "--wait", name)
    img = c.os("image", "show", snap, "-f", "json")
    assert img["status"] == "active" and img["disk_format"] == "qcow2"
    clone = unique("clone")
    s = boot(c, env, clone, "--config-drive", "true", image=img["id"])
    out = wait_console(c, clone, r"ferrostack-guest: ready")
    assert f"ferrostack-guest: uuid={s['id']}" in out
    for n in (name, clone):
        c.os("server", "delete", "--wait", n)


def test_rebuild_and_resize(qcloud, env):
    c = qcloud
    name = unique("rs")
    s = boot(c, env, name, "--config-drive", "true")
    wait_console(c, name, r"ferrostack-guest: ready")
    c.os("server", "rebuild", "--image", env["image"], "--wait", name)
    wait_console(c, name, r"ferrostack-guest: ready", count=2)
    c.os("server", "resize", "--flavor", env["small"], "--wait", name)
    wait_status(c, name, "VERIFY_RESIZE")
    disk = os.path.join(instances_dir(c), s["id"], "disk")
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", disk],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["virtual-size"] == 2 << 30
    with open(f"/proc/{qemu_pids(s['id'])[0]}/cmdline") as f:
        argv = f.read().split("\0")
    assert argv[argv.index("-m") + 1].startswith("192"), argv
    wait_console(c, name, r"ferrostack-guest: ready", count=3)
    c.os("server", "resize", "revert", name)
    wait_status(c, name, "ACTIVE")
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", disk],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["virtual-size"] == 1 << 30
    c.os("server", "delete", "--wait", name)


def test_ami_kernel_ramdisk_boot(qcloud, env, guest_files):
    c = qcloud
    aki = c.os("image", "create", "--disk-format", "aki", "--container-format", "aki",
               "--file", guest_files["vmlinuz"], unique("aki"), "-f", "json")
    ari = c.os("image", "create", "--disk-format", "ari", "--container-format", "ari",
               "--file", guest_files["initrd.img"], unique("ari"), "-f", "json")
    root = os.path.join(c.workdir, "root.img")
    with open(root, "wb") as f:
        f.truncate(8 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", root], check=True)
    ami = c.os("image", "create", "--disk-format", "ami", "--container-format", "ami",
               "--file", root, "--property", f"kernel_id={aki['id']}",
               "--property", f"ramdisk_id={ari['id']}", unique("ami"), "-f", "json")
    name = unique("ami")
    boot(c, env, name, image=ami["id"])
    out = wait_console(c, name, r"ferrostack-guest: ready")
    # booted by QEMU's -kernel/-initrd with nova's command line
    assert re.search(r"Kernel command line: .*console=ttyS0", out), out[-3000:]
    c.os("server", "delete", "--wait", name)


def test_unbootable_image_goes_error_and_leaves_nothing(qcloud, env):
    c = qcloud
    junk = os.path.join(c.workdir, "junk.img")
    with open(junk, "wb") as f:
        f.write(b"\0" * (1 << 20))
    img = c.os("image", "create", "--disk-format", "raw", "--container-format", "bare",
               "--file", junk, unique("junk"), "-f", "json")
    name = unique("bad")
    c.os("server", "create", "--image", img["id"], "--flavor", env["tiny"], "--nic", "none", name)
    s = wait_status(c, name, "ERROR")
    assert "not bootable" in json.dumps(s.get("fault")), s.get("fault")
    assert qemu_pids(s["id"]) == []
    assert not os.path.exists(os.path.join(instances_dir(c), s["id"]))
    c.os("server", "delete", "--wait", name)


def test_flavor_smaller_than_image_is_400(qcloud, env, guest_files):
    c = qcloud
    big = os.path.join(c.workdir, "big.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", big, "3G"], check=True)
    img = c.os("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
               "--file", big, unique("big"), "-f", "json")
    err = c.fails("server", "create", "--image", img["id"], "--flavor", env["tiny"],
                  "--nic", "none", unique("toobig"))
    assert "too small" in err


def test_guests_survive_agent_restart(qcloud, env):
    c = qcloud
    names = [unique("keep") for _ in range(2)]
    ids = []
    for n in names:
        c.os("server", "create", "--image", env["image"], "--flavor", env["tiny"],
             "--nic", "none", n)
    for n in names:
        ids.append(wait_status(c, n, "ACTIVE")["id"])
    pids = {i: qemu_pids(i) for i in ids}
    assert all(len(p) == 1 for p in pids.values())
    c.stop()
    assert {i: qemu_pids(i) for i in ids} == pids  # guests outlive the process
    c.start()
    time.sleep(5)
    for n, i in zip(names, ids):
        s = c.os("server", "show", n, "-f", "json")
        assert s["status"] == "ACTIVE", s
        assert qemu_pids(i) == pids[i]
    # still controllable
    c.os("server", "stop", names[0])
    wait_status(c, names[0], "SHUTOFF")
    assert qemu_pids(ids[0]) == []
    for n in names:
        c.os("server", "delete", "--wait", n)
    assert all(qemu_pids(i) == [] for i in ids)
    assert os.listdir(instances_dir(c)) in ([], ["_base"], ["_base", "snapshots"], ["snapshots", "_base"])


def test_delete_during_build_leaves_nothing(qcloud, env):
    c = qcloud
    name = unique("gone")
    s = c.os("server", "create", "--image", env["image"], "--flavor", env["tiny"],
             "--nic", "none", name, "-f", "json")
    c.os("server", "delete", "--wait", name)
    deadline = time.time() + 30
    while time.time() < deadline and (qemu_pids(s["id"]) or
                                      os.path.exists(os.path.join(instances_dir(c), s["id"]))):
        time.sleep(1)
    assert qemu_pids(s["id"]) == []
    assert not os.path.exists(os.path.join(instances_dir(c), s["id"]))


def test_crashed_qemu_becomes_shutoff_and_starts_again(qcloud, env):
    c = qcloud
    name = unique("crash")
    s = boot(c, env, name)
    os.kill(qemu_pids(s["id"])[0], 9)
    wait_status(c, name, "SHUTOFF", timeout=90)
    events = c.os("server", "event", "list", name, "-f", "json")
    assert any(e["Action"] == "stop" for e in events), events
    c.os("server", "start", name)
    wait_status(c, name, "ACTIVE")
    assert len(qemu_pids(s["id"])) == 1
    c.os("server", "delete", "--wait", name)


def test_shelve_paused_guest_and_unshelve(qcloud, env):
    c = qcloud
    name = unique("shelf")
    s = boot(c, env, name)
    wait_console(c, name, r"ferrostack-guest: ready")
    c.os("server", "pause", name)
    wait_status(c, name, "PAUSED")
    # a paused guest cannot answer the ACPI button: shelving must not wait for it (the
    # cloud's shutdown_timeout is an hour)
    c.os("server", "shelve", name)
    wait_status(c, name, "SHELVED_OFFLOADED")
    assert qemu_pids(s["id"]) == []
    assert not os.path.exists(os.path.join(instances_dir(c), s["id"]))
    shelved = c.os("server", "show", name, "-f", "json")
    assert shelved["OS-EXT-SRV-ATTR:host"] in (None, "")
    # unshelve boots the guest again from the shelved snapshot
    c.os("server", "unshelve", name)
    wait_status(c, name, "ACTIVE")
    assert len(qemu_pids(s["id"])) == 1
    wait_console(c, name, r"ferrostack-guest: ready")
    c.os("server", "delete", "--wait", name)
    assert qemu_pids(s["id"]) == []
