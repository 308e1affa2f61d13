"""`mailbeacon feed post|update|resolve`: IT writes the native status feed every laptop reads."""

from __future__ import annotations

import argparse

from app import feed


def run(args: argparse.Namespace) -> int:
    action = args.feed_action
    message = getattr(args, "message", None)
    next_update = getattr(args, "next_update", None)
    if next_update is not None:
        next_update = feed.parse_next_update(next_update)  # a bad value fails before any write
    if action == "post":
        affects = [a for a in (getattr(args, "affects", "mail") or "").split(",") if a.strip()]
        incident_id = feed.post(
            args.file,
            args.title,
            message or "",
            next_update=next_update,
            incident_id=args.incident_id,
            affects=affects or ["mail"],
        )
        print(incident_id)
    elif action == "update":
        feed.update(
            args.file, args.incident_id, status=args.status, message=message, next_update=next_update
        )
        print(f"Updated {args.incident_id} in {args.file}.")
    elif action == "resolve":
        feed.resolve(args.file, args.incident_id, message=message)
        print(f"Resolved {args.incident_id} in {args.file}.")
    return 0
