# Shared set-up for the README's two commands (scripts/demo.sh, scripts/test.sh); sourced, not run.
#
#   source scripts/setup.sh
#   setup_debs "${debs[@]}"        # Debian packages: installed when root, else listed in one line
#   setup_venv test,demo,packaging # .venv/ in the clone, with MailBeacon and these extras in it
#
# Both steps do nothing the second time unless something changed, so the commands are cheap
# to run again. Nothing here is a MAILBEACON_ variable: those are the app's settings.

# The system libraries Qt's xcb platform plugin loads (PySide6's wheels do not carry them);
# without them the tray aborts as soon as it opens a window. Both commands need these.
qt_debs=(
  libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xkb1
  libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxcb-xfixes0
)
# `python3 -m venv` needs ensurepip, which Debian and Ubuntu ship separately
venv_debs=(python3-venv)

MB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MB_VENV=$MB_ROOT/.venv

setup_debs() {
  command -v dpkg-query >/dev/null || {
    echo "setup: not a Debian/Ubuntu system; make sure these are installed: $*" >&2
    return 0
  }
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "setup: missing Debian packages (as root: apt-get install ${missing[*]})" >&2
    return 0
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  # a lock held by another apt (unattended upgrades, a neighbour's install) is waited for
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

setup_venv() {
  local extras=$1 python=${MB_PYTHON:-python3}
  # a venv left half-made (python3-venv was missing) or moved from elsewhere is made again
  if [[ -d $MB_VENV ]] && ! "$MB_VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    echo "setup: $MB_VENV is unusable; making it again"
    rm -rf "$MB_VENV"
  fi
  if [[ ! -d $MB_VENV ]]; then
    echo "setup: making the virtual environment $MB_VENV"
    "$python" -m venv "$MB_VENV"
  fi
  # pip runs again only when pyproject.toml or the wanted extras changed since the last run
  local stamp=$MB_VENV/.mailbeacon-setup want
  want="$extras $(sha256sum "$MB_ROOT/pyproject.toml" | cut -c1-16)"
  if [[ -f $stamp ]] && grep -qxF "$want" "$stamp"; then
    return 0
  fi
  echo "setup: installing MailBeacon with [$extras] into $MB_VENV"
  "$MB_VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$MB_ROOT[$extras]"
  echo "$want" >>"$stamp"
}
