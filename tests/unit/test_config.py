"""Configuration: sources, precedence, policy, environment and the errors a user sees."""

from __future__ import annotations

import json
import plistlib
import subprocess
import sys
import textwrap

import pytest

from app import config as config_mod
from app.errors import ConfigError


def write(path, text):
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path, *, system="", user="", policy="", env=None, **kw):
    files = {}
    for name, text in (("system", system), ("user", user), ("policy", policy)):
        files[name] = write(tmp_path / f"{name}.toml", text) if text else None
    return config_mod.load(
        user_file=files["user"], system_file=files["system"], policy_file=files["policy"],
        env=env or {}, registry=False, **kw,
    )


def test_defaults_match_the_spec(tmp_path):
    cfg = load(tmp_path)
    assert cfg.check.interval_s == 60 and cfg.check.timeout_s == 5
    assert cfg.check.confirm_after_s == 5 and cfg.check.slow_ms == 1500
    assert cfg.network.internet_url == "http://connectivitycheck.gstatic.com/generate_204"
    assert cfg.network.internet_expect_status == 204
    assert cfg.report.relay_tls == "starttls" and cfg.report.include_username is True
    assert cfg.feed.interval_s == 120 and cfg.tls.expiry_warn_days == 14
    assert cfg.endpoints == []
    assert cfg.control_name == "connectivitycheck.gstatic.com"


def test_precedence_system_user_env_policy(tmp_path):
    cfg = load(
        tmp_path,
        system="[check]\ninterval_s = 100\ntimeout_s = 9\nslow_ms = 900\nconfirm_after_s = 7\n",
        user="[check]\ninterval_s = 200\ntimeout_s = 8\nslow_ms = 800\n",
        env={"MAILBEACON_CHECK_INTERVAL_S": "300", "MAILBEACON_CHECK_TIMEOUT_S": "7"},
        policy="[check]\ninterval_s = 400\n",
    )
    assert cfg.check.interval_s == 400  # policy beats everything
    assert cfg.check.timeout_s == 7  # environment beats the user file
    assert cfg.check.slow_ms == 800  # the user file beats the system file
    assert cfg.check.confirm_after_s == 7  # the system file beats the defaults
    assert cfg.sources["check.interval_s"].startswith("policy ")
    assert cfg.sources["check.timeout_s"] == "environment MAILBEACON_CHECK_TIMEOUT_S"
    assert "check.interval_s" in cfg.policy_keys and "check.timeout_s" not in cfg.policy_keys


def test_config_option_replaces_the_user_file(tmp_path):
    write(tmp_path / "user.toml", "[check]\ninterval_s = 200\n")
    other = write(tmp_path / "other.toml", "[check]\ntimeout_s = 3\n")
    cfg = config_mod.load(other, user_file=tmp_path / "user.toml", system_file=None,
                          policy_file=None, env={}, registry=False)
    assert cfg.check.interval_s == 60 and cfg.check.timeout_s == 3


def test_missing_config_option_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        config_mod.load(tmp_path / "nope.toml", system_file=None, policy_file=None, env={}, registry=False)


def test_endpoints_tables_and_defaults(tmp_path):
    cfg = load(tmp_path, user="""
        [mail]
        address = "alex@corp.example"
        [[endpoints]]
        kind = "smtp"
        host = "smtp.corp.example"
        [[endpoints]]
        kind = "imap"
        host = "imap.corp.example"
        port = 993
        tls = "implicit"
        name = "Incoming"
        [[endpoints]]
        kind = "https"
        url = "https://mail.corp.example/owa/"
    """)
    smtp, imap, https = cfg.endpoints
    assert (smtp.port, smtp.tls, smtp.id) == (587, "starttls", "smtp smtp.corp.example:587")
    assert (imap.port, imap.tls, imap.name) == (993, "implicit", "Incoming")
    assert (https.host, https.port, https.url) == ("mail.corp.example", 443, "https://mail.corp.example/owa/")
    assert cfg.mail_domain == "corp.example"


def test_higher_source_replaces_the_whole_endpoint_list(tmp_path):
    cfg = load(
        tmp_path,
        system='[[endpoints]]\nkind = "smtp"\nhost = "a.example"\n',
        user='[[endpoints]]\nkind = "imap"\nhost = "b.example"\n',
    )
    assert [e.host for e in cfg.endpoints] == ["b.example"]


