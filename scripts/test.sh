#!/usr/bin/env bash
# Runs every test: formatting, lints, all unit/integration/property tests
# (with a real OS keychain), the UI's type check and Vitest tests, the
# desktop app's end-to-end tests (the real window under Xvfb, driven through
# WebDriver), a bounded fuzzing run of the sync server's API (Schemathesis),
# and a smoke run of the benchmarks.
# This is the README's test command; .ci/run calls it unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

bash scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== UI: type check and unit/component tests (Vitest)"
(cd ui && npm run --silent check && npm test --silent)

echo "== cargo test (inside a private D-Bus session with a real Secret Service)"
log=$(mktemp)
set +e
scripts/with-keyring.sh cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^passed/) s += $i } END { print s + 0 }' "$log")
failed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^failed/) s += $i } END { print s + 0 }' "$log")
rm -f "$log"
if [ "$status" -ne 0 ]; then
  echo "cargo test failed"
  echo "${passed:-0} passed, ${failed:-1} failed"
  exit "$status"
fi

echo "== API fuzzing: Schemathesis against the real sync server, from its OpenAPI document (no server error may occur)"
bash scripts/api-fuzz.sh

echo "== benchmark smoke run (size S, debug build: checks every figure is produced, not timings)"
cargo run -q -p clinic-bench --locked -- --size S --queries 50 --sync-patients 2000 --live-samples 50 --desktop-launches 2 --desktop-idle-secs 3 --ui-rounds 2 --out target/bench-smoke > target/bench-smoke.md
cat target/bench-smoke.md

echo "== done in $(( $(date +%s) - started )) s"
echo "${passed} passed, ${failed} failed"
