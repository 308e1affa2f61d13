"""The first-run window without discovery: the manual form checked against real servers (aiosmtpd,
Dovecot), plain-word errors, keyboard use, and when the tray opens it or hides it (policy)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QPushButton

from app.ui.setup_window import SAVE_ANYWAY_TEXT, SAVE_TEXT, SetupWindow
from app.ui.tray import TrayApp
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.imap import dovecot  # noqa: F401  (fixture)
from tests.servers.smtp import SMTPServer, free_port
from tests.ui.conftest import dispose_tray, make_diagnosis

ENDPOINT = '[[endpoints]]\nkind = "smtp"\nhost = "127.0.0.1"\nport = 2525\ntls = "none"\n'


@pytest.fixture
def config(make_config, certs):  # noqa: F811
    return make_config(f'[tls]\nca_file = "{certs.ca_pem}"\n[network]\ninternet_url = ""\n'
                       "[check]\ntimeout_s = 3\n")


@pytest.fixture
def window(qtbot, config):
    w = SetupWindow(config, address="")
    qtbot.addWidget(w)
    w.present()
    return w


def type_into(qtbot, widget, text: str) -> None:
    widget.setFocus()
    widget.clear()
    qtbot.keyClicks(widget, text)


def set_port(spin, port: int) -> None:
    spin.setValue(port)


def test_manual_form_checks_real_servers_and_names_what_fails(qtbot, window, certs, dovecot):  # noqa: F811
    with SMTPServer("starttls", certs.server_context("good")) as smtp:
        qtbot.mouseClick(window.manual_button, Qt.MouseButton.LeftButton)
        assert window.form.isVisible() and window.state == "manual"
        form = window.form
        type_into(qtbot, form.sending.host, "127.0.0.1")
        set_port(form.sending.port, smtp.port)
        assert form.sending.tls == "starttls"
        type_into(qtbot, form.receiving.host, "127.0.0.1")
        assert form.receiving.tls == "implicit" and form.receiving.port.value() == 993
        set_port(form.receiving.port, dovecot.ports["imaps"])
        assert not window.save_button.isEnabled()  # nothing is saved unchecked

        # Enter presses the default button: the check
        assert window.check_button.isDefault()
        qtbot.keyClick(form.receiving.host, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: window.state == "manual_checked", timeout=10000)
        assert [r.state for r in window.rows] == ["ok", "ok"]
        assert [r.result.text() for r in window.rows] == ["Sending mail works.", "Receiving mail works."]
        assert window.save_button.isEnabled() and window.save_button.text() == SAVE_TEXT
        assert window.save_button.isDefault()
        assert "Press Save" in window.summary.text()

        # typing again voids the check; a port nobody listens on is red, in one sentence
        set_port(form.receiving.port, free_port())
        assert not window.save_button.isEnabled() and window.rows == []
        qtbot.mouseClick(window.check_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.state == "manual_checked", timeout=10000)
        assert [r.state for r in window.rows] == ["ok", "fail"]
        sentence = window.rows[1].result.text()
        assert "not answering: check the server name and port" in sentence and sentence.count(". ") == 0
        assert window.save_button.text() == SAVE_ANYWAY_TEXT and window.save_button.isEnabled()
        # the technical detail is one click further, not on the face of the window
        assert not window.it_detail.isVisible()
        window.it_button.click()
        assert "tcp_refused" in window.it_detail.toPlainText()


def test_security_choice_moves_a_proposed_port_but_keeps_a_typed_one(window):
    window.show_manual()
    sending = window.form.sending
    assert sending.port.value() == 587
    sending.security.setCurrentIndex(sending.security.findData("implicit"))
    assert sending.port.value() == 465
    sending.port.setValue(2465)
    sending.security.setCurrentIndex(sending.security.findData("starttls"))
    assert sending.port.value() == 2465
    window.form.protocol.setCurrentIndex(window.form.protocol.findData("pop3"))
    assert window.form.receiving.port.value() == 995


@pytest.mark.parametrize(
    ("host", "words"),
    [("https://mail.corp.example", "without http://"), ("mail.corp.example:25", "own box"), ("", "at least one")],
)
def test_bad_manual_input_is_one_sentence_and_nothing_runs(qtbot, window, host, words):
    window.show_manual()
    type_into(qtbot, window.form.sending.host, host)
    window.check_manual()
    assert words in window.status.text()
    assert window.rows == [] and not window.save_button.isEnabled()


def test_a_bad_address_is_explained_before_anything_is_looked_up(qtbot, window):
    called = []
    window._discover = lambda *a: called.append(a)
    type_into(qtbot, window.address, "jane at corp")
    qtbot.keyClick(window.address, Qt.Key.Key_Return)
    assert "name@example.com" in window.status.text()
    assert called == [] and window.state == "empty"


def test_keyboard_only_mnemonics_default_button_and_escape(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    assert QApplication.focusWidget() is window.address or window.address.hasFocus()
    assert window.find_button.isDefault()
    assert window.find_button.text() == "&Find my mail servers"
    # Alt+B opens the manual form (focused on the sending server), Alt+R the receiving one
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_B, Qt.KeyboardModifier.AltModifier)
    # a button's mnemonic "animates" the click: it lands a moment later
    qtbot.waitUntil(lambda: window.form.isVisible(), timeout=2000)
    assert window.form.sending.host.hasFocus()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_R, Qt.KeyboardModifier.AltModifier)
    assert window.form.receiving.host.hasFocus()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_E, Qt.KeyboardModifier.AltModifier)
    assert window.address.hasFocus()
    # Tab walks address -> Find -> the form, in reading order
    window.address.setFocus()
    order = []
    for _ in range(4):
        window.focusNextChild()
        order.append(QApplication.focusWidget())
    assert order == [window.find_button, window.form.sending.host, window.form.sending.port,
                     window.form.sending.security]
    # no two mnemonics share a letter (a shared one only moves focus instead of acting)
    widgets = [*window.findChildren(QLabel), *window.findChildren(QPushButton)]
    texts = [w.text() for w in widgets if "&" in w.text()]
    letters = [t[t.index("&") + 1].lower() for t in texts]
    assert len(letters) == len(set(letters)) >= 8, texts
    with qtbot.waitSignal(window.rejected, timeout=2000):
        qtbot.keyClick(window.address, Qt.Key.Key_Escape)
    assert not window.isVisible()


def test_the_address_the_os_knows_is_prefilled_off_the_gui_thread(qtbot, config, monkeypatch):
    import threading

    from app import firstrun

    asked = []

    def windows_upn():  # what GetUserNameExW(NameUserPrincipal) gives on a domain laptop
        asked.append(threading.current_thread())
        return "jane.doe@corp.example"

    monkeypatch.setattr(firstrun, "os_address", windows_upn)
    w = SetupWindow(config)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.address.text() == "jane.doe@corp.example", timeout=3000)
    assert asked and asked[0] is not threading.main_thread()
    # an address the person already typed is never overwritten
    typed = SetupWindow(config)
    qtbot.addWidget(typed)
    typed.address.setText("me@home.example")
    qtbot.waitUntil(lambda: typed._jobs == [], timeout=3000)
    assert typed.address.text() == "me@home.example"


def test_the_address_is_prefilled_and_read_only_when_policy_sets_it(qtbot, make_config, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('[mail]\naddress = "jane@corp.example"\n', encoding="utf-8")
    w = SetupWindow(make_config("", policy_file=policy))
    qtbot.addWidget(w)
    assert w.address.text() == "jane@corp.example" and w.address.isReadOnly()
    prefilled = SetupWindow(make_config('[mail]\naddress = "sam@corp.example"\n'))
    qtbot.addWidget(prefilled)
    assert prefilled.address.text() == "sam@corp.example" and not prefilled.address.isReadOnly()


# ---------------------------------------------------------------- the tray side


@pytest.fixture
def make_tray(qtbot, make_config):
    made = []

    def make(text: str = "", diagnosis=None, **config_kwargs) -> TrayApp:
        tray = TrayApp(make_config(text + '[network]\ninternet_url = ""\n', **config_kwargs),
                       diagnose=lambda c: diagnosis or make_diagnosis("unknown"),
                       tray_available=lambda: True, watch_network=False)
        made.append(tray)
        return tray

    yield make
    for tray in made:
        dispose_tray(tray)


def visible_texts(tray):
    return [a.text() for a in tray.menu.actions() if a.isVisible() and not a.isSeparator()]


def test_a_tray_with_nothing_to_watch_opens_the_window_at_start(qtbot, make_tray):
    tray = make_tray()
    assert "Set up…" in visible_texts(tray)
    tray.start()
    qtbot.waitUntil(lambda: tray._setup is not None and tray._setup.isVisible(), timeout=3000)
    assert tray._setup.windowTitle() == "Set up MailBeacon"


def test_a_configured_tray_does_not_open_it_but_offers_it_in_the_menu(qtbot, make_tray):
    tray = make_tray(ENDPOINT, diagnosis=make_diagnosis("ok"))
    tray.start()
    qtbot.waitUntil(lambda: tray.verdict == "ok", timeout=5000)
    assert tray._setup is None
    tray.setup_action.trigger()
    assert tray._setup.isVisible()


def test_policy_endpoints_hide_the_window_and_the_menu_entry(qtbot, make_tray, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(ENDPOINT, encoding="utf-8")
    tray = make_tray(diagnosis=make_diagnosis("ok"), policy_file=policy)
    assert "Set up…" not in visible_texts(tray)
    tray.start()
    qtbot.waitUntil(lambda: tray.verdict == "ok", timeout=5000)
    tray.show_setup()  # e.g. a second launch or a stale shortcut
    assert tray._setup is None
