"""Placement end to end: the real `openstack` CLI with osc-placement, and openstacksdk,
against `ferrostack aio`."""

import os
import subprocess
import uuid

import openstack
import pytest
import requests

from conftest import ROOT, VENV_BIN, Cloud, unique

PV = ("--os-placement-api-version", "1.39")


def pl(cloud, *args, check=True):
    """`openstack --os-placement-api-version 1.39 ...`"""
    return cloud.os(*PV, *args, check=check)


def pl_fails(cloud, *args):
    return cloud.fails(*PV, *args)


def placement_url(cloud):
    return f"http://127.0.0.1:{cloud.placement_port}"


def token(cloud):
    return cloud.os("token", "issue", "-f", "value", "-c", "id").stdout.strip()


def new_provider(cloud, name=None, parent=None):
    args = ["resource", "provider", "create", name or unique("rp"), "-f", "json"]
    if parent:
        args += ["--parent-provider", parent]
    return pl(cloud, *args)


def test_catalog_and_version_document(cloud):
    services = cloud.os("catalog", "list", "-f", "json")
    assert any(s["Type"] == "placement" for s in services)
    r = requests.get(placement_url(cloud) + "/")
    assert r.status_code == 200
    v = r.json()["versions"][0]
    assert v["max_version"] == "1.39" and v["min_version"] == "1.0"
    assert r.headers["OpenStack-API-Version"] == "placement 1.0"
    r = requests.get(placement_url(cloud) + "/resource_providers")
    assert r.status_code == 401
    assert r.json()["errors"][0]["request_id"].startswith("req-")


def test_resource_provider_lifecycle(cloud):
    root = new_provider(cloud, unique("compute"))
    assert root["generation"] == 0
    assert root["root_provider_uuid"] == root["uuid"]
    child = new_provider(cloud, unique("numa0"), parent=root["uuid"])
    assert child["parent_provider_uuid"] == root["uuid"]
    assert child["root_provider_uuid"] == root["uuid"]

    listed = pl(cloud, "resource", "provider", "list", "--in-tree", child["uuid"], "-f", "json")
    assert {p["uuid"] for p in listed} == {root["uuid"], child["uuid"]}
    shown = pl(cloud, "resource", "provider", "show", root["uuid"], "-f", "json")
    assert shown["name"] == root["name"]
    renamed = unique("renamed")
    updated = pl(cloud, "resource", "provider", "set", root["uuid"], "--name", renamed, "-f", "json")
    assert updated["name"] == renamed
    by_name = pl(cloud, "resource", "provider", "list", "--name", renamed, "-f", "json")
    assert [p["uuid"] for p in by_name] == [root["uuid"]]

    err = pl_fails(cloud, "resource", "provider", "create", renamed)
    assert "409" in err or "Conflict" in err
    err = pl_fails(cloud, "resource", "provider", "delete", root["uuid"])
    assert "child resource providers" in err
    pl(cloud, "resource", "provider", "delete", child["uuid"])
    pl(cloud, "resource", "provider", "delete", root["uuid"])
    err = pl_fails(cloud, "resource", "provider", "show", root["uuid"])
    assert "No resource provider with uuid" in err


def test_inventories_and_usages(cloud):
    rp = new_provider(cloud)["uuid"]
    inv = pl(cloud, "resource", "provider", "inventory", "set", rp,
             "--resource", "VCPU=8", "--resource", "VCPU:allocation_ratio=16.0",
             "--resource", "MEMORY_MB=4096", "--resource", "MEMORY_MB:reserved=512",
             "--resource", "DISK_GB=100", "-f", "json")
    by_class = {i["resource_class"]: i for i in inv}
    assert by_class["VCPU"]["allocation_ratio"] == 16.0
    assert by_class["MEMORY_MB"]["reserved"] == 512
    listed = pl(cloud, "resource", "provider", "inventory", "list", rp, "-f", "json")
    assert {i["resource_class"] for i in listed} == {"VCPU", "MEMORY_MB", "DISK_GB"}
    one = pl(cloud, "resource", "provider", "inventory", "class", "set", rp, "DISK_GB",
             "--total", "200", "--max_unit", "50", "-f", "json")
    assert one["total"] == 200 and one["max_unit"] == 50
    shown = pl(cloud, "resource", "provider", "inventory", "show", rp, "DISK_GB", "-f", "json")
    assert shown["total"] == 200
    pl(cloud, "resource", "provider", "inventory", "delete", rp, "--resource-class", "DISK_GB")
    listed = pl(cloud, "resource", "provider", "inventory", "list", rp, "-f", "json")
    assert "DISK_GB" not in {i["resource_class"] for i in listed}
    usage = pl(cloud, "resource", "provider", "usage", "show", rp, "-f", "json")
    assert {u["resource_class"]: u["usage"] for u in usage} == {"VCPU": 0, "MEMORY_MB": 0}
    err = pl_fails(cloud, "resource", "provider", "inventory", "set", rp, "--resource", "NO_SUCH=1")
    assert "No such resource class NO_SUCH" in err
    pl(cloud, "resource", "provider", "delete", rp)


def test_resource_classes_and_traits(cloud):
    rc = "CUSTOM_" + unique("gpu").upper().replace("-", "_")
    pl(cloud, "resource", "class", "create", rc)
    names = {c["name"] for c in pl(cloud, "resource", "class", "list", "-f", "json")}
    assert rc in names and "VCPU" in names and "PCPU" in names
    assert pl(cloud, "resource", "class", "show", rc, "-f", "json")["name"] == rc
    err = pl_fails(cloud, "resource", "class", "delete", "VCPU")
    assert "Cannot delete standard resource class" in err

    trait = "CUSTOM_" + unique("raid").upper().replace("-", "_")
    pl(cloud, "trait", "create", trait)
    traits = {t["name"] for t in pl(cloud, "trait", "list", "--name", "startswith:CUSTOM_", "-f", "json")}
    assert trait in traits
    assert "HW_CPU_X86_AVX2" in {t["name"] for t in pl(cloud, "trait", "list", "-f", "json")}
    pl(cloud, "trait", "show", trait)

    rp = new_provider(cloud)["uuid"]
    pl(cloud, "resource", "provider", "inventory", "set", rp, "--resource", f"{rc}=2")
    set_ = pl(cloud, "resource", "provider", "trait", "set", rp, "--trait", trait,
              "--trait", "HW_CPU_X86_AVX2", "-f", "json")
    assert {t["name"] for t in set_} == {trait, "HW_CPU_X86_AVX2"}
    got = pl(cloud, "resource", "provider", "trait", "list", rp, "-f", "json")
    assert {t["name"] for t in got} == {trait, "HW_CPU_X86_AVX2"}
    err = pl_fails(cloud, "trait", "delete", trait)
    assert "in use" in err
    listed = pl(cloud, "resource", "provider", "list", "--required", trait, "-f", "json")
    assert [p["uuid"] for p in listed] == [rp]
    pl(cloud, "resource", "provider", "trait", "delete", rp)
    assert pl(cloud, "resource", "provider", "trait", "list", rp, "-f", "json") == []
    pl(cloud, "trait", "delete", trait)
    err = pl_fails(cloud, "resource", "class", "delete", rc)
    assert "in use" in err
    pl(cloud, "resource", "provider", "delete", rp)
    pl(cloud, "resource", "class", "delete", rc)


def test_aggregates(cloud):
    rp = new_provider(cloud)
    agg1, agg2 = str(uuid.uuid4()), str(uuid.uuid4())
    out = pl(cloud, "resource", "provider", "aggregate", "set", rp["uuid"],
             "--aggregate", agg1, "--aggregate", agg2, "--generation", "0", "-f", "json")
    assert {a["uuid"] for a in out} == {agg1, agg2}
    got = pl(cloud, "resource", "provider", "aggregate", "list", rp["uuid"], "-f", "json")
    assert {a["uuid"] for a in got} == {agg1, agg2}
    err = pl_fails(cloud, "resource", "provider", "aggregate", "set", rp["uuid"],
                   "--aggregate", agg1, "--generation", "0")
    assert "generation" in err
    members = pl(cloud, "resource", "provider", "list", "--member-of", agg1, "-f", "json")
    assert [p["uuid"] for p in members] == [rp["uuid"]]
    pl(cloud, "resource", "provider", "delete", rp["uuid"])


def test_allocations_candidates_and_usage(cloud):
    # a compute node with a NUMA child, and a plain host with a trait
    cn = new_provider(cloud, unique("cn"))["uuid"]
    numa = new_provider(cloud, unique("cn-numa"), parent=cn)["uuid"]
    plain = new_provider(cloud, unique("plain"))["uuid"]
    pl(cloud, "resource", "provider", "inventory", "set", cn, "--resource", "DISK_GB=100")
    pl(cloud, "resource", "provider", "inventory", "set", numa,
       "--resource", "VCPU=4", "--resource", "MEMORY_MB=2048")
    pl(cloud, "resource", "provider", "inventory", "set", plain,
       "--resource", "VCPU=2", "--resource", "MEMORY_MB=1024", "--resource", "DISK_GB=10")
    pl(cloud, "resource", "provider", "trait", "set", plain, "--trait", "HW_CPU_X86_AVX2")

    rows = pl(cloud, "allocation", "candidate", "list", "--resource", "VCPU=1",
              "--resource", "DISK_GB=5", "-f", "json")
    by_req = {}
    for row in rows:
        by_req.setdefault(row["#"], set()).add(row["resource provider"])
    assert {frozenset(v) for v in by_req.values()} >= {frozenset({cn, numa}), frozenset({plain})}
    rows = pl(cloud, "allocation", "candidate", "list", "--resource", "VCPU=1",
              "--required", "HW_CPU_X86_AVX2", "-f", "json")
    assert {r["resource provider"] for r in rows} == {plain}
    rows = pl(cloud, "allocation", "candidate", "list", "--resource", "VCPU=1",
              "--forbidden", "HW_CPU_X86_AVX2", "--limit", "5", "-f", "json")
    assert plain not in {r["resource provider"] for r in rows}
    rows = pl(cloud, "allocation", "candidate", "list", "--resource", "VCPU=3", "-f", "json")
    # (the cloud's own compute node may be a candidate too)
    assert {r["resource provider"] for r in rows} & {cn, numa, plain} == {numa}

    consumer = str(uuid.uuid4())
    project = cloud.os("project", "show", "admin", "-f", "value", "-c", "id").stdout.strip()
    user = cloud.os("user", "show", "admin", "-f", "value", "-c", "id").stdout.strip()
    out = pl(cloud, "resource", "provider", "allocation", "set", consumer,
             "--allocation", f"rp={numa},VCPU=2,MEMORY_MB=1024",
             "--allocation", f"rp={cn},DISK_GB=20",
             "--project-id", project, "--user-id", user, "--consumer-type", "INSTANCE",
             "-f", "json")
    assert {a["resource_provider"] for a in out} == {numa, cn}
    shown = pl(cloud, "resource", "provider", "allocation", "show", consumer, "-f", "json")
    resources = {a["resource_provider"]: a["resources"] for a in shown}
    assert resources[numa] == {"VCPU": 2, "MEMORY_MB": 1024}
    assert shown[0]["consumer_type"] == "INSTANCE"
    usage = pl(cloud, "resource", "provider", "usage", "show", numa, "-f", "json")
    assert {u["resource_class"]: u["usage"] for u in usage} == {"VCPU": 2, "MEMORY_MB": 1024}
    # per class before 1.38 (osc-placement does not unfold the 1.38 per-type groups)
    totals = cloud.os("--os-placement-api-version", "1.9", "resource", "usage", "show",
                      project, "-f", "json")
    assert {u["resource_class"]: u["usage"] for u in totals}["DISK_GB"] >= 20
    grouped = pl(cloud, "resource", "usage", "show", project, "-f", "json")
    assert {u["resource_class"] for u in grouped} >= {"INSTANCE"}
    # over capacity: refused
    err = pl_fails(cloud, "resource", "provider", "allocation", "set", str(uuid.uuid4()),
                   "--allocation", f"rp={numa},VCPU=3",
                   "--project-id", project, "--user-id", user, "--consumer-type", "INSTANCE")
    assert "exceed the capacity" in err
    # the provider with allocations cannot be deleted, nor its inventory removed
    err = pl_fails(cloud, "resource", "provider", "delete", numa)
    assert "has allocations" in err
    err = pl_fails(cloud, "resource", "provider", "inventory", "delete", numa, "--resource-class", "VCPU")
    assert "in use" in err
    rows = pl(cloud, "allocation", "candidate", "list", "--resource", "VCPU=3", "-f", "json")
    assert numa not in {r["resource provider"] for r in rows}

    pl(cloud, "resource", "provider", "allocation", "delete", consumer)
    assert pl(cloud, "resource", "provider", "allocation", "show", consumer, "-f", "json") == []
    for rp in (numa, cn, plain):
        pl(cloud, "resource", "provider", "delete", rp)


