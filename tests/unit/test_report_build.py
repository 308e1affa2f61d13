"""Report builder: shape, fingerprint, privacy switches and secret scrubbing."""

from __future__ import annotations

import getpass
import json
import socket
from datetime import UTC, datetime, timedelta

from app.diagnosis.model import Check, Diagnosis
from app.report import build, redact

CFG = """
[mail]
address = "jo@example.com"
"""


def diag(checks=None, verdict="down", layer="server", **kw) -> Diagnosis:
    if checks is None:
        checks = [
            Check("smtp 192.0.2.15:587", "smtp", "192.0.2.15:587", "fail", "tcp_refused",
                  "The server at 192.0.2.15 port 587 refused the connection.", 3.0),
            Check("imap 192.0.2.15:993", "imap", "192.0.2.15:993", "ok", "ok", "fine", 2.0),
        ]
    kw.setdefault("headline", "The mail server is not answering.")
    kw.setdefault("checked_at", "2025-03-04T10:00:00.000Z")
    return Diagnosis(verdict=verdict, layer=layer, advice="Wait.", duration_ms=5.0, checks=checks, **kw)


def test_report_has_the_spec_shape(make_config):
    report = build.build_report(make_config(CFG), diag(), note="  Since lunch  ")
    assert set(report) == {"schema", "id", "created_at", "fingerprint", "reporter", "note", "known_incident",
                           "diagnosis", "history", "device", "network"}
    assert report["schema"] == 1 and report["note"] == "Since lunch"
    from app.laptop_id import laptop_id

    assert report["reporter"] == {"username": getpass.getuser(), "hostname": socket.gethostname(),
                                  "email": "jo@example.com", "laptop": laptop_id()}
    assert report["diagnosis"]["checks"][0]["code"] == "tcp_refused"
    assert set(report["device"]) == {"os", "app_version", "uptime_s", "cpu_percent", "memory_percent", "battery"}
    assert report["device"]["uptime_s"] > 0
    assert set(report["network"]) >= {"interfaces", "default_gateway", "dns_servers", "proxy", "vpn_suspected"}
    assert any(i["name"] for i in report["network"]["interfaces"])
    assert report["created_at"].endswith("Z")
    body = build.body_bytes(report)
    assert json.loads(body) == report and body.endswith(b"\n")


def test_known_incident_comes_from_it_status(make_config):
    it_status = {"source": "native", "incidents": [{"id": "INC-7", "title": "Mail outage", "status": "investigating"}],
                 "fetched_at": "2025-03-04T10:00:00Z", "error": None}
    assert build.build_report(make_config(CFG), diag(it_status=it_status))["known_incident"] == "INC-7"
    assert build.build_report(make_config(CFG), diag())["known_incident"] is None


def test_fingerprint_same_failure_same_hour_matches():
    at = datetime(2025, 3, 4, 10, 5, tzinfo=UTC)
    a = diag().to_json()
    b = diag().to_json()
    b["checks"][0]["duration_ms"] = 999.0  # timings and ok checks do not matter
    b["checks"][0]["detail"] = "worded differently"
    assert build.fingerprint(a, at) == build.fingerprint(b, at + timedelta(minutes=50))
    assert build.fingerprint(a, at) != build.fingerprint(a, at + timedelta(hours=1))


def test_fingerprint_differs_for_other_endpoint_or_code():
    at = datetime(2025, 3, 4, 10, 5, tzinfo=UTC)
    base = diag().to_json()
    other_code = diag().to_json()
    other_code["checks"][0]["code"] = "tcp_timeout"
    other_target = diag().to_json()
    other_target["checks"][0]["target"] = "192.0.2.16:587"
    prints = {build.fingerprint(d, at) for d in (base, other_code, other_target)}
    assert len(prints) == 3


def test_history_is_read_from_the_history_database(make_config):
    from app.history import History
    from app.jsonio import iso_utc
    from app.paths import user_paths

    h = History(user_paths().history_db)
    now = datetime.now(UTC)
    for hours, verdict in ((30, "ok"), (2, "down"), (1, "ok")):
        h.record(diag(verdict=verdict, headline=f"{verdict} then", checked_at=iso_utc(now - timedelta(hours=hours))), confirmed=True)
    h.close()
    report = build.build_report(make_config(CFG), diag())
    assert [(e["verdict"], e["headline"]) for e in report["history"]] == [("down", "down then"), ("ok", "ok then")]
    for entry in report["history"]:
        assert set(entry) == {"at", "verdict", "headline"} and entry["at"].endswith("Z")


def test_privacy_switches_hide_user_and_host(make_config):
    cfg = make_config(CFG + "[report]\ninclude_username = false\ninclude_hostname = false\n")
    user, host = getpass.getuser(), socket.gethostname()
    d = diag(checks=[Check("smtp mail:587", "smtp", "mail:587", "fail", "tcp_refused",
                           f"Refused while {user} on {host} tried.", 1.0)])
    report = build.build_report(cfg, d)
    # the laptop id stays: it is random and says nothing about the person or the machine
    assert report["reporter"] == {"username": None, "hostname": None, "email": None,
                                  "laptop": report["reporter"]["laptop"]}
    text = build.body_text(report)
    assert "jo@example.com" not in text
    if len(host) >= 3:
        assert host not in text
    assert f"Refused while {user if len(user) < 3 else '[user]'} on" in text


def test_redact_addresses_masks_host_part(make_config):
    cfg = make_config(CFG + "[report]\nredact_addresses = true\n")
    d = diag()
    d.checks[0].data = {"addresses": ["192.0.2.15", "2001:db8:1:2:aa:bb:cc:dd"], "tls_version": "TLSv1.3"}
    report = build.build_report(cfg, d)
    text = build.body_text(report)
    assert "192.0.2.15" not in text and "2001:db8:1:2:aa" not in text
    assert "192.0.2.x" in text and "2001:db8:1:2::x" in text
    assert "TLSv1.3" in text and report["created_at"] in text  # no collateral damage
    for iface in report["network"]["interfaces"]:
        for address in iface["addresses"]:
            assert address.endswith("x"), address


def test_redact_text_patterns():
    assert redact.redact_addresses_text("at 10.1.2.3:25 and ::1") == "at 10.1.2.x:25 and ::x"
    assert redact.redact_addresses_text("v1.2.3 at 12:30:45, 999.1.1.1") == "v1.2.3 at 12:30:45, 999.1.1.1"
    assert redact.redact_addresses_text("fe80::1%eth0") == "fe80::x%eth0"


def test_secrets_planted_in_config_environment_and_data_never_leave(make_config, monkeypatch):
    monkeypatch.setenv("MAILBEACON_SECRET_REPORT_WEBHOOK_TOKEN", "tok-PLANTED-env-1234")
    monkeypatch.setenv("MAILBEACON_SECRET_REPORT_RELAY_PASSWORD", "relayPLANTED99")
    monkeypatch.setenv("https_proxy", "http://bob:pr0xyPLANTED@proxy.example:3128")
    cfg = make_config(
        CFG
        + '\n[report]\nslack_url = "https://hooks.slack.com/services/T0/B0/slackPLANTED"\n'
        + 'webhook_url = "https://it.example.com/hook?sig=sigPLANTED"\n'
        + '[feed]\nurl = "https://feeduser:feedPLANTED@status.example.com/feed.json?api_key=keyPLANTED"\n'
    )
    d = diag()
    d.checks[0].detail = "Token tok-PLANTED-env-1234 rejected; feed https://feeduser:feedPLANTED@status.example.com/feed.json?api_key=keyPLANTED"
    d.checks[0].data = {"password": "dataPLANTED", "auth_mechanisms": ["PLAIN", "LOGIN"],
                        "header": "Authorization: Bearer bearerPLANTEDvalue",
                        "pem": "-----BEGIN PRIVATE KEY-----\nMIIPLANTED\n-----END PRIVATE KEY-----"}
    d.it_status = {"source": "native", "incidents": [], "fetched_at": "x",
                   "error": "could not read https://status.example.com/f.json?token=qPLANTED"}
    report = build.build_report(cfg, d, note="my password is hunter2PLANTED, the relay password: relayPLANTED99")
    text = build.body_text(report)
    assert "PLANTED" not in text, [line for line in text.splitlines() if "PLANTED" in line]
    assert "[redacted]" in text
    assert report["diagnosis"]["checks"][0]["data"]["auth_mechanisms"] == ["PLAIN", "LOGIN"]
    assert "proxy.example" in text or report["network"]["proxy"] is None


def test_with_note_keeps_the_id_and_scrubs(make_config):
    cfg = make_config(CFG)
    report = build.build_report(cfg, diag())
    noted = build.with_note(report, " token=abcdefgh1234 please call ", cfg)
    assert noted["id"] == report["id"] and noted["diagnosis"] == report["diagnosis"]
    assert noted["note"] == "token=[redacted] please call"
    assert report["note"] == ""


def test_fingerprint_of_a_degradation_by_warnings_names_the_warning_endpoint():
    at = datetime(2025, 3, 4, 10, 5, tzinfo=UTC)

    def warned(kind, target, code):
        return diag(verdict="degraded", layer="service", checks=[
            Check(f"{kind} {target}", kind, target, "warn", code, "...", 1.0)]).to_json()

    smtp_cert = warned("smtp", "mail.example.com:587", "tls_cert_expiring")
    imap_cert = warned("imap", "mail.example.com:993", "tls_cert_expiring")
    smtp_auth = warned("smtp", "mail.example.com:587", "auth_not_offered")
    assert len({build.fingerprint(d, at) for d in (smtp_cert, imap_cert, smtp_auth)}) == 3
    assert build.fingerprint(smtp_cert, at) == build.fingerprint(warned("smtp", "mail.example.com:587",
                                                                         "tls_cert_expiring"), at)
    # reports while everything passes (the user sees a problem MailBeacon does not) group per hour
    ok = diag(verdict="ok", layer="none", checks=[Check("smtp m:587", "smtp", "m:587", "ok", "ok", "", 1.0)])
    assert build.fingerprint(ok.to_json(), at) == build.fingerprint(ok.to_json(), at + timedelta(minutes=30))
    assert build.fingerprint(ok.to_json(), at) != build.fingerprint(smtp_cert, at)
