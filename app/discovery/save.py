"""`discover --save`: write mail.address, mail.webmail_url and the endpoints into the user
config file, keeping everything else in it (comments too), never over a value policy sets.
The file is replaced atomically and stays private (0600)."""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import ConfigError, WriteError
from app.paths import private_dir

if TYPE_CHECKING:
    from app.config import Config
    from app.discovery.model import Discovery

_HEADER = re.compile(r"^\s*\[")
_ENDPOINTS_HEADER = re.compile(r"^\s*\[\[\s*endpoints\s*\]\]")
_MARK = "# found by `mailbeacon discover`"
# servers a person typed into the set-up window (a result with no source) are not "found"
_TYPED = "# entered in the set-up window"


def locked_keys(config: Config) -> list[str]:
    """The keys `save` would write that policy holds instead."""
    return [k for k in ("mail.address", "mail.webmail_url", "endpoints") if k in config.policy_keys]


def save(result: Discovery, config: Config, *, path: Path | None = None) -> Path:
    """Write the discovery into `path` (default: the file the configuration's user layer came
    from, which is --config when the tray or a command was given one) and return it.
    WriteError (exit 73) when it cannot be written; ConfigError when the file is not TOML."""
    from app import config as config_mod
    from app import paths

    if path is not None:
        target = Path(path)
    elif config.user_file:
        target = Path(config.user_file)
    else:
        target = paths.user_paths().user_config
    try:
        text = target.read_text(encoding="utf-8") if target.exists() else ""
    except (OSError, UnicodeError) as exc:
        raise WriteError(f"cannot read {target} to update it: {_why(exc)}") from None
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raise ConfigError(str(target), None, "valid TOML before it can be updated (fix or move it)") from None
    locked = set(locked_keys(config))
    new = text
    if "endpoints" not in locked and result.endpoints:
        new = _without_endpoint_tables(new)
    if "mail.address" not in locked and result.address:
        new = _set_key(new, "mail", "address", result.address)
    if "mail.webmail_url" not in locked and result.webmail_url:
        new = _set_key(new, "mail", "webmail_url", result.webmail_url)
    if "endpoints" not in locked and result.endpoints:
        new = new.rstrip("\n") + ("\n\n" if new.strip() else "") + _endpoint_tables(result) + "\n"
    # what is written must read back: a broken file would stop the next start
    config_mod.check_text(new, str(target))
    _write_private(target, new)
    return target


def _without_endpoint_tables(text: str) -> str:
    out: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if _ENDPOINTS_HEADER.match(line):
            skipping = True
            continue
        if line.startswith((_MARK, _TYPED)):
            continue
        if skipping and _HEADER.match(line):
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out)


def _set_key(text: str, section: str, key: str, value: str) -> str:
    lines = text.splitlines(keepends=True)
    assignment = f"{key} = {json.dumps(value, ensure_ascii=False)}\n"
    start = next((i for i, line in enumerate(lines) if re.match(rf"^\s*\[\s*{section}\s*\]", line)), None)
    if start is None:
        # a new table at the end: what the file says first (comments included) stays first
        return text.rstrip("\n") + ("\n\n" if text.strip() else "") + f"[{section}]\n{assignment}"
    end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
    for i in range(start + 1, end):
        if re.match(rf"^\s*{key}\s*=", lines[i]):
            lines[i] = assignment
            return "".join(lines)
    # a new key goes after the section's last line, not before the keys already there
    at = end
    while at > start + 1 and not lines[at - 1].strip():
        at -= 1
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    lines.insert(at, assignment)
    return "".join(lines)


def _endpoint_tables(result: Discovery) -> str:
    blocks = [_TYPED if result.source == "none" else f"{_MARK} ({result.source})"]
    for ep in result.endpoints:
        rows = ["[[endpoints]]"]
        for key in ("kind", "host", "port", "tls", "name", "url"):
            if key not in ep or (key == "url" and ep["kind"] != "https"):
                continue
            value = ep[key]
            rows.append(f"{key} = {value}" if isinstance(value, int) else f"{key} = {json.dumps(value, ensure_ascii=False)}")
        blocks.append("\n".join(rows))
    return "\n\n".join(blocks)


def _write_private(target: Path, text: str) -> None:
    try:
        private_dir(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=".mailbeacon-", suffix=".toml", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as exc:
        raise WriteError(f"cannot write the configuration {target}: {_why(exc)}") from None


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
