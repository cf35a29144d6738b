"""Compute end to end: the real `openstack` CLI (with osc-placement) and openstacksdk
against `ferrostack aio` with the fake driver."""

import base64
import os
import subprocess
import time

import openstack
import pytest
import requests

from conftest import public_test_image, unique

PV = ("--os-placement-api-version", "1.39")


def compute_url(cloud):
    return f"http://127.0.0.1:{cloud.compute_port}/v2.1"


def token(cloud, **as_):
    return cloud.os("token", "issue", "-f", "value", "-c", "id", as_=as_ or None).stdout.strip()


def nova(cloud, method, path, tok, body=None, version="2.96"):
    """A raw compute API request (for status codes and bodies the CLI hides)."""
    h = {"X-Auth-Token": tok, "OpenStack-API-Version": f"compute {version}"}
    return requests.request(method, compute_url(cloud) + path, json=body, headers=h)


def wait_status(cloud, server, want, timeout=60, as_=None):
    deadline = time.time() + timeout
    s = None
    while time.time() < deadline:
        s = cloud.os("server", "show", server, "-f", "json", as_=as_)
        if s["status"] == want and not s.get("OS-EXT-STS:task_state"):
            return s
        time.sleep(0.3)
    raise AssertionError(f"{server} did not reach {want}: {s and s['status']}")


@pytest.fixture(scope="module")
def setup(cloud):
    """A flavor, a small flavor, an image and a keypair shared by the tests."""
    tiny = unique("tiny")
    small = unique("small")
    cloud.os("flavor", "create", "--vcpus", "1", "--ram", "128", "--disk", "1", tiny)
    cloud.os("flavor", "create", "--vcpus", "2", "--ram", "256", "--disk", "2", small)
    image = public_test_image(cloud)
    key = unique("key")
    private = cloud.os("keypair", "create", key).stdout
    assert "PRIVATE KEY" in private
    return {"tiny": tiny, "small": small, "image": image, "key": key}


def boot(cloud, setup, name=None, *extra, flavor=None, as_=None):
    return cloud.os("server", "create", "--flavor", flavor or setup["tiny"],
                    "--image", setup["image"], "--nic", "none", "--wait",
                    *extra, name or unique("vm"), "-f", "json", as_=as_)


def test_catalog_services_hypervisors_zones(cloud):
    services = cloud.os("catalog", "list", "-f", "json")
    assert any(s["Type"] == "compute" for s in services)
    svc = cloud.os("compute", "service", "list", "-f", "json")
    assert sorted(s["Binary"] for s in svc) == ["nova-compute", "nova-conductor", "nova-scheduler"]
    assert all(s["State"] == "up" and s["Status"] == "enabled" for s in svc)
    hyp = cloud.os("hypervisor", "list", "-f", "json")
    assert len(hyp) == 1 and hyp[0]["Hypervisor Type"] == "fake"
    shown = cloud.os("hypervisor", "show", hyp[0]["ID"], "-f", "json")
    assert shown["hypervisor_type"] == "fake" and shown["state"] == "up"
    old = cloud.os("--os-compute-api-version", "2.87", "hypervisor", "show", hyp[0]["ID"],
                   "-f", "json")
    assert old["vcpus"] > 0 and old["memory_mb"] > 0
    zones = cloud.os("availability", "zone", "list", "--compute", "-f", "json")
    assert sorted({z["Zone Name"] for z in zones}) == ["internal", "nova"]  # detail, as nova
    r = requests.get(compute_url(cloud))
    v = r.json()["version"]
    assert v["min_version"] == "2.1" and v["version"] == "2.96"
    assert requests.get(compute_url(cloud) + "/").json()["version"] == v


def test_placement_sees_the_compute_node(cloud):
    rps = cloud.os(*PV, "resource", "provider", "list", "-f", "json")
    hyp = cloud.os("hypervisor", "list", "-f", "json")[0]
    node = next(r for r in rps if r["uuid"] == hyp["ID"])
    inv = cloud.os(*PV, "resource", "provider", "inventory", "list", node["uuid"], "-f", "json")
    classes = {i["resource_class"]: i for i in inv}
    assert set(classes) >= {"VCPU", "MEMORY_MB", "DISK_GB"}
    assert float(classes["VCPU"]["allocation_ratio"]) == 4.0
    cands = cloud.os(*PV, "allocation", "candidate", "list",
                     "--resource", "VCPU=1", "--resource", "MEMORY_MB=128", "-f", "json")
    assert any(c["resource provider"] == node["uuid"] for c in cands)


