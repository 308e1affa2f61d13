"""A reduced ICU data library for the Linux bundle, in place of the 31 MiB libicudata.so.NN:
the same symbol, holding only the items Qt may use.  `python packaging/icu_data.py LIB OUT_DIR`"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Qt on Linux takes locale data, case mapping (compiled into libicuuc), time zones (tz files)
# and UTF/Latin-1 conversion from elsewhere; ICU data serves QCollator, time zone display names
# and QStringConverter for legacy charsets. Without an item ICU reports a missing resource and Qt
# falls back (QCollator compares code points, display names come back empty), so we keep what is
# cheap and useful: converter aliases and the single-byte charsets of the WHATWG standard.

# common-data package layout (ICU udata.h / ucmndata.h): MappedData + UDataInfo, then a TOC
_MAGIC = b"\xda\x27"
_COMMON_FORMAT = b"CmnD"
_ALIGN = 16  # pkgdata aligns items so their tables can be read in place
_PAD = b"\xaa"  # pkgdata's filler, so an unchanged package is written back byte for byte

# Charset tables kept (ICU converter names), besides the algorithmic UTF, Latin-1 and ASCII
# converters that need no data: the single-byte encodings of the WHATWG Encoding Standard (what
# mail and web content declares) plus the two DOS code pages still seen in old mail.
KEPT_CONVERTERS = (
    "ibm-866_P100-1995",       # IBM866
    "ibm-912_P100-1995",       # ISO-8859-2
    "ibm-913_P100-2000",       # ISO-8859-3
    "ibm-914_P100-1995",       # ISO-8859-4
    "ibm-915_P100-1995",       # ISO-8859-5
    "ibm-1089_P100-1995",      # ISO-8859-6
    "ibm-9005_X110-2007",      # ISO-8859-7
    "ibm-5012_P100-1999",      # ISO-8859-8
    "ibm-920_P100-1995",       # ISO-8859-9
    "iso-8859_10-1998",        # ISO-8859-10
    "iso-8859_11-2001",        # ISO-8859-11
    "ibm-921_P100-1995",       # ISO-8859-13
    "iso-8859_14-1998",        # ISO-8859-14
    "ibm-923_P100-1998",       # ISO-8859-15
    "ibm-878_P100-1996",       # KOI8-R
    "ibm-1168_P100-2002",      # KOI8-U
    "macos-0_2-10.2",          # macintosh
    "macos-7_3-10.2",          # x-mac-cyrillic
    "windows-874-2000",        # windows-874
    "ibm-5346_P100-1998",      # windows-1250
    "ibm-5347_P100-1998",      # windows-1251
    "ibm-5348_P100-1997",      # windows-1252
    "ibm-5349_P100-1998",      # windows-1253
    "ibm-5350_P100-1998",      # windows-1254
    "ibm-9447_P100-2002",      # windows-1255
    "ibm-9448_X100-2005",      # windows-1256
    "ibm-9449_P100-2002",      # windows-1257
    "ibm-5354_P100-1998",      # windows-1258
    "ibm-437_P100-1995",       # IBM437
    "ibm-850_P100-1995",       # IBM850
)
# aliases for every converter name, and ICU's own version stamps
KEPT_ITEMS = ("cnvalias.icu", "icuver.res", "icustd.res")


def kept_item_names() -> set[str]:
    """Item names (without the icudtNNl/ prefix) of the reduced package."""
    return set(KEPT_ITEMS) | {f"{name}.cnv" for name in KEPT_CONVERTERS}


@dataclass
class CommonData:
    """An ICU common-data package: its header (kept verbatim) and its items in TOC order."""

    header: bytes
    items: list[tuple[str, bytes]]

    @property
    def prefix(self) -> str:
        """The package name items start with, e.g. 'icudt73l/'."""
        return self.items[0][0].split("/", 1)[0] + "/" if self.items else ""

    def names(self) -> list[str]:
        """Item names without the package prefix."""
        return [name.split("/", 1)[1] for name, _ in self.items]

    def item(self, name: str) -> bytes:
        for full, data in self.items:
            if full.split("/", 1)[1] == name:
                return data
        raise KeyError(name)


def parse_package(data: bytes) -> CommonData:
    """Read a 'CmnD' package; ValueError when it is not one."""
    if len(data) < 32 or data[2:4] != _MAGIC:
        raise ValueError("not ICU data: bad magic")
    header_size = struct.unpack_from("<H", data, 0)[0]
    info_size, _, big_endian, charset, _, _ = struct.unpack_from("<HHBBBB", data, 4)
    if data[12:16] != _COMMON_FORMAT or data[16] != 1:
        raise ValueError(f"not a common-data package: format {data[12:16]!r} v{data[16]}")
    if big_endian or charset != 0 or info_size < 20:
        raise ValueError("only little-endian ASCII packages are handled")
    toc = data[header_size:]
    (count,) = struct.unpack_from("<I", toc, 0)
    if not 0 < count < 1_000_000 or 4 + 8 * count > len(toc):
        raise ValueError(f"bad item count {count}")
    entries = [struct.unpack_from("<II", toc, 4 + 8 * i) for i in range(count)]
    items = []
    for i, (name_offset, data_offset) in enumerate(entries):
        # the last item has no successor to bound it: it runs to the end of the data
        end = entries[i + 1][1] if i + 1 < count else len(toc)
        if not 0 < data_offset <= end <= len(toc):
            raise ValueError(f"item {i} lies outside the package")
        name = toc[name_offset:toc.index(b"\0", name_offset)].decode("ascii")
        items.append((name, toc[data_offset:end]))
    return CommonData(data[:header_size], items)


def write_package(package: CommonData) -> bytes:
    """The package bytes as pkgdata lays them out: header, TOC, names, 16-byte aligned items."""
    count = len(package.items)
    names = b"".join(name.encode("ascii") + b"\0" for name, _ in package.items)
    names_start = 4 + 8 * count
    data_start = _aligned(names_start + len(names))
    entries, blobs = [], bytearray()
    name_offset = names_start
    for name, data in package.items:
        entries.append(struct.pack("<II", name_offset, data_start + len(blobs)))
        name_offset += len(name) + 1
        blobs += data + _PAD * (_aligned(len(data)) - len(data))
    toc = struct.pack("<I", count) + b"".join(entries) + names
    toc += _PAD * (data_start - len(toc))
    if len(package.header) % _ALIGN:
        raise ValueError("header size must keep items aligned")
    return package.header + toc + bytes(blobs)


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def reduce_package(package: CommonData, keep: set[str] | None = None) -> CommonData:
    """Only the items named in keep (default: kept_item_names()), in the original order."""
    keep = kept_item_names() if keep is None else keep
    items = [(n, d) for n, d in package.items if n.split("/", 1)[1] in keep]
    return CommonData(package.header, items)


# ---------------------------------------------------------------- the shared library


def icu_version(library: Path) -> str:
    """'73' from libicudata.so.73 (or libicudata.so.73.2)."""
    match = re.fullmatch(r"libicudata\.so\.(\d+)(\.\d+)*", library.name)
    if not match:
        raise ValueError(f"{library.name}: not an ICU data library name")
    return match.group(1)


def read_symbol(library: Path, symbol: str) -> bytes:
    """The bytes from an ELF64 little-endian library's dynamic symbol to the end of its section."""
    elf = library.read_bytes()
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise ValueError(f"{library}: not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != 11:  # SHT_DYNSYM
            continue
        strtab = sections[link]
        for pos in range(offset, offset + size, entsize or 24):
            name_at, _, _, _, value, _ = struct.unpack_from("<IBBHQQ", elf, pos)
            start = strtab[4] + name_at
            if elf[start:elf.index(b"\0", start)].decode() != symbol:
                continue
            for _, _, _, addr, sec_offset, sec_size, _, _, _, _ in sections:
                if addr <= value < addr + sec_size and addr:
                    return elf[sec_offset + value - addr:sec_offset + sec_size]
    raise ValueError(f"{library}: no symbol {symbol}")


def build_library(package: bytes, version: str, out_dir: Path) -> Path:
    """out_dir/libicudata.so.<version> exporting icudt<version>_dat = package (needs gcc)."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise RuntimeError("gcc is needed to build the reduced ICU data library")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"libicudata.so.{version}"
    symbol = f"icudt{version}_dat"
    with tempfile.TemporaryDirectory() as tmp:
        blob = Path(tmp) / "icudata.bin"
        blob.write_bytes(package)
        source = Path(tmp) / "icudata.S"
        source.write_text(
            "\t.section .rodata\n"
            f"\t.globl {symbol}\n"
            f"\t.type {symbol}, @object\n"
            f"\t.balign {_ALIGN}\n"
            f"{symbol}:\n"
            f'\t.incbin "{blob}"\n'
            f"\t.size {symbol}, .-{symbol}\n"
            '\t.section .note.GNU-stack,"",@progbits\n',
            encoding="ascii",
        )
        subprocess.run([compiler, "-shared", "-nostdlib", "-Wl,-z,noexecstack",
                        f"-Wl,-soname,{out.name}", "-o", str(out), str(source)], check=True)
    return out


def reduce_library(original: Path, out_dir: Path) -> Path:
    """A small libicudata.so.NN beside no other file, holding only the kept items."""
    version = icu_version(original)
    package = parse_package(read_symbol(original, f"icudt{version}_dat"))
    reduced = reduce_package(package)
    missing = kept_item_names() - set(reduced.names())
    if missing:
        print(f"warning: ICU data lacks {', '.join(sorted(missing))}", file=sys.stderr)
    return build_library(write_package(reduced), version, out_dir)


if __name__ == "__main__":
    print(reduce_library(Path(sys.argv[1]), Path(sys.argv[2])))
