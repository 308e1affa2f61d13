"""First-run rules without Qt: when set-up is offered, the address the OS knows, the manual
form's endpoints, and the config a check runs on."""

from __future__ import annotations

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


def _diagnosis(checks, verdict="ok", headline="Mail works."):
    return Diagnosis(verdict=verdict, layer="none", headline=headline, advice="", checked_at="",
                     duration_ms=1.0, checks=checks)


def test_typed_servers_replace_found_ones_in_the_user_file_and_say_so(isolated_home):
    from app import config as config_mod
    from app.discovery import Discovery, save

    config = config_mod.load(system_file=None, policy_file=None, registry=False,
                             env={"MAILBEACON_HOME": str(isolated_home)})
    found = Discovery("jane@corp.example", "corp.example", "srv",
                      [{"kind": "smtp", "host": "mx.corp.example", "port": 465, "tls": "implicit"}])
    path = firstrun.save_choice(save, found, "", [], config)
    typed = [Endpoint("smtp", "smtp.corp.example", 587, "starttls")]
    assert firstrun.save_choice(save, None, "jane@corp.example", typed, config) == path
    text = path.read_text(encoding="utf-8")
    assert text.count("# entered in the set-up window") == 1 and "found by" not in text
    assert "mx.corp.example" not in text
    reread = config_mod.load(system_file=None, policy_file=None, registry=False,
                             env={"MAILBEACON_HOME": str(isolated_home)})
    assert reread.endpoints == typed and reread.mail.address == "jane@corp.example"
