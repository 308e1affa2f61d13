"""The tray's start parses its command line with the tray-only parser, and reads it exactly
as the whole parser does; every other command line gets the whole parser."""

from __future__ import annotations

import pytest

from app.cli import build_parser, names_the_tray

TRAY_LINES = [
    [],
    ["tray"],
    ["--config", "c.toml"],
    ["--config=c.toml", "-vv"],
    ["-v", "tray", "--config", "c.toml"],
    ["--verbose", "--config", "tray", "tray"],  # a config file named "tray"
    ["tray", "-v", "--config", "x.toml"],
]
OTHER_LINES = [
    ["check"],
    ["--config", "c.toml", "check", "--json"],
    ["-v", "report", "--note", "tray"],
    ["--version"],
    ["-h"],
    ["--config", "tray", "demo"],
    ["hub", "serve"],
    ["-x", "tray"],
]


@pytest.mark.parametrize("argv", TRAY_LINES)
def test_a_tray_line_reads_the_same_with_the_tray_only_parser(argv):
    assert names_the_tray(argv)
    assert vars(build_parser(tray_only=True).parse_args(argv)) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", OTHER_LINES)
def test_every_other_line_gets_the_whole_parser(argv):
    assert not names_the_tray(argv)


def test_the_tray_only_parser_knows_no_other_command(capsys):
    with pytest.raises(SystemExit):
        build_parser(tray_only=True).parse_args(["check"])
    assert "invalid choice" in capsys.readouterr().err
    full = build_parser()
    assert full.parse_args(["check", "--json"]).command == "check"
