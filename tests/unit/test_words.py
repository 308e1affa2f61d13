"""The text catalogue: every staff sentence renders for every state, reads as plain words (no
addresses, codes or doubled punctuation), says whose problem it is, and the tooltip always fits
Windows' 127 characters; every detail sentence IT reads (of a check, of the feed, of a discovery
attempt) is a finished sentence wherever its values come from, and every one the probes, the
engine and discovery pick is in the catalogue, with no sentence left inline in their code."""

from __future__ import annotations

import ast
import itertools
import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app import errors, feed
from app.bounds import MAX_EVENTS, MAX_MENU_LINE, MAX_NOTIFICATION
from app.diagnosis.model import CODES, LAYERS, Check
from app.diagnosis.probes.base import TIMEOUT_CODE_BY_PHASE, ProbeContext
from app.diagnosis.verdict import decide
from app.discovery.model import clean
from app.feed.parse import STATUSES
from app.report.redact import scrub_text
from app.words import it, staff

ROOT = Path(__file__).resolve().parents[2]

VERDICTS = ("ok", "degraded", "down", "local", "unknown", "checking")
NOW = datetime.now(UTC)
_IP = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
_JARGON = re.compile(r"\b(NXDOMAIN|SERVFAIL|TLS|SSL|SMTP|IMAP|POP3|STARTTLS|EHLO|TCP|DNS|_)\b|[a-z]+_[a-z]+")


def plain(text: str) -> None:
    """What staff read: a sentence, no address, no code, no doubled punctuation."""
    assert text and text == text.strip(), repr(text)
    assert not _IP.search(text), text
    assert not _JARGON.search(text), text
    assert ".." not in text and "…." not in text and " ." not in text, text
    assert text[0].isupper() or text[0].isdigit(), text


def incident(next_update: datetime | None, title: str = "Mail server outage") -> dict:
    return {"incidents": [{"id": "INC-1", "title": title, "status": "investigating",
                           "message": "We are on it", "updated_at": NOW.isoformat(),
                           "next_update_at": next_update.isoformat() if next_update else None}]}


# IT incidents that change the wording: none, one without a next update, one due tomorrow with a
# long title (the longest tooltip line)
IT_STATES = [None, incident(None), incident(NOW + timedelta(days=1), "A" * 80)]
SINCE = [None, NOW - timedelta(seconds=20), NOW - timedelta(hours=2, minutes=5), NOW - timedelta(days=12, hours=23)]


@pytest.mark.parametrize("verdict", VERDICTS)
@pytest.mark.parametrize("it_status", IT_STATES)
@pytest.mark.parametrize("outbox", [0, 1, 12])
@pytest.mark.parametrize("since", SINCE)
def test_tooltip_fits_127_and_always_shows_the_state(verdict, it_status, outbox, since):
    lines = (staff.it_aware(it_status, NOW, title=True), staff.it_aware(it_status, NOW))
    text = staff.tooltip(verdict, since, NOW, it_lines=tuple(x for x in lines if x), outbox=outbox)
    assert len(text) <= staff.TOOLTIP_LIMIT, (len(text), text)
    first = text.splitlines()[0]
    assert first.startswith(f"MailBeacon: {staff.TOOLTIP_STATE[verdict]}")
    if it_status is not None:  # what IT said always makes it in
        assert any(line.startswith("IT is aware") for line in text.splitlines())
    for line in text.splitlines():
        assert line[-1] in ".…", line  # each line ends a sentence
        assert "since" not in line.split(")")[-1]  # never "... not your computer since 05:48"
    if outbox and it_status is None:
        assert staff.outbox_line(outbox) in text
    if verdict in staff.TOOLTIP_WHOSE and since is not None and since > NOW - timedelta(days=1) and it_status is None:
        assert staff.TOOLTIP_WHOSE[verdict] in first


def check(kind: str, code: str = "ok", name: str = "", data: dict | None = None) -> Check:
    status = CODES[code][1]
    return Check(id=f"{kind} x", kind=kind, target="192.0.2.7:587", status=status, code=code,
                 detail="IT detail", data=data or {}, name=name)


BASE = [check("link"), check("internet"), check("dns")]
ENDPOINT_CODES = [c for c, (layer, _s) in CODES.items() if layer in (None, "dns", "server", "service") and c != "skipped"]


