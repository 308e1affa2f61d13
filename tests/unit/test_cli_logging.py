"""Logging: the tray keeps a log file for IT; standard error never shows a traceback by default."""

from __future__ import annotations

import logging

import pytest

from app import cli
from app.paths import user_paths


@pytest.fixture
def clean_root_logger():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    yield root
    for handler in root.handlers:
        handler.close()
    root.handlers, root.level = saved


def test_tray_logs_to_a_file_with_tracebacks_and_stderr_gets_one_line(clean_root_logger, capsys):
    cli._setup_logging(0, to_file=True)
    log = logging.getLogger("app.test")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("the check failed")
    log.info("tray running")
    for handler in clean_root_logger.handlers:
        handler.flush()
    err = capsys.readouterr().err
    assert "the check failed" in err and "Traceback" not in err and "tray running" not in err
    text = user_paths().log_file.read_text(encoding="utf-8")
    assert "the check failed" in text and "Traceback" in text and "ValueError: boom" in text
    assert "tray running" in text


def test_commands_other_than_the_tray_write_no_log_file(clean_root_logger):
    cli._setup_logging(0, to_file=False)
    logging.getLogger("app.test").warning("hello")
    assert not user_paths().log_file.exists()