def test_flavors_and_keypairs(cloud, setup):
    f = cloud.os("flavor", "show", setup["small"], "-f", "json")
    assert f["vcpus"] == 2 and f["ram"] == 256
    cloud.os("flavor", "set", "--property", "hw:cpu_policy=shared", setup["small"])
    f = cloud.os("flavor", "show", setup["small"], "-f", "json")
    assert f["properties"] == {"hw:cpu_policy": "shared"}
    private = unique("private")
    cloud.os("flavor", "create", "--private", "--vcpus", "1", "--ram", "64", private)
    demo = project_member(cloud)
    names = [x["Name"] for x in cloud.os("flavor", "list", "-f", "json", as_=demo)]
    assert private not in names
    cloud.os("flavor", "set", "--project", demo["project_name"], private)
    names = [x["Name"] for x in cloud.os("flavor", "list", "--all", "-f", "json", as_=demo)]
    assert private in names
    cloud.os("flavor", "delete", private)
    # imported key
    pub = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                          os.path.join(cloud.workdir, unique("id"))], capture_output=True)
    assert pub.returncode == 0
    keyfile = [p for p in os.listdir(cloud.workdir) if p.startswith("id-") and p.endswith(".pub")][0]
    name = unique("imported")
    k = cloud.os("keypair", "create", "--public-key", os.path.join(cloud.workdir, keyfile),
                 name, "-f", "json")
    assert k["fingerprint"].count(":") == 15
    assert name in [x["Name"] for x in cloud.os("keypair", "list", "-f", "json")]
    err = cloud.fails("keypair", "create", "--public-key", os.path.join(cloud.workdir, keyfile), name)
    assert "already exists" in err
    cloud.os("keypair", "delete", name)


_member = {}


def project_member(cloud):
    """A project with a member user (created once)."""
    if not _member:
        proj = unique("proj")
        user = unique("user")
        cloud.os("project", "create", proj)
        cloud.os("user", "create", "--password", "secret", "--project", proj, user)
        cloud.os("role", "add", "--user", user, "--project", proj, "member")
        _member.update({"project_name": proj, "username": user, "password": "secret",
                        "project_domain_name": "Default", "user_domain_name": "Default"})
    return dict(_member)


def test_server_create_show_list_with_everything(cloud, setup):
    ud = os.path.join(cloud.workdir, "ud.txt")
    with open(ud, "w") as f:
        f.write("#!/bin/sh\necho hello\n")
    name = unique("full")
    s = boot(cloud, setup, name, "--key-name", setup["key"], "--property", "role=web",
             "--user-data", ud, "--availability-zone", "nova")
    assert s["status"] == "ACTIVE"
    assert s["OS-EXT-STS:power_state"] in (1, "Running")
    assert s["key_name"] == setup["key"]
    assert s["properties"] == {"role": "web"}
    assert s["OS-EXT-AZ:availability_zone"] == "nova"
    assert s["flavor"]["name"] == setup["tiny"] if isinstance(s["flavor"], dict) else True
    tok = token(cloud)
    raw = nova(cloud, "GET", f"/servers/{s['id']}", tok).json()["server"]
    assert base64.b64decode(raw["OS-EXT-SRV-ATTR:user_data"]).startswith(b"#!/bin/sh")
    assert raw["OS-EXT-SRV-ATTR:host"]
    listed = cloud.os("server", "list", "--name", name, "-f", "json")
    assert [x["ID"] for x in listed] == [s["id"]]
    assert cloud.os("server", "list", "--name", "^nothing-like-this$", "-f", "json") == []
    actives = cloud.os("server", "list", "--status", "ACTIVE", "-f", "json")
    assert s["id"] in [x["ID"] for x in actives]
    events = cloud.os("server", "event", "list", s["id"], "-f", "json")
    assert [e["Action"] for e in events] == ["create"]
    log = cloud.os("console", "log", "show", s["id"]).stdout
    assert s["id"] in log
    cloud.os("server", "delete", "--wait", s["id"])
    assert cloud.os("server", "list", "--name", name, "-f", "json") == []


