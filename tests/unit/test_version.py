"""app.version(): the installed distribution's version, read without importlib.metadata."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str, *flags: str, path: tuple[Path, ...] = (), source: Path = ROOT) -> str:
    """`code` in a new interpreter with `path` before `source` (the folder holding app/)."""
    prefix = "import sys\n" + "".join(f"sys.path.insert(0, {str(p)!r})\n" for p in (source, *path))
    out = subprocess.run([sys.executable, *flags, "-c", prefix + code], capture_output=True,
                         text=True, timeout=60, cwd=source)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_version_is_the_installed_distributions():
    import app

    assert app.version() == metadata.version("mailbeacon")


def test_reading_it_loads_neither_importlib_metadata_nor_email():
    loaded = run("import app\nv = app.version()\n"
                 "print(v, 'importlib.metadata' in sys.modules, 'email' in sys.modules)")
    assert loaded == f"{metadata.version('mailbeacon')} False False"


def test_the_first_dist_info_on_the_path_wins_as_importlib_metadata_has_it(tmp_path):
    info = tmp_path / "mailbeacon-9.8.7.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mailbeacon\nVersion: 9.8.7\n\nVersion: 1\n")
    out = run("import app\nfrom importlib import metadata\nprint(app.version(), metadata.version('mailbeacon'))",
              path=(tmp_path,))
    assert out == "9.8.7 9.8.7"


def test_an_egg_info_before_it_is_read_as_importlib_metadata_reads_it(tmp_path):
    info = tmp_path / "mailbeacon.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: mailbeacon\nVersion: 3.2.1\n")
    (tmp_path / "mailbeacon_other-1.0.dist-info").mkdir()  # another project's name: not ours
    out = run("import app\nfrom importlib import metadata\nprint(app.version(), metadata.version('mailbeacon'))",
              path=(tmp_path,))
    assert out == "3.2.1 3.2.1"


def test_a_source_tree_that_was_never_installed_says_so(tmp_path):
    # -I -S: no site-packages; app/ linked from a folder with no metadata beside it
    (tmp_path / "app").symlink_to(ROOT / "app")
    assert run("import app\nprint(app.version())", "-I", "-S", source=tmp_path) == "0.0.0+source"
