"""Report delivery to a real HTTP receiver on loopback, through the real command line."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.report.channels import configured
from app.report.outbox import Outbox
from tests.servers.receiver import Receiver, Reply
from tests.servers.smtp import free_port
from tests.unit.test_report_build import diag

ROOT = Path(__file__).resolve().parents[2]
BASE = """
[network]
internet_url = ""
[dns]
control_name = "localhost"
[check]
timeout_s = 2
[report]
"""


def write_config(tmp_path: Path, **report: str) -> Path:
    path = tmp_path / "mb.toml"
    path.write_text(BASE + "".join(f'{k} = "{v}"\n' for k, v in report.items()), encoding="utf-8")
    return path


def cli(*args: str, config: Path, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args, "--config", str(config)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=dict(os.environ, **(env or {})))


def outbox_dir() -> Path:
    return Path(os.environ["MAILBEACON_HOME"]) / "outbox"


def waiting() -> list[Path]:
    return sorted(outbox_dir().glob("*.json")) if outbox_dir().exists() else []


def test_delivery_with_headers_and_verifiable_signature(tmp_path):
    with Receiver() as rx:
        cfg = write_config(tmp_path, webhook_url=rx.url)
        env = {"MAILBEACON_SECRET_REPORT_WEBHOOK_TOKEN": "tok-123456", "MAILBEACON_SECRET_REPORT_WEBHOOK_SECRET": "hmac-key"}
        done = cli("report", "--json", "--note", "hello IT", config=cfg, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["delivered"] == ["webhook"] and out["queued"] == [] and out["failed"] == [] and out["path"] is None
    (req,) = rx.requests
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["Idempotency-Key"] == out["id"]
    assert req.headers["User-Agent"].startswith("MailBeacon/")
    assert req.headers["Authorization"] == "Bearer tok-123456"
    expected = "sha256=" + hmac.new(b"hmac-key", req.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(req.headers["X-MailBeacon-Signature"], expected)
    report = req.json()
    assert report["id"] == out["id"] and report["note"] == "hello IT"
    assert b"tok-123456" not in req.body and b"hmac-key" not in req.body
    assert waiting() == []


def test_receiver_down_queues_then_flush_delivers_that_report(tmp_path):
    port = free_port()
    cfg = write_config(tmp_path, webhook_url=f"http://127.0.0.1:{port}/hook")
    done = cli("report", "--json", config=cfg)
    assert done.returncode == 75, done.stderr
    out = json.loads(done.stdout)
    assert out["queued"] == ["webhook"] and out["delivered"] == []
    saved = Path(out["path"])
    assert saved == outbox_dir() / f"{out['id']}.json" and saved.exists()
    body = saved.read_bytes()
    listed = cli("outbox", "list", config=cfg)
    assert out["id"] in listed.stdout and "webhook: pending" in listed.stdout
    with Receiver(port=port) as rx:
        flushed = cli("outbox", "flush", "--json", config=cfg)
    assert flushed.returncode == 0, flushed.stderr
    assert [o["id"] for o in json.loads(flushed.stdout)] == [out["id"]]
    (req,) = rx.requests
    assert req.headers["Idempotency-Key"] == out["id"] and req.body == body
    assert waiting() == []


def test_400_is_kept_in_failed_with_the_reason(tmp_path):
    with Receiver() as rx:
        rx.replies = [Reply(400, body=b"unknown schema")]
        cfg = write_config(tmp_path, webhook_url=rx.url)
        done = cli("report", "--json", config=cfg)
    assert done.returncode == 1, done.stderr
    out = json.loads(done.stdout)
    assert out["failed"][0]["channel"] == "webhook" and "400" in out["failed"][0]["reason"]
    assert "unknown schema" in out["failed"][0]["reason"]
    failed = outbox_dir() / "failed" / f"{out['id']}.json"
    assert out["path"] == str(failed) and json.loads(failed.read_bytes())["id"] == out["id"]
    assert "400" in (outbox_dir() / "failed" / f"{out['id']}.reason.txt").read_text()
    assert waiting() == []
    assert "refused" in cli("outbox", "list", config=cfg).stdout


def test_redirect_is_a_permanent_refusal(tmp_path, make_config):
    with Receiver() as rx:
        rx.replies = [Reply(302, headers={"Location": "http://127.0.0.1:1/elsewhere"})]
        cfg = make_config(BASE + f'webhook_url = "{rx.url}"\n')
        outcome = Outbox().submit(_report(cfg), configured(cfg))
    assert outcome.failed and "redirect" in outcome.failed[0]["reason"] and len(rx.requests) == 1


def _report(cfg):
    from app.report.build import build_report

    return build_report(cfg, diag())


def test_retry_after_on_429_is_honoured(make_config):
    now = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
    clock = [now]
    with Receiver() as rx:
        rx.replies = [Reply(429, headers={"Retry-After": "120"}), Reply(200)]
        cfg = make_config(BASE + f'webhook_url = "{rx.url}"\n')
        outbox = Outbox(clock=lambda: clock[0])
        channels = configured(cfg)
        outcome = outbox.submit(_report(cfg), channels)
        assert outcome.queued == ["webhook"] and outcome.exit_status == 75
        state = outbox.read_state(outcome.id)["channels"]["webhook"]
        assert state["next_attempt_at"] == "2025-03-04T10:02:00.000Z" and "429" in state["last_error"]
        clock[0] = now + timedelta(seconds=100)
        assert outbox.flush(channels)[0].queued == ["webhook"]
        assert len(rx.requests) == 1  # not before Retry-After
        clock[0] = now + timedelta(seconds=121)
        assert outbox.flush(channels)[0].delivered == ["webhook"]
        assert len(rx.requests) == 2 and outbox.waiting_count() == 0


def test_backoff_is_exponential_with_jitter(tmp_path):
    low, high = Outbox(tmp_path, rng=lambda: 0.0), Outbox(tmp_path, rng=lambda: 0.999)
    assert [low.backoff(n) for n in (1, 2, 3)] == [15.0, 30.0, 60.0]
    assert 29 < high.backoff(1) < 30 and high.backoff(20) < 3600


def test_only_the_channel_that_failed_is_retried(tmp_path):
    port = free_port()
    with Receiver() as slack:
        cfg = write_config(tmp_path, webhook_url=f"http://127.0.0.1:{port}/hook", slack_url=slack.url)
        done = cli("report", "--json", config=cfg)
        assert done.returncode == 75, done.stderr
        out = json.loads(done.stdout)
        assert out["delivered"] == ["slack"] and out["queued"] == ["webhook"]
        with Receiver(port=port) as hook:
            flushed = cli("outbox", "flush", config=cfg)
        assert flushed.returncode == 0, flushed.stderr
    assert len(slack.requests) == 1 and len(hook.requests) == 1
    assert hook.requests[0].headers["Idempotency-Key"] == out["id"]
    assert "blocks" in slack.requests[0].json()
    assert waiting() == []


def test_sigkill_mid_send_keeps_the_report_and_reuses_its_key(tmp_path):
    with Receiver() as rx:
        rx.replies = [Reply(hang=True), Reply(200)]
        cfg = write_config(tmp_path, webhook_url=rx.url)
        proc = subprocess.Popen([sys.executable, "-m", "app", "report", "--config", str(cfg)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert rx.got_request.wait(20), "the report never reached the receiver"
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        (saved,) = waiting()
        first_key = rx.requests[0].headers["Idempotency-Key"]
        assert saved.stem == first_key
        rx.release()
        flushed = cli("outbox", "flush", config=cfg)
    assert flushed.returncode == 0, flushed.stderr
    assert len(rx.requests) == 2
    assert rx.requests[1].headers["Idempotency-Key"] == first_key
    assert rx.requests[1].body == rx.requests[0].body
    assert waiting() == []


def test_no_channel_saves_and_prints_the_path(tmp_path):
    cfg = write_config(tmp_path)
    done = cli("report", config=cfg)
    assert done.returncode == 78
    path = Path(done.stdout.strip())
    assert path.exists() and path.parent == outbox_dir()
    assert "No report channel is configured" in done.stderr


def test_dry_run_prints_the_body_and_sends_nothing(tmp_path):
    with Receiver() as rx:
        cfg = write_config(tmp_path, webhook_url=rx.url)
        done = cli("report", "--dry-run", "--note", "just looking", config=cfg)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["note"] == "just looking" and report["schema"] == 1
    from app.report.build import body_text

    assert done.stdout == body_text(report)
    assert rx.requests == [] and waiting() == []


@pytest.mark.parametrize("status", [500, 503, 408])
def test_server_errors_are_retried(make_config, status):
    with Receiver() as rx:
        rx.replies = [Reply(status)]
        cfg = make_config(BASE + f'webhook_url = "{rx.url}"\n')
        outcome = Outbox().submit(_report(cfg), configured(cfg))
    assert outcome.queued == ["webhook"] and not outcome.failed


def test_flush_configured_respects_backoff_unless_forced(make_config):
    from app.report.outbox import flush_configured

    port = free_port()
    cfg = make_config(BASE + f'webhook_url = "http://127.0.0.1:{port}/hook"\n')
    outcome = Outbox().submit(_report(cfg), configured(cfg))
    assert outcome.queued == ["webhook"]
    with Receiver(port=port) as rx:
        assert flush_configured(cfg)[0].queued == ["webhook"] and rx.requests == []  # backing off
        assert flush_configured(cfg, force=True)[0].delivered == ["webhook"] and len(rx.requests) == 1


def test_an_unwritable_outbox_is_a_clear_message_not_a_traceback(tmp_path):
    outbox_dir().parent.mkdir(parents=True, exist_ok=True)
    outbox_dir().write_text("not a folder")  # e.g. a broken profile; mkdir and writes fail
    with Receiver() as rx:
        cfg = write_config(tmp_path, webhook_url=rx.url)
        done = cli("report", "--json", config=cfg)
        listed = cli("outbox", "list", config=cfg)
        flushed = cli("outbox", "flush", config=cfg)
    assert done.returncode == 73 and "Traceback" not in done.stderr, done.stderr
    assert "could not save the report" in done.stderr and str(outbox_dir()) in done.stderr
    assert rx.requests == []  # never sent without being saved first
    for other in (listed, flushed):
        assert "Traceback" not in other.stderr, other.stderr
    assert flushed.returncode == 0 and "No report is waiting" in flushed.stdout  # nothing could be saved


class TrickleServer:
    """Answers every request with a status line, then one header line every 0.3 s, forever:
    each read succeeds in time, so only a total deadline ends the wait."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self.stop.wait(0.3):
                    conn.sendall(b"X-Slow: 1\r\n")
            except OSError:
                pass

    def __enter__(self) -> TrickleServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()


def test_a_receiver_that_never_finishes_answering_is_bounded(make_config, monkeypatch):
    import time

    from app.report import channels as channels_module

    monkeypatch.setattr(channels_module, "HTTP_TOTAL_S", 2.0)
    with TrickleServer() as srv:
        cfg = make_config(BASE + f'webhook_url = "{srv.url}"\n')
        started = time.monotonic()
        outcome = Outbox().submit(_report(cfg), configured(cfg))
        elapsed = time.monotonic() - started
    assert elapsed < 8, elapsed  # without a total bound this waits as long as the server drips
    assert outcome.queued == ["webhook"] and "no complete answer" in outcome.retry_reasons["webhook"]
