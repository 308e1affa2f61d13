"""Run a plain function off the GUI thread and get its result back as a signal.

One QThreadPool for all background work; a QRunnable plus an emitter QObject per job, so the
GUI thread never waits on the network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Emitter(QObject):
    done = Signal(object)
    failed = Signal(object)


class Job(QRunnable):
    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = _Emitter()
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn(*self.args, **self.kwargs)
        except Exception as exc:  # reported to the caller as a signal, never lost silently
            log.warning(
                "background job %s failed: %r",
                getattr(self.fn, "__name__", self.fn),
                exc,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            self.signals.failed.emit(exc)
        else:
            self.signals.done.emit(result)


def run_in_background(
    fn: Callable[..., Any],
    *args: Any,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    pool: QThreadPool | None = None,
    **kwargs: Any,
) -> Job:
    """Start fn(*args, **kwargs) on the pool; on_done/on_error run on the receiver's thread
    (the GUI thread when they are bound methods of GUI objects or plain functions)."""
    job = Job(fn, *args, **kwargs)
    if on_done is not None:
        job.signals.done.connect(on_done)
    if on_error is not None:
        job.signals.failed.connect(on_error)
    (pool or QThreadPool.globalInstance()).start(job)
    return job
