"""`mailbeacon report`: build a report with a fresh diagnosis, save it, send it to every channel."""

from __future__ import annotations

import argparse
import sys

from app import jsonio, secrets
from app.config import load
from app.errors import EX_CONFIG
from app.report.build import body_bytes, build_report
from app.report.channels import configured
from app.report.outbox import Outbox, OutboxError, Outcome

NO_CHANNEL = (
    "No report channel is configured (hub.url, report.webhook_url, report.teams_url, "
    "report.slack_url, or report.email_to with report.relay). The report was saved and will be sent once one is."
)


def describe(outcome: Outcome) -> list[str]:
    """Sentences for people, shared with `outbox flush`."""
    lines = []
    if outcome.delivered:
        lines.append(f"Sent to IT via {', '.join(outcome.delivered)}.")
    for name in outcome.queued:
        reason = outcome.retry_reasons.get(name) or "not tried yet"
        lines.append(f"Waiting to send via {name} ({reason}); it will be retried automatically.")
    for item in outcome.failed:
        lines.append(f"Refused by {item['channel']}: {item['reason']}.")
    if outcome.failed and outcome.path and not outcome.queued:
        lines.append(f"The report is kept in {outcome.path}")
    return lines


def unwritten_message(outbox: Outbox, outcome: Outcome) -> str:
    """The one line for standard error when the outbox could not record what happened."""
    return (
        f"mailbeacon: could not record the outcome in the outbox {outbox.path}: {outcome.unwritten}. "
        "What is said above did happen; a channel that received the report may get it again "
        "later, with the same Idempotency-Key."
    )


def run(args: argparse.Namespace) -> int:
    config = load(args.config)
    secrets.register_known()  # a receiver may echo a token back: the scrubber must know them all
    channels = configured(config)
    report = build_report(config, note=args.note or "")
    if args.dry_run:
        sys.stdout.buffer.write(body_bytes(report))
        sys.stdout.flush()
        return 0
    outbox = Outbox()
    try:
        outcome = outbox.submit(report, channels)
    except OSError as exc:  # the report is never sent unless it is safely on disk first
        raise OutboxError(
            f"could not save the report in {outbox.path}: {exc.strerror or exc}. Nothing was sent; "
            "`mailbeacon report --dry-run` prints it so you can pass it on another way."
        ) from None
    if args.json:
        print(jsonio.dumps(outcome.to_json()))
    elif outcome.no_channel:
        print(outcome.path)
    else:
        for line in describe(outcome):
            print(line)
    if outcome.unwritten:
        print(unwritten_message(outbox, outcome), file=sys.stderr)
    elif outcome.no_channel:
        print(f"mailbeacon: {NO_CHANNEL}", file=sys.stderr)
        return EX_CONFIG
    return outcome.exit_status
