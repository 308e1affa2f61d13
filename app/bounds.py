"""Bounds on outside text (IT's feed, server greetings) where people read it: how long a title,
a message, a menu line or a notification may be, and how many incidents are kept. A hostile or
broken feed must not flood the tray, a menu or a terminal."""

from __future__ import annotations

MAX_INCIDENTS = 50  # open incidents kept from one feed read, newest first
MAX_ID = 100
MAX_TITLE = 200  # one line
MAX_MESSAGE = 2000
MAX_MENU_LINE = 120
MAX_NOTIFICATION_TITLE = 80
MAX_NOTIFICATION = 300
MAX_EVENTS = 3  # more changes than this in one read become one summary notification


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def one_line(text: str, limit: int) -> str:
    """Whitespace (newlines included) folded to single spaces, then clipped: for titles and ids,
    which become menu lines and headings."""
    return clip(" ".join(text.split()), limit)
