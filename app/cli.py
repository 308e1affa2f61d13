"""The command line: argparse subcommands -> app.commands.<name>.run(args) -> exit status.

Command modules are imported only when chosen, so `mailbeacon check` never loads Qt.
Errors a user can act on become one line on standard error and their exit status.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from app import version
from app.errors import EX_USAGE, MailBeaconError
from app.paths import private_umask
from app.report.redact import LogScrubber
from app.terminal import safe_output

EX_SOFTWARE = 70  # sysexits: an internal error


class _VersionAction(argparse.Action):
    """--version, reading the version only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"MailBeacon {version()}")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 64, not argparse's 2
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"mailbeacon: {message}\n")


def _feed_target(parser: argparse.ArgumentParser) -> None:
    """Where `feed post|update|resolve` writes: a native feed file, or a hub's incidents API."""
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--file", metavar="PATH", help="the native feed file every laptop reads")
    target.add_argument("--hub", metavar="URL", nargs="?", const="",
                        help="a MailBeacon hub (alone: hub.url of the configuration); "
                             "needs the admin token in the secret hub.admin_token")


def build_parser(tray_only: bool = False) -> argparse.ArgumentParser:
    """The whole command line, or with `tray_only` only `tray` (what a tray start parses:
    building every other command's parser took about 15 ms of each tray start)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help="read this file instead of the user config file")
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="log what happens to standard error (twice for debug)")

    parser = _Parser(
        prog="mailbeacon",
        description="Watches the company mail service and tells you whose problem it is.",
        parents=[common],
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, parents=[common])

    add("tray", "start the tray app (the default)")
    if tray_only:
        return parser

    p = add("check", "run one diagnosis and print it")
    p.add_argument("--json", action="store_true", help="print the diagnosis as JSON")

    p = add("report", "send IT a report with a fresh diagnosis")
    p.add_argument("--note", default="", metavar="TEXT", help="your own words for IT")
    p.add_argument("--dry-run", action="store_true", help="print the report body; send nothing")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")

    p = add("outbox", "list or send the reports waiting in the outbox")
    p.add_argument("action", nargs="?", choices=("list", "flush"), default="list")
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = add("feed", "write the IT status feed (post, update or resolve an incident)")
    feed_sub = p.add_subparsers(dest="feed_action", metavar="ACTION", parser_class=_Parser, required=True)
    fp = feed_sub.add_parser("post", help="post a new incident", parents=[common])
    _feed_target(fp)
    fp.add_argument("--title", required=True)
    fp.add_argument("--message", required=True)
    fp.add_argument("--next-update", metavar="WHEN", help="30m, 1h or a clock time like 17:30")
    fp.add_argument("--id", dest="incident_id", metavar="ID")
    fp.add_argument("--affects", default="mail", help="comma-separated services (default: mail)")
    fp = feed_sub.add_parser("update", help="change an incident", parents=[common])
    _feed_target(fp)
    fp.add_argument("--id", dest="incident_id", required=True, metavar="ID")
    fp.add_argument("--status", choices=("investigating", "identified", "monitoring", "resolved"))
    fp.add_argument("--message")
    fp.add_argument("--next-update", metavar="WHEN", help="30m, 1h or a clock time like 17:30")
    fp = feed_sub.add_parser("resolve", help="mark an incident resolved", parents=[common])
    _feed_target(fp)
    fp.add_argument("--id", dest="incident_id", required=True, metavar="ID")
    fp.add_argument("--message")

    p = add("discover", "find the mail servers for an address (or a domain)")
    p.add_argument("address")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--save", action="store_true", help="write what was found into the user config file")

    p = add("config", "show, locate or validate the configuration")
    p.add_argument("action", nargs="?", choices=("show", "paths", "validate"), default="show")
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = add("secret", "store or delete a secret in the system keyring")
    p.add_argument("action", choices=("set", "delete"))
    p.add_argument("name", help="report.webhook_token, report.webhook_secret, report.relay_password, "
                   "hub.token or hub.admin_token")

    add("demo", "tray + an embedded local mail server, loopback only")

    from app.commands import hub as hub_cmd  # its parser only: app.hub loads when it runs

    hub_cmd.add_parser(sub, common, _Parser)
    return parser


_MODULES = {
    "tray": "app.commands.tray",
    "check": "app.commands.check",
    "report": "app.commands.report",
    "outbox": "app.commands.outbox",
    "feed": "app.commands.feed",
    "discover": "app.commands.discover",
    "config": "app.commands.config_cmd",
    "secret": "app.commands.secret",
    "demo": "app.commands.demo",
    "hub": "app.commands.hub",
}


class _ShortFormatter(logging.Formatter):
    """Standard error gets one line per record; tracebacks go to the log file (or -vv)."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        record.exc_info = record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text = saved


