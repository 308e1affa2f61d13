"""Prints what the one HTTP client and discovery cost on loopback, each beside a reference
measured in the same run: the internet probe through app.httpio against a bare http.client GET
of the same URL, and `discover()` per source against one DNS query to the same name server.
Needs the test extras (dnslib, trustme) and root (the web hosts listen on 443/80).

    python benchmarks/discovery.py [--runs 20]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import config as config_mod  # noqa: E402
from app.diagnosis.probes import internet  # noqa: E402
from app.diagnosis.probes.base import Deadline, ProbeContext  # noqa: E402
from app.discovery import discover  # noqa: E402
from tests.servers.certs import make_certs  # noqa: E402
from tests.servers.http import HttpServer  # noqa: E402
from tests.servers.mailworld import MailWorld, fixture  # noqa: E402


def _median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _load(path: Path, text: str):
    path.write_text(text)
    return config_mod.load(path, system_file=None, policy_file=None, env={}, registry=False)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    tmp = Path(tempfile.mkdtemp(prefix="mb-bench-"))
    rows: list[tuple[str, float, str, float]] = []

    with HttpServer() as web:
        web.route("/generate_204", status=204)
        cfg = _load(tmp / "internet.toml", f'[network]\ninternet_url = "{web.url("/generate_204")}"\n')

        def probe() -> None:
            internet.probe(ProbeContext(config=cfg, deadline=Deadline(5)), None)

        def bare() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=5)
            conn.request("GET", "/generate_204")
            conn.getresponse().read()
            conn.close()

        rows.append(("internet probe (httpio)", _median_ms(probe, runs), "bare http.client GET", _median_ms(bare, runs)))

    world = MailWorld(make_certs(tmp / "certs"))
    try:
        world.host("autoconfig.ac.example").https.route("/mail/config-v1.1.xml", status=200,
                                                          body=fixture("autoconfig_corp.xml"))
        world.host("ad.example").https.route("/autodiscover/autodiscover.xml", status=200,
                                             body=fixture("autodiscover_settings.xml"))
        world.zone("_imaps._tcp.srv.example. 60 IN SRV 0 1 993 imap.srv.example.\n"
                   "_submission._tcp.srv.example. 60 IN SRV 0 1 587 smtp.srv.example.\n"
                   "mx.example. 60 IN MX 0 mx-example.mail.protection.outlook.com.")
        cfg = _load(tmp / "world.toml", world.config_text())
        import dns.resolver

        from app.diagnosis.net import make_resolver

        resolver = make_resolver(cfg)

        def one_query() -> None:
            try:
                resolver.resolve("nothing.example", "A", lifetime=2)
            except dns.resolver.NXDOMAIN:
                pass

        reference = _median_ms(one_query, runs)
        for address, source in (("jo@ac.example", "autoconfig"), ("jo@ad.example", "autodiscover"),
                                ("jo@srv.example", "srv"), ("jo@mx.example", "mx")):
            result = discover(address, cfg)
            assert result.source == source, (address, result.source, result.tried)
            attempts = len(result.tried)
            ms = _median_ms(lambda a=address: discover(a, cfg), max(3, runs // 4))
            rows.append((f"discover via {source} ({attempts} attempts)", ms, "one DNS query (NXDOMAIN)", reference))
    finally:
        world.stop()

    print(f"{'measured':40} {'median ms':>10}   {'reference':28} {'median ms':>10}")
    for name, ms, ref_name, ref_ms in rows:
        print(f"{name:40} {ms:10.1f}   {ref_name:28} {ref_ms:10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
