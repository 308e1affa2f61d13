"""Facts about this computer's network (interfaces, gateway, DNS servers, proxy, VPN), shared by
the link probe and the report to IT. Every part is best effort: a fact that cannot be read is
null or empty, never an error."""

from __future__ import annotations

import ipaddress
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from app.proxy import without_credentials

# interface name prefixes that VPN clients create (OpenVPN, WireGuard, macOS utun, PPP/L2TP,
# IPsec, and the common mesh VPNs)
VPN_PREFIXES = ("tun", "tap", "wg", "utun", "ppp", "ipsec", "tailscale", "nordlynx", "zt", "gpd")

_LOOPBACK_NAMES = ("lo", "lo0")


def network_facts(timeout: float = 2.0, interfaces: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """{"interfaces", "default_gateway", "dns_servers", "proxy", "vpn_suspected"} (SPEC 5)."""
    if interfaces is None:
        interfaces = list_interfaces()
    return {
        "interfaces": interfaces,
        "default_gateway": default_gateway(timeout),
        "dns_servers": dns_servers(),
        "proxy": system_proxy(),
        "vpn_suspected": vpn_suspected(interfaces),
    }


def list_interfaces() -> list[dict[str, Any]]:
    """[{name, is_up, addresses}] for every interface, addresses being IPv4/IPv6 only."""
    from app.ifaces import list_interfaces as read

    try:
        return read()
    except OSError:
        return []


def is_loopback(interface: dict[str, Any]) -> bool:
    if interface["name"] in _LOOPBACK_NAMES or interface["name"].lower().startswith("loopback"):
        return True
    parsed = [_address(a) for a in interface["addresses"]]
    return bool(parsed) and all(a is not None and a.is_loopback for a in parsed)


def usable_addresses(interface: dict[str, Any]) -> list[str]:
    """Addresses that can reach beyond the link: not loopback, not link-local (169.254/fe80::,
    which is what a machine gives itself when DHCP never answered)."""
    usable = []
    for text in interface["addresses"]:
        addr = _address(text)
        if addr is not None and not (addr.is_loopback or addr.is_link_local or addr.is_unspecified):
            usable.append(text)
    return usable


def connected_interfaces(interfaces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Interfaces other than loopback that are up and have a usable address."""
    return [i for i in interfaces if i["is_up"] and not is_loopback(i) and usable_addresses(i)]


def vpn_suspected(interfaces: list[dict[str, Any]]) -> bool:
    return any(
        i["is_up"] and i["name"].lower().startswith(VPN_PREFIXES) for i in interfaces
    )


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


# ---------------------------------------------------------------- default gateway


def default_gateway(timeout: float = 2.0, platform: str = sys.platform) -> str | None:
    try:
        if platform.startswith("linux"):
            gw = parse_proc_route(_read("/proc/net/route"))
            return gw or parse_proc_ipv6_route(_read("/proc/net/ipv6_route"))
        if platform == "win32":
            return parse_route_print(_run(["route", "print", "-4"], timeout)) or parse_route_print(
                _run(["route", "print", "-6"], timeout)
            )
        return parse_netstat_rn(_run(["netstat", "-rn"], timeout))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""


def _run(argv: list[str], timeout: float) -> str:
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False,
        creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
    )
    return done.stdout


def parse_proc_route(text: str) -> str | None:
    """The gateway of the default route with the lowest metric in Linux /proc/net/route."""
    best: tuple[int, str] | None = None
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 7 or cols[1] != "00000000":
            continue
        flags = int(cols[3], 16)
        if not flags & 0x1 or not flags & 0x2:  # RTF_UP and RTF_GATEWAY
            continue
        # the kernel prints the address as host-order hex of a little-endian u32
        gateway = socket.inet_ntoa(int(cols[2], 16).to_bytes(4, "little"))
        metric = int(cols[6])
        if best is None or metric < best[0]:
            best = (metric, gateway)
    return best[1] if best else None


def parse_proc_ipv6_route(text: str) -> str | None:
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 10 or cols[0] != "0" * 32 or cols[1] != "00":
            continue
        if cols[4] == "0" * 32 or cols[9] == "lo":
            continue
        return str(ipaddress.IPv6Address(bytes.fromhex(cols[4])))
    return None


def parse_route_print(text: str) -> str | None:
    """Windows `route print`: the first active route to 0.0.0.0/0 (or ::/0) that has a gateway."""
    for line in text.splitlines():
        cols = line.split()
        if len(cols) >= 5 and cols[0] == "0.0.0.0" and cols[1] == "0.0.0.0":
            if _address(cols[2]) is not None:
                return cols[2]
        # IPv6 rows: If Metric Network Gateway
        if len(cols) >= 4 and cols[2] == "::/0" and _address(cols[3]) is not None:
            return cols[3]
    return None


def parse_netstat_rn(text: str) -> str | None:
    """macOS/BSD `netstat -rn`: the gateway of the first "default" row that is an address."""
    for line in text.splitlines():
        cols = line.split()
        if len(cols) >= 2 and cols[0] in ("default", "0.0.0.0", "0.0.0.0/0"):
            if _address(cols[1]) is not None:
                return cols[1].split("%", 1)[0]
    return None


# ---------------------------------------------------------------- DNS servers and proxy


def dns_servers(platform: str = sys.platform) -> list[str]:
    if platform == "win32":
        try:
            import dns.resolver

            return [str(n) for n in dns.resolver.Resolver().nameservers]
        except Exception:  # dnspython raises its own errors when the registry is odd
            return []
    servers = parse_resolv_conf(_read("/etc/resolv.conf"))
    # systemd-resolved's stub (127.0.0.53) hides the servers IT wants to see: add the upstream ones
    if servers and all(s.startswith("127.0.0.5") for s in servers):
        for upstream in parse_resolv_conf(_read("/run/systemd/resolve/resolv.conf")):
            if upstream not in servers:
                servers.append(upstream)
    return servers


def parse_resolv_conf(text: str) -> list[str]:
    servers: list[str] = []
    for line in text.splitlines():
        match = re.match(r"^\s*nameserver\s+(\S+)", line)
        if match and _address(match.group(1)) is not None and match.group(1) not in servers:
            servers.append(match.group(1))
    return servers


def system_proxy(proxies: dict[str, str] | None = None) -> dict[str, str] | None:
    """The proxies the system sets ({"http": url, ...}), credentials removed; None when none."""
    if proxies is None:
        try:
            proxies = urllib.request.getproxies()
        except Exception:  # macOS/Windows readers can fail on odd settings
            return None
    cleaned = {scheme: without_credentials(url) for scheme, url in sorted(proxies.items()) if url}
    # a bypass list alone ("no") means no proxy is in use
    return cleaned if set(cleaned) - {"no"} else None
