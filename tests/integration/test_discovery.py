"""Discovery against a mail internet on loopback: dnslib for A/SRV/MX/NXDOMAIN and HTTPS/HTTP
hosts on 443/80 serving autoconfig documents shaped like ISPDB's and Exchange POX answers."""

from __future__ import annotations

import time

import pytest

from app.discovery import discover
from app.errors import UsageError
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.http import Request, Response
from tests.servers.mailworld import fixture, world  # noqa: F401  (fixture)

AUTOCONFIG = "/mail/config-v1.1.xml"
WELL_KNOWN = "/.well-known/autoconfig/mail/config-v1.1.xml"
AUTODISCOVER = "/autodiscover/autodiscover.xml"


def _results(result):
    return [(t["source"], t["result"]) for t in result.tried]


def test_autoconfig_finds_the_first_server_of_each_type(world, make_config):  # noqa: F811
    host = world.host("autoconfig.corp.example")
    host.https.route(AUTOCONFIG, status=200, body=fixture("autoconfig_corp.xml"),
                     headers={"Content-Type": "text/xml"})
    result = discover("jane.doe@corp.example", world.config(make_config))
    assert result.source == "autoconfig"
    assert [(e["kind"], e["host"], e["port"], e["tls"]) for e in result.endpoints] == [
        ("smtp", "smtp.corp.example", 587, "starttls"),
        ("imap", "imap.corp.example", 993, "implicit"),  # %EMAILDOMAIN% substituted
        ("pop3", "pop.corp.example", 995, "implicit"),
    ]
    assert result.endpoints[0]["name"] == "Outgoing mail"
    assert result.webmail_url == "https://webmail.corp.example/"
    [req] = host.https.requests
    assert req.path == f"{AUTOCONFIG}?emailaddress=jane.doe@corp.example"
    assert req.header("Host") == "autoconfig.corp.example"
    assert _results(result) == [("autoconfig", "found")]
    assert result.tried[0]["url"].startswith("https://autoconfig.corp.example/mail/config-v1.1.xml")
    doc = result.to_json()
    assert set(doc) == {"schema", "address", "domain", "source", "endpoints", "webmail_url", "tried"}
    assert doc["schema"] == 1 and doc["domain"] == "corp.example"


def test_well_known_on_the_domain_when_there_is_no_autoconfig_host(world, make_config):  # noqa: F811
    host = world.host("corp.example")
    host.https.route(WELL_KNOWN, status=200, body=fixture("autoconfig_corp.xml"))
    result = discover("corp.example", world.config(make_config))  # a bare domain works too
    assert result.source == "autoconfig" and result.address == ""
    assert result.tried[0]["result"] == "not_found" and "does not exist" in result.tried[0]["detail"]
    assert result.tried[1]["url"] == f"https://corp.example{WELL_KNOWN}"
    assert result.tried[1]["result"] == "found"


def test_plain_http_autoconfig_is_used_last_and_marked_insecure(world, make_config):  # noqa: F811
    host = world.host("autoconfig.corp.example", https=False)
    host.http.route(AUTOCONFIG, status=200, body=fixture("autoconfig_corp.xml"))
    result = discover("jane@corp.example", world.config(make_config))
    assert result.source == "autoconfig"
    assert [t["result"] for t in result.tried] == ["error", "not_found", "found"]
    assert result.tried[2]["url"].startswith("http://autoconfig.corp.example/")
    assert "insecure" in result.tried[2]["detail"]


