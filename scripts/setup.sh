#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine of this kind.
# Idempotent: packages already present are skipped, so re-running is cheap.
set -euo pipefail

DEBIAN_PACKAGES=(
  build-essential pkg-config libssl-dev   # SQLCipher links libcrypto
  libdbus-1-dev                           # OS keychain (Secret Service) client
  dbus gnome-keyring                      # a real Secret Service for the keychain tests
  postgresql                              # the sync server's embedded default
  curl                                    # run.sh waits for the server's health endpoint
)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v cargo >/dev/null || { echo "setup: cargo (Rust) is required" >&2; exit 1; }