@pytest.mark.parametrize("code", ENDPOINT_CODES)
@pytest.mark.parametrize("ca_file_set", [False, True])
def test_every_endpoint_code_gives_plain_headline_advice_and_a_staff_sentence(code, ca_file_set):
    for kinds in (["smtp"], ["smtp", "imap"], ["smtp", "imap", "https"]):
        checks = [*BASE, check(kinds[0], code), *(check(k) for k in kinds[1:])]
        verdict = decide(checks, ca_file_set=ca_file_set)
        plain(verdict.headline)
        plain(verdict.advice)
        if verdict.verdict in ("down", "degraded") and CODES[code][1] == "fail":
            # whose problem it is, except where the missing piece may be this laptop's
            whose = ("not your computer" in verdict.headline) != (
                code == "tls_cert_untrusted" and not ca_file_set and len(kinds) == 1
            )
            assert whose, verdict.headline
        for c in checks:
            plain(staff.check_sentence(c.kind, c.status, c.code, c.layer, c.data))
            plain(staff.check_title(c.kind, c.name))


def test_a_handshake_that_never_reached_a_certificate_is_not_a_certificate_problem():
    headline = decide([*BASE, check("smtp", "tls_handshake_failed")]).headline
    assert "certificate" not in headline and "secure connection" in headline
    assert "certificate" in decide([*BASE, check("smtp", "tls_cert_expired")]).headline


def test_untrusted_certificate_without_a_company_ca_does_not_blame_the_server():
    without = decide([*BASE, check("smtp", "tls_cert_untrusted")], ca_file_set=False)
    assert "not your computer" not in without.headline and "this computer" in without.advice
    assert "not your computer" in decide([*BASE, check("smtp", "tls_cert_untrusted")], ca_file_set=True).headline


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        ([check("smtp", "tcp_refused"), check("imap")],
         "Sending mail is not working, but receiving mail still works"),
        ([check("smtp", "tcp_refused"), check("imap"), check("https")],
         "Sending mail is not working, but receiving mail and webmail still work"),
        ([check("smtp", "tcp_refused"), check("imap", "tls_cert_expired"), check("https")],
         "Sending mail and receiving mail are not working, but webmail still works"),
        # two sending servers, one failing: never "sending is not working; sending still works"
        ([check("smtp", "tcp_refused"), check("smtp"), check("imap")],
         "Sending mail works only in part, but receiving mail still works"),
        ([check("smtp", "tcp_refused", name="Outgoing mail"), check("imap", name="Incoming mail")],
         "Outgoing mail is not working, but incoming mail still works"),
    ],
)
def test_partly_working_headlines_name_functions_not_addresses(checks, expected):
    headline = decide([*BASE, *checks]).headline
    assert headline.startswith(expected), headline
    plain(headline)
    assert headline.endswith("not your computer.")


def test_staff_sentences_cover_every_layer_check():
    for kind, code in itertools.product(("link", "internet", "dns"), CODES):
        layer = CODES[code][0]
        if layer not in (None, "device", "network", "dns"):
            continue
        c = check(kind, code)
        plain(staff.check_sentence(kind, c.status, code, c.layer))
    assert LAYERS[0] == "device"


@pytest.mark.parametrize("verdict", ["down", "degraded", "local", "ok"])
@pytest.mark.parametrize("it_status", IT_STATES)
def test_call_to_action_follows_what_it_said(verdict, it_status):
    action = staff.call_to_action(verdict, "Report it to IT with one click.", it_status, NOW)
    plain(action.text)
    if it_status is not None and verdict in ("down", "degraded"):
        assert action.text.startswith("IT is aware")
        assert action.button == "Add me to the affected list…"
        assert "Report it" not in action.text
        if it_status["incidents"][0]["next_update_at"]:
            assert "next update tomorrow" in action.text
    else:
        assert action.button == staff.REPORT_BUTTON


@pytest.mark.parametrize("verdict", ["down", "degraded", "local"])
@pytest.mark.parametrize("it_status", IT_STATES)
def test_problem_notifications_lead_with_what_it_said(verdict, it_status):
    title, text = staff.problem_notice(verdict, "The mail server is not answering.", it_status, NOW)
    plain(title)
    plain(text)
    if it_status is not None and verdict != "local":
        assert "IT is aware" in text and "affected list" in text and "report it" not in text.lower()


@pytest.mark.parametrize("previous", ["down", "local", "degraded"])
def test_recovery_does_not_repeat_itself(previous):
    title, text = staff.recovery_notice("ok", previous, 47 * 60, "Mail is working.")
    assert title == "Mail works again"
    assert "works again" not in text and "47 min" in text
    plain(text)