def test_multiple_create(cloud, setup):
    prefix = unique("multi")
    cloud.os("server", "create", "--flavor", setup["tiny"], "--image", setup["image"],
             "--nic", "none", "--min", "2", "--max", "3", "--wait", prefix)
    servers = cloud.os("server", "list", "--name", prefix, "-f", "json")
    assert len(servers) == 3
    assert all(x["Status"] == "ACTIVE" for x in servers)
    assert sorted(x["Name"] for x in servers) == [f"{prefix}-{i}" for i in (1, 2, 3)]
    cloud.os("server", "delete", "--wait", *[x["ID"] for x in servers])


def test_lifecycle_actions(cloud, setup):
    s = boot(cloud, setup)
    sid = s["id"]
    for action, status in [("stop", "SHUTOFF"), ("start", "ACTIVE"), ("pause", "PAUSED"),
                           ("unpause", "ACTIVE"), ("suspend", "SUSPENDED"),
                           ("resume", "ACTIVE")]:
        cloud.os("server", action, sid)
        wait_status(cloud, sid, status)
    cloud.os("server", "reboot", "--hard", "--wait", sid)
    wait_status(cloud, sid, "ACTIVE")
    # the wrong state: 409 with nova's message
    cloud.os("server", "stop", sid)
    wait_status(cloud, sid, "SHUTOFF")
    err = cloud.fails("server", "stop", sid)
    assert f"Cannot 'stop' instance {sid} while it is in vm_state stopped" in err
    cloud.os("server", "start", sid)
    wait_status(cloud, sid, "ACTIVE")
    # lock: a member of the project could not act on it; the admin still can
    cloud.os("server", "lock", sid)
    assert cloud.os("server", "show", sid, "-f", "json")["locked"] is True
    cloud.os("server", "unlock", sid)
    # admin password through the driver
    r = nova(cloud, "POST", f"/servers/{sid}/action", token(cloud),
             {"changePassword": {"adminPass": "n3w-secret"}})
    assert r.status_code == 202, r.text
    assert "admin password changed" in cloud.os("console", "log", "show", sid).stdout
    # one host only: cold migration has nowhere to go
    host = cloud.os("server", "show", sid, "-f", "json")["OS-EXT-SRV-ATTR:host"]
    cloud.os("server", "migrate", "--wait", sid)
    back = wait_status(cloud, sid, "ACTIVE")
    assert back["OS-EXT-SRV-ATTR:host"] == host
    mig = cloud.os("server", "migration", "list", "--server", sid, "-f", "json")
    assert mig[0]["Type"] == "migration" and mig[0]["Status"] == "error"
    req = [e for e in cloud.os("server", "event", "list", sid, "-f", "json")
           if e["Action"] == "migrate"][0]["Request ID"]
    ev = cloud.os("server", "event", "show", sid, req, "-f", "json")
    assert "No valid host" in str(ev["events"])
    # rebuild
    cloud.os("server", "rebuild", "--image", setup["image"], "--wait", sid)
    wait_status(cloud, sid, "ACTIVE")
    # resize + revert, resize + confirm
    cloud.os("server", "resize", "--flavor", setup["small"], "--wait", sid)
    wait_status(cloud, sid, "VERIFY_RESIZE")
    cloud.os("server", "resize", "revert", sid)
    s = wait_status(cloud, sid, "ACTIVE")
    assert s["flavor"]["name"] == setup["tiny"]
    cloud.os("server", "resize", "--flavor", setup["small"], "--wait", sid)
    wait_status(cloud, sid, "VERIFY_RESIZE")
    cloud.os("server", "resize", "confirm", sid)
    s = wait_status(cloud, sid, "ACTIVE")
    assert s["flavor"]["name"] == setup["small"]
    # shelve / unshelve
    cloud.os("server", "shelve", sid)
    deadline = time.time() + 30
    while cloud.os("server", "show", sid, "-f", "json")["status"] not in (
            "SHELVED", "SHELVED_OFFLOADED") and time.time() < deadline:
        time.sleep(0.3)
    cloud.os("server", "unshelve", sid)
    wait_status(cloud, sid, "ACTIVE")
    # snapshot through the image service
    snap = unique("snap")
    cloud.os("server", "image", "create", "--name", snap, "--wait", sid)
    img = cloud.os("image", "show", snap, "-f", "json")
    assert img["status"] == "active"
    assert img["properties"]["instance_uuid"] == sid
    actions = [e["Action"] for e in cloud.os("server", "event", "list", sid, "-f", "json")]
    for a in ("create", "stop", "start", "pause", "reboot", "rebuild", "resize",
              "confirmResize", "revertResize", "shelve", "unshelve", "createImage"):
        assert a in actions, a
    cloud.os("server", "delete", "--wait", sid)
    cloud.os("image", "delete", snap)


