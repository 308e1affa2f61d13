#!/usr/bin/env bash
# Installs what the demo needs on a fresh Debian/Ubuntu machine, then starts it.
#   bash scripts/demo.sh [mailbeacon demo arguments]
# Debian packages (Qt's system libraries) are installed when run as root, else listed in one
# line; Python packages go into .venv/ in the clone (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

debs=(
  "${venv_debs[@]}"                    # python3 -m venv
  "${qt_debs[@]}"                      # Qt's xcb platform libraries: without them Qt aborts
)
extras=demo,hub                        # the hub extra: the demo runs a local hub too

setup_debs "${debs[@]}"
setup_venv "$extras"
exec .venv/bin/mailbeacon demo "$@"
