"""app.ifaces reads the interfaces as psutil does (the oracle here), on this machine and in a
network namespace made for the test, without loading psutil on Linux."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app import ifaces
from tests.integration.test_netns import scratch_namespace

ROOT = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="getifaddrs is read on Linux")

COMPARE = (
    "import json, sys\n"
    "from app import ifaces\n"
    "ours = ifaces.list_interfaces()\n"
    "loaded = 'psutil' in sys.modules\n"
    "oracle = [{'name': n, 'is_up': u, 'addresses': a} for n, (u, a) in sorted(ifaces._psutil().items())]\n"
    "print(json.dumps({'ours': ours, 'oracle': oracle, 'psutil_before_oracle': loaded}))\n"
)


def compare(*prefix: str) -> dict:
    done = subprocess.run([*prefix, sys.executable, "-c", COMPARE], capture_output=True, text=True,
                          timeout=30, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@linux_only
def test_this_machine_reads_as_psutil_reads_it_without_psutil():
    result = compare()
    assert result["ours"] == result["oracle"]
    assert any(i["name"] == "lo" and "127.0.0.1" in i["addresses"] for i in result["ours"])
    assert result["psutil_before_oracle"] is False


@linux_only
@pytest.mark.netns
def test_a_namespace_with_addresses_of_both_families_and_a_link_down():
    with scratch_namespace("mbi") as ns:
        up, down = f"mbu{ns[4:10]}", f"mbd{ns[4:10]}"
        for cmd in (["link", "set", "lo", "up"],
                    ["link", "add", up, "type", "veth", "peer", "name", up + "p"],
                    ["link", "add", down, "type", "veth", "peer", "name", down + "p"],
                    ["addr", "add", "10.251.7.1/24", "dev", up],
                    ["addr", "add", "10.251.8.1/24", "dev", up],  # a second address
                    ["addr", "add", "2001:db8:7::1/64", "dev", up, "nodad"],
                    ["addr", "add", "10.251.9.1/24", "dev", down],
                    ["link", "set", up + "p", "up"], ["link", "set", up, "up"]):
            subprocess.run(["ip", "-n", ns, *cmd], check=True, timeout=10)
        result = compare("ip", "netns", "exec", ns)
    assert result["ours"] == result["oracle"]
    by_name = {i["name"]: i for i in result["ours"]}
    assert by_name[up]["is_up"] is True and by_name[down]["is_up"] is False
    assert {"10.251.7.1", "10.251.8.1", "2001:db8:7::1"} <= set(by_name[up]["addresses"])
    assert by_name[down]["addresses"] == ["10.251.9.1"]
    assert by_name[up + "p"]["addresses"] == [] or all(":" in a for a in by_name[up + "p"]["addresses"])


def test_the_list_is_sorted_and_well_formed():
    rows = ifaces.list_interfaces()
    assert [r["name"] for r in rows] == sorted(r["name"] for r in rows)
    for row in rows:
        assert isinstance(row["is_up"], bool)
        assert all("%" not in a for a in row["addresses"])


def test_reading_on_every_tick_does_not_grow_the_process():
    """The tray reads the interfaces on every tick: a per-call ctypes type (which ctypes keeps
    forever) grew the tray by ~10 kB a read."""
    import gc
    import tracemalloc

    ifaces.list_interfaces()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(1000):
            ifaces.list_interfaces()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, grown
