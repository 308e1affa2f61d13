"""`mailbeacon tray` (the default command): load the configuration and run the tray light."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from app import config as config_mod
from app.errors import MailBeaconError


class NoDesktop(MailBeaconError):
    """The tray was started where there is no desktop to show it on (an SSH session, a service)."""

    exit_status = 69


def require_desktop(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> None:
    """On X11/Wayland systems Qt aborts the process when it finds no display; say why instead."""
    if platform in ("win32", "darwin") or env.get("QT_QPA_PLATFORM"):
        return
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        raise NoDesktop(
            "no desktop session here (DISPLAY and WAYLAND_DISPLAY are not set); the tray needs "
            "one. In a terminal, `mailbeacon check` runs the same diagnosis."
        )


def run(args: argparse.Namespace) -> int:
    def load() -> config_mod.Config:
        return config_mod.load(args.config)

    try:
        require_desktop()
    except NoDesktop:
        load()  # with nothing to show it on, a config error is still one line and exit 78
        raise
    from app.ui.app import run_tray

    # with a desktop, a config error shows in the tray itself (app.ui.startup_error): started
    # from autostart or a shortcut, nobody reads standard error; the set-up window saves into
    # the config and the tray reads it again from the same place
    return run_tray(load, load_config=load,
                    config_file=Path(args.config).expanduser() if args.config else None)
