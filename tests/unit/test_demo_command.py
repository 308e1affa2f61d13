"""The demo's printed command lines work as pasted: scripts/demo.sh runs the mailbeacon in
.venv/, which a newcomer's other terminal does not find on its PATH."""

from __future__ import annotations

import sys

from app.commands.demo import command_name


def test_bare_name_only_when_path_finds_this_very_program(tmp_path, monkeypatch):
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    exe = venv_bin / "mailbeacon"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "mailbeacon").write_text("#!/bin/sh\n")
    (other / "mailbeacon").chmod(0o755)

    monkeypatch.setenv("PATH", str(venv_bin))
    assert command_name(str(exe)) == "mailbeacon"
    monkeypatch.setenv("PATH", str(other))  # another mailbeacon would run other code
    assert command_name(str(exe)) == str(exe)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert command_name(str(exe)) == str(exe)


def test_python_dash_m_app():
    assert command_name("/src/app/__main__.py") == f"{sys.executable} -m app"
