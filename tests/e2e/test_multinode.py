"""Several compute hosts over RabbitMQ: a controller (`aio` without its local agent)
and three `ferrostack serve compute-agent` processes with their own host names, all on
a vhost of a real rabbitmq-server made for this test. Needs FERROSTACK_TEST_RABBIT_URL
(scripts/test-all sets it from scripts/rabbitmq.sh)."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

import pytest
import requests

from conftest import BINARY, DB_URL, Cloud, unique

RABBIT = os.environ.get("FERROSTACK_TEST_RABBIT_URL")

pytestmark = pytest.mark.skipif(not RABBIT, reason="FERROSTACK_TEST_RABBIT_URL is not set")


def rabbitmqctl(*args):
    cmd = ["rabbitmqctl", "-q", *args]
    if os.geteuid() != 0:
        cmd = ["sudo", "-n", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def vhost_url():
    vhost = unique("ferrostack-e2e")
    rabbitmqctl("add_vhost", vhost)
    u = urllib.parse.urlsplit(RABBIT)
    rabbitmqctl("set_permissions", "-p", vhost, u.username or "guest", ".*", ".*", ".*")
    url = urllib.parse.urlunsplit(("rabbit", u.netloc, "/" + urllib.parse.quote(vhost, safe=""),
                                   "", ""))
    yield url
    rabbitmqctl("delete_vhost", vhost)


class Agent:
    def __init__(self, cloud, host, url):
        self.host = host
        self.dir = os.path.join(cloud.workdir, host)
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(cloud.data_dir, "service-password")) as f:
            password = f.read().strip()
        self.conf = os.path.join(self.dir, "agent.conf")
        with open(self.conf, "w") as f:
            f.write(f"[DEFAULT]\ntransport_url = {url}\nreport_interval = 2\n"
                    "sync_power_state_interval = 2\n")
            f.write(f"[keystone_authtoken]\nauth_url = {cloud.admin_env['OS_AUTH_URL']}\n"
                    f"username = ferrostack-service\npassword = {password}\n"
                    "project_name = service\n")
            f.write("[fake_driver]\nvcpus = 8\nmemory_mb = 8192\ndisk_gb = 100\n")
        self.log = open(os.path.join(self.dir, "agent.log"), "a")
        self.proc = subprocess.Popen(
            [BINARY, "--config", self.conf, "serve", "compute-agent", "--host", host,
             "--compute-driver", "fake", "--data-dir", self.dir],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module")
def cluster(vhost_url):
    workdir = tempfile.mkdtemp(prefix="ferrostack-multinode-")
    cloud = Cloud(workdir, DB_URL)
    cloud.start(env={"FERROSTACK_DEFAULT__TRANSPORT_URL": vhost_url,
                     "FERROSTACK_COMPUTE__LOCAL_AGENT": "false",
                     "FERROSTACK_DEFAULT__RPC_RESPONSE_TIMEOUT": "5"})
    agents = [Agent(cloud, f"node-{i}", vhost_url) for i in (1, 2, 3)]
    yield cloud, agents
    for a in agents:
        a.kill()
    cloud.stop()
    if os.environ.get("FERROSTACK_KEEP") != "1":
        shutil.rmtree(workdir, ignore_errors=True)


def wait_for(pred, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def computes(cloud):
    return {s["Host"]: s for s in cloud.os("compute", "service", "list", "--service",
                                           "nova-compute", "-f", "json")}


def test_three_agents_spread_and_a_dead_one_is_avoided(cluster):
    cloud, agents = cluster
    wait_for(lambda: len([s for s in computes(cloud).values() if s["State"] == "up"]) == 3,
             what="three compute services up")
    hyps = cloud.os("hypervisor", "list", "-f", "json")
    assert sorted(h["Hypervisor Hostname"] for h in hyps) == ["node-1", "node-2", "node-3"]
    flavor = unique("f")
    cloud.os("flavor", "create", "--vcpus", "1", "--ram", "64", "--disk", "1", flavor)
    path = os.path.join(cloud.workdir, "img")
    with open(path, "wb") as f:
        f.write(os.urandom(4096))
    image = cloud.os("image", "create", "--disk-format", "raw", "--container-format", "bare",
                     "--file", path, unique("img"), "-f", "json")["id"]

    # anti-affinity spreads three servers over the three hosts
    group = cloud.os("server", "group", "create", "--policy", "anti-affinity", unique("g"),
                     "-f", "json")["id"]
    hosts = []
    for _ in range(3):
        s = cloud.os("server", "create", "--flavor", flavor, "--image", image, "--nic", "none",
                     "--hint", f"group={group}", "--wait", unique("vm"), "-f", "json")
        assert s["status"] == "ACTIVE"
        hosts.append(s["OS-EXT-SRV-ATTR:host"])
    assert sorted(hosts) == ["node-1", "node-2", "node-3"]
    # a fourth member has nowhere to go
    p = cloud.os("server", "create", "--flavor", flavor, "--image", image, "--nic", "none",
                 "--hint", f"group={group}", "--wait", unique("vm"), check=False)
    assert p.returncode != 0

    # kill node-2's agent: a build sent there before it is seen down fails cleanly (the
    # host is forced, so there is no other host to retry on): ERROR with a fault,
    # nothing left allocated in placement
    victim = next(a for a in agents if a.host == "node-2")
    victim.kill()
    p = cloud.os("server", "create", "--flavor", flavor, "--image", image, "--nic", "none",
                 "--availability-zone", "nova:node-2", "--wait", unique("doomed"),
                 check=False)
    assert p.returncode != 0
    doomed = [x for x in cloud.os("server", "list", "--name", "doomed", "-f", "json")]
    assert len(doomed) == 1 and doomed[0]["Status"] == "ERROR"
    fault = cloud.os("server", "show", doomed[0]["ID"], "-f", "json")["fault"]
    assert "Exceeded maximum number of retries" in fault["message"], fault
    assert "timed out waiting for a reply from compute agent node-2" in fault["details"]
    tok = cloud.os("token", "issue", "-f", "value", "-c", "id").stdout.strip()
    r = requests.get(f"http://127.0.0.1:{cloud.placement_port}/allocations/{doomed[0]['ID']}",
                     headers={"X-Auth-Token": tok})
    assert r.json()["allocations"] == {}
    cloud.os("server", "delete", "--wait", doomed[0]["ID"])
    wait_for(lambda: computes(cloud)["node-2"]["State"] == "down", timeout=30,
             what="node-2 marked down")
    for _ in range(4):
        s = cloud.os("server", "create", "--flavor", flavor, "--image", image, "--nic", "none",
                     "--wait", unique("vm"), "-f", "json")
        assert s["status"] == "ACTIVE"
        assert s["OS-EXT-SRV-ATTR:host"] in ("node-1", "node-3")
    # cold migration (admin): to another live host, confirmed like a resize
    on1 = [x for x in cloud.os("server", "list", "--host", "node-1", "-f", "json")
           if x["Status"] == "ACTIVE"][0]["ID"]
    cloud.os("server", "migrate", "--wait", on1)
    moved = wait_for(lambda: (lambda s: s if s["status"] == "VERIFY_RESIZE" else None)(
        cloud.os("server", "show", on1, "-f", "json")), what="VERIFY_RESIZE")
    assert moved["OS-EXT-SRV-ATTR:host"] == "node-3"
    cloud.os("server", "resize", "confirm", on1)
    wait_for(lambda: cloud.os("server", "show", on1, "-f", "json")["status"] == "ACTIVE",
             what="ACTIVE after confirming")
    mig = cloud.os("server", "migration", "list", "--server", on1, "-f", "json")
    assert mig and mig[0]["Type"] == "migration" and mig[0]["Status"] == "confirmed"
    # placement saw all of it: usages on the live providers
    rps = {r["name"]: r["uuid"] for r in cloud.os("--os-placement-api-version", "1.39",
                                                 "resource", "provider", "list", "-f", "json")}
    used = 0
    for name in ("node-1", "node-3"):
        u = cloud.os("--os-placement-api-version", "1.39", "resource", "provider", "usage",
                     "show", rps[name], "-f", "json")
        used += {x["resource_class"]: x["usage"] for x in u}.get("VCPU", 0)
    assert used == 6  # two group members + four new servers