@pytest.mark.parametrize("verdict", VERDICTS)
@pytest.mark.parametrize("kind", ["posted", "updated", "resolved"])
def test_incident_notices_keep_it_words_and_never_say_fixed_while_red(verdict, kind):
    inc = {"id": "1", "title": "Mail server disk full", "message": "Space freed",
           "next_update_at": (NOW + timedelta(minutes=30)).isoformat()}
    title, text = staff.incident_notice(kind, inc, verdict, NOW)
    plain(title)
    plain(text)
    assert "Space freed." in text
    if kind == "resolved":
        still_red = verdict in ("down", "degraded")
        assert ("still sees a problem" in text) == still_red
        assert "resolved" not in (title + text).lower()
    else:
        assert "Next update" in text


def test_it_lines_carry_the_technical_facts():
    c = check("smtp", "tls_cert_untrusted", data={"tls": {"version": "TLS 1.3", "cipher": "TLS_AES_256_GCM_SHA384"},
                                                   "greeting": "220 mx ESMTP", "auth_mechanisms": ["PLAIN"]})
    line = it.check_line(c)
    for fact in ("smtp 192.0.2.7:587", "tls_cert_untrusted", "TLS 1.3 TLS_AES_256_GCM_SHA384", "220 mx", "PLAIN"):
        assert fact in line


def test_every_catalogue_string_is_a_sentence_or_a_label():
    for table in (staff.MENU, staff.DETAILS, staff.REPORT, staff.PROBLEM_TITLES, staff.VERDICT_WORD, staff.CHANNEL_WORDS):
        for value in table.values():
            plain(value.format(path="the file", reason="disk full", line="IT is aware.", clock="17:02",
                               headline="Mail is working."))
    for text in (*staff.NO_DIAGNOSIS, staff.NOT_VERIFIED, staff.FEED_UNREADABLE, staff.FEED_UNREADABLE_KEPT,
                 staff.SUMMARY_TITLE, staff.UNTITLED_INCIDENT):
        plain(text)
    for headline, advice in (*staff.LOCAL.values(), *staff.DOWN.values(), staff.OK):
        plain(headline)
        plain(advice)


@pytest.mark.parametrize("code", ["http_status", "http_timeout", "tcp_refused", "dns_nxdomain", "tls_cert_expired"])
def test_webmail_only_outage_says_webmail(code):
    headline = decide([*BASE, check("https", code)]).headline
    assert "ebmail" in headline and "mail server" not in headline.replace("webmail server", ""), headline
    plain(headline)


# ---------------------------------------------------------------- IT's status page

_ISO = re.compile(r"\d{4}-\d\d-\d\dT|\+00:00|\bNone\b|\bnull\b")
# every status a native feed or Statuspage may carry, one IT made up, and none
INCIDENT_STATUSES = [*STATUSES, "postmortem", "scheduled", "in_progress", "verifying", "completed",
                     "Major_Outage", "", None]
TITLES = ["Mail server outage", "Disk full.", "", "R&D mail relay " + "x" * 300]
MESSAGES = ["", "We are on it", "Space freed.", "Still looking…"]
TIMES = [None, "not a time", "9999-12-31T23:00:00-05:00",  # the last: no clock can show it
         (NOW - timedelta(minutes=20)).isoformat(), (NOW - timedelta(days=3)).isoformat(),
         (NOW + timedelta(minutes=30)).isoformat(), (NOW + timedelta(days=1)).isoformat(),
         (NOW + timedelta(days=400)).isoformat()]


def staff_text(text: str) -> None:
    """A staff sentence about IT's incidents: plain, and no raw time or missing value leaks in."""
    plain(text)
    assert not _ISO.search(text), text
    assert ". (" not in text and "(." not in text and "()" not in text, text


def an_incident(n: int = 0, *, title: str = "Mail server outage", status: str | None = "investigating",
                message: str = "We are on it", updated: str | None = None, due: str | None = None) -> dict:
    return {"id": f"INC-{n}", "title": title, "status": status, "message": message,
            "updated_at": updated, "next_update_at": due}


