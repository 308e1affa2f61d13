"""Configuration: built-in defaults, system file/registry, user file, environment, admin policy.

Each source is read into one flat dict of `section.key` values; later sources win, policy last,
so the user cannot override it. Every value is validated; a problem is a ConfigError that names
the source, the line where known, the key and what is expected.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app import paths as _paths
from app.errors import ConfigError

# ---------------------------------------------------------------- the schema


@dataclass(frozen=True)
class Field:
    type: type | tuple[type, ...]
    default: Any
    expected: str
    check: Callable[[Any], bool] | None = None


def _one_of(*choices: str) -> Callable[[Any], bool]:
    return lambda v: v in choices


def _http_url(v: str) -> bool:
    if v == "":
        return True
    parts = urlsplit(v)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _hub_url(v: str) -> bool:
    # a base URL: paths below it (/api/v1/reports, /feed.json) are appended, so no query/fragment
    if not _http_url(v):
        return False
    parts = urlsplit(v)
    return not parts.query and not parts.fragment


def hub_link(base: str, path: str) -> str:
    """<hub.url> + path, whether or not the configured URL ends with a slash."""
    return base.rstrip("/") + "/" + path.lstrip("/")


def _feed_url(v: str) -> bool:
    if v == "" or v.startswith(("/", "~", ".", "\\")) or re.match(r"^[A-Za-z]:[\\/]", v):
        return True
    parts = urlsplit(v)
    if parts.scheme == "file":
        return True
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _host_port(v: str) -> bool:
    if v == "":
        return True
    try:
        split_host_port(v, None)
    except ValueError:
        return False
    return True


def _nameserver(v: str) -> bool:
    try:
        host, _ = split_host_port(v, 53)
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _endpoint_host(v: str) -> bool:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        # \w: internal names with underscores and international names pass; ports, schemes do not
        return re.fullmatch(r"\w([\w.-]*\w)?\.?", v) is not None
    return True


def _email(v: str) -> bool:
    return v == "" or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v) is not None


def _domain(v: str) -> bool:
    return v == "" or re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?", v) is not None


def _emails(v: str) -> bool:
    return all(_email(a.strip()) for a in v.split(",")) if v else True


_TLS = ("starttls", "implicit", "none")
_URL = "an http:// or https:// URL, or empty"
# URLs whose path is the key that lets anyone post (Slack, Teams, most webhooks): never shown
SECRET_PATH_URLS = ("report.webhook_url", "report.teams_url", "report.slack_url")

SCHEMA: dict[str, dict[str, Field]] = {
    "mail": {
        "address": Field(str, "", "an email address like name@example.com, or empty", _email),
        "domain": Field(str, "", "a domain name like example.com, or empty", _domain),
        "webmail_url": Field(str, "", _URL, _http_url),
    },
    "dns": {
        "nameservers": Field(
            list, [], 'a list of IP addresses like ["10.0.0.53", "127.0.0.1:5353"]', None
        ),
        "control_name": Field(str, "", "a host name that always resolves, or empty", _domain),
    },
    "network": {
        "internet_url": Field(
            str, "http://connectivitycheck.gstatic.com/generate_204", _URL, _http_url
        ),
        "internet_expect_status": Field(
            int, 204, "an HTTP status between 100 and 599", lambda v: 100 <= v <= 599
        ),
        "internet_expect_body": Field(str, "", "the exact body text, or empty"),
    },
    "tls": {
        "ca_file": Field(str, "", "the path of a PEM file of CA certificates, or empty"),
        "expiry_warn_days": Field(int, 14, "a whole number of days, 0 to 365", lambda v: 0 <= v <= 365),
    },
    "check": {
        "interval_s": Field(
            (int, float), 60, "seconds between checks, 10 to 86400", lambda v: 10 <= v <= 86400
        ),
        "timeout_s": Field(
            (int, float), 5, "seconds per probe, more than 0 and at most 120", lambda v: 0 < v <= 120
        ),
        "confirm_after_s": Field(
            (int, float), 5, "seconds, 0 to 3600", lambda v: 0 <= v <= 3600
        ),
        "slow_ms": Field(
            (int, float), 1500, "milliseconds, 1 to 120000", lambda v: 1 <= v <= 120000
        ),
    },
    "feed": {
        "url": Field(str, "", "an http(s) URL or a file path, or empty", _feed_url),
        "interval_s": Field(
            (int, float), 120, "seconds between reads, 10 to 86400", lambda v: 10 <= v <= 86400
        ),
    },
    "report": {
        "webhook_url": Field(str, "", _URL, _http_url),
        "teams_url": Field(str, "", _URL, _http_url),
        "slack_url": Field(str, "", _URL, _http_url),
        "email_to": Field(str, "", "email addresses separated by commas, or empty", _emails),
        "relay": Field(str, "", '"host:port" of an SMTP relay, or empty', _host_port),
        "relay_tls": Field(str, "starttls", "one of starttls, implicit, none", _one_of(*_TLS)),
        "relay_username": Field(str, "", "a user name, or empty"),
        "email_from": Field(str, "", "an email address, or empty", _email),
        "include_username": Field(bool, True, "true or false"),
        "include_hostname": Field(bool, True, "true or false"),
        "redact_addresses": Field(bool, False, "true or false"),
    },
    "hub": {
        # IT's MailBeacon hub: reports also go there, the feed defaults to <url>/feed.json
        "url": Field(str, "", "the http(s) URL of a MailBeacon hub like https://hub.example.com, or empty", _hub_url),
        "share_state": Field(bool, True, "true or false"),
    },
}

ENDPOINT_FIELDS = ("kind", "host", "port", "tls", "name", "url")
ENDPOINT_KINDS = ("smtp", "imap", "pop3", "https", "tcp")
# default port and TLS per kind, and the URL schemes accepted in the compact form
_DEFAULT_PORT = {"smtp": 587, "imap": 143, "pop3": 110, "https": 443}
_SCHEMES = {
    "smtp": ("smtp", "starttls"),
    "submission": ("smtp", "starttls"),
    "smtps": ("smtp", "implicit"),
    "imap": ("imap", "starttls"),
    "imaps": ("imap", "implicit"),
    "pop3": ("pop3", "starttls"),
    "pop3s": ("pop3", "implicit"),
    "https": ("https", "implicit"),
    "tcp": ("tcp", "none"),
}
_IMPLICIT_PORT = {"smtp": 465, "imap": 993, "pop3": 995, "https": 443}

# environment variables under the prefix that are not config keys
_ENV_RESERVED = ("MAILBEACON_HOME", "MAILBEACON_ENDPOINTS")
_ENV_RESERVED_PREFIXES = ("MAILBEACON_SECRET_",)


def split_host_port(text: str, default_port: int | None) -> tuple[str, int]:
    """"host", "host:25", "[::1]:25", "::1" -> (host, port); ValueError when malformed."""
    text = text.strip()
    if not text:
        raise ValueError("empty")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError("unclosed [")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError("bad port")
        port = int(port_text)
    elif default_port is None:
        raise ValueError("port missing")
    else:
        port = default_port
    if not host or any(c.isspace() for c in host):
        raise ValueError("bad host")
    return host, port


# ---------------------------------------------------------------- the result


@dataclass(frozen=True)
class Endpoint:
    kind: str
    host: str
    port: int
    tls: str = "starttls"
    name: str = ""
    url: str = ""

    @property
    def target(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def id(self) -> str:
        return f"{self.kind} {self.target}"

    @property
    def label(self) -> str:
        return self.name or _KIND_LABEL.get(self.kind, self.kind) + f" ({self.host})"


_KIND_LABEL = {
    "smtp": "Sending mail",
    "imap": "Receiving mail",
    "pop3": "Receiving mail",
    "https": "Webmail",
    "tcp": "Mail server",
}


class _Section:
    """Attribute access to one section's values (cfg.check.interval_s)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Section({self.__dict__!r})"