def test_server_groups_anti_affinity_on_one_host(cloud, setup):
    g = cloud.os("server", "group", "create", "--policy", "anti-affinity", unique("grp"),
                 "-f", "json")
    assert g["policy"] == "anti-affinity"
    first = boot(cloud, setup, None, "--hint", f"group={g['id']}")
    assert first["status"] == "ACTIVE"
    # one host only: the second member has nowhere to go
    p = cloud.os("server", "create", "--flavor", setup["tiny"], "--image", setup["image"],
                 "--nic", "none", "--hint", f"group={g['id']}", "--wait", unique("vm"),
                 check=False)
    assert p.returncode != 0
    second = [x for x in cloud.os("server", "list", "-f", "json")
              if x["Status"] == "ERROR"]
    assert second
    shown = cloud.os("server", "show", second[0]["ID"], "-f", "json")
    assert "No valid host was found" in shown["fault"]["message"]
    members = cloud.os("server", "group", "show", g["id"], "-f", "json")["members"]
    assert first["id"] in members
    cloud.os("server", "delete", "--wait", first["id"], second[0]["ID"])
    # the failed build left no allocation behind
    tok = token(cloud)
    r = requests.get(f"http://127.0.0.1:{cloud.placement_port}/allocations/{second[0]['ID']}",
                     headers={"X-Auth-Token": tok})
    assert r.json()["allocations"] == {}
    cloud.os("server", "group", "delete", g["id"])


def test_quotas_limits_usage(cloud, setup):
    demo = project_member(cloud)
    proj = demo["project_name"]
    cloud.os("quota", "set", "--instances", "1", "--cores", "4", proj)
    q = cloud.os("quota", "show", proj, "-f", "json")
    q = {x["Resource"]: x["Limit"] for x in q} if isinstance(q, list) else q
    assert q["instances"] == 1 and q["cores"] == 4
    s = boot(cloud, setup, None, as_=demo)
    limits = cloud.os("limits", "show", "--absolute", "-f", "json", as_=demo)
    got = {x["Name"]: x["Value"] for x in limits}
    assert got["instances"] == 1 and got["instances_used"] == 1
    raw = nova(cloud, "GET", "/limits", token(cloud, **demo)).json()["limits"]["absolute"]
    assert raw["maxTotalInstances"] == 1 and raw["totalInstancesUsed"] == 1
    p = cloud.os("server", "create", "--flavor", setup["tiny"], "--image", setup["image"],
                 "--nic", "none", unique("over"), as_=demo, check=False)
    assert p.returncode != 0
    assert "Quota exceeded for instances" in p.stderr and "403" in p.stderr
    # the admin sees the project's server, another member does not see the admin's
    assert s["id"] in [x["ID"] for x in cloud.os("server", "list", "--all-projects", "-f", "json")]
    mine = boot(cloud, setup)
    assert mine["id"] not in [x["ID"] for x in cloud.os("server", "list", "-f", "json", as_=demo)]
    err = cloud.fails("server", "show", mine["id"], as_=demo)
    assert "No Server found" in err or "No server with a name or ID" in err
    usage = cloud.os("usage", "list", "-f", "json")
    assert any(u["Project"] for u in usage)
    cloud.os("server", "delete", "--wait", s["id"], as_=demo)
    cloud.os("server", "delete", "--wait", mine["id"])


