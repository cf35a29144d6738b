# Shared helpers for ferrostack's scripts (sourced, not run).

# Run as root, or through sudo when available.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Install Debian packages that are missing (no-op when all are present).
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Make sure cargo exists (rustup when it does not).
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      ensure_packages curl ca-certificates
      echo "==> installing Rust with rustup"
      curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy -c rustfmt
      export PATH="$HOME/.cargo/bin:$PATH"
    fi
  fi
}

# A Python venv holding the real OpenStack clients from PyPI (tests/e2e/requirements.txt).
ensure_client_venv() {
  local venv="$1" req="$2"
  local stamp="$venv/.ferrostack-req"
  if [ -x "$venv/bin/openstack" ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
    return
  fi
  command -v python3 >/dev/null 2>&1 || ensure_packages python3
  python3 -m venv "$venv" 2>/dev/null || { ensure_packages python3-venv; python3 -m venv "$venv"; }
  echo "==> installing OpenStack clients into $venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$req"
  cp "$req" "$stamp"
}