@dataclass
class Config:
    values: dict[str, Any]  # "section.key" -> value
    sources: dict[str, str]  # "section.key" or "endpoints" -> where it came from
    endpoints: list[Endpoint] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)
    policy_keys: set[str] = field(default_factory=set)
    # the file this configuration's user layer is read from and saved to: --config when given,
    # else the user config file (None when a test left the user layer out)
    user_file: str | None = None

    def __post_init__(self) -> None:
        for section in SCHEMA:
            setattr(
                self,
                section,
                _Section(
                    {k: self.values[f"{section}.{k}"] for k in SCHEMA[section]}
                ),
            )

    # typed views the rest of the app uses
    mail: Any = field(init=False, repr=False)
    dns: Any = field(init=False, repr=False)
    network: Any = field(init=False, repr=False)
    tls: Any = field(init=False, repr=False)
    check: Any = field(init=False, repr=False)
    feed: Any = field(init=False, repr=False)
    report: Any = field(init=False, repr=False)
    hub: Any = field(init=False, repr=False)

    @property
    def mail_domain(self) -> str:
        if self.mail.domain:
            return self.mail.domain.rstrip(".")
        address = self.mail.address
        return address.rpartition("@")[2] if "@" in address else ""

    @property
    def control_name(self) -> str:
        if self.dns.control_name:
            return self.dns.control_name
        return urlsplit(self.network.internet_url).hostname or ""

    def nameservers(self) -> list[tuple[str, int]]:
        return [split_host_port(n, 53) for n in self.dns.nameservers]


