"""The Linux bundle's reduced ICU data: a valid common-data package with exactly the kept items,
and Qt on the bundle's libraries falling back without the rest."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.packaging.conftest import load_build_module

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux bundle only")

icu = load_build_module().load_icu_data_module()


def installed_icu_data() -> Path:
    import PySide6

    found = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"))
    if not found:
        pytest.skip("this PySide6 ships no ICU data library")
    return found[0]


@pytest.fixture(scope="module")
def original() -> tuple[str, bytes]:
    library = installed_icu_data()
    version = icu.icu_version(library)
    return version, icu.read_symbol(library, f"icudt{version}_dat")


def test_version_comes_from_the_file_name():
    assert icu.icu_version(Path("libicudata.so.73")) == "73"
    assert icu.icu_version(Path("/x/libicudata.so.74.2")) == "74"
    with pytest.raises(ValueError):
        icu.icu_version(Path("libicuuc.so.73"))


def test_unchanged_package_is_written_back_byte_for_byte(original):
    _, raw = original
    package = icu.parse_package(raw)
    assert len(package.items) > 1000 and package.prefix.startswith("icudt")
    written = icu.write_package(package)
    # the symbol's section may carry padding after the last item, never anything else
    assert raw[:len(written)] == written and raw[len(written):].strip(b"\0") == b""


def test_reduced_package_is_valid_and_keeps_exactly_the_chosen_items(original):
    version, raw = original
    full = icu.parse_package(raw)
    reduced_bytes = icu.write_package(icu.reduce_package(full))
    assert len(reduced_bytes) < 400_000

    # read it back field by field, as ICU's udata_checkCommonData and offsetTOC lookups do
    header_size, magic = struct.unpack_from("<H2s", reduced_bytes, 0)
    assert magic == b"\xda\x27" and header_size % 16 == 0
    assert reduced_bytes[12:16] == b"CmnD" and reduced_bytes[16] == 1
    reduced = icu.parse_package(reduced_bytes)
    assert reduced.prefix == f"icudt{version}l/"
    assert set(reduced.names()) == icu.kept_item_names()  # none of the chosen ones is missing
    assert reduced.names() == sorted(reduced.names())  # ICU binary-searches the TOC
    toc = reduced_bytes[header_size:]
    for i, (name, data) in enumerate(reduced.items):
        name_offset, data_offset = struct.unpack_from("<II", toc, 4 + 8 * i)
        assert data_offset % 16 == 0, name
        assert toc[name_offset:].split(b"\0", 1)[0].decode() == name
        assert data.rstrip(b"\xaa") == full.item(name.split("/", 1)[1]).rstrip(b"\xaa")
        assert data[2:4] == b"\xda\x27", name  # each item is an ICU data file itself
    assert "coll/ucadata.icu" not in reduced.names() and "zoneinfo64.res" not in reduced.names()


def test_garbage_is_not_taken_for_a_package():
    with pytest.raises(ValueError):
        icu.parse_package(b"\0" * 64)
    with pytest.raises(ValueError):
        icu.parse_package(b"\x20\0\xda\x27" + b"\0" * 8 + b"ResB" + b"\0" * 48)


def test_built_library_exports_the_package_under_the_icu_soname(original, tmp_path):
    if shutil.which("gcc") is None or shutil.which("readelf") is None:
        pytest.skip("needs gcc and readelf")
    version, raw = original
    package = icu.write_package(icu.reduce_package(icu.parse_package(raw)))
    library = icu.build_library(package, version, tmp_path)
    assert library.name == f"libicudata.so.{version}"
    assert icu.read_symbol(library, f"icudt{version}_dat")[:len(package)] == package
    dynamic = subprocess.run(["readelf", "-dW", str(library)], capture_output=True, text=True,
                             check=True).stdout
    assert f"Library soname: [libicudata.so.{version}]" in dynamic
    assert "NEEDED" not in dynamic


def bundled_icu_data(frozen_exe: Path) -> Path:
    found = [p for p in (frozen_exe.parent / "_internal").rglob("libicudata.so.*")
             if not p.is_symlink()]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.packaging
@pytest.mark.slow
def test_bundle_carries_the_reduced_library(frozen_exe):
    library = bundled_icu_data(frozen_exe)
    assert library.stat().st_size < 1_000_000
    version = icu.icu_version(library)
    package = icu.parse_package(icu.read_symbol(library, f"icudt{version}_dat"))
    assert set(package.names()) == icu.kept_item_names()


PROBE = textwrap.dedent(
    """
    import functools, json, sys
    from PySide6.QtCore import (QBuffer, QByteArray, QCollator, QCoreApplication, QDateTime,
                                QLocale, QStringConverter, QStringDecoder, QTimeZone,
                                QXmlStreamReader)

    app = QCoreApplication(sys.argv)

    def xml(encoding, body):
        # QXmlStreamReader decodes through QStringDecoder, which asks ICU for legacy charsets
        buf = QBuffer()
        buf.setData(QByteArray(b'<?xml version="1.0" encoding="' + encoding + b'"?><a>'
                               + body + b"</a>"))
        buf.open(QBuffer.OpenModeFlag.ReadOnly)
        reader = QXmlStreamReader(buf)
        while not reader.atEnd():
            if reader.readNext() == QXmlStreamReader.TokenType.StartElement:
                return reader.readElementText()
        return None

    collator = QCollator(QLocale("de_DE"))
    berlin = QTimeZone(b"Europe/Berlin")
    winter = QDateTime(2024, 1, 2, 3, 4, 0, 0, berlin)
    print(json.dumps({
        "icudata": [l.split()[-1] for l in open("/proc/self/maps") if "libicudata" in l][:1],
        "sorted": sorted(["b", "a", "c"], key=functools.cmp_to_key(collator.compare)),
        "cp1252": xml(b"windows-1252", b"\\x80"),
        "koi8r": xml(b"KOI8-R", b"\\xc1"),
        "latin1": xml(b"ISO-8859-1", b"\\xe9"),
        "sjis": xml(b"Shift_JIS", b"\\x82\\xa0"),
        "codecs": QStringConverter.availableCodecs(),
        "sjis_valid": QStringDecoder("Shift_JIS").isValid(),
        "upper_de": QLocale("de_DE").toUpper("stra\\u00dfe"),
        "upper_tr": QLocale("tr_TR").toUpper("i"),
        "tz_valid": berlin.isValid(),
        "tz_offset": berlin.offsetFromUtc(winter),
        "tz_name": berlin.displayName(QTimeZone.TimeType.StandardTime,
                                      QTimeZone.NameType.LongName, QLocale("en_US")),
        "date": QLocale("de_DE").toString(winter, "dd.MM.yyyy HH:mm t"),
    }))
    """
)


def bundle_mirror(internal: Path, into: Path) -> Path:
    """A PySide6 and shiboken6 whose binaries are the bundle's and whose Python parts are the
    installed ones: Python run with it uses the frozen app's Qt and ICU libraries."""
    import PySide6

    site = Path(PySide6.__file__).parent.parent
    for pkg in ("PySide6", "shiboken6"):
        (into / pkg).mkdir(parents=True)
        for entry in (site / pkg).iterdir():
            if entry.name != "Qt" and ".so" not in entry.name:
                (into / pkg / entry.name).symlink_to(entry)
        for entry in (internal / pkg).iterdir():
            (into / pkg / entry.name).symlink_to(entry)
    return into


