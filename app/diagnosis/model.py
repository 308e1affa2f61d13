"""What a diagnosis is: checks with stable codes, and the verdict over them (SPEC section 4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA = 1

OK, WARN, FAIL, SKIPPED = "ok", "warn", "fail", "skipped"
STATUSES = (OK, WARN, FAIL, SKIPPED)

VERDICTS = ("ok", "degraded", "down", "local", "unknown")
# exit status of `mailbeacon check` per verdict
VERDICT_EXIT = {"ok": 0, "degraded": 1, "down": 2, "local": 3, "unknown": 4}

# layers from the laptop outwards; "none" when nothing fails or warns
LAYERS = ("device", "network", "dns", "server", "service")

ENDPOINT_KINDS = ("smtp", "imap", "pop3", "https", "tcp")
CHECK_KINDS = ("link", "internet", "dns", *ENDPOINT_KINDS)

# the layer a check of each kind belongs to when its code does not say (ok, slow)
KIND_LAYER = {
    "link": "device",
    "internet": "network",
    "dns": "dns",
    "tcp": "server",
    "smtp": "service",
    "imap": "service",
    "pop3": "service",
    "https": "service",
}

# code -> (layer or None for "any", status)
CODES: dict[str, tuple[str | None, str]] = {
    "ok": (None, OK),
    "slow": (None, WARN),
    "skipped": (None, SKIPPED),
    "no_network": ("device", FAIL),
    "captive_portal": ("network", FAIL),
    "internet_unreachable": ("network", FAIL),
    "proxy_auth_required": ("network", FAIL),
    "dns_nxdomain": ("dns", FAIL),
    "dns_no_answer": ("dns", FAIL),
    "dns_servfail": ("dns", FAIL),
    "dns_timeout": ("dns", FAIL),
    "dns_unreachable": ("dns", FAIL),
    "tcp_refused": ("server", FAIL),
    "tcp_timeout": ("server", FAIL),
    "tcp_unreachable": ("server", FAIL),
    "tcp_reset": ("server", FAIL),
    "banner_timeout": ("service", FAIL),
    "bad_greeting": ("service", FAIL),
    "service_unavailable": ("service", FAIL),
    "starttls_unsupported": ("service", FAIL),
    "starttls_failed": ("service", FAIL),
    "protocol_error": ("service", FAIL),
    "tls_handshake_failed": ("service", FAIL),
    "tls_cert_expired": ("service", FAIL),
    "tls_cert_untrusted": ("service", FAIL),
    "tls_hostname_mismatch": ("service", FAIL),
    "http_status": ("service", FAIL),
    "http_timeout": ("service", FAIL),
    "tls_cert_expiring": ("service", WARN),
    "auth_not_offered": ("service", WARN),
}


def status_of(code: str) -> str:
    return CODES[code][1]


@dataclass
class Check:
    """One probe's outcome; `code` is the first layer that failed for this target."""

    id: str
    kind: str
    target: str
    status: str
    code: str
    detail: str
    duration_ms: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # the endpoint's label for people ("Outgoing mail"); not in the JSON

    @property
    def layer(self) -> str:
        code_layer = CODES.get(self.code, (None, FAIL))[0]
        return code_layer or KIND_LAYER.get(self.kind, "service")

    @property
    def is_endpoint(self) -> bool:
        return self.kind in ENDPOINT_KINDS

    @property
    def label(self) -> str:
        return self.name or f"{self.kind.upper()} {self.target}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
            "duration_ms": round(self.duration_ms, 1),
            "data": self.data,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Check:
        return cls(
            id=obj["id"],
            kind=obj["kind"],
            target=obj["target"],
            status=obj["status"],
            code=obj["code"],
            detail=obj.get("detail", ""),
            duration_ms=float(obj.get("duration_ms", 0.0)),
            data=dict(obj.get("data") or {}),
        )


@dataclass
class Diagnosis:
    verdict: str
    layer: str
    headline: str
    advice: str
    checked_at: str
    duration_ms: float
    checks: list[Check]
    it_status: dict[str, Any] | None = None
    # {"source", "at"} when the endpoints came from discovery (SPEC section 7)
    discovery: dict[str, Any] | None = None

    @property
    def endpoint_checks(self) -> list[Check]:
        return [c for c in self.checks if c.is_endpoint]

    @property
    def failing(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def exit_status(self) -> int:
        return VERDICT_EXIT[self.verdict]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "verdict": self.verdict,
            "layer": self.layer,
            "headline": self.headline,
            "advice": self.advice,
            "checked_at": self.checked_at,
            "duration_ms": round(self.duration_ms, 1),
            "checks": [c.to_json() for c in self.checks],
            "it_status": self.it_status,
            **({"discovery": self.discovery} if self.discovery is not None else {}),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Diagnosis:
        return cls(
            verdict=obj["verdict"],
            layer=obj["layer"],
            headline=obj["headline"],
            advice=obj.get("advice", ""),
            checked_at=obj["checked_at"],
            duration_ms=float(obj.get("duration_ms", 0.0)),
            checks=[Check.from_json(c) for c in obj.get("checks", [])],
            it_status=obj.get("it_status"),
            discovery=obj.get("discovery"),
        )