def test_compact_endpoints_in_the_environment(tmp_path):
    cfg = load(tmp_path, env={"MAILBEACON_ENDPOINTS": "smtps://s.example imaps://i.example:1993 tcp://t.example:25?name=Relay"})
    assert [(e.kind, e.port, e.tls) for e in cfg.endpoints] == [
        ("smtp", 465, "implicit"), ("imap", 1993, "implicit"), ("tcp", 25, "none")]
    assert cfg.endpoints[2].name == "Relay"
    assert cfg.sources["endpoints"] == "environment MAILBEACON_ENDPOINTS"


def test_environment_ignores_home_and_secrets_but_rejects_typos(tmp_path):
    env = {"MAILBEACON_HOME": "/tmp/x", "MAILBEACON_SECRET_REPORT_WEBHOOK_TOKEN": "s3cret",
           "MAILBEACON_REPORT_INCLUDE_HOSTNAME": "false", "MAILBEACON_DNS_NAMESERVERS": "127.0.0.1:5353, 10.0.0.1"}
    cfg = load(tmp_path, env=env)
    assert cfg.report.include_hostname is False
    assert cfg.dns.nameservers == ["127.0.0.1:5353", "10.0.0.1"]
    assert cfg.nameservers() == [("127.0.0.1", 5353), ("10.0.0.1", 53)]
    with pytest.raises(ConfigError) as err:
        load(tmp_path, env={"MAILBEACON_CHECK_INTERVALS": "30"})
    assert "MAILBEACON_CHECK_INTERVALS" in str(err.value) and "MAILBEACON_<SECTION>_<KEY>" in str(err.value)
    with pytest.raises(ConfigError, match="a number"):
        load(tmp_path, env={"MAILBEACON_CHECK_INTERVAL_S": "soon"})


@pytest.mark.parametrize(
    ("text", "line", "key", "expected"),
    [
        ("[check]\ninterval_s = = 3\n", 2, None, "not valid TOML"),
        ("[check]\ninterval_s = 30\ntimeout = 5\n", 3, "check.timeout", "a known key of [check]"),
        ("[mail]\naddress = 'a@b.example'\n[check]\ntimeout_s = \"five\"\n", 4, "check.timeout_s", "a number"),
        ("[check]\n\ninterval_s = 1\n", 3, "check.interval_s", "10 to 86400"),
        ("[report]\ninclude_username = \"yes\"\n", 2, "report.include_username", "true or false"),
        ("[report]\nrelay_tls = \"ssl\"\n", 2, "report.relay_tls", "one of starttls, implicit, none"),
        ("[report]\nwebhook_url = \"ftp://x\"\n", 2, "report.webhook_url", "http:// or https://"),
        ("[dns]\nnameservers = [\"resolver.local\"]\n", 2, "dns.nameservers", "IP addresses"),
        ("[chek]\ninterval_s = 30\n", 1, "chek", "a known section"),
        ("[[endpoints]]\nkind = \"smtp\"\nhost = \"a\"\n[[endpoints]]\nkind = \"smtp\"\nhost = \"b\"\nport = 70000\n",
         7, "endpoints[2].port", "1 to 65535"),
        ("[[endpoints]]\nkind = \"ftp\"\nhost = \"a\"\n", 2, "endpoints[1].kind", "one of smtp, imap"),
        ("[[endpoints]]\nkind = \"smtp\"\n", 2, "endpoints[1].host", "a host name"),
    ],
)
def test_config_errors_name_source_line_key_and_expectation(tmp_path, text, line, key, expected):
    path = write(tmp_path / "user.toml", text)
    with pytest.raises(ConfigError) as err:
        config_mod.load(path, system_file=None, policy_file=None, env={}, registry=False)
    message = str(err.value)
    assert err.value.line == line, message
    assert f"{path}:{line}" in message
    assert err.value.key == key
    assert expected in message


def test_missing_ca_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="tls.ca_file"):
        load(tmp_path, user='[tls]\nca_file = "/nonexistent/ca.pem"\n')


def test_registry_style_flat_values_are_typed():
    flat, endpoints = config_mod._flatten_flat(
        {"check.interval_s": "30", "report.include_username": 0, "mail.domain": "corp.example",
         "endpoints": "smtp://smtp.corp.example:587 imaps://imap.corp.example"},
        r"registry HKLM\Software\MailBeacon",
    )
    assert flat == {"check.interval_s": 30, "report.include_username": False, "mail.domain": "corp.example"}
    assert [e.id for e in endpoints] == ["smtp smtp.corp.example:587", "imap imap.corp.example:993"]
    with pytest.raises(ConfigError, match=r"registry HKLM\\Software\\MailBeacon: check.bogus"):
        config_mod._flatten_flat({"check.bogus": "1"}, r"registry HKLM\Software\MailBeacon")