def defaults() -> Config:
    return load(user_file=None, system_file=None, policy_file=None, env={}, registry=False)


# ---------------------------------------------------------------- reading sources


def _line_of(text: str, section: str | None, key: str, index: int | None = None) -> int | None:
    """Best-effort line number of `key = ...` inside [section] (or the index-th [[section]])."""
    current: str | None = None
    seen_array = -1
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\[\s*([^\]]+?)\s*\]\]", line) or re.match(r"^\[\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1).strip().strip('"')
            if line.startswith("[[") and current == section:
                seen_array += 1
            continue
        if current != section or (index is not None and seen_array != index):
            continue
        if re.match(rf'^"?{re.escape(key)}"?\s*=', line):
            return number
    if index is None:
        for number, raw in enumerate(text.splitlines(), start=1):
            if re.match(rf"^\[\s*{re.escape(section or '')}\s*\]", raw.strip()):
                return number
    return None


def _read_toml(path: Path, label: str) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(label, None, "the file is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(label, None, f"cannot read the file ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        line = int(match.group(1)) if match else None
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise ConfigError(label, None, f"not valid TOML: {reason}", line) from None
    except RecursionError:
        raise ConfigError(label, None, "not valid TOML: arrays or tables nested too deeply") from None
    return data, text


def _flatten_toml(data: dict[str, Any], text: str, label: str) -> tuple[dict[str, Any], list | None]:
    """TOML document -> ({"section.key": value}, endpoints or None), rejecting unknown keys."""
    flat: dict[str, Any] = {}
    endpoints = None
    for section, body in data.items():
        if section == "endpoints":
            if not isinstance(body, list):
                raise ConfigError(
                    label, "endpoints", "[[endpoints]] tables", _line_of(text, None, "endpoints")
                )
            endpoints = [
                _endpoint_from_table(item, label, i, text) for i, item in enumerate(body)
            ]
            continue
        if section not in SCHEMA:
            raise ConfigError(
                label,
                section,
                f"a known section ({', '.join(['endpoints', *SCHEMA])})",
                _line_of(text, section, "") if not isinstance(body, dict) else _header_line(text, section),
            )
        if not isinstance(body, dict):
            raise ConfigError(label, section, f"a [{section}] table", _line_of(text, None, section))
        for key, value in body.items():
            name = f"{section}.{key}"
            if key not in SCHEMA[section]:
                known = ", ".join(SCHEMA[section])
                raise ConfigError(
                    label, name, f"a known key of [{section}] ({known})", _line_of(text, section, key)
                )
            flat[name] = _validate(name, value, label, _line_of(text, section, key))
    return flat, endpoints


def check_text(text: str, label: str) -> None:
    """ConfigError when `text` would not load as a config file (for writers that edit one)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(label, None, f"not valid TOML: {exc}") from None
    _flatten_toml(data, text, label)


def _header_line(text: str, section: str) -> int | None:
    for number, raw in enumerate(text.splitlines(), start=1):
        if re.match(rf"^\[\s*{re.escape(section)}\s*\]", raw.strip()):
            return number
    return None


def _type_name(t: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false", list: "a list"}
    if isinstance(t, tuple):
        return "a number"
    return names.get(t, t.__name__)


def _validate(name: str, value: Any, label: str, line: int | None) -> Any:
    section, key = name.split(".", 1)
    spec = SCHEMA[section][key]
    ok_type = isinstance(value, spec.type) and not (
        isinstance(value, bool) and spec.type is not bool
    )
    if not ok_type:
        raise ConfigError(
            label, name, f"{_type_name(spec.type)} ({spec.expected}), not {_shown(name, value)}", line
        )
    if name == "dns.nameservers":
        if not all(isinstance(v, str) and _nameserver(v) for v in value):
            raise ConfigError(label, name, spec.expected, line)
        return list(value)
    if spec.check is not None and not spec.check(value):
        raise ConfigError(label, name, f"{spec.expected}, not {_shown(name, value)}", line)
    return value


def _shown(name: str, value: Any) -> str:
    """A rejected value as an error may quote it: a webhook URL's path is its secret, so only
    its origin is shown (the scrubber masks passwords and tokens in the rest)."""
    if name in SECRET_PATH_URLS and isinstance(value, str):
        from app.report.redact import mask_url

        return repr(mask_url(value))
    return repr(value)


def _endpoint_from_table(item: Any, label: str, index: int, text: str | None) -> Endpoint:
    def line(key: str) -> int | None:
        return _line_of(text, "endpoints", key, index) if text else None

    where = f"endpoints[{index + 1}]"
    if isinstance(item, str):
        return parse_endpoint_url(item, label, where)
    if not isinstance(item, dict):
        raise ConfigError(label, where, "a table with kind, host and port", None)
    for key in item:
        if key not in ENDPOINT_FIELDS:
            raise ConfigError(
                label, f"{where}.{key}", f"one of {', '.join(ENDPOINT_FIELDS)}", line(key)
            )
    kind = item.get("kind", "smtp" if "url" not in item else "https")
    if kind not in ENDPOINT_KINDS:
        raise ConfigError(
            label, f"{where}.kind", f"one of {', '.join(ENDPOINT_KINDS)}, not {kind!r}", line("kind")
        )
    for key in ("host", "name", "url", "tls"):
        if key in item and not isinstance(item[key], str):
            raise ConfigError(label, f"{where}.{key}", f"a string, not {item[key]!r}", line(key))
    url = item.get("url", "")
    host = item.get("host", "")
    if kind == "https":
        if url:
            if not _http_url(url) or not url.startswith("https://"):
                raise ConfigError(label, f"{where}.url", f"an https:// URL, not {url!r}", line("url"))
            parts = urlsplit(url)
            host = host or (parts.hostname or "")
            default_port = parts.port or 443
        else:
            default_port = 443
    else:
        default_port = _DEFAULT_PORT.get(kind)
    if not host:
        raise ConfigError(label, f"{where}.host", "a host name or IP address", line("host") or line("kind"))
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # "[::1]": the brackets belong to the target, not the address
    if not _endpoint_host(host):
        raise ConfigError(
            label, f"{where}.host",
            f"a host name or IP address alone (the port goes in port), not {host!r}", line("host"),
        )
    port = item.get("port", default_port)
    if port is None:
        raise ConfigError(label, f"{where}.port", "a port number (tcp endpoints have no default)", line("kind"))
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(label, f"{where}.port", f"a port number 1 to 65535, not {port!r}", line("port"))
    tls = item.get("tls", "implicit" if kind == "https" else ("none" if kind == "tcp" else "starttls"))
    if tls not in _TLS:
        raise ConfigError(label, f"{where}.tls", f"one of {', '.join(_TLS)}, not {tls!r}", line("tls"))
    if kind == "https":
        tls = "implicit"
        url = url or f"https://{host if ':' not in host else f'[{host}]'}:{port}/"
    return Endpoint(kind=kind, host=host, port=port, tls=tls, name=item.get("name", ""), url=url)


def parse_endpoint_url(text: str, label: str, where: str = "endpoints") -> Endpoint:
    """The compact form used where tables cannot go (environment, registry, MSI properties):
    "smtp://host:587", "smtps://host", "imaps://host", "https://host/owa/", "tcp://host:25",
    with optional "?tls=none&name=Outgoing%20mail"."""
    parts = urlsplit(text.strip())
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise ConfigError(
            label,
            where,
            "endpoints like smtp://host:587, smtps://host, imaps://host, pop3s://host, "
            f"https://host/path or tcp://host:port, not {text!r}",
        )
    kind, tls = _SCHEMES[parts.scheme]
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    tls = query.get("tls", tls)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(label, where, f"a port number 1 to 65535 in {text!r}") from None
    table: dict[str, Any] = {"kind": kind, "host": parts.hostname, "tls": tls}
    if "name" in query:
        table["name"] = query["name"]
    if kind == "https":
        table["url"] = f"https://{parts.netloc}{parts.path or '/'}"
    elif port is None and tls == "implicit":
        table["port"] = _IMPLICIT_PORT[kind]
    if port is not None:
        table["port"] = port
    return _endpoint_from_table(table, label, 0, None)


def _endpoints_from_compact(value: Any, label: str) -> list[Endpoint]:
    items = value if isinstance(value, list) else re.split(r"[\s,;]+", str(value).strip())
    return [parse_endpoint_url(str(v), label) for v in items if str(v).strip()]


def _coerce_text(name: str, raw: str, label: str) -> Any:
    """A value given as text (environment, registry string) -> the schema's type."""
    section, key = name.split(".", 1)
    spec = SCHEMA[section][key]
    text = raw.strip()
    if spec.type is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(label, name, f"true or false, not {raw!r}")
    if spec.type is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(label, name, f"a whole number ({spec.expected}), not {raw!r}") from None
    if spec.type == (int, float):
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(label, name, f"a number ({spec.expected}), not {raw!r}") from None
        return int(number) if number.is_integer() else number
    if spec.type is list:
        return [p.strip() for p in re.split(r"[\s,;]+", text) if p.strip()]
    return raw


def _flatten_flat(values: Mapping[str, Any], label: str) -> tuple[dict[str, Any], list | None]:
    """{"section.key": value} from the registry or a managed-preferences plist."""
    flat: dict[str, Any] = {}
    endpoints = None
    for name, value in values.items():
        if name == "endpoints":
            if isinstance(value, list) and value and isinstance(value[0], dict):
                endpoints = [_endpoint_from_table(v, label, i, None) for i, v in enumerate(value)]
            else:
                endpoints = _endpoints_from_compact(value, label)
            continue
        section, _, key = name.partition(".")
        if section not in SCHEMA or key not in SCHEMA[section]:
            raise ConfigError(label, name, "a known key such as check.interval_s or report.webhook_url")
        if isinstance(value, str) and SCHEMA[section][key].type is not str:
            value = _coerce_text(name, value, label)
        elif isinstance(value, int) and SCHEMA[section][key].type is bool:
            value = bool(value)  # REG_DWORD 0/1
        flat[name] = _validate(name, value, label, None)
    return flat, endpoints


def env_values(env: Mapping[str, str]) -> tuple[dict[str, Any], list | None, dict[str, str]]:
    flat: dict[str, Any] = {}
    sources: dict[str, str] = {}
    endpoints = None
    by_env_name = {
        f"MAILBEACON_{section.upper()}_{key.upper()}": f"{section}.{key}"
        for section, keys in SCHEMA.items()
        for key in keys
    }
    for var in sorted(env):
        if not var.startswith("MAILBEACON_") or var in ("MAILBEACON_HOME",):
            continue
        if var.startswith(_ENV_RESERVED_PREFIXES):
            continue
        label = f"environment {var}"
        if var == "MAILBEACON_ENDPOINTS":
            endpoints = _endpoints_from_compact(env[var], label)
            sources["endpoints"] = label
            continue
        name = by_env_name.get(var)
        if name is None:
            raise ConfigError(
                label,
                None,
                "not a MailBeacon setting; use MAILBEACON_<SECTION>_<KEY> "
                "such as MAILBEACON_CHECK_INTERVAL_S",
            )
        flat[name] = _validate(name, _coerce_text(name, env[var], label), label, None)
        sources[name] = label
    return flat, endpoints, sources


def read_windows_registry(key_path: str) -> dict[str, Any]:
    """Values under HKLM\\<key_path> as {"section.key": value}; {} when absent or not Windows."""
    if sys.platform != "win32":
        return {}
    import winreg

    values: dict[str, Any] = {}
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key_path) as handle:
            index = 0
            while True:
                try:
                    name, value, _kind = winreg.EnumValue(handle, index)
                except OSError:
                    break
                values[name] = value
                index += 1
    except OSError:
        return {}
    return values