class _CappedFileHandler(logging.FileHandler):
    """A log file that rolls over to .1 … .N past `max_bytes`. logging.handlers would do the
    same, but importing it costs the tray's start-up more than this does."""

    def __init__(self, path, *, max_bytes: int, backups: int) -> None:
        super().__init__(path, encoding="utf-8")
        self.max_bytes, self.backups = max_bytes, backups

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        try:
            if self.stream is not None and self.stream.tell() >= self.max_bytes:
                self._roll()
        except OSError:
            self.handleError(record)

    def _open(self):
        # created private whatever the umask: the log holds addresses, DNS servers, host names
        import os

        from app.paths import PRIVATE_FILE

        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
        os.chmod(self.baseFilename, PRIVATE_FILE)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)

    def _roll(self) -> None:
        import os

        self.stream.close()
        self.stream = None  # type: ignore[assignment]
        base = self.baseFilename
        for i in range(self.backups - 1, 0, -1):
            if os.path.exists(f"{base}.{i}"):
                os.replace(f"{base}.{i}", f"{base}.{i + 1}")
        os.replace(base, f"{base}.1")
        self.stream = self._open()


def setup_logging(verbose: int, *, to_file: bool) -> None:
    """stderr at WARNING (INFO with -v, DEBUG with -vv); the tray also keeps a rotating log file
    in the log folder, which is what IT reads when a windowed app has no console."""
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO if (verbose or to_file) else logging.WARNING)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel({0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG))
    console.setFormatter(logging.Formatter(fmt) if verbose >= 2 else _ShortFormatter(fmt))
    console.addFilter(LogScrubber())
    root.addHandler(console)
    if not to_file:
        return
    from app.paths import private_dir, user_paths

    log_file = user_paths().log_file
    try:
        private_dir(log_file.parent)
        handler = _CappedFileHandler(log_file, max_bytes=1_000_000, backups=3)
    except OSError as exc:
        logging.getLogger(__name__).warning("cannot write the log file %s: %s", log_file, exc)
        return
    handler.setLevel(logging.INFO if verbose < 2 else logging.DEBUG)
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(LogScrubber())
    root.addHandler(handler)


def _tolerant_streams() -> None:
    # a console or pipe that cannot encode a character (cp1252, latin-1) gets a replacement
    # instead of a UnicodeEncodeError halfway through the output
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):
                pass


def main(argv: list[str] | None = None) -> int:
    _tolerant_streams()
    private_umask()
    with safe_output():
        return _main(argv)


def names_the_tray(argv: list[str]) -> bool:
    """True when the command line is the tray's (`tray ...`, or options alone): from the word
    `tray` on, the tray-only parser reads it exactly as the whole one does."""
    rest = list(argv)
    while rest:
        word = rest.pop(0)
        if word == "--config":
            del rest[:1]
        elif not (word.startswith("--config=") or word == "--verbose" or
                  (word.startswith("-v") and set(word[1:]) == {"v"})):
            return word == "tray"
    return True


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(tray_only=names_the_tray(argv)).parse_args(argv)
    args.command = args.command or "tray"
    args.config = getattr(args, "config", None)
    args.verbose = getattr(args, "verbose", 0)
    setup_logging(args.verbose, to_file=args.command in ("tray", "demo"))
    try:
        module = importlib.import_module(_MODULES[args.command])
        return int(module.run(args) or 0)
    except MailBeaconError as exc:
        print(f"mailbeacon: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line for the user, the traceback for the log (-vv)
        # the tray has no console: its log file is where IT finds the traceback
        to_file = any(isinstance(h, logging.FileHandler) for h in logging.getLogger().handlers)
        logging.getLogger(__name__).log(
            logging.ERROR if to_file else logging.DEBUG, "unexpected error", exc_info=True
        )
        print(f"mailbeacon: unexpected error: {exc or type(exc).__name__} (run with -vv for details)",
              file=sys.stderr)
        return EX_SOFTWARE


if __name__ == "__main__":
    sys.exit(main())
