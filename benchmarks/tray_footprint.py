"""Footprint of the tray against a bare PySide6 tray app (one icon, one menu), measured in the
same run on Xvfb + trayer: launch-to-visible-icon time, idle USS, CPU per check cycle, CPU
between checks, and USS growth over many fast check cycles.

    python benchmarks/tray_footprint.py [--runs 3] [--cycles 1000] [--idle 10]

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


def cycle_harness(cycles: int, config_path: str) -> None:
    """Child process: the real TrayApp with the real engine, checks back to back, against the
    parent's server (a server in this process would count its own memory)."""
    from PySide6.QtCore import QTimer

    from app import config as config_mod
    from app.monitor import Monitor
    from app.ui.app import application
    from app.ui.tray import TrayApp

    app = application()
    config = config_mod.load(config_path, system_file=None, policy_file=None, registry=False)
    tray = TrayApp(config, monitor=Monitor(0.001, 0.001), watch_network=False)
    me = psutil.Process()
    marks: dict[str, float] = {}
    done = [0]
    warmup = min(100, cycles // 10)

    def on_state() -> None:
        done[0] += 1
        n = done[0]
        if n == warmup:
            marks["uss0"] = me.memory_full_info().uss
            t = me.cpu_times()
            marks["cpu0"] = t.user + t.system
            marks["t0"] = time.monotonic()
        if n >= warmup + cycles:
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
    }))
    sys.stdout.flush()
    os._exit(0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measurement")
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
    env = dict(screen.env, PYTHONPATH=str(ROOT), MAILBEACON_HOME=str(work / "home"))
    commands = {
        "bare": [sys.executable, str(bare_py)],
        "mailbeacon": [sys.executable, "-m", "app", "tray", "--config", str(demo.config_path)],
    }
    results: dict[str, dict[str, list[float]]] = {k: {"start_s": [], "uss_mb": []} for k in commands}
    idle: dict[str, float] = {}
    try:
        for run in range(args.runs):
            for name, argv in commands.items():
                proc, took = launch(screen, argv, env)
                time.sleep(3)  # the first check has finished; settle
                results[name]["start_s"].append(took)
                results[name]["uss_mb"].append(uss(proc.pid) / 2**20)
                if run == args.runs - 1:
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
    finally:
        internet.shutdown()
        demo.stop()
        screen.close()
        shutil.rmtree(work, ignore_errors=True)

    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
    start_ratio = med["mailbeacon"]["start_s"] / med["bare"]["start_s"]
    uss_ratio = med["mailbeacon"]["uss_mb"] / med["bare"]["uss_mb"]
    print(f"runs: {args.runs} (medians); screenshots poll the tray cell, so times include ~0.1 s of polling")
    print(f"{'':28}{'bare tray':>12}{'MailBeacon':>12}{'ratio':>8}{'goal':>10}")
    print(f"{'launch to visible icon (s)':28}{med['bare']['start_s']:12.2f}{med['mailbeacon']['start_s']:12.2f}"
          f"{start_ratio:8.2f}{'<= 1.5':>10}")
    print(f"{'idle USS (MB)':28}{med['bare']['uss_mb']:12.1f}{med['mailbeacon']['uss_mb']:12.1f}"
          f"{uss_ratio:8.2f}{'<= 1.25':>10}")
    print(f"{f'CPU idle over {args.idle:.0f} s (ms)':28}{idle['bare']:12.1f}{idle['mailbeacon']:12.1f}"
          f"{'':8}{'~0':>10}")
    print(f"{'CPU per check cycle (ms)':28}{'':12}{cycles['cpu_per_cycle_ms']:12.1f}")
    print(f"{'wall per check cycle (ms)':28}{'':12}{cycles['wall_per_cycle_ms']:12.1f}")
    growth_label = f"USS growth, {cycles['cycles']} cycles (MB)"
    print(f"{growth_label:28}{'':12}{cycles['uss_growth_mb']:12.2f}"
          f"{'':8}{'<= 2':>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
