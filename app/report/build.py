"""Build the report to IT (SPEC section 5): diagnosis, recent history, device and network facts,
the user's note and who sent it, scrubbed of secrets. Qt-free; the CLI and the dialog share it.

`body_bytes(report)` is the one serialisation: the webhook body, `report --dry-run`, the dialog
preview and the outbox file are all these exact bytes.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import platform
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from app import jsonio, version
from app.diagnosis.model import FAIL, Diagnosis
from app.report import redact
from app.words import staff

if TYPE_CHECKING:
    from app.config import Config

log = logging.getLogger(__name__)

SCHEMA = 1
HISTORY_WINDOW = timedelta(hours=24)
HISTORY_LIMIT = 100
_TUNNEL_PREFIXES = ("tun", "tap", "wg", "utun", "ppp", "ipsec", "vpn", "gpd", "cscotun", "zt", "tailscale", "nordlynx")


def body_bytes(report: dict[str, Any]) -> bytes:
    """The exact bytes posted to the webhook and printed by `report --dry-run`."""
    return (jsonio.dumps(report, pretty=True) + "\n").encode("utf-8")


def body_text(report: dict[str, Any]) -> str:
    return body_bytes(report).decode("utf-8")


def fingerprint(diagnosis: dict[str, Any], when: datetime) -> str:
    """Equal for the same failure (verdict, layer, failing kind/target/code) in the same UTC hour.
    When nothing fails but something warns (a `degraded` verdict from warnings alone), the warning
    checks stand in for the failing ones: an expiring certificate on SMTP is not the same problem
    as one on IMAP."""
    checks = diagnosis.get("checks", [])
    culprits = [c for c in checks if c.get("status") == FAIL] or [c for c in checks if c.get("status") == "warn"]
    failing = sorted((c.get("kind", ""), c.get("target", ""), c.get("code", "")) for c in culprits)
    hour = when.astimezone(UTC).strftime("%Y-%m-%dT%H")
    material = json.dumps(
        [diagnosis.get("verdict"), diagnosis.get("layer"), failing, hour], separators=(",", ":")
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- the parts, each with a fallback


def run_diagnosis(config: Config) -> Diagnosis:
    """A fresh diagnosis, bounded like `check`; an honest "unknown" when the engine is missing."""
    try:
        from app.diagnosis.engine import diagnose
    except ImportError as exc:
        log.warning("diagnosis engine unavailable: %s", exc)
        return Diagnosis(
            verdict="unknown",
            layer="none",
            headline=staff.NO_DIAGNOSIS[0],
            advice=staff.NO_DIAGNOSIS[1],
            checked_at=jsonio.iso_utc(jsonio.utc_now()),
            duration_ms=0.0,
            checks=[],
            it_status=None,
        )
    return diagnose(config)


def history_entries(now: datetime) -> list[dict[str, Any]]:
    """Verdict changes of the last 24 h, oldest first (at most 100); [] when none are recorded."""
    try:
        from app.history import History
        from app.paths import user_paths

        path = user_paths().history_db
        if not path.exists():
            return []
        rows = History(path).changes(since=now - HISTORY_WINDOW, limit=HISTORY_LIMIT)
    except Exception as exc:  # history is a nice-to-have: the report must still go out
        log.warning("could not read the verdict history: %s", exc)
        return []
    entries = []
    for row in rows[-HISTORY_LIMIT:]:
        at = row.get("at")
        entries.append(
            {
                "at": jsonio.iso_utc(at) if isinstance(at, datetime) else at,
                "verdict": row.get("verdict"),
                "headline": row.get("headline"),
            }
        )
    return entries


def known_incident(it_status: dict[str, Any] | None) -> str | None:
    try:
        from app.feed import known_incident as feed_known_incident
    except ImportError:
        # it_status lists unresolved incidents that affect mail already (SPEC section 6)
        incidents = (it_status or {}).get("incidents") or []
        return str(incidents[0]["id"]) if incidents and incidents[0].get("id") is not None else None
    value = feed_known_incident(it_status)
    return None if value is None else str(value)


def device_facts() -> dict[str, Any]:
    import psutil

    try:
        battery = psutil.sensors_battery()
    except Exception:  # some platforms raise instead of returning None
        battery = None
    return {
        "os": platform.platform(),
        "app_version": version(),
        "uptime_s": int(max(0.0, time.time() - psutil.boot_time())),
        "cpu_percent": float(psutil.cpu_percent(interval=0.1)),
        "memory_percent": float(psutil.virtual_memory().percent),
        "battery": None
        if battery is None
        else {
            "percent": round(float(battery.percent), 1),
            "plugged_in": battery.power_plugged,
        },
    }


def network_facts() -> dict[str, Any]:
    try:
        from app.diagnosis.netinfo import network_facts as facts
    except ImportError:
        return _basic_network_facts()
    return facts()


def _basic_network_facts() -> dict[str, Any]:
    """What the interfaces and the proxy settings alone can tell, while the full network facts
    are absent: gateway and DNS servers are reported as unknown rather than guessed."""
    import urllib.request

    from app.ifaces import list_interfaces

    try:
        interfaces = list_interfaces()
    except OSError:
        interfaces = []
    proxies = urllib.request.getproxies()
    return {
        "interfaces": interfaces,
        "default_gateway": None,
        "dns_servers": [],
        "proxy": {k: redact.scrub_text(v) for k, v in sorted(proxies.items())} or None,
        "vpn_suspected": any(
            i["is_up"] and i["name"].lower().startswith(_TUNNEL_PREFIXES) for i in interfaces
        ),
    }


def reporter(config: Config) -> dict[str, Any]:
    username = hostname = email = None
    if config.report.include_username:
        try:
            username = getpass.getuser()
        except Exception:
            username = None
        email = config.mail.address or None
    if config.report.include_hostname:
        hostname = socket.gethostname() or None
    from app.laptop_id import laptop_id

    return {"username": username, "hostname": hostname, "email": email, "laptop": laptop_id()}


def config_secrets(config: Config) -> list[str]:
    """Values in the config that grant access: webhook URLs (Teams/Slack URLs carry their token)
    and any password written into a URL."""
    values = [config.report.webhook_url, config.report.teams_url, config.report.slack_url]
    for text in config.values.values():
        if isinstance(text, str) and "://" in text:
            parts = urlsplit(text)
            if parts.password:
                values.append(parts.password)
    return [v for v in values if v]


# ---------------------------------------------------------------- the report


def build_report(
    config: Config,
    diagnosis: Diagnosis | dict[str, Any] | None = None,
    note: str = "",
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The report document. `diagnosis` None runs a fresh one (bounded like `check`)."""
    if diagnosis is None:
        diagnosis = run_diagnosis(config)
    diag = diagnosis.to_json() if isinstance(diagnosis, Diagnosis) else dict(diagnosis)
    now = now or jsonio.utc_now()
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "id": str(uuid.uuid4()),
        "created_at": jsonio.iso_utc(now),
        "fingerprint": fingerprint(diag, now),
        "reporter": reporter(config),
        "note": note.strip(),
        "known_incident": known_incident(diag.get("it_status")),
        "diagnosis": diag,
        "history": history_entries(now),
        "device": device_facts(),
        "network": network_facts(),
    }
    # round-trip through the one encoder so the document is plain JSON data from here on
    report = json.loads(jsonio.dumps(report))
    return protect(report, config, known=known_secrets(config))


