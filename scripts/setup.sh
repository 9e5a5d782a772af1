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
  libwebkit2gtk-4.1-dev libxdo-dev librsvg2-dev   # the Tauri desktop app (WebKitGTK)
  webkit2gtk-driver xvfb x11-apps         # end-to-end tests: WebKitWebDriver in a virtual X display, xwd screenshots
  poppler-utils                           # printout tests read PDFs back (pdftotext, pdfinfo, pdffonts, pdfimages)
  python3 python3-venv                    # Schemathesis (scripts/api-fuzz.sh) in a virtual environment of its own
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

# Node.js and npm build the desktop UI (ui/); the machine's own are used when present.
if ! command -v npm >/dev/null; then
  echo "setup: installing Node.js and npm"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi

# tauri-driver: the WebDriver front for the desktop app (end-to-end tests).
TAURI_DRIVER_VERSION=2.0.4
if ! cargo install --list 2>/dev/null | grep -q "^tauri-driver v$TAURI_DRIVER_VERSION:"; then
  echo "setup: installing tauri-driver $TAURI_DRIVER_VERSION"
  cargo install --quiet --locked tauri-driver --version "$TAURI_DRIVER_VERSION"
fi

# Schemathesis, which fuzzes the sync server's API from its OpenAPI document
# (scripts/api-fuzz.sh), pinned with everything it needs, in a virtual
# environment of its own; made again only when the pinned list changes.
FUZZ_VENV="${CLINIC_FUZZ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/clinic/api-fuzz-venv}"
FUZZ_REQUIREMENTS="$(dirname "$0")/api-fuzz-requirements.txt"
if ! cmp -s "$FUZZ_REQUIREMENTS" "$FUZZ_VENV/requirements.txt"; then
  echo "setup: installing Schemathesis into $FUZZ_VENV"
  python3 -m venv --clear "$FUZZ_VENV"
  "$FUZZ_VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$FUZZ_REQUIREMENTS"
  cp "$FUZZ_REQUIREMENTS" "$FUZZ_VENV/requirements.txt"
fi

# The UI's packages (exactly as locked) and its build, which the desktop
# binary embeds at compile time.
(cd "$(dirname "$0")/../ui" && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent build)
