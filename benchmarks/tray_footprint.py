"""Footprint of the tray against a bare PySide6 tray app (one icon, one menu), measured in the
same run on Xvfb + trayer: launch-to-visible-icon time, idle USS, CPU per check cycle, CPU
between checks, and USS growth over many fast check cycles; then where the difference goes:
idle USS per mapping from /proc/PID/smaps (each library, the heap), the Python modules loaded
before the icon shows with their import time (-X importtime), and the Python allocations by
module at idle (tracemalloc).

    python benchmarks/tray_footprint.py [--runs 3] [--cycles 1000] [--idle 10] [--no-breakdown]

Needs Debian's xvfb, trayer and imagemagick (import), and the demo extras (aiosmtpd, trustme).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.desktop import Screen, stop  # noqa: E402

BARE_TRAY = """
import sys
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon
app = QApplication(sys.argv)
app.setQuitOnLastWindowClosed(False)
pixmap = QPixmap(32, 32)
pixmap.fill(QColor("#2e9d47"))
tray = QSystemTrayIcon(QIcon(pixmap))
menu = QMenu()
menu.addAction("Quit", app.quit)
tray.setContextMenu(menu)
tray.show()
sys.exit(app.exec())
"""


def internet_204():
    """A loopback connectivity-check URL answering 204, as the real one does."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def uss_by_mapping(pid: int) -> dict[str, int]:
    """Private (unshared) bytes per mapping: a library's file name, or [heap] / [anon]."""
    out: dict[str, int] = {}
    name = "[anon]"
    with open(f"/proc/{pid}/smaps") as fh:
        for line in fh:
            head = line.split()
            if not head:
                continue
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                path = head[5] if len(head) > 5 else "[anon]"
                name = os.path.basename(path) if path.startswith("/") else path
                if name.startswith("[stack"):
                    name = "[stack]"
            elif head[0] in ("Private_Clean:", "Private_Dirty:"):
                out[name] = out.get(name, 0) + int(head[1]) * 1024
    return out


# run as a child with -X importtime: the real `mailbeacon tray`, reporting what was loaded when
# the icon was shown, and the Python allocations by module once the first check is done
PROBE_TRAY = """
import json, os, sys, time, tracemalloc
tracemalloc.start(1)
report = {}
import app.ui  # as `mailbeacon tray` does, before PySide6
from PySide6.QtWidgets import QSystemTrayIcon
shown = QSystemTrayIcon.show
def show(self):
    shown(self)
    if "modules_at_icon" not in report:
        report["modules_at_icon"] = sorted(sys.modules)
        from PySide6.QtCore import QTimer
        QTimer.singleShot(int(float(os.environ["FOOTPRINT_SETTLE_S"]) * 1000), finish)
def finish():
    snap = tracemalloc.take_snapshot()
    by_module = {}
    for stat in snap.statistics("filename"):
        path = stat.traceback[0].filename
        key = path.split("site-packages/")[-1] if "site-packages/" in path else path
        for marker in ("/app/", "/lib/python"):
            if marker in key:
                key = key[key.index(marker) + 1:]
        by_module[key] = by_module.get(key, 0) + stat.size
    report["python_alloc"] = by_module
    import linecache
    report["linecache_bytes"] = sum(sum(map(len, v[2])) for v in linecache.cache.values() if len(v) > 2)
    report["modules_idle"] = sorted(sys.modules)
    with open(os.environ["FOOTPRINT_OUT"], "w") as fh:
        json.dump(report, fh)
    os._exit(0)
QSystemTrayIcon.show = show
import app.cli
sys.exit(app.cli.main(["tray", "--config", os.environ["FOOTPRINT_CONFIG"]]))
"""


def import_times(stderr: str, loaded: set[str]) -> dict[str, int]:
    """Self import time (us) per module from -X importtime, for the modules in `loaded`."""
    times: dict[str, int] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [x.strip() for x in line[len("import time:"):].split("|")]
        if len(parts) == 3 and parts[0].isdigit() and parts[2] in loaded:
            times[parts[2]] = int(parts[0])
    return times


def group(name: str) -> str:
    """Modules grouped the way a reader looks for them: app.ui.tray, app.diagnosis, ssl..."""
    if name.startswith("app."):
        parts = name.split(".")
        return ".".join(parts[:3] if parts[1] == "ui" else parts[:2])
    if name.startswith(("PySide6", "shiboken", "shibokensupport", "signature_bootstrap")):
        return "PySide6/shiboken"
    return name.split(".")[0]


