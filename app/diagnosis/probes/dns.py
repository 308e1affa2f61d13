"""The dns layer: can the resolver itself (configured nameservers, else the system's) resolve
dns.control_name? Tells "the resolver is broken" from "the mail host's name is missing"."""

from __future__ import annotations

from app.diagnosis import net
from app.diagnosis.probes.base import Outcome, ProbeContext


def probe(ctx: ProbeContext, endpoint: object = None) -> Outcome:
    name = ctx.config.control_name
    if not name:
        return Outcome("skipped", "No control name to look up (dns.control_name is empty).")
    ctx.enter("dns")
    ctx.data["name"] = name
    configured = [f"{h}:{p}" if p != 53 else h for h, p in ctx.config.nameservers()]
    ctx.data["resolver"] = "configured" if configured else "system"
    if configured:
        ctx.data["nameservers"] = configured
    addresses = net.resolve(ctx, name)
    via = f"the name servers {', '.join(configured)}" if configured else "this computer's resolver"
    return Outcome("ok", f"{name} resolved to {', '.join(addresses[:3])} through {via}.")
