"""First-run rules without Qt: when set-up is offered, the address the OS knows, the manual
form's endpoints, the config a check runs on, and the words staff read."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app import firstrun
from app.config import Endpoint
from app.diagnosis.model import Check, Diagnosis
from app.firstrun import ServerEntry, SetupInputError

ENDPOINT = '[[endpoints]]\nkind = "smtp"\nhost = "smtp.corp.example"\nport = 587\n'


def test_set_up_is_offered_only_with_nothing_to_watch_or_discover(make_config):
    empty = make_config("")
    assert firstrun.setup_allowed(empty) and firstrun.needs_setup(empty)
    # an address: the tray discovers first and asks only when that found nothing
    with_address = make_config('[mail]\naddress = "jane@corp.example"\n')
    assert firstrun.setup_allowed(with_address) and not firstrun.needs_setup(with_address)
    configured = make_config(ENDPOINT)
    assert firstrun.setup_allowed(configured) and not firstrun.needs_setup(configured)


def test_policy_endpoints_lock_set_up(make_config, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(ENDPOINT, encoding="utf-8")
    locked = make_config("", policy_file=policy)
    assert not firstrun.setup_allowed(locked)
    assert not firstrun.needs_setup(locked)
    assert not firstrun.nothing_to_watch(locked, _diagnosis([]))


def test_policy_without_endpoints_leaves_set_up_open_but_can_fix_the_address(make_config, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('[mail]\naddress = "jane@corp.example"\n', encoding="utf-8")
    config = make_config("", policy_file=policy)
    assert firstrun.setup_allowed(config)
    assert firstrun.address_locked(config)
    # the check never replaces what policy set
    checked = firstrun.config_for_check(config, [Endpoint("smtp", "h.example", 587)], "other@x.example")
    assert checked.mail.address == "jane@corp.example"


def test_endpoints_from_the_environment_also_lock_set_up(make_config):
    config = make_config("", env={"MAILBEACON_ENDPOINTS": "smtp://smtp.corp.example:587"})
    assert config.endpoints and not firstrun.setup_allowed(config)


def test_nothing_to_watch_after_a_check_without_endpoint_checks(make_config):
    config = make_config('[mail]\ndomain = "corp.example"\n')
    assert firstrun.nothing_to_watch(config, _diagnosis([]))
    smtp = Check("smtp h:587", "smtp", "h:587", "ok", "ok", "Greeting.")
    assert not firstrun.nothing_to_watch(config, _diagnosis([smtp]))
    assert not firstrun.nothing_to_watch(config, None)


def test_windows_upn_prefills_a_valid_address_only():
    calls = []

    def upn(fmt):
        calls.append(fmt)
        return "jane.doe@corp.example"

    assert firstrun.os_address("win32", upn) == "jane.doe@corp.example"
    assert calls == [8]  # NameUserPrincipal
    assert firstrun.os_address("win32", lambda _f: "") == ""
    assert firstrun.os_address("win32", lambda _f: "CORP\\jane") == ""

    def not_on_a_domain(_fmt):
        raise OSError(1332, "No mapping between account names and security IDs was done")

    assert firstrun.os_address("win32", not_on_a_domain) == ""
    # nothing reliable elsewhere: no guess from $USER and the host name
    assert firstrun.os_address("linux") == ""
    assert firstrun.os_address("darwin") == ""


def test_manual_entries_become_endpoints_and_blank_rows_are_skipped():
    endpoints = firstrun.manual_endpoints([
        ServerEntry("smtp", " smtp.corp.example ", 465, "implicit"),
        ServerEntry("imap", "", 993, "implicit"),
    ])
    assert endpoints == [Endpoint("smtp", "smtp.corp.example", 465, "implicit")]
    both = firstrun.manual_endpoints([
        ServerEntry("smtp", "10.0.0.5", 25, "none"),
        ServerEntry("pop3", "::1", 995, "implicit"),
    ])
    assert [(e.kind, e.host, e.port, e.tls) for e in both] == [
        ("smtp", "10.0.0.5", 25, "none"), ("pop3", "::1", 995, "implicit")]


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ("https://mail.corp.example/", "without http://"),
        ("mail.corp.example:587", "the port has its own box"),
        ("mail corp", "a name like mail.example.com"),
        ("bad_host!", "a name like mail.example.com"),
    ],
)
def test_a_bad_server_name_gets_one_plain_sentence(host, words):
    with pytest.raises(SetupInputError) as caught:
        firstrun.manual_endpoints([ServerEntry("smtp", host, 587, "starttls")])
    message = str(caught.value)
    assert words in message and "sending mail" in message
    assert message.count(".") >= 1 and "\n" not in message


def test_an_empty_form_asks_for_at_least_one_server():
    with pytest.raises(SetupInputError, match="at least one server"):
        firstrun.manual_endpoints([ServerEntry("smtp", " ", 587, "starttls"),
                                   ServerEntry("imap", "", 993, "implicit")])


def test_discovered_endpoints_convert_and_bad_ones_are_refused():
    https = firstrun.endpoint_from_dict(
        {"kind": "https", "host": "outlook.office365.com", "port": 443, "tls": "implicit",
         "name": "Webmail", "url": "https://outlook.office365.com/owa/"})
    assert https.url == "https://outlook.office365.com/owa/"
    assert firstrun.endpoint_to_dict(https)["url"] == https.url
    with pytest.raises(SetupInputError):
        firstrun.endpoint_from_dict({"kind": "smtp", "host": "a b", "port": 587, "tls": "starttls"})


def test_check_config_keeps_dns_ca_and_timeouts(make_config):
    config = make_config('[dns]\nnameservers = ["127.0.0.1:5353"]\n[check]\ntimeout_s = 2\n')
    endpoint = Endpoint("imap", "imap.corp.example", 993, "implicit")
    checked = firstrun.config_for_check(config, [endpoint], "jane@corp.example")
    assert checked.endpoints == [endpoint]
    assert checked.dns.nameservers == ["127.0.0.1:5353"]
    assert checked.check.timeout_s == 2
    assert checked.mail.address == "jane@corp.example"
    assert config.endpoints == [] and config.mail.address == ""  # the tray's own config is untouched


def _result(source, endpoints, tried=()):
    return SimpleNamespace(address="jane@corp.example", domain="corp.example", source=source,
                           endpoints=list(endpoints), tried=list(tried))


SMTP = {"kind": "smtp", "host": "smtp.office365.com", "port": 587, "tls": "starttls"}


def test_source_sentences_say_where_from_in_plain_words():
    assert firstrun.source_sentence(_result("autoconfig", [SMTP])) == (
        "Found through your mail provider's settings file (autoconfig).")
    assert "Exchange" in firstrun.source_sentence(_result("autodiscover", [SMTP]))
    assert "(DNS SRV)" in firstrun.source_sentence(_result("srv", [SMTP]))
    assert firstrun.source_sentence(_result("mx", [SMTP])).endswith("your mail is at Microsoft 365.")
    gmail = dict(SMTP, host="smtp.gmail.com")
    assert firstrun.source_sentence(_result("mx", [gmail])).endswith("your mail is at Google.")
    insecure = _result("autoconfig", [SMTP], [
        {"source": "autoconfig", "url": "https://autoconfig.corp.example/x", "result": "not_found"},
        {"source": "autoconfig", "url": "http://autoconfig.corp.example/x", "result": "found"}])
    assert "unsecured connection" in firstrun.source_sentence(insecure)
    nothing = firstrun.source_sentence(_result("none", []))
    assert nothing.startswith("No mail servers were found for corp.example.")


def test_check_words_one_sentence_each():
    ok = Check("smtp h:587", "smtp", "h:587", "ok", "ok", "Greeting 220 received. EHLO fine.")
    warn = Check("smtp h:587", "smtp", "h:587", "warn", "slow", "It answered slowly. It took 2100 ms.")
    fail = Check("imap h:993", "imap", "h:993", "fail", "tcp_refused",
                 "The server at h:993 refused the connection (nothing is listening). More for IT.")
    assert firstrun.check_sentence(ok) == "Works."
    assert firstrun.check_sentence(warn) == "Works, with a warning: It answered slowly."
    assert firstrun.check_sentence(fail) == (
        "The server at h:993 refused the connection (nothing is listening).")
    assert firstrun.check_sentence(None) == "Checking…"
    assert [firstrun.check_state(c) for c in (ok, warn, fail, None)] == ["ok", "warn", "fail", "waiting"]


def test_summary_says_what_to_do_next():
    smtp, imap = Endpoint("smtp", "h", 587), Endpoint("imap", "h", 993, "implicit")
    good = Check(smtp.id, "smtp", smtp.target, "ok", "ok", "fine")
    bad = Check(imap.id, "imap", imap.target, "fail", "tcp_refused", "refused")
    assert "Press Save" in firstrun.summary_sentence(_diagnosis([good]), [smtp])
    assert "Some servers" in firstrun.summary_sentence(_diagnosis([good, bad]), [smtp, imap])
    assert "None of these" in firstrun.summary_sentence(_diagnosis([bad]), [imap])
    offline = _diagnosis([bad], verdict="local", headline="This computer is not connected to any network.")
    assert firstrun.summary_sentence(offline, [imap]).startswith("This computer is not connected")


def test_endpoint_words():
    assert firstrun.endpoint_words(Endpoint("smtp", "smtp.x", 587, "starttls")) == (
        "smtp.x, port 587, secured with STARTTLS")
    assert firstrun.endpoint_words(Endpoint("imap", "imap.x", 143, "none")).endswith("not secured")
    assert firstrun.endpoint_title(Endpoint("pop3", "p", 995, "implicit")) == "Receiving mail (POP3)"


def _diagnosis(checks, verdict="ok", headline="Mail works."):
    return Diagnosis(verdict=verdict, layer="none", headline=headline, advice="", checked_at="",
                     duration_ms=1.0, checks=checks)
