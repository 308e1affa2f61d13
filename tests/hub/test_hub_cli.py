"""`mailbeacon hub migrate|user|token|serve` as a person runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import httpx

from tests.hub.conftest import write_hub_toml


def hub(*args: str, config, home, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "MAILBEACON_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "app", "hub", *args, "--config", str(config)],
                          input=stdin, capture_output=True, text=True, env=env, timeout=60)


def test_migrate_on_postgresql_never_shows_the_password(tmp_path, isolated_home, pg_cluster):
    database_url = pg_cluster.new_database()
    config = write_hub_toml(tmp_path / "hub.toml", listen="127.0.0.1:8425", database=database_url)
    for _ in range(2):  # upgrading a current schema is a no-op
        done = hub("migrate", config=config, home=isolated_home)
        assert done.returncode == 0 and "schema 0003" in done.stdout, done.stderr
        assert pg_cluster.password not in done.stdout + done.stderr and "/hub_test_" in done.stdout
    made = hub("token", "create", "fleet", config=config, home=isolated_home)
    assert made.returncode == 0 and made.stdout.splitlines()[-1].startswith("mbh_")


class _Done:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def test_migrate_users_and_tokens(tmp_path, isolated_home, capsys, monkeypatch):
    """The same commands in this process (app.cli.main), so the many steps stay quick."""
    import io

    from app import cli

    def hub(*args: str, config, home, stdin: str = "") -> _Done:  # noqa: F811
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        umask = os.umask(0o022)  # `hub` makes its files private through the umask: keep ours
        os.umask(umask)
        try:
            status = cli.main(["hub", *args, "--config", str(config)])
        finally:
            os.umask(umask)
        out = capsys.readouterr()
        return _Done(status, out.out, out.err)

    config = write_hub_toml(tmp_path / "hub.toml", listen="127.0.0.1:8425")
    done = hub("migrate", config=config, home=isolated_home)
    assert done.returncode == 0, done.stderr
    assert "schema 0003" in done.stdout
    db = isolated_home / "hub.sqlite3"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600

    added = hub("user", "add", "alice", config=config, home=isolated_home, stdin="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    dup = hub("user", "add", "alice", config=config, home=isolated_home, stdin="another password\n")
    assert dup.returncode == 1 and "already exists" in dup.stderr
    short = hub("user", "add", "bob", config=config, home=isolated_home, stdin="short\n")
    assert short.returncode == 64 and "at least 8 characters" in short.stderr
    listed = hub("user", "list", config=config, home=isolated_home)
    assert listed.stdout.startswith("alice\t") and "bob" not in listed.stdout
    assert "correct horse" not in listed.stdout

    made = hub("token", "create", "fleet", config=config, home=isolated_home)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("mbh_") and len(token) > 40
    admin = hub("token", "create", "it-script", "--admin", config=config, home=isolated_home)
    assert "admin" in admin.stdout
    tokens = hub("token", "list", config=config, home=isolated_home).stdout
    assert "fleet\tlaptop" in tokens and "it-script\tadmin" in tokens and token not in tokens
    assert hub("token", "revoke", "fleet", config=config, home=isolated_home).returncode == 0
    assert "revoked" in hub("token", "list", config=config, home=isolated_home).stdout.splitlines()[0]
    missing = hub("token", "revoke", "nobody", config=config, home=isolated_home)
    assert missing.returncode == 1 and "no token named nobody" in missing.stderr

    removed = hub("user", "remove", "alice", config=config, home=isolated_home)
    assert removed.returncode == 0
    assert "No users yet" in hub("user", "list", config=config, home=isolated_home).stdout


def test_config_errors_exit_78_naming_file_line_and_key(tmp_path, isolated_home):
    bad = tmp_path / "hub.toml"
    bad.write_text('[hub]\nlisten = "127.0.0.1:8425"\ngroup_wait_s = -5\n')
    done = hub("migrate", config=bad, home=isolated_home)
    assert done.returncode == 78
    assert f"{bad}:3" in done.stderr and "hub.group_wait_s" in done.stderr and "Traceback" not in done.stderr
    bad.write_text("[hub]\nlisten = \"nowhere\"\n[notify]\nwebhook_url = \"ftp://x\"\n")
    done = hub("serve", config=bad, home=isolated_home)
    assert done.returncode == 78 and "hub.listen" in done.stderr
    bad.write_text("[hub]\n[notify]\npager = 1\n")
    done = hub("token", "list", config=bad, home=isolated_home)
    assert done.returncode == 78 and "notify.pager" in done.stderr and ":3" in done.stderr
    bad.write_text("[hub\n")
    assert hub("user", "list", config=bad, home=isolated_home).returncode == 78
    done = hub("migrate", config=tmp_path / "absent.toml", home=isolated_home)
    assert done.returncode == 78 and "not found" in done.stderr


def test_serve_migrates_and_answers_health(start_hub, database_url):
    proc = start_hub(database=database_url)
    health = httpx.get(proc.url + "/healthz").json()
    assert health == {"ok": True, "database": "postgresql" if database_url else "sqlite", "revision": "0003"}
    missing = httpx.get(proc.url + "/api/v1/nothing")
    assert missing.status_code == 404 and set(missing.json()) == {"error"}
