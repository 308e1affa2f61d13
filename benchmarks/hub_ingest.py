"""Hub ingest, side by side with Prometheus Alertmanager, in one run on this machine.

For the hub on SQLite and on PostgreSQL (a private cluster started here), and for Alertmanager
(Debian `prometheus-alertmanager`, started here on loopback with a temp storage folder), and for
uvicorn serving an empty ASGI app the same way `serve` runs the hub (the stack's ceiling):
  * reports/s and state events/s at concurrency 32, p50/p99 latency, each for the same time
    (Alertmanager: one alert per POST /api/v2/alerts);
  * p99 latency at a steady 500 reports/s (open loop: latency counted from each request's
    scheduled time, so a stall is not hidden). Each steady run starts once the kernel has written
    back what the runs before it left in the page cache (sync): on this machine's disk, the
    kernel writing back tens of MB of the database's pages 30 s after a full-speed run held
    every fdatasync for 0.1-1.4 s, and the run would measure that instead of 500 reports/s. The
    steady run's own writes, and their writeback, are measured; so are the hub's flushes that
    took over 50 ms during it;
  * how long until the first notification of a new group reaches IT (goal: group_wait_s + 1 s);
  * where the hub's time goes (reading, token, JSON parsing, validation, the wait for the
    journal's flush to disk, whose batches also ask the database which rows it already has, and
    the response), from the hub's own counters;
  * the CPU each run cost per request: the server's processes, PostgreSQL's, and wrk's.

Every request the hub answers is durable: on disk in its journal (fdatasync) before the answer;
the background process loads the journal into the database in batches, and the time it needs to
catch up after the runs is printed too.

The load comes from `wrk` (Debian `wrk`, a C load generator) so the client is not the
bottleneck; the steady-rate run uses aiohttp. Both compete with the server for this machine's
cores, equally for the hub and Alertmanager.

    python benchmarks/hub_ingest.py [--seconds 10] [--concurrency 32] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers.postgres import PostgresCluster  # noqa: E402
from tests.servers.smtp import free_port  # noqa: E402

WRK_SCRIPT = r"""
local counter = 0
thread_no = 0  -- a global: setup()'s thread:set() gives each thread its own (a local would hide it)
local threads = {}
local template = os.getenv("BENCH_BODY")
local token = os.getenv("BENCH_TOKEN")
local run = os.getenv("BENCH_RUN")

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
end

function request()
  counter = counter + 1
  local id = string.format("%s-%d-%07d", run, thread_no, counter)
  local body = template:gsub("@ID@", id)
  return wrk.format(nil, nil, nil, body)
end


function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def report_body() -> str:
    """A realistic report (~2 KB) with @ID@ where each request puts its own id."""
    checks = [{"id": f"{k} mail.example.com:{p}", "kind": k, "target": f"mail.example.com:{p}", "status": s,
               "code": c, "detail": "no answer within 5 s" if s == "fail" else "", "layer": "service",
               "duration_ms": 5003.1}
              for k, p, s, c in (("smtp", 587, "fail", "timeout"), ("imap", 993, "ok", "ok"), ("https", 443, "ok", "ok"))]
    checks += [{"id": "dns", "kind": "dns", "target": "example.com", "status": "ok", "code": "ok", "detail": "",
                "layer": "dns", "duration_ms": 12.0}]
    doc = {
        "schema": 1, "id": "@ID@", "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "fingerprint": "ab" * 32,
        "reporter": {"username": "jo", "hostname": "laptop-@ID@", "email": "jo@example.com", "laptop": "@ID@"},
        "note": "Cannot send since nine; the spinner never stops.", "known_incident": None,
        "diagnosis": {"verdict": "down", "layer": "service", "headline": "Sending mail does not work.",
                      "advice": "IT has been told.", "checked_at": "2026-01-01T09:00:00Z", "duration_ms": 5010.0,
                      "checks": checks, "it_status": None},
        "history": [{"at": "2026-01-01T08:59:00Z", "verdict": "down", "headline": "Sending mail does not work."}],
        "device": {"os": "Windows 11", "app_version": "0.1.0", "uptime_s": 3600, "cpu_percent": 3.0,
                   "memory_percent": 41.0, "battery": None},
        "network": {"interfaces": [{"name": "wlan0", "is_up": True, "addresses": ["10.1.2.3"]}],
                    "default_gateway": "10.1.0.1", "dns_servers": ["10.1.0.53"], "proxy": None, "vpn_suspected": False},
    }
    return json.dumps(doc)


