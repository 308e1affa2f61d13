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
    cli.setup_logging(0, to_file=True)
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
    cli.setup_logging(0, to_file=False)
    logging.getLogger("app.test").warning("hello")
    assert not user_paths().log_file.exists()


def _run(args: list[str], home, **env: str):
    import os
    import subprocess
    import sys

    full = {**os.environ, "MAILBEACON_HOME": str(home), **env}
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, timeout=30, env=full)


def test_output_a_console_cannot_encode_is_replaced_not_a_traceback(tmp_path):
    """A Windows pipe (cp1252) or a latin-1 terminal cannot show every character a headline or a
    server's greeting holds; the table and the JSON still come out."""
    config = tmp_path / "c.toml"
    # port 1 on loopback refuses: the headline carries a dash outside ASCII
    config.write_text('[network]\ninternet_url = ""\n[[endpoints]]\nkind = "smtp"\nhost = "127.0.0.1"\nport = 1\n')
    for extra in ([], ["--json"]):
        proc = _run(["check", *extra, "--config", str(config)], tmp_path, PYTHONIOENCODING="ascii")
        assert proc.returncode == 2, proc.stderr
        assert b"Traceback" not in proc.stderr and b"tcp_refused" in proc.stdout


def test_an_unexpected_error_is_one_line_on_stderr(tmp_path, monkeypatch, capsys, clean_root_logger):
    def broken(args):
        raise RuntimeError("disk on fire")

    import app.commands.check as check_cmd

    monkeypatch.setattr(check_cmd, "run", broken)
    status = cli.main(["check", "--config", str(tmp_path / "none.toml")])
    err = capsys.readouterr().err
    assert status == 70
    assert "disk on fire" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_the_tray_without_a_desktop_says_why_instead_of_aborting(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    for command in (["tray"], ["demo"]):
        proc = subprocess.run([sys.executable, "-m", "app", *command], capture_output=True, text=True,
                              env=env, timeout=30)
        assert proc.returncode == 69, proc.stderr
        assert proc.stderr.startswith("mailbeacon: no desktop session here") and "mailbeacon check" in proc.stderr
        assert "qt.qpa" not in proc.stderr


def test_a_desktop_or_an_explicit_qt_platform_is_enough():
    from app.commands.tray import NoDesktop, require_desktop

    require_desktop({"DISPLAY": ":0"}, "linux")
    require_desktop({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    require_desktop({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    require_desktop({}, "win32")
    with pytest.raises(NoDesktop):
        require_desktop({}, "linux")


def test_the_log_file_rolls_over_and_keeps_a_few(tmp_path):
    from app.cli import _CappedFileHandler

    path = tmp_path / "mailbeacon.log"
    handler = _CappedFileHandler(path, max_bytes=2000, backups=3)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("app.test.roll")
    log.propagate = False
    log.addHandler(handler)
    try:
        for i in range(200):
            log.warning("line %04d %s", i, "x" * 40)
    finally:
        log.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["mailbeacon.log", "mailbeacon.log.1", "mailbeacon.log.2", "mailbeacon.log.3"]
    assert all(p.stat().st_size < 2100 for p in tmp_path.iterdir())
    newest = path.read_text() + (tmp_path / "mailbeacon.log.1").read_text()
    assert "line 0199" in newest
    assert "line 0000" not in "".join(p.read_text() for p in tmp_path.iterdir())  # the oldest went
