"""The link probe: on this machine, on made-up interface lists, and in an empty network namespace."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.diagnosis import netinfo
from app.diagnosis.probes import link
from app.diagnosis.probes.base import Deadline, ProbeContext, ProbeFailure
from tests.integration.test_netns import scratch_namespace


def _ctx(make_config) -> ProbeContext:
    return ProbeContext(config=make_config(""), deadline=Deadline(3), phase="link")


def test_this_machine(make_config):
    ctx = _ctx(make_config)
    try:
        outcome = link.probe(ctx, None)
        code = outcome.code
    except ProbeFailure as exc:
        code = exc.code
    assert set(ctx.data) >= {"interfaces", "default_gateway", "dns_servers", "vpn_suspected"}
    assert ctx.phase in ("link", "link_facts")
    connected = netinfo.connected_interfaces(ctx.data["interfaces"])
    assert code == ("ok" if connected else "no_network")
    names = [i["name"] for i in ctx.data["interfaces"]]
    assert names == sorted(names) and len(names) >= 1


def _fake(monkeypatch, interfaces):
    monkeypatch.setattr(netinfo, "list_interfaces", lambda: interfaces)


def test_only_loopback_is_no_network(make_config, monkeypatch):
    _fake(monkeypatch, [{"name": "lo", "is_up": True, "addresses": ["127.0.0.1", "::1"]}])
    with pytest.raises(ProbeFailure) as info:
        link.probe(_ctx(make_config), None)
    assert info.value.code == "no_network"
    assert "not connected" in info.value.detail


def test_link_up_without_dhcp_address_is_no_network(make_config, monkeypatch):
    _fake(monkeypatch, [
        {"name": "lo", "is_up": True, "addresses": ["127.0.0.1"]},
        {"name": "eth0", "is_up": True, "addresses": ["169.254.10.3", "fe80::1"]},
    ])
    with pytest.raises(ProbeFailure) as info:
        link.probe(_ctx(make_config), None)
    assert info.value.code == "no_network"
    assert "eth0" in info.value.detail


def test_interface_down_with_address_is_no_network(make_config, monkeypatch):
    _fake(monkeypatch, [{"name": "wlan0", "is_up": False, "addresses": ["192.168.1.20"]}])
    with pytest.raises(ProbeFailure):
        link.probe(_ctx(make_config), None)


def test_connected_wifi_and_vpn(make_config, monkeypatch):
    _fake(monkeypatch, [
        {"name": "lo", "is_up": True, "addresses": ["127.0.0.1"]},
        {"name": "wlan0", "is_up": True, "addresses": ["192.168.1.20", "fe80::2"]},
        {"name": "wg0", "is_up": True, "addresses": ["10.8.0.2"]},
    ])
    ctx = _ctx(make_config)
    outcome = link.probe(ctx, None)
    assert outcome.code == "ok"
    assert "wlan0 (192.168.1.20)" in outcome.detail
    assert ctx.data["vpn_suspected"] is True


def test_ipv6_only_network_is_connected(make_config, monkeypatch):
    _fake(monkeypatch, [{"name": "en0", "is_up": True, "addresses": ["fe80::1", "2001:db8::20"]}])
    assert link.probe(_ctx(make_config), None).code == "ok"


@pytest.mark.netns
def test_empty_namespace_then_a_cable():
    script = (
        "import json; from app.config import defaults; from app.diagnosis.probes import link;"
        "from app.diagnosis.probes.base import *\n"
        "ctx = ProbeContext(defaults(), Deadline(3))\n"
        "try: code = link.probe(ctx, None).code\n"
        "except ProbeFailure as e: code = e.code\n"
        "print(json.dumps({'code': code, 'interfaces': ctx.data['interfaces']}))"
    )

    with scratch_namespace("mbl") as ns:
        dev = f"mbl{ns[4:10]}"

        def run() -> dict:
            done = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", script],
                                  capture_output=True, text=True, timeout=30, check=True)
            return json.loads(done.stdout)

        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True, timeout=10)
        assert run()["code"] == "no_network"
        for cmd in (["link", "add", dev, "type", "veth", "peer", "name", dev + "p"],
                    ["addr", "add", "10.250.9.1/24", "dev", dev],
                    ["link", "set", dev + "p", "up"], ["link", "set", dev, "up"]):
            subprocess.run(["ip", "-n", ns, *cmd], check=True, timeout=10)
        for _ in range(60):  # the carrier shows a moment after `link set up`
            result = run()
            if result["code"] == "ok":
                break
        assert result["code"] == "ok", result
        assert any("10.250.9.1" in i["addresses"] for i in result["interfaces"])


def test_slow_network_details_do_not_make_a_connected_computer_offline(make_config, monkeypatch):
    """A slow `route print` (Windows under load) must not turn into "not connected to any
    network": the device layer is decided by the interfaces, the gateway is only a fact."""
    import time

    from app.diagnosis.engine import diagnose

    _fake(monkeypatch, [{"name": "eth0", "is_up": True, "addresses": ["192.0.2.7"]}])
    monkeypatch.setattr(netinfo, "default_gateway", lambda timeout=2.0: time.sleep(3) or None)
    cfg = make_config('[network]\ninternet_url = ""\n[check]\ntimeout_s = 0.5\n')
    started = time.monotonic()
    result = diagnose(cfg)
    assert time.monotonic() - started < 1.5
    link_check = next(c for c in result.checks if c.kind == "link")
    assert (link_check.status, link_check.code) == ("ok", "ok"), link_check
    assert link_check.data["interfaces"][0]["name"] == "eth0"
    assert "in time" in link_check.detail
    assert result.layer != "device"
