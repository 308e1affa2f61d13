"""Run every probe in parallel under one absolute deadline and turn the results into a Diagnosis.

Probes run on daemon threads: when the deadline passes the engine stops waiting, records the
code for the phase each straggler was in, and the process can still exit at once (a resolver
stuck in getaddrinfo cannot hold it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.config import Config, Endpoint
from app.diagnosis import verdict as verdict_mod
from app.diagnosis.model import Check, Diagnosis, status_of
from app.diagnosis.net import connect_failure
from app.diagnosis.probes import probe_for
from app.diagnosis.probes.base import (
    Deadline,
    Outcome,
    ProbeContext,
    ProbeFailure,
    timed_out,
)
from app.jsonio import iso_utc, utc_now
from app.report.redact import scrub_strings, scrub_text
from app.words import it

log = logging.getLogger(__name__)

# after the deadline, how long to wait for probes to hand in what they have
_GRACE_S = 0.25


@dataclass
class _Job:
    id: str
    kind: str
    target: str
    name: str
    endpoint: Endpoint | None
    ctx: ProbeContext
    result: Check | None = None
    started: float = 0.0
    thread: threading.Thread | None = None


def _jobs(config: Config, deadline: Deadline) -> list[_Job]:
    def ctx(phase: str) -> ProbeContext:
        return ProbeContext(config=config, deadline=deadline, phase=phase)

    jobs = [_Job("link", "link", "this computer", "This computer's network", None, ctx("link"))]
    if config.network.internet_url:
        jobs.append(
            _Job("internet", "internet", config.network.internet_url, "Internet", None, ctx("internet"))
        )
    if config.control_name:
        jobs.append(_Job("dns", "dns", config.control_name, "Name lookup (DNS)", None, ctx("dns")))
    for ep in config.endpoints:
        # only a name IT gave: staff text never shows a host or an address
        jobs.append(_Job(ep.id, ep.kind, ep.target, ep.name, ep, ctx("dns")))
    return jobs


def _run(job: _Job, slow_ms: float) -> None:
    job.started = time.monotonic()
    try:
        outcome: Outcome = probe_for(job.kind)(job.ctx, job.endpoint)
        code, detail = outcome.code, outcome.detail
    except ProbeFailure as exc:
        code, detail = exc.code, exc.detail
        job.ctx.data.update(exc.data)
    except (TimeoutError, OSError) as exc:
        code, detail = _os_error(job, exc)
    except Exception as exc:  # a probe bug must not take the whole check down
        log.warning("probe %s failed unexpectedly: %r", job.id, exc, exc_info=log.isEnabledFor(logging.DEBUG))
        reason = str(exc) or type(exc).__name__
        code, detail = "protocol_error", it.detail("check", "unexpected", reason=reason)
    elapsed = (time.monotonic() - job.started) * 1000
    if job.ctx.abandoned.is_set():
        return  # the engine has already recorded a deadline result for this job
    if code == "ok" and job.endpoint is not None and elapsed > slow_ms:
        slow = it.detail("check", "slow", ms=elapsed)
        code, detail = "slow", f"{detail} {slow}".strip()
    job.result = _check(job, code, detail, elapsed)


def _os_error(job: _Job, exc: OSError) -> tuple[str, str]:
    phase = job.ctx.phase
    if isinstance(exc, TimeoutError):
        failure = timed_out(phase)
        return failure.code, failure.detail
    if phase in ("tcp", "dns") or isinstance(exc, ConnectionResetError):
        failure = connect_failure(exc, job.target)
        return failure.code, failure.detail
    return "protocol_error", it.detail("check", "failed_during", phase=phase, reason=exc.strerror or exc)


def _check(job: _Job, code: str, detail: str, elapsed_ms: float) -> Check:
    return Check(
        id=job.id,
        kind=job.kind,
        target=job.target,
        status=status_of(code),
        code=code,
        # what servers, proxies and the system said is scrubbed here, once, before it is shown,
        # stored in the history, put in a report or sent anywhere
        detail=scrub_text(detail),
        duration_ms=elapsed_ms,
        data=scrub_strings(dict(job.ctx.data)),
        name=job.name,
    )


def diagnose(
    config: Config,
    *,
    feed_reader: Any = None,
    it_status_fn: Callable[[Config, Deadline], Any] | None = None,
) -> Diagnosis:
    """One pass over every layer; returns within check.timeout_s plus a fraction of a second.

    `feed_reader` (an app.feed.FeedReader) lets the tray keep conditional-GET state between
    passes; `check` reads the feed once with a fresh reader.

    With mail.address or mail.domain set and no endpoints, the servers are discovered first
    (cached for a day, SPEC section 7); that happens before the check's own deadline starts."""
    discovered = None
    if not config.endpoints and (config.mail.address or config.mail_domain):
        from app.discovery import cache as discovery_cache

        config, discovered = discovery_cache.resolve(config)
    started_wall = utc_now()
    started = time.monotonic()
    deadline = Deadline(float(config.check.timeout_s))
    jobs = _jobs(config, deadline)
    feed_box: dict[str, Any] = {}
    threads: list[threading.Thread] = []
    for job in jobs:
        job.started = started
        job.thread = threading.Thread(
            target=_run, args=(job, float(config.check.slow_ms)), name=f"probe {job.id}", daemon=True
        )
        threads.append(job.thread)
    if config.feed.url:
        threads.append(
            threading.Thread(
                target=_read_feed,
                args=(config, deadline, feed_reader, it_status_fn, feed_box),
                name="feed",
                daemon=True,
            )
        )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline.remaining() + _GRACE_S))

    checks: list[Check] = []
    for job in jobs:
        if job.result is None:
            job.ctx.abandoned.set()
            failure = timed_out(job.ctx.phase)
            checks.append(_check(job, failure.code, failure.detail, (time.monotonic() - job.started) * 1000))
        else:
            checks.append(job.result)

    it_status = None
    if config.feed.url:
        it_status = scrub_strings(feed_box.get("status") or _feed_timeout(config))
    result = verdict_mod.decide(checks, ca_file_set=bool(config.tls.ca_file))
    diagnosis = Diagnosis(
        verdict=result.verdict,
        layer=result.layer,
        headline=result.headline,
        advice=result.advice,
        checked_at=iso_utc(started_wall),
        duration_ms=(time.monotonic() - started) * 1000,
        checks=checks,
        it_status=it_status,
        discovery=discovered,
    )
    if discovered is not None and config.endpoints:
        discovery_cache.note_check(diagnosis)
    return diagnosis


def _read_feed(config, deadline, reader, it_status_fn, box) -> None:
    try:
        if it_status_fn is not None:
            box["status"] = it_status_fn(config, deadline)
        elif reader is not None:
            box["status"] = reader.read(deadline.timeout())
        else:
            from app.feed import read_it_status

            box["status"] = read_it_status(config, deadline)
    except Exception as exc:  # the feed never changes the verdict, nor crashes a check
        log.warning("reading the IT status feed failed: %s", exc)
        box["status"] = _feed_error(it.feed_error("unexpected", reason=exc))


def _feed_timeout(config: Config) -> dict[str, Any]:
    return _feed_error(it.feed_error("timeout", where=it.FEED_AT.format(url=config.feed.url)))


def _feed_error(sentence: str) -> dict[str, Any]:
    return {"source": None, "incidents": [], "fetched_at": iso_utc(utc_now()), "error": sentence, "stale": True}
