"""Secrets: environment override, keyring backend, and a clear message without a keyring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keyring
import keyring.backend
import pytest
from keyring.backends import fail

from app import secrets
from app.errors import SecretStoreError, UsageError


class FileKeyring(keyring.backend.KeyringBackend):
    """A keyring in a JSON file named by MB_TEST_KEYRING_FILE, usable across processes."""

    priority = 1

    def _load(self) -> dict:
        path = Path(os.environ["MB_TEST_KEYRING_FILE"])
        return json.loads(path.read_text()) if path.exists() else {}

    def _save(self, data: dict) -> None:
        Path(os.environ["MB_TEST_KEYRING_FILE"]).write_text(json.dumps(data))

    def get_password(self, service, username):
        return self._load().get(f"{service}/{username}")

    def set_password(self, service, username, password):
        data = self._load()
        data[f"{service}/{username}"] = password
        self._save(data)

    def delete_password(self, service, username):
        data = self._load()
        if data.pop(f"{service}/{username}", None) is None:
            raise keyring.errors.PasswordDeleteError(username)
        self._save(data)


@pytest.fixture
def file_keyring(tmp_path, monkeypatch):
    monkeypatch.setenv("MB_TEST_KEYRING_FILE", str(tmp_path / "keyring.json"))
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())
    yield tmp_path / "keyring.json"
    keyring.set_keyring(previous)


def test_env_name():
    assert secrets.env_name("report.webhook_token") == "MAILBEACON_SECRET_REPORT_WEBHOOK_TOKEN"


def test_keyring_then_environment_override(file_keyring, monkeypatch):
    secrets.set_secret("report.webhook_token", "from-keyring")
    assert secrets.get_secret("report.webhook_token") == "from-keyring"
    monkeypatch.setenv("MAILBEACON_SECRET_REPORT_WEBHOOK_TOKEN", "from-env")
    assert secrets.get_secret("report.webhook_token") == "from-env"
    assert set(secrets.known_values()) >= {"from-env", "from-keyring"}
    secrets.delete_secret("report.webhook_token")
    monkeypatch.delenv("MAILBEACON_SECRET_REPORT_WEBHOOK_TOKEN")
    assert secrets.get_secret("report.webhook_token") is None


def test_unknown_name_is_a_usage_error(file_keyring):
    with pytest.raises(UsageError):
        secrets.set_secret("report.nope", "x")


def test_no_keyring_backend_gives_a_clear_message():
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(SecretStoreError) as err:
            secrets.set_secret("report.webhook_secret", "x")
        assert "no system keyring" in str(err.value) and "MAILBEACON_SECRET_" in str(err.value)
        assert secrets.get_secret("report.webhook_secret") is None  # reading is never fatal
    finally:
        keyring.set_keyring(previous)


def _cli(*args, stdin="", env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "app", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=30, cwd=Path(__file__).resolve().parents[2])


def test_secret_cli_set_and_delete(file_keyring):
    env = {"PYTHON_KEYRING_BACKEND": "tests.unit.test_report_secrets.FileKeyring"}
    done = _cli("secret", "set", "report.webhook_secret", stdin="s3cret-value\n", env_extra=env)
    assert done.returncode == 0, done.stderr
    assert "s3cret-value" not in done.stdout + done.stderr
    assert json.loads(file_keyring.read_text()) == {"mailbeacon/report.webhook_secret": "s3cret-value"}
    done = _cli("secret", "delete", "report.webhook_secret", env_extra=env)
    assert done.returncode == 0 and json.loads(file_keyring.read_text()) == {}
    done = _cli("secret", "delete", "report.webhook_secret", env_extra=env)
    assert done.returncode == 1 and "no secret named" in done.stderr


def test_secret_cli_without_keyring():
    done = _cli("secret", "set", "report.relay_password", stdin="pw\n",
                env_extra={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert done.returncode == 69
    assert "no system keyring" in done.stderr and "Traceback" not in done.stderr