def state_body() -> str:
    return json.dumps({"schema": 1, "laptop": "@ID@", "at": "2026-01-01T09:00:00.000Z", "verdict": "down",
                       "layer": "service", "headline": "Sending mail does not work.",
                       "failing": [{"kind": "smtp", "target": "mail.example.com:587", "code": "timeout"}],
                       "network": "0a1b2c3d4e5f", "app_version": "0.1.0", "username": "jo"})


def alert_body() -> str:
    return json.dumps([{"labels": {"alertname": "MailDown", "laptop": "@ID@", "severity": "page"},
                        "annotations": {"summary": "Sending mail does not work."},
                        "generatorURL": "http://127.0.0.1/"}])


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU so far of these processes and all their descendants."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            family = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in family:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
    return total


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(url: str, body: str, token: str, seconds: float, concurrency: int, run: str, threads: int = 2,
            server: list[int] = (), database: list[int] = ()) -> dict:
    """POST bodies for `seconds` at `concurrency` connections; rate and latency as wrk measures
    them (wrk cannot stop at a count, so every run gets the same time instead), and the CPU the
    server's processes, the database's and wrk itself used."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_SCRIPT)
    env = {**os.environ, "BENCH_BODY": body, "BENCH_TOKEN": token, "BENCH_RUN": run}
    cpu0 = (cpu_seconds(list(server)), cpu_seconds(list(database)), _children_cpu())
    try:
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds:g}s", "--timeout", "10s",
                              "-s", str(script), url], capture_output=True, text=True, env=env, timeout=seconds + 60)
    finally:
        script.unlink()
    cpu = [after - before for after, before in
           zip((cpu_seconds(list(server)), cpu_seconds(list(database)), _children_cpu()), cpu0, strict=True)]
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    count, duration_us, p50, p99, bad_status, socket_errors = (int(x) for x in line.split()[1:])
    return {"requests": count, "rate": count / (duration_us / 1e6), "p50_ms": p50 / 1000, "p99_ms": p99 / 1000,
            "bad": bad_status + socket_errors,
            "cpu_us": {"server": cpu[0] / count * 1e6, "database": cpu[1] / count * 1e6, "wrk": cpu[2] / count * 1e6},
            "busy": sum(cpu) / (duration_us / 1e6) / (os.cpu_count() or 1)}


async def _steady(url: str, body: str, token: str, rate: float, seconds: float) -> list[float]:
    import aiohttp

    latencies: list[float] = []
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter() + 0.2
        total = int(rate * seconds)

        async def one(i: int) -> None:
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            data = body.replace("@ID@", f"steady-{os.getpid()}-{i:07d}-{time.time_ns()}")
            async with session.post(url, data=data, headers=headers) as resp:
                await resp.read()
                if resp.status not in (200, 201):
                    raise RuntimeError(f"HTTP {resp.status}")
            latencies.append((time.perf_counter() - scheduled) * 1000)

        await asyncio.gather(*(one(i) for i in range(total)))
    return latencies


def steady(url: str, body: str, token: str, rate: float = 500, seconds: float = 8, hub: Hub | None = None) -> dict:
    """p50/p99 at `rate`, after the page cache is written back; for a hub, its flushes by length."""
    started = time.perf_counter()
    os.sync()
    synced = time.perf_counter() - started
    before = hub.stats()["ingest"] if hub else None
    latencies = asyncio.run(_steady(url, body, token, rate, seconds))
    latencies.sort()
    out = {"p50_ms": statistics.median(latencies), "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
           "max_ms": latencies[-1], "sync_s": synced}
    if hub:
        after = hub.stats()["ingest"]
        out["slow_flushes"] = {ms: after["over_ms"][ms] - before["over_ms"][ms] for ms in after["over_ms"]}
        out["flushes"] = after["batches"] - before["batches"]
    return out


class Hook:
    """A webhook receiver that remembers when each notification arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, dict]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.arrivals.append((time.perf_counter(), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


class Hub:
    def __init__(self, workdir: Path, database: str, hook_url: str, group_wait_s: float) -> None:
        self.home = workdir
        self.port = free_port()
        self.config = workdir / "hub.toml"
        self.config.write_text(textwrap.dedent(f"""\
            [hub]
            listen = "127.0.0.1:{self.port}"
            database = "{database}"
            group_wait_s = {group_wait_s}
            group_interval_s = 600
            detect_min_laptops = 1000000
            [notify]
            webhook_url = "{hook_url}"
        """))
        self.env = {**os.environ, "MAILBEACON_HOME": str(workdir)}
        self.url = f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "app", "hub", *args, "--config", str(self.config)],
                              capture_output=True, text=True, env=self.env, check=True).stdout

    def start(self) -> Hub:
        self.cli("migrate")
        self.laptop_token = self.cli("token", "create", "bench").strip().splitlines()[-1]
        self.admin_token = self.cli("token", "create", "bench-admin", "--admin").strip().splitlines()[-1]
        self.log = (self.home / "hub.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "app", "hub", "serve", "--config", str(self.config)],
                                     env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_http(self.url + "/healthz")
        return self

    def stats(self) -> dict:
        return httpx.get(self.url + "/api/v1/stats", headers={"Authorization": f"Bearer {self.admin_token}"}).json()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


class Alertmanager:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir
        (workdir / "am.yml").write_text("route:\n  receiver: none\n  group_wait: 30s\nreceivers:\n  - name: none\n")
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> Alertmanager:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        self.log = (self.dir / "am.log").open("wb")
        self.proc = subprocess.Popen([binary, f"--config.file={self.dir / 'am.yml'}", f"--storage.path={self.dir / 'data'}",
                                      f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_http(self.url + "/-/ready")
        return self

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()


BARE_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = b'{"id":"x","stored":"new"}'
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
"""


class BareUvicorn:
    """The ceiling of the hub's stack on this machine: uvicorn (uvloop, httptools, as `serve`
    runs it) with an ASGI app that reads the body and answers 201 and does nothing else."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "bare"
        self.dir.mkdir()
        (self.dir / "bare_app.py").write_text(BARE_APP)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> BareUvicorn:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", f"import uvicorn; uvicorn.run('bare_app:app', host='127.0.0.1', port={self.port}, "
             "loop='uvloop', http='httptools', access_log=False, log_level='warning', server_header=False)"],
            cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(self.url + "/")
        return self

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def first_notification(hub: Hub, hook: Hook, group_wait_s: float) -> float:
    """Seconds from a new outage's first state event to IT's webhook receiving its notification."""
    before = len(hook.arrivals)
    event = json.loads(state_body().replace("@ID@", f"first-{time.time_ns()}"))
    event["failing"] = [{"kind": "imap", "target": f"new-{time.time_ns()}:993", "code": "refused"}]
    started = time.perf_counter()
    httpx.post(hub.url + "/api/v1/state", json=event, headers={"Authorization": f"Bearer {hub.laptop_token}"})
    deadline = started + group_wait_s + 30
    while time.perf_counter() < deadline:
        for at, body in hook.arrivals[before:]:
            if body["group"]["failing"] == event["failing"]:
                return at - started
        time.sleep(0.01)
    return float("nan")


def wait_grouped(hub: Hub, timeout: float = 300) -> float:
    """Seconds until every stored report and state event has been grouped."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if not any(hub.stats()["ungrouped"].values()):
            return time.perf_counter() - started
        time.sleep(0.2)
    raise RuntimeError("the hub did not finish grouping")


def breakdown(before: dict, after: dict) -> dict[str, float]:
    """Mean microseconds per request for each step, from the hub's counters."""
    a, b = after["ingest"], before["ingest"]
    n = max(1, a["requests"] - b["requests"])
    steps = ("read", "auth", "parse", "validate", "database", "respond")
    out = {s: (a[s] - b[s]) / n * 1e6 for s in steps}
    batches = max(1, a["batches"] - b["batches"])
    out["rows_per_commit"] = (a["batched_rows"] - b["batched_rows"]) / batches
    out["commit_ms"] = (a["commit"] - b["commit"]) / batches * 1000
    out["over_50ms"] = a["over_ms"]["50"] - b["over_ms"]["50"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="length of each wrk run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--group-wait", type=float, default=2.0)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    for tool in ("wrk", "prometheus-alertmanager"):
        if not shutil.which(tool):
            print(f"needs {tool} (Debian packages wrk and prometheus-alertmanager)", file=sys.stderr)
            return 69
    work = Path(tempfile.mkdtemp(prefix="mb-hub-bench-"))
    os.chmod(work, 0o755)
    hook = Hook()
    rows: list[tuple[str, dict]] = []
    notes: list[str] = []
    cluster = None
    try:
        am_dir = work / "am"
        am_dir.mkdir()
        references = [("Alertmanager alerts", lambda: Alertmanager(am_dir), "/api/v2/alerts", alert_body(), "", "am"),
                      ("uvicorn, empty ASGI app", lambda: BareUvicorn(work), "/api/v1/reports", report_body(), "x", "bare")]
        for label, make, path, body, token, run in references:
            server = make().start()
            try:
                measured = run_wrk(server.url + path, body, token, args.seconds, args.concurrency, run,
                                   server=[server.proc.pid])
                rows.append((label, {**measured, "steady": steady(server.url + path, body, token)}))
            finally:
                server.stop()
        backends = [("SQLite", "")]
        if not args.no_postgres:
            cluster = PostgresCluster().start()
            backends.append(("PostgreSQL", cluster.new_database()))
        for label, database in backends:
            home = work / label.lower()
            home.mkdir()
            hub = Hub(home, database, hook.url, args.group_wait).start()
            pids = {"server": [hub.proc.pid], "database": [cluster.proc.pid] if database else []}
            try:
                s0 = hub.stats()
                reports = run_wrk(hub.url + "/api/v1/reports", report_body(), hub.laptop_token, args.seconds,
                                  args.concurrency, f"r{label}", **pids)
                s1 = hub.stats()
                states = run_wrk(hub.url + "/api/v1/state", state_body(), hub.laptop_token, args.seconds,
                                 args.concurrency, f"s{label}", **pids)
                s2 = hub.stats()
                backlog = sum(s2["ungrouped"].values())
                caught_up = wait_grouped(hub)  # the steady run measures a hub that is not catching up
                journal_left = s2["ungrouped"].get("journal_bytes", 0)
                notes.append(f"hub {label}: loading and grouping caught up with what was left after the two runs "
                             f"({backlog - journal_left:,} events stored but not grouped, {journal_left / 1e6:.1f} MB of journal "
                             f"not loaded) in {caught_up:.1f} s")
                rows.append((f"hub {label} reports", {**reports, "steady": steady(hub.url + "/api/v1/reports", report_body(), hub.laptop_token, hub=hub),
                                                      "split": breakdown(s0, s1)}))
                rows.append((f"hub {label} states", {**states, "split": breakdown(s1, s2)}))
                time.sleep(2)
                delays = [first_notification(hub, hook, args.group_wait) for _ in range(3)]
                notes.append(f"hub {label}: first notification of a new group after "
                             + ", ".join(f"{d:.2f}" for d in delays) + f" s (group_wait_s = {args.group_wait:g}; goal ≤ {args.group_wait + 1:g} s)")
            finally:
                hub.stop()
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)

    am_rate = rows[0][1]["rate"]
    print(f"\n{args.seconds:g} s per run, concurrency {args.concurrency}, wrk on loopback, {os.cpu_count()} cores\n")
    print(f"{'':26} {'requests':>8} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'p99 @500/s':>11} {'errors':>6}")
    for label, r in rows:
        steady_p99 = f"{r['steady']['p99_ms']:.1f}" if "steady" in r else "-"
        print(f"{label:26} {r['requests']:8d} {r['rate']:8.0f} {r['rate'] / am_rate:6.2f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} "
              f"{steady_p99:>11} {r['bad']:6d}")
    hub_rows = {label: r for label, r in rows if label.startswith("hub")}
    for backend in ("SQLite", "PostgreSQL"):
        rep, st = hub_rows.get(f"hub {backend} reports"), hub_rows.get(f"hub {backend} states")
        if rep and st:
            mixed = 2 / (1 / rep["rate"] + 1 / st["rate"])
            print(f"hub {backend}: reports+state at an even mix ≈ {mixed:.0f}/s (goal ≥ 2000/s)")
    print("\nwhere a hub request's time goes (mean µs per request, measured inside the hub):")
    print(f"{'':26} {'read':>6} {'token':>6} {'parse':>6} {'valid.':>6} {'journal':>8} {'respond':>8} {'rows/flush':>12} "
          f"{'flush ms':>10} {'> 50 ms':>8}")
    for label, r in rows:
        if "split" in r:
            s = r["split"]
            print(f"{label:26} {s['read']:6.0f} {s['auth']:6.0f} {s['parse']:6.0f} {s['validate']:6.0f} {s['database']:8.0f} "
                  f"{s['respond']:8.0f} {s['rows_per_commit']:12.1f} {s['commit_ms']:10.2f} {s['over_50ms']:8d}")
    print("(journal: the wait for the flush of a request's row to disk; a flush also asks the database which of its rows "
          "it already has;\n > 50 ms: flushes that took longer; the rest of each request's latency is uvicorn, the event loop "
          "and the kernel, and the wait for CPU)")
    print("\nthe steady 500 reports/s runs (each after a sync that took the time shown):")
    for label, r in rows:
        if "steady" in r:
            st = r["steady"]
            line = f"  {label:26} p50 {st['p50_ms']:5.1f} ms, p99 {st['p99_ms']:6.1f} ms, slowest {st['max_ms']:7.1f} ms; sync {st['sync_s']:4.1f} s"
            if "slow_flushes" in st:
                over = st["slow_flushes"]
                line += (f"; of {st['flushes']} flushes, {over['50']} took over 50 ms, {over['100']} over 100 ms, "
                         f"{over['500']} over 500 ms")
            print(line)
    print(f"\nCPU per request during each run (µs; this machine has {os.cpu_count()} cores):")
    print(f"{'':26} {'server':>8} {'database':>9} {'wrk':>6} {'total':>7} {'cores busy':>11}")
    for label, r in rows:
        c = r["cpu_us"]
        print(f"{label:26} {c['server']:8.0f} {c['database']:9.0f} {c['wrk']:6.0f} {sum(c.values()):7.0f} {r['busy'] * 100:10.0f}%")
    print("(server: every process of the server, for the hub the one answering requests and its background process; "
          "database: PostgreSQL's processes; SQLite runs inside the hub's)")
    bare_rate = next((r["rate"] for label, r in rows if label.startswith("uvicorn")), None)
    if bare_rate:
        print(f"the hub's stack without the hub (uvicorn, an empty app) reaches {bare_rate / am_rate:.2f}x Alertmanager here; "
              "the hub rows divided by it are what storage, validation and grouping cost:")
        for label, r in rows:
            if label.startswith("hub"):
                print(f"  {label:26} {r['rate'] / bare_rate:5.2f} of the empty app")
    print()
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