def test_bad_input(cloud, setup):
    tok = token(cloud)
    body = {"server": {"name": "x", "flavorRef": "no-such-flavor", "imageRef": setup["image"],
                       "networks": "none"}}
    r = nova(cloud, "POST", "/servers", tok, body)
    assert r.status_code == 400 and "badRequest" in r.json()
    body["server"]["flavorRef"] = setup["tiny"]
    body["server"]["imageRef"] = "00000000-0000-0000-0000-000000000000"
    r = nova(cloud, "POST", "/servers", tok, body)
    assert r.status_code == 400, r.text
    big = cloud.os("image", "create", "--disk-format", "raw", "--container-format", "bare",
                   "--min-disk", "50", unique("big"), "-f", "json")
    err = cloud.fails("server", "create", "--flavor", setup["tiny"], "--image", big["id"],
                      "--nic", "none", unique("vm"))
    assert "400" in err
    cloud.os("image", "delete", big["id"])
    r = nova(cloud, "GET", "/servers", tok, version="3.0")
    assert r.status_code == 406
    r = nova(cloud, "POST", "/servers", tok, {"server": {"name": ""}})
    assert r.status_code == 400 and r.json()["badRequest"]["code"] == 400
    r = nova(cloud, "GET", "/servers/does-not-exist", tok)
    assert r.status_code == 404 and "itemNotFound" in r.json()
    # nova matches method and path exactly: an empty id or another method is not found
    for method, path in [("GET", "/os-simple-tenant-usage/"), ("DELETE", "/images/"),
                         ("GET", "/servers/"), ("DELETE", "/servers")]:
        r = nova(cloud, method, path, tok)
        assert r.status_code == 404 and "itemNotFound" in r.json(), (method, path, r.text)
    # legacy URLs with the project id (catalogs registered as .../v2.1/$(project_id)s)
    project = cloud.os("token", "issue", "-f", "json")["project_id"]
    r = nova(cloud, "GET", f"/{project}/flavors", tok)
    assert r.status_code == 200 and "flavors" in r.json(), r.text
    r = nova(cloud, "GET", "/0123456789abcdef0123456789abcdef/flavors", tok)
    assert r.status_code == 400 and "doesn't match" in r.json()["badRequest"]["message"]
    r = nova(cloud, "POST", "/servers", tok, {"server": {"name": "x", "flavorRef": setup["tiny"],
                                                        "imageRef": setup["image"]}})
    assert r.status_code == 400  # networks is required since 2.37


def test_openstacksdk(cloud, setup):
    conn = openstack.connect(
        auth_url=cloud.admin_env["OS_AUTH_URL"], username="admin",
        password=cloud.admin_env["OS_PASSWORD"], project_name="admin",
        user_domain_name="Default", project_domain_name="Default",
        region_name=cloud.admin_env["OS_REGION_NAME"])
    flavor = conn.compute.find_flavor(setup["tiny"])
    server = conn.compute.create_server(name=unique("sdk"), flavor_id=flavor.id,
                                        image_id=setup["image"], networks="none",
                                        metadata={"a": "b"})
    server = conn.compute.wait_for_server(server, wait=60)
    assert server.status == "ACTIVE"
    assert conn.compute.get_server_metadata(server).metadata == {"a": "b"}
    conn.compute.stop_server(server)
    conn.compute.wait_for_server(server, status="SHUTOFF", wait=60)
    assert server.id in [s.id for s in conn.compute.servers(status="SHUTOFF")]
    rps = list(conn.placement.resource_providers())
    assert rps
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=60)


def test_power_sync_and_service_down(cloud, setup):
    """The agent's heartbeat keeps the service up; a forced-down service shows down."""
    svc = cloud.os("compute", "service", "list", "--service", "nova-compute", "-f", "json")[0]
    cloud.os("compute", "service", "set", "--down", svc["Host"], "nova-compute",
             "--os-compute-api-version", "2.11")
    svc2 = cloud.os("compute", "service", "list", "--service", "nova-compute", "-f", "json")[0]
    assert svc2["State"] == "down"
    cloud.os("compute", "service", "set", "--up", svc["Host"], "nova-compute",
             "--os-compute-api-version", "2.11")
    assert cloud.os("compute", "service", "list", "--service", "nova-compute",
                    "-f", "json")[0]["State"] == "up"
    cloud.os("compute", "service", "set", "--disable", "--disable-reason", "maint",
             svc["Host"], "nova-compute")
    p = cloud.os("server", "create", "--flavor", setup["tiny"], "--image", setup["image"],
                 "--nic", "none", "--wait", unique("vm"), check=False)
    assert p.returncode != 0
    cloud.os("compute", "service", "set", "--enable", svc["Host"], "nova-compute")
    for x in cloud.os("server", "list", "-f", "json"):
        if x["Status"] == "ERROR":
            cloud.os("server", "delete", "--wait", x["ID"])


