"""First-run set-up without Qt: when the tray offers it, the address the OS already knows, the
endpoints a person typed, and the config a check of candidate endpoints runs on. What the set-up
window says lives in app.words.setup."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app import config as config_mod
from app.config import Config, Endpoint
from app.errors import ConfigError
from app.words import setup as words

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

    function = ctypes.WinDLL("secur32", use_last_error=True).GetUserNameExW  # type: ignore[attr-defined]
    function.argtypes = [ctypes.c_int, wintypes.LPWSTR, ctypes.POINTER(wintypes.ULONG)]
    function.restype = wintypes.BOOLEAN

    def call(name_format: int) -> str:
        size = wintypes.ULONG(0)
        # the first call only asks for the length: it fails with ERROR_MORE_DATA and sets size;
        # a local account fails with ERROR_NONE_MAPPED and leaves it 0
        if not function(name_format, None, ctypes.byref(size)) and (
            ctypes.get_last_error() != _ERROR_MORE_DATA or size.value == 0
        ):
            return ""
        buffer = ctypes.create_unicode_buffer(size.value + 1)
        size = wintypes.ULONG(size.value + 1)
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
                            "tls": endpoint.tls}
    if endpoint.name:
        item["name"] = endpoint.name
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
            raise SetupInputError(words.INPUT["host_shape"].format(purpose=purpose))
        if not 1 <= int(entry.port) <= 65535:
            raise SetupInputError(words.INPUT["port"].format(purpose=purpose))
        if entry.tls not in TLS_CHOICES:
            raise SetupInputError(words.INPUT["security"].format(purpose=purpose))
        try:
            endpoints.append(
                config_mod._endpoint_from_table(
                    {"kind": entry.kind, "host": host.strip("[]"), "port": int(entry.port),
                     "tls": entry.tls},
                    "the set-up window", 0, None,
                )
            )
        except ConfigError:
            raise SetupInputError(words.INPUT["host"].format(purpose=purpose)) from None
    if not endpoints:
        raise SetupInputError(words.INPUT["none"])
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


# what finding and checking load on first use; loaded before their deadlines start, so a cold
# disk (a laptop just after login) is not mistaken for a server that did not answer
_WARM_MODULES = (
    "app.discovery", "app.diagnosis.engine", "app.diagnosis.tls", "app.httpio",
    "dns.resolver", "dns.nameserver", "dns.name", "dns.exception", "defusedxml.ElementTree", "truststore",
)


def warm_up() -> None:
    """Runs on a worker thread: import what discovery and the check use."""
    import importlib

    for name in _WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional piece missing: the step that needs it says so itself
            pass


def check_endpoints(
    config: Config,
    endpoints: list[Endpoint],
    address: str = "",
    diagnose: Callable[[Config], Any] | None = None,
) -> Any:
    """Runs on a worker thread: one diagnosis of these endpoints through the engine."""
    warm_up()
    if diagnose is None:
        from app.diagnosis.engine import diagnose
    return diagnose(config_for_check(config, endpoints, address))


def save_choice(save: Callable[[Any, Config], Any], found: Any, address: str,
                endpoints: list[Endpoint], config: Config) -> Any:
    """Runs on a worker thread: save what was found, or what was typed in discovery's shape, so
    one writer (discover --save semantics: never over a value policy sets) serves both."""
    if found is None:
        from app import discovery

        found = discovery.Discovery(
            address=address,
            domain=address.rpartition("@")[2],
            source="none",
            endpoints=[endpoint_to_dict(e) for e in endpoints],
            webmail_url="",
            tried=[],
        )
    return save(found, config)
