"""First-run set-up without Qt: when the tray offers it, the address the OS already knows, the
endpoints a person typed, the config a check of candidate endpoints runs on, and the words the
set-up window shows for what was found and how each server answered."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app import config as config_mod
from app.config import Config, Endpoint
from app.errors import ConfigError

# ---------------------------------------------------------------- when set-up is offered


def setup_allowed(config: Config) -> bool:
    """A person may choose the endpoints here: neither admin policy nor the environment sets
    them (a saved choice would be overruled by either, which would only confuse)."""
    if "endpoints" in config.policy_keys:
        return False
    source = config.sources.get("endpoints", "default")
    return not source.startswith(("policy", "managed preferences", "environment"))


def address_locked(config: Config) -> bool:
    """Admin policy sets mail.address: the window shows it but the user cannot change it."""
    return "mail.address" in config.policy_keys


def needs_setup(config: Config) -> bool:
    """Nothing to watch and nothing to discover from: open the set-up window at start. (With an
    address or domain the tray discovers first; it opens the window only when that found
    nothing, see `nothing_to_watch`.)"""
    return setup_allowed(config) and not config.endpoints and not config.mail_domain


def nothing_to_watch(config: Config, diagnosis: Any) -> bool:
    """A finished check had no mail server to look at: none configured and none discovered."""
    if not setup_allowed(config) or config.endpoints:
        return False
    return diagnosis is not None and not diagnosis.endpoint_checks


# ---------------------------------------------------------------- the address the OS knows

_NAME_USER_PRINCIPAL = 8  # EXTENDED_NAME_FORMAT.NameUserPrincipal
_ERROR_MORE_DATA = 234


def looks_like_address(text: str) -> bool:
    return bool(text) and config_mod._email(text)


def os_address(platform: str = sys.platform, get_user_name_ex: Callable | None = None) -> str:
    """The signed-in user's address where the OS knows it reliably, else "".

    Windows: the user principal name of a domain or Entra ID account (GetUserNameExW with
    NameUserPrincipal), which is the mail address in most organisations. Local accounts have
    none. macOS and Linux keep nothing as reliable, so they prefill nothing."""
    if platform != "win32":
        return ""
    try:
        if get_user_name_ex is None:
            get_user_name_ex = _win_get_user_name_ex()
        upn = get_user_name_ex(_NAME_USER_PRINCIPAL)
    except (OSError, AttributeError, ValueError):
        return ""
    upn = (upn or "").strip()
    return upn if looks_like_address(upn) else ""


def _win_get_user_name_ex() -> Callable[[int], str]:
    import ctypes
    from ctypes import wintypes

    function = ctypes.WinDLL("secur32").GetUserNameExW  # type: ignore[attr-defined]
    function.argtypes = [ctypes.c_int, wintypes.LPWSTR, ctypes.POINTER(wintypes.ULONG)]
    function.restype = wintypes.BOOLEAN

    def call(name_format: int) -> str:
        size = wintypes.ULONG(0)
        # the first call only asks for the length (it fails with ERROR_MORE_DATA)
        if not function(name_format, None, ctypes.byref(size)):
            if ctypes.get_last_error() not in (0, _ERROR_MORE_DATA) and size.value == 0:
                return ""
        if size.value == 0:
            return ""
        buffer = ctypes.create_unicode_buffer(size.value + 1)
        if not function(name_format, buffer, ctypes.byref(size)):
            return ""
        return buffer.value

    return call


# ---------------------------------------------------------------- endpoints and the check


TLS_CHOICES = ("starttls", "implicit", "none")
# the usual port for each kind and security, as mail clients propose them
USUAL_PORT = {
    ("smtp", "starttls"): 587,
    ("smtp", "implicit"): 465,
    ("smtp", "none"): 587,
    ("imap", "starttls"): 143,
    ("imap", "implicit"): 993,
    ("imap", "none"): 143,
    ("pop3", "starttls"): 110,
    ("pop3", "implicit"): 995,
    ("pop3", "none"): 110,
}


class SetupInputError(ValueError):
    """What a person typed cannot be used; the message is one plain sentence for them."""


@dataclass(frozen=True)
class ServerEntry:
    """One row of the manual form: which kind, and what was typed."""

    kind: str  # smtp | imap | pop3
    host: str
    port: int
    tls: str


def endpoint_from_dict(item: Mapping[str, Any], source: str = "discovery") -> Endpoint:
    """A discovery endpoint (kind/host/port/tls/name[/url]) as the config's Endpoint."""
    try:
        return config_mod._endpoint_from_table(dict(item), source, 0, None)
    except ConfigError as exc:
        raise SetupInputError(exc.expected) from None