@pytest.mark.packaging
@pytest.mark.slow
def test_qt_on_the_bundled_libraries_falls_back_without_the_dropped_data(frozen_exe, tmp_path):
    internal = frozen_exe.parent / "_internal"
    mirror = bundle_mirror(internal, tmp_path / "mirror")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QT_", "ICU_"))}
    env.update(PYTHONPATH=str(mirror), QT_QPA_PLATFORM="offscreen", TZ="UTC")
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert out["icudata"] == [str(bundled_icu_data(frozen_exe).resolve())]
    # kept: aliases and single-byte tables; UTF, Latin-1 and case mapping need no data
    assert (out["cp1252"], out["koi8r"], out["latin1"]) == ("\u20ac", "\u0430", "\u00e9")
    assert {"UTF-8", "ISO-8859-15", "KOI8-R", "windows-1250", "windows-1258", "macintosh",
            "IBM866"} <= set(out["codecs"])
    assert "Shift_JIS" not in out["codecs"]
    assert out["upper_de"] == "STRASSE" and out["upper_tr"] == "\u0130"
    # dropped: multi-byte charsets, collation and zone names degrade to Qt's own fallbacks
    assert out["sjis"] is None and out["sjis_valid"] is False
    assert out["sorted"] == ["a", "b", "c"]
    assert out["tz_valid"] and out["tz_offset"] == 3600  # offsets come from the tz files
    assert out["date"].startswith("02.01.2024 03:04 ")
