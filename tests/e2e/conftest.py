"""Fixtures: a real `ferrostack aio` on free ports, driven by the real OpenStack clients."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("FERROSTACK_BIN", os.path.join(ROOT, "target", "debug", "ferrostack"))
# Database for the identity service: unset = SQLite in the data directory.
DB_URL = os.environ.get("FERROSTACK_TEST_DB_URL") or None
VENV_BIN = os.path.dirname(os.path.abspath(os.sys.executable))


# Suites that run side by side (scripts/test-all) each get their own block of ports below
# the kernel's ephemeral range, so one suite's cloud never takes a port another suite just
# probed, and no client connection is ever given one of them. Unset: any free port.
_PORT_BASE = int(os.environ.get("FERROSTACK_TEST_PORT_BASE") or "0")
_PORT_BLOCK = 2000
_next_port = _PORT_BASE


def free_port():
    global _next_port
    if not _PORT_BASE:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    for _ in range(_PORT_BLOCK):
        port = _next_port
        _next_port = _PORT_BASE + (_next_port + 1 - _PORT_BASE) % _PORT_BLOCK
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_PORT_BASE}..{_PORT_BASE + _PORT_BLOCK}")


def read_openrc(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("export "):
                k, v = line[len("export "):].split("=", 1)
                env[k] = v.strip("'\"")
    return env


class CliError(Exception):
    def __init__(self, args, rc, out, err):
        super().__init__(f"openstack {' '.join(args)} -> rc={rc}\n{err}")
        self.rc, self.out, self.err = rc, out, err


class Cloud:
    """One `ferrostack aio` process with its own data directory and ports."""

    def __init__(self, workdir, db_url=None, compute_driver="fake", extra_conf="", defaults=""):
        self.workdir = workdir
        self.data_dir = os.path.join(workdir, "data")
        self.port = free_port()
        self.image_port = free_port()
        self.placement_port = free_port()
        self.compute_port = free_port()
        self.metadata_port = free_port()
        self.novnc_port = free_port()
        self.serial_port = free_port()
        self.conf = os.path.join(workdir, "ferrostack.conf")
        with open(self.conf, "w") as f:
            f.write("[DEFAULT]\nbind_host = 127.0.0.1\n")
            f.write(f"compute_driver = {compute_driver}\n")
            # quick heartbeats and power-state sync for the compute tests
            f.write("report_interval = 2\nservice_down_time = 6\nsync_power_state_interval = 2\n")
            f.write(defaults)  # more [DEFAULT] options
            f.write(f"[identity]\nbind_port = {self.port}\npassword_hash_rounds = 4\n")
            f.write(f"[image]\nbind_port = {self.image_port}\n")
            f.write("enabled_backends = fast:file, cheap:file\n")
            f.write(f"image_cache_dir = {os.path.join(workdir, 'image-cache')}\n")
            if db_url:
                f.write(f"connection = {db_url}\n")
                f.write(f"[database]\nconnection = {db_url}\n")
            f.write(f"[placement]\nbind_port = {self.placement_port}\n")
            if db_url:
                f.write(f"connection = {db_url}\n")
            f.write(f"[metadata]\nbind_port = {self.metadata_port}\n")
            f.write(f"[novncproxy]\nbind_port = {self.novnc_port}\n")
            f.write(f"[serialproxy]\nbind_port = {self.serial_port}\n")
            f.write(f"[compute]\nbind_port = {self.compute_port}\n")
            if db_url:
                f.write(f"connection = {db_url}\n")
            # the web-download test serves its image from loopback
            f.write("[import_filtering_opts]\nallow_private_addresses = true\n")
            f.write(extra_conf)
        self.proc = None
        self.log_path = os.path.join(workdir, "aio.log")

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=60, env=None):
        """Start `aio`; `env` adds FERROSTACK_<SECTION>__<OPTION> overrides."""
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [BINARY, "--config", self.conf, "aio", "--data-dir", self.data_dir],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **(env or {})})
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ferrostack exited early:\n{open(self.log_path).read()}")
            try:
                with urllib.request.urlopen(self.base + "/v3", timeout=2) as r:
                    if r.status == 200 and os.path.exists(os.path.join(self.data_dir, "admin-openrc")):
                        break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("ferrostack did not answer on /v3 in time")
        self.admin_env = read_openrc(os.path.join(self.data_dir, "admin-openrc"))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def env_for(self, **auth):
        """Client environment: the admin's, with OS_* overrides (None removes a variable)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(self.admin_env)
        for k, v in auth.items():
            key = "OS_" + k.upper()
            if v is None:
                env.pop(key, None)
            else:
                env[key] = v
        return env

    def os(self, *args, as_=None, check=True):
        """Run the real `openstack` CLI; parse JSON output when asked for with -f json."""
        env = self.env_for(**(as_ or {}))
        cmd = [os.path.join(VENV_BIN, "openstack"), *args]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise CliError(args, p.returncode, p.stdout, p.stderr)
        if p.returncode == 0 and "-f" in args and "json" in args and p.stdout.strip():
            return json.loads(p.stdout)
        return p

    def fails(self, *args, as_=None):
        """Run a command that must fail; return its stderr."""
        p = self.os(*args, as_=as_, check=False)
        assert p.returncode != 0, f"expected failure: openstack {' '.join(args)}\n{p.stdout}"
        return p.stderr


@pytest.fixture(scope="session")
def cloud():
    if not os.path.exists(BINARY):
        pytest.exit(f"{BINARY} not built (cargo build -p ferrostack)", 2)
    workdir = tempfile.mkdtemp(prefix="ferrostack-e2e-")
    c = Cloud(workdir, DB_URL)
    c.start()
    yield c
    c.stop()
    if os.environ.get("FERROSTACK_KEEP") != "1":
        shutil.rmtree(workdir, ignore_errors=True)


def unique(prefix):
    return f"{prefix}-{os.urandom(4).hex()}"


def public_test_image(cloud):
    """A small public raw image of random bytes (the fake driver boots anything)."""
    path = os.path.join(cloud.workdir, "guest.img")
    with open(path, "wb") as f:
        f.write(os.urandom(64 * 1024))
    return cloud.os("image", "create", "--disk-format", "raw", "--container-format", "bare",
                    "--file", path, "--public", unique("img"), "-f", "json")["id"]
