"""State icons: they parse, render to the right colour, differ in shape, and the macOS template
variants are black + alpha only. Rendered offscreen with QSvgRenderer and counted by pixel."""

from __future__ import annotations

import colorsys
import configparser
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from importlib import resources
from itertools import combinations

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

STATES = ("ok", "degraded", "down", "local", "unknown")
SVG = "{http://www.w3.org/2000/svg}"
RES = resources.files("app.resources")


def icon_bytes(name: str) -> bytes:
    return (RES / "icons" / name).read_bytes()


def render(data: bytes, size: int) -> QImage:
    renderer = QSvgRenderer(data)
    assert renderer.isValid()
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))
    painter = QPainter(image)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def opaque_pixels(image: QImage) -> list[QColor]:
    pixels = []
    for y in range(image.height()):
        for x in range(image.width()):
            c = image.pixelColor(x, y)
            if c.alpha() >= 250:
                pixels.append(c)
    return pixels


def dominant(image: QImage) -> tuple[tuple[int, int, int], float]:
    """The most frequent opaque colour and its share of the opaque pixels."""
    counts = Counter((c.red(), c.green(), c.blue()) for c in opaque_pixels(image))
    rgb, n = counts.most_common(1)[0]
    return rgb, n / sum(counts.values())


def hsv(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    return h * 360, s, v


@pytest.fixture(scope="module", autouse=True)
def _app(qapp):
    return qapp


@pytest.mark.parametrize("name", [f"{s}{v}.svg" for s in STATES for v in ("", "-template")])
def test_each_icon_parses_as_square_svg(name):
    root = ET.fromstring(icon_bytes(name))
    assert root.tag == f"{SVG}svg"
    x, y, w, h = (float(v) for v in root.attrib["viewBox"].split())
    assert (x, y) == (0, 0) and w == h and w in (32, 64)


@pytest.mark.parametrize("name", [f"{s}{v}.svg" for s in STATES for v in ("", "-template")])
def test_no_hairlines(name):
    """Every stroke is at least 1 px wide when drawn at 16 px."""
    root = ET.fromstring(icon_bytes(name))
    view = float(root.attrib["viewBox"].split()[2])
    for el in root.iter():
        if "stroke-width" in el.attrib and el.attrib.get("stroke", "none") != "none":
            assert float(el.attrib["stroke-width"]) * 16 / view >= 1.0, (name, el.attrib)


def _check_hue(state: str, rgb: tuple[int, int, int]) -> None:
    hue, sat, val = hsv(rgb)
    if state == "ok":
        assert 90 <= hue <= 160 and sat > 0.4 and val > 0.4
    elif state == "degraded":
        assert 28 <= hue <= 52 and sat > 0.6 and val > 0.7
    elif state == "down":
        # the darkest state: each state has its own lightness in greyscale
        assert (hue <= 15 or hue >= 345) and sat > 0.5 and val > 0.35
    elif state == "local":
        # the lightest state: a pale blue disc under a dark laptop
        assert 190 <= hue <= 230 and 0.08 <= sat <= 0.55 and val >= 0.35
    elif state == "unknown":
        assert sat < 0.12 and 0.35 <= val <= 0.75  # grey: neither white nor black


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("size", [16, 64])
def test_dominant_colour_is_the_state_colour(state, size):
    rgb, share = dominant(render(icon_bytes(f"{state}.svg"), size))
    # the light "own connection" disc carries a large dark glyph and rim, so it reads on a light
    # panel; its colour still covers the largest share
    assert share > (0.25 if state == "local" else 0.4), (state, rgb, share)
    _check_hue(state, rgb)


def test_the_five_colours_are_distinct():
    colours = [dominant(render(icon_bytes(f"{s}.svg"), 64))[0] for s in STATES]
    assert len(set(colours)) == 5


def test_glyph_is_visible_at_16px():
    """A contrasting glyph sits on the coloured shape even at tray size."""
    for state in STATES:
        image = render(icon_bytes(f"{state}.svg"), 16)
        base = hsv(dominant(image)[0])[2]
        contrasting = [c for c in opaque_pixels(image) if abs(c.valueF() - base) > 0.3
                       or (c.saturationF() < 0.1 and c.valueF() > 0.9)]
        assert len(contrasting) >= 12, state


def _glyph_mask(name: str, size: int = 32) -> set[tuple[int, int]]:
    """Opaque pixels of the inner 70 % (the glyph; the outer ring is shared by design)."""
    image = render(icon_bytes(name), size)
    c, r = (size - 1) / 2, 0.7 * size / 2
    return {
        (x, y)
        for y in range(size)
        for x in range(size)
        if image.pixelColor(x, y).alpha() > 128 and (x - c) ** 2 + (y - c) ** 2 < r * r
    }


def test_shapes_differ_without_colour():
    """Colour-blind users tell the states apart by shape: the monochrome glyphs differ."""
    masks = {s: _glyph_mask(f"{s}-template.svg") for s in STATES}
    assert all(len(m) > 40 for m in masks.values())
    for a, b in combinations(STATES, 2):
        inter = len(masks[a] & masks[b])
        union = len(masks[a] | masks[b])
        assert inter / union < 0.6, (a, b, inter / union)


@pytest.mark.parametrize("state", STATES)
def test_template_variants_are_black_and_alpha_only(state):
    data = icon_bytes(f"{state}-template.svg")
    root = ET.fromstring(data)
    for el in root.iter():
        for attr in ("fill", "stroke"):
            value = el.attrib.get(attr)
            if value is not None:
                assert value.lower() in ("none", "#000", "#000000", "black"), (el.tag, attr, value)
    image = render(data, 64)
    seen = 0
    for y in range(64):
        for x in range(64):
            c = image.pixelColor(x, y)
            if c.alpha():
                seen += 1
                assert (c.red(), c.green(), c.blue()) == (0, 0, 0), (x, y, c.name())
    assert seen > 200


def test_app_icon_and_desktop_entry():
    root = ET.fromstring((RES / "mailbeacon.svg").read_bytes())
    assert root.tag == f"{SVG}svg"
    assert len(opaque_pixels(render((RES / "mailbeacon.svg").read_bytes(), 64))) > 2000
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string((RES / "mailbeacon.desktop").read_text(encoding="utf-8"))
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "MailBeacon"
    assert entry["Exec"] == "mailbeacon"
    assert entry["Icon"] == "mailbeacon"
    assert entry["Categories"] == "Network;Email;"


# ---------------------------------------------------------------- the PNGs the tray loads


def _render_script():
    """scripts/render_icons.py as a module (scripts/ is not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "render_icons.py"
    spec = importlib.util.spec_from_file_location("render_icons", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_pngs_are_up_to_date_with_the_svgs():
    """The tray shows PNGs rendered from the SVGs; after an SVG change they must be rendered
    again, or the tray would show the old picture."""
    script = _render_script()
    found = script.problems()
    assert not found, (
        f"resources/icons/png/ does not match the SVGs; run `{script.COMMAND}` and commit "
        "resources/icons/png/:\n  " + "\n  ".join(found)
    )


def test_the_render_sizes_are_the_tray_sizes():
    from app.ui import icons

    assert _render_script().SIZES == icons.SIZES
    assert set(_render_script().svg_stems()) == set(STATES) | {f"{s}-template" for s in STATES}


def test_the_up_to_date_check_notices_a_changed_svg_and_the_script_fixes_it(tmp_path, monkeypatch):
    import shutil

    script = _render_script()
    svgs = tmp_path / "icons"
    shutil.copytree(script.SVG_DIR, svgs)
    monkeypatch.setattr(script, "SVG_DIR", svgs)
    monkeypatch.setattr(script, "PNG_DIR", svgs / "png")
    assert script.problems() == []
    down = svgs / "down.svg"
    text = down.read_text(encoding="utf-8")
    recoloured = re.sub(r'fill="#[0-9A-Fa-f]{6}"', 'fill="#1030D0"', text, count=1)
    assert recoloured != text
    down.write_text(recoloured, encoding="utf-8")
    (svgs / "png" / "ok-20.png").unlink()
    (svgs / "png" / "ok-13.png").write_bytes(b"")
    found = script.problems()
    assert {line.split(":")[0] for line in found} == (
        {f"down-{size}.png" for size in script.SIZES} | {"ok-20.png", "ok-13.png"}
    ), found
    assert script.main(["--check"]) == 1
    script.write()
    assert script.problems() == []
    assert script.main(["--check"]) == 0
