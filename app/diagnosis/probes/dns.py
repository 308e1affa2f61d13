"""The dns layer: can the resolver itself (configured nameservers, else the system's) resolve
dns.control_name? Tells "the resolver is broken" from "the mail host's name is missing"."""

from __future__ import annotations

from app.diagnosis import net
from app.diagnosis.probes.base import Outcome, ProbeContext
from app.words import it


def probe(ctx: ProbeContext, endpoint: object = None) -> Outcome:
    name = ctx.config.control_name
    if not name:
        return Outcome("skipped", it.detail("dns", "off"))
    ctx.enter("dns")
    ctx.data["name"] = name
    configured = [f"{h}:{p}" if p != 53 else h for h, p in ctx.config.nameservers()]
    ctx.data["resolver"] = "configured" if configured else "system"
    if configured:
        ctx.data["nameservers"] = configured
    addresses = net.resolve(ctx, name)
    found = ", ".join(addresses[:3])
    if configured:
        servers = ", ".join(configured)
        return Outcome(
            "ok", it.detail("dns", "ok_configured", name=name, addresses=found, nameservers=servers)
        )
    return Outcome("ok", it.detail("dns", "ok_system", name=name, addresses=found))