@pytest.mark.parametrize("status", INCIDENT_STATUSES)
@pytest.mark.parametrize("title", TITLES)
@pytest.mark.parametrize("stale", [False, True])
@pytest.mark.parametrize("count", [1, 3])
def test_the_menu_line_for_every_incident_state(status, title, stale, count):
    for updated, due in itertools.product(TIMES, TIMES):
        incidents = [an_incident(n, title=title, status=status, updated=updated, due=due) for n in range(count)]
        status_doc = {"incidents": incidents, "stale": stale, "error": "x" if stale else None,
                      "fetched_at": (NOW - timedelta(hours=3)).isoformat()}
        line = staff.it_status_line(status_doc, NOW)
        staff_text(line)
        assert line.startswith("IT is aware: ") and len(line) <= MAX_MENU_LINE, line
        assert ("may be out of date" in line) == stale
        assert ("(and 2 more" in line) == (count == 3)
        if due and due[:4].isdigit() and due[:4] != "9999":
            assert "next update" in line
    assert staff.it_status_line(None, NOW) is None
    assert staff.it_status_line({"incidents": []}, NOW) is None


def test_the_menu_line_says_how_old_a_stale_feed_is():
    doc = {"incidents": [an_incident(updated=(NOW - timedelta(hours=3)).isoformat())], "stale": True}
    assert staff.it_status_line(doc, NOW) == "IT is aware: Mail server outage (last update 3 h ago, may be out of date)"


@pytest.mark.parametrize("status", INCIDENT_STATUSES)
@pytest.mark.parametrize("message", MESSAGES)
@pytest.mark.parametrize("verified", [True, False])
@pytest.mark.parametrize("error", [None, "The IT status feed at http://192.0.2.1/feed.json did not answer in time."])
def test_details_paragraphs_for_every_incident_state(status, message, verified, error):
    for title, updated, due in itertools.product(TITLES, TIMES, TIMES):
        doc = {"incidents": [an_incident(title=title, status=status, message=message, updated=updated, due=due)],
               "error": error}
        lines = staff.incident_paragraphs(doc, NOW, verified=verified)
        for line in lines:
            staff_text(line)
        assert lines[0].startswith("IT is aware: ")
        assert (staff.NOT_VERIFIED in lines) != verified
        assert (lines[-1] == staff.FEED_UNREADABLE_KEPT) == bool(error)
        # the raw status word shows only where it is already plain
        assert f"({staff.incident_status(status)})" in lines[0]
        if message:
            assert message.rstrip(".…") in lines[0]
    # the feed could not be read and IT never posted anything: one sentence, no address
    assert staff.incident_paragraphs({"incidents": [], "error": error}, NOW, verified=verified) == (
        [staff.FEED_UNREADABLE] if error else [])


def test_incident_statuses_read_as_plain_words():
    assert staff.incident_status("identified") == "cause found"
    assert staff.incident_status("in_progress") == "planned work under way"
    assert staff.incident_status("Major_Outage") == staff.INCIDENT_STATUS_UNKNOWN
    for word in (*staff.INCIDENT_STATUS.values(), staff.INCIDENT_STATUS_UNKNOWN):
        assert not _JARGON.search(word) and word == word.lower(), word


def test_times_in_what_it_posted_read_as_local_clock_phrases():
    assert staff.ago(NOW - timedelta(seconds=30), NOW) == "just now"
    assert staff.ago(NOW - timedelta(minutes=20), NOW) == "20 min ago"
    assert staff.ago(NOW - timedelta(hours=3), NOW) == "3 h ago"
    assert staff.ago(NOW - timedelta(days=3), NOW) == "3 days ago"
    assert staff.ago(NOW + timedelta(hours=1), NOW) == "just now"  # a clock ahead of ours
    far = NOW + timedelta(days=400)
    assert str(far.astimezone().year) in staff.next_update_clock(far, NOW)
    soon = NOW + timedelta(days=3)
    assert str(soon.astimezone().year) not in staff.next_update_clock(soon, NOW)


@pytest.mark.parametrize(("posted", "updated", "resolved"),
                         [(4, 0, 0), (0, 4, 0), (0, 0, 4), (1, 2, 1), (3000, 2, 1), (1, 0, 0)])
def test_the_summary_notification_for_many_changes(posted, updated, resolved):
    title, text = staff.summary_notice({"posted": posted, "updated": updated, "resolved": resolved})
    plain(title)
    plain(text)
    assert len(text) <= MAX_NOTIFICATION
    assert f"IT posted {posted + updated + resolved} change" in text and "Open Details" in text
    assert ("1 change " in text) == (posted + updated + resolved == 1)
    assert ", )" not in text and "( " not in text and " 0 " not in text


