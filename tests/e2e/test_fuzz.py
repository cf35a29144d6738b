"""Property-based fuzzing of each API from its generated OpenAPI document
(docs/openapi/SERVICE.json): no request may make the server fail with a 5xx."""

import os
import subprocess

import pytest

from conftest import ROOT, VENV_BIN, Cloud


@pytest.mark.parametrize("service", ["identity", "image", "placement", "compute", "metadata"])
def test_api_has_no_server_errors(tmp_path, service):
    c = Cloud(str(tmp_path))
    c.start()
    try:
        token = c.os("token", "issue", "-f", "value", "-c", "id").stdout.strip()
        base = {
            "identity": c.base,
            "image": f"http://127.0.0.1:{c.image_port}",
            "placement": f"http://127.0.0.1:{c.placement_port}",
            "compute": f"http://127.0.0.1:{c.compute_port}",
            "metadata": f"http://127.0.0.1:{c.metadata_port}",
        }[service]
        p = subprocess.run(
            [os.path.join(VENV_BIN, "schemathesis"), "run",
             os.path.join(ROOT, "docs", "openapi", f"{service}.json"),
             "--url", base, "-H", f"X-Auth-Token: {token}",
             "--checks", "not_a_server_error",
             "--max-examples", os.environ.get("FERROSTACK_FUZZ_EXAMPLES", "5"),
             "--seed", "1"],
            capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    finally:
        c.stop()
