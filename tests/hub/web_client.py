"""An in-process dashboard for tests: a migrated SQLite hub, an IT account, and a Starlette
TestClient that can sign in the way a browser does (GET the form, POST it with its token)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note about httpx2; the client works the same
    from starlette.testclient import TestClient

from app.hub import accounts
from app.hub.app import create_app
from app.hub.settings import HubSettings
from app.hub.store import Store

USER, PASSWORD = "it-admin", "correct horse battery"


def make_hub(tmp_path: Path, *, public_url: str = "", base_url: str = "http://testserver",
             database: str = "", workers: bool = False, **hub_settings) -> tuple[TestClient, Store]:
    """workers=True runs the hub's grouping and notification loops too (ingest -> groups)."""
    settings = HubSettings(data_dir=tmp_path, public_url=public_url, database=database, **hub_settings)
    store = Store(settings.database_url)
    store.migrate()
    accounts.add_user(store, USER, PASSWORD)
    client = TestClient(create_app(settings, store=store, workers=workers), base_url=base_url)
    return client, store


def hidden(html: str, name: str = "csrf") -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name!r} in the page"
    return match.group(1)


def sign_in(client: TestClient, user: str = USER, password: str = PASSWORD, **extra: str):
    form = client.get("/login")
    return client.post("/login", data={"csrf": hidden(form.text), "username": user, "password": password,
                                       **extra}, follow_redirects=False)
