#!/usr/bin/env bash
# Fuzzes the sync server's HTTP API from its own OpenAPI document with
# Schemathesis: starts the real sync-server binary on 127.0.0.1 with a
# throwaway embedded PostgreSQL and provisioned clinics, enrols a
# workstation, and sends generated requests, valid and invalid, to every
# documented operation, each with the credential of the security scheme it
# declares (a signed-in administrator, the workstation, the operator).
# Fails on any server error (5xx, or an answer that never came).
#
# Bounded: CLINIC_FUZZ_SECONDS (default 90) of generated requests, after the
# build and the cluster's start. CLINIC_FUZZ_SEED (default 1) makes a run
# repeatable; another seed explores elsewhere. The server's log and the
# JUnit report are kept in target/api-fuzz/.
# Part of ./scripts/test.sh; alone: scripts/setup.sh once, then this.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${CLINIC_FUZZ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/clinic/api-fuzz-venv}"
if [ ! -x "$venv/bin/schemathesis" ]; then
  # mfa/setup is not fuzzed: it asks for the signed-in administrator's own
# password, and five wrong ones lock that account (tests/server.rs covers
# it), which would end every signed-in operation of the run.
echo "api-fuzz: Schemathesis is not installed in $venv; run scripts/setup.sh" >&2
  exit 1
fi
seconds="${CLINIC_FUZZ_SECONDS:-90}"
seed="${CLINIC_FUZZ_SEED:-1}"

# The data folder (with the embedded cluster inside it) goes when this
# script ends, however it ends.
work=$(mktemp -d /tmp/clinic-api-fuzz.XXXXXX)
chmod 755 "$work"   # as root the cluster runs as postgres, which must reach it
data="$work/data"
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf -- "$work"
}
trap cleanup EXIT

cargo build -q --locked -p sync-server --bin sync-server
target="${CARGO_TARGET_DIR:-target}"
# A copy: a build in another checkout sharing the target folder cannot swap it mid-run.
server="$work/sync-server"
cp "$target/debug/sync-server" "$server"
out="$target/api-fuzz"
rm -rf "$out" && mkdir -p "$out"

random() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# Secrets travel in the environment, in files and on stdin, never on a command line.
export CLINIC_FUZZ_TENANT=fuzz CLINIC_FUZZ_EMAIL=admin@fuzz.example   # the signed-in administrator
export CLINIC_FUZZ_PASSWORD="fuzz-$(random)"
export CLINIC_OPERATOR_TOKEN="$(random)"
export CLINIC_FUZZ_OPERATOR="Operator $CLINIC_OPERATOR_TOKEN"
unset CLINIC_DATABASE_URL
# Schemathesis signs in again whenever a fuzzed request ended its session,
# all from 127.0.0.1: the rate limits (tested in tests/server.rs) are raised.
export CLINIC_RATE_LIMIT_SCALE=1000

if ! CLINIC_PASSWORD="$CLINIC_FUZZ_PASSWORD" "$server" --data-dir "$data" tenant create \
  --slug "$CLINIC_FUZZ_TENANT" --name "Fuzz Clinic" --admin-email "$CLINIC_FUZZ_EMAIL" \
  --plan enterprise >/dev/null 2>"$out/tenant.log"; then
  cat "$out/tenant.log" >&2
  exit 1
fi

CLINIC_LOG_JSON=1 "$server" --data-dir "$data" --listen 127.0.0.1:0 >"$out/server.log" 2>&1 &
pid=$!
addr=""
for _ in $(seq 1 120); do
  addr=$(grep -o '"addr":"[^"]*"' "$out/server.log" | head -n 1 | cut -d '"' -f 4 || true)
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$out/server.log" >&2; exit 1; }
  sleep 0.5
done
[ -n "$addr" ] || { echo "api-fuzz: the server did not start" >&2; cat "$out/server.log" >&2; exit 1; }
base="http://$addr"

# POSTs the JSON body on stdin to `path`, with an Authorization header when
# given (through a file), and prints the answer's `field`.
post() {
  local path=$1 field=$2 auth=${3:-}
  local headers=(-H 'content-type: application/json')
  if [ -n "$auth" ]; then
    printf 'authorization: %s\n' "$auth" >"$work/auth-header"
    headers+=(-H @"$work/auth-header")
  fi
  curl -fsS "${headers[@]}" --data-binary @- "$base$path" |
    "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$field"
  rm -f "$work/auth-header"
}

# The workstation belongs to a clinic of its own: the fuzzed administrator
# revokes every device it finds, and the workstation must stay enrolled for
# the sync operations to be reached beyond their sign-in check.
printf '{"slug": "fuzz-desk", "name": "Fuzz Desk Clinic", "admin_email": "admin@fuzz-desk.example", "admin_password": "%s"}' \
  "$CLINIC_FUZZ_PASSWORD" | post /admin/tenants tenant_id "$CLINIC_FUZZ_OPERATOR" >/dev/null
desk_admin=$(printf '{"tenant": "fuzz-desk", "email": "admin@fuzz-desk.example", "password": "%s"}' \
  "$CLINIC_FUZZ_PASSWORD" | post /v1/auth/login access_token)
credential=$(echo '{"name": "Fuzz desk"}' | post /v1/devices device_credential "Bearer $desk_admin")
export CLINIC_FUZZ_DEVICE="Device $credential"

# mfa/setup is not fuzzed: it asks for the signed-in administrator's own
# password, and five wrong ones lock that account (tests/server.rs covers
# it), which would end every signed-in operation of the run.
echo "api-fuzz: Schemathesis $("$venv/bin/schemathesis" --version | awk '{print $NF}') against $base for ${seconds} s (seed $seed)"
started=$(date +%s)
set +e
"$venv/bin/schemathesis" --config-file scripts/api-fuzz.toml run "$base/openapi.json" \
  --checks not_a_server_error \
  --exclude-path /v1/auth/mfa/setup \
  --max-time "$seconds" \
  --seed "$seed" \
  --workers 2 \
  --request-timeout 60 \
  --generation-database none \
  --report junit --report-dir "$out" \
  --no-color
status=$?
set -e
echo "api-fuzz: finished in $(( $(date +%s) - started )) s"
if grep -q '"level":"ERROR"' "$out/server.log"; then
  echo "api-fuzz: the server logged errors (see $out/server.log):" >&2
  grep '"level":"ERROR"' "$out/server.log" | head -n 20 >&2
  status=1
fi
exit "$status"
