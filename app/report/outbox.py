"""The durable outbox: a report is on disk before any send, and leaves only once every channel
has settled (deleted when all acknowledged, moved to failed/ with the reasons when any refused).

Layout under <data>/outbox/: `<id>.json` is the exact webhook body (so every retry sends the same
bytes and Idempotency-Key), `<id>.state` the per-channel delivery state, `failed/` the refused.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app import jsonio
from app.errors import EX_CANTCREAT, EX_TEMPFAIL, WriteError
from app.paths import private_dir, private_file
from app.report.channels import DELIVERED, REFUSED, RETRY, Channel, Result
from app.report.redact import scrub_text

log = logging.getLogger(__name__)

PENDING = "pending"
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0
RETRY_AFTER_CAP_S = 24 * 3600.0
_lock = threading.Lock()  # one flush at a time within a process (tray timer vs. dialog)


class OutboxError(WriteError):
    """The outbox folder cannot be created or written (full disk, permissions, a broken profile)."""


@dataclass
class Outcome:
    """What happened to one report, in the shape of `report --json`."""

    id: str
    delivered: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    path: str | None = None
    no_channel: bool = False
    delivered_at: str | None = None  # when the last channel acknowledged
    retry_reasons: dict[str, str] = field(default_factory=dict)
    unwritten: str | None = None  # why the outcome could not be recorded in the outbox

    @property
    def exit_status(self) -> int:
        return exit_status([self])

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "delivered": self.delivered,
            "queued": self.queued,
            "failed": self.failed,
            "path": self.path,
        }


def exit_status(outcomes: list[Outcome]) -> int:
    """73 when the outbox could not record an outcome, 75 when something still waits, else 1
    when a channel refused, else 0 (SPEC section 3)."""
    if any(o.unwritten for o in outcomes):
        return EX_CANTCREAT
    if any(o.queued or o.no_channel for o in outcomes):
        return EX_TEMPFAIL
    if any(o.failed for o in outcomes):
        return 1
    return 0


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename, fsync the folder: all or nothing on disk.
    The file is 0600 (mkstemp) and a folder it creates 0700: reports name the user's machine."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":
        return  # Windows cannot open a directory for fsync; MoveFileEx is durable enough
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Outbox:
    def __init__(
        self,
        path: Path | str | None = None,
        *,
        clock: Callable[[], datetime] = jsonio.utc_now,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if path is None:
            from app.paths import user_paths

            path = user_paths().outbox
        self.path = Path(path)
        self.failed_path = self.path / "failed"
        self.clock = clock
        self.rng = rng

    # ------------------------------------------------------------ reading

    def report_path(self, report_id: str) -> Path:
        return self.path / f"{report_id}.json"

    def _state_path(self, report_id: str) -> Path:
        return self.path / f"{report_id}.state"

    def ids(self) -> list[str]:
        """Waiting reports, oldest first."""
        if not self.path.is_dir():
            return []
        dated = []
        for p in self.path.glob("*.json"):
            if p.name.startswith("."):
                continue
            try:
                dated.append((p.stat().st_mtime, p.name, p.stem))
            except FileNotFoundError:  # delivered by another process (tray or CLI) meanwhile
                continue
        return [stem for _mtime, _name, stem in sorted(dated)]

    def waiting_count(self) -> int:
        return len(self.ids())

    def read_report(self, report_id: str, folder: Path | None = None) -> dict[str, Any]:
        """The report; ValueError when the file is not a JSON object (corrupt or hand-edited)."""
        return _as_report(((folder or self.path) / f"{report_id}.json").read_bytes())

    def read_state(self, report_id: str, folder: Path | None = None) -> dict[str, Any]:
        path = (folder or self.path) / f"{report_id}.state"
        try:
            state = jsonio.loads(path.read_bytes())
        except FileNotFoundError:
            # the report was written but the process died before its state: nothing was sent
            return {"id": report_id, "channels": {}}
        except (OSError, ValueError):
            state = None
        channels = state.get("channels") if isinstance(state, dict) else None
        if not isinstance(channels, dict) or not all(
            isinstance(st, dict) and isinstance(st.get("status"), str) for st in channels.values()
        ):
            log.warning("outbox state %s is unreadable; retrying every channel", path)
            return {"id": report_id, "channels": {}}
        return state

    def entries(self, failed: bool = False) -> list[dict[str, Any]]:
        """Summaries for `outbox list`: id, created_at, headline, channels, path."""
        folder = self.failed_path if failed else self.path
        if failed:
            names = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
        else:
            names = self.ids()
        out = []
        for report_id in names:
            try:
                report = self.read_report(report_id, folder)
            except (OSError, ValueError) as exc:
                out.append({"id": report_id, "error": f"unreadable: {exc}", "path": str(folder / f"{report_id}.json"),
                            "channels": self.read_state(report_id, folder).get("channels", {})})
                continue
            diagnosis = report.get("diagnosis")
            out.append(
                {
                    "id": report_id,
                    "created_at": report.get("created_at"),
                    "headline": diagnosis.get("headline", "") if isinstance(diagnosis, dict) else "",
                    "channels": self.read_state(report_id, folder).get("channels", {}),
                    "path": str(folder / f"{report_id}.json"),
                }
            )
        return out

    # ------------------------------------------------------------ writing

    def save(self, report: dict[str, Any], channels: list[str]) -> Path:
        """Write the report and its per-channel state before any attempt to send."""
        # imported here: the tray only counts and flushes the outbox, it never builds a report
        from app.report.build import body_bytes

        report_id = report["id"]
        path = self.report_path(report_id)
        atomic_write(path, body_bytes(report))
        self._write_state(
            {"id": report_id, "created_at": report.get("created_at"), "channels": {c: _fresh() for c in channels}}
        )
        return path

    def _write_state(self, state: dict[str, Any], folder: Path | None = None) -> None:
        path = (folder or self.path) / f"{state['id']}.state"
        atomic_write(path, (json.dumps(state, indent=2) + "\n").encode("utf-8"))

    def submit(self, report: dict[str, Any], channels: dict[str, Channel]) -> Outcome:
        """Save, then try every channel now. Both under the lock: a flush (the tray's timer, or
        `outbox flush`) must not send the new report between the two and leave us no outcome."""
        with _lock, self._file_lock():
            self.save(report, list(channels))
            outcome = self._deliver(report["id"], channels, True)
        assert outcome is not None  # the file was written under the lock just now
        return outcome

    def flush(self, channels: dict[str, Channel], *, force: bool = False) -> list[Outcome]:
        """Try every waiting report whose channels are due (all of them when force: a person asked).
        Reports another process settled meanwhile are left out: they are not ours to describe."""
        outcomes = []
        for report_id in self.ids():
            with _lock, self._file_lock():
                outcome = self._deliver(report_id, channels, force)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def deliver(self, report_id: str, channels: dict[str, Channel], *, force: bool = False) -> Outcome:
        with _lock, self._file_lock():
            outcome = self._deliver(report_id, channels, force)
        return outcome if outcome is not None else Outcome(id=report_id, path=None)

    def _deliver(self, report_id: str, channels: dict[str, Channel], force: bool) -> Outcome | None:
        path = self.report_path(report_id)
        try:
            body = path.read_bytes()
        except FileNotFoundError:  # another process settled it meanwhile
            return None
        except OSError as exc:  # unreadable for now (permissions, I/O): it stays and waits
            log.warning("cannot read the waiting report %s: %s", path, exc)
            names = list(channels) or ["outbox"]
            return Outcome(id=report_id, queued=names, path=str(path),
                           retry_reasons={n: f"cannot read the report file: {exc}" for n in names})
        state = self.read_state(report_id)
        unwritten: list[str] = []  # what could not be recorded (a full disk after a send)
        try:
            report = _as_report(body)
        except ValueError as exc:
            return self._quarantine(report_id, state, channels, f"the report file is unreadable ({exc})", unwritten)
        states: dict[str, dict[str, Any]] = state.setdefault("channels", {})
        if not states:
            # saved while no channel was configured (or before its state was written): send it
            # wherever the configuration points now
            states.update({name: _fresh() for name in channels})
            if states:
                self._write_noting(unwritten, self._write_state, state)
        if not channels:
            # nothing is configured here (another --config, a lost report section): the reports
            # wait for a configuration that can send them rather than being refused wholesale
            return self._settle(report_id, state, unwritten)
        now = self.clock()
        for name, st in states.items():
            if st["status"] != PENDING:
                continue
            if not force and _due_at(st) > now:
                continue
            channel = channels.get(name)
            if channel is None:
                result = Result(REFUSED, f"the {name} channel is no longer configured")
            else:
                try:
                    result = channel.send(report, body)
                except Exception as exc:  # a bug in one channel must not lose the report
                    log.exception("channel %s failed", name)
                    result = Result(RETRY, f"unexpected error: {exc}")
            self._record(st, result, now)
            # a failure to record what happened must not turn a delivery into "nothing was sent"
            self._write_noting(unwritten, self._write_state, state)
            log.info("report %s via %s: %s %s", report_id, name, result.status, result.reason)
        return self._settle(report_id, state, unwritten)

    def _write_noting(self, unwritten: list[str], write: Callable[..., Any], *args: Any) -> Any:
        try:
            return write(*args)
        except OSError as exc:
            # info, not warning: the caller tells the person in one line of its own
            log.info("outbox %s: cannot record the outcome: %s", self.path, exc)
            unwritten.append(exc.strerror or str(exc))
            return None

    def _record(self, st: dict[str, Any], result: Result, now: datetime) -> None:
        # a receiver may quote the request back (a 400 echoing the Authorization header): the
        # reason is stored, printed and shown, so it passes through the scrubber first
        result = Result(result.status, scrub_text(result.reason or ""), result.retry_after)
        attempts = st.get("attempts", 0)
        st["attempts"] = (attempts if isinstance(attempts, int) and attempts >= 0 else 0) + 1
        st["last_attempt_at"] = jsonio.iso_utc(now)
        if result.status == DELIVERED:
            st.update(status=DELIVERED, delivered_at=jsonio.iso_utc(now), last_error="", next_attempt_at=None)
        elif result.status == REFUSED:
            st.update(status="failed", reason=result.reason, last_error=result.reason, next_attempt_at=None)
        else:
            delay = self.backoff(st["attempts"])
            if result.retry_after is not None:
                delay = min(max(result.retry_after, 0.0), RETRY_AFTER_CAP_S)
            st.update(
                status=PENDING,
                last_error=result.reason,
                retry_after_s=result.retry_after,
                next_attempt_at=jsonio.iso_utc(now + timedelta(seconds=delay)),
            )

    def backoff(self, attempts: int) -> float:
        """Exponential in the attempts, capped, with jitter in [0.5, 1.0) so laptops that lost the
        network together do not all retry in the same second."""
        base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
        return base * (0.5 + 0.5 * self.rng())

    def _settle(self, report_id: str, state: dict[str, Any], unwritten: list[str]) -> Outcome:
        states = state["channels"]
        outcome = Outcome(id=report_id)
        for name, st in states.items():
            if st["status"] == DELIVERED:
                outcome.delivered.append(name)
            elif st["status"] == "failed":
                outcome.failed.append({"channel": name, "reason": scrub_text(st.get("reason", ""))})
            else:
                outcome.queued.append(name)
                outcome.retry_reasons[name] = scrub_text(st.get("last_error", ""))
        delivered_at = [st["delivered_at"] for st in states.values() if st.get("delivered_at")]
        outcome.delivered_at = max(delivered_at) if delivered_at else None
        if not states:
            outcome.no_channel = True
            outcome.path = str(self.report_path(report_id))
        elif outcome.queued:
            outcome.path = str(self.report_path(report_id))
        elif outcome.failed:
            moved = self._write_noting(unwritten, self._move_to_failed, report_id, state)
            outcome.path = str(moved or self.report_path(report_id))
        else:
            removed = self._write_noting(unwritten, self._remove, report_id)
            outcome.path = None if removed else str(self.report_path(report_id))
            if removed:
                unwritten.clear()  # settled and gone: no stale record is left to mislead anyone
        if unwritten:
            outcome.unwritten = unwritten[0]
        return outcome

    def _quarantine(
        self, report_id: str, state: dict[str, Any], channels: dict[str, Channel], reason: str,
        unwritten: list[str],
    ) -> Outcome:
        """A corrupt report can never be sent: keep it in failed/ with the reason, as a refusal,
        so neither the tray nor `outbox flush` trips over it again and nothing vanishes."""
        log.warning("report %s: %s; moving it to %s", report_id, reason, self.failed_path)
        states = state.setdefault("channels", {})
        names = [n for n, st in states.items() if st.get("status") == PENDING]
        if not states:
            names = list(channels) or ["outbox"]
        for name in names:
            st = states.setdefault(name, _fresh())
            st.update(status="failed", reason=reason, last_error=reason, next_attempt_at=None)
        state["id"] = report_id
        return self._settle(report_id, state, unwritten)

    def _move_to_failed(self, report_id: str, state: dict[str, Any]) -> Path:
        private_dir(self.failed_path)
        reasons = "".join(
            f"{name}: {scrub_text(st.get('reason', ''))}\n" for name, st in state["channels"].items() if st["status"] == "failed"
        )
        atomic_write(self.failed_path / f"{report_id}.reason.txt", reasons.encode("utf-8"))
        self._write_state(state, self.failed_path)
        target = self.failed_path / f"{report_id}.json"
        os.replace(self.report_path(report_id), target)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._state_path(report_id))
        _fsync_dir(self.path)
        return target

    def _remove(self, report_id: str) -> bool:
        # every channel acknowledged: the one case where a report leaves without a trace
        log.info("report %s delivered everywhere; removing it from the outbox", report_id)
        os.unlink(self.report_path(report_id))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._state_path(report_id))
        _fsync_dir(self.path)
        return True

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Across processes (tray and `outbox flush`), one delivery at a time."""
        private_dir(self.path)
        try:
            import fcntl
        except ImportError:  # Windows: the in-process lock and idempotency keys suffice
            yield
            return
        with open(private_file(self.path / ".lock"), "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _as_report(body: bytes) -> dict[str, Any]:
    report = jsonio.loads(body)
    if not isinstance(report, dict):
        raise ValueError(f"a JSON {type(report).__name__}, not a report object")
    return report


def _due_at(st: dict[str, Any]) -> datetime:
    """When a pending channel may be tried again; a time that cannot be read is due now."""
    try:
        return jsonio.parse_iso(st["next_attempt_at"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return datetime.min.replace(tzinfo=UTC)


def _fresh() -> dict[str, Any]:
    return {"status": PENDING, "attempts": 0, "next_attempt_at": None, "last_error": ""}


def flush_configured(config: Any, *, force: bool = False) -> list[Outcome]:
    """What the tray runs off the GUI thread (at start, when the network is back, on a timer):
    send every report whose channels are due, through the channels `config` enables now."""
    outbox = Outbox()
    if not outbox.ids():
        return []  # the usual case: no channel modules (smtplib, the webhook senders) to load
    from app.report.channels import configured

    return outbox.flush(configured(config), force=force)
