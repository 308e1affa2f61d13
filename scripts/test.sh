#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian/Ubuntu machine, then runs every test.
#   bash scripts/test.sh [--no-setup] [pytest arguments]
# Debian packages are installed when run as root (else listed in one line), Python packages
# into .venv/ in the clone (scripts/setup.sh). --no-setup skips both and uses .venv/ as it is:
# for a second run that must not reach the network (CI's shifted-clock run).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

# Every Debian package a test needs, one line each with why; add yours here.
debs=(
  "${venv_debs[@]}"                    # python3 -m venv
  "${qt_debs[@]}"                      # Qt's xcb platform libraries (scripts/setup.sh)
  dovecot-imapd dovecot-pop3d          # the real IMAP/POP3 server the probes are tested against
  iproute2                             # network namespaces for the cut-cable tests
  xvfb trayer xdotool imagemagick      # a real desktop with a tray host, clicks, screenshots
  dbus                                 # a private session bus for the desktop notification tests
  msitools wixl                        # wixl builds the MSI, msiinfo/msibuild inspect and patch it
  wine64                               # Wine's msiexec installs and upgrades the MSI for real
  binutils                             # objdump/strip for the frozen app
  openssl                              # names CAs by subject hash for the OS trust store tests
  faketime gcc libc6-dev               # shared/tools/shifted-clock (CI's run 400 days ahead)
  postgresql                           # the hub's tests start a private PostgreSQL cluster
  chromium                             # the dashboard's browser tests (Playwright drives it)
  wrk prometheus-alertmanager          # benchmarks/hub_ingest.py: the load and the reference
)
# Python extras installed into .venv/; add yours here.
extras=test,demo,packaging,hub

if [[ ${1:-} == --no-setup ]]; then
  shift
  [[ -x .venv/bin/python ]] || { echo "test.sh: --no-setup needs .venv/ from a first run" >&2; exit 69; }
else
  setup_debs "${debs[@]}"
  setup_venv "$extras"
fi

export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
# as if .venv/ were activated: tests that run tools by name (check-jsonschema) find its copies
export PATH="$PWD/.venv/bin:$PATH"
.venv/bin/python -m ruff check app tests benchmarks
exec .venv/bin/python -m pytest -p no:cacheprovider -ra "$@"
