#!/usr/bin/env bash
# `make run`: all four daemons on this machine, the way systemd runs them. Each socket is bound
# first by systemd-socket-activate, which hands it over as LISTEN_FDS/LISTEN_FDNAMES (rpc, and
# webhook for ingest) on the first connection; a crashed daemon is started again, as with
# Restart=on-failure. State, sockets, credentials (a generated dev master key) and the config
# live under one folder, .run/ by default. Local Graph API and HubSpot doubles stand in for
# the vendors, so a lead can travel from webhook to CRM record without any account.
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
BIN_DIR=${BIN_DIR:-$REPO/.build/debug}
DEV=${LEADLINE_DEV_DIR:-$REPO/.run}
WEBHOOK=${LEADLINE_DEV_WEBHOOK:-127.0.0.1:8470}
GRAPH_PORT=${LEADLINE_DEV_GRAPH_PORT:-8471}
HUBSPOT_PORT=${LEADLINE_DEV_HUBSPOT_PORT:-8472}
USER_NAME=$(id -un)

for binary in leadline-vault leadline-ingest leadline-router leadline-audit leadctl leadline-doubles; do
  [ -x "$BIN_DIR/$binary" ] || { echo "run-local: $BIN_DIR/$binary is missing; run 'make build' first" >&2; exit 1; }
done
command -v systemd-socket-activate >/dev/null || { echo "run-local: systemd-socket-activate missing; run 'make deps'" >&2; exit 1; }

mkdir -p "$DEV/run" "$DEV/state" "$DEV/credentials" "$DEV/logs"
chmod 700 "$DEV/credentials"
[ -s "$DEV/credentials/master-key" ] || head -c 32 /dev/urandom > "$DEV/credentials/master-key"
[ -s "$DEV/credentials/audit-signing-key" ] || head -c 32 /dev/urandom > "$DEV/credentials/audit-signing-key"
chmod 600 "$DEV/credentials/"*

CONFIG="$DEV/leadline.toml"
cat > "$CONFIG" <<TOML
# Development config written by 'make run' (systemd/leadline.toml is the production sample).
[paths]
runtime_dir = "$DEV/run"
state_dir = "$DEV/state"

[access]
admins = ["$USER_NAME"]
submitters = ["$USER_NAME"]

[access.services]   # in development all four daemons run as you
vault = "$USER_NAME"
ingest = "$USER_NAME"
router = "$USER_NAME"
audit = "$USER_NAME"

[meta]
app_id = "1234567890"
graph_base_url = "http://127.0.0.1:$GRAPH_PORT"   # the local Graph API double, never in production

[ingest]
webhook_listen = "$WEBHOOK"
reconcile_interval_seconds = 0
TOML

pids=()
REAL_BIN_DIR=$(readlink -f "$BIN_DIR")
cleanup() {
  trap - INT TERM EXIT
  echo; echo "stopping Leadline..."
  # The restart loops first (so nothing comes back), then the daemons they exec'd, as systemctl stop would.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # Only this run's daemons: others from the same build (another `make run`, the tests) carry
  # another LEADLINE_CONFIG and are left alone.
  for pid in $(pgrep -f "^$REAL_BIN_DIR/leadline-(vault|ingest|router|audit)" 2>/dev/null); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "LEADLINE_CONFIG=$CONFIG"; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  pkill -TERM -f "^systemd-socket-activate -l $DEV/run/" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"$BIN_DIR/leadline-doubles" --graph-port "$GRAPH_PORT" --graph-any-lead --hubspot-port "$HUBSPOT_PORT" >>"$DEV/logs/doubles.log" 2>&1 &
pids+=($!)

activate() {
  local service=$1; shift
  local child="" stopping=""
  # On TERM, stop the daemon and reap it here, as systemd would: killed outright, this loop
  # would leave its daemon to an init that may never reap it.
  trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM
  while [ -z "$stopping" ]; do
    rm -f "$DEV/run/$service.sock"
    systemd-socket-activate -l "$DEV/run/$service.sock" "$@" \
      -E LEADLINE_CONFIG="$CONFIG" -E CREDENTIALS_DIRECTORY="$DEV/credentials" -E PATH="$PATH" -E HOME="$HOME" \
      "$BIN_DIR/leadline-$service" >>"$DEV/logs/$service.log" 2>&1 &
    child=$!
    # wait returns early when the trap runs; wait again until the daemon is really gone.
    while kill -0 "$child" 2>/dev/null; do wait "$child" 2>/dev/null || true; done
    child=""
    [ -n "$stopping" ] || sleep 1   # RestartSec=1
  done
}
for service in vault router audit; do activate "$service" --fdname=rpc & pids+=($!); done
activate ingest -l "$WEBHOOK" --fdname=rpc:webhook & pids+=($!)

for service in vault ingest router audit; do
  for _ in $(seq 100); do [ -S "$DEV/run/$service.sock" ] && break; sleep 0.05; done
done

export LEADLINE_CONFIG="$CONFIG"
if [ -x "$REPO/systemd/seed-local.sh" ]; then
  BIN_DIR="$BIN_DIR" HUBSPOT_PORT="$HUBSPOT_PORT" bash "$REPO/systemd/seed-local.sh" || echo "run-local: seeding the sample setup failed (see above)"
fi

cat <<MSG

Leadline is running: four socket-activated daemons, state and logs in $DEV/.
  Meta webhook endpoint  http://$WEBHOOK/webhooks/meta   (Graph API double on :$GRAPH_PORT, HubSpot double on :$HUBSPOT_PORT)

Talk to it with leadctl:
  export LEADLINE_CONFIG=$CONFIG
  $BIN_DIR/leadctl status
  $BIN_DIR/leadctl discover vault

or with any plain socket client (one JSON-RPC request per line):
  printf '{"jsonrpc":"2.0","method":"service.ping","id":1}\n' | python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect("$DEV/run/vault.sock"); s.sendall(sys.stdin.buffer.read()); print(s.makefile().readline(), end="")'

Logs: tail -f $DEV/logs/*.log        Press Ctrl-C to stop.
MSG
wait
