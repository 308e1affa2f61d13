"""The report dialog: preview equals the dry-run bytes, Enter sends, sent/saved messages, no freeze."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.report import build
from app.report.outbox import Outbox
from app.ui.report_dialog import SAVED_MESSAGE, ReportDialog
from tests.servers.receiver import Receiver, Reply
from tests.servers.smtp import free_port
from tests.unit.test_report_build import diag


@pytest.fixture
def receiver():
    rx = Receiver().start()
    yield rx
    rx.stop()


@pytest.fixture
def open_dialog(qtbot, make_config):
    dialogs = []

    def make(url: str) -> ReportDialog:
        cfg = make_config(f'[mail]\naddress = "jo@example.com"\n[report]\nwebhook_url = "{url}"\n')
        dialog = ReportDialog(cfg)
        qtbot.addWidget(dialog)
        dialogs.append(dialog)
        dialog.open_for(diag())
        return dialog

    yield make
    for dialog in dialogs:  # let background jobs finish before the widgets go
        qtbot.waitUntil(lambda d=dialog: not d._jobs, timeout=20000)


def test_preview_is_exactly_what_dry_run_prints(open_dialog, qtbot, receiver, monkeypatch, capsysbinary, tmp_path):
    dialog = open_dialog(receiver.url)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10000)
    qtbot.keyClicks(dialog.note, "Since 9, password=hunter2xyz")
    dialog.toggle.click()
    assert dialog.preview.isVisible() and dialog.preview.isReadOnly()
    shown = dialog.preview.toPlainText()
    report = dialog.current_report()
    assert report["note"] == "Since 9, password=[redacted]"
    # the CLI's dry run prints body_bytes of its report: feed it the dialog's report
    from app import cli
    from app.commands import report as report_cmd

    monkeypatch.setattr(report_cmd, "build_report", lambda config, note="": report)
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text(f'[report]\nwebhook_url = "{receiver.url}"\n')
    assert cli.main(["report", "--dry-run", "--config", str(cfg_file)]) == 0
    printed = capsysbinary.readouterr().out
    assert printed == build.body_bytes(report) == shown.encode("utf-8")
    assert receiver.requests == []


def test_enter_starts_a_new_line_and_ctrl_enter_sends(open_dialog, qtbot, receiver):
    dialog = open_dialog(receiver.url)
    assert dialog.send_button.isDefault()
    qtbot.keyClicks(dialog.note, "printer too")
    qtbot.keyClick(dialog.note, Qt.Key.Key_Return)  # a half-written note never goes
    qtbot.keyClicks(dialog.note, "and the scanner")
    qtbot.wait(200)
    assert dialog.outcome is None and not dialog._sending and receiver.requests == []
    qtbot.keyClick(dialog.note, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # possibly before the report is ready
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=15000)
    assert len(receiver.requests) == 1
    sent = receiver.requests[0].json()
    assert sent["note"] == "printer too\nand the scanner" and sent["id"] == dialog.report["id"]
    # one way out after sending
    assert dialog.send_button.text() == "Close" and dialog.close_button.isHidden()
    assert dialog.status.text().startswith("Sent to IT at ")
    assert dialog.status.text()[len("Sent to IT at "):][:5].replace(":", "").isdigit()
    assert Outbox().waiting_count() == 0


def test_unreachable_receiver_says_saved(open_dialog, qtbot):
    dialog = open_dialog(f"http://127.0.0.1:{free_port()}/hook")
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10000)
    dialog.send_button.click()
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=15000)
    assert dialog.status.text() == SAVED_MESSAGE
    assert Outbox().waiting_count() == 1


def test_sending_never_freezes_the_dialog(open_dialog, qtbot, receiver):
    receiver.replies = [Reply(hang=True)]
    dialog = open_dialog(receiver.url)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10000)
    qtbot.keyClick(dialog.note, Qt.Key.Key_Enter, Qt.KeyboardModifier.ControlModifier)
    assert receiver.got_request.wait(10)
    ticks = []
    from PySide6.QtCore import QTimer

    QTimer.singleShot(10, lambda: ticks.append(1))
    qtbot.waitUntil(lambda: ticks == [1], timeout=2000)  # the event loop runs while the send hangs
    assert dialog.status.text() == "Sending…" and not dialog.send_button.isEnabled()
    receiver.release()  # the receiver drops the connection: the report waits in the outbox
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=20000)
    assert dialog.status.text() == SAVED_MESSAGE


def test_copy_and_save(open_dialog, qtbot, receiver, tmp_path):
    dialog = open_dialog(receiver.url)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10000)
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == dialog.preview_text()
    target = tmp_path / "report.json"
    assert dialog.save_to(target)
    assert target.read_bytes() == build.body_bytes(dialog.current_report())
    assert "IT's report service" in dialog.contents.text()


def _it_status(incident_id: str = "INC-7", affects_mail: bool = True) -> dict:
    return {
        "source": "native",
        "fetched_at": "2025-03-04T10:00:00.000Z",
        "error": None,
        "stale": False,
        "incidents": [{
            "id": incident_id, "title": "Mail server disk full", "status": "identified",
            "message": "We are freeing space.", "updated_at": "2025-03-04T09:55:00.000Z",
            "next_update_at": None,
        }] if affects_mail else [],
    }


def test_known_incident_says_so_and_send_adds_me_to_the_affected_list(qtbot, make_config, receiver):
    cfg = make_config(f'[mail]\naddress = "jo@example.com"\n[report]\nwebhook_url = "{receiver.url}"\n')
    dialog = ReportDialog(cfg)
    qtbot.addWidget(dialog)
    dialog.open_for(diag(it_status=_it_status("INC-7")))
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10000)
    assert dialog.known_label.isVisible()
    assert "IT is aware: Mail server disk full" in dialog.known_label.text()
    assert dialog.send_button.text() == "Add me to the affected list"
    assert dialog.send_button.isDefault()
    dialog.send_button.click()
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=15000)
    assert receiver.requests[0].json()["known_incident"] == "INC-7"
    qtbot.waitUntil(lambda: not dialog._jobs, timeout=20000)

    # the same dialog opened again without an incident is a plain report
    dialog.open_for(diag(it_status=_it_status(affects_mail=False)))
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10000)
    assert not dialog.known_label.isVisible()
    assert dialog.send_button.text() == "Send"
    assert dialog.report["known_incident"] is None
    qtbot.waitUntil(lambda: not dialog._jobs, timeout=20000)


def test_the_dialog_says_no_secrets_are_included(open_dialog, qtbot, receiver):
    dialog = open_dialog(receiver.url)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10000)
    assert dialog.no_secrets.isVisible()
    assert dialog.no_secrets.text() == "No passwords, tokens or other secrets are included."
    one = dict(dialog.report, history=[{"at": "2026-01-01T00:00:00Z", "verdict": "down", "headline": "x"}])
    assert "The 1 change in mail status" in dialog.describe(one)
    assert "The 2 changes in mail status" in dialog.describe(dict(one, history=one["history"] * 2))


def test_without_a_channel_it_says_so_and_offers_save_and_copy(qtbot, make_config, tmp_path):
    cfg = make_config('[mail]\naddress = "jo@example.com"\n')
    dialog = ReportDialog(cfg)
    qtbot.addWidget(dialog)
    dialog.open_for(diag())
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10000)
    assert dialog.no_channel_label.isVisible()
    assert "IT has not set up where they go" in dialog.no_channel_label.text()
    assert dialog.send_button.isHidden()  # no "Send" that could never send
    assert dialog.save_button.isDefault() and dialog.copy_button.isEnabled()
    assert dialog.close_button.text() == "Close"
    assert "nobody yet, because no report channel is set up" in dialog.contents.text()
    assert "sent automatically" not in dialog.no_channel_label.text()
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == dialog.preview_text()
    assert dialog.save_to(tmp_path / "r.json")
    qtbot.waitUntil(lambda: not dialog._jobs, timeout=20000)


def test_no_channel_outcome_never_promises_automatic_sending():
    from app.report.outbox import Outcome

    text = ReportDialog.outcome_message(Outcome(id="x", no_channel=True))
    assert "sent automatically" not in text and "Save to file" in text
