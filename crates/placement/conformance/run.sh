#!/usr/bin/env bash
# Run OpenStack placement's own functional test suite (its gabbi YAML files) against
# ferrostack's placement, in placement's three policy setups: defaults (with scope
# enforcement, as oslo.policy now defaults), everything open, and secure RBAC.
#
#   crates/placement/conformance/run.sh PLACEMENT_CHECKOUT [PYTHON]
#
# PLACEMENT_CHECKOUT is a clone of opendev.org/openstack/placement; PYTHON one with
# gabbi and PyYAML installed (python3 -m venv /tmp/gv && /tmp/gv/bin/pip install gabbi).
# Known: "bad content length not int" errors in the client (httpx refuses to send a
# non-numeric Content-Length); tests/http.rs covers that case in-process.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../../.."
src="$1/placement/tests/functional/gabbits"
python="${2:-python3}"
cargo build -q --manifest-path "$root/Cargo.toml" -p placement --example noauth
bin="$root/target/debug/examples/noauth"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# every rule open but admin_api (placement's OpenPolicyFixture)
grep -o '"placement:[a-z_:]*"\|"[a-z_]*_api"' "$here/../src/policy_defaults.rs" | sort -u |
  grep -v '"admin_api"' | sed 's/$/: "@"/' > "$tmp/open.yaml"
# only the new defaults (enforce_new_defaults = true)
echo '"service_api": "role:service"' > "$tmp/secure.yaml"
status=0
run() {  # group port policy-file
  local db="$tmp/$1.db" port="$2"
  "$bin" "127.0.0.1:$port" "$db" "$3" enforce_scope > "$tmp/$1.log" 2>&1 &
  local pid=$!
  for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  echo "== $1"
  (cd "$here" && GROUP="$1" PLACEMENT_PORT="$port" PLACEMENT_URL="http://127.0.0.1:$port" \
     PLACEMENT_DB="$db" "$python" run_gabbi.py "$src") || status=1
  kill "$pid"
}
run default 18781 ""
run open 18782 "$tmp/open.yaml"
run secure 18783 "$tmp/secure.yaml"
exit $status
