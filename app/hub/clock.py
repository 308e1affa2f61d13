"""The hub's one clock. Tests move it by setting `offset_s`; the hub never reads time elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

offset_s = 0.0


def utc_now() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=offset_s) if offset_s else datetime.now(UTC)
