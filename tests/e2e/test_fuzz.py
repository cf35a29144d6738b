"""Property-based fuzzing of the identity API from its generated OpenAPI document
(docs/openapi/identity.json): no request may make the server fail with a 5xx."""

import os
import subprocess

from conftest import ROOT, VENV_BIN, Cloud


def test_identity_api_has_no_server_errors(tmp_path):
    c = Cloud(str(tmp_path))
    c.start()
    try:
        token = c.os("token", "issue", "-f", "value", "-c", "id").stdout.strip()
        p = subprocess.run(
            [os.path.join(VENV_BIN, "schemathesis"), "run",
             os.path.join(ROOT, "docs", "openapi", "identity.json"),
             "--url", c.base, "-H", f"X-Auth-Token: {token}",
             "--checks", "not_a_server_error",
             "--max-examples", os.environ.get("FERROSTACK_FUZZ_EXAMPLES", "5"),
             "--seed", "1"],
            capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    finally:
        c.stop()