def test_the_tracker_words_every_event_from_the_catalogue():
    tracker = feed.IncidentTracker()
    few = {"incidents": [an_incident(n, title=f"Outage {n}.", due=(NOW + timedelta(hours=1)).isoformat())
                         for n in range(2)], "error": None}
    events = tracker.update(few)
    events += tracker.update({"incidents": [an_incident(0, title="Outage 0.", message="Half back")], "error": None})
    assert [e.kind for e in events] == ["posted", "posted", "updated", "resolved"]
    for event in events:
        staff_text(event.title)
        staff_text(event.text)
        assert len(event.text) <= MAX_NOTIFICATION
    many = {"incidents": [an_incident(n) for n in range(10, 10 + MAX_EVENTS + 1)], "error": None}
    (summary,) = tracker.update(many)
    assert summary.kind == "summary" and summary.title == staff.SUMMARY_TITLE
    staff_text(summary.text)


@pytest.mark.parametrize("key", list(it.FEED_ERROR))
@pytest.mark.parametrize("reason", ["timed out", "", "Not Found."])
def test_feed_errors_for_it_name_the_feed_and_end_once(key, reason):
    where = it.FEED_AT.format(url="https://status.example/feed.json")
    text = it.feed_error(key, where=where, url="https://status.example/feed.json", reason=reason,
                         size="1 MB", status=503, timeout=2.5)
    assert text.endswith(".") and not text.endswith("..") and " ." not in text and ": ." not in text, text
    assert "status" in text and "{" not in text, text
    assert it.feed_line({"error": text}) == f"IT status feed: {text}"
    assert it.feed_line({"error": None}) is None and it.feed_line(None) is None


@pytest.mark.parametrize("what", ["setting", "missing", "unreadable", "mistake", "config", "crash"])
@pytest.mark.parametrize("brief", [True, False])
def test_cannot_start_is_one_sentence_and_brief_fits_the_tooltip(what, brief):
    text = staff.cannot_start(what, name="…/mailbeacon.toml", where="on line 12 of …/mailbeacon.toml",
                              key="check.interval_s", expected="a number of seconds from 10 to 3600",
                              detail="Permission denied." if what != "crash" else "disk I/O error", brief=brief)
    assert text.startswith("MailBeacon cannot start: ") and text.endswith(".") and ".." not in text
    assert text.count(". ") == 0  # one sentence
    if brief:
        assert len(text) <= staff.TOOLTIP_LIMIT
        assert "Permission denied" not in text and "I/O" not in text  # the detail waits for the window
    for word in staff.CANNOT_START.values():
        assert word and word[0].isupper()


# ---------------------------------------------------------------- IT's check details

# the modules that find what a check's detail says: they pick its sentence from it.DETAILS
PROBE_MODULES = [*sorted((ROOT / "app" / "diagnosis" / "probes").glob("*.py")),
                 ROOT / "app" / "diagnosis" / "net.py", ROOT / "app" / "diagnosis" / "tls.py"]
# and the engine, which words a probe that ran out of time, failed or was slow, and a feed it
# could not read
ENGINE = ROOT / "app" / "diagnosis" / "engine.py"
DETAIL_MODULES = [*PROBE_MODULES, ENGINE]
# discovery's modules, which word every attempt they record from it.DISCOVERY
DISCOVERY_MODULES = sorted((ROOT / "app" / "discovery").glob("*.py"))
# every module that picks a sentence from app.words.it by key (the feed reader words its errors)
WORDED_MODULES = [*DETAIL_MODULES, ROOT / "app" / "feed" / "read.py", *DISCOVERY_MODULES]
# a value for every placeholder, of the kind the probes pass
SAMPLE = {
    "where": "smtp.example.com port 587", "host": "smtp.example.com", "port": 587,
    "url": "http://connectivity.example/generate_204", "interfaces": "eth0 (192.0.2.10)",
    "status": 503, "expected": 204, "reason": "Connection refused", "ca_file": "/etc/ssl/company.pem",
    "proxy": "proxy.example:3128", "name": "example.com", "addresses": "192.0.2.1, 192.0.2.2",
    "nameservers": "192.0.2.53", "ms": 41.6, "first": "220-mx.example.com ESMTP", "kb": 256,
    "sample": b"\x16\x03\x01\x02\x00", "detail": "The secure (TLS) handshake did not finish in time.",
    "command": "STARTTLS", "days": 12, "when": "2030-01-01T00:00:00Z", "subject": "CN=mail.example.com",
    "not_before": "2031-01-01T00:00:00Z", "names": "DNS:other.example", "mechanisms": "PLAIN, LOGIN",
    "code": 421, "text": "Service not available", "line": "HTTP/1.1 400 Bad Request", "version": "TLS 1.3",
    "location": "https://portal.example/login", "gateway": "192.0.2.1", "issuer": "CN=Example CA",
    "phase": "protocol",
}
SECRET = "Hunter2-s3cret"
TOKEN = "AbCdEf123456789"
# the shapes a secret takes in what servers, proxies and the system say
SECRET_VALUES = [f"https://ann:{SECRET}@proxy.example:3128/feed?token={TOKEN}",
                 f"ann:{SECRET}@proxy.example:3128", f"password={SECRET}"]
