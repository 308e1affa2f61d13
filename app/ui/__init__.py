"""The tray and its windows: the only place PySide6 is imported.

Importing this package also keeps PySide6's `__feature__` import hook from caching sources:
the hook asks of every module imported after PySide6 whether its source mentions "PySide6",
through inspect.getsource, which leaves each whole file in linecache. For the tray that was
megabytes of text held for good (measured with benchmarks/tray_footprint.py); reading the
file for the same question and dropping it answers the same.
"""

from __future__ import annotations

from types import ModuleType


def _mentions_pyside(module: ModuleType) -> bool:
    """What shibokensupport.feature._mod_uses_pyside answers, without keeping the source."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False  # no source (compiled, frozen, zipped): the hook's own answer is False too
    try:
        with open(path, "rb") as fh:
            return b"PySide6" in fh.read()
    except OSError:
        return False


def _quiet_feature_hook() -> None:
    try:
        import shiboken6  # noqa: F401  (installs shibokensupport)
        from shibokensupport import feature  # type: ignore[import-not-found]
    except ImportError:
        return
    if callable(getattr(feature, "_mod_uses_pyside", None)):
        feature._mod_uses_pyside = _mentions_pyside


_quiet_feature_hook()
