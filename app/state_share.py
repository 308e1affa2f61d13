"""Sharing confirmed verdict changes with the hub (SPEC 8 `POST /api/v1/state`): the event a
laptop sends, the opaque id of the network it is on, and the send itself. Qt-free; the monitor's
"state" job decides when it runs, and it always runs off the GUI thread."""

from __future__ import annotations

import getpass
import hashlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app import jsonio, version
from app.config import hub_link

if TYPE_CHECKING:
    from app.config import Config
    from app.diagnosis.model import Diagnosis
    from app.hub_client import Answer

log = logging.getLogger(__name__)

STATE_PATH = "api/v1/state"
TOKEN = "hub.token"


def enabled(config: Config) -> bool:
    return bool(config.hub.url) and bool(config.hub.share_state)


def network_id(gateway: str | None, dns_servers: list[str] | None) -> str:
    """First 12 hex digits of SHA-256 over "<gateway>|<DNS servers sorted, comma-separated>";
    "" when neither is known, so unknown networks are not all counted as one."""
    servers = sorted(s for s in (dns_servers or []) if s)
    if not gateway and not servers:
        return ""
    material = f"{gateway or ''}|{','.join(servers)}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:12]


def current_network() -> str:
    """The id of the network this laptop is on now (best effort; "" when it cannot be told)."""
    try:
        from app.diagnosis.netinfo import default_gateway, dns_servers

        return network_id(default_gateway(2.0), dns_servers())
    except Exception as exc:  # a fact we cannot read is "unknown", never a failed push
        log.debug("network id unavailable: %s", exc)
        return ""


def _failing(diagnosis: dict[str, Any]) -> list[dict[str, str]]:
    # the same culprits as the report's fingerprint, so a laptop's state and its report
    # land in one group on the hub
    from app.report.build import failing_checks

    culprits = failing_checks({"diagnosis": diagnosis})
    rows = sorted({(c.get("kind", ""), c.get("target", ""), c.get("code", "")) for c in culprits})
    return [{"kind": k, "target": t, "code": c} for k, t, c in rows]


def build_event(
    config: Config,
    diagnosis: Diagnosis | dict[str, Any],
    at: datetime,
    *,
    network: str | None = None,
    laptop: str | None = None,
) -> dict[str, Any]:
    """The state event for a confirmed verdict that began at `at`, scrubbed like a report."""
    from app.laptop_id import laptop_id
    from app.report import build

    diag = diagnosis.to_json() if hasattr(diagnosis, "to_json") else dict(diagnosis)
    event: dict[str, Any] = {
        "schema": 1,
        "laptop": laptop or laptop_id(),
        "at": jsonio.iso_utc(at),
        "verdict": diag.get("verdict", "unknown"),
        "layer": diag.get("layer", "none"),
        "headline": diag.get("headline", ""),
        "failing": _failing(diag),
        "network": current_network() if network is None else network,
        "app_version": version(),
    }
    if config.report.include_username:
        try:
            event["username"] = getpass.getuser()
        except Exception:  # no user name on this system: the event goes without it
            pass
    fixed = {k: event[k] for k in ("schema", "laptop", "at", "network", "verdict", "layer")}
    # the event holds our own words and codes: a secret can reach it only through text this
    # process received after sending that secret, and every secret read is registered with the
    # scrubber; so the keyring is not read for it (that alone loaded ~4 MB into the tray)
    event = build.protect(event, config, known=build.config_secrets(config))
    event.update(fixed)  # ids and codes are ours: no pattern may touch them
    return event


def send(config: Config, event: dict[str, Any]) -> Answer:
    """POST the event to <hub.url>/api/v1/state. Idempotent on the hub by (laptop, at), so a
    retry after a lost answer changes nothing there."""
    from app import secrets
    from app.hub_client import call

    answer = call(config, "POST", hub_link(config.hub.url, STATE_PATH), event, secrets.get_secret(TOKEN))
    log.info("state %s at %s to the hub: %s (%s)", event.get("verdict"), event.get("at"),
             answer.outcome, answer.reason)
    return answer


def transition_at(transition: Any) -> datetime:
    """When the new confirmed verdict began: the end of the previous state, else the pass."""
    from datetime import timedelta

    if transition.previous_since is not None and transition.duration_s is not None:
        return transition.previous_since + timedelta(seconds=transition.duration_s)
    return jsonio.parse_iso(transition.diagnosis.checked_at)


def push_transition(config: Config, transition: Any) -> tuple[bool, float | None]:
    """The tray's state pusher (runs on a worker thread): (ok, retry_after_s) for the monitor,
    which spreads and retries. A refusal (a bad token, an event the hub rejects) is logged and
    not retried: sending the same again cannot succeed, and a newer change replaces it anyway."""
    from app.hub_client import DELIVERED, REFUSED

    event = build_event(config, transition.diagnosis, transition_at(transition))
    answer = send(config, event)
    if answer.outcome == DELIVERED:
        return True, None
    if answer.outcome == REFUSED:
        log.warning("the hub refused this laptop's state (%s); check hub.url and the secret hub.token",
                    answer.reason)
        return True, None
    return False, answer.retry_after


def pusher(config: Config):
    """push(transition) for TrayApp.set_state_pusher, or None when state is not shared."""
    if not enabled(config):
        return None
    return lambda transition: push_transition(config, transition)