DETAIL_KEYS = [(family, key) for family, table in it.DETAILS.items() for key in table]


def fields(template: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name is not None}


def detail_values(family: str, key: str, **override) -> list[dict]:
    """SAMPLE (or `override`) for the sentence's placeholders, once per way its PIECES can be
    there or not."""
    names = fields(it.DETAILS[family][key])
    pieces = sorted(names & set(it.PIECES))
    sample = {**SAMPLE, **override}
    combinations = []
    for present in itertools.product([False, True], repeat=len(pieces)):
        values = {name: sample[name] for name in names - set(pieces)}
        for piece, there in zip(pieces, present, strict=True):
            values[piece] = it.piece(piece, **{k: sample[k] for k in fields(it.PIECES[piece])}) if there else ""
        combinations.append(values)
    return combinations


def value_names(family: str, key: str) -> set[str]:
    """The values a sentence takes, also those inside its pieces."""
    names = fields(it.DETAILS[family][key])
    return (names - set(it.PIECES)).union(*(fields(it.PIECES[p]) for p in names & set(it.PIECES)))


def finished_sentence(text: str) -> None:
    assert text == text.strip() and "{" not in text and "}" not in text, text
    assert text[-1] in ".?!" and text[:1].isalnum(), text
    assert ".." not in text and " ." not in text and not re.search(r"[,;:]\.|\.[,;]", text), text


@pytest.mark.parametrize(("family", "key"), DETAIL_KEYS)
def test_every_check_detail_renders_as_a_finished_sentence(family, key):
    for values in detail_values(family, key):
        finished_sentence(it.detail(family, key, **values))
    # what the system or a server said may end in a stop of its own: still one stop
    for values in detail_values(family, key, reason="Name or service not known.", text="Closing."):
        finished_sentence(it.detail(family, key, **values))
    # and where a fact is missing, its stand-in reads as well
    for values in detail_values(family, key, **it.TLS_STAND_IN):
        finished_sentence(it.detail(family, key, **values))


def test_every_timeout_detail_is_a_sentence():
    for phase in it.TIMEOUT:
        finished_sentence(it.timed_out(phase))
    assert it.timed_out("a phase not yet thought of") == it.TIMEOUT["any"]


@pytest.mark.parametrize("name", list(it.PIECES))
def test_every_piece_is_the_middle_of_a_sentence(name):
    text = it.piece(name, **{k: SAMPLE[k] for k in fields(it.PIECES[name])})
    assert "{" not in text and "}" not in text and text[:1] in " ,;" and text[-1] not in ".;,: ", repr(text)
    assert any(name in fields(t) for table in it.DETAILS.values() for t in table.values()), name


@pytest.mark.parametrize(("family", "key"), DETAIL_KEYS)
def test_a_secret_in_any_value_of_a_detail_is_scrubbed(family, key):
    """The engine scrubs every detail once it is finished: wherever a sentence puts a value, a
    password or token in it must still be recognised there."""
    for name in sorted(n for n in value_names(family, key) if isinstance(SAMPLE[n], str | bytes)):
        for secret in SECRET_VALUES:
            value = secret.encode() if isinstance(SAMPLE[name], bytes) else secret
            for values in detail_values(family, key, **{name: value}):
                text = scrub_text(it.detail(family, key, **values))
                assert SECRET not in text and TOKEN not in text, (name, text)


def _literal_keys(node: ast.expr) -> list[str]:
    """The keys a key expression can take: a literal, or a conditional between literals."""
    if isinstance(node, ast.IfExp):
        return _literal_keys(node.body) + _literal_keys(node.orelse)
    assert isinstance(node, ast.Constant) and isinstance(node.value, str), (
        f"line {node.lineno}: pick a catalogue key as a literal, so it can be checked")
    return [node.value]


