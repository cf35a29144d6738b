#!/usr/bin/env bash
# A real RabbitMQ broker on loopback for the bus crate's AMQP tests and benchmarks.
#
#   scripts/rabbitmq.sh            install (apt) if missing, start if stopped, wait until it
#                                  answers, print the transport URL on stdout
#   . scripts/rabbitmq.sh; url=$(rabbitmq_url)    the same from another script
#
# Idempotent: a broker that is already running is left alone. Works without systemd
# (containers): `service rabbitmq-server start`, else `rabbitmq-server -detached` as the
# rabbitmq user. Progress goes to stderr; only the URL goes to stdout, e.g.
#
#   FERROSTACK_TEST_RABBIT_URL=$(scripts/rabbitmq.sh) cargo test -p bus

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FS_RABBIT_URL_DEFAULT="amqp://guest:guest@127.0.0.1:5672/%2f"

rabbit_port_open() {
  (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null
}

rabbit_ready() {
  rabbit_port_open && as_root timeout 20 rabbitmqctl -q status >/dev/null 2>&1
}

rabbitmq_url() {
  ensure_packages rabbitmq-server >&2
  if ! rabbit_ready; then
    echo "==> starting rabbitmq-server" >&2
    # The node name is rabbit@<short hostname>: that name must resolve.
    local host
    host=$(hostname -s 2>/dev/null || hostname)
    if [ -n "$host" ] && ! getent hosts "$host" >/dev/null 2>&1; then
      echo "127.0.0.1 $host" | as_root tee -a /etc/hosts >/dev/null
    fi
    if ! as_root service rabbitmq-server start >&2 2>&1; then
      echo "==> 'service rabbitmq-server start' failed; starting it detached" >&2
      as_root mkdir -p /var/lib/rabbitmq /var/log/rabbitmq /run/rabbitmq
      as_root chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq /run/rabbitmq
      as_root runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq rabbitmq-server -detached >&2 2>&1 || true
    fi
  fi
  local i ok=""
  for i in $(seq 1 120); do
    if rabbit_port_open && as_root timeout 60 rabbitmqctl -q await_startup >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 1
  done
  if [ -z "$ok" ]; then
    echo "rabbitmq-server did not come up; see /var/log/rabbitmq/" >&2
    return 1
  fi
  # The guest user may only log in from loopback, which is where the tests connect from.
  echo "==> rabbitmq-server is up" >&2
  echo "${FERROSTACK_TEST_RABBIT_URL:-$FS_RABBIT_URL_DEFAULT}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  rabbitmq_url
fi