def test_macos_managed_preferences_plist(tmp_path):
    plist = tmp_path / "org.mailbeacon.MailBeacon.plist"
    plist.write_bytes(plistlib.dumps({
        "check.interval_s": 45,
        "report": {"webhook_url": "https://it.example/hook"},
        "endpoints": [{"kind": "smtp", "host": "smtp.example", "port": 465, "tls": "implicit"}],
        "PayloadUUID": "ignored",
    }))
    values = config_mod.read_managed_prefs([plist, tmp_path / "absent.plist"])
    flat, endpoints = config_mod._flatten_flat(values, "managed preferences")
    assert flat == {"check.interval_s": 45, "report.webhook_url": "https://it.example/hook"}
    assert endpoints[0].id == "smtp smtp.example:465"


def run_cli(*args, env_home):
    env = {"MAILBEACON_HOME": str(env_home), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          env=env, timeout=30)


@pytest.mark.parametrize("bad", ["[check]\ninterval_s = 'x'\n", "not toml at all ===", "[check]\nfoo = 1\n"])
def test_cli_config_error_is_one_line_exit_78(tmp_path, bad):
    path = write(tmp_path / "bad.toml", bad)
    for command in (["check"], ["check", "--json"], ["config", "validate"], ["config", "show"]):
        proc = run_cli(*command, "--config", str(path), env_home=tmp_path)
        assert proc.returncode == 78, proc.stderr
        assert proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"mailbeacon: config error in {path}:")
        assert "Traceback" not in proc.stderr


def test_cli_config_show_names_sources(tmp_path):
    path = write(tmp_path / "user.toml", "[check]\ninterval_s = 30\n")
    proc = run_cli("config", "show", "--config", str(path), env_home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    line = next(row for row in proc.stdout.splitlines() if row.startswith("check.interval_s"))
    assert "30" in line and str(path) in line
    assert "default" in next(row for row in proc.stdout.splitlines() if row.startswith("check.timeout_s"))


def test_cli_usage_error_exits_64(tmp_path):
    proc = run_cli("check", "--bogus", env_home=tmp_path)
    assert proc.returncode == 64
    assert "Traceback" not in proc.stderr


def test_cli_config_paths_follow_mailbeacon_home(tmp_path):
    proc = run_cli("config", "paths", env_home=tmp_path)
    assert proc.returncode == 0
    assert f"outbox         {tmp_path}/outbox" in proc.stdout


def test_a_config_file_that_cannot_be_looked_at_is_a_config_error(tmp_path, monkeypatch):
    """A folder the user may not enter (EACCES) must give the one-line error, not a traceback."""
    import pathlib

    locked = tmp_path / "locked" / "mailbeacon.toml"
    real_stat = pathlib.Path.stat

    def stat(self, *args, **kwargs):
        if str(self) == str(locked):
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "stat", stat)
    with pytest.raises(ConfigError, match="Permission denied") as err:
        config_mod.load(user_file=locked, system_file=None, policy_file=None, env={}, registry=False)
    assert str(locked) in str(err.value)
    with pytest.raises(ConfigError, match="Permission denied"):
        config_mod.load(user_file=None, system_file=None, policy_file=locked, env={}, registry=False)


def test_cli_overlong_config_name_is_one_line_exit_78(tmp_path):
    proc = run_cli("check", "--config", str(tmp_path / ("a" * 300)), env_home=tmp_path)
    assert proc.returncode == 78, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_ca_file_that_is_not_pem_or_is_a_folder_is_an_error(tmp_path):
    """Otherwise every TLS endpoint fails and the verdict blames the mail server's certificate."""
    garbage = write(tmp_path / "garbage.pem", "not a certificate\n")
    with pytest.raises(ConfigError, match="tls.ca_file") as err:
        load(tmp_path, user=f'[tls]\nca_file = "{garbage}"\n')
    assert "PEM" in str(err.value) and str(tmp_path / "user.toml") in str(err.value)
    with pytest.raises(ConfigError, match="is a folder"):
        load(tmp_path, env={"MAILBEACON_TLS_CA_FILE": str(tmp_path)})


