"""Identity end to end: the real `openstack` CLI and openstacksdk against `ferrostack aio`."""

import json
import os
import time

import openstack
import pytest
import requests

from conftest import Cloud, unique


def token_issue(cloud, as_=None):
    return cloud.os("token", "issue", "-f", "json", as_=as_)


# ---- discovery, tokens, catalog -------------------------------------------------------------

def test_version_discovery(cloud):
    r = requests.get(cloud.base + "/")
    assert r.status_code == 300
    v = r.json()["versions"]["values"][0]
    assert v["status"] == "stable" and v["id"].startswith("v3")
    assert {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"} in v["media-types"]
    r = requests.get(cloud.base + "/v3")
    assert r.status_code == 200
    assert r.headers["x-openstack-request-id"].startswith("req-")
    assert r.json()["version"]["links"][0]["href"].endswith("/v3/")


def test_token_issue_and_catalog(cloud):
    t = token_issue(cloud)
    assert t["id"] and t["project_id"] and t["user_id"]
    cat = cloud.os("catalog", "list", "-f", "json")
    identity = [c for c in cat if c["Type"] == "identity"]
    assert identity, cat
    urls = json.dumps(identity[0]["Endpoints"])
    for iface in ("public", "internal", "admin"):
        assert iface in urls


def test_token_validate_revoke(cloud):
    admin = token_issue(cloud)
    other = token_issue(cloud)
    h = {"X-Auth-Token": admin["id"], "X-Subject-Token": other["id"]}
    r = requests.get(cloud.base + "/v3/auth/tokens", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()["token"]
    assert body["user"]["name"] == "admin"
    assert {"admin", "member", "reader"} <= {x["name"] for x in body["roles"]}
    assert "catalog" in body
    r = requests.get(cloud.base + "/v3/auth/tokens?nocatalog", headers=h)
    assert "catalog" not in r.json()["token"]
    assert requests.head(cloud.base + "/v3/auth/tokens", headers=h).status_code == 200
    # openstack token revoke, then the token is gone (404 on validate, 401 on use)
    cloud.os("token", "revoke", other["id"])
    assert requests.get(cloud.base + "/v3/auth/tokens", headers=h).status_code == 404
    r = requests.get(cloud.base + "/v3/projects", headers={"X-Auth-Token": other["id"]})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == 401
    # garbage tokens
    r = requests.get(cloud.base + "/v3/projects", headers={"X-Auth-Token": "garbage"})
    assert r.status_code == 401
    r = requests.get(cloud.base + "/v3/projects")
    assert r.status_code == 401
    assert "WWW-Authenticate" in r.headers


# ---- users, projects, roles, isolation -------------------------------------------------------

@pytest.fixture(scope="module")
def tenants(cloud):
    """Two projects, each with a member user."""
    out = {}
    for n in ("a", "b"):
        p = cloud.os("project", "create", unique(f"proj-{n}"), "-f", "json")
        u = cloud.os("user", "create", "--password", f"pw-{n}-secret", unique(f"user-{n}"),
                     "--project", p["id"], "-f", "json")
        cloud.os("role", "add", "--user", u["id"], "--project", p["id"], "member")
        out[n] = {"project": p, "user": u, "password": f"pw-{n}-secret"}
    return out


def as_user(t):
    return {"username": t["user"]["name"], "password": t["password"],
            "project_name": t["project"]["name"]}


def test_member_sees_only_member_things(cloud, tenants):
    a = tenants["a"]
    t = token_issue(cloud, as_=as_user(a))
    assert t["project_id"] == a["project"]["id"]
    # a member reads its own project...
    shown = cloud.os("project", "show", a["project"]["id"], "-f", "json", as_=as_user(a))
    assert shown["name"] == a["project"]["name"]
    # ...but not another project, nor admin listings
    err = cloud.fails("project", "show", tenants["b"]["project"]["id"], as_=as_user(a))
    assert "no project found" in err.lower() or "403" in err, err
    err = cloud.fails("user", "list", as_=as_user(a))
    assert "403" in err or "not authorized" in err.lower()
    err = cloud.fails("project", "create", unique("nope"), as_=as_user(a))
    assert "403" in err or "not authorized" in err.lower()
    # a member lists the projects it belongs to
    mine = cloud.os("project", "list", "--my-projects", "-f", "json", as_=as_user(a))
    assert [p["ID"] for p in mine] == [a["project"]["id"]]


def test_project_isolation_raw(cloud, tenants):
    a, b = tenants["a"], tenants["b"]
    tok = token_issue(cloud, as_=as_user(a))["id"]
    r = requests.get(f"{cloud.base}/v3/projects/{b['project']['id']}", headers={"X-Auth-Token": tok})
    assert r.status_code == 403
    assert r.json()["error"]["title"] == "Forbidden"
    r = requests.get(f"{cloud.base}/v3/users/{b['user']['id']}", headers={"X-Auth-Token": tok})
    assert r.status_code == 403
    # a token for project b cannot be had by a's user
    err = cloud.fails("token", "issue", as_={**as_user(a), "project_name": b["project"]["name"]})
    assert "401" in err


def test_wrong_password_and_unknown_user_look_the_same(cloud, tenants):
    a = tenants["a"]
    body = lambda name, pw: {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": name, "domain": {"id": "default"}, "password": pw}}}}}
    r1 = requests.post(cloud.base + "/v3/auth/tokens", json=body(a["user"]["name"], "wrong"))
    r2 = requests.post(cloud.base + "/v3/auth/tokens", json=body(unique("nobody"), "wrong"))
    assert r1.status_code == r2.status_code == 401
    assert r1.json() == r2.json()


def test_disabled_user_and_project(cloud):
    p = cloud.os("project", "create", unique("dis"), "-f", "json")
    u = cloud.os("user", "create", "--password", "pw-dis", unique("dis"), "-f", "json")
    cloud.os("role", "add", "--user", u["id"], "--project", p["id"], "member")
    creds = {"username": u["name"], "password": "pw-dis", "project_name": p["name"]}
    tok = token_issue(cloud, as_=creds)["id"]
    cloud.os("user", "set", "--disable", u["id"])
    cloud.fails("token", "issue", as_=creds)
    r = requests.get(cloud.base + "/v3/auth/catalog", headers={"X-Auth-Token": tok})
    assert r.status_code == 401, "a disabled user's token stops working at once"
    cloud.os("user", "set", "--enable", u["id"])
    token_issue(cloud, as_=creds)
    cloud.os("project", "set", "--disable", p["id"])
    cloud.fails("token", "issue", as_=creds)


def test_password_change_revokes_tokens(cloud):
    u = cloud.os("user", "create", "--password", "old-pw-1", unique("pwc"), "-f", "json")
    p = cloud.os("project", "create", unique("pwc"), "-f", "json")
    cloud.os("role", "add", "--user", u["id"], "--project", p["id"], "member")
    creds = {"username": u["name"], "password": "old-pw-1", "project_name": p["name"]}
    tok = token_issue(cloud, as_=creds)["id"]
    cloud.os("user", "password", "set", "--original-password", "old-pw-1", "--password", "new-pw-2", as_=creds)
    r = requests.get(cloud.base + "/v3/auth/catalog", headers={"X-Auth-Token": tok})
    assert r.status_code == 401
    cloud.fails("token", "issue", as_=creds)
    time.sleep(1.1)  # keystone revocation has one-second granularity
    token_issue(cloud, as_={**creds, "password": "new-pw-2"})


def test_role_removal_is_immediate(cloud):
    u = cloud.os("user", "create", "--password", "pw-rr", unique("rr"), "-f", "json")
    p = cloud.os("project", "create", unique("rr"), "-f", "json")
    cloud.os("role", "add", "--user", u["id"], "--project", p["id"], "member")
    creds = {"username": u["name"], "password": "pw-rr", "project_name": p["name"]}
    tok = token_issue(cloud, as_=creds)["id"]
    cloud.os("role", "remove", "--user", u["id"], "--project", p["id"], "member")
    r = requests.get(f"{cloud.base}/v3/projects/{p['id']}", headers={"X-Auth-Token": tok})
    assert r.status_code == 401


def test_duplicates_and_bad_input(cloud):
    name = unique("dup")
    cloud.os("project", "create", name)
    err = cloud.fails("project", "create", name)
    assert "409" in err or "Conflict" in err
    tok = token_issue(cloud)["id"]
    h = {"X-Auth-Token": tok, "Content-Type": "application/json"}
    r = requests.post(cloud.base + "/v3/projects", data="{not json", headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == 400
    r = requests.post(cloud.base + "/v3/projects", json={"project": {"name": 42}}, headers=h)
    assert r.status_code == 400
    r = requests.post(cloud.base + "/v3/projects", json={"project": {}}, headers=h)
    assert r.status_code == 400
    r = requests.post(cloud.base + "/v3/projects", data="x" * 200_000, headers=h)
    assert r.status_code == 413
    r = requests.get(cloud.base + "/v3/projects/does-not-exist", headers=h)
    assert r.status_code == 404 and r.json()["error"]["title"] == "Not Found"
    # nothing half-created: the failed creates left no project behind
    names = [p["Name"] for p in cloud.os("project", "list", "-f", "json")]
    assert names.count(name) == 1


# ---- application credentials -----------------------------------------------------------------

def test_application_credential_auth(cloud, tenants):
    a = tenants["a"]
    ac = cloud.os("application", "credential", "create", unique("ac"), "-f", "json", as_=as_user(a))
    ac = {k.lower(): v for k, v in ac.items()}
    assert ac["secret"] and ac["id"]
    assert ac["project id"] == a["project"]["id"]
    app = {"auth_type": "v3applicationcredential", "application_credential_id": ac["id"],
           "application_credential_secret": ac["secret"], "username": None, "password": None,
           "project_name": None, "project_domain_name": None, "user_domain_name": None}
    t = token_issue(cloud, as_=app)
    assert t["project_id"] == a["project"]["id"]
    cloud.os("project", "show", a["project"]["id"], as_=app)
    cloud.os("application", "credential", "delete", ac["id"], as_=as_user(a))
    cloud.fails("token", "issue", as_=app)


# ---- domains, groups, regions, services, endpoints -------------------------------------------

def test_domain_group_region_service_endpoint(cloud):
    d = cloud.os("domain", "create", unique("dom"), "--description", "d", "-f", "json")
    g = cloud.os("group", "create", "--domain", d["id"], unique("grp"), "-f", "json")
    u = cloud.os("user", "create", "--domain", d["id"], "--password", "pw-g", unique("gu"), "-f", "json")
    cloud.os("group", "add", "user", g["id"], u["id"])
    cloud.os("group", "contains", "user", g["id"], u["id"])
    members = cloud.os("user", "list", "--group", g["id"], "-f", "json")
    assert [m["ID"] for m in members] == [u["id"]]
    cloud.os("role", "add", "--group", g["id"], "--domain", d["id"], "member")
    ra = cloud.os("role", "assignment", "list", "--user", u["id"], "--effective", "-f", "json")
    assert any(r["Domain"] == d["id"] for r in ra), ra
    cloud.os("group", "remove", "user", g["id"], u["id"])

    r = cloud.os("region", "create", unique("Region"), "-f", "json")
    s = cloud.os("service", "create", "--name", unique("svc"), "compute-test", "-f", "json")
    e = cloud.os("endpoint", "create", "--region", r["region"], s["id"], "public",
                 "http://127.0.0.1:9999/v1/$(project_id)s", "-f", "json")
    assert cloud.os("endpoint", "show", e["id"], "-f", "json")["url"].endswith("$(project_id)s")
    err = cloud.fails("endpoint", "create", s["id"], "sideways", "http://x")
    assert "400" in err or "invalid choice" in err
    cloud.os("endpoint", "delete", e["id"])
    cloud.os("service", "delete", s["id"])
    cloud.os("region", "delete", r["region"])

    err = cloud.fails("domain", "delete", d["id"])
    assert "403" in err or "disable" in err.lower()
    cloud.os("domain", "set", "--disable", d["id"])
    cloud.os("domain", "delete", d["id"])
    cloud.fails("user", "show", u["id"])


def test_openstacksdk(cloud):
    env = cloud.admin_env
    conn = openstack.connect(
        auth_url=env["OS_AUTH_URL"], username="admin", password=env["OS_PASSWORD"],
        project_name="admin", user_domain_name="Default", project_domain_name="Default",
        region_name="RegionOne")
    p = conn.identity.create_project(name=unique("sdk"), description="from the sdk")
    assert conn.identity.get_project(p.id).description == "from the sdk"
    assert any(x.id == p.id for x in conn.identity.projects())
    u = conn.identity.create_user(name=unique("sdk"), password="pw-sdk", default_project_id=p.id)
    member = conn.identity.find_role("member")
    conn.identity.assign_project_role_to_user(p, u, member)
    assert conn.identity.validate_user_has_project_role(p, u, member)
    conn.identity.delete_user(u)
    conn.identity.delete_project(p)
    assert conn.identity.find_project(p.id) is None


def test_restart_reuses_data_dir(tmp_path):
    c = Cloud(str(tmp_path))
    c.start()
    try:
        p = c.os("project", "create", "survivor", "-f", "json")
        first_password = c.admin_env["OS_PASSWORD"]
    finally:
        c.stop()
    assert oct(os.stat(os.path.join(c.data_dir, "admin-openrc")).st_mode & 0o777) == "0o600"
    c.start()
    try:
        assert c.admin_env["OS_PASSWORD"] == first_password
        assert c.os("project", "show", "survivor", "-f", "json")["id"] == p["id"]
    finally:
        c.stop()


def test_fernet_rotation_keeps_tokens_valid(cloud):
    import subprocess
    from conftest import BINARY
    old = token_issue(cloud)["id"]
    for _ in range(3):  # past max_active_keys: the first key is purged
        subprocess.run([BINARY, "--config", cloud.conf, "fernet", "rotate", "--data-dir", cloud.data_dir],
                       check=True, capture_output=True)
    time.sleep(3)  # the running server notices the rotation within its poll period
    new = token_issue(cloud)["id"]
    h = {"X-Auth-Token": new, "X-Subject-Token": new}
    assert requests.get(cloud.base + "/v3/auth/tokens", headers=h).status_code == 200
    # the token minted with a key rotated out of the repository is no longer accepted
    h = {"X-Auth-Token": new, "X-Subject-Token": old}
    assert requests.get(cloud.base + "/v3/auth/tokens", headers=h).status_code == 404
    keys = sorted(os.listdir(os.path.join(cloud.data_dir, "fernet-keys")))
    assert len(keys) == 3 and "0" in keys


def test_unified_limits_with_the_cli(cloud):
    svc = cloud.os("service", "create", "--name", unique("quota-svc"), unique("quota"), "-f", "json")
    rl = cloud.os("registered", "limit", "create", "--service", svc["id"], "--default-limit", "10",
                  "widgets", "-f", "json")
    assert rl["default_limit"] == 10
    p = cloud.os("project", "create", unique("limited"), "-f", "json")
    lim = cloud.os("limit", "create", "--project", p["id"], "--service", svc["id"],
                   "--resource-limit", "3", "widgets", "-f", "json")
    assert lim["resource_limit"] == 3
    listed = cloud.os("limit", "list", "--project", p["id"], "-f", "json")
    assert [x["ID"] for x in listed] == [lim["id"]]
    err = cloud.fails("registered", "limit", "create", "--service", svc["id"], "--default-limit", "1", "widgets")
    assert "409" in err or "Conflict" in err
    cloud.os("limit", "delete", lim["id"])
    cloud.os("registered", "limit", "delete", rl["id"])