# the catalogue's functions that pick a sentence by key: the table each reads, and whether that
# table is one of families (detail("smtp", "ok", ...)) or of sentences (piece("vpn", ...))
PICKERS = {"detail": ("DETAILS", True), "piece": ("PIECES", False), "feed_error": ("FEED_ERROR", False),
           "attempt": ("DISCOVERY", True)}


def _catalogue_uses() -> dict[str, set]:
    """Every use of app.words.it in the modules that word sentences, each checked against the
    catalogue: the key exists and the call names exactly the values its sentence takes."""
    used: dict[str, set] = {"TLS_STAND_IN": set(), "DISCOVERY_STAND_IN": set(),
                            **{table: set() for table, _f in PICKERS.values()}}
    for path in WORDED_MODULES:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.ImportFrom) and node.module == "app.words":
                assert all(a.name != "it" or a.asname is None for a in node.names), where
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "it":
                assert hasattr(it, node.attr), f"{where}: it.{node.attr} does not exist"
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                    and isinstance(node.value.value, ast.Name) and node.value.value.id == "it":
                table = node.value.attr
                for key in _literal_keys(node.slice):
                    assert key in getattr(it, table), f"{where}: it.{table}[{key!r}] does not exist"
                    used.setdefault(table, set()).add(key)
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "it"):
                continue
            given = {k.arg for k in node.keywords}
            assert None not in given, f"{where}: name every value (no **values), so it can be checked"
            if node.func.attr not in PICKERS:
                continue
            name, by_family = PICKERS[node.func.attr]
            table = getattr(it, name)
            if by_family:
                family_node, key_node = node.args
                (family,) = _literal_keys(family_node)
                assert family in table, f"{where}: no family {family!r} in it.{name}"
                picks = [((family, key), table[family].get(key)) for key in _literal_keys(key_node)]
            else:
                (key_node,) = node.args
                picks = [(key, table.get(key)) for key in _literal_keys(key_node)]
            for key, template in picks:
                assert template is not None, f"{where}: it.{name} has no {key}"
                assert given == fields(template), \
                    f"{where}: {key} takes {sorted(fields(template))}, given {sorted(given)}"
                used[name].add(key)
    return used


def test_every_sentence_the_probes_pick_is_in_the_catalogue_and_every_entry_is_used():
    used = _catalogue_uses()
    assert used["DETAILS"] == set(DETAIL_KEYS), set(DETAIL_KEYS) ^ used["DETAILS"]
    assert used["PIECES"] == set(it.PIECES), set(it.PIECES) ^ used["PIECES"]
    assert used["TLS_STAND_IN"] == set(it.TLS_STAND_IN), set(it.TLS_STAND_IN) ^ used["TLS_STAND_IN"]


def test_every_feed_error_the_engine_and_the_reader_pick_is_in_the_catalogue_and_every_one_is_used():
    used = _catalogue_uses()["FEED_ERROR"]
    assert used == set(it.FEED_ERROR), set(it.FEED_ERROR) ^ used


def test_every_phase_a_probe_enters_has_a_timeout_sentence_and_code():
    entered = {ProbeContext.__dataclass_fields__["phase"].default}
    for path in DETAIL_MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "enter":
                entered.update(_literal_keys(node.args[0]))
    assert entered >= {"link", "internet", "dns", "tcp", "banner", "tls", "protocol", "http"}, entered
    assert entered <= set(TIMEOUT_CODE_BY_PHASE) == set(it.TIMEOUT) - {"any"}


# the command line's errors (app.errors), whose messages are written where they are raised
CLI_ERRORS = {c.__name__ for c in vars(errors).values()
              if isinstance(c, type) and issubclass(c, errors.MailBeaconError)}


def _shown_strings(path: Path) -> list[ast.Constant]:
    """The string literals of a module that may reach a person through a catalogue: not
    docstrings, nor what goes to the log (for whoever debugs it), nor the message of a command
    line error (app.errors)."""
    tree = ast.parse(path.read_text())
    skipped = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    for node in ast.walk(tree):
        logged = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "log"
        raised = isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) \
            and isinstance(node.exc.func, ast.Name) and node.exc.func.id in CLI_ERRORS
        if logged or raised:
            skipped.update(id(n) for n in ast.walk(node))
    return [n for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skipped]


_WORDS = re.compile(r"[A-Za-z]+ [a-z]+ [a-z]+")