def known_secrets(config: Config) -> list[str]:
    """Every secret value to keep out of reports: the secret store's and the config's."""
    from app import secrets

    return secrets.known_values() + config_secrets(config)


def protect(report: dict[str, Any], config: Config, known: list[str] | None = None) -> dict[str, Any]:
    """Apply secret scrubbing and the privacy switches to a whole report (or a changed note)."""
    keep = {k: report[k] for k in ("id", "created_at", "fingerprint", "schema") if k in report}
    original = report
    report = redact.scrub(report, known or [])
    if config.report.redact_addresses:
        report = redact.map_strings(report, redact.redact_addresses_text)
    for switch, word, mask in (
        (config.report.include_username, _safe(getpass.getuser), "[user]"),
        (config.report.include_hostname, socket.gethostname(), "[host]"),
    ):
        if not switch and word:
            report = redact.map_strings(report, lambda s, w=word, m=mask: redact.remove_word(s, w, m))
    report.update(keep)  # ids and hashes are ours: never mangled by a pattern
    if isinstance(original.get("reporter"), dict) and "laptop" in original["reporter"]:
        report["reporter"]["laptop"] = original["reporter"]["laptop"]
    return report


def with_note(
    report: dict[str, Any], note: str, config: Config, known: list[str] | None = None
) -> dict[str, Any]:
    """The same report (same id) with the user's note, scrubbed like the rest. Pass `known`
    (from known_secrets) to avoid asking the keyring again, e.g. on every keystroke."""
    updated = dict(report)
    if known is None:
        known = known_secrets(config)
    cleaned = protect({"note": note.strip()}, config, known=known)
    updated["note"] = cleaned["note"]
    return updated


def _safe(fn) -> str:
    try:
        return fn()
    except Exception:
        return ""


# ---------------------------------------------------------------- helpers for channel summaries


def failing_checks(report: dict[str, Any]) -> list[dict[str, Any]]:
    checks = report.get("diagnosis", {}).get("checks", [])
    bad = [c for c in checks if c.get("status") == FAIL]
    return bad or [c for c in checks if c.get("status") == "warn"]


def since(report: dict[str, Any]) -> str:
    """When the current state began: the last history change to the current verdict, else now."""
    verdict = report.get("diagnosis", {}).get("verdict")
    for entry in reversed(report.get("history") or []):
        if entry.get("verdict") == verdict:
            return entry.get("at") or ""
        break
    return report.get("diagnosis", {}).get("checked_at") or report.get("created_at", "")


def who(report: dict[str, Any]) -> str:
    r = report.get("reporter") or {}
    user = r.get("email") or r.get("username") or "someone"
    return user


def host(report: dict[str, Any]) -> str:
    return (report.get("reporter") or {}).get("hostname") or "(hidden)"
