"""The Qt binding must not leak references to None/True/False: a tray calls such methods
thousands of times a day, and a leak ends in "deallocating None" and an abort."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer


def test_void_and_bool_calls_keep_singleton_refcounts(qapp):
    timer = QTimer()
    before = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(2000):
        timer.setInterval(5)  # returns None
        timer.isActive()  # returns False
        timer.isSingleShot()
    after = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    # a few references may come and go with the interpreter's own work; a leak is thousands
    assert all(abs(a - b) < 100 for a, b in zip(before, after, strict=True)), (before, after)
