"""The one scrubber: keeps secrets out of every string MailBeacon shows, logs, stores or sends
(and, on request, addresses and identity out of a report before it leaves the machine).

Secret values the app knows (keyring, MAILBEACON_SECRET_*, passwords inside configured URLs)
are registered when they are loaded; shapes (URL logins, tokens in query strings, webhook paths,
bearer tokens) are recognised in any text. Everything works on plain JSON-like data and returns
a new copy.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

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
    r"|client[_-]?secret|access[_-]?key)(\s*[:=]\s*)([\"']?)([^\s\"',;&]+)"
)
# "the password is hunter2": after "is" only what looks like a value, not a word of a sentence
# such as "the password is too short"
_LABELLED_IS = re.compile(
    r"(?i)\b(password|passwd|secret|token|api[_-]?key|apikey)(\s+is\s+)([\"']?)"
    r"((?=[^\s\"',;&]*\d)[^\s\"',;&]+|[^\s\"',;&]{12,})"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+([A-Za-z0-9\-._~+/]{8,}=*)")
# user:password@host in a URL. The password runs to the last "@" of the word, so characters a
# careless config leaves unencoded ("@", "/", "#", ":") stay inside what is masked
_URL_USERINFO = re.compile(r"""(?i)\b([a-z][a-z0-9+.\-]*://)([^\s/?#@:"'<>\\]*):((?!\[redacted\]@)[^\s"'<>\\]+)@(?=[\w\[])""")
# the same without a scheme (HTTP_PROXY=user:pass@proxy:3128, which curl and requests accept);
# it starts a word, and "mailto:", "sip:" and the like are addresses, not logins
_BARE_USERINFO = re.compile(
    r"""(?<![^\s"'(=,;<\[{])(?!(?:mailto|sips?|tel|xmpp|urn|cid|mid):)([^\s/?#@:"'<>=,;\\]+)"""
    r""":(?!//)((?!\[redacted\]@)[^\s"'<>\\]+)@(?=[\w\[])"""
)
_QUERY_SECRET = re.compile(
    r"(?i)([?&;][^=&\s#\"]*(?:token|secret|key|sig|signature|pass|password|auth|code|credential)"
    r"[^=&\s#\"]*=)[^&\s#\"']+"
)
# webhook URLs whose path is the secret: Slack, Teams (Office 365 connectors), Discord
_WEBHOOK_PATH = re.compile(
    r"""(?i)((?:hooks\.slack\.com/(?:services|workflows|triggers)/|\.webhook\.office\.com/webhookb2/"""
    r"""|outlook\.office(?:365)?\.com/webhook/|discord(?:app)?\.com/api/webhooks/))[^\s"'<>?#\\]+"""
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


# ---------------------------------------------------------------- known secret values

_registered: set[str] = set()
_registered_lock = threading.Lock()
_MIN_SECRET = 4  # shorter values would mask ordinary words everywhere


def register_secret(value: str | None) -> None:
    """Remember a secret value so every later scrub_text masks it, also percent-encoded."""
    if not value or len(value) < _MIN_SECRET:
        return
    forms = {value, quote(value, safe=""), quote(value, safe="@:/")}
    with _registered_lock:
        _registered.update(f for f in forms if len(f) >= _MIN_SECRET)


def forget_registered() -> None:
    """For tests: start again from the environment's secrets alone."""
    with _registered_lock:
        _registered.clear()


def url_password(text: str) -> str | None:
    """The password inside a URL-like string ("scheme://user:pass@host", "user:pass@host"),
    taken raw up to the last "@" so unencoded characters stay part of it; None when there is none."""
    rest = text.strip()
    if "://" in rest:
        rest = rest.split("://", 1)[1]
    userinfo, at, _host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return None
    password = userinfo.split(":", 1)[1]
    return password or None


def register_url_secrets(url: str | None, *, path_is_secret: bool = False) -> None:
    """Register what is secret in a URL: its password, its query values and, for webhook URLs
    (path_is_secret), the path itself, which is how Slack and Teams authenticate the sender."""
    if not url:
        return
    password = url_password(url)
    if password:
        register_secret(password)
        register_secret(unquote(password))
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
    except ValueError:
        return
    for _name, value in parse_qsl(parts.query, keep_blank_values=False):
        if len(value) >= 8:
            register_secret(value)
    if path_is_secret and len(parts.path.strip("/")) >= 8:
        register_secret(parts.path)


def environ_items(environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """A snapshot of the environment's (name, value) pairs. Another thread may change it while
    this one iterates it (RuntimeError, or KeyError for a name removed between listing and
    reading it): read it again, and in the end name by name."""
    environ = os.environ if environ is None else environ
    for _attempt in range(10):
        try:
            return list(environ.items())
        except (RuntimeError, KeyError):
            continue
    return [(k, v) for k in list(environ) if (v := environ.get(k)) is not None]


def _env_secrets(prefix: str) -> set[str]:
    """The values of the MAILBEACON_SECRET_* variables."""
    return {v for k, v in environ_items() if k.startswith(prefix) and v}


def known_secrets(extra: Iterable[str] = ()) -> set[str]:
    """Every secret value known now: registered ones, MAILBEACON_SECRET_* and `extra`."""
    from app.secrets import ENV_PREFIX  # light: no keyring import until a value is asked for

    values = _env_secrets(ENV_PREFIX)
    with _registered_lock:
        values |= _registered
    values.update(v for v in extra if v)
    return {v for v in values if len(v) >= _MIN_SECRET}


def mask_url(url: str) -> str:
    """A URL with only its origin kept: for webhook, Teams and Slack URLs, whose path and
    query are the secret (`config show`). Passwords are masked too."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return REDACTED
    if not parts.scheme or not host:
        return scrub_text(url)
    host = f"[{host}]" if ":" in host else host
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    hidden = parts.path.strip("/") or parts.query or parts.fragment
    return f"{origin}/{REDACTED}" if hidden else f"{origin}/"


def scrub_text(text: str, known: Iterable[str] = ()) -> str:
    """`text` with every known secret value and anything that looks like a secret masked: the one
    scrubber for every string MailBeacon shows, logs, stores or sends."""
    if not text:
        return text
    for value in sorted(known_secrets(known), key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    text = _PEM_PRIVATE.sub("[redacted private key]", text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@", text)
    text = _BARE_USERINFO.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)
    text = _WEBHOOK_PATH.sub(lambda m: m.group(1) + REDACTED, text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _LABELLED.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{REDACTED}", text)
    text = _LABELLED_IS.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{REDACTED}", text)
    text = _TOKEN_SHAPES.sub(REDACTED, text)
    return text


def scrub_strings(obj: Any, known: Iterable[str] = ()) -> Any:
    """A copy of JSON-like `obj` with scrub_text applied to every string (keys kept): for facts
    such as a check's data, where a key named "auth" is a list of mechanisms, not a secret."""
    extra = list(known)
    return map_strings(obj, lambda s: scrub_text(s, extra))


class LogScrubber(logging.Filter):
    """A logging filter for every handler: the message, its arguments and any traceback are
    scrubbed before they reach a console or the log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's to report, not ours
            return True
        record.msg, record.args = scrub_text(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        return True


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
