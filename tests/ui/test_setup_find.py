"""The first-run window with real discovery: it finds a domain's servers through DNS and an
HTTPS autoconfig document on loopback, checks them (one green, one red), saves the user config,
and the tray reads it again and turns green. Nothing found opens the manual form; the window
answers while discovery waits on a silent name server."""

from __future__ import annotations

import os
import stat

import pytest
from PySide6.QtCore import Qt

from app import config as config_mod
from app.ui.setup_window import SAVE_ANYWAY_TEXT, SAVE_TEXT, SetupWindow
from app.ui.tray import TrayApp
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.dns import DnsServer
from tests.servers.maildomain import MailDomain
from tests.ui.conftest import dispose_tray

pytestmark = pytest.mark.slow


def load_user_config():
    """The effective config from the user file in MAILBEACON_HOME only, as the tray reads it."""
    home = {"MAILBEACON_HOME": os.environ["MAILBEACON_HOME"]}
    return config_mod.load(system_file=None, policy_file=None, env=home, registry=False)


@pytest.fixture
def world(certs, isolated_home):  # noqa: F811
    with MailDomain(certs, "corp.test") as w:
        # what IT or the installer set for this machine stays in the user file next to what is saved
        (isolated_home / "mailbeacon.toml").write_text(w.config_text(), encoding="utf-8")
        yield w


def open_window(qtbot, config):
    window = SetupWindow(config, address="")
    qtbot.addWidget(window)
    window.present()
    return window


def find(qtbot, window, address):
    window.address.setFocus()
    window.address.clear()
    qtbot.keyClicks(window.address, address)
    qtbot.keyClick(window.address, Qt.Key.Key_Return)  # Find is the default button
    qtbot.waitUntil(lambda: window.state in ("found_checked", "nothing"), timeout=30000)


def test_finds_checks_and_saves_the_servers_of_an_address(qtbot, world, isolated_home):
    window = open_window(qtbot, load_user_config())
    find(qtbot, window, world.address)

    assert window.status.text() == "Found through your mail provider's settings file (autoconfig)."
    assert [(r.endpoint.kind, r.endpoint.host) for r in window.rows] == [
        ("smtp", "smtp.corp.test"), ("imap", "imap.corp.test")]
    smtp, imap = window.rows
    assert (smtp.state, smtp.result.text()) == ("ok", "Sending mail works.")
    assert imap.state == "fail"
    assert imap.result.text().startswith("The server for receiving mail is not answering: check")
    assert window.save_button.text() == SAVE_ANYWAY_TEXT and window.save_button.isDefault()
    window.it_button.click()
    assert "https://autoconfig.corp.test/mail/config-v1.1.xml" in window.it_detail.toPlainText()

    with qtbot.waitSignal(window.saved, timeout=10000):
        qtbot.keyClick(window.address, Qt.Key.Key_Return)  # now Save is the default button
    assert not window.isVisible()
    path = isolated_home / "mailbeacon.toml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "# found by `mailbeacon discover` (autoconfig)" in path.read_text(encoding="utf-8")
    saved = load_user_config()
    assert saved.mail.address == "jane@corp.test"
    assert [(e.kind, e.host, e.port, e.tls) for e in saved.endpoints] == [
        ("smtp", "smtp.corp.test", world.smtp.port, "starttls"),
        ("imap", "imap.corp.test", world.imap_port, "implicit")]
    # what was in the file before is still there
    assert saved.dns.nameservers == [world.dns.nameserver]


def test_nothing_found_offers_the_manual_form_which_is_checked_and_saved(qtbot, world, isolated_home):
    window = open_window(qtbot, load_user_config())
    find(qtbot, window, "sam@nowhere.test")
    assert window.state == "nothing"
    assert window.status.text().startswith("No mail servers were found for nowhere.test.")
    assert window.form.isVisible() and window.form.sending.host.hasFocus()
    assert window.check_button.isDefault() and not window.save_button.isEnabled()

    qtbot.keyClicks(window.form.sending.host, "smtp.corp.test")
    window.form.sending.port.setValue(world.smtp.port)
    qtbot.keyClick(window.form.sending.host, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.state == "manual_checked", timeout=15000)
    assert [r.state for r in window.rows] == ["ok"]
    assert window.save_button.text() == SAVE_TEXT
    with qtbot.waitSignal(window.saved, timeout=10000):
        window.save_button.click()
    saved = load_user_config()
    text = (isolated_home / "mailbeacon.toml").read_text(encoding="utf-8")
    assert "# entered in the set-up window" in text and "found by" not in text
    assert saved.mail.address == "sam@nowhere.test"
    assert [(e.kind, e.host, e.port, e.tls) for e in saved.endpoints] == [
        ("smtp", "smtp.corp.test", world.smtp.port, "starttls")]


def test_the_window_answers_while_discovery_waits_and_drops_the_late_result(qtbot, make_config):
    with DnsServer(mode="dead") as dns:
        window = open_window(qtbot, make_config(
            f'[dns]\nnameservers = ["{dns.nameserver}"]\n[network]\ninternet_url = ""\n'
            "[check]\ntimeout_s = 1\n"))
        window.address.setText("jane@corp.test")
        window.find()
        assert window.state == "finding" and "Looking for the mail servers of corp.test" in window.status.text()
        qtbot.waitUntil(lambda: len(dns.queries) > 0, timeout=5000)
        # the name server is silent: discovery is still waiting, yet Esc closes the window
        assert window.state == "finding"
        with qtbot.waitSignal(window.rejected, timeout=1000):
            qtbot.keyClick(window.address, Qt.Key.Key_Escape)
        # discovery gives up within 3 x timeout_s; its result then reaches nobody
        qtbot.waitUntil(lambda: window._jobs == [], timeout=10000)
        assert window.state == "finding" and window.rows == [] and window.found is None


