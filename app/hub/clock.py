"""The hub's one clock: every time the hub stores or compares comes from here. The grouping
rules take `now` as an argument, so tests drive them through hours without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
