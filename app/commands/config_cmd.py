"""`mailbeacon config show|paths|validate`: the effective config and where each value came from."""

from __future__ import annotations

import sys

from app import config as config_mod
from app import jsonio, paths
from app.report import redact


def run(args) -> int:
    if args.action == "paths":
        return _paths(args)
    cfg = config_mod.load(args.config)
    if args.action == "validate":
        read = ", ".join(cfg.files_read) or "no files (built-in defaults)"
        print(f"config ok: read {read}; {len(cfg.endpoints)} endpoint(s)")
        for warning in config_mod.warnings(cfg):
            print(f"warning: {warning}", file=sys.stderr)
        return 0
    rows = [(k, _masked(k, v), s) for k, v, s in config_mod.describe(cfg)]

    def locked(key: str) -> bool:
        # endpoints are listed one per row, locked together when policy sets the list
        return key in cfg.policy_keys or (key.startswith("endpoints[") and "endpoints" in cfg.policy_keys)

    if args.json:
        print(jsonio.dumps(
            [{"key": k, "value": v, "source": s, "locked": locked(k)} for k, v, s in rows], pretty=True
        ))
        return 0
    width = max(len(k) for k, _, _ in rows)
    vwidth = min(48, max(len(_show(v)) for _, v, _ in rows))
    for key, value, source in rows:
        lock = "  (policy)" if locked(key) else ""
        print(f"{key.ljust(width)}  {_show(value).ljust(vwidth)}  # {source}{lock}")
    if not cfg.endpoints:
        print(f"{'endpoints'.ljust(width)}  {'(none: verdict unknown)'.ljust(vwidth)}  # {cfg.sources['endpoints']}")
    return 0


def _masked(key: str, value):
    """Webhook, Teams and Slack URLs carry their secret in the path: only the origin is shown.
    Every other value goes through the scrubber (a feed URL with a password, a proxy)."""
    if key in config_mod.SECRET_PATH_URLS and isinstance(value, str):
        return redact.mask_url(value)
    return redact.scrub_strings(value)


def _show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return str(value)


def _paths(args) -> int:
    user = paths.user_paths()
    policy = paths.policy_file()
    rows = [
        ("system config", str(paths.system_config_file())),
        ("user config", str(args.config or user.user_config)),
        ("policy", str(policy) if policy else _policy_location()),
        ("data", str(user.data_dir)),
        ("history", str(user.history_db)),
        ("outbox", str(user.outbox)),
        ("logs", str(user.log_dir)),
    ]
    if args.json:
        print(jsonio.dumps(dict(rows), pretty=True))
    else:
        for name, value in rows:
            print(f"{name:14} {value}")
    return 0


def _policy_location() -> str:
    if sys.platform == "win32":
        return r"registry HKLM\Software\Policies\MailBeacon"
    from app import BUNDLE_ID

    return f"managed preferences {BUNDLE_ID}"
