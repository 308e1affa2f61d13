"""The one scrubber (app.report.redact): known secret values and secret shapes are masked in any
text, the logging filter applies it to every record, and the CLI printing layer neutralises
control characters and bidi overrides in what it prints."""

from __future__ import annotations

import json
import logging
import os
import stat

import pytest

from app import cli, jsonio, secrets
from app.paths import user_paths
from app.report import redact
from app.terminal import has_unsafe, printable

CANARY = "Canary-7f3a9Q"


@pytest.mark.parametrize(
    "text",
    [
        f"HTTP_PROXY=user:{CANARY}@proxy.example:3128",  # no scheme, as curl and requests accept
        f"The proxy user:{CANARY}@10.0.0.1:3128 could not be reached.",
        f"http://bob:{CANARY}@ss/w#rd@proxy:8080/",  # unencoded "@", "/", "#" in the password
        f"https://u:{CANARY}%40x@feed.example/status.json",
        f'{{"proxy": "u:{CANARY}@h:1"}}',
        f"https://feed.example/x.json?access_token={CANARY}&a=1",
        f"https://prod.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=1&sig={CANARY}",
        f"https://hooks.slack.com/services/T000/B000/{CANARY}",
        f"https://corp.webhook.office.com/webhookb2/a@b/IncomingWebhook/{CANARY}/c",
        f"you sent Authorization: Bearer {CANARY}",
    ],
)
def test_secret_shapes_are_masked(text):
    out = redact.scrub_text(text)
    assert CANARY not in out
    assert redact.REDACTED in out


def test_ordinary_text_is_left_alone():
    for text in ("jane@example.com wrote at 12:30", "mailto:jane@example.com",
                 "smtp.example.com:587 answered 220 ESMTP", "https://status.example/feed.json",
                 "the password is too short: use at least 8 characters", "the token is revoked"):
        assert redact.scrub_text(text) == text


def test_known_values_from_the_environment_and_the_registry(monkeypatch):
    monkeypatch.setenv("MAILBEACON_SECRET_REPORT_WEBHOOK_TOKEN", CANARY)
    assert CANARY not in redact.scrub_text(f"token was {CANARY}!")
    redact.register_secret("plain words secret 42")
    assert redact.scrub_text("it said plain words secret 42.") == f"it said {redact.REDACTED}."


def test_reading_a_secret_from_the_keyring_registers_it(monkeypatch):
    import keyring

    from tests.unit.test_report_secrets import FileKeyring

    monkeypatch.setenv("MB_TEST_KEYRING_FILE", str(user_paths().data_dir / "kr.json"))
    user_paths().data_dir.mkdir(parents=True, exist_ok=True)
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())
    try:
        FileKeyring().set_password("mailbeacon", "report.relay_password", CANARY)
        redact.forget_registered()
        assert CANARY in redact.scrub_text(CANARY)  # not known yet
        secrets.register_known()
        assert redact.scrub_text(f"relay said {CANARY}") == f"relay said {redact.REDACTED}"
    finally:
        keyring.set_keyring(previous)


def test_config_load_registers_url_passwords_and_webhook_paths(make_config):
    make_config(f"""
        [feed]
        url = "https://reader:{CANARY}@status.example/feed.json"
        [report]
        webhook_url = "https://it.example/hooks/abcdefgh{CANARY}"
    """)
    # later text that quotes them in another form is still masked
    assert CANARY not in redact.scrub_text(f"password {CANARY} rejected")
    assert CANARY not in redact.scrub_text(f"POST /hooks/abcdefgh{CANARY} failed")


def test_mask_url_keeps_only_the_origin():
    assert redact.mask_url("https://hooks.slack.com/services/T/B/X") == "https://hooks.slack.com/[redacted]"
    assert redact.mask_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080/"
    assert CANARY not in redact.mask_url(f"https://u:{CANARY}@h/x")


def test_the_log_filter_scrubs_messages_arguments_and_tracebacks(monkeypatch, capsys):
    monkeypatch.setenv("MAILBEACON_SECRET_REPORT_WEBHOOK_SECRET", CANARY)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    old = __import__("os").umask(0o022)
    try:
        cli.setup_logging(2, to_file=True)
        log = logging.getLogger("app.test")
        log.warning("proxy %s", f"user:{CANARY}@proxy:3128")
        try:
            raise ValueError(f"receiver said {CANARY}")
        except ValueError:
            log.exception("send failed")
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers, root.level = saved
        __import__("os").umask(old)
    log_file = user_paths().log_file
    text = log_file.read_text(encoding="utf-8")
    assert "send failed" in text and "Traceback" in text and "proxy user:[redacted]@proxy:3128" in text
    assert CANARY not in text
    assert CANARY not in capsys.readouterr().err
    # private whatever the umask: the log names addresses and servers
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(log_file.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "hostile",
    ["\x1b[2J", "\x1b]0;pwned\x07", "\x9b31m", "\u202eevil", "a\rb", "\x1bP+q\x1b\\", "\u2066x\u2069", "\x00"],
)
def test_printable_neutralises_controls_and_bidi(hostile):
    out = printable(f"Title {hostile} end")
    assert not has_unsafe(out)
    assert out.startswith("Title ") and out.endswith(" end")
    assert printable("line one\n\ttwo") == "line one\n\ttwo"


def test_json_output_escapes_the_same_characters_and_means_the_same():
    value = {"title": "x\u202ey\x9b\x1b[2J\x7f"}
    text = jsonio.dumps(value, pretty=True)
    assert not has_unsafe(text)
    assert json.loads(text) == value


def test_deeply_nested_json_is_a_value_error():
    with pytest.raises(ValueError):
        jsonio.loads("[" * 200_000)


def test_out_of_range_times_are_value_errors():
    with pytest.raises(ValueError):
        jsonio.parse_iso("9999-12-31T23:00:00-05:00")


def test_scrubbing_while_another_thread_changes_the_environment(monkeypatch):
    """A worker logs (and so scrubs) while the main thread changes os.environ: iterating the
    environment then raises RuntimeError or KeyError, which must not escape the scrubber."""
    import threading

    from app.report.redact import scrub_text

    monkeypatch.setenv("MAILBEACON_SECRET_REPORT_WEBHOOK_TOKEN", "canary-env-secret-123")
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn() -> None:
        i = 0
        while not stop.is_set():
            os.environ[f"MB_CHURN_{i % 50}"] = "x"
            os.environ.pop(f"MB_CHURN_{(i + 25) % 50}", None)
            i += 1

    worker = threading.Thread(target=churn, daemon=True)
    worker.start()
    try:
        for _ in range(3000):
            try:
                assert "canary-env-secret-123" not in scrub_text("token canary-env-secret-123 sent")
            except (RuntimeError, KeyError) as exc:
                errors.append(exc)
                break
    finally:
        stop.set()
        worker.join()
        for i in range(50):
            os.environ.pop(f"MB_CHURN_{i}", None)
    assert errors == []
