"""Discover first: with mail.address or mail.domain set and no endpoints configured, `check` and
the tray's checks use the servers discovery finds, kept in <data>/discovery.json (0600) for 24 h,
or 15 minutes after a check of them failed (or nothing was found)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.discovery.model import Discovery
from app.errors import UsageError
from app.jsonio import iso_utc, parse_iso, utc_now
from app.paths import private_dir

if TYPE_CHECKING:
    from app.config import Config
    from app.diagnosis.model import Diagnosis

log = logging.getLogger(__name__)

CACHE_FILE = "discovery.json"
FRESH_FOR = timedelta(hours=24)
# after a failed check of the discovered servers (or an empty discovery): ask again sooner, but
# not on every check, so an outage of the mail server does not turn into a discovery per minute
RETRY_AFTER_FAILURE = timedelta(minutes=15)
_lock = threading.Lock()


def wanted(config: Config) -> str:
    """The address (or domain) to discover for; "" when endpoints are configured or nothing is set."""
    if config.endpoints:
        return ""
    return config.mail.address or config.mail_domain


def cache_path() -> Path:
    from app.paths import user_paths

    return user_paths().data_dir / CACHE_FILE


def load_entry(path: Path | None = None) -> dict[str, Any] | None:
    path = path or cache_path()
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        entry["discovery"] = Discovery.from_json(entry["discovery"])
        parse_iso(entry["at"])
        return entry
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no cache, or a broken one: discover again


def _store(entry: dict[str, Any], path: Path) -> None:
    data = dict(entry, discovery=entry["discovery"].to_json(), schema=1)
    try:
        private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=".discovery-", suffix=".json", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=1)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:  # a cache that cannot be written costs a discovery next time, no more
        log.warning("cannot write the discovery cache %s: %s", path, exc)


def _is_fresh(entry: dict[str, Any], key: str, now: datetime) -> bool:
    if entry.get("key") != key:
        return False
    at = parse_iso(entry["at"])
    if now < at:  # a clock set back: the entry's age is unknown
        return False
    failed = entry.get("failed_at")
    found = entry["discovery"].found
    if failed or not found:
        return now - at < RETRY_AFTER_FAILURE
    return now - at < FRESH_FOR


def resolve(
    config: Config,
    *,
    now: Callable[[], datetime] = utc_now,
    discover_fn: Callable[..., Discovery] | None = None,
    path: Path | None = None,
) -> tuple[Config, dict[str, Any] | None]:
    """(config with the discovered endpoints, {"source", "at"}) when discovery applies, else
    (config, None). Blocking: call it off the GUI thread (the engine's caller already is)."""
    key = wanted(config)
    if not key:
        return config, None
    path = path or cache_path()
    with _lock:
        entry = load_entry(path)
        moment = now()
        if entry is None or not _is_fresh(entry, key, moment):
            from app.discovery.run import discover

            try:
                fresh = (discover_fn or discover)(key, config)
            except UsageError as exc:  # the config let through what no mail client could use
                log.warning("cannot discover servers for %r: %s", key, exc)
                fresh = Discovery(address="", domain=key.rpartition("@")[2])
            if fresh.found or entry is None or entry.get("key") != key:
                entry = {"key": key, "at": iso_utc(moment), "failed_at": None, "discovery": fresh}
            else:
                # nothing found this time: keep the servers found before (they may be down, not gone)
                entry = dict(entry, at=iso_utc(moment), failed_at=None)
            _store(entry, path)
    result: Discovery = entry["discovery"]
    info = {"source": result.source, "at": entry["at"]}
    if not result.found:
        return config, info
    return with_discovery(config, result), info


def with_discovery(config: Config, result: Discovery) -> Config:
    values = dict(config.values)
    sources = dict(config.sources)
    sources["endpoints"] = f"discovery ({result.source})"
    if result.webmail_url and not values.get("mail.webmail_url"):
        values["mail.webmail_url"] = result.webmail_url
        sources["mail.webmail_url"] = f"discovery ({result.source})"
    return dataclasses.replace(config, values=values, sources=sources, endpoints=result.config_endpoints())


def note_check(diagnosis: Diagnosis, *, now: Callable[[], datetime] = utc_now, path: Path | None = None) -> None:
    """After a check of discovered servers: a failing one makes the cache refresh sooner."""
    if not any(c.status == "fail" for c in diagnosis.endpoint_checks):
        return
    path = path or cache_path()
    with _lock:
        entry = load_entry(path)
        if entry is None or entry.get("failed_at"):
            return
        entry["failed_at"] = iso_utc(now())
        _store(entry, path)
