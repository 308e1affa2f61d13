"""The verdict rules of SPEC section 4 as a table of layer outcomes."""

from __future__ import annotations

import pytest

from app.diagnosis.model import Check, status_of
from app.diagnosis.verdict import decide


def check(kind: str, code: str = "ok", target: str = "") -> Check:
    target = target or {"link": "this computer", "internet": "http://x/", "dns": "control.test"}.get(
        kind, f"{kind}.test:1"
    )
    cid = kind if kind in ("link", "internet", "dns") else f"{kind} {target}"
    return Check(id=cid, kind=kind, target=target, status=status_of(code), code=code, detail="")


BASE = [check("link"), check("internet"), check("dns")]

CASES = [
    # (description, checks, verdict, layer)
    ("everything fine", [*BASE, check("smtp"), check("imap")], "ok", "none"),
    ("no endpoints", BASE, "unknown", "none"),
    ("no endpoints, no network", [check("link", "no_network")], "unknown", "device"),
    ("cable out", [check("link", "no_network"), check("internet", "internet_unreachable"),
                   check("dns", "dns_unreachable"), check("smtp", "dns_unreachable")], "local", "device"),
    ("captive portal", [check("link"), check("internet", "captive_portal"), check("dns"),
                        check("smtp", "tcp_timeout")], "local", "network"),
    ("captive portal page beside fully working mail is an office filter, not a portal",
     [check("link"), check("internet", "captive_portal"), check("dns"), check("smtp")], "ok", "network"),
    ("captive portal with one endpoint failing is local",
     [check("link"), check("internet", "captive_portal"), check("dns"), check("smtp", "tcp_timeout"),
      check("https")], "local", "network"),
    ("resolver broken", [check("link"), check("internet"), check("dns", "dns_timeout"),
                         check("smtp", "dns_timeout")], "local", "dns"),
    ("internet and all mail fail", [check("link"), check("internet", "internet_unreachable"),
                                    check("dns"), check("smtp", "tcp_timeout")], "local", "network"),
    ("mail name missing", [*BASE, check("smtp", "dns_nxdomain")], "down", "dns"),
    ("server silent", [*BASE, check("smtp", "tcp_timeout"), check("imap", "tcp_refused")], "down", "server"),
    ("bad certificate", [*BASE, check("smtp", "tls_cert_expired")], "down", "service"),
    ("421", [*BASE, check("smtp", "service_unavailable")], "down", "service"),
    ("down while internet probe disabled", [check("link"), check("dns"), check("smtp", "tcp_refused")],
     "down", "server"),
    ("one of two fails", [*BASE, check("smtp", "tcp_refused"), check("imap")], "degraded", "server"),
    ("warning only", [*BASE, check("smtp", "tls_cert_expiring"), check("imap")], "degraded", "service"),
    ("slow", [*BASE, check("smtp", "slow")], "degraded", "service"),
    ("internet probe blocked beside working mail",
     [check("link"), check("internet", "internet_unreachable"), check("dns"), check("smtp")], "ok", "network"),
    ("control name blocked beside working mail",
     [check("link"), check("internet"), check("dns", "dns_nxdomain"), check("smtp")], "ok", "dns"),
    # the mail server itself answered (a greeting, a certificate): the path works, so a blocked
    # internet probe does not make it "your connection"
    ("internet probe blocked and the mail server refuses service",
     [check("link"), check("internet", "internet_unreachable"), check("dns"),
      check("smtp", "service_unavailable")], "down", "service"),
    ("internet probe blocked, one port closed, one certificate expired",
     [check("link"), check("internet", "internet_unreachable"), check("dns"),
      check("smtp", "tcp_refused"), check("imap", "tls_cert_expired")], "down", "server"),
    # a refusal, a reset or a silent accept can come from a firewall on the user's side: with the
    # internet probe failing too, that is "your connection", as the contract says
    ("internet probe and the only endpoint refused",
     [check("link"), check("internet", "internet_unreachable"), check("dns"), check("smtp", "tcp_refused")],
     "local", "network"),
    ("internet probe fails and the mail port accepts but never greets",
     [check("link"), check("internet", "internet_unreachable"), check("dns"), check("smtp", "banner_timeout")],
     "local", "network"),
    # the control name fails, but the mail names resolved: the resolver works for mail
    ("control name blocked and the mail server silent",
     [check("link"), check("internet"), check("dns", "dns_nxdomain"), check("smtp", "tcp_timeout")],
     "down", "server"),
    ("resolver dead, mail names fail too, a tarpit beside",
     [check("link"), check("internet"), check("dns", "dns_timeout"), check("smtp", "dns_timeout"),
      check("imap", "banner_timeout")], "local", "dns"),
    ("internet and resolver fail, mail addresses known but silent",
     [check("link"), check("internet", "internet_unreachable"), check("dns", "dns_timeout"),
      check("smtp", "tcp_timeout")], "local", "network"),
    ("internet blocked and one endpoint fails",
     [check("link"), check("internet", "internet_unreachable"), check("dns"),
      check("smtp", "tcp_refused"), check("imap")], "degraded", "server"),
]


