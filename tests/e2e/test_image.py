"""Image service end to end: the real `openstack` CLI and openstacksdk against `ferrostack aio`."""

import hashlib
import http.server
import os
import subprocess
import threading
import time

import openstack
import pytest
import requests

from conftest import unique


def qemu_img(*args):
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def qcow2(tmp_path_factory):
    p = tmp_path_factory.mktemp("img") / "disk.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(p), "64M")
    return str(p)


def wait_status(cloud, image_id, want, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = cloud.os("image", "show", image_id, "-f", "value", "-c", "status").stdout.strip()
        if st == want:
            return
        time.sleep(0.2)
    raise AssertionError(f"image {image_id} did not become {want} (last {st})")


def image_url(cloud):
    return f"http://127.0.0.1:{cloud.image_port}"


def admin_token(cloud):
    return cloud.os("token", "issue", "-f", "value", "-c", "id").stdout.strip()


def create_record(cloud, **props):
    """An image record without data (the CLI would upload its empty stdin)."""
    r = requests.post(f"{image_url(cloud)}/v2/images", json=props, headers={"X-Auth-Token": admin_token(cloud)})
    assert r.status_code == 201, r.text
    assert r.headers["OpenStack-image-import-methods"]
    return r.json()


def test_create_upload_show_save_delete(cloud, qcow2, tmp_path):
    img = cloud.os("image", "create", "--file", qcow2, "--disk-format", "qcow2",
                   "--container-format", "bare", "--property", "hw_disk_bus=virtio",
                   "--tag", "first", unique("cirros-like"), "-f", "json")
    assert img["status"] == "active"
    assert img["virtual_size"] == 64 << 20
    assert img["checksum"] == hashlib.md5(open(qcow2, "rb").read()).hexdigest()
    sha = hashlib.sha512(open(qcow2, "rb").read()).hexdigest()
    shown = cloud.os("image", "show", img["id"], "-f", "json")
    assert shown["properties"]["os_hash_value"] == sha
    assert shown["properties"]["hw_disk_bus"] == "virtio"
    assert "first" in shown["tags"]
    out = tmp_path / "out.qcow2"
    cloud.os("image", "save", "--file", str(out), img["id"])
    assert hashlib.sha512(out.read_bytes()).hexdigest() == sha
    cloud.os("image", "set", "--property", "os_distro=cirros", "--tag", "second", "--protected", img["id"])
    cloud.os("image", "unset", "--property", "hw_disk_bus", img["id"])
    shown = cloud.os("image", "show", img["id"], "-f", "json")
    assert shown["protected"] is True and "hw_disk_bus" not in shown["properties"]
    err = cloud.fails("image", "delete", img["id"])
    assert "403" in err or "protected" in err.lower()
    cloud.os("image", "set", "--unprotected", img["id"])
    cloud.os("image", "delete", img["id"])
    cloud.fails("image", "show", img["id"])


def test_list_filters_and_paging(cloud):
    tag = unique("batch")
    ids = []
    for n in range(5):
        ids.append(cloud.os("image", "create", "--tag", tag, f"{tag}-{n}", "-f", "value", "-c", "id").stdout.strip())
    listed = cloud.os("image", "list", "--tag", tag, "--sort", "name:asc", "-f", "json")
    assert [x["Name"] for x in listed] == [f"{tag}-{n}" for n in range(5)]
    tok = admin_token(cloud)
    r = requests.get(f"{image_url(cloud)}/v2/images?tag={tag}&limit=2&sort=name:asc", headers={"X-Auth-Token": tok})
    body = r.json()
    assert [i["name"] for i in body["images"]] == [f"{tag}-0", f"{tag}-1"]
    nxt = requests.get(image_url(cloud) + body["next"], headers={"X-Auth-Token": tok}).json()
    assert [i["name"] for i in nxt["images"]] == [f"{tag}-2", f"{tag}-3"]
    r = requests.get(f"{image_url(cloud)}/v2/images?name=in:{tag}-1,{tag}-3", headers={"X-Auth-Token": tok})
    assert sorted(i["name"] for i in r.json()["images"]) == [f"{tag}-1", f"{tag}-3"]
    for i in ids:
        cloud.os("image", "delete", i)


def test_sharing_between_projects(cloud, tenants_img):
    a, b = tenants_img
    img = cloud.os("image", "create", "--shared", unique("shared"), "-f", "json", as_=a)
    cloud.fails("image", "show", img["id"], as_=b)  # not yet shared: invisible
    cloud.os("image", "add", "project", img["id"], b["project_id"], as_=a)
    listed = cloud.os("image", "list", "-f", "json", as_=b)
    assert img["id"] not in [x["ID"] for x in listed], "pending shares are not listed"
    cloud.os("image", "set", "--accept", img["id"], as_=b)
    listed = cloud.os("image", "list", "-f", "json", as_=b)
    assert img["id"] in [x["ID"] for x in listed]
    # the member cannot modify or delete it
    cloud.fails("image", "set", "--name", "stolen", img["id"], as_=b)
    cloud.fails("image", "delete", img["id"], as_=b)
    # private images of another project are invisible (404, never 403)
    priv = cloud.os("image", "create", "--private", unique("private"), "-f", "json", as_=a)
    tok = cloud.os("token", "issue", "-f", "value", "-c", "id", as_=b).stdout.strip()
    r = requests.get(f"{image_url(cloud)}/v2/images/{priv['id']}", headers={"X-Auth-Token": tok})
    assert r.status_code == 404
    # only admins may publish
    err = cloud.fails("image", "set", "--public", priv["id"], as_=a)
    assert "403" in err or "not authorized" in err.lower()


@pytest.fixture(scope="module")
def tenants_img(cloud):
    out = []
    for n in ("a", "b"):
        p = cloud.os("project", "create", unique(f"imgproj-{n}"), "-f", "json")
        u = cloud.os("user", "create", "--password", f"pw-{n}", unique(f"imguser-{n}"), "-f", "json")
        cloud.os("role", "add", "--user", u["id"], "--project", p["id"], "member")
        out.append({"username": u["name"], "password": f"pw-{n}", "project_name": p["name"]})
    # the CLI takes these as OS_* overrides; keep the project id beside them
    for o, p_id in zip(out, [cloud.os("project", "show", o["project_name"], "-f", "value", "-c", "id").stdout.strip() for o in out]):
        o["project_id"] = p_id
    return out


def test_format_enforcement(cloud, qcow2, tmp_path):
    raw = tmp_path / "raw.img"
    raw.write_bytes(os.urandom(1 << 16))
    # raw bytes declared qcow2: refused, the image stays unusable
    img = create_record(cloud, disk_format="qcow2", container_format="bare", name=unique("liar"))
    tok = admin_token(cloud)
    r = requests.put(f"{image_url(cloud)}/v2/images/{img['id']}/file", data=raw.read_bytes(),
                     headers={"X-Auth-Token": tok, "Content-Type": "application/octet-stream"})
    assert r.status_code == 400, r.text
    assert cloud.os("image", "show", img["id"], "-f", "value", "-c", "status").stdout.strip() == "queued"
    # a qcow2 with a backing file: refused
    evil = tmp_path / "evil.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-b", qcow2, "-F", "qcow2", str(evil))
    r = requests.put(f"{image_url(cloud)}/v2/images/{img['id']}/file", data=evil.read_bytes(),
                     headers={"X-Auth-Token": tok, "Content-Type": "application/octet-stream"})
    assert r.status_code == 400 and "backing" in r.text
    # upload to an active image: 409
    good = cloud.os("image", "create", "--file", qcow2, "--disk-format", "qcow2", unique("good"), "-f", "json")
    r = requests.put(f"{image_url(cloud)}/v2/images/{good['id']}/file", data=b"x",
                     headers={"X-Auth-Token": tok, "Content-Type": "application/octet-stream"})
    assert r.status_code == 409
    # reserved properties
    r = requests.patch(f"{image_url(cloud)}/v2/images/{good['id']}",
                       json=[{"op": "add", "path": "/os_glance_secret", "value": "x"}],
                       headers={"X-Auth-Token": tok, "Content-Type": "application/openstack-images-v2.1-json-patch"})
    assert r.status_code == 403
    assert r.json()["title"] == "Forbidden"
    # nothing partial left in the stores
    data = os.path.join(cloud.data_dir)
    leftovers = [f for root, _, files in os.walk(data) for f in files if f.endswith(".part")]
    assert leftovers == []


