"""Hub fixtures: a private PostgreSQL cluster (one per test session, a fresh database per test),
hub settings for SQLite or PostgreSQL, and a real `mailbeacon hub serve` on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers.postgres import PostgresCluster
from tests.servers.smtp import free_port


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Each test that takes this runs once on SQLite and once on a real PostgreSQL."""
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("pg_cluster").new_database()


def write_hub_toml(path: Path, *, listen: str, database: str = "", hub: str = "", notify: str = "") -> Path:
    path.write_text(
        f'[hub]\nlisten = "{listen}"\ndatabase = "{database}"\n' + textwrap.dedent(hub)
        + "\n[notify]\n" + textwrap.dedent(notify),
        encoding="utf-8",
    )
    return path


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: a killed or timed-out test run leaves no hub serving behind
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class HubProcess:
    """`python -m app hub serve --config FILE` as a real process on a free loopback port."""

    def __init__(self, config: Path, port: int, env: dict[str, str]) -> None:
        self.config, self.port, self.env = config, port, env
        self.proc: subprocess.Popen | None = None
        self.log = config.with_suffix(f".{port}.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HubProcess:
        self._log_fh = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "hub", "serve", "--config", str(self.config), "--listen", f"127.0.0.1:{self.port}"],
            stdout=self._log_fh, stderr=subprocess.STDOUT, env=self.env, preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited {self.proc.returncode}: {self.log.read_text(errors='replace')}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"hub did not start: {self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log_fh.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_hub(tmp_path, isolated_home):
    """start_hub(database=..., hub='group_wait_s = 1', notify='webhook_url = "..."') -> HubProcess."""
    started: list[HubProcess] = []

    def start(*, database: str = "", hub: str = "", notify: str = "", config: Path | None = None,
              env: dict[str, str] | None = None) -> HubProcess:
        port = free_port()
        if config is None:
            config = write_hub_toml(tmp_path / f"hub{len(started)}.toml", listen=f"127.0.0.1:{port}",
                                    database=database, hub=hub, notify=notify)
        full_env = {**os.environ, "MAILBEACON_HOME": str(isolated_home), **(env or {})}
        proc = HubProcess(config, port, full_env).start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def store_for(database: str, home: Path):
    """A Store on the same database a started hub uses (SQLite in MAILBEACON_HOME by default)."""
    from app.hub.settings import HubSettings
    from app.hub.store import Store

    return Store(HubSettings(database=database, data_dir=home).database_url)


@pytest.fixture
def hub_tokens(isolated_home):
    """hub_tokens(database) -> (laptop token, admin token), made in the hub's own database."""
    from app.hub import accounts

    stores = []

    def make(database: str = "") -> tuple[str, str]:
        store = store_for(database, isolated_home)
        stores.append(store)
        store.ensure_schema()
        n = len(stores)
        return (accounts.create_token(store, f"laptops-{n}"), accounts.create_token(store, f"it-{n}", admin=True))

    yield make
    for store in stores:
        store.dispose()
