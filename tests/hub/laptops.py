"""Laptops for hub tests: SPEC section 5 reports and section 8 state events, and a poster."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

SMTP_DOWN = [{"kind": "smtp", "target": "mail.example.com:587", "code": "timeout"}]
IMAP_DOWN = [{"kind": "imap", "target": "mail.example.com:993", "code": "refused"}]
HEADLINE = "The mail server is not answering."


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now() -> datetime:
    return datetime.now(UTC)


def state(laptop: str, verdict: str = "down", *, failing=None, network: str = "0a0b0c0d0e0f",
          username: str = "", at: datetime | None = None, layer: str = "server") -> dict[str, Any]:
    failing = SMTP_DOWN if failing is None and verdict != "ok" else (failing or [])
    return {"schema": 1, "laptop": laptop, "at": iso(at or now()), "verdict": verdict,
            "layer": "none" if verdict == "ok" else layer,
            "headline": HEADLINE if verdict != "ok" else "Mail works.", "failing": failing,
            "network": network, "app_version": "0.1.0", "username": username}


def report(laptop: str, *, verdict: str = "down", failing=None, note: str = "", username: str = "",
           gateway: str = "10.0.0.1", known_incident: str | None = None, created: datetime | None = None,
           layer: str = "server") -> dict[str, Any]:
    failing = SMTP_DOWN if failing is None and verdict != "ok" else (failing or [])
    checks = [{"id": f"{f['kind']} {f['target']}", "kind": f["kind"], "target": f["target"], "status": "fail",
               "code": f["code"], "detail": "no answer within 5 s", "layer": layer} for f in failing]
    checks.append({"id": "dns", "kind": "dns", "target": "example.com", "status": "ok", "code": "ok", "detail": ""})
    return {
        "schema": 1, "id": str(uuid.uuid4()), "created_at": iso(created or now()),
        "fingerprint": "0" * 64,
        "reporter": {"username": username, "hostname": f"host-{laptop}", "email": "", "laptop": laptop},
        "note": note, "known_incident": known_incident,
        "diagnosis": {"verdict": verdict, "layer": "none" if verdict == "ok" else layer,
                      "headline": HEADLINE if verdict != "ok" else "Mail works.", "checks": checks},
        "history": [], "device": {"os": "Linux", "app_version": "0.1.0"},
        "network": {"interfaces": [], "default_gateway": gateway, "dns_servers": ["10.0.0.53"],
                    "proxy": None, "vpn_suspected": False},
    }


def post(base: str, token: str, kind: str, doc: dict[str, Any], client: httpx.Client | None = None) -> httpx.Response:
    path = "/api/v1/reports" if kind == "report" else "/api/v1/state"
    headers = {"Authorization": f"Bearer {token}"}
    if kind == "report":
        headers["Idempotency-Key"] = doc["id"]
    if client is not None:
        return client.post(base + path, json=doc, headers=headers)
    return httpx.post(base + path, json=doc, headers=headers, timeout=30)


def burst(bases: list[str], token: str, items: list[tuple[str, dict[str, Any]]], workers: int = 16) -> list[int]:
    """Post every (kind, doc) at once from `workers` threads, spread over the hubs in `bases`."""
    clients = [httpx.Client(timeout=30) for _ in bases]
    try:
        with ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(post, bases[i % len(bases)], token, kind, doc, clients[i % len(bases)])
                       for i, (kind, doc) in enumerate(items)]
            return [f.result().status_code for f in futures]
    finally:
        for c in clients:
            c.close()


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