def test_deactivate_reactivate_and_ranges(cloud, qcow2):
    img = cloud.os("image", "create", "--file", qcow2, "--disk-format", "qcow2", unique("act"), "-f", "json")
    tok = admin_token(cloud)
    r = requests.get(f"{image_url(cloud)}/v2/images/{img['id']}/file", headers={"X-Auth-Token": tok, "Range": "bytes=0-3"})
    assert r.status_code == 206 and r.content == b"QFI\xfb"
    assert r.headers["Content-Range"].startswith("bytes 0-3/")
    cloud.os("image", "set", "--deactivate", img["id"])
    assert cloud.os("image", "show", img["id"], "-f", "value", "-c", "status").stdout.strip() == "deactivated"
    cloud.os("image", "set", "--activate", img["id"])
    assert cloud.os("image", "show", img["id"], "-f", "value", "-c", "status").stdout.strip() == "active"


def test_import_glance_direct_web_download_copy(cloud, qcow2):
    # glance-direct through the CLI (stage + import)
    img = cloud.os("image", "create", "--import", "--file", qcow2, "--disk-format", "qcow2",
                   "--container-format", "bare", unique("direct"), "-f", "json")
    wait_status(cloud, img["id"], "active")
    # web-download from a loopback HTTP server
    directory = os.path.dirname(qcow2)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=directory, **k)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        web = create_record(cloud, disk_format="qcow2", container_format="bare", name=unique("web"))
        tok = admin_token(cloud)
        url = f"http://127.0.0.1:{srv.server_address[1]}/{os.path.basename(qcow2)}"
        r = requests.post(f"{image_url(cloud)}/v2/images/{web['id']}/import",
                          json={"method": {"name": "web-download", "uri": url}},
                          headers={"X-Auth-Token": tok})
        assert r.status_code == 202, r.text
        wait_status(cloud, web["id"], "active")
        tasks = requests.get(f"{image_url(cloud)}/v2/images/{web['id']}/tasks", headers={"X-Auth-Token": tok}).json()
        assert tasks["tasks"][0]["status"] == "success"
    finally:
        srv.shutdown()
    # copy-image to the second store
    r = requests.post(f"{image_url(cloud)}/v2/images/{web['id']}/import",
                      json={"method": {"name": "copy-image"}, "stores": ["cheap"]},
                      headers={"X-Auth-Token": tok})
    assert r.status_code == 202, r.text
    deadline = time.time() + 30
    while time.time() < deadline:
        stores = requests.get(f"{image_url(cloud)}/v2/images/{web['id']}", headers={"X-Auth-Token": tok}).json()["stores"]
        if "cheap" in stores:
            break
        time.sleep(0.2)
    assert set(stores.split(",")) == {"fast", "cheap"}