@pytest.mark.parametrize(("checks", "verdict", "layer"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_verdict_table(checks, verdict, layer):
    result = decide(checks)
    assert (result.verdict, result.layer) == (verdict, layer)
    assert result.headline and result.advice


def test_failing_internet_beside_working_mail_becomes_a_warning():
    internet = check("internet", "internet_unreachable")
    decide([check("link"), internet, check("dns"), check("smtp")])
    assert internet.status == "warn"
    assert internet.code == "internet_unreachable"


def test_failing_internet_stays_a_failure_when_local():
    internet = check("internet", "internet_unreachable")
    decide([check("link"), internet, check("dns"), check("smtp", "tcp_timeout")])
    assert internet.status == "fail"


@pytest.mark.parametrize(
    ("checks", "words"),
    [
        ([check("link"), check("internet", "captive_portal"), check("smtp", "tcp_timeout")], "Wi-Fi is asking you to sign in"),
        ([*BASE, check("smtp", "tcp_timeout")], "not answering — the problem is on IT's side, not your computer"),
        ([check("link", "no_network"), check("smtp", "dns_unreachable")], "not connected"),
        ([*BASE, check("smtp", "tcp_refused"), check("imap")], "Sending mail is not working"),
        ([*BASE, check("smtp"), check("imap", "tcp_refused")], "Receiving mail is not working"),
    ],
)
def test_headlines_speak_plainly(checks, words):
    assert words in decide(checks).headline


@pytest.mark.parametrize(
    ("checks", "words"),
    [
        ([check("link"), check("internet", "internet_unreachable"), check("dns"),
          check("smtp", "service_unavailable")], "refusing service right now — the problem is on IT's side, not your computer"),
        ([check("link"), check("internet"), check("dns", "dns_nxdomain"), check("smtp", "tcp_timeout")],
         "not answering — the problem is on IT's side, not your computer"),
        ([check("link"), check("internet", "internet_unreachable"), check("dns", "dns_timeout"),
          check("smtp", "tcp_timeout")], "internet connection is not working"),
    ],
)
def test_headline_blames_whoever_answered(checks, words):
    assert words in decide(checks).headline


def test_endpoint_names_are_used_in_degraded_headline():
    smtp = check("smtp", "tcp_refused")
    smtp.name = "Outgoing mail"
    imap = check("imap")
    imap.name = "Incoming mail"
    headline = decide([*BASE, smtp, imap]).headline
    assert headline.startswith("Outgoing mail is not working")
    assert "but incoming mail still works" in headline


@pytest.mark.parametrize(("days", "words"), [(5, "expires in 5 days."), (1, "expires in 1 day."),
                                             (0, "expires today.")])
def test_expiring_certificate_headline_counts_days_in_plain_words(days, words):
    smtp = check("smtp", "tls_cert_expiring")
    smtp.data = {"tls": {"days_left": days}}
    assert decide([*BASE, smtp]).headline.endswith(words)