def endpoint_to_dict(endpoint: Endpoint) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": endpoint.kind, "host": endpoint.host, "port": endpoint.port,
                            "tls": endpoint.tls, "name": endpoint.name}
    if endpoint.kind == "https":
        item["url"] = endpoint.url
    return item


_PURPOSE = {"smtp": "sending", "imap": "receiving", "pop3": "receiving"}


def manual_endpoints(entries: Iterable[ServerEntry]) -> list[Endpoint]:
    """The filled-in rows of the manual form as endpoints; rows without a server are skipped.
    SetupInputError names the first problem in words."""
    endpoints: list[Endpoint] = []
    for entry in entries:
        host = entry.host.strip()
        if not host:
            continue
        purpose = _PURPOSE.get(entry.kind, "the")
        has_port = ":" in host and not _is_ipv6(host)
        if "://" in host or "/" in host or " " in host or has_port:
            raise SetupInputError(
                f"The server for {purpose} mail should be a name like mail.example.com, "
                "without http:// or a port (the port has its own box)."
            )
        if not 1 <= int(entry.port) <= 65535:
            raise SetupInputError(f"The port for {purpose} mail must be a number from 1 to 65535.")
        if entry.tls not in TLS_CHOICES:
            raise SetupInputError(f"Choose how the connection for {purpose} mail is secured.")
        try:
            endpoints.append(
                config_mod._endpoint_from_table(
                    {"kind": entry.kind, "host": host.strip("[]"), "port": int(entry.port),
                     "tls": entry.tls},
                    "the set-up window", 0, None,
                )
            )
        except ConfigError:
            raise SetupInputError(
                f"The server for {purpose} mail should be a name like mail.example.com."
            ) from None
    if not endpoints:
        raise SetupInputError("Enter at least one server: the one for sending or for receiving mail.")
    return endpoints


def _is_ipv6(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).version == 6
    except ValueError:
        return False


def config_for_check(config: Config, endpoints: list[Endpoint], address: str = "") -> Config:
    """The tray's config with these endpoints (and the address) in place: the check uses the
    same DNS servers, CA file, proxy and timeouts as the tray will after saving."""
    values = dict(config.values)
    sources = dict(config.sources)
    if address and not address_locked(config):
        values["mail.address"] = address
        sources["mail.address"] = "the set-up window"
    sources["endpoints"] = "the set-up window"
    return Config(
        values=values,
        sources=sources,
        endpoints=list(endpoints),
        files_read=list(config.files_read),
        policy_keys=set(config.policy_keys),
    )


def check_endpoints(
    config: Config,
    endpoints: list[Endpoint],
    address: str = "",
    diagnose: Callable[[Config], Any] | None = None,
) -> Any:
    """Runs on a worker thread: one diagnosis of these endpoints through the engine."""
    if diagnose is None:
        from app.diagnosis.engine import diagnose
    return diagnose(config_for_check(config, endpoints, address))


# ---------------------------------------------------------------- words for staff

