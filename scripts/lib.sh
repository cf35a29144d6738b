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

# qemu-system-x86 and qemu-img of one release. Debian 12's machines may carry qemu-utils
# from bookworm-backports; qemu-system-x86 must then come from there too (the two break
# each other across releases), so the backports suite is added when that is the case.
ensure_qemu() {
  if command -v qemu-system-x86_64 >/dev/null 2>&1 && command -v qemu-img >/dev/null 2>&1; then
    return
  fi
  local target=()
  if dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null | grep -q bpo12; then
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "==> adding Debian bookworm-backports (qemu-utils here comes from it)"
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
        as_root tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
    fi
    target=(-t bookworm-backports)
  fi
  echo "==> installing QEMU"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${target[@]}" qemu-system-x86 qemu-utils >/dev/null
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
