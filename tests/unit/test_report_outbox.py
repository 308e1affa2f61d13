"""The outbox under stress: corrupt files, files vanishing under a concurrent flush, the tray's
flush racing a report being submitted, and two flushing processes at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from app.report.channels import configured
from app.report.outbox import Outbox
from tests.servers.receiver import Receiver
from tests.unit.test_report_build import diag

ROOT = Path(__file__).resolve().parents[2]
BASE = '[network]\ninternet_url = ""\n[report]\n'


def _report(cfg):
    from app.report.build import build_report

    return build_report(cfg, diag())


def _cli(*args: str, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args, "--config", str(config)], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


def _queue(cfg, n: int) -> list[str]:
    """n reports waiting in the outbox (their channel was down when they were submitted)."""
    outbox = Outbox()
    ids = []
    for _ in range(n):
        report = _report(cfg)
        outbox.save(report, list(configured(cfg)))
        ids.append(report["id"])
    return ids


def test_corrupt_files_neither_crash_list_or_flush_nor_vanish(tmp_path, make_config):
    with Receiver() as rx:
        cfg_text = BASE + f'webhook_url = "{rx.url}"\n'
        cfg_file = tmp_path / "mb.toml"
        cfg_file.write_text(cfg_text, encoding="utf-8")
        (good,) = _queue(make_config(cfg_text), 1)
        box = Outbox().path
        (box / "broken.json").write_bytes(b'{"id": "broken", "diag')
        (box / "notadict.json").write_bytes(b"[1, 2]")

        listed = _cli("outbox", "list", config=cfg_file)
        assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
        assert "broken" in listed.stdout and "unreadable" in listed.stdout
        as_json = json.loads(_cli("outbox", "list", "--json", config=cfg_file).stdout)
        assert {e["id"] for e in as_json["waiting"]} == {good, "broken", "notadict"}

        flushed = _cli("outbox", "flush", "--json", config=cfg_file)
    assert "Traceback" not in flushed.stderr, flushed.stderr
    assert flushed.returncode == 1  # the corrupt ones can never be sent: a permanent failure
    outcomes = {o["id"]: o for o in json.loads(flushed.stdout)}
    assert outcomes[good]["delivered"] == ["webhook"] and len(rx.requests) == 1
    for bad in ("broken", "notadict"):
        assert outcomes[bad]["failed"] and "unreadable" in outcomes[bad]["failed"][0]["reason"]
        kept = box / "failed" / f"{bad}.json"
        assert outcomes[bad]["path"] == str(kept) and kept.exists()  # kept, with the reason beside it
        assert "unreadable" in (box / "failed" / f"{bad}.reason.txt").read_text()
    assert (box / "failed" / "broken.json").read_bytes() == b'{"id": "broken", "diag'
    assert Outbox().ids() == []
    listed = _cli("outbox", "list", config=cfg_file)
    assert listed.returncode == 0 and "refused  broken" in listed.stdout, listed.stdout + listed.stderr
    assert "webhook: the report file is unreadable" in listed.stdout


def test_a_report_removed_meanwhile_does_not_break_counting(make_config, monkeypatch):
    cfg = make_config(BASE + 'webhook_url = "http://127.0.0.1:9/hook"\n')
    (real,) = _queue(cfg, 1)
    outbox = Outbox()
    original = Path.glob

    def glob_with_a_ghost(self, pattern):
        found = list(original(self, pattern))
        if self == outbox.path and pattern == "*.json":
            found.append(self / "ghost.json")  # listed, then delivered by another process
        return iter(found)

    monkeypatch.setattr(Path, "glob", glob_with_a_ghost)
    assert outbox.ids() == [real] and outbox.waiting_count() == 1


def test_a_flush_racing_submit_does_not_steal_its_outcome(make_config, monkeypatch):
    with Receiver() as rx:
        cfg = make_config(BASE + f'webhook_url = "{rx.url}"\n')
        channels = configured(cfg)
        outbox = Outbox()
        racers: list[threading.Thread] = []
        flushed: list = []
        original_save = Outbox.save

        def save_then_timer_fires(self, report, names):
            path = original_save(self, report, names)
            # the tray's timer fires on its worker right after the file lands
            t = threading.Thread(target=lambda: flushed.extend(Outbox().flush(channels)))
            racers.append(t)
            t.start()
            t.join(1.0)
            return path

        monkeypatch.setattr(Outbox, "save", save_then_timer_fires)
        outcome = outbox.submit(_report(cfg), channels)
        racers[0].join(20)
    assert outcome.delivered == ["webhook"] and outcome.path is None
    assert len(rx.requests) == 1
    assert all(o.id != outcome.id for o in flushed)  # nothing half-reported for a report that was gone


def test_two_processes_flushing_at_once_send_each_report_once(tmp_path, make_config):
    with Receiver() as rx:
        cfg_text = BASE + f'webhook_url = "{rx.url}"\n'
        cfg_file = tmp_path / "mb.toml"
        cfg_file.write_text(cfg_text, encoding="utf-8")
        ids = _queue(make_config(cfg_text), 4)
        cmd = [sys.executable, "-m", "app", "outbox", "flush", "--json", "--config", str(cfg_file)]
        procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ)) for _ in range(2)]
        results = [p.communicate(timeout=60) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        for outcome in json.loads(out) if out.strip().startswith("[") else []:
            assert outcome["delivered"] == ["webhook"], outcome  # none listed as sent-to-nowhere
    assert sorted(r.headers["Idempotency-Key"] for r in rx.requests) == sorted(ids)
    assert Outbox().ids() == []


def test_flush_without_any_channel_configured_leaves_the_reports_waiting(tmp_path, make_config):
    (waiting,) = _queue(make_config(BASE + 'webhook_url = "http://127.0.0.1:9/hook"\n'), 1)
    bare = tmp_path / "bare.toml"  # e.g. run with another --config, or the report section lost
    bare.write_text(BASE, encoding="utf-8")
    flushed = _cli("outbox", "flush", "--json", config=bare)
    assert flushed.returncode == 78, flushed.stderr
    assert "No report channel is configured" in flushed.stderr
    assert Outbox().ids() == [waiting] and not (Outbox().failed_path / f"{waiting}.json").exists()
    assert Outbox().read_state(waiting)["channels"]["webhook"]["status"] == "pending"
    from app.report.outbox import flush_configured

    assert flush_configured(make_config(BASE))[0].queued == ["webhook"]  # the tray's flush, likewise
    assert Outbox().ids() == [waiting]
