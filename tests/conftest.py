"""Every test runs in a fresh MAILBEACON_HOME with no MAILBEACON_* settings leaking in."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import config as config_mod


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("mbhome")
    for var in list(os.environ):
        if var.startswith("MAILBEACON_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MAILBEACON_HOME", str(home))
    # no proxy from the machine may stand between the tests and their loopback servers
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    yield home
    # secrets one test made the scrubber know must not mask text in the next
    from app.report.redact import forget_registered

    forget_registered()


@pytest.fixture
def make_config(tmp_path):
    """make_config('''[check]\\ntimeout_s = 2''') -> Config read from that text only
    (no system file, no policy, no registry, no environment)."""

    def make(text: str = "", **kwargs):
        path = tmp_path / f"cfg{len(list(tmp_path.glob('cfg*.toml')))}.toml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        kwargs.setdefault("system_file", None)
        kwargs.setdefault("policy_file", None)
        kwargs.setdefault("env", {})
        kwargs.setdefault("registry", False)
        return config_mod.load(path, **kwargs)

    return make


@pytest.fixture
def time_zone(monkeypatch):
    """time_zone("Asia/Tokyo"): the local time zone is that one until the test ends."""
    import time

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()