def test_after_save_the_tray_reads_the_config_again_and_turns_green(qtbot, certs, isolated_home):  # noqa: F811
    with MailDomain(certs, "corp.test", imap=False) as world:
        (isolated_home / "mailbeacon.toml").write_text(world.config_text(), encoding="utf-8")
        tray = TrayApp(load_user_config(), load_config=load_user_config,
                       tray_available=lambda: True, watch_network=False)
        try:
            tray.start()
            qtbot.waitUntil(lambda: tray._setup is not None and tray._setup.isVisible(), timeout=5000)
            qtbot.waitUntil(lambda: tray.verdict == "unknown", timeout=10000)
            find(qtbot, tray._setup, world.address)
            assert [r.state for r in tray._setup.rows] == ["ok"]
            tray._setup.save_button.click()
            qtbot.waitUntil(lambda: tray.verdict == "ok", timeout=15000)
            assert [e.host for e in tray.config.endpoints] == ["smtp.corp.test"]
            assert tray.config.mail.webmail_url == "https://webmail.corp.test/"
            assert "Open webmail" in [a.text() for a in tray.menu.actions() if a.isVisible()]
            assert tray.monitor.confirmed.endpoint_checks[0].status == "ok"
        finally:
            dispose_tray(tray)


def test_a_config_that_cannot_be_written_is_one_sentence_and_nothing_is_lost(qtbot, world, isolated_home):
    window = open_window(qtbot, load_user_config())
    window.show_manual()
    qtbot.keyClicks(window.form.sending.host, "smtp.corp.test")
    window.form.sending.port.setValue(world.smtp.port)
    window.check_manual()
    qtbot.waitUntil(lambda: window.state == "manual_checked", timeout=15000)
    user_file = isolated_home / "mailbeacon.toml"
    kept = user_file.read_text(encoding="utf-8")
    user_file.unlink()
    user_file.mkdir()  # a broken profile: a folder where the file should be
    window.save_button.click()
    qtbot.waitUntil(lambda: "Could not save" in window.summary.text(), timeout=10000)
    sentence = window.summary.text()
    assert str(user_file) in sentence and "Is a directory" in sentence and "\n" not in sentence
    assert "Traceback" not in sentence and window.isVisible()
    # the person's entries are still there and Save works once the folder is gone
    assert window.save_button.isEnabled() and window.form.sending.host.text() == "smtp.corp.test"
    user_file.rmdir()
    user_file.write_text(kept, encoding="utf-8")
    with qtbot.waitSignal(window.saved, timeout=10000):
        window.save_button.click()
    assert [e.host for e in load_user_config().endpoints] == ["smtp.corp.test"]


def test_when_the_trays_own_discovery_finds_nothing_the_window_opens_once(qtbot, world, isolated_home):
    # an address IT set, on a domain that publishes nothing: the tray's check discovers first
    user_file = isolated_home / "mailbeacon.toml"
    user_file.write_text('[mail]\naddress = "sam@nowhere.test"\n' + world.config_text(), encoding="utf-8")
    tray = TrayApp(load_user_config(), load_config=load_user_config,
                   tray_available=lambda: True, watch_network=False)
    try:
        tray.start()
        qtbot.waitUntil(lambda: tray.monitor.latest is not None, timeout=20000)
        assert tray.monitor.latest.discovery["source"] == "none"
        qtbot.waitUntil(lambda: tray._setup is not None and tray._setup.isVisible(), timeout=5000)
        assert tray._setup.address.text() == "sam@nowhere.test"
        tray._setup.reject()
        first = tray.monitor.latest
        tray.check_now()
        qtbot.waitUntil(lambda: tray.monitor.latest is not first, timeout=20000)
        # the same slot that delivers a pass would open the window: it did not
        assert not tray._setup.isVisible()  # asked once per run, not after every check
    finally:
        dispose_tray(tray)


def test_found_servers_can_be_corrected_by_hand_and_what_is_typed_is_saved(qtbot, world, isolated_home):
    window = open_window(qtbot, load_user_config())
    find(qtbot, window, world.address)
    assert [r.state for r in window.rows] == ["ok", "fail"]
    qtbot.mouseClick(window.manual_button, Qt.MouseButton.LeftButton)
    form = window.form
    # the form starts from what was found
    assert (form.sending.host.text(), form.sending.port.value(), form.sending.tls) == (
        "smtp.corp.test", world.smtp.port, "starttls")
    assert (form.receiving.host.text(), form.receiving.port.value()) == ("imap.corp.test", world.imap_port)
    assert window.save_button.isEnabled()  # nothing changed yet: what was found can still be saved
    form.receiving.host.clear()  # this person has no IMAP account
    assert not window.save_button.isEnabled() and window.found is None and window.rows == []
    qtbot.keyClick(form.sending.host, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.state == "manual_checked", timeout=15000)
    assert [r.state for r in window.rows] == ["ok"] and window.save_button.text() == SAVE_TEXT
    with qtbot.waitSignal(window.saved, timeout=10000):
        qtbot.keyClick(form.sending.host, Qt.Key.Key_Return)
    assert [(e.kind, e.host) for e in load_user_config().endpoints] == [("smtp", "smtp.corp.test")]
