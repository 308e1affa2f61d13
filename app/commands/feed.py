"""`mailbeacon feed post|update|resolve`: IT writes the native status feed every laptop reads,
either as a file (--file) or through a hub's incidents API (--hub)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from app import feed
from app.errors import UsageError


def run(args: argparse.Namespace) -> int:
    action = args.feed_action
    message = getattr(args, "message", None)
    next_update = getattr(args, "next_update", None)
    if next_update is not None:
        next_update = feed.parse_next_update(next_update)  # a bad value fails before any write
    if getattr(args, "hub", None) is not None:
        return _run_hub(args, action, message, next_update)
    if action == "post":
        incident_id = feed.post(
            args.file,
            args.title,
            message or "",
            next_update=next_update,
            incident_id=args.incident_id,
            affects=_affects(args),
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


def _affects(args: argparse.Namespace) -> list[str]:
    affects = [a.strip() for a in (getattr(args, "affects", "mail") or "").split(",") if a.strip()]
    return affects or ["mail"]


def _run_hub(args: argparse.Namespace, action: str, message: str | None, next_update: datetime | None) -> int:
    from app import hub_client
    from app.config import load

    config = load(args.config)
    hub = args.hub or config.hub.url
    if not hub:
        raise UsageError("--hub needs a URL, or hub.url in the configuration")
    if not hub.startswith(("http://", "https://")):
        raise UsageError(f"--hub {hub!r}: expected the hub's http(s) URL, like https://hub.example.com")
    if action == "post":
        incident = hub_client.post_incident(
            config, hub, args.title, message or "", next_update=next_update,
            incident_id=args.incident_id, affects=_affects(args),
        )
        print(incident.get("id"))
        return 0
    changes: dict[str, Any] = {}
    if action == "update":
        if args.status:
            changes["status"] = args.status
        if next_update is not None:
            changes["next_update_at"] = next_update
    else:
        changes["status"] = "resolved"
    if message is not None:
        changes["message"] = message
    if not changes:
        raise UsageError("nothing to change: give --status, --message or --next-update")
    from app import jsonio

    changes = {k: jsonio.iso_utc(v) if isinstance(v, datetime) else v for k, v in changes.items()}
    hub_client.change_incident(config, hub, args.incident_id, changes)
    done = "Updated" if action == "update" else "Resolved"
    print(f"{done} {args.incident_id} on {hub}.")
    return 0
