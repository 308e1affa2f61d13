"""`mailbeacon demo`: the tray watching an embedded loopback SMTP server, with an outage switch."""

from __future__ import annotations

import argparse
import os
from typing import Any

from app import config as config_mod
from app.demo import Demo, require_demo_packages


def add_switches(tray: Any, demo: Demo) -> tuple[Any, Any]:
    """The tray's "Simulate outage" and "End outage" items; only the one that does something
    now is enabled, so a newcomer sees which state the demo server is in."""
    simulate = end = None

    def sync() -> None:
        simulate.setEnabled(not demo.outage)
        end.setEnabled(demo.outage)

    def outage() -> None:
        demo.simulate_outage()
        sync()
        tray.check_now()

    def recover() -> None:
        demo.end_outage()
        sync()
        tray.check_now()

    # the demo's tray has a throw-away config: a login item for it would start a MailBeacon
    # that checks nothing at every login, so the demo never touches the user's login items
    tray.keep_login_items()
    simulate = tray.add_action("Simulate outage", outage)
    end = tray.add_action("End outage", recover)
    sync()
    return simulate, end


def run(args: argparse.Namespace) -> int:
    from app.commands.tray import require_desktop

    require_demo_packages()
    require_desktop()
    demo = Demo()
    demo.start()
    # the demo keeps its own history, outbox and tray instance apart from a real MailBeacon
    os.environ["MAILBEACON_HOME"] = str(demo.home)
    try:
        config = config_mod.load(demo.config_path, system_file=None, policy_file=None, registry=False)
    except BaseException:
        demo.stop()
        raise
    print("MailBeacon demo: everything runs on this computer (loopback only).")
    for name, what in demo.running.items():
        print(f"  {name:8} {what}")
    print('Use the tray menu: "Simulate outage" turns the light red, "End outage" green again;')
    print('"Report a problem…" sends a report to the webhook above, which prints it here.')
    print("Post an incident as IT would, and every tray shows it within 10 s:")
    print(f'  mailbeacon feed post --file {demo.feed_path} --title "Mail server disk full" '
          '--message "We are freeing space." --next-update 30m')
    print(f"  mailbeacon feed resolve --file {demo.feed_path} --id <the id it printed>")
    print("Quit from the tray menu or press Ctrl+C here.", flush=True)

    from app.ui.app import run_tray

    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            demo.stop()

    try:
        return run_tray(config, on_started=lambda tray: add_switches(tray, demo), on_exit=stop)
    finally:
        stop()
