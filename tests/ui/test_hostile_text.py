"""Outside text in the tray's windows, menu and notifications: feed titles and messages and
server answers that carry markup, huge titles, thousands of incidents, secrets. No widget renders
outside text as rich text, lengths and counts are bounded, many changes become one summary
notification, a plain-http feed is said to be unverified, and no secret is shown anywhere."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTextEdit, QWidget

from app import feed as feed_mod
from app.bounds import MAX_MENU_LINE, MAX_NOTIFICATION
from app.diagnosis.model import Check
from app.feed.text import NOT_VERIFIED
from app.ui.report_dialog import ReportDialog
from tests.ui.conftest import make_diagnosis
from tests.ui.test_tray import feed, make_tray, menu_texts  # noqa: F401

MARKUP = '<a href="http://evil.example/">Click to fix</a><h1>HUGE</h1><img src="http://evil.example/x.png">'
CANARY = "Canary-Qt8sW2"


def rendered_as_markup(root: QWidget) -> list[str]:
    """Widgets under `root` that would render outside markup: a label in rich (or auto-detected)
    format holding the raw tags, a rich text edit whose document turned them into an anchor,
    or a tooltip holding them (Qt renders tooltips as rich text when they look like it)."""
    found = []
    widgets = [root, *root.findChildren(QWidget)]
    for w in widgets:
        if "evil.example" in w.toolTip() and "<a " in w.toolTip():
            found.append(f"tooltip of {type(w).__name__}")
        if isinstance(w, QLabel) and "<a href" in w.text() and w.textFormat() != Qt.TextFormat.PlainText:
            found.append(f"QLabel {w.objectName() or w.text()[:40]!r} ({w.textFormat()})")
        if isinstance(w, QTextEdit) and "evil.example" in w.toHtml() and "<a href" not in w.toPlainText():
            found.append(f"QTextEdit {w.objectName()!r}")
    return found


def hostile_it_status(n: int = 1) -> dict:
    return {
        "source": "native", "fetched_at": "2024-01-01T10:00:00Z", "error": None,
        "incidents": [{"id": f"INC-{i}", "title": f"{MARKUP} {i}", "status": "investigating",
                       "message": MARKUP, "updated_at": "2024-01-01T10:00:00Z", "next_update_at": None}
                      for i in range(n)],
    }


def test_the_guard_itself_sees_a_rich_label(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    label = QLabel(MARKUP, parent)  # AutoText: Qt would render the link and the heading
    assert rendered_as_markup(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    assert not rendered_as_markup(parent)


def test_no_window_renders_outside_text_as_rich_text(make_tray, qtbot):  # noqa: F811
    tray = make_tray()
    diagnosis = make_diagnosis("down")
    diagnosis.checks.append(Check(id="smtp evil:25", kind="smtp", target="evil:25", status="fail",
                                  code="bad_greeting", detail=f"The server said: {MARKUP}",
                                  data={"greeting": [MARKUP]}, name=MARKUP))
    diagnosis.it_status = hostile_it_status(2)
    feed(tray, "down", checks=diagnosis.checks, it_status=diagnosis.it_status)
    feed(tray, "down", checks=diagnosis.checks, it_status=diagnosis.it_status)
    tray._update_it_status({**diagnosis.it_status, "error": f"The feed said {MARKUP}"})
    tray.show_details()
    window = tray._details
    window.it_toggle.click()
    assert "evil.example" in window.it_label.text()  # the outside text is there, as text
    assert "evil.example" in window.it_text.toPlainText()
    assert rendered_as_markup(window) == []

    dialog = ReportDialog(tray.config)
    qtbot.addWidget(dialog)
    dialog.open_for(diagnosis)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10000)
    dialog.toggle.click()
    assert "evil.example" in dialog.preview.toPlainText()
    assert rendered_as_markup(dialog) == []
    qtbot.waitUntil(lambda: not dialog._jobs, timeout=20000)


def test_thousands_of_incidents_and_huge_titles_are_bounded(make_tray, tmp_path):  # noqa: F811
    incidents = [{"id": f"INC-{i}", "title": f"Outage {i}", "status": "investigating", "message": "m"}
                 for i in range(3000)]
    incidents.insert(0, {"id": "BIG", "title": "T" * 100_000 + "\n" * 50, "status": "investigating",
                         "message": "M" * 100_000, "updated_at": "2030-01-01T00:00:00Z"})
    path = tmp_path / "status.json"
    path.write_text(json.dumps({"schema": 1, "updated_at": "2030-01-01T00:00:00Z", "incidents": incidents}))
    it_status = feed_mod.FeedReader(str(path)).read(5)
    assert it_status["error"] is None
    assert len(it_status["incidents"]) == 50
    top = it_status["incidents"][0]
    assert top["id"] == "BIG" and len(top["title"]) <= 200 and "\n" not in top["title"]
    assert len(top["message"]) <= 2000

    tray = make_tray()
    tray._update_it_status(it_status)
    # one summary, not one notification per incident
    assert len(tray.notifications) == 1
    title, text = tray.notifications[0]
    assert "50" in text and len(text) <= MAX_NOTIFICATION
    it_lines = [t for t in menu_texts(tray) if t.startswith("IT")]
    assert it_lines and all(len(t) <= MAX_MENU_LINE + 5 for t in it_lines)
    assert all(len(t) <= 300 for t in menu_texts(tray))
    # a few changes at once are still told one by one
    tray2 = make_tray()
    tray2._update_it_status(hostile_it_status(2))
    assert len(tray2.notifications) == 2


@pytest.mark.parametrize(("url", "verified"), [("http://status.example/feed.json", False),
                                               ("https://status.example/feed.json", True)])
def test_details_say_a_plain_http_feed_is_not_verified(make_tray, url, verified):  # noqa: F811
    tray = make_tray(f'[network]\ninternet_url = ""\n[feed]\nurl = "{url}"\n')
    tray._update_it_status(hostile_it_status(1))
    tray.show_details()
    assert (NOT_VERIFIED in tray._details.it_label.text()) is not verified


def test_notifications_and_the_dialog_show_no_secret(make_tray, qtbot, monkeypatch):  # noqa: F811
    monkeypatch.setenv("MAILBEACON_SECRET_REPORT_WEBHOOK_TOKEN", CANARY)
    tray = make_tray()
    status = hostile_it_status(1)
    status["incidents"][0]["message"] = f"use token {CANARY} and proxy u:{CANARY}x@proxy:3128"
    tray._update_it_status(status)
    tray.notify("Mail", f"the receiver said Bearer {CANARY}")
    assert tray.notifications and all(CANARY not in t + x for t, x in tray.notifications)
    assert all(CANARY not in t for t in menu_texts(tray))

    diagnosis = make_diagnosis("down")
    diagnosis.checks[1].detail = f"The proxy u:{CANARY}@127.0.0.1:3128 could not be reached."
    dialog = ReportDialog(tray.config)
    qtbot.addWidget(dialog)
    dialog.open_for(diagnosis)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10000)
    qtbot.keyClicks(dialog.note, f"my token is {CANARY}")
    dialog.toggle.click()
    shown = "\n".join(w.text() for w in dialog.findChildren(QLabel)) + dialog.preview.toPlainText()
    assert "127.0.0.1:3128" in shown and CANARY not in shown
    qtbot.waitUntil(lambda: not dialog._jobs, timeout=20000)


def test_far_future_feed_times_neither_break_nor_hide_the_incident_in_the_tray(make_tray, time_zone):  # noqa: F811
    time_zone("Asia/Tokyo")  # east of UTC: 9999-12-31T23:00Z is already year 10000 here
    tray = make_tray()
    status = hostile_it_status(1)
    status["incidents"][0].update(title="Far future", updated_at="9999-12-31T23:00:00.000Z",
                                  next_update_at="9999-12-31T23:59:59.000Z")
    tray._update_it_status(status)
    assert len(tray.notifications) == 1 and "Far future" in " ".join(tray.notifications[0])
    assert any("Far future" in t for t in menu_texts(tray))
    tray.show_details()
    assert "Far future" in tray._details.it_label.text()


def test_a_feed_url_with_a_login_is_not_shown_by_the_tray(make_tray, tmp_path):  # noqa: F811
    from tests.servers.smtp import free_port

    url = f"http://reader:{CANARY}@127.0.0.1:{free_port()}/feed.json"
    tray = make_tray(f'[network]\ninternet_url = ""\n[feed]\nurl = "{url}"\n')
    it_status = feed_mod.reader_for(tray.config).read(2)  # what the tray's own feed poll gets
    assert it_status["error"] and CANARY not in it_status["error"]
    tray._update_it_status(it_status)
    tray.show_details()
    shown = tray._details.it_label.text() + tray._details.as_text() + " ".join(menu_texts(tray))
    assert "127.0.0.1" in shown and CANARY not in shown
