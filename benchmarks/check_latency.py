"""Prints how long one `check` takes with 1, 4 and 8 endpoints whose servers each wait D before
greeting (parallel probes should stay near D, not N x D), the CPU time per check, and the
process start-up overhead of `mailbeacon check`.

    python benchmarks/check_latency.py [--delay-ms 300] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from app import config as config_mod
from app.diagnosis.engine import diagnose


class SlowSmtp:
    """A loopback SMTP responder that waits `delay` before its greeting."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            time.sleep(self.delay)
            conn.sendall(b"220 bench.test ESMTP ready\r\n")
            reader = conn.makefile("rb")
            for line in reader:
                verb = line.strip().split(b" ")[0].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250-bench.test\r\n250-SIZE 10000000\r\n250 AUTH PLAIN LOGIN\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def config_for(ports: list[int], folder: Path) -> Path:
    lines = ['[network]\ninternet_url = ""\n', "[check]\ntimeout_s = 5\nslow_ms = 5000\n"]
    for port in ports:
        lines.append(f'[[endpoints]]\nkind = "smtp"\nhost = "127.0.0.1"\nport = {port}\ntls = "none"\n')
    path = folder / f"bench-{len(ports)}.toml"
    path.write_text("\n".join(lines))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    delay = args.delay_ms / 1000
    servers = [SlowSmtp(delay) for _ in range(8)]
    folder = Path(tempfile.mkdtemp(prefix="mb-bench-"))
    os.environ["MAILBEACON_HOME"] = str(folder)
    print(f"check latency, servers greeting after D = {args.delay_ms:.0f} ms, {args.runs} runs each")
    print(f"{'endpoints':>9}  {'wall median':>11}  {'wall max':>8}  {'cpu/check':>9}  verdict")
    for n in (1, 4, 8):
        cfg = config_mod.load(config_for([s.port for s in servers[:n]], folder),
                              system_file=None, policy_file=None, env={}, registry=False)
        walls, cpus, verdict = [], [], ""
        for _ in range(args.runs):
            cpu0, t0 = time.process_time(), time.perf_counter()
            result = diagnose(cfg)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - cpu0)
            verdict = result.verdict
        print(f"{n:>9}  {statistics.median(walls) * 1000:>8.0f} ms  {max(walls) * 1000:>5.0f} ms"
              f"  {statistics.median(cpus) * 1000:>6.1f} ms  {verdict}")

    # start-up overhead: the whole `mailbeacon check` process with nothing to probe but this
    # computer's interfaces, against a bare interpreter
    empty = folder / "empty.toml"
    empty.write_text('[network]\ninternet_url = ""\n')
    env = dict(os.environ, MAILBEACON_HOME=str(folder))

    def timed(cmd: list[str]) -> float:
        samples = []
        for _ in range(args.runs + 2):
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples[2:])

    bare = timed([sys.executable, "-c", "pass"])
    check = timed([sys.executable, "-m", "app", "check", "--json", "--config", str(empty)])
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys, app.cli; app.cli.main(['check','--json','--config',sys.argv[1]]);"
         "print('PySide6' in sys.modules, file=sys.stderr)", str(empty)],
        env=env, capture_output=True, text=True, check=False,
    )
    print()
    print(f"bare interpreter start:       {bare * 1000:6.0f} ms")
    print(f"`mailbeacon check` (no probes): {check * 1000:6.0f} ms")
    print(f"start-up overhead:            {(check - bare) * 1000:6.0f} ms")
    print(f"PySide6 imported by check:    {probe.stderr.strip().splitlines()[-1]}")
    for s in servers:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