def test_aggregates_zones_and_placement(cloud, setup):
    host = cloud.os("compute", "service", "list", "--service", "nova-compute",
                    "-f", "json")[0]["Host"]
    agg = cloud.os("aggregate", "create", "--zone", "zone-x", unique("agg"), "-f", "json")
    agg["id"] = str(agg["id"])
    cloud.os("aggregate", "add", "host", agg["id"], host)
    cloud.os("aggregate", "set", "--property", "ssd=true", agg["id"])
    shown = cloud.os("aggregate", "show", agg["id"], "-f", "json")
    assert shown["hosts"] == [host] and shown["properties"]["ssd"] == "true"
    zones = {z["Zone Name"] for z in cloud.os("availability", "zone", "list", "--compute",
                                                "-f", "json")}
    assert "zone-x" in zones
    s = boot(cloud, setup, None, "--availability-zone", "zone-x")
    assert s["OS-EXT-AZ:availability_zone"] == "zone-x"
    # the host's placement provider joined the aggregate
    node = cloud.os("hypervisor", "list", "-f", "json")[0]["ID"]
    aggs = cloud.os(*PV, "resource", "provider", "aggregate", "list", node, "-f", "json")
    assert shown["uuid"] in [a["uuid"] for a in aggs]
    err = cloud.fails("aggregate", "delete", agg["id"])
    assert "not empty" in err
    cloud.os("server", "delete", "--wait", s["id"])
    cloud.os("aggregate", "remove", "host", agg["id"], host)
    cloud.os("aggregate", "delete", agg["id"])
    zones = {z["Zone Name"] for z in cloud.os("availability", "zone", "list", "--compute",
                                                "-f", "json")}
    assert "zone-x" not in zones


def test_rescue_shelve_offload_backup(cloud, setup):
    s = boot(cloud, setup)
    sid = s["id"]
    cloud.os("server", "rescue", sid)
    wait_status(cloud, sid, "RESCUE")
    err = cloud.fails("server", "reboot", sid)
    assert "409" in err or "rescued" in err
    cloud.os("server", "unrescue", sid)
    wait_status(cloud, sid, "ACTIVE")
    # shelve: snapshot NAME-shelved, offloaded (no host, allocations released)
    cloud.os("server", "shelve", sid)
    off = wait_status(cloud, sid, "SHELVED_OFFLOADED")
    assert not off.get("OS-EXT-SRV-ATTR:host")
    shelved = [i for i in cloud.os("image", "list", "-f", "json")
               if i["Name"] == f"{s['name']}-shelved"]
    assert len(shelved) == 1
    tok = token(cloud)
    r = requests.get(f"http://127.0.0.1:{cloud.placement_port}/allocations/{sid}",
                     headers={"X-Auth-Token": tok})
    assert r.json()["allocations"] == {}
    cloud.os("server", "unshelve", sid)
    back = wait_status(cloud, sid, "ACTIVE")
    assert back["OS-EXT-SRV-ATTR:host"]
    assert not [i for i in cloud.os("image", "list", "-f", "json")
                if i["Name"] == f"{s['name']}-shelved"]
    # backups rotate: two daily backups with rotation 1 leave one
    for n in ("b1", "b2"):
        cloud.os("server", "backup", "create", "--name", unique(n), "--type", "daily",
                 "--rotate", "1", "--wait", sid)
        wait_status(cloud, sid, "ACTIVE")
    time.sleep(1)
    backups = [i for i in cloud.os("image", "list", "--long", "-f", "json")
               if i.get("Name", "").startswith(("b1-", "b2-"))]
    assert [b["Name"][:2] for b in backups] == ["b2"]
    for b in backups:
        cloud.os("image", "delete", b["ID"])
    cloud.os("server", "delete", "--wait", sid)