def test_openstacksdk_images(cloud, qcow2):
    env = cloud.admin_env
    conn = openstack.connect(
        auth_url=env["OS_AUTH_URL"], username="admin", password=env["OS_PASSWORD"],
        project_name="admin", user_domain_name="Default", project_domain_name="Default",
        region_name="RegionOne")
    img = conn.image.create_image(name=unique("sdk"), filename=qcow2, disk_format="qcow2",
                                  container_format="bare", wait=True)
    got = conn.image.get_image(img.id)
    assert got.status == "active"
    data = conn.image.download_image(img.id).content
    assert hashlib.md5(data).hexdigest() == got.checksum
    conn.image.delete_image(img.id)


@pytest.mark.skipif(os.environ.get("FERROSTACK_BIG_IMAGE") == "0", reason="disabled")
def test_one_gib_round_trip(cloud, tmp_path):
    big = tmp_path / "big.raw"
    h = hashlib.sha512()
    with open(big, "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(1024):
            chunk = block[:-8] + i.to_bytes(8, "big")
            h.update(chunk)
            f.write(chunk)
    img = cloud.os("image", "create", "--file", str(big), "--disk-format", "raw", "--container-format", "bare",
                   unique("big"), "-f", "json")
    assert img["size"] == 1 << 30
    shown = cloud.os("image", "show", img["id"], "-f", "json")
    assert shown["properties"]["os_hash_value"] == h.hexdigest()
    big.unlink()
    out = tmp_path / "big.out"
    cloud.os("image", "save", "--file", str(out), img["id"])
    h2 = hashlib.sha512()
    with open(out, "rb") as f:
        while chunk := f.read(1 << 20):
            h2.update(chunk)
    assert h2.hexdigest() == h.hexdigest()
    cloud.os("image", "delete", img["id"])


def test_import_to_all_stores(cloud, qcow2):
    """glance-direct with all_stores lands in every writable store."""
    tok = admin_token(cloud)
    img = create_record(cloud, disk_format="qcow2", container_format="bare", name=unique("everywhere"))
    with open(qcow2, "rb") as f:
        r = requests.put(f"{image_url(cloud)}/v2/images/{img['id']}/stage", data=f,
                         headers={"X-Auth-Token": tok, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    both = requests.post(f"{image_url(cloud)}/v2/images/{img['id']}/import",
                         json={"method": {"name": "glance-direct"}, "all_stores": True, "stores": ["fast"]},
                         headers={"X-Auth-Token": tok})
    assert both.status_code == 400, "all_stores and stores together are refused"
    r = requests.post(f"{image_url(cloud)}/v2/images/{img['id']}/import",
                      json={"method": {"name": "glance-direct"}, "all_stores": True},
                      headers={"X-Auth-Token": tok})
    assert r.status_code == 202, r.text
    deadline = time.time() + 30
    while time.time() < deadline:
        got = requests.get(f"{image_url(cloud)}/v2/images/{img['id']}", headers={"X-Auth-Token": tok}).json()
        if got["status"] == "active" and not got["os_glance_importing_to_stores"]:
            break
        time.sleep(0.2)
    assert got["stores"] == "cheap,fast"
    assert got["os_glance_failed_import"] == ""
    # drop one store's copy; the last copy cannot be dropped, only the image deleted
    base = f"{image_url(cloud)}/v2/stores"
    r = requests.delete(f"{base}/fast/{img['id']}", headers={"X-Auth-Token": tok})
    assert r.status_code == 204, r.text
    got = requests.get(f"{image_url(cloud)}/v2/images/{img['id']}", headers={"X-Auth-Token": tok}).json()
    assert got["stores"] == "cheap"
    assert requests.delete(f"{base}/fast/{img['id']}", headers={"X-Auth-Token": tok}).status_code == 404
    assert requests.delete(f"{base}/cheap/{img['id']}", headers={"X-Auth-Token": tok}).status_code == 403
    assert requests.delete(f"{base}/nowhere/{img['id']}", headers={"X-Auth-Token": tok}).status_code == 409
    data = requests.get(f"{image_url(cloud)}/v2/images/{img['id']}/file", headers={"X-Auth-Token": tok}).content
    assert data == open(qcow2, "rb").read()


def test_metadefs_with_cli(cloud, tenants_img):
    a, _ = tenants_img
    types = cloud.os("image", "metadef", "resource", "type", "list", "-f", "json")
    assert "OS::Glance::Image" in [t["Name"] for t in types]
    ns = unique("FS::Test")
    cloud.os("image", "metadef", "namespace", "create", "--display-name", "Test", "--description", "d",
             "--private", "--protected", ns, "-f", "json")
    shown = cloud.os("image", "metadef", "namespace", "show", ns, "-f", "json")
    assert shown["visibility"] == "private" and shown["protected"] is True
    # a private namespace is invisible to other projects, and only admins may create one
    cloud.fails("image", "metadef", "namespace", "show", ns, as_=a)
    assert ns not in [n["namespace"] for n in cloud.os("image", "metadef", "namespace", "list", "-f", "json", as_=a)]
    cloud.fails("image", "metadef", "namespace", "create", unique("FS::Nope"), as_=a)
    # properties, objects and resource type associations
    cloud.os("image", "metadef", "property", "create", "--name", "hw_cores", "--title", "Cores",
             "--type", "integer", "--schema", '{"minimum": 1}', ns, "-f", "json")
    props = cloud.os("image", "metadef", "property", "list", ns, "-f", "json")
    assert [p["name"] for p in props] == ["hw_cores"]
    bad = cloud.fails("image", "metadef", "property", "create", "--name", "x", "--title", "X",
                      "--type", "nonsense", "--schema", "{}", ns)
    assert "400" in bad or "bad request" in bad.lower()
    cloud.os("image", "metadef", "object", "create", "--namespace", ns, "CPU", "-f", "json")
    assert [o["name"] for o in cloud.os("image", "metadef", "object", "list", ns, "-f", "json")] == ["CPU"]
    cloud.os("image", "metadef", "resource", "type", "association", "create", ns, "OS::Nova::Flavor",
             "--properties-target", "flavor", "-f", "json")
    assoc = cloud.os("image", "metadef", "resource", "type", "association", "list", ns, "-f", "json")
    assert [r["Name"] if "Name" in r else r["name"] for r in assoc] == ["OS::Nova::Flavor"]
    # protected blocks delete until unprotected; delete removes its children
    cloud.fails("image", "metadef", "namespace", "delete", ns)
    cloud.os("image", "metadef", "namespace", "set", "--unprotected", ns)
    cloud.os("image", "metadef", "namespace", "delete", ns)
    cloud.fails("image", "metadef", "namespace", "show", ns)
    cloud.fails("image", "metadef", "property", "list", ns)


def cache_state(cloud, token):
    r = requests.get(f"{image_url(cloud)}/v2/cache", headers={"X-Auth-Token": token})
    assert r.status_code == 200, r.text
    return r.json()


def wait_cached(cloud, token, image_id, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = cache_state(cloud, token)
        for c in state["cached_images"]:
            if c["image_id"] == image_id:
                return c
        time.sleep(0.2)
    raise AssertionError(f"image {image_id} was not cached: {state}")


def test_image_cache_with_cli(cloud, tenants_img, tmp_path):
    data = os.urandom(300 * 1024)
    src = tmp_path / "cached.raw"
    src.write_bytes(data)
    img = cloud.os("image", "create", "--file", str(src), "--disk-format", "raw",
                   "--container-format", "bare", unique("cached"), "-f", "json")
    tok = admin_token(cloud)
    cache_dir = os.path.join(cloud.workdir, "image-cache")

    # queue it with the CLI; the worker copies it in and the CLI lists it
    cloud.os("cached", "image", "queue", img["id"])
    entry = wait_cached(cloud, tok, img["id"])
    assert entry["size"] == len(data)
    assert entry["hits"] == 0
    assert entry["checksum"] == hashlib.md5(data).hexdigest()
    assert open(os.path.join(cache_dir, img["id"]), "rb").read() == data
    listed = cloud.os("cached", "image", "list", "-f", "json")
    assert img["id"] in [row["ID"] for row in listed]

    # downloads are served from the cache and counted (a range too)
    out = tmp_path / "out.raw"
    cloud.os("image", "save", "--file", str(out), img["id"])
    assert out.read_bytes() == data
    r = requests.get(f"{image_url(cloud)}/v2/images/{img['id']}/file",
                     headers={"X-Auth-Token": tok, "Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert wait_cached(cloud, tok, img["id"])["hits"] == 2
    r = requests.get(f"{image_url(cloud)}/v2/cache/nodes/{img['id']}", headers={"X-Auth-Token": tok})
    assert r.status_code == 200 and len(r.json()) == 1 and r.json()[0].startswith("http://")

    # the cache is the admin's: a member gets 403; bad requests get glance's answers
    member = tenants_img[0]
    err = cloud.fails("cached", "image", "list", as_=member)
    assert "not authorized to complete cache_list" in err
    h = {"X-Auth-Token": tok}
    r = requests.put(f"{image_url(cloud)}/v2/cache/no-such-image", headers=h)
    assert r.status_code == 404, r.text
    queued = create_record(cloud, name=unique("no-data"), disk_format="raw", container_format="bare")
    r = requests.put(f"{image_url(cloud)}/v2/cache/{queued['id']}", headers=h)
    assert r.status_code == 400 and "active" in r.text
    r = requests.delete(f"{image_url(cloud)}/v2/cache",
                        headers={**h, "x-image-cache-clear-target": "invalid"})
    assert r.status_code == 400
    assert img["id"] in [c["image_id"] for c in cache_state(cloud, tok)["cached_images"]]

    # delete from the cache with the CLI: the entry and the file go, the image stays
    cloud.os("cached", "image", "delete", img["id"])
    assert img["id"] not in [c["image_id"] for c in cache_state(cloud, tok)["cached_images"]]
    assert not os.path.exists(os.path.join(cache_dir, img["id"]))
    # a whole download of an uncached image fills the cache for the next reader
    cloud.os("image", "save", "--file", str(out), img["id"])
    assert out.read_bytes() == data
    wait_cached(cloud, tok, img["id"])
    r = requests.post(f"{image_url(cloud)}/v2/cache/prune", headers=h)
    assert r.status_code == 200 and r.json() == {"total_files_pruned": 0, "total_bytes_pruned": 0}

    # clear: the cache and the queue are empty
    cloud.os("cached", "image", "clear")
    state = cache_state(cloud, tok)
    assert state == {"cached_images": [], "queued_images": []}
    assert not os.path.exists(os.path.join(cache_dir, img["id"]))

    # deleting a cached image removes its copy
    cloud.os("cached", "image", "queue", img["id"])
    wait_cached(cloud, tok, img["id"])
    cloud.os("image", "delete", img["id"])
    assert img["id"] not in [c["image_id"] for c in cache_state(cloud, tok)["cached_images"]]
    assert not os.path.exists(os.path.join(cache_dir, img["id"]))
    r = requests.delete(f"{image_url(cloud)}/v2/cache/{img['id']}", headers=h)
    assert r.status_code == 404


def test_metadef_tags_paging(cloud):
    ns = unique("OS::Paging")
    cloud.os("image", "metadef", "namespace", "create", ns)
    tok = admin_token(cloud)
    base = f"{image_url(cloud)}/v2/metadefs/namespaces/{ns}/tags"
    h = {"X-Auth-Token": tok}
    for name in ("b", "a", "c"):
        r = requests.post(f"{base}/{name}", headers=h)
        assert r.status_code == 201, r.text
    names = lambda r: [t["name"] for t in r.json()["tags"]]  # noqa: E731
    r = requests.get(base, headers=h)
    assert names(r) == ["c", "a", "b"], "newest first by default"
    r = requests.get(base, headers=h, params={"sort_key": "name", "sort_dir": "asc", "limit": 2})
    assert names(r) == ["a", "b"]
    r = requests.get(base, headers=h, params={"sort_key": "name", "sort_dir": "asc", "marker": "b"})
    assert names(r) == ["c"]
    for bad in ({"sort_dir": "up"}, {"sort_key": "colour"}, {"limit": "-1"}, {"limit": "x"}):
        r = requests.get(base, headers=h, params=bad)
        assert r.status_code == 400, (bad, r.text)
    r = requests.get(base, headers=h, params={"marker": "zz"})
    assert r.status_code == 404
    cloud.os("image", "metadef", "namespace", "delete", ns)
