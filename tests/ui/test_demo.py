"""`mailbeacon demo`: a real STARTTLS server on loopback, its config, the outage switch, and the
tray going green -> red -> green against it with the real diagnosis engine."""

from __future__ import annotations

import smtplib
import ssl
import sys

import pytest

from app import config as config_mod
from app.cli import main
from app.demo import INSTALL_HINT, Demo
from app.ui.tray import TrayApp
from tests.ui.conftest import dispose_tray


@pytest.fixture
def demo(tmp_path):
    pytest.importorskip("aiosmtpd")
    pytest.importorskip("trustme")
    d = Demo(tmp_path / "demo", hub=False)  # the demo with its hub: tests/hub/test_demo_hub.py
    d.start()
    yield d
    d.stop()


def load(demo: Demo):
    return config_mod.load(demo.config_path, system_file=None, policy_file=None, env={}, registry=False)


def starttls_ok(demo: Demo) -> bool:
    ca_file = load(demo).tls.ca_file
    context = ssl.create_default_context(cafile=ca_file)
    with smtplib.SMTP("127.0.0.1", demo.smtp_port, timeout=5) as client:
        client.starttls(context=context)  # verifies the chain and the 127.0.0.1 name
        return client.noop()[0] == 250


def test_demo_serves_starttls_with_its_own_ca_and_writes_a_config(demo):
    config = load(demo)
    assert config.network.internet_url == ""
    assert config.check.interval_s == 10 and config.check.confirm_after_s == 2
    assert [(e.kind, e.host, e.port, e.tls) for e in config.endpoints] == [
        ("smtp", "127.0.0.1", demo.smtp_port, "starttls")
    ]
    assert starttls_ok(demo)
    assert str(demo.smtp_port) in demo.running["smtp"]
    assert demo.running["config"] == str(demo.config_path)


def test_outage_switch_closes_and_reopens_the_port(demo):
    demo.simulate_outage()
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", demo.smtp_port, timeout=5)
    demo.end_outage()
    assert starttls_ok(demo)


def test_extra_sections_from_other_parts_land_in_the_config(demo):
    demo.config_sections["report"] = {"webhook_url": "http://127.0.0.1:9/hook"}
    demo.write_config()
    assert load(demo).report.webhook_url == "http://127.0.0.1:9/hook"


def test_tray_goes_green_red_green_against_the_demo(demo, qtbot):
    pytest.importorskip("app.diagnosis.engine")
    tray = TrayApp(load(demo), tray_available=lambda: True, watch_network=False)
    tray.start()
    try:
        qtbot.waitUntil(lambda: tray.verdict == "ok", timeout=8000)
        demo.simulate_outage()
        tray.check_now()
        qtbot.waitUntil(lambda: tray.verdict == "down", timeout=9000)
        assert [t for t, _ in tray.notifications] == ["Mail is down"]
        demo.end_outage()
        tray.check_now()
        qtbot.waitUntil(lambda: tray.verdict == "ok", timeout=8000)
        assert [t for t, _ in tray.notifications] == ["Mail is down", "Mail works again"]
    finally:
        dispose_tray(tray)


def test_menu_switches_drive_the_demo_and_only_the_useful_one_is_enabled(demo, qtbot):
    pytest.importorskip("app.diagnosis.engine")
    from app.commands.demo import add_switches

    tray = TrayApp(load(demo), tray_available=lambda: True, watch_network=False)
    simulate, end = add_switches(tray, demo)
    texts = [a.text() for a in tray.menu.actions()]
    assert texts.index("Simulate outage") < texts.index("End outage") < texts.index("Quit")
    # "Start at login" is off and cannot be switched on: the demo never writes a login item
    assert not tray.autostart_action.isEnabled() and not tray.autostart_action.isChecked()
    assert tray.autostart_action.text() == "Start at login (off in the demo)"
    tray.set_autostart(True)
    assert tray._autostart is None and not tray.autostart_action.isChecked()
    tray.start()
    try:
        qtbot.waitUntil(lambda: tray.verdict == "ok", timeout=8000)
        assert simulate.isEnabled() and not end.isEnabled()
        simulate.trigger()
        assert demo.outage and end.isEnabled() and not simulate.isEnabled()
        qtbot.waitUntil(lambda: tray.verdict == "down", timeout=9000)
        end.trigger()
        assert not demo.outage and simulate.isEnabled() and not end.isEnabled()
        qtbot.waitUntil(lambda: tray.verdict == "ok", timeout=8000)
    finally:
        dispose_tray(tray)


def test_demo_without_its_packages_says_how_to_install_them(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "trustme", None)
    status = main(["demo"])
    err = capsys.readouterr().err
    assert status == 69
    assert INSTALL_HINT in err and "Traceback" not in err


def test_demo_runs_a_webhook_receiver_and_a_feed_file_for_it(demo):
    config = load(demo)
    assert config.report.webhook_url == demo.webhook.url
    assert config.feed.url == str(demo.feed_path) and config.feed.interval_s == 10
    assert demo.running["webhook"].startswith(demo.webhook.url)
    assert demo.running["feed"] == str(demo.feed_path)

    # IT posts an incident to the demo's feed: the next check shows it
    from app import feed
    from app.diagnosis.engine import diagnose

    assert diagnose(config).it_status["incidents"] == []
    incident = feed.post(demo.feed_path, "Demo incident", "Testing the feed")
    assert [i["id"] for i in diagnose(config).it_status["incidents"]] == [incident]

    # a report sent by the tray reaches the demo's receiver, which prints it
    import io

    from app.report import build
    from app.report.channels import configured
    from app.report.outbox import Outbox

    demo.webhook.out = printed = io.StringIO()
    outcome = Outbox().submit(build.build_report(config, diagnose(config)), configured(config))
    assert outcome.delivered == ["webhook"]
    assert len(demo.webhook.reports) == 1
    assert printed.getvalue().startswith("[IT webhook] report ")