def test_openstacksdk_placement(cloud):
    env = cloud.admin_env
    conn = openstack.connect(
        auth_url=env["OS_AUTH_URL"], username="admin", password=env["OS_PASSWORD"],
        project_name="admin", user_domain_name="Default", project_domain_name="Default",
        region_name="RegionOne")
    name = unique("sdk-rp")
    rp = conn.placement.create_resource_provider(name=name)
    assert rp.name == name
    assert rp.generation == 0
    got = conn.placement.get_resource_provider(rp.id)
    assert got.root_provider_id == rp.id
    names = {p.name for p in conn.placement.resource_providers()}
    assert name in names
    conn.placement.update_resource_provider(rp, name=name + "-x")
    assert conn.placement.get_resource_provider(rp.id).name == name + "-x"
    inv = conn.placement.create_resource_provider_inventory(
        rp.id, resource_class="VCPU", total=16, allocation_ratio=2.0)
    assert inv.total == 16
    invs = list(conn.placement.resource_provider_inventories(rp.id))
    assert [i.resource_class for i in invs] == ["VCPU"]
    assert any(t.name == "COMPUTE_VOLUME_MULTI_ATTACH" for t in conn.placement.traits())
    assert any(c.name == "VCPU" for c in conn.placement.resource_classes())
    conn.placement.delete_resource_provider_inventory("VCPU", resource_provider=rp.id)
    conn.placement.delete_resource_provider(rp.id)
    assert name + "-x" not in {p.name for p in conn.placement.resource_providers()}


def test_placement_api_has_no_server_errors(tmp_path):
    """Fuzz the placement API from its OpenAPI document: no 5xx."""
    c = Cloud(str(tmp_path))
    c.start()
    try:
        tok = c.os("token", "issue", "-f", "value", "-c", "id").stdout.strip()
        p = subprocess.run(
            [os.path.join(VENV_BIN, "schemathesis"), "run",
             os.path.join(ROOT, "docs", "openapi", "placement.json"),
             "--url", placement_url(c), "-H", f"X-Auth-Token: {tok}",
             "-H", "OpenStack-API-Version: placement latest",
             "--checks", "not_a_server_error",
             "--max-examples", os.environ.get("FERROSTACK_FUZZ_EXAMPLES", "5"),
             "--seed", "1"],
            capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    finally:
        c.stop()
