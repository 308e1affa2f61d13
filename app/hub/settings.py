"""hub.toml (SPEC section 8): [hub] and [notify], validated like the laptop config.

A bad file, unknown key, wrong type or out-of-range value is a ConfigError (exit 78) naming the
file, the line where known, the key and what is expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app import config as laptop_config
from app.config import Field, split_host_port
from app.errors import ConfigError

HUB_FILENAME = "hub.toml"


def _listen(v: str) -> bool:
    try:
        split_host_port(v, None)
    except ValueError:
        return False
    return True


def _public_url(v: str) -> bool:
    if v == "":
        return True
    parts = urlsplit(v)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _database(v: str) -> bool:
    if v == "":
        return True
    scheme = urlsplit(v).scheme
    return scheme in ("postgresql", "postgres", "postgresql+psycopg", "sqlite")


HUB_SCHEMA: dict[str, Field] = {
    "listen": Field(str, "127.0.0.1:8425", '"host:port", like "127.0.0.1:8425"', _listen),
    "public_url": Field(str, "", "an http:// or https:// URL, or empty", _public_url),
    "database": Field(
        str, "", "empty (SQLite in the data folder), postgresql://... or sqlite:///PATH", _database
    ),
    "group_wait_s": Field((int, float), 30, "seconds, 0 to 3600", lambda v: 0 <= v <= 3600),
    "group_interval_s": Field(
        (int, float), 600, "seconds, 1 to 86400", lambda v: 1 <= v <= 86400
    ),
    "detect_min_laptops": Field(int, 3, "a whole number, 1 to 1000000", lambda v: 1 <= v <= 1_000_000),
    "detect_min_networks": Field(int, 2, "a whole number, 1 to 1000000", lambda v: 1 <= v <= 1_000_000),
    "retention_days": Field(int, 30, "a whole number of days, 1 to 3650", lambda v: 1 <= v <= 3650),
}
# [notify] takes the channel keys of the laptop's [report] section, validated the same way
NOTIFY_KEYS = (
    "webhook_url", "teams_url", "slack_url", "email_to", "relay", "relay_tls", "relay_username",
    "email_from",
)
NOTIFY_SCHEMA: dict[str, Field] = {k: laptop_config.SCHEMA["report"][k] for k in NOTIFY_KEYS}
SECTIONS = {"hub": HUB_SCHEMA, "notify": NOTIFY_SCHEMA}


@dataclass
class HubSettings:
    listen: str = "127.0.0.1:8425"
    public_url: str = ""
    database: str = ""
    group_wait_s: float = 30
    group_interval_s: float = 600
    detect_min_laptops: int = 3
    detect_min_networks: int = 2
    retention_days: int = 30
    notify: dict[str, Any] = field(default_factory=lambda: {k: NOTIFY_SCHEMA[k].default for k in NOTIFY_KEYS})
    data_dir: Path = field(default_factory=lambda: Path("."))
    source: str = "defaults"

    @property
    def host_port(self) -> tuple[str, int]:
        return split_host_port(self.listen, None)

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL: SQLite <data>/hub.sqlite3 by default, psycopg 3 for PostgreSQL."""
        url = self.database
        if not url:
            return f"sqlite:///{self.data_dir / 'hub.sqlite3'}"
        scheme, _, rest = url.partition("://")
        if scheme in ("postgresql", "postgres"):
            return f"postgresql+psycopg://{rest}"
        return url

    def dashboard_url(self, path: str = "/") -> str:
        base = self.public_url.rstrip("/")
        if not base:
            host, port = self.host_port
            base = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        return base + path

    def channel_config(self) -> laptop_config.Config:
        """A laptop Config whose [report] holds [notify], so the project's channel classes send
        the hub's notifications exactly as they send reports."""
        base = laptop_config.defaults()
        values = dict(base.values)
        sources = dict(base.sources)
        for key, value in self.notify.items():
            values[f"report.{key}"] = value
            sources[f"report.{key}"] = self.source
        return laptop_config.Config(values=values, sources=sources)


def default_path() -> Path:
    from app.paths import user_paths

    return user_paths().config_dir / HUB_FILENAME


def load(config_file: str | Path | None = None, *, data_dir: Path | None = None) -> HubSettings:
    """hub.toml from --config (which must exist) or the config folder (optional)."""
    from app.paths import user_paths

    required = config_file is not None
    path = Path(config_file).expanduser() if config_file is not None else default_path()
    label = str(path)
    settings = HubSettings(data_dir=data_dir or user_paths().data_dir)
    try:
        exists = path.is_file()
        if path.exists() and not exists:
            raise ConfigError(label, None, "a file (this is a folder)")
    except OSError as exc:
        raise ConfigError(label, None, f"cannot read the file ({exc.strerror or exc})") from None
    if not exists:
        if required:
            raise ConfigError(label, None, "an existing file (it was not found)")
        return settings
    data, text = laptop_config._read_toml(path, label)
    for section, body in data.items():
        if section not in SECTIONS:
            raise ConfigError(label, section, "a known section (hub, notify)",
                              laptop_config._header_line(text, section))
        if not isinstance(body, dict):
            raise ConfigError(label, section, f"a [{section}] table", laptop_config._line_of(text, None, section))
        schema = SECTIONS[section]
        for key, value in body.items():
            line = laptop_config._line_of(text, section, key)
            if key not in schema:
                raise ConfigError(label, f"{section}.{key}", f"a known key of [{section}] ({', '.join(schema)})", line)
            value = _validate(schema[key], f"{section}.{key}", value, label, line)
            if section == "hub":
                setattr(settings, key, value)
            else:
                settings.notify[key] = value
    settings.source = label
    return settings


def _validate(spec: Field, name: str, value: Any, label: str, line: int | None) -> Any:
    ok_type = isinstance(value, spec.type) and not (isinstance(value, bool) and spec.type is not bool)
    if not ok_type:
        raise ConfigError(label, name, f"{laptop_config._type_name(spec.type)} ({spec.expected}), not {value!r}", line)
    if spec.check is not None and not spec.check(value):
        raise ConfigError(label, name, f"{spec.expected}, not {value!r}", line)
    return value


def check_override(name: str, value: str) -> str:
    """--listen / --database from the command line, validated like the file's keys."""
    spec = HUB_SCHEMA[name]
    return _validate(spec, f"hub.{name}", value, f"--{name}", None)

