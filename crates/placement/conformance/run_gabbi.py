"""Run placement's gabbi YAML files against a live placement (see run.sh)."""
import os
import shutil
import sys
import tempfile
import unittest

import yaml
from gabbi import driver

import gabbi_fixtures

PORT = int(os.environ["PLACEMENT_PORT"])
GROUP = os.environ.get("GROUP", "default")
# Files needing another policy setup run in their own group (own server).
GROUP_FIXTURES = {"open": {"OpenPolicyFixture"}, "secure": {"SecureRBACPolicyFixture"}}
# ferrostack does not implement CORS.
SKIP_FIXTURES = {"CORSFixture"}


def main():
    src = sys.argv[1]
    work = tempfile.mkdtemp(prefix="gabbits-")
    special = set().union(*GROUP_FIXTURES.values())
    for f in sorted(os.listdir(src)):
        if not f.endswith(".yaml"):
            continue
        fx = set(yaml.safe_load(open(os.path.join(src, f))).get("fixtures", []))
        if fx & SKIP_FIXTURES:
            continue
        if GROUP == "default" and fx & special:
            continue
        if GROUP != "default" and not fx & GROUP_FIXTURES[GROUP]:
            continue
        shutil.copy(os.path.join(src, f), work)
    suite = driver.build_tests(work, unittest.TestLoader(), host="127.0.0.1", port=PORT,
                               fixture_module=gabbi_fixtures, test_loader_name="placement")
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if result.wasSuccessful() else 1)


main()
