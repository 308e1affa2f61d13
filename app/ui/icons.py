"""One QIcon per state (ok, degraded, down, local, unknown), loaded from the shipped PNGs and cached.

The PNGs are rendered from the SVGs in resources/icons/ by scripts/render_icons.py, one per tray
size, so showing the icon never loads Qt's SVG module and its image plugin (a megabyte and more
of the tray's start-up, measured with benchmarks/tray_footprint.py); nor does this module touch
the `Qt` namespace, whose first use builds every one of its enums.

macOS gets the "-template" variants as mask icons so the menu bar tints them; when a PNG is
missing or unreadable, a plain coloured dot stands in so the tray never shows an empty square.
"""

from __future__ import annotations

import logging
import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QColor, QIcon, QPixmap

log = logging.getLogger(__name__)

STATES = ("ok", "degraded", "down", "local", "unknown")
# 20: Windows at 125 % scaling; 40 and 44: 200 % of the 20 and 22 px trays
SIZES = (16, 20, 22, 24, 32, 40, 44, 48, 64)

# the fallback dot's colour (the SVGs' main colour); each state has its own lightness, so the
# light tells states apart in greyscale and for people who do not see red and green apart
COLORS = {
    "ok": "#247c39",
    "degraded": "#ffe14d",
    "down": "#74120e",
    "local": "#d5e6fa",
    "unknown": "#6f757b",
}


def state_for(verdict: str | None) -> str:
    """The icon state for a confirmed verdict ("checking" and anything unknown -> grey)."""
    return verdict if verdict in STATES else "unknown"


@cache
def _icons_dir() -> Path | None:
    """resources/icons as files on disk, as the source tree, an installed wheel and the frozen
    bundle all have them (importlib.resources cost ~7 ms of every tray start for the same)."""
    try:
        import app.resources

        return Path(app.resources.__file__).parent / "icons"
    except (ModuleNotFoundError, TypeError):  # no package, or one without a __file__
        return None


def _png_bytes(name: str) -> bytes | None:
    folder = _icons_dir()
    try:
        return (folder / "png" / name).read_bytes() if folder is not None else None
    except OSError:
        return None


def _load_png(stem: str, size: int) -> QPixmap | None:
    """<stem>-<size>.png as rendered by scripts/render_icons.py, or None."""
    data = _png_bytes(f"{stem}-{size}.png")
    if data is None:
        return None
    pixmap = QPixmap()
    if not pixmap.loadFromData(data, "PNG") or pixmap.width() != size:
        return None
    return pixmap


def _dot(state: str, size: int) -> QPixmap:
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QPainter

    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(COLORS.get(state, COLORS["unknown"])))
    margin = size * 0.08
    painter.drawEllipse(QRectF(margin, margin, size - 2 * margin, size - 2 * margin))
    painter.end()
    return pixmap


@cache
def icon(state: str, *, template: bool | None = None) -> QIcon:
    """The tray icon for `state`; `template` defaults to True on macOS."""
    state = state_for(state)
    if template is None:
        template = sys.platform == "darwin"
    pixmaps = [_load_png(f"{state}-template" if template else state, size) for size in SIZES]
    if template and not any(pixmaps):
        pixmaps = [_load_png(state, size) for size in SIZES]
        template = False
    result = QIcon()
    for size, pixmap in zip(SIZES, pixmaps, strict=True):
        result.addPixmap(pixmap if pixmap is not None else _dot(state, size))
    if not any(pixmaps):
        log.info("icon %s PNGs not found; using a plain dot", state)
    if template:
        result.setIsMask(True)
    return result


def pixmap(state: str, size: int = 16) -> QPixmap:
    """A small pixmap of the state's icon, for rows in the Details window."""
    return icon(state, template=False).pixmap(size, size)


def icon_file(state: str) -> str:
    """The path of the state's SVG on disk, for programs outside this process (the desktop's
    notification daemon); "" when the resources are not plain files."""
    folder = _icons_dir()
    path = folder / f"{state_for(state)}.svg" if folder is not None else None
    try:
        return str(path.resolve()) if path is not None and path.is_file() else ""
    except OSError:
        return ""
