"""Each state icon reads on a light and on a dark panel: its outline, within two pixels of the
edge, stands out from the panel behind it (measured on the rendered pixels, WCAG contrast)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QImage, QPainter

from app.ui import icons

PANELS = {"light": "#f0f0f0", "dark": "#202020"}
STEPS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def luminance(c: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def outline_contrast(state: str, size: int, panel: str) -> float:
    """Mean over the icon's outline pixels of the best contrast with the panel found at that
    pixel or up to two pixels inwards: a light halo around a dark disc counts on a dark panel,
    the disc just inside it on a light one."""
    drawn = icons.icon(state, template=False).pixmap(size, size).toImage()
    shown = QImage(size, size, QImage.Format.Format_ARGB32)
    shown.fill(QColor(panel))
    painter = QPainter(shown)
    painter.drawImage(0, 0, drawn)
    painter.end()
    opaque = {(x, y) for y in range(size) for x in range(size) if drawn.pixelColor(x, y).alphaF() >= 0.5}
    outline = [(x, y) for x, y in opaque if any((x + dx, y + dy) not in opaque for dx, dy in STEPS)]
    behind = QColor(panel)
    best = []
    for x, y in outline:
        near = [(x + dx * k, y + dy * k) for dx, dy in STEPS for k in (0, 1, 2)]
        best.append(max(contrast(shown.pixelColor(*p), behind) for p in near if p in opaque))
    return sum(best) / len(best)


@pytest.mark.parametrize("size", [16, 20, 32])
@pytest.mark.parametrize("panel", list(PANELS))
@pytest.mark.parametrize("state", icons.STATES)
def test_each_icon_stands_out_from_a_light_and_a_dark_panel(qapp, state, panel, size):
    value = outline_contrast(state, size, PANELS[panel])
    assert value >= 2.0, (state, panel, size, value)
