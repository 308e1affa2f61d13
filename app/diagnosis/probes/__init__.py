"""One module per kind of check. Each exposes `probe(ctx, endpoint) -> Outcome` and raises
ProbeFailure(code, detail) at the first layer that fails; facts go into `ctx.data` as they are
learnt, so they survive a deadline."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.diagnosis.probes.base import Outcome, ProbeContext

PROBE_MODULES = ("link", "internet", "dns", "smtp", "imap", "pop3", "https", "tcp")


def probe_for(kind: str) -> Callable[[ProbeContext, object], Outcome]:
    if kind not in PROBE_MODULES:
        raise ValueError(f"no probe for {kind!r}")
    module = importlib.import_module(f"app.diagnosis.probes.{kind}")
    return module.probe
