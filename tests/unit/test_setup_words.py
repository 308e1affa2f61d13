"""What the set-up window says: where servers were found, each server and how it answered in one
sentence a person can act on, and what to do next."""

from __future__ import annotations

from types import SimpleNamespace

from app.config import Endpoint
from app.diagnosis.model import CODES, Check, Diagnosis
from app.words import setup as words


def _result(source, endpoints, tried=()):
    return SimpleNamespace(address="jane@corp.example", domain="corp.example", source=source,
                           endpoints=list(endpoints), tried=list(tried))


SMTP = {"kind": "smtp", "host": "smtp.office365.com", "port": 587, "tls": "starttls"}


def test_source_sentences_say_where_from_in_plain_words():
    assert words.source_sentence(_result("autoconfig", [SMTP])) == (
        "Found through your mail provider's settings file (autoconfig).")
    assert "Exchange" in words.source_sentence(_result("autodiscover", [SMTP]))
    assert "(DNS SRV)" in words.source_sentence(_result("srv", [SMTP]))
    assert words.source_sentence(_result("mx", [SMTP])).endswith("your mail is at Microsoft 365.")
    gmail = dict(SMTP, host="smtp.gmail.com")
    assert words.source_sentence(_result("mx", [gmail])).endswith("your mail is at Google.")
    insecure = _result("autoconfig", [SMTP], [
        {"source": "autoconfig", "url": "https://autoconfig.corp.example/x", "result": "not_found"},
        {"source": "autoconfig", "url": "http://autoconfig.corp.example/x", "result": "found"}])
    assert "unsecured connection" in words.source_sentence(insecure)
    nothing = words.source_sentence(_result("none", []))
    assert nothing.startswith("No mail servers were found for corp.example.")


def test_check_words_one_sentence_each_with_what_to_do():
    ok = Check("smtp h:587", "smtp", "h:587", "ok", "ok", "Greeting 220 received. EHLO fine.")
    warn = Check("smtp h:587", "smtp", "h:587", "warn", "slow", "It answered slowly. It took 2100 ms.")
    refused = Check("imap h:993", "imap", "h:993", "fail", "tcp_refused",
                    "The server at h:993 refused the connection (nothing is listening).")
    no_name = Check("smtp h:587", "smtp", "h:587", "fail", "dns_nxdomain", "The name h does not exist.")
    wrong_tls = Check("smtp h:465", "smtp", "h:465", "fail", "tls_handshake_failed", "Handshake failed.")
    assert words.check_sentence(ok) == "Sending mail works."
    assert words.check_sentence(warn) == "Sending mail works, but slowly."
    assert words.check_sentence(refused) == (
        "The server for receiving mail is not answering: check the server name and port, "
        "or whether it only works at the office.")
    assert words.check_sentence(no_name) == (
        "The name of the server for sending mail cannot be found: check the server name.")
    assert words.check_sentence(wrong_tls).endswith(": try another security setting.")
    assert words.check_sentence(None) == "Checking…"
    assert [words.check_state(c) for c in (ok, warn, refused, None)] == ["ok", "warn", "fail", "waiting"]


def test_every_failing_code_is_one_plain_sentence_without_addresses_or_codes():
    for code, (_layer, status) in CODES.items():
        if status != "fail":
            continue
        for kind in ("smtp", "imap", "pop3", "https"):
            check = Check(f"{kind} 192.0.2.7:1", kind, "192.0.2.7:1", "fail", code, "detail for IT")
            sentence = words.check_sentence(check)
            assert sentence.endswith(".") and sentence.count(". ") == 0, sentence
            assert "192.0.2.7" not in sentence and code not in sentence and "detail" not in sentence


def test_summary_says_what_to_do_next():
    smtp, imap = Endpoint("smtp", "h", 587), Endpoint("imap", "h", 993, "implicit")
    good = Check(smtp.id, "smtp", smtp.target, "ok", "ok", "fine")
    bad = Check(imap.id, "imap", imap.target, "fail", "tcp_refused", "refused")
    assert "Press Save" in words.summary_sentence(_diagnosis([good]), [smtp])
    assert words.summary_sentence(_diagnosis([good, bad]), [smtp, imap]).startswith("One server did not answer.")
    pop = Endpoint("pop3", "h", 995, "implicit")
    bad_pop = Check(pop.id, "pop3", pop.target, "fail", "tcp_refused", "refused")
    assert "Some servers" in words.summary_sentence(_diagnosis([good, bad, bad_pop]), [smtp, imap, pop])
    assert "None of these" in words.summary_sentence(_diagnosis([bad]), [imap])
    offline = _diagnosis([bad], verdict="local", headline="This computer is not connected to any network.")
    assert words.summary_sentence(offline, [imap]).startswith("This computer is not connected")


def test_endpoint_words():
    assert words.endpoint_words(Endpoint("smtp", "smtp.x", 587, "starttls")) == (
        "smtp.x, port 587, secured with STARTTLS")
    assert words.endpoint_words(Endpoint("imap", "imap.x", 143, "none")).endswith("not secured")
    assert words.endpoint_title(Endpoint("pop3", "p", 995, "implicit")) == "Receiving mail (POP3)"


def _diagnosis(checks, verdict="ok", headline="Mail works."):
    return Diagnosis(verdict=verdict, layer="none", headline=headline, advice="", checked_at="",
                     duration_ms=1.0, checks=checks)


def test_it_detail_lists_every_attempt_and_check_without_secrets():
    result = _result("autoconfig", [SMTP], [
        {"source": "autoconfig", "url": "https://autoconfig.corp.example/x?token=s3cr3tvalue",
         "result": "error", "detail": "It did not answer in time."},
        {"source": "autoconfig", "url": "https://corp.example/.well-known/x", "result": "found",
         "detail": "A clientConfig document lists smtp."}])
    check = Check("smtp smtp.office365.com:587", "smtp", "smtp.office365.com:587", "fail", "tcp_refused",
                  "The server at smtp.office365.com:587 refused the connection.")
    text = words.it_detail(result, _diagnosis([check]))
    assert "s3cr3tvalue" not in text
    assert "It did not answer in time." in text and "A clientConfig document lists smtp." in text
    assert "tcp_refused" in text and "smtp.office365.com:587" in text
    assert words.it_detail(None) == ""
