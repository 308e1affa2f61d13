"""`mailbeacon discover ADDRESS [--json] [--save]`: find the mail servers of an address (or a
domain) through autoconfig, Autodiscover, SRV and MX, and optionally keep them in the user config.
Exit 0 found, 1 nothing found, 64 not an address, 78 bad config, 73 config file not writable."""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

from app import config as config_mod
from app import jsonio
from app.discovery import Discovery, discover, locked_keys, save

_WHERE = {"autoconfig": "autoconfig (Thunderbird's format)", "autodiscover": "Autodiscover (Exchange)",
          "srv": "SRV records", "mx": "the MX records"}


def run(args) -> int:
    cfg = config_mod.load(args.config)
    result = discover(args.address, cfg)
    saved: Path | None = None
    if args.save and result.found:
        saved = save(result, cfg, path=Path(args.config).expanduser() if args.config else None)
    if args.json:
        print(jsonio.dumps(result, pretty=True))
    else:
        print(render(result))
    sys.stdout.flush()
    if args.save:
        if not result.found:
            print("mailbeacon: nothing was found, so nothing was saved.", file=sys.stderr)
        elif saved is not None:
            print(f"Saved to {saved}.", file=sys.stderr)
            for key in locked_keys(cfg):
                print(f"  {key} is set by policy and was left as it is.", file=sys.stderr)
    return 0 if result.found else 1


def render(result: Discovery, width: int | None = None) -> str:
    width = width or min(shutil.get_terminal_size((100, 24)).columns, 120)
    who = result.address or result.domain
    if result.found:
        lines = [f"Found the mail servers of {who} through {_WHERE.get(result.source, result.source)}.", ""]
        rows = [("KIND", "SERVER", "SECURITY", "NAME")]
        for ep in result.endpoints:
            host = f"[{ep['host']}]" if ":" in ep["host"] else ep["host"]
            rows.append((ep["kind"], ep.get("url") or f"{host}:{ep['port']}", ep["tls"], ep.get("name", "")))
        lines += _table(rows)
        if result.webmail_url:
            lines += ["", f"Webmail: {result.webmail_url}"]
    else:
        lines = [f"No mail servers were found for {who}.",
                 *textwrap.wrap("Ask IT for the server names, or enter them in the configuration "
                                "(see `mailbeacon config paths`).", width)]
    lines += ["", "Tried:"]
    rows = [("RESULT", "SOURCE", "WHERE (what happened below)", "")]
    for t in result.tried:
        rows.append((t["result"], t["source"], t["url"] or "-", t["detail"]))
    head = [max(len(r[i]) for r in rows) for i in range(2)]
    for row in rows:
        prefix = f"{row[0].ljust(head[0])}  {row[1].ljust(head[1])}  "
        lines.append(prefix + row[2])
        for more in textwrap.wrap(row[3], max(30, width - len(prefix) - 2)) if row is not rows[0] else []:
            lines.append(" " * (len(prefix) + 2) + more)
    return "\n".join(lines)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1] for row in rows]
