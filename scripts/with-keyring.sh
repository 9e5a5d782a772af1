#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked
# gnome-keyring Secret Service, so the OS-keychain code path is exercised
# against a real keychain on headless machines (CI, servers).
set -euo pipefail
if [ -z "${CLINIC_IN_KEYRING_SESSION:-}" ]; then
  export CLINIC_IN_KEYRING_SESSION=1
  exec dbus-run-session -- "$0" "$@"
fi
# A throwaway login keyring, unlocked with an empty password.
export XDG_DATA_HOME="${XDG_DATA_HOME:-$(mktemp -d)}"
eval "$(printf '\n' | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)" || true
exec "$@"
