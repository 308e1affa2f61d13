"""MailBeacon: watches the company mail service from this laptop and says whose problem it is."""

from __future__ import annotations

import functools

APP_NAME = "MailBeacon"
BUNDLE_ID = "org.mailbeacon.MailBeacon"


@functools.cache
def version() -> str:
    """The installed distribution's version (pyproject.toml is the one place it is written),
    read from the first mailbeacon `*.dist-info/METADATA` or `*.egg-info/PKG-INFO` on
    sys.path, the search importlib.metadata makes, without loading importlib.metadata, email
    and csv (~0.9 MB in every tray); importlib.metadata answers when none is found (a zip)."""
    import os
    import sys

    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except OSError:  # a zip file, or a folder that is gone
            continue
        for name in names:
            stem, _, suffix = name.rpartition(".")
            if stem.split("-")[0].lower() != "mailbeacon" or suffix not in ("dist-info", "egg-info"):
                continue
            file = os.path.join(folder, name, "METADATA" if suffix == "dist-info" else "PKG-INFO")
            try:
                with open(file, encoding="utf-8") as fh:
                    for line in fh:
                        if line.startswith("Version:"):
                            return line.split(":", 1)[1].strip()
                        if not line.strip():  # the headers end here
                            break
            except OSError:
                continue
    from importlib import metadata

    try:
        return metadata.version("mailbeacon")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0+source"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return version()
    raise AttributeError(f"module 'app' has no attribute {name!r}")
