#!/usr/bin/env bash
# Runs the product with a demo clinic: installs what is missing, builds the
# `clinic` workstation CLI, creates an encrypted demo workstation store
# (size S of performance.md: 10,000 patients, 28 staff) on first run, and
# opens a shell signed in as the front desk.
#
# Demo secrets only (never use them for a real clinic):
#   store passphrase  demo-clinic-passphrase
#   staff password    clinic-demo-password   (e.g. reception1@demo.clinic, admin@demo.clinic)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build -q -p clinic-client --bin clinic
bin="$(pwd)/target/debug"

export CLINIC_DATA_DIR="${CLINIC_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/clinic-demo}"
export CLINIC_PASSPHRASE="${CLINIC_PASSPHRASE:-demo-clinic-passphrase}"
export CLINIC_PASSWORD="${CLINIC_PASSWORD:-clinic-demo-password}"
export CLINIC_USER="${CLINIC_USER:-reception1@demo.clinic}"
export PATH="$bin:$PATH"

# demo-data is one transaction: a store without patients is a first run
# that was interrupted, and simply runs it again.
if [ ! -f "$CLINIC_DATA_DIR/clinic.db" ] || clinic info --json | grep -q '"patients": 0'; then
  echo "Creating the demo clinic in $CLINIC_DATA_DIR ..."
  clinic demo-data --size S --seed 1
fi
clinic info

cat <<MSG

The demo clinic is ready. You are signed in as $CLINIC_USER.
Try:
  clinic patient search smi            # search as you type: names, phone, DOB, number
  clinic patient search "10/02/1975"
  clinic patient add --first-name Ada --last-name Lovelace --dob 1985-12-10 --phone "020 7946 0958"
  clinic patient show P0000013
  clinic --user admin@demo.clinic user list
  clinic audit verify
  clinic --help
MSG
if [ -t 0 ] && [ -t 1 ]; then
  echo "(type 'exit' to leave)"
  exec bash --norc -i
fi
