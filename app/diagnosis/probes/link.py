"""The device layer: is any interface other than loopback up with an address that can reach
beyond the link? Records the network facts (interfaces, gateway, DNS servers, VPN) for IT."""

from __future__ import annotations

from app.diagnosis import netinfo
from app.diagnosis.probes.base import Outcome, ProbeContext, ProbeFailure
from app.words import it


def probe(ctx: ProbeContext, endpoint: object = None) -> Outcome:
    ctx.enter("link")
    interfaces = netinfo.list_interfaces()
    ctx.data["interfaces"] = interfaces
    connected = netinfo.connected_interfaces(interfaces)
    if connected:
        # the device layer is decided; running out of time reading the rest is not "offline"
        ctx.enter("link_facts")
    facts = netinfo.network_facts(timeout=ctx.deadline.timeout(cap=2.0), interfaces=interfaces)
    for key in ("default_gateway", "dns_servers", "vpn_suspected"):
        ctx.data[key] = facts[key]
    if not connected:
        up = [i["name"] for i in facts["interfaces"] if i["is_up"] and not netinfo.is_loopback(i)]
        if up:
            raise ProbeFailure(
                "no_network", it.detail("link", "no_address", interfaces=", ".join(up))
            )
        raise ProbeFailure("no_network", it.detail("link", "not_connected"))
    names = ", ".join(
        f"{i['name']} ({netinfo.usable_addresses(i)[0]})" for i in connected[:3]
    )
    gateway = (
        it.piece("gateway", gateway=facts["default_gateway"]) if facts["default_gateway"] else ""
    )
    vpn = it.piece("vpn") if facts["vpn_suspected"] else ""
    return Outcome("ok", it.detail("link", "ok", interfaces=names, gateway=gateway, vpn=vpn))
