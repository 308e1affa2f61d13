"""The Windows .ico is packed by Pillow from PNGs Qt renders: no ImageMagick (or its SVG
delegate) on the PATH is needed, and a missing Pillow is a warning, not a failed build."""

from __future__ import annotations

import importlib.util
import shutil
import struct
import sys
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT

pytestmark = [pytest.mark.packaging]

WANTED = {16, 24, 32, 48, 64, 128, 256}


@pytest.fixture
def build_in(tmp_path, monkeypatch):
    """packaging/build.py loaded afresh with its build folder under tmp_path and a PATH on
    which no ImageMagick (`magick`, `convert`, `rsvg-convert`) can be found."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("MB_PACKAGING_BUILD_DIR", str(tmp_path / "build"))
    for tool in ("magick", "convert", "rsvg-convert"):
        assert shutil.which(tool) is None
    spec = importlib.util.spec_from_file_location("mailbeacon_build_icons", ROOT / "packaging" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ico_directory(data: bytes) -> list[tuple[int, int, int]]:
    """(width, height, bits per pixel) of each image in an .ico, read from its header
    (a width or height byte of 0 means 256)."""
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind) == (0, 1), "not an icon file"
    entries = []
    for i in range(count):
        w, h, _colours, _res, _planes, bpp, size, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * i)
        assert offset + size <= len(data)
        entries.append((w or 256, h or 256, bpp))
    return entries


def test_ico_is_built_without_imagemagick_and_holds_16_to_256(build_in):
    pil = pytest.importorskip("PIL.Image")
    icons = build_in.make_icons()
    ico = Path(icons["win32"])
    entries = ico_directory(ico.read_bytes())
    assert {w for w, h, _ in entries} == WANTED
    assert all(w == h and bpp == 32 for w, h, bpp in entries)  # square, with alpha
    with pil.open(ico) as image:
        assert set(image.info["sizes"]) == {(s, s) for s in WANTED}
        for size in WANTED:
            image.size = (size, size)
            frame = image.copy().convert("RGBA")
            assert frame.size == (size, size)
            alpha = frame.getchannel("A")
            lo, hi = alpha.getextrema()
            # the artwork is drawn, with a transparent background around it
            assert lo == 0 and hi == 255, (size, alpha.getextrema())
            assert frame.getbbox() is not None
    assert Path(icons["linux"]).is_file()


def test_small_sizes_are_drawn_at_their_size_not_taken_from_another(build_in):
    pil = pytest.importorskip("PIL.Image")
    ico = Path(build_in.make_icons()["win32"])
    with pil.open(ico) as image:
        image.size = (16, 16)
        small = image.copy().convert("RGBA")
    rendered = pil.open(build_in.BUILD / "icons" / "mailbeacon-16.png").convert("RGBA")
    assert small.tobytes() == rendered.tobytes()


def test_without_pillow_the_build_warns_and_goes_on(build_in, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` now raises ImportError
    icons = build_in.make_icons()
    assert "win32" not in icons
    assert Path(icons["linux"]).is_file()
    assert "Pillow is not installed" in capsys.readouterr().err
