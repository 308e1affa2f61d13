#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian/Ubuntu machine, then runs every test.
#   bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(
  dovecot-imapd dovecot-pop3d          # the real IMAP/POP3 server the probes are tested against
  iproute2                             # network namespaces for the cut-cable tests
  xvfb trayer xdotool imagemagick      # a real desktop with a tray host, clicks, screenshots
  libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xkb1
  libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxcb-xfixes0
  msitools wixl                        # wixl builds the MSI, msiinfo/msibuild inspect and patch it
  binutils                             # objdump/strip for the frozen app
  postgresql                           # the hub's tests start a private PostgreSQL cluster
  chromium                             # the dashboard's browser tests (Playwright drives it)
)
missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing Debian packages (install them as root): ${missing[*]}" >&2
  fi
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test,demo,packaging,hub]'
python3 -m ruff check app tests benchmarks
exec python3 -m pytest -p no:cacheprovider "$@"
