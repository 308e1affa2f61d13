"""Keep secrets and, on request, addresses and identity out of a report before it leaves the machine.

Everything here works on plain JSON-like data (dicts, lists, strings) and returns a new copy.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"

# dict keys whose values are secret whatever they hold
_SECRET_KEY = re.compile(
    r"pass(word|wd)?$|^pwd$|secret|token|bearer|api[_-]?key|apikey|private[_-]?key|credential"
    r"|^authorization$|^cookie$|^set-cookie$|signature",
    re.IGNORECASE,
)
# "password=xyz", "token: xyz", "api_key=xyz" inside free text
_LABELLED = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|apikey|private[_-]?key|credentials?"
    r"|client[_-]?secret|access[_-]?key)(\s*[:=]\s*|\s+is\s+)([\"']?)([^\s\"',;&]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+([A-Za-z0-9\-._~+/]{8,}=*)")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/\s:@]+):([^/\s@]+)@")
_QUERY_SECRET = re.compile(
    r"(?i)([?&;][^=&\s#\"]*(?:token|secret|key|sig|signature|pass|password|auth|code|credential)"
    r"[^=&\s#\"]*=)[^&\s#\"']+"
)
_PEM_PRIVATE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)
# well-known token shapes: Slack, GitHub, AWS access keys, JWTs
_TOKEN_SHAPES = re.compile(
    r"\bxox[abprs]-[A-Za-z0-9-]{10,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bAKIA[0-9A-Z]{16}\b"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
)

_IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_IPV6_CANDIDATE = re.compile(r"(?<![0-9A-Za-z:])(?=[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:)[0-9A-Fa-f:]{2,39}(?![0-9A-Za-z:])")


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def scrub_text(text: str, known: Iterable[str] = ()) -> str:
    """`text` with anything that looks like a secret, and every known secret value, masked."""
    for value in sorted({v for v in known if v and len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    text = _PEM_PRIVATE.sub("[redacted private key]", text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@", text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _LABELLED.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{REDACTED}", text)
    text = _TOKEN_SHAPES.sub(REDACTED, text)
    return text


def scrub(obj: Any, known: Iterable[str] = ()) -> Any:
    """A copy of `obj` with secret-named keys masked and every string passed through scrub_text."""
    known = list(known)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if isinstance(k, str) and is_secret_key(k) and v not in (None, "", [], {}):
                    out[k] = REDACTED
                else:
                    out[k] = walk(v)
            return out
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return scrub_text(value, known)
        return value

    return walk(obj)


def _mask_v4(m: re.Match[str]) -> str:
    parts = m.groups()
    if any(int(p) > 255 for p in parts):
        return m.group(0)
    return f"{parts[0]}.{parts[1]}.{parts[2]}.x"


def _mask_v6(m: re.Match[str]) -> str:
    text = m.group(0)
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return text
    # keep the /64 network: enough for IT to tell which site, not which machine
    groups = address.exploded.split(":")[:4]
    network = ipaddress.IPv6Address(":".join(groups) + "::").compressed.rstrip(":")
    return f"{network}::x" if network else "::x"


def redact_addresses_text(text: str) -> str:
    """Mask the host part of IPv4 (last octet) and IPv6 (last 64 bits) addresses."""
    return _IPV6_CANDIDATE.sub(_mask_v6, _IPV4.sub(_mask_v4, text))


def map_strings(obj: Any, fn) -> Any:
    """A copy of JSON-like `obj` with fn applied to every string value (not to keys)."""
    if isinstance(obj, dict):
        return {k: map_strings(v, fn) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [map_strings(v, fn) for v in obj]
    if isinstance(obj, str):
        return fn(obj)
    return obj


def remove_word(text: str, word: str, replacement: str) -> str:
    """Replace whole-word occurrences of `word` (case-insensitive); short words are left alone
    because masking "a" or "pc" everywhere would garble the report."""
    if len(word) < 3:
        return text
    return re.sub(rf"(?i)(?<![\w-]){re.escape(word)}(?![\w-])", replacement, text)