def test_config_show_marks_policy_locked_values_and_endpoints(tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    from app import paths
    from app.commands import config_cmd

    policy = write(tmp_path / "policy.toml", """
        [check]
        interval_s = 90
        [[endpoints]]
        kind = "smtp"
        host = "smtp.corp.example"
    """)
    monkeypatch.setattr(paths, "policy_file", lambda platform=None: policy)
    monkeypatch.setattr(paths, "system_config_file", lambda platform=None: tmp_path / "none.toml")
    assert config_cmd.run(SimpleNamespace(action="show", config=None, json=False)) == 0
    rows = capsys.readouterr().out.splitlines()
    assert next(r for r in rows if r.startswith("check.interval_s")).endswith("(policy)")
    assert not next(r for r in rows if r.startswith("check.timeout_s")).endswith("(policy)")
    assert next(r for r in rows if r.startswith("endpoints[1]")).endswith("(policy)")
    assert config_cmd.run(SimpleNamespace(action="show", config=None, json=True)) == 0
    shown = {row["key"]: row for row in json.loads(capsys.readouterr().out)}
    assert shown["check.interval_s"]["locked"] is True and shown["endpoints[1]"]["locked"] is True
    assert shown["check.timeout_s"]["locked"] is False


def test_endpoint_hosts_in_brackets_or_with_a_port_are_handled(tmp_path):
    cfg = load(tmp_path, user='[[endpoints]]\nkind = "smtp"\nhost = "[::1]"\nport = 25\n'
                              '[[endpoints]]\nkind = "imap"\nhost = "2001:db8::1"\n')
    assert [e.id for e in cfg.endpoints] == ["smtp [::1]:25", "imap [2001:db8::1]:143"]
    assert cfg.endpoints[0].host == "::1"
    for bad in ("smtp.example.com:587", "smtp://smtp.example.com", "two words", "[::1"):
        with pytest.raises(ConfigError, match="endpoints\\[1\\].host") as err:
            load(tmp_path, user=f'[[endpoints]]\nkind = "smtp"\nhost = "{bad}"\n')
        assert err.value.line == 3


@pytest.mark.parametrize(("url", "warned"), [
    ("http://it.corp.example/status.json", True),
    ("https://it.corp.example/status.json", False),
    ("/srv/share/status.json", False),
])
def test_cli_config_validate_warns_about_a_plain_http_feed(tmp_path, url, warned):
    path = write(tmp_path / "user.toml", f'[feed]\nurl = "{url}"\n')
    proc = run_cli("config", "validate", "--config", str(path), env_home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("config ok:")
    assert ("warning: feed.url" in proc.stderr and "plain http" in proc.stderr) is warned
    assert (proc.stderr == "") is not warned


@pytest.mark.parametrize("environ", [
    {"HTTP_PROXY": "http://a:one@p1:3128", "https_proxy": "http://b:two@p2:3128", "NO_PROXY": "x"},
    {"http_proxy": "http://low:er@p:1", "HTTP_PROXY": "http://UP:PER@p:2", "REQUEST_METHOD": "GET"},
    {"All_Proxy": "socks5://c:three@p3:1080", "ftp_proxy": "", "PATH": "/usr/bin"},
])
def test_every_proxy_the_environment_sets_is_read_without_urllib(monkeypatch, environ):
    """What urllib.request.getproxies() reads on Linux is among the URLs registered as secrets."""
    import urllib.request

    monkeypatch.setattr("os.environ", dict(environ))
    urls = config_mod.system_proxy_urls(environ, "linux")
    assert set(urllib.request.getproxies_environment().values()) <= set(urls)
    assert "" not in urls and "/usr/bin" not in urls


def test_a_proxy_password_from_the_environment_is_masked_after_load(tmp_path, monkeypatch):
    from app.report import redact

    monkeypatch.setenv("https_proxy", "http://proxyuser:Pr0xy-S3cret-71@proxy.example:3128")
    load(tmp_path)
    assert "Pr0xy-S3cret-71" not in redact.scrub_text("the proxy said Pr0xy-S3cret-71 is wrong")


def test_loading_the_config_does_not_import_urllib_request_off_windows_and_macos(tmp_path):
    if sys.platform in ("win32", "darwin"):
        pytest.skip("the system proxy settings are read through urllib.request there")
    code = (
        "import sys; from app import config\n"
        "config.load(user_file=None, system_file=None, policy_file=None, env={}, registry=False)\n"
        "print('urllib.request' in sys.modules, 'http.client' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr
