"""Teams and Slack bodies have the documented shapes; Teams stays under 20 KB; Retry-After parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from app.diagnosis.model import Check
from app.report import build
from app.report.channels import parse_retry_after
from app.report.channels.slack import blocks_message
from app.report.channels.teams import card_message
from tests.unit.test_report_build import CFG, diag


def test_teams_adaptive_card_shape(make_config):
    report = build.build_report(make_config(CFG), diag(), note="Since 9")
    msg = card_message(report)
    assert msg["type"] == "message"
    (att,) = msg["attachments"]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] and card["$schema"].startswith("http")
    texts = [b.get("text") for b in card["body"] if b["type"] == "TextBlock"]
    assert "The mail server is not answering." in texts
    factsets = [b["facts"] for b in card["body"] if b["type"] == "FactSet"]
    header = {f["title"]: f["value"] for f in factsets[0]}
    assert header["User"] == "jo@example.com" and header["Host"] and header["Since"]
    failing = factsets[1]
    assert failing[0]["title"] == "smtp 192.0.2.15:587" and failing[0]["value"].startswith("tcp_refused")
    assert any("Since 9" in (t or "") for t in texts)


def test_teams_body_stays_under_20kb_with_many_failing_checks(make_config):
    checks = [
        Check(f"smtp host{i}.example.com:587", "smtp", f"host{i}.example.com:587", "fail", "tls_cert_untrusted",
              "The certificate is not trusted — ünïcödé détail " * 20, 1.0)
        for i in range(400)
    ]
    report = build.build_report(make_config(CFG), diag(checks=checks), note="ž" * 5000)
    msg = card_message(report)
    size = len(json.dumps(msg, ensure_ascii=False).encode("utf-8"))
    assert size < 20_000
    facts = [b["facts"] for b in msg["attachments"][0]["content"]["body"] if b["type"] == "FactSet"][1]
    assert len(facts) >= 2 and "more failing checks" in facts[-1]["value"]


def test_slack_blocks_with_text_fallback(make_config):
    report = build.build_report(make_config(CFG), diag(), note="<b>urgent</b>")
    msg = blocks_message(report)
    assert "The mail server is not answering." in msg["text"]
    kinds = [b["type"] for b in msg["blocks"]]
    assert kinds[0] == "header" and "section" in kinds and kinds[-1] == "context"
    assert msg["blocks"][0]["text"] == {"type": "plain_text", "text": "The mail server is not answering."}
    all_text = json.dumps(msg)
    assert "tcp_refused" in all_text and "&lt;b&gt;urgent" in all_text
    for block in msg["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        if "fields" in block:
            assert len(block["fields"]) <= 10


def test_retry_after_seconds_and_http_date():
    now = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
