"""`mailbeacon tray` (the default command): load the configuration and run the tray light."""

from __future__ import annotations

import argparse

from app import config as config_mod


def run(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    from app.ui.app import run_tray

    return run_tray(config)