def test_autodiscover_follows_redirect_addr_and_reads_protocols_and_owa(world, make_config):  # noqa: F811
    first = world.host("corp.example")
    first.https.route(AUTODISCOVER, status=200, body=fixture("autodiscover_redirect_addr.xml"))
    second = world.host("exch.example")
    second.https.route(AUTODISCOVER, status=200, body=fixture("autodiscover_settings.xml"))
    result = discover("jane@corp.example", world.config(make_config))
    assert result.source == "autodiscover"
    assert [(e["kind"], e["host"], e["port"], e["tls"]) for e in result.endpoints] == [
        ("smtp", "smtp.exch.example", 587, "starttls"),
        ("imap", "imap.exch.example", 993, "implicit"),
        ("pop3", "pop.exch.example", 110, "starttls"),
        ("https", "mail.exch.example", 443, "implicit"),
    ]
    assert result.endpoints[-1]["url"] == result.webmail_url == "https://mail.exch.example/owa/"
    asked = first.https.requests_to(AUTODISCOVER)[0]
    assert asked.method == "POST" and b"<EMailAddress>jane@corp.example</EMailAddress>" in asked.body
    assert b"<EMailAddress>jane@exch.example</EMailAddress>" in second.https.requests_to(AUTODISCOVER)[0].body
    assert ("autodiscover", "found") in _results(result)


def test_autodiscover_http_redirect_url_is_not_followed(world, make_config):  # noqa: F811
    trap = world.host("trap.example")
    trap.http.route(AUTODISCOVER, status=200, body=fixture("autodiscover_settings.xml"))
    first = world.host("autodiscover.corp.example")
    body = fixture("autodiscover_redirect_url.xml").replace(b"{url}", b"http://trap.example/autodiscover/autodiscover.xml")
    first.https.route(AUTODISCOVER, status=200, body=body)
    world.zone("_imaps._tcp.corp.example. 60 IN SRV 0 1 993 imap.corp.example.")
    result = discover("jane@corp.example", world.config(make_config))
    refused = [t for t in result.tried if "not an https URL" in t["detail"]]
    assert refused and refused[0]["result"] == "error" and refused[0]["source"] == "autodiscover"
    assert trap.http.requests == [] and trap.https.requests == []
    assert result.source == "srv"  # discovery moved on


def test_autodiscover_redirect_url_over_https_and_the_srv_named_host(world, make_config):  # noqa: F811
    final = world.host("ad.hosted.example")
    final.https.route("/ad/autodiscover.xml", status=200, body=fixture("autodiscover_settings.xml"))
    named = world.host("ews.corp.example")
    body = fixture("autodiscover_redirect_url.xml").replace(b"{url}", b"https://ad.hosted.example/ad/autodiscover.xml")
    named.https.route(AUTODISCOVER, status=200, body=body)
    world.zone("_autodiscover._tcp.corp.example. 60 IN SRV 0 0 443 ews.corp.example.")
    result = discover("jane@corp.example", world.config(make_config))
    assert result.source == "autodiscover"
    assert result.endpoints[0]["host"] == "smtp.exch.example"
    assert len(final.https.requests_to("/ad/autodiscover.xml")) == 1


def test_autodiscover_redirects_stop_at_ten(world, make_config):  # noqa: F811
    loop = world.host("corp.example")
    body = fixture("autodiscover_redirect_url.xml").replace(b"{url}", b"https://corp.example/autodiscover/autodiscover.xml")
    loop.https.route(AUTODISCOVER, status=200, body=body)
    result = discover("jane@corp.example", world.config(make_config))
    assert len(loop.https.requests_to(AUTODISCOVER)) == 11  # the first ask and ten redirects
    assert any("more than 10" in t["detail"] for t in result.tried)
    assert result.source == "none"


