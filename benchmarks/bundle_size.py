"""Size of the frozen app (on disk and compressed) and its launch-to-tray-icon time beside the
source install's. Builds the frozen app first if needed; the tray timing needs Xvfb and trayer.

    python benchmarks/bundle_size.py [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def disk_size(folder: Path) -> int:
    """Bytes the files take (symlinks counted once, as links)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def compressed_size(folder: Path) -> int:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        tar.add(folder, arcname=folder.name)
    return buffer.tell()


def icu_data_report(internal: Path) -> str | None:
    """The bundled ICU data library beside the installed one it replaces (Linux)."""
    bundled = [p for p in internal.rglob("libicudata.so.*") if not p.is_symlink()]
    if not bundled:
        return None
    try:
        import PySide6
    except ImportError:
        return None
    installed = Path(PySide6.__file__).parent / "Qt" / "lib" / bundled[0].name
    if not installed.exists():
        return None
    small, full = bundled[0].stat().st_size, installed.stat().st_size
    return (f"ICU data       {small / 1e6:6.2f} MB bundled, {full / 1e6:.1f} MB installed "
            f"({(full - small) / 1e6:.1f} MB saved)")


def time_to_icon(command: list[str], config: Path, home: Path) -> float | None:
    """Seconds from launch until the tray icon is drawn (green) in trayer on Xvfb."""
    from tests.desktop import Screen, icon_colours

    screen = Screen()
    env = dict(screen.env, MAILBEACON_HOME=str(home), PYTHONPATH=str(ROOT))
    shot = home / "shot.png"
    started = time.monotonic()
    proc = subprocess.Popen([*command, "tray", "--config", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.monotonic() - started < 30:
            counts = icon_colours(screen.shot(shot))
            if counts["green"] >= 100:
                return time.monotonic() - started
            time.sleep(0.05)
        return None
    finally:
        proc.terminate()
        proc.wait(10)
        screen.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import importlib.util

    spec = importlib.util.spec_from_file_location("mailbeacon_build", ROOT / "packaging" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    exe = build.build_frozen()
    folder = exe.parent
    size = disk_size(folder)
    print(f"frozen app     {folder}")
    print(f"on disk        {size / 1e6:6.1f} MB = {size / 2**20:.1f} MiB  (goal <= 100 MB)")
    print(f"compressed     {compressed_size(folder) / 1e6:6.1f} MB  (tar.gz -6)")
    internal = folder / "_internal"
    biggest = sorted((p for p in internal.rglob("*") if p.is_file() and not p.is_symlink()),
                     key=lambda p: p.stat().st_size, reverse=True)[:6]
    for path in biggest:
        print(f"  {path.stat().st_size / 1e6:5.1f} MB  {path.relative_to(internal)}")
    icu_line = icu_data_report(internal)
    if icu_line:
        print(icu_line)

    if args.runs <= 0:
        return 0

    if not all(shutil.which(t) for t in ("Xvfb", "trayer", "import")):
        print("launch-to-icon: skipped (needs Xvfb, trayer, imagemagick)")
        return 0
    from app.demo import Demo

    with tempfile.TemporaryDirectory() as tmp:
        demo = Demo(Path(tmp) / "server")
        demo.start()
        try:
            for label, command in (("frozen", [str(exe)]), ("source", [sys.executable, "-m", "app"])):
                times = []
                for run in range(args.runs):
                    home = Path(tmp) / f"{label}{run}"
                    home.mkdir()
                    times.append(time_to_icon(command, demo.config_path, home))
                shown = ", ".join("never" if t is None else f"{t:.2f}" for t in times)
                done = sorted(t for t in times if t is not None)
                median = f"{done[len(done) // 2]:.2f} s" if done else "n/a"
                print(f"launch-to-icon {label:6s} median {median}  (runs: {shown})")
        finally:
            demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