@pytest.mark.parametrize("path", DETAIL_MODULES, ids=lambda p: p.name)
def test_no_sentence_is_left_inline_in_the_probes_or_the_engine(path):
    """Only machine words stay in the probe code: codes, protocol commands, data keys."""
    # messages for programmers and an OpenSSL message matched, never shown to anyone
    machine = {"no probe for ", "the name lookup did not finish in time", "not yet valid"}
    for node in _shown_strings(path):
        assert node.value in machine or not _WORDS.search(node.value), f"{path.name}:{node.lineno}"


@pytest.mark.parametrize("path", DISCOVERY_MODULES, ids=lambda p: p.name)
def test_no_sentence_is_left_inline_in_discovery(path):
    """Only machine words stay in discovery's code: sources, results, URLs, record names, XML."""
    # the mark `discover --save` writes above the servers a person typed, and finds again
    machine = {"# entered in the set-up window"}
    for node in _shown_strings(path):
        assert node.value in machine or not _WORDS.search(node.value), f"{path.name}:{node.lineno}"


# ---------------------------------------------------------------- discovery's attempts

DISCOVERY_KEYS = [(family, key) for family, table in it.DISCOVERY.items() for key in table]
# a value for every placeholder, of the kind the sources pass
DISCOVERY_SAMPLE = {
    "name": "_submissions._tcp.corp.example", "rdtype": "SRV", "reason": "the connection was refused",
    "status": 503, "kinds": "imap, smtp", "message": "The email address can't be found",
    "address": "jane@corp.example", "target": "http://autodiscover.corp.example/autodiscover/autodiscover.xml",
    "limit": 10, "kind": "smtp", "host": "smtp.corp.example", "port": 465, "tls": "implicit",
    "domain": "corp.example", "provider": "Microsoft 365", "parent": "mailhost.example", "error": "KeyError",
}


def attempt_values(family: str, key: str, **override) -> dict:
    sample = {**DISCOVERY_SAMPLE, **override}
    return {name: sample[name] for name in fields(it.DISCOVERY[family][key])}


def finished_attempt(text: str) -> None:
    """A finished sentence; the SRV name a DNS sentence opens with starts with "_"."""
    finished_sentence(text.removeprefix("_"))


def recorded(text: str) -> str:
    """The detail as `tried` keeps it (cleaned, bounded) and as it is shown (scrubbed)."""
    return scrub_text(clean(text))


@pytest.mark.parametrize(("family", "key"), DISCOVERY_KEYS)
def test_every_discovery_detail_renders_as_a_finished_sentence(family, key):
    finished_attempt(it.attempt(family, key, **attempt_values(family, key)))
    # what a server or the system said may end in a stop of its own: still one stop
    ended = attempt_values(family, key, reason="Name or service not known.", message="Mailbox not found.")
    finished_attempt(it.attempt(family, key, **ended))
    # and where a value is missing, its stand-in reads as well
    finished_attempt(it.attempt(family, key, **attempt_values(family, key, **it.DISCOVERY_STAND_IN)))
    # the plain-http warning follows the sentence of an autoconfig document fetched over http://
    if family == "autoconfig":
        finished_attempt(it.attempt(family, key, **attempt_values(family, key)) + " "
                         + it.attempt("autoconfig", "plain_http"))


def test_an_http_answer_without_a_reason_phrase_ends_at_its_status():
    assert it.attempt("fetch", "status", status=500, reason="") == "The server answered HTTP 500."
    assert it.attempt("fetch", "status", status=500, reason="Internal Server Error") == (
        "The server answered HTTP 500 Internal Server Error.")


@pytest.mark.parametrize(("family", "key"), DISCOVERY_KEYS)
def test_a_secret_in_any_value_of_a_discovery_detail_is_scrubbed(family, key):
    """`discover` prints through the scrubber and the set-up window scrubs what was tried: a
    password or token a server put in an answer, a redirect or an error must be gone there."""
    for name in sorted(n for n in fields(it.DISCOVERY[family][key]) if isinstance(DISCOVERY_SAMPLE[n], str)):
        for secret in SECRET_VALUES:
            text = recorded(it.attempt(family, key, **attempt_values(family, key, **{name: secret})))
            assert SECRET not in text and TOKEN not in text, (name, text)


def test_every_sentence_discovery_picks_is_in_the_catalogue_and_every_entry_is_used():
    used = _catalogue_uses()
    assert used["DISCOVERY"] == set(DISCOVERY_KEYS), set(DISCOVERY_KEYS) ^ used["DISCOVERY"]
    assert used["DISCOVERY_STAND_IN"] == set(it.DISCOVERY_STAND_IN), \
        set(it.DISCOVERY_STAND_IN) ^ used["DISCOVERY_STAND_IN"]