def test_srv_lowest_priority_then_highest_weight_and_dot_means_not_offered(world, make_config):  # noqa: F811
    world.zone("\n".join([
        "_submissions._tcp.corp.example. 60 IN SRV 0 0 0 .",
        "_submission._tcp.corp.example. 60 IN SRV 10 100 587 backup.corp.example.",
        "_submission._tcp.corp.example. 60 IN SRV 0 5 587 light.corp.example.",
        "_submission._tcp.corp.example. 60 IN SRV 0 20 2587 heavy.corp.example.",
        "_imaps._tcp.corp.example. 60 IN SRV 0 1 993 imap.corp.example.",
        "_imap._tcp.corp.example. 60 IN SRV 0 1 143 never-asked.corp.example.",
        "_pop3s._tcp.corp.example. 60 IN SRV 0 0 0 .",
        "_pop3._tcp.corp.example. 60 IN SRV 0 0 0 .",
    ]))
    result = discover("jane@corp.example", world.config(make_config))
    assert result.source == "srv"
    assert [(e["kind"], e["host"], e["port"], e["tls"]) for e in result.endpoints] == [
        ("smtp", "heavy.corp.example", 2587, "starttls"),
        ("imap", "imap.corp.example", 993, "implicit"),
    ]
    srv = {t["url"]: t for t in result.tried if t["source"] == "srv"}
    assert srv["SRV _submissions._tcp.corp.example"]["result"] == "not_found"
    assert "does not offer" in srv["SRV _pop3s._tcp.corp.example"]["detail"]
    assert "SRV _imap._tcp.corp.example" not in srv  # the implicit-TLS one was enough


@pytest.mark.parametrize(("mx", "provider", "expected"), [
    ("corp-example.mail.protection.outlook.com", "Microsoft 365", [
        ("smtp", "smtp.office365.com", 587, "starttls"), ("imap", "outlook.office365.com", 993, "implicit"),
        ("https", "outlook.office365.com", 443, "implicit")]),
    ("aspmx.l.google.com", "Google", [
        ("smtp", "smtp.gmail.com", 587, "starttls"), ("imap", "imap.gmail.com", 993, "implicit")]),
])
def test_mx_of_a_known_provider_is_mapped_not_contacted(world, make_config, mx, provider, expected):  # noqa: F811
    world.zone(f"corp.example. 60 IN MX 10 {mx}.\ncorp.example. 60 IN MX 20 backup.corp.example.")
    result = discover("jane@corp.example", world.config(make_config))
    assert result.source == "mx"
    assert [(e["kind"], e["host"], e["port"], e["tls"]) for e in result.endpoints] == expected
    assert provider in result.tried[-1]["detail"]
    if provider == "Microsoft 365":
        assert result.webmail_url == "https://outlook.office365.com/owa/"
    # mapped from the table: no name of the provider was even looked up
    asked = {name for name, _type in world.dns.queries}
    assert not any(name.endswith(("office365.com", "gmail.com", "google.com", "outlook.com")) for name in asked)


def test_mx_of_a_hosting_provider_falls_back_to_its_autoconfig(world, make_config):  # noqa: F811
    world.zone("corp.example. 60 IN MX 5 mx1.mailhost.example.")
    host = world.host("autoconfig.mailhost.example")
    host.https.route(AUTOCONFIG, status=200, body=fixture("autoconfig_hosted.xml"))
    result = discover("jane@corp.example", world.config(make_config))
    assert result.source == "mx"
    assert [(e["kind"], e["host"]) for e in result.endpoints] == [
        ("smtp", "smtp.mailhost.example"), ("imap", "imap.mailhost.example")]
    mx_tries = [t for t in result.tried if t["source"] == "mx"]
    assert "asking mailhost.example" in mx_tries[0]["detail"]
    assert mx_tries[-1]["url"].startswith("https://autoconfig.mailhost.example/") and mx_tries[-1]["result"] == "found"
    assert not any(t["url"].startswith("http://") for t in mx_tries)  # https only


def test_nothing_found_records_every_source(world, make_config):  # noqa: F811
    result = discover("jane@nowhere.example", world.config(make_config))
    assert result.source == "none" and result.endpoints == [] and not result.found
    assert {t["source"] for t in result.tried} == {"autoconfig", "autodiscover", "srv", "mx"}
    assert all(t["result"] in ("not_found", "error") for t in result.tried)
    assert all(t["detail"] for t in result.tried)


@pytest.mark.parametrize("text", ["", "jane", "@corp.example", "jane@", "ja ne@corp.example", "a@b@c"])
def test_input_that_is_no_address_is_a_usage_error(make_config, text):
    with pytest.raises(UsageError):
        discover(text, make_config(""))


