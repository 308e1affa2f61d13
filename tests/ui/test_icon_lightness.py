"""The state icons: every state renders at every tray size including 20 px (Windows at 125 %),
and each state has its own lightness in greyscale, measured on the rendered pixels."""

from __future__ import annotations

import itertools

import pytest

from app.ui import icons

FOUR_AND_UNKNOWN = ("ok", "degraded", "down", "local", "unknown")


def grey_mean(state: str, size: int) -> float:
    """Mean Rec. 601 luma of the opaque pixels of the rendered icon: what a greyscale screen or
    a reader who cannot tell the hues apart sees."""
    image = icons.icon(state, template=False).pixmap(size, size).toImage()
    total = count = 0.0
    for y in range(image.height()):
        for x in range(image.width()):
            c = image.pixelColor(x, y)
            if c.alphaF() < 0.5:
                continue
            total += 0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue()
            count += 1
    assert count > size * size * 0.4, f"{state} at {size} px is mostly empty"
    return total / count


@pytest.mark.parametrize("size", [16, 20, 32])
def test_states_differ_in_lightness(qapp, size):
    means = {state: grey_mean(state, size) for state in FOUR_AND_UNKNOWN}
    for a, b in itertools.combinations(FOUR_AND_UNKNOWN, 2):
        assert abs(means[a] - means[b]) >= 15, (a, b, means)


def test_every_state_has_a_real_20_px_rendering(qapp):
    for state in FOUR_AND_UNKNOWN:
        icon = icons.icon(state, template=False)
        sizes = {(s.width(), s.height()) for s in icon.availableSizes()}
        assert (20, 20) in sizes and (16, 16) in sizes
        # a drawn icon, not the plain fallback dot: the PNGs rendered from the shipped SVG
        for size in icons.SIZES:
            assert icons._load_png(state, size) is not None, (state, size)
            assert icons._load_png(f"{state}-template", size) is not None, (state, size)


def test_the_own_connection_glyph_is_one_solid_shape_at_16_px(qapp):
    """The laptop must read at 16 px: its dark pixels form one connected mass inside the
    light circle, not specks (the old network-slash glyph broke into fragments)."""
    image = icons.icon("local", template=False).pixmap(16, 16).toImage()
    dark = {(x, y) for y in range(3, 13) for x in range(3, 13)
            if image.pixelColor(x, y).alphaF() > 0.5 and image.pixelColor(x, y).lightness() < 140}
    assert len(dark) >= 20
    seen, todo = set(), [next(iter(dark))]
    while todo:
        x, y = todo.pop()
        if (x, y) in seen or (x, y) not in dark:
            continue
        seen.add((x, y))
        todo += [(x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1), (x + 1, y + 1), (x - 1, y - 1), (x + 1, y - 1), (x - 1, y + 1)]
    assert len(seen) >= 0.8 * len(dark), "the glyph falls apart at 16 px"
