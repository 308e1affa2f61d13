#!/bin/sh
# Install (or remove) the MailBeacon tarball system-wide: /opt/MailBeacon, a `mailbeacon`
# command, the menu entry and icon; --autostart also starts it at every user's login.
#   sudo ./install.sh [--autostart] | sudo ./install.sh --uninstall
set -eu
PREFIX=${PREFIX:-/opt}
HERE=$(cd "$(dirname "$0")" && pwd)
APPS=/usr/share/applications
ICONS=/usr/share/icons/hicolor/scalable/apps
AUTOSTART=/etc/xdg/autostart

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$PREFIX/MailBeacon"
    rm -f /usr/local/bin/mailbeacon "$APPS/mailbeacon.desktop" "$ICONS/mailbeacon.svg" \
          "$AUTOSTART/mailbeacon.desktop"
    echo "MailBeacon removed (users' settings and history stay in their home folders)."
    exit 0
fi

mkdir -p "$PREFIX" "$APPS" "$ICONS"
rm -rf "$PREFIX/MailBeacon.new"
cp -a "$HERE/MailBeacon" "$PREFIX/MailBeacon.new"
rm -rf "$PREFIX/MailBeacon"
mv "$PREFIX/MailBeacon.new" "$PREFIX/MailBeacon"
ln -sf "$PREFIX/MailBeacon/MailBeacon" /usr/local/bin/mailbeacon
[ -f "$HERE/mailbeacon.desktop" ] && install -m 644 "$HERE/mailbeacon.desktop" "$APPS/mailbeacon.desktop"
[ -f "$HERE/mailbeacon.svg" ] && install -m 644 "$HERE/mailbeacon.svg" "$ICONS/mailbeacon.svg"
if [ "${1:-}" = "--autostart" ] && [ -f "$HERE/mailbeacon.desktop" ]; then
    mkdir -p "$AUTOSTART"
    install -m 644 "$HERE/mailbeacon.desktop" "$AUTOSTART/mailbeacon.desktop"
fi
echo "MailBeacon installed in $PREFIX/MailBeacon; run: mailbeacon"