# ---- hostile answers: a clear error in tried, and discovery moves on within its bound


def test_entity_bomb_and_external_entity_are_refused(world, make_config):  # noqa: F811
    world.host("autoconfig.corp.example").https.route(AUTOCONFIG, status=200, body=fixture("entity_bomb.xml"))
    world.host("corp.example").https.route(WELL_KNOWN, status=200, body=fixture("external_entity.xml"))
    world.zone("_submission._tcp.corp.example. 60 IN SRV 0 1 587 smtp.corp.example.")
    result = discover("jane@corp.example", world.config(make_config))
    first, second = result.tried[0], result.tried[1]
    assert first["result"] == second["result"] == "error"
    assert "DTD or entities" in first["detail"] and "DTD or entities" in second["detail"]
    assert result.source == "srv"


def test_a_50_mb_answer_is_cut_at_one_megabyte(world, make_config):  # noqa: F811
    host = world.host("autoconfig.corp.example")
    chunks = lambda: (b"<clientConfig>" + b" " * 65522 for _ in range(800))  # noqa: E731  (52 MB)
    host.https.route(AUTOCONFIG, Response(200, stream=chunks))
    host.http.route(AUTOCONFIG, Response(200, body=b"x" * 50_000_000))
    world.zone("_imaps._tcp.corp.example. 60 IN SRV 0 1 993 imap.corp.example.")
    result = discover("jane@corp.example", world.config(make_config, timeout_s=3))
    big = [t for t in result.tried if t["url"].startswith(("https://autoconfig.", "http://autoconfig."))]
    assert [t["result"] for t in big] == ["error", "error"]
    assert all("larger than 1 MB" in t["detail"] for t in big)
    assert result.source == "srv"


def test_a_tarpit_costs_one_timeout_and_discovery_moves_on(world, make_config):  # noqa: F811
    def tarpit(request: Request) -> Response:
        return Response(200, delay=30)

    host = world.host("autoconfig.corp.example", http=False)
    host.https.route(AUTOCONFIG, tarpit)
    world.zone("_imaps._tcp.corp.example. 60 IN SRV 0 1 993 imap.corp.example.")
    started = time.monotonic()
    result = discover("jane@corp.example", world.config(make_config, timeout_s=1))
    elapsed = time.monotonic() - started
    assert result.tried[0]["result"] == "error" and "did not answer in time" in result.tried[0]["detail"]
    assert result.source == "srv"
    assert elapsed < 3 * 1 + 1.5  # the whole discovery's bound, with a margin


def test_the_whole_run_stops_at_three_timeouts(world, make_config):  # noqa: F811
    def tarpit(request: Request) -> Response:
        return Response(200, delay=30)

    for name in ("autoconfig.corp.example", "corp.example", "autodiscover.corp.example"):
        host = world.host(name)
        for path in (AUTOCONFIG, WELL_KNOWN, AUTODISCOVER):
            host.https.route(path, tarpit)
            host.http.route(path, tarpit)
    started = time.monotonic()
    result = discover("jane@corp.example", world.config(make_config, timeout_s=1))
    elapsed = time.monotonic() - started
    assert elapsed < 3 * 1 + 1.5
    assert result.source == "none"
    assert any("ran out of time" in t["detail"] for t in result.tried)


def test_autodiscover_that_wants_a_password_is_an_error_not_a_login(world, make_config):  # noqa: F811
    host = world.host("autodiscover.corp.example")
    host.https.route(AUTODISCOVER, status=401, headers={"WWW-Authenticate": 'Basic realm="corp"'})
    result = discover("jane@corp.example", world.config(make_config))
    [asked] = [t for t in result.tried if t["url"] == f"https://autodiscover.corp.example{AUTODISCOVER}"]
    assert asked["result"] == "error" and "sign-in (HTTP 401)" in asked["detail"]
    assert all(r.header("Authorization") is None for r in host.https.requests)
    assert result.source == "none"