def read_managed_prefs(files: list[Path]) -> dict[str, Any]:
    """macOS managed preferences: plists whose keys are "section.key" (or nested dicts)."""
    import plistlib

    merged: dict[str, Any] = {}
    for path in files:
        try:
            with path.open("rb") as fh:
                data = plistlib.load(fh)
        except FileNotFoundError:
            continue
        except (OSError, plistlib.InvalidFileException, ValueError) as exc:
            raise ConfigError(f"managed preferences {path}", None, f"a readable plist ({exc})") from None
        for key, value in data.items():
            if key.startswith("Payload"):  # configuration-profile bookkeeping, not settings
                continue
            if isinstance(value, dict) and key in SCHEMA:
                for sub, sub_value in value.items():
                    merged[f"{key}.{sub}"] = sub_value
            else:
                merged[key] = value
    return merged


# ---------------------------------------------------------------- loading


_REGISTRY_SYSTEM = r"Software\MailBeacon"
_REGISTRY_POLICY = r"Software\Policies\MailBeacon"
_UNSET = object()


def load(
    config_file: str | Path | None = None,
    *,
    user_file: Any = _UNSET,
    system_file: Any = _UNSET,
    policy_file: Any = _UNSET,
    env: Mapping[str, str] | None = None,
    registry: bool = True,
    platform: str = sys.platform,
) -> Config:
    """The effective configuration. `config_file` (--config) replaces the user file and must
    exist; the keyword arguments let tests point every source somewhere else."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for section, keys in SCHEMA.items():
        for key, spec in keys.items():
            values[f"{section}.{key}"] = list(spec.default) if isinstance(spec.default, list) else spec.default
            sources[f"{section}.{key}"] = "default"
    endpoints: list[Endpoint] = []
    sources["endpoints"] = "default"
    files_read: list[str] = []
    policy_keys: set[str] = set()

    def apply(flat: dict[str, Any], eps: list | None, label: str, *, policy: bool = False) -> None:
        nonlocal endpoints
        values.update(flat)
        for name in flat:
            sources[name] = label
        if eps is not None:
            endpoints = list(eps)
            sources["endpoints"] = label
        if policy:
            policy_keys.update(flat)
            if eps is not None:
                policy_keys.add("endpoints")

    def apply_file(path: Path, label: str, *, required: bool, policy: bool = False) -> None:
        try:
            exists = path.exists()
        except OSError as exc:  # a folder the user may not enter, a name too long, ...
            raise ConfigError(label, None, f"cannot read the file ({exc.strerror or exc})") from None
        if not exists:
            if required:
                raise ConfigError(label, None, "an existing file (it was not found)")
            return
        data, text = _read_toml(path, label)
        flat, eps = _flatten_toml(data, text, label)
        files_read.append(str(path))
        apply(flat, eps, label, policy=policy)

    # 2. system defaults
    if system_file is _UNSET:
        system_file = _paths.system_config_file(platform)
    if system_file is not None:
        apply_file(Path(system_file), f"system file {system_file}", required=False)
    if registry and platform == "win32":
        reg = read_windows_registry(_REGISTRY_SYSTEM)
        if reg:
            label = rf"registry HKLM\{_REGISTRY_SYSTEM}"
            apply(*_flatten_flat(reg, label), label)

    # 3. user file, or --config
    layer_file: str | None = None
    if config_file is not None:
        path = Path(config_file).expanduser()
        apply_file(path, str(path), required=True)
        layer_file = str(path)
    else:
        if user_file is _UNSET:
            user_file = _paths.user_paths(env).user_config
        if user_file is not None:
            apply_file(Path(user_file), str(user_file), required=False)
            layer_file = str(user_file)

    # 4. environment
    flat, eps, env_sources = env_values(env)
    values.update(flat)
    sources.update(env_sources)
    if eps is not None:
        endpoints = eps

    # 5. admin policy
    if policy_file is _UNSET:
        policy_file = _paths.policy_file(platform)
    if policy_file is not None:
        apply_file(Path(policy_file), f"policy {policy_file}", required=False, policy=True)
    if registry and platform == "win32":
        reg = read_windows_registry(_REGISTRY_POLICY)
        if reg:
            label = rf"policy HKLM\{_REGISTRY_POLICY}"
            apply(*_flatten_flat(reg, label), label, policy=True)
    if registry and platform == "darwin":
        prefs = read_managed_prefs(_paths.managed_prefs_files(platform))
        if prefs:
            from app import BUNDLE_ID

            label = f"managed preferences {BUNDLE_ID}"
            apply(*_flatten_flat(prefs, label), label, policy=True)

    if values["hub.url"] and not values["feed.url"]:
        # SPEC 2: with a hub, the status feed is the hub's unless a feed is configured anywhere
        values["feed.url"] = hub_link(values["hub.url"], "feed.json")
        sources["feed.url"] = f"hub.url ({sources['hub.url']})"
    if values["tls.ca_file"]:
        _check_ca_file(Path(values["tls.ca_file"]).expanduser(), sources["tls.ca_file"])
    _check_relay_login(values, sources)
    _register_secrets(values, endpoints)
    return Config(
        values=values,
        sources=sources,
        endpoints=endpoints,
        files_read=files_read,
        policy_keys=policy_keys,
        user_file=layer_file,
    )


def _register_secrets(values: dict[str, Any], endpoints: list[Endpoint]) -> None:
    """Tell the one scrubber what is secret in this configuration, so no output shows it: the
    password in any URL (feed.url, the proxy), and the path of webhook URLs, which is the key."""
    from app.report import redact

    for name, value in values.items():
        if isinstance(value, str) and ("@" in value or "?" in value or name in SECRET_PATH_URLS):
            redact.register_url_secrets(value, path_is_secret=name in SECRET_PATH_URLS)
    for endpoint in endpoints:
        redact.register_url_secrets(endpoint.url)
    for url in system_proxy_urls():
        redact.register_url_secrets(url)


def system_proxy_urls(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> list[str]:
    """Every proxy URL the system sets (the one that will be used among them): each *_proxy
    variable in any case, and on Windows and macOS their system settings too.

    Elsewhere urllib.request.getproxies() reads exactly these variables; reading them here keeps
    urllib.request (with http.client, email and ssl) off the tray's start-up path."""
    from app.report.redact import environ_items

    urls = [v for k, v in environ_items(environ) if v and k.lower().endswith("_proxy")]
    if platform in ("win32", "darwin"):
        import urllib.request

        try:
            urls += urllib.request.getproxies().values()
        except Exception:  # odd system settings: nothing more to register, the shapes still match
            pass
    return urls


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_relay_login(values: dict[str, Any], sources: dict[str, str]) -> None:
    """A relay login over relay_tls = "none" would send the password in clear across the
    network: refused, unless the relay is this machine (a local MTA or an SSH tunnel)."""
    if values["report.relay_tls"] != "none" or not values["report.relay_username"] or not values["report.relay"]:
        return
    try:
        host, _port = split_host_port(values["report.relay"], 587)
    except ValueError:
        return
    if _is_loopback(host):
        return
    raise ConfigError(
        sources["report.relay_tls"],
        "report.relay_tls",
        f'"starttls" or "implicit" when report.relay_username is set: with "none" the relay '
        f"password would cross the network to {host} unencrypted (allowed only for a relay on "
        "loopback, such as localhost:25)",
    )


