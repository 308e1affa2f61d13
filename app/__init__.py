"""MailBeacon: watches the company mail service from this laptop and says whose problem it is."""

from __future__ import annotations

import functools

APP_NAME = "MailBeacon"
BUNDLE_ID = "org.mailbeacon.MailBeacon"


@functools.cache
def version() -> str:
    """The installed distribution's version (pyproject.toml is the one place it is written).
    Read on first use: importlib.metadata is too heavy to load in every process start."""
    from importlib import metadata

    try:
        return metadata.version("mailbeacon")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0+source"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return version()
    raise AttributeError(f"module 'app' has no attribute {name!r}")