def breakdown(screen: Screen, argv_env: dict[str, str], bare_pid_maps: dict[str, int],
              mb_maps: dict[str, int], config_path: str, work: Path) -> list[str]:
    lines: list[str] = []
    print = lines.append  # noqa: A001  (collected now, printed after the table)
    print("")
    print("where the idle USS goes (MB, private pages per mapping; largest differences first)")
    names = set(bare_pid_maps) | set(mb_maps)
    diffs = sorted(names, key=lambda n: -(mb_maps.get(n, 0) - bare_pid_maps.get(n, 0)))
    print(f"  {'mapping':40}{'bare':>8}{'MailBeacon':>12}{'diff':>8}")
    shown = 0
    for n in diffs:
        d = mb_maps.get(n, 0) - bare_pid_maps.get(n, 0)
        if abs(d) < 0.15 * 2**20 or shown >= 18:
            continue
        shown += 1
        print(f"  {n[:40]:40}{bare_pid_maps.get(n, 0) / 2**20:8.2f}{mb_maps.get(n, 0) / 2**20:12.2f}{d / 2**20:8.2f}")
    total = (sum(mb_maps.values()) - sum(bare_pid_maps.values())) / 2**20
    print(f"  {'total':40}{sum(bare_pid_maps.values()) / 2**20:8.2f}{sum(mb_maps.values()) / 2**20:12.2f}{total:8.2f}")

    out = work / "probe.json"
    env = dict(argv_env, FOOTPRINT_OUT=str(out), FOOTPRINT_CONFIG=config_path, FOOTPRINT_SETTLE_S="3")
    deadline = time.monotonic() + 5
    while screen.icon_visible() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", PROBE_TRAY], env=env,
                          capture_output=True, text=True, timeout=60)
    if not out.exists():
        print(f"(no module breakdown: the probe tray exited {proc.returncode}: {proc.stderr[-500:]})")
        return lines
    report = json.loads(out.read_text())
    at_icon = set(report["modules_at_icon"])
    times = import_times(proc.stderr, at_icon)
    grouped: dict[str, list[int]] = {}
    for name in at_icon:
        entry = grouped.setdefault(group(name), [0, 0])
        entry[0] += times.get(name, 0)
        entry[1] += 1
    print("")
    print(f"loaded before the icon shows: {len(at_icon)} modules, {sum(times.values()) / 1000:.0f} ms of "
          "import (self time, largest groups)")
    for name, (us, count) in sorted(grouped.items(), key=lambda kv: -kv[1][0])[:16]:
        print(f"  {name:40}{us / 1000:8.1f} ms {count:5d} modules")
    later = sorted({group(m) for m in report["modules_idle"]} - {group(m) for m in at_icon})
    print(f"  loaded only after the icon: {', '.join(later) or 'nothing'}")
    alloc = report["python_alloc"]
    grouped_alloc: dict[str, int] = {}
    for path, size in alloc.items():
        key = path.split("/")[0] if "/" in path else path
        if path.startswith("app/"):
            key = "/".join(path.split("/")[:2])
        grouped_alloc[key] = grouped_alloc.get(key, 0) + size
    print("")
    print(f"Python allocations at idle (tracemalloc): {sum(alloc.values()) / 2**20:.1f} MB "
          f"(source text kept in linecache: {report.get('linecache_bytes', 0) / 2**20:.2f} MB); largest:")
    for name, size in sorted(grouped_alloc.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {name[:48]:48}{size / 2**20:8.2f} MB")
    return lines


def compile_project() -> int:
    """Compile app/ where its bytecode is missing or stale (where the child will look: the
    same PYTHONPYCACHEPREFIX); the number of modules that needed it."""
    import importlib.util
    import py_compile

    stale = 0
    for source in sorted((ROOT / "app").rglob("*.py")):
        cached = Path(importlib.util.cache_from_source(str(source)))
        if cached.exists() and cached.stat().st_mtime >= source.stat().st_mtime:
            continue
        py_compile.compile(str(source), cfile=str(cached), doraise=True)
        stale += 1
    return stale


def uss(pid: int) -> int:
    return psutil.Process(pid).memory_full_info().uss


def cpu_s(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def launch(screen: Screen, argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, float]:
    deadline = time.monotonic() + 5
    while screen.icon_visible() and time.monotonic() < deadline:
        time.sleep(0.1)  # the previous icon must be gone first
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not screen.icon_visible():
        if time.monotonic() - started > 30 or proc.poll() is not None:
            proc.kill()
            raise SystemExit(f"no tray icon from {argv}")
    return proc, time.monotonic() - started


WARMUP_S = 25.0


def cycle_harness(cycles: int, config_path: str) -> None:
    """Child process: the real TrayApp with the real engine, checks back to back, against the
    parent's server (a server in this process would count its own memory)."""
    from PySide6.QtCore import QTimer

    from app import config as config_mod
    from app.monitor import Monitor
    from app.ui.app import application, limit_malloc_arenas
    from app.ui.tray import TrayApp

    limit_malloc_arenas()  # as run_tray sets the process up, before any thread allocates
    app = application()
    config = config_mod.load(config_path, system_file=None, policy_file=None, registry=False)
    tray = TrayApp(config, monitor=Monitor(0.001, 0.001), watch_network=False)
    me = psutil.Process()
    marks: dict[str, float] = {}
    done = [0]
    # warm-up: a tenth of the cycles, and past the first outbox flush (0.5-5 s after start) and
    # the first state push to the hub (1-20 s after the first verdict), which load code once
    warmup = [min(100, cycles // 10)]
    started = time.monotonic()

    def on_state() -> None:
        done[0] += 1
        n = done[0]
        if n == warmup[0] and time.monotonic() - started < WARMUP_S:
            warmup[0] += 1  # not yet: the window starts at a later cycle
        elif n == warmup[0]:
            marks["uss0"] = me.memory_full_info().uss
            t = me.cpu_times()
            marks["cpu0"] = t.user + t.system
            marks["t0"] = time.monotonic()
        if n == warmup[0] + cycles // 2:
            marks["uss_half"] = me.memory_full_info().uss
        if n >= warmup[0] + cycles:
            t = me.cpu_times()
            marks["uss1"] = me.memory_full_info().uss
            marks["cpu1"] = t.user + t.system
            marks["t1"] = time.monotonic()
            QTimer.singleShot(0, app.quit)

    tray.state_changed.connect(on_state)
    tray.start()
    app.exec()
    print(json.dumps({
        "cycles": cycles,
        "cpu_per_cycle_ms": (marks["cpu1"] - marks["cpu0"]) / cycles * 1000,
        "wall_per_cycle_ms": (marks["t1"] - marks["t0"]) / cycles * 1000,
        "uss_growth_mb": (marks["uss1"] - marks["uss0"]) / 2**20,
        # a leak grows in both halves alike; what loads once (the keyring at the first outbox
        # flush, caches filling) shows only in the first
        "uss_growth_second_half_mb": (marks["uss1"] - marks["uss_half"]) / 2**20,
    }))
    sys.stdout.flush()
    os._exit(0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measurement")
    parser.add_argument("--no-breakdown", dest="breakdown", action="store_false",
                        help="skip where the time and memory go")
    parser.add_argument("--cycle-harness", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cycle_harness:
        cycle_harness(args.cycles, args.cycle_harness)
        return 0
    missing = [t for t in ("Xvfb", "trayer", "import") if shutil.which(t) is None]
    if missing:
        print(f"needs {', '.join(missing)}: apt-get install xvfb trayer imagemagick")
        return 69

    from app.demo import Demo

    # an installed tray has its bytecode (the wheel's install and the frozen bundle compile
    # it); a source tree under PYTHONDONTWRITEBYTECODE would compile every module at each launch
    compiled = compile_project()
    work = Path(tempfile.mkdtemp(prefix="mb-bench-"))
    screen = Screen()
    demo = Demo(work / "server")
    demo.config_sections["check"] = {"interval_s": 300, "confirm_after_s": 1, "timeout_s": 3}
    demo.start()
    # every probe a laptop runs with the default settings: the internet probe too, against a
    # loopback stand-in for the connectivity URL; the feed at its default interval
    internet = internet_204()
    demo.config_sections["network"] = {"internet_url": f"http://127.0.0.1:{internet.server_port}/generate_204"}
    demo.config_sections["feed"]["interval_s"] = 120
    demo.write_config()
    bare_py = work / "bare_tray.py"
    bare_py.write_text(BARE_TRAY)
    # the hub's laptop token as `mailbeacon demo` gives it to its tray: without it every state
    # push was refused (401) and retried, and the secret looked up in the keyring at a random
    # moment of the measurement (keyring, secretstorage and cryptography loaded, or not yet)
    env = dict(screen.env, PYTHONPATH=str(ROOT), MAILBEACON_HOME=str(work / "home"), **demo.secrets)
    commands = {
        "bare": [sys.executable, str(bare_py)],
        "mailbeacon": [sys.executable, "-m", "app", "tray", "--config", str(demo.config_path)],
    }
    results: dict[str, dict[str, list[float]]] = {k: {"start_s": [], "uss_mb": []} for k in commands}
    idle: dict[str, float] = {}
    late_uss: dict[str, float] = {}
    maps: dict[str, dict[str, int]] = {}
    try:
        for run in range(args.runs):
            for name, argv in commands.items():
                proc, took = launch(screen, argv, env)
                time.sleep(3)  # the first check has finished; settle
                results[name]["start_s"].append(took)
                results[name]["uss_mb"].append(uss(proc.pid) / 2**20)
                if run == args.runs - 1:
                    maps[name] = uss_by_mapping(proc.pid)
                    # between checks means after what runs once after start (the first outbox
                    # flush, the first state push to the hub: within WARMUP_S of the first check)
                    time.sleep(max(0.0, WARMUP_S - 3))
                    late_uss[name] = uss(proc.pid) / 2**20
                    before = cpu_s(proc.pid)
                    time.sleep(args.idle)
                    idle[name] = (cpu_s(proc.pid) - before) * 1000
                stop(proc)
        harness = subprocess.run(
            [sys.executable, __file__, "--cycles", str(args.cycles), "--cycle-harness",
             str(demo.config_path)],
            env=env, capture_output=True, text=True, timeout=1800,
        )
        if harness.returncode != 0:
            print(harness.stderr[-3000:])
            return 1
        cycles = json.loads(harness.stdout.strip().splitlines()[-1])
        where = breakdown(screen, env, maps["bare"], maps["mailbeacon"], str(demo.config_path), work) \
            if args.breakdown else []
    finally:
        internet.shutdown()
        demo.stop()
        screen.close()
        shutil.rmtree(work, ignore_errors=True)

    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
    start_ratio = med["mailbeacon"]["start_s"] / med["bare"]["start_s"]
    uss_ratio = med["mailbeacon"]["uss_mb"] / med["bare"]["uss_mb"]
    print(f"runs: {args.runs} (medians); screenshots poll the tray cell, so times include ~0.1 s of polling;")
    print(f"the project's bytecode compiled first, as installed ({compiled} modules were out of date)")
    print(f"{'':28}{'bare tray':>12}{'MailBeacon':>12}{'ratio':>8}{'goal':>10}")
    print(f"{'launch to visible icon (s)':28}{med['bare']['start_s']:12.2f}{med['mailbeacon']['start_s']:12.2f}"
          f"{start_ratio:8.2f}{'<= 1.5':>10}")
    print(f"{'idle USS (MB)':28}{med['bare']['uss_mb']:12.1f}{med['mailbeacon']['uss_mb']:12.1f}"
          f"{uss_ratio:8.2f}{'<= 1.25':>10}")
    print(f"{'  after start-up jobs (MB)':28}{late_uss['bare']:12.1f}{late_uss['mailbeacon']:12.1f}"
          f"{late_uss['mailbeacon'] / late_uss['bare']:8.2f}")
    print(f"{f'CPU idle over {args.idle:.0f} s (ms)':28}{idle['bare']:12.1f}{idle['mailbeacon']:12.1f}"
          f"{'':8}{'~0':>10}")
    print(f"{'CPU per check cycle (ms)':28}{'':12}{cycles['cpu_per_cycle_ms']:12.1f}")
    print(f"{'wall per check cycle (ms)':28}{'':12}{cycles['wall_per_cycle_ms']:12.1f}")
    growth_label = f"USS growth, {cycles['cycles']} cycles (MB)"
    print(f"{growth_label:28}{'':12}{cycles['uss_growth_mb']:12.2f}"
          f"{'':8}{'<= 2':>10}")
    half_label = f"  of it in the last {cycles['cycles'] - cycles['cycles'] // 2}"
    print(f"{half_label:28}{'':12}{cycles['uss_growth_second_half_mb']:12.2f}")
    for line in where:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