def _check_ca_file(ca: Path, source: str) -> None:
    """tls.ca_file must be a PEM bundle OpenSSL reads: a bad one would make every TLS endpoint
    fail, and the verdict blame the mail server's certificate for a configuration mistake."""
    import ssl

    def bad(why: str) -> ConfigError:
        return ConfigError(source, "tls.ca_file", f"a PEM file of CA certificates ({ca} {why})")

    try:
        if ca.is_dir():
            raise bad("is a folder")
        if not ca.is_file():
            raise bad("was not found")
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(ca))
    except ssl.SSLError:
        raise bad("holds no PEM certificate OpenSSL can read") from None
    except OSError as exc:
        raise bad(f"cannot be read: {exc.strerror or exc}") from None


def describe(cfg: Config) -> list[tuple[str, Any, str]]:
    """(key, value, source) rows for `config show`."""
    rows = [(name, cfg.values[name], cfg.sources[name]) for name in cfg.values]
    for i, ep in enumerate(cfg.endpoints, start=1):
        rows.append(
            (f"endpoints[{i}]", f"{ep.kind} {ep.target} tls={ep.tls}" + (f" name={ep.name!r}" if ep.name else "") + (f" url={ep.url}" if ep.kind == "https" else ""), cfg.sources["endpoints"])
        )
    return rows


def warnings(cfg: Config) -> list[str]:
    """Settings that work but that IT should know are weak (for `config validate`)."""
    found = []
    if cfg.feed.url.lower().startswith("http://"):
        found.append(
            f"feed.url ({cfg.sources['feed.url']}) is plain http: anyone on the network path "
            "can change the IT status people see; use an https:// URL."
        )
    return found
