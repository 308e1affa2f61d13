"""PySide6's __feature__ import hook must not keep the source of every later import in memory."""

from __future__ import annotations

import importlib
import linecache
import sys

import app.ui
from app.ui import _mentions_pyside


def test_modules_imported_after_pyside_leave_no_source_behind(tmp_path, monkeypatch):
    import PySide6.QtCore  # noqa: F401  (the hook is active once PySide6 is loaded)

    plain = tmp_path / "mb_plain_module.py"
    plain.write_text("VALUE = 1\n" + "# filler line\n" * 2000)
    qt = tmp_path / "mb_qt_module.py"
    qt.write_text("import PySide6.QtCore\nVALUE = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    linecache.clearcache()
    try:
        assert importlib.import_module("mb_plain_module").VALUE == 1
        assert importlib.import_module("mb_qt_module").VALUE == 2
        assert str(plain) not in linecache.cache and str(qt) not in linecache.cache
    finally:
        sys.modules.pop("mb_plain_module", None)
        sys.modules.pop("mb_qt_module", None)


def test_the_hook_gets_the_same_answer_it_would_have_got(tmp_path):
    from shibokensupport import feature

    assert feature._mod_uses_pyside is _mentions_pyside
    qt = tmp_path / "uses_qt.py"
    qt.write_text("from PySide6 import QtCore\n")
    plain = tmp_path / "plain.py"
    plain.write_text("x = 1\n")
    assert _mentions_pyside(type(app.ui)("uses_qt")) is False  # no file: no source
    mod = type(app.ui)("uses_qt")
    mod.__file__ = str(qt)
    assert _mentions_pyside(mod) is True
    mod.__file__ = str(plain)
    assert _mentions_pyside(mod) is False
    mod.__file__ = str(tmp_path / "gone.py")
    assert _mentions_pyside(mod) is False
