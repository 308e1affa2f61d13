"""Secrets for report channels: the system keyring (service `mailbeacon`), overridden by
MAILBEACON_SECRET_<NAME> in the environment for automation. Secrets never live in config files."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from app.errors import MailBeaconError, SecretStoreError, UsageError
from app.report.redact import register_secret

log = logging.getLogger(__name__)

SERVICE = "mailbeacon"
KNOWN = (
    "report.webhook_token",
    "report.webhook_secret",
    "report.relay_password",
    "hub.token",  # the laptop's bearer token for the hub (SPEC 8)
    "hub.admin_token",  # IT's admin token, for `feed post|update|resolve --hub`
)
ENV_PREFIX = "MAILBEACON_SECRET_"


def env_name(name: str) -> str:
    """report.webhook_token -> MAILBEACON_SECRET_REPORT_WEBHOOK_TOKEN"""
    return ENV_PREFIX + name.replace(".", "_").replace("-", "_").upper()


def check_name(name: str) -> str:
    if name not in KNOWN:
        raise UsageError(f"unknown secret {name!r}; expected one of: {', '.join(KNOWN)}")
    return name


def _no_backend_message(action: str) -> str:
    return (
        f"cannot {action}: no system keyring is available on this computer "
        "(install and unlock GNOME Keyring or KWallet, or use the Windows/macOS account). "
        f"For automation, set the environment variable {ENV_PREFIX}<NAME> instead, "
        f"e.g. {env_name(KNOWN[0])}."
    )


def _keyring():
    import keyring
    import keyring.errors

    return keyring, keyring.errors


def get_secret(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The secret's value, or None when it is not set anywhere. A missing or locked keyring
    reads as "not set" (logged), so a report still goes out without the optional header."""
    env = os.environ if env is None else env
    value = env.get(env_name(name))
    if value:
        register_secret(value)
        return value
    return _from_keyring(name)


def _from_keyring(name: str) -> str | None:
    keyring, errors = _keyring()
    try:
        value = keyring.get_password(SERVICE, name) or None
        register_secret(value)  # whoever reads a secret makes the scrubber know it
        return value
    except errors.NoKeyringError:
        log.debug("no keyring backend: secret %s reads as unset", name)
        return None
    except Exception as exc:  # any backend failure means "unavailable", never a crash
        log.warning("could not read secret %s from the keyring: %s", name, exc)
        return None


def register_known(env: Mapping[str, str] | None = None) -> None:
    """Tell the scrubber every secret value this machine holds (keyring and environment), at
    the start of a command or the tray that may show text a receiver or server sent back."""
    known_values(env)


def set_secret(name: str, value: str) -> None:
    check_name(name)
    register_secret(value)
    if not value:
        raise UsageError("the secret is empty; nothing was stored")
    keyring, errors = _keyring()
    try:
        keyring.set_password(SERVICE, name, value)
    except errors.NoKeyringError:
        raise SecretStoreError(_no_backend_message(f"store {name}")) from None
    except Exception as exc:
        raise SecretStoreError(f"the keyring refused to store {name}: {exc}") from None


def delete_secret(name: str) -> None:
    check_name(name)
    keyring, errors = _keyring()
    try:
        keyring.delete_password(SERVICE, name)
    except errors.NoKeyringError:
        raise SecretStoreError(_no_backend_message(f"delete {name}")) from None
    except errors.PasswordDeleteError:
        raise MailBeaconError(f"no secret named {name} is stored in the keyring") from None
    except Exception as exc:
        raise SecretStoreError(f"the keyring refused to delete {name}: {exc}") from None


def known_values(env: Mapping[str, str] | None = None) -> list[str]:
    """Every secret value this machine holds for MailBeacon, so reports can be scrubbed of them."""
    env = os.environ if env is None else env
    values = [v for k, v in env.items() if k.startswith(ENV_PREFIX) and v]
    for value in values:
        register_secret(value)
    for name in KNOWN:
        value = _from_keyring(name)  # even when the environment overrides it, it stays secret
        if value:
            values.append(value)
    return values
