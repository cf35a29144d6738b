"""Deferred deletes and offloads, on a cloud configured as an operator would for them:
`reclaim_instance_interval` (DELETE only soft-deletes; `server restore`, `server delete
--force`, reclaim after the interval) and a positive `shelved_offload_time` (shelved
servers leave their host later, by a periodic task). The real `openstack` CLI against
`ferrostack aio` with the fake driver, on its own SQLite data directory."""

import os
import shutil
import tempfile
import time

import pytest
import requests

from conftest import Cloud, public_test_image, unique
from test_compute import nova, token, wait_status

RECLAIM_S = 10
OFFLOAD_S = 5


@pytest.fixture(scope="module")
def dcloud():
    workdir = tempfile.mkdtemp(prefix="ferrostack-deferred-")
    c = Cloud(workdir, None, defaults=(
        f"reclaim_instance_interval = {RECLAIM_S}\n"
        f"shelved_offload_time = {OFFLOAD_S}\nshelved_poll_interval = 1\n"))
    c.start()
    yield c
    c.stop()
    if os.environ.get("FERROSTACK_KEEP") != "1":
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def ready(dcloud):
    flavor = unique("tiny")
    dcloud.os("flavor", "create", "--vcpus", "1", "--ram", "128", "--disk", "1", flavor)
    return {"flavor": flavor, "image": public_test_image(dcloud)}


def boot(c, ready):
    return c.os("server", "create", "--flavor", ready["flavor"], "--image", ready["image"],
                "--nic", "none", "--wait", unique("vm"), "-f", "json")


def allocations(c, sid):
    r = requests.get(f"http://127.0.0.1:{c.placement_port}/allocations/{sid}",
                     headers={"X-Auth-Token": token(c)})
    return r.json()["allocations"]


def wait_gone(c, sid, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        p = c.os("server", "show", sid, check=False)
        if p.returncode != 0:
            assert "No Server found" in p.stderr, p.stderr
            return
        time.sleep(0.5)
    raise AssertionError(f"{sid} still exists after {timeout} s")


def names(c, *args):
    return {s["ID"] for s in c.os("server", "list", *args, "-f", "json")}


def test_soft_delete_restore_and_force_delete(dcloud, ready):
    c = dcloud
    sid = boot(c, ready)["id"]
    c.os("server", "delete", sid)
    soft = wait_status(c, sid, "SOFT_DELETED")
    assert soft["OS-EXT-STS:power_state"] == 4  # shutdown
    assert soft["OS-EXT-STS:vm_state"] == "soft-delete"
    # Kept with its resources, listed with the deleted servers only (as nova).
    assert allocations(c, sid)
    assert sid not in names(c)
    assert sid in names(c, "--deleted")
    # It no longer counts against the quota.
    tok = token(c)
    used = nova(c, "GET", "/limits", tok).json()["limits"]["absolute"]["totalInstancesUsed"]
    assert used == 0

    c.os("server", "restore", sid)
    back = wait_status(c, sid, "ACTIVE")
    assert back["OS-EXT-STS:power_state"] == 1  # running
    assert sid in names(c)
    actions = [e["Action"] for e in c.os("server", "event", "list", sid, "-f", "json")]
    assert actions[:2] == ["restore", "delete"]

    # Restoring a server that is not soft-deleted is a conflict.
    r = nova(c, "POST", f"/servers/{sid}/action", tok, {"restore": None})
    assert r.status_code == 409
    assert r.json()["conflictingRequest"]["message"] == (
        f"Cannot 'restore' instance {sid} while it is in vm_state active")

    c.os("server", "delete", sid)
    wait_status(c, sid, "SOFT_DELETED")
    c.os("server", "delete", "--force", sid)
    wait_gone(c, sid, 30)
    assert allocations(c, sid) == {}


def test_soft_deleted_server_is_reclaimed(dcloud, ready):
    c = dcloud
    sid = boot(c, ready)["id"]
    c.os("server", "delete", sid)
    wait_status(c, sid, "SOFT_DELETED")
    # Still there right after: the periodic reclaim waits for the interval to pass.
    assert c.os("server", "show", sid, "-f", "json")["status"] == "SOFT_DELETED"
    wait_gone(c, sid, RECLAIM_S * 2 + 30)
    assert allocations(c, sid) == {}


def test_restore_over_quota_is_refused(dcloud, ready):
    c = dcloud
    proj, user = unique("proj"), unique("user")
    c.os("project", "create", proj)
    c.os("user", "create", "--project", proj, "--password", "pw", user)
    c.os("role", "add", "--project", proj, "--user", user, "member")
    as_ = {"project_name": proj, "username": user, "password": "pw",
           "project_domain_name": "Default", "user_domain_name": "Default"}
    first = c.os("server", "create", "--flavor", ready["flavor"], "--image", ready["image"],
                 "--nic", "none", "--wait", unique("vm"), "-f", "json", as_=as_)["id"]
    # The raw API from here: all of it must happen before the reclaim.
    member, admin = token(c, **as_), token(c)
    pid = c.os("project", "show", proj, "-f", "value", "-c", "id").stdout.strip()
    assert nova(c, "DELETE", f"/servers/{first}", member).status_code == 204
    deadline = time.time() + RECLAIM_S / 2
    while nova(c, "GET", f"/servers/{first}", member).json()["server"]["status"] != "SOFT_DELETED":
        assert time.time() < deadline, "not soft-deleted in time"
        time.sleep(0.1)
    # Soft-deleted, it no longer counts: the project may now hold no server at all.
    r = nova(c, "PUT", f"/os-quota-sets/{pid}", admin, {"quota_set": {"instances": 0}})
    assert r.status_code == 200, r.text
    r = nova(c, "POST", f"/servers/{first}/action", member, {"restore": None})
    assert r.status_code == 403
    assert r.json()["forbidden"]["message"].startswith("Quota exceeded for instances")
    assert c.os("server", "show", first, "-f", "json", as_=as_)["status"] == "SOFT_DELETED"
    c.os("server", "delete", "--force", first, as_=as_)
    wait_gone(c, first, 30)


def test_shelved_server_offloaded_later_and_its_image_deleted_with_it(dcloud, ready):
    c = dcloud
    s = boot(c, ready)
    sid = s["id"]
    c.os("server", "shelve", sid)
    shelved = wait_status(c, sid, "SHELVED", timeout=OFFLOAD_S)
    assert shelved["OS-EXT-SRV-ATTR:host"]
    assert allocations(c, sid)
    # The periodic task offloads it once shelved for shelved_offload_time.
    off = wait_status(c, sid, "SHELVED_OFFLOADED", timeout=OFFLOAD_S + 30)
    assert not off.get("OS-EXT-SRV-ATTR:host")
    assert allocations(c, sid) == {}
    image = f"{s['name']}-shelved"
    assert [i for i in c.os("image", "list", "-f", "json") if i["Name"] == image]
    # Offloaded: nothing to power off, so DELETE deletes for good, and the shelved
    # image goes with the server.
    c.os("server", "delete", sid)
    wait_gone(c, sid, 30)
    assert not [i for i in c.os("image", "list", "-f", "json") if i["Name"] == image]
