#!/usr/bin/env bash
# Runs the product with a demo clinic: installs what is missing, builds the
# desktop app, the `clinic` CLI and the sync server, starts the sync server
# on its embedded default (a private PostgreSQL cluster) with a demo tenant,
# creates an encrypted demo workstation store enrolled with it (size S of
# performance.md: 10,000 patients, 28 staff, a calendar) on first run, and
# opens the desktop app on it. Closing the app (or Ctrl-C) stops the server.
# With no display (CLINIC_NO_WINDOW=1, or no DISPLAY/WAYLAND_DISPLAY) it
# opens a shell with the `clinic` CLI signed in as the front desk instead.
#
# Demo secrets only (never use them for a real clinic):
#   store passphrase  demo-clinic-passphrase
#   staff password    clinic-demo-password   (e.g. reception1@demo.clinic, admin@demo.clinic)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build -q -p clinic-client --bin clinic -p sync-server --bin sync-server -p clinic-desktop --bin clinic-desktop
bin="$(pwd)/target/debug"

export CLINIC_DATA_DIR="${CLINIC_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/clinic-demo}"
export CLINIC_PASSPHRASE="${CLINIC_PASSPHRASE:-demo-clinic-passphrase}"
export CLINIC_PASSWORD="${CLINIC_PASSWORD:-clinic-demo-password}"
export CLINIC_USER="${CLINIC_USER:-reception1@demo.clinic}"
export PATH="$bin:$PATH"

# The sync server, on the embedded default, with the demo tenant.
# Run as root, the embedded PostgreSQL runs as the postgres user, which
# must reach the server's data folder: not under /root.
if [ "$(id -u)" = 0 ]; then default_server_dir=/var/lib/clinic-demo-server; else default_server_dir="${XDG_DATA_HOME:-$HOME/.local/share}/clinic-demo-server"; fi
server_dir="${CLINIC_SERVER_DATA_DIR:-$default_server_dir}"
listen="${CLINIC_LISTEN:-127.0.0.1:8480}"
if [ ! -f "$server_dir/.demo-tenant" ]; then
  echo "Provisioning the demo tenant on the sync server ..."
  set +e
  sync-server --data-dir "$server_dir" tenant create --slug demo --name "Demo Clinic" \
    --admin-email admin@demo.clinic --plan enterprise >/dev/null 2>"$server_dir.log"
  rc=$?
  set -e
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 7 ]; then cat "$server_dir.log" >&2; exit "$rc"; fi
  touch "$server_dir/.demo-tenant"
fi
sync-server --data-dir "$server_dir" --listen "$listen" 2>"$server_dir.log" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null' EXIT
for _ in $(seq 1 60); do
  curl -fs "http://$listen/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$server_dir.log" >&2; exit 1; }
  sleep 0.5
done
echo "Sync server: http://$listen (health: http://$listen/health, metrics: http://$listen/metrics; log: $server_dir.log)"

# First run: enrol the workstation with the server (as the demo tenant's
# administrator), then fill it with the demo clinic. demo-data is one
# transaction: an enrolled store without patients is a first run that was
# interrupted, and simply runs it again.
if [ ! -f "$CLINIC_DATA_DIR/clinic.db" ]; then
  echo "Enrolling the demo workstation in $CLINIC_DATA_DIR ..."
  clinic enroll --server "http://$listen" --tenant demo --user admin@demo.clinic \
    --device-name "Demo front desk" --demo >/dev/null
fi
if clinic info --json | grep -q '"patients": 0'; then
  echo "Creating the demo clinic ..."
  clinic demo-data --size S --seed 1
fi
if clinic sync status --json | grep -q '"enrolled": true'; then
  echo "Syncing with the server ..."
  clinic sync >/dev/null || echo "(sync failed; the workstation works offline and retries live)"
fi
clinic info

if [ "${CLINIC_NO_WINDOW:-0}" != 1 ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
  cat <<MSG

Opening the clinic app on the demo workstation ($CLINIC_DATA_DIR).
  Unlock: the computer's keychain, or the passphrase $CLINIC_PASSPHRASE
  Sign in: $CLINIC_USER (front desk) or admin@demo.clinic, password $CLINIC_PASSWORD
  Keys: Ctrl+K search patients · Alt+N new patient · Ctrl+L lock
The sync server stops when the app closes.
MSG
  # The app syncs live by itself; it must not inherit the CLI's secrets.
  env -u CLINIC_PASSPHRASE -u CLINIC_PASSWORD -u CLINIC_USER clinic-desktop || true
  exit 0
fi

cat <<MSG

The demo clinic is ready. You are signed in as $CLINIC_USER.
Try:
  clinic patient search smi            # search as you type: names, phone, DOB, number
  clinic patient search "10/02/1975"
  clinic patient add --first-name Ada --last-name Lovelace --dob 1985-12-10 --phone "020 7946 0958"
  clinic patient show P0000013
  clinic --user admin@demo.clinic user list
  clinic audit verify
  clinic sync status                   # online?, pending changes, last sync, conflicts
  clinic --help
MSG
if [ -t 0 ] && [ -t 1 ]; then
  echo "(type 'exit' to leave; the sync server stops with the shell)"
  bash --norc -i || true
else
  echo "(no terminal: the sync server keeps running until this script is stopped)"
  wait "$server_pid"
fi
