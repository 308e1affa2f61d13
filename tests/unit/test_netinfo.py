"""Parsing the facts about this computer's network from each platform's sources."""

from __future__ import annotations

import json

from app.diagnosis import netinfo

PROC_ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t010010AC\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t000010AC\t00000000\t0001\t0\t0\t100\t0000FFFF\t0\t0\t0
"""

PROC_IPV6_ROUTE = (
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000001 00200200 lo\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n"
)

ROUTE_PRINT = """===========================================================================
IPv4 Route Table
===========================================================================
Active Routes:
Network Destination        Netmask          Gateway       Interface  Metric
          0.0.0.0          0.0.0.0      192.168.0.1    192.168.0.42     25
        127.0.0.0        255.0.0.0         On-link         127.0.0.1    331
===========================================================================
"""

NETSTAT_RN = """Routing tables

Internet:
Destination        Gateway            Flags           Netif Expire
default            link#17            UCSIg           utun3
default            10.0.1.1           UGScg             en0
127                127.0.0.1          UCS               lo0
"""


def test_proc_route_takes_the_lowest_metric_default():
    assert netinfo.parse_proc_route(PROC_ROUTE) == "172.16.0.1"


def test_proc_route_without_default():
    assert netinfo.parse_proc_route(PROC_ROUTE.splitlines()[0] + "\n") is None
    assert netinfo.parse_proc_route("") is None


def test_proc_ipv6_route_skips_loopback():
    assert netinfo.parse_proc_ipv6_route(PROC_IPV6_ROUTE) == "fe80::1"


def test_windows_route_print():
    assert netinfo.parse_route_print(ROUTE_PRINT) == "192.168.0.1"
    assert netinfo.parse_route_print("nothing here") is None


def test_macos_netstat_skips_link_rows():
    assert netinfo.parse_netstat_rn(NETSTAT_RN) == "10.0.1.1"


def test_resolv_conf():
    text = "# generated\nsearch corp.example\nnameserver 10.0.0.53\nnameserver  fd00::53\nnameserver bogus\noptions edns0\n"
    assert netinfo.parse_resolv_conf(text) == ["10.0.0.53", "fd00::53"]


def test_proxy_credentials_never_leak():
    proxy = netinfo.system_proxy({"http": "http://alice:s3cret@proxy.corp:3128", "https": "http://proxy.corp:3128"})
    assert proxy == {"http": "http://proxy.corp:3128", "https": "http://proxy.corp:3128"}
    assert "s3cret" not in json.dumps(proxy)


def test_no_proxy_alone_means_no_proxy():
    assert netinfo.system_proxy({}) is None
    assert netinfo.system_proxy({"no": "*"}) is None
    assert netinfo.system_proxy({"http": "http://p:8080", "no": "localhost"}) == {
        "http": "http://p:8080", "no": "localhost"}


def test_vpn_suspected_only_when_up():
    up = [{"name": "utun3", "is_up": True, "addresses": ["10.8.0.2"]}]
    down = [{"name": "tun0", "is_up": False, "addresses": []},
            {"name": "eth0", "is_up": True, "addresses": ["10.0.0.2"]}]
    assert netinfo.vpn_suspected(up) is True
    assert netinfo.vpn_suspected(down) is False


def test_usable_addresses_skip_link_local_and_loopback():
    iface = {"name": "eth0", "is_up": True, "addresses": ["169.254.1.1", "fe80::1", "10.0.0.5", "127.0.0.1"]}
    assert netinfo.usable_addresses(iface) == ["10.0.0.5"]
    assert netinfo.is_loopback({"name": "lo", "is_up": True, "addresses": []})
    assert not netinfo.is_loopback(iface)


def test_network_facts_shape_on_this_machine():
    facts = netinfo.network_facts()
    assert set(facts) == {"interfaces", "default_gateway", "dns_servers", "proxy", "vpn_suspected"}
    for iface in facts["interfaces"]:
        assert set(iface) == {"name", "is_up", "addresses"}
        assert isinstance(iface["is_up"], bool)
        assert all("%" not in a for a in iface["addresses"])
    assert facts["default_gateway"] is None or isinstance(facts["default_gateway"], str)
    assert isinstance(facts["dns_servers"], list)
    assert isinstance(facts["vpn_suspected"], bool)
    json.dumps(facts)  # goes into the report as is


def test_default_gateway_on_other_platforms_is_best_effort(monkeypatch):
    monkeypatch.setattr(netinfo, "_run", lambda argv, timeout: NETSTAT_RN)
    assert netinfo.default_gateway(platform="darwin") == "10.0.1.1"
    monkeypatch.setattr(netinfo, "_run", lambda argv, timeout: ROUTE_PRINT)
    assert netinfo.default_gateway(platform="win32") == "192.168.0.1"

    def broken(argv, timeout):
        raise FileNotFoundError("route")

    monkeypatch.setattr(netinfo, "_run", broken)
    assert netinfo.default_gateway(platform="win32") is None
