"""MailBeacon: watches the company mail service from this laptop and says whose problem it is."""

from importlib import metadata as _metadata

APP_NAME = "MailBeacon"
BUNDLE_ID = "org.mailbeacon.MailBeacon"

try:
    __version__ = _metadata.version("mailbeacon")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
