"""`mailbeacon outbox list|flush`: see the reports waiting to be sent, or send them now."""

from __future__ import annotations

import argparse
import sys

from app import jsonio, secrets
from app.commands.report import NO_CHANNEL, describe, unwritten_message
from app.config import load
from app.errors import EX_CONFIG
from app.report.channels import configured
from app.report.outbox import Outbox, OutboxError, exit_status


def run(args: argparse.Namespace) -> int:
    secrets.register_known()  # reasons a receiver wrote may quote a token: the scrubber masks it
    outbox = Outbox()
    if args.action == "flush":
        return _flush(args, outbox)
    waiting, failed = outbox.entries(), outbox.entries(failed=True)
    if args.json:
        print(jsonio.dumps({"waiting": waiting, "failed": failed}))
        return 0
    if not waiting:
        print("No report is waiting to be sent.")
    for entry in waiting:
        if entry.get("error"):  # `outbox flush` moves it to failed/ with this reason
            print(f"{entry['id']}  {entry['error']}  [{entry['path']}]")
            continue
        print(f"{entry['id']}  {entry.get('created_at', '')}  {entry.get('headline', '')}")
        channels = entry.get("channels") or {}
        if not channels:
            print("    no channel configured yet")
        for name, st in channels.items():
            extra = ""
            if st.get("status") == "pending" and st.get("next_attempt_at"):
                extra = f", next try {st['next_attempt_at']}"
            if st.get("last_error"):
                extra += f" ({st['last_error']})"
            print(f"    {name}: {st.get('status')}{extra}")
    for entry in failed:
        reasons = "; ".join(
            f"{n}: {st.get('reason', '')}" for n, st in (entry.get("channels") or {}).items() if st.get("status") == "failed"
        )
        print(f"refused  {entry['id']}  {entry.get('created_at', '')}  {reasons}  [{entry['path']}]")
    return 0


def _flush(args: argparse.Namespace, outbox: Outbox) -> int:
    config = load(args.config)
    channels = configured(config)
    try:
        outcomes = outbox.flush(channels, force=True)
    except OSError as exc:
        raise OutboxError(f"could not use the outbox {outbox.path}: {exc.strerror or exc}") from None
    if args.json:
        print(jsonio.dumps([o.to_json() for o in outcomes]))
    elif not outcomes:
        print("No report is waiting to be sent.")
    else:
        for outcome in outcomes:
            print(f"{outcome.id}:")
            for line in describe(outcome) or ["Saved; no channel is configured yet."]:
                print(f"    {line}")
    for outcome in outcomes:
        if outcome.unwritten:
            print(unwritten_message(outbox, outcome), file=sys.stderr)
    if outcomes and not channels:
        print(f"mailbeacon: {NO_CHANNEL}", file=sys.stderr)
        return EX_CONFIG
    return exit_status(outcomes)