_SOURCE_WORDS = {
    "autoconfig": "Found through your mail provider's settings file (autoconfig).",
    "autodiscover": "Found through your organisation's Exchange settings (Autodiscover).",
    "srv": "Found through your domain's mail service records (DNS SRV).",
    "mx": "Found through your domain's mail exchanger record (MX).",
}
_PROVIDERS = (
    ("office365.com", "Microsoft 365"),
    ("outlook.com", "Microsoft 365"),
    ("gmail.com", "Google"),
    ("google.com", "Google"),
)


def source_sentence(result: Any) -> str:
    """Where the servers came from, in one sentence (`result` is an app.discovery.Discovery)."""
    source = getattr(result, "source", "none")
    if source == "none" or not getattr(result, "endpoints", None):
        domain = getattr(result, "domain", "") or "this address"
        return (
            f"No mail servers were found for {domain}. Enter them below; your IT department "
            "or mail provider can tell you what they are."
        )
    sentence = _SOURCE_WORDS.get(source, f"Found through {source}.")
    if source == "mx":
        hosts = " ".join(str(e.get("host", "")) for e in result.endpoints)
        provider = next((name for suffix, name in _PROVIDERS if suffix in hosts), None)
        if provider:
            sentence = f"Found through your domain's mail exchanger record (MX): your mail is at {provider}."
    if source == "autoconfig" and any(
        t.get("source") == "autoconfig" and t.get("result") == "found"
        and str(t.get("url", "")).startswith("http://")
        for t in getattr(result, "tried", [])
    ):
        sentence = sentence[:-1] + ", read over an unsecured connection: check them with IT."
    return sentence


_SECURITY_WORDS = {"starttls": "secured with STARTTLS", "implicit": "secured with SSL/TLS",
                   "none": "not secured"}
_KIND_WORDS = {"smtp": "Sending mail", "imap": "Receiving mail (IMAP)",
               "pop3": "Receiving mail (POP3)", "https": "Webmail", "tcp": "Mail server"}


def endpoint_title(endpoint: Endpoint) -> str:
    return _KIND_WORDS.get(endpoint.kind, endpoint.kind)


def endpoint_words(endpoint: Endpoint) -> str:
    """"smtp.example.com, port 587, secured with STARTTLS" (webmail: its address)."""
    if endpoint.kind == "https":
        return endpoint.url
    return f"{endpoint.host}, port {endpoint.port}, {_SECURITY_WORDS.get(endpoint.tls, endpoint.tls)}"


def check_state(check: Any) -> str:
    """ok | warn | fail | waiting: the colour of an endpoint's row."""
    if check is None:
        return "waiting"
    return {"ok": "ok", "warn": "warn", "fail": "fail"}.get(check.status, "fail")


def check_sentence(check: Any) -> str:
    """How the server answered, in one sentence."""
    if check is None:
        return "Checking…"
    if check.status == "ok":
        return "Works."
    detail = _one_sentence(check.detail)
    if check.status == "warn":
        return f"Works, with a warning: {detail}" if detail else "Works, with a warning."
    return detail or "Does not work."


def _one_sentence(text: str) -> str:
    """The first sentence of an engine detail (the rest is for IT, in Details)."""
    text = re.sub(r"\s+", " ", text or "").strip()
    match = re.match(r"(.+?[.!?])(\s+[A-Z]|$)", text)
    sentence = match.group(1) if match else text
    if sentence and sentence[-1] not in ".!?)":
        sentence += "."
    return sentence


def summary_sentence(diagnosis: Any, endpoints: list[Endpoint]) -> str:
    """The line under the servers once the check is back."""
    checks = {c.id: c for c in diagnosis.endpoint_checks}
    failed = [e for e in endpoints if check_state(checks.get(e.id)) == "fail"]
    if not failed:
        return "Everything answered. Press Save to start watching your mail."
    if diagnosis.verdict == "local":
        return f"{_one_sentence(diagnosis.headline)} You can save now; MailBeacon checks again once you are connected."
    if len(failed) == len(endpoints):
        return "None of these servers answered. Check what you typed, or save anyway if they only work at the office."
    return "Some servers did not answer. You can save anyway; MailBeacon keeps checking and shows when they work."
