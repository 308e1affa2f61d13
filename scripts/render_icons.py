"""Render the tray's state icons from their SVGs into the PNGs the app loads.

    python scripts/render_icons.py          # write resources/icons/png/<name>-<size>.png
    python scripts/render_icons.py --check  # exit 1 when a PNG is missing, stray or out of date

The SVGs in resources/icons/ are the source; run this after changing one and commit the PNGs.
The tray loads the PNGs so it never loads Qt's SVG module and image plugin just to show its
icon (measured with benchmarks/tray_footprint.py). Each size is drawn from the SVG at that
size, not scaled from another.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG_DIR = ROOT / "resources" / "icons"
PNG_DIR = SVG_DIR / "png"
COMMAND = "python scripts/render_icons.py"
# the tray sizes app.ui.icons asks for (kept in step by tests/unit/test_icons.py)
SIZES = (16, 20, 22, 24, 32, 40, 44, 48, 64)
# a pixel counts as different past this much in any channel (0-255); a few may differ at the
# anti-aliased edges when another Qt version draws them, a changed colour changes most
TOLERANCE = 8
MAX_DIFFERENT_SHARE = 0.01


def png_name(stem: str, size: int) -> str:
    return f"{stem}-{size}.png"


def svg_stems() -> list[str]:
    return sorted(p.stem for p in SVG_DIR.glob("*.svg"))


def expected_names() -> set[str]:
    return {png_name(stem, size) for stem in svg_stems() for size in SIZES}


def _app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication([sys.argv[0]])


def render(svg: Path, size: int):
    """The SVG drawn at `size` x `size` pixels (a QImage, ARGB32)."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not an SVG Qt can draw")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def difference(a, b) -> str | None:
    """Why two images differ (None when they match within TOLERANCE)."""
    from PySide6.QtGui import QImage

    if a.size() != b.size():
        return f"size {b.width()}x{b.height()}, expected {a.width()}x{a.height()}"
    a = a.convertToFormat(QImage.Format.Format_ARGB32)
    b = b.convertToFormat(QImage.Format.Format_ARGB32)
    raw_a, raw_b = bytes(a.constBits())[: a.sizeInBytes()], bytes(b.constBits())[: b.sizeInBytes()]
    pixels = a.width() * a.height()
    different = sum(
        1 for i in range(0, len(raw_a), 4)
        if max(abs(raw_a[i + k] - raw_b[i + k]) for k in range(4)) > TOLERANCE
    )
    if different > MAX_DIFFERENT_SHARE * pixels:
        return f"{different} of {pixels} pixels differ from the SVG's rendering"
    return None


def problems() -> list[str]:
    """What is missing, stray or out of date in resources/icons/png/, one line each."""
    from PySide6.QtGui import QImage

    _app()
    found: list[str] = []
    present = {p.name for p in PNG_DIR.glob("*.png")} if PNG_DIR.is_dir() else set()
    for name in sorted(present - expected_names()):
        found.append(f"{name}: no SVG or size it is rendered from")
    for stem in svg_stems():
        for size in SIZES:
            name = png_name(stem, size)
            if name not in present:
                found.append(f"{name}: missing")
                continue
            shipped = QImage(str(PNG_DIR / name))
            if shipped.isNull():
                found.append(f"{name}: not a PNG Qt can read")
                continue
            why = difference(render(SVG_DIR / f"{stem}.svg", size), shipped)
            if why:
                found.append(f"{name}: {why}")
    return found


def write() -> list[Path]:
    _app()
    PNG_DIR.mkdir(exist_ok=True)
    written = []
    for stale in PNG_DIR.glob("*.png"):
        if stale.name not in expected_names():
            stale.unlink()
    for stem in svg_stems():
        for size in SIZES:
            path = PNG_DIR / png_name(stem, size)
            if not render(SVG_DIR / f"{stem}.svg", size).save(str(path), "PNG"):
                raise SystemExit(f"cannot write {path}")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = parser.parse_args(argv)
    if args.check:
        found = problems()
        for line in found:
            print(line)
        if found:
            print(f"the PNGs are out of date with the SVGs: run `{COMMAND}` and commit resources/icons/png/")
            return 1
        return 0
    written = write()
    print(f"wrote {len(written)} PNGs into {PNG_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
