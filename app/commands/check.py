"""`mailbeacon check [--json]`: one diagnosis, as a table for people or JSON for machines."""

from __future__ import annotations

import shutil
import sys
import textwrap

from app import config as config_mod
from app import jsonio
from app.diagnosis.engine import diagnose
from app.diagnosis.model import Diagnosis

_MARK = {"ok": "OK", "warn": "WARN", "fail": "FAIL", "skipped": "-"}


def run(args) -> int:
    cfg = config_mod.load(args.config)
    diagnosis = diagnose(cfg)
    if args.json:
        print(jsonio.dumps(diagnosis, pretty=True))
    else:
        print(render_table(diagnosis))
    sys.stdout.flush()
    return diagnosis.exit_status


def render_table(diagnosis: Diagnosis, width: int | None = None) -> str:
    width = width or min(shutil.get_terminal_size((100, 24)).columns, 120)
    lines = [
        diagnosis.headline,
        *textwrap.wrap(diagnosis.advice, width),
        "",
        f"verdict: {diagnosis.verdict}   layer: {diagnosis.layer}   "
        f"checked: {diagnosis.checked_at}   took: {diagnosis.duration_ms:.0f} ms",
        "",
    ]
    if diagnosis.discovery:
        found = diagnosis.discovery
        if found.get("source") == "none":
            note = f"servers: discovery found none for this address ({found['at']})"
        else:
            note = f"servers: found by discovery ({found['source']}) at {found['at']}"
        lines[-1:-1] = [note]
    rows = [("STATUS", "CHECK", "CODE", "TIME", "DETAIL")]
    for c in diagnosis.checks:
        rows.append((_MARK.get(c.status, c.status), c.id, c.code, f"{c.duration_ms:.0f} ms", c.detail))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    indent = sum(widths) + 8
    for row in rows:
        head = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4]))
        detail = textwrap.wrap(row[4], max(30, width - indent)) or [""]
        lines.append(f"{head}  {detail[0]}")
        lines.extend(" " * indent + more for more in detail[1:])
    it = diagnosis.it_status
    if it:
        lines.append("")
        if it.get("error"):
            lines.append(f"IT status feed: {it['error']}")
        for inc in it.get("incidents", []):
            nxt = f" (next update {inc['next_update_at']})" if inc.get("next_update_at") else ""
            lines.append(f"IT is aware: {inc['title']} [{inc['status']}]{nxt}")
            if inc.get("message"):
                lines.extend("  " + line for line in textwrap.wrap(inc["message"], width - 2))
        if not it.get("incidents") and not it.get("error"):
            lines.append("IT status feed: no open incidents.")
    return "\n".join(lines)
