"""`mailbeacon demo`: the tray watching an embedded loopback SMTP server, with an outage switch."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
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


def command_name(argv0: str | None = None) -> str:
    """How to run this same MailBeacon from another terminal: `mailbeacon` when PATH finds
    this one, else its full path (scripts/demo.sh runs the one in .venv/, not on PATH)."""
    argv0 = argv0 if argv0 is not None else sys.argv[0]
    here = Path(argv0).resolve()
    if here.name == "__main__.py":  # python -m app
        return f"{sys.executable} -m app"
    found = shutil.which("mailbeacon")
    return "mailbeacon" if found and Path(found).resolve() == here else str(here)


def run(args: argparse.Namespace) -> int:
    from app.commands.tray import require_desktop

    require_demo_packages()
    require_desktop()
    demo = Demo()
    demo.start()
    # the demo keeps its own history, outbox and tray instance apart from a real MailBeacon
    os.environ["MAILBEACON_HOME"] = str(demo.home)
    os.environ.update(demo.secrets)  # the hub's laptop token, for this process's tray only
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
    command = command_name()
    if demo.hub is not None:
        print("The tray shares its state with the hub: after an outage IT is notified once (printed")
        print("here), the hub opens an incident, and the tray says IT is aware within about 30 s.")
        print("Post or resolve incidents on the IT page, or as IT would from a script:")
        print(f"  export MAILBEACON_SECRET_HUB_ADMIN_TOKEN=$(cat {demo.hub.admin_token_file})")
        print(f'  {command} feed post --hub {demo.hub.url} --title "Mail server disk full" '
              '--message "We are freeing space." --next-update 30m')
        print(f"  {command} feed resolve --hub {demo.hub.url} --id <the id it printed>")
    else:
        print("Post an incident as IT would, and every tray shows it within 10 s:")
        print(f'  {command} feed post --file {demo.feed_path} --title "Mail server disk full" '
              '--message "We are freeing space." --next-update 30m')
        print(f"  {command} feed resolve --file {demo.feed_path} --id <the id it printed>")
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
