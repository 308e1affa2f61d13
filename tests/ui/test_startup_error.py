"""The tray's "cannot start" mode: a bad config shows a grey icon, a menu, a tooltip and a window
with one sentence; fixing the file (in place or by an atomic rename) starts the real tray
without a restart; later unexpected exceptions are logged and shown once, never an abort."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer, QUrl

from app import config as config_mod
from app.errors import ConfigError
from app.ui import icons
from app.ui.startup_error import CannotStart, cannot_start_sentence
from app.ui.tray import TrayApp
from app.ui.unexpected import UnexpectedErrors
from tests.ui.conftest import dispose_tray, make_diagnosis

GOOD = '[network]\ninternet_url = ""\n[check]\ninterval_s = 30\n'
BAD = '[network]\ninternet_url = ""\n[check]\ninterval_s = "soon"\n'


def load(path: Path) -> config_mod.Config:
    return config_mod.load(path, system_file=None, policy_file=None, env={}, registry=False)


def failure(path: Path) -> BaseException:
    with pytest.raises(ConfigError) as caught:
        load(path)
    return caught.value


def same_icon(a, b) -> bool:
    return a.pixmap(32, 32).toImage() == b.pixmap(32, 32).toImage()


@pytest.fixture
def config_file(tmp_path) -> Path:
    path = tmp_path / "conf" / "mailbeacon.toml"
    path.parent.mkdir()
    path.write_text(BAD, encoding="utf-8")
    return path


@pytest.fixture
def opened() -> list[QUrl]:
    return []


@pytest.fixture
def make_problem(qtbot, tmp_path, opened):
    made = []

    def make(path: Path, retry, exc: BaseException | None = None) -> CannotStart:
        problem = CannotStart(exc or failure(path), retry=retry, config_file=path,
                              log_dir=tmp_path / "logs", open_url=opened.append,
                              tray_available=lambda: True, settle_ms=50)
        qtbot.addWidget(problem.window)
        made.append(problem)
        problem.show()
        return problem

    yield make
    for problem in made:
        problem.close()


def test_sentences_name_the_setting_and_the_file(tmp_path, config_file):
    sentence = cannot_start_sentence(failure(config_file))
    assert sentence.startswith("MailBeacon cannot start: the setting check.interval_s")
    assert "…/mailbeacon.toml" in sentence and str(config_file.parent) not in sentence
    assert "number" in sentence and sentence.count(".") >= 1 and "\n" not in sentence

    missing = failure(tmp_path / "nowhere" / "mailbeacon.toml")
    assert cannot_start_sentence(missing) == (
        "MailBeacon cannot start: the config file …/mailbeacon.toml was not found.")

    broken = tmp_path / "broken.toml"
    broken.write_text("[check\ninterval_s = 30\n", encoding="utf-8")
    assert "line 1 of …/broken.toml" in cannot_start_sentence(failure(broken))

    env_error = pytest.raises(ConfigError, config_mod.load, None, user_file=None, system_file=None,
                              policy_file=None, env={"MAILBEACON_CHECK_INTERVAL_S": "x"},
                              registry=False).value
    assert "MAILBEACON_CHECK_INTERVAL_S" in cannot_start_sentence(env_error)

    assert cannot_start_sentence(failure(broken), brief=True) == (
        "MailBeacon cannot start: the config file has a mistake on line 1 of …/broken.toml.")

    crash = cannot_start_sentence(RuntimeError("history database is locked"))
    assert crash.startswith("MailBeacon cannot start: something went wrong")
    assert "history database is locked" in crash and "log file" in crash


def test_a_secret_in_the_bad_value_never_reaches_the_sentence(tmp_path):
    path = tmp_path / "mailbeacon.toml"
    path.write_text('[report]\nwebhook_url = "ftp://it:hunter2secret@hooks.example/x?token=abc123def"\n',
                    encoding="utf-8")
    sentence = cannot_start_sentence(failure(path))
    assert "report.webhook_url" in sentence
    assert "hunter2secret" not in sentence and "abc123def" not in sentence


def test_unreadable_file_says_so(tmp_path, config_file):
    if os.geteuid() == 0:
        # root reads any file; a folder in place of the file is unreadable for everyone
        config_file.unlink()
        config_file.mkdir()
    else:
        config_file.chmod(0)
    sentence = cannot_start_sentence(failure(config_file))
    assert sentence.startswith("MailBeacon cannot start: the config file …/mailbeacon.toml cannot be read")


def test_bad_config_shows_grey_icon_menu_tooltip_and_window(make_problem, config_file, opened, caplog):
    caplog.set_level(logging.ERROR)
    problem = make_problem(config_file, retry=lambda: load(config_file))
    sentence = problem.sentence
    assert "check.interval_s" in sentence
    assert problem.tray.isVisible()
    assert same_icon(problem.tray.icon(), icons.icon("unknown"))
    assert not same_icon(problem.tray.icon(), icons.icon("ok"))
    # menu and tooltip: which setting in which file, short enough for a menu and Windows' tooltip
    brief = "MailBeacon cannot start: the setting check.interval_s in …/mailbeacon.toml is not right."
    assert problem.brief == brief and len(brief) <= 127
    assert problem.tray.toolTip() == brief
    texts = [a.text() for a in problem.menu.actions() if not a.isSeparator()]
    assert texts == [brief, "Open the config file", "Open the log folder", "Quit"]
    assert problem.window.isVisible() and problem.window.label.text() == sentence
    assert [b.text() for b in (problem.window.config_button, problem.window.logs_button,
                                problem.window.quit_button)] == [
        "Open the config file", "Open the log folder", "Quit"]
    # the log keeps the whole error: the full path and line, not only the short sentence
    assert f"{config_file}:4" in caplog.text

    problem.window.config_button.click()
    problem.window.logs_button.click()
    assert [u.toLocalFile() for u in opened] == [str(config_file), str(problem.log_dir)]
    assert problem.log_dir.is_dir()


def test_window_opens_once_and_the_sentence_follows_the_next_mistake(make_problem, qtbot, config_file):
    problem = make_problem(config_file, retry=lambda: load(config_file))
    problem.window.close()
    config_file.write_text(BAD.replace('"soon"', "5"), encoding="utf-8")
    qtbot.waitUntil(lambda: "not 'soon'" not in problem.sentence, timeout=5000)
    assert "check.interval_s" in problem.sentence and "5" in problem.sentence
    assert problem.window.label.text() == problem.sentence
    assert not problem.window.isVisible()  # once: a second mistake does not pop it up again
    problem.sentence_action.trigger()  # the menu's sentence opens it on request
    assert problem.window.isVisible()


@pytest.mark.parametrize("atomic", [False, True], ids=["in-place", "atomic-rename"])
def test_fixing_the_file_brings_the_normal_tray_up_without_restart(make_problem, qtbot, config_file, atomic):
    started: list[TrayApp] = []

    def start() -> TrayApp:
        tray = TrayApp(load(config_file), diagnose=lambda c: make_diagnosis("ok"),
                       tray_available=lambda: True, watch_network=False)
        started.append(tray)
        tray.start()
        return tray

    problem = make_problem(config_file, retry=start)
    try:
        if atomic:  # what editors do: write a new file beside it, rename it over the old one
            new = config_file.with_name(".mailbeacon.toml.swp")
            new.write_text(GOOD, encoding="utf-8")
            os.replace(new, config_file)
        else:
            config_file.write_text(GOOD, encoding="utf-8")
        with qtbot.waitSignal(problem.recovered, timeout=5000) as blocker:
            pass
        tray = blocker.args[0]
        assert tray is started[-1] and tray.config.check.interval_s == 30
        assert not problem.tray.isVisible() and not problem.window.isVisible()
        assert tray.tray.isVisible()
        qtbot.waitUntil(lambda: tray.verdict == "ok", timeout=5000)
        assert same_icon(tray.tray.icon(), icons.icon("ok"))
        assert problem.watcher.files() == [] and problem.watcher.directories() == []
    finally:
        for tray in started:
            dispose_tray(tray)


def test_a_config_file_created_later_is_seen(make_problem, qtbot, tmp_path):
    path = tmp_path / "later" / "mailbeacon.toml"
    path.parent.mkdir()
    problem = make_problem(path, retry=lambda: load(path))
    assert "was not found" in problem.sentence
    path.write_text(GOOD, encoding="utf-8")
    with qtbot.waitSignal(problem.recovered, timeout=5000) as blocker:
        pass
    assert blocker.args[0].check.interval_s == 30


def test_an_exception_while_starting_is_logged_with_its_traceback(make_problem, config_file, caplog):
    caplog.set_level(logging.ERROR)
    config_file.write_text(GOOD, encoding="utf-8")

    def explode():
        raise RuntimeError("history database is locked")

    try:
        explode()
    except RuntimeError as exc:
        problem = make_problem(config_file, retry=explode, exc=exc)
    assert "something went wrong while starting (history database is locked)" in problem.sentence
    assert "Traceback" in caplog.text and "in explode" in caplog.text
    assert problem.tray.toolTip() == (
        "MailBeacon cannot start: something went wrong while starting; the log file has the details.")


@pytest.mark.qt_no_exception_capture
def test_later_exceptions_are_logged_and_shown_once_never_an_abort(qtbot, caplog):
    caplog.set_level(logging.ERROR)
    shown: list[tuple[str, str]] = []
    errors = UnexpectedErrors(lambda title, text: shown.append((title, text)))
    errors.install()
    ran_after: list[int] = []
    try:
        def broken_slot():
            raise ValueError("a bug in a slot")

        QTimer.singleShot(0, broken_slot)
        QTimer.singleShot(0, broken_slot)
        QTimer.singleShot(50, lambda: ran_after.append(1))
        worker = threading.Thread(target=lambda: 1 / 0)
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: errors.count == 3 and ran_after == [1], timeout=5000)
        qtbot.wait(50)
    finally:
        errors.uninstall()
    assert len(shown) == 1 and shown[0][0] == UnexpectedErrors.TITLE
    assert caplog.text.count("Traceback") == 3
    assert "ValueError: a bug in a slot" in caplog.text and "ZeroDivisionError" in caplog.text


def test_without_a_tray_closing_the_window_quits(qtbot, tmp_path, config_file, monkeypatch):
    from PySide6.QtCore import QCoreApplication

    quits = []
    monkeypatch.setattr(QCoreApplication, "quit", staticmethod(lambda: quits.append(1)))
    problem = CannotStart(failure(config_file), retry=lambda: load(config_file), config_file=config_file,
                          log_dir=tmp_path / "logs", open_url=lambda url: None,
                          tray_available=lambda: False)
    qtbot.addWidget(problem.window)
    problem.show()
    assert not problem.tray.isVisible() and problem.window.isVisible()
    problem.window.close()  # the only thing on screen: closing it must not leave a ghost process
    assert quits == [1]
