"""Run one probe the way the engine does and get (code, detail, ctx): a ProbeFailure becomes
its code, so tests assert on what a user would see in the check."""

from __future__ import annotations

from collections.abc import Callable

from app.config import Endpoint
from app.diagnosis.probes.base import Deadline, Outcome, ProbeContext, ProbeFailure


def run_probe(
    probe: Callable[[ProbeContext, Endpoint], Outcome], config, endpoint: Endpoint, seconds: float = 3.0
) -> tuple[str, str, ProbeContext]:
    ctx = ProbeContext(config, Deadline(seconds))
    try:
        outcome = probe(ctx, endpoint)
    except ProbeFailure as failure:
        return failure.code, failure.detail, ctx
    return outcome.code, outcome.detail, ctx
