"""`mailbeacon hub serve|migrate|user|token`: IT's server (SPEC section 8). Needs the `hub` extra;
only this command imports app.hub, so the laptop commands never load it."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from app.errors import MailBeaconError


class HubMissing(MailBeaconError):
    exit_status = 69


def add_parser(sub: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    """The `hub` subcommands; each takes --config after its own name."""
    p = sub.add_parser("hub", help="IT's server: serve, migrate, user, token",
                       description="IT's server: grouping, notifications, the status feed, the dashboard",
                       parents=[common])
    hub_sub = p.add_subparsers(dest="hub_action", metavar="ACTION", parser_class=parser_class, required=True)

    sp = hub_sub.add_parser("serve", help="run the hub (migrates the database first)", parents=[common])
    sp.add_argument("--listen", metavar="H:P", help="host:port to listen on (hub.listen)")
    sp.add_argument("--database", metavar="URL", help="postgresql://... (hub.database)")

    sp = hub_sub.add_parser("migrate", help="create or upgrade the database schema", parents=[common])
    sp.add_argument("--database", metavar="URL", help="postgresql://... (hub.database)")

    sp = hub_sub.add_parser("user", help="IT accounts for the dashboard", parents=[common])
    user_sub = sp.add_subparsers(dest="user_action", metavar="ACTION", parser_class=parser_class, required=True)
    for name, text in (("add", "add an account (password from the terminal or standard input)"),
                       ("remove", "remove an account")):
        up = user_sub.add_parser(name, help=text, parents=[common])
        up.add_argument("name", metavar="NAME")
    user_sub.add_parser("list", help="list the accounts", parents=[common])

    sp = hub_sub.add_parser("token", help="bearer tokens for laptops and IT scripts", parents=[common])
    tok_sub = sp.add_subparsers(dest="token_action", metavar="ACTION", parser_class=parser_class, required=True)
    tp = tok_sub.add_parser("create", help="make a token (printed once, alone on the last line)", parents=[common])
    tp.add_argument("name", metavar="NAME")
    tp.add_argument("--admin", action="store_true", help="may also use the IT API (incidents, groups)")
    tok_sub.add_parser("list", help="list tokens (never their values)", parents=[common])
    tp = tok_sub.add_parser("revoke", help="stop a token working", parents=[common])
    tp.add_argument("name", metavar="NAME")


def _settings(args: argparse.Namespace):
    try:
        from app.hub import settings as hub_settings
    except ImportError as exc:  # the `hub` extra is not installed
        raise HubMissing(f"the hub needs the 'hub' extra: pip install 'mailbeacon[hub]' ({exc.name} is missing)") from None
    settings = hub_settings.load(args.config)
    if getattr(args, "listen", None):
        settings.listen = hub_settings.check_override("listen", args.listen)
    if getattr(args, "database", None):
        settings.database = hub_settings.check_override("database", args.database)
    return settings


def run(args: argparse.Namespace) -> int:
    os.umask(0o077)  # everything the hub writes (database, logs) is private to its user
    settings = _settings(args)
    from app.hub.store import Store

    store = Store(settings.database_url)
    try:
        return _ACTIONS[args.hub_action](args, settings, store)
    finally:
        store.dispose()


def _serve(args, settings, store) -> int:
    import logging

    import uvicorn

    from app.hub.app import create_app

    revision = store.migrate()
    host, port = settings.host_port
    logging.getLogger(__name__).info("hub on %s:%s, database %s (schema %s)", host, port, store.where, revision)
    from app.hub.runtime import BackgroundProcess
    from app.hub.store import Store

    # grouping and notifications run in a child process: a burst being grouped never holds up
    # the answers to the next requests (one interpreter runs one thread at a time)
    # that process also copies SQLite's write-ahead log into the database file, so no commit
    # of a request waits for that copy
    store.dispose()
    store = Store(settings.database_url, checkpoints_elsewhere=True)
    app = create_app(settings, store=store, workers=BackgroundProcess(settings, args.verbose))
    options: dict[str, Any] = {"host": host, "port": port, "access_log": False, "log_config": None,
                               "server_header": False, "lifespan": "on"}
    try:
        import uvloop  # noqa: F401

        options["loop"] = "uvloop"
    except ImportError:
        pass
    try:
        import httptools  # noqa: F401

        options["http"] = "httptools"
    except ImportError:
        pass
    print(f"MailBeacon hub listening on http://{host}:{port}/ (database: {store.where})", flush=True)
    uvicorn.run(app, **options)
    return 0


def _migrate(args, settings, store) -> int:
    revision = store.migrate()
    print(f"The database {store.where} is at schema {revision}.")
    return 0


def _read_password() -> str:
    import getpass

    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise MailBeaconError("the two passwords differ; nothing was changed")
        return first
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.rstrip("\r\n")


def _user(args, settings, store) -> int:
    from app.hub import accounts

    store.ensure_schema()
    action = args.user_action
    if action == "add":
        accounts.check_name(args.name, "user")
        accounts.add_user(store, args.name, _read_password())
        print(f"Added the user {args.name}.")
    elif action == "remove":
        accounts.remove_user(store, args.name)
        print(f"Removed the user {args.name}.")
    else:
        rows = accounts.list_users(store)
        for row in rows:
            print(f"{row['name']}\tadded {_when(row['created_at'])}")
        if not rows:
            print("No users yet: add one with `mailbeacon hub user add NAME`.")
    return 0


def _token(args, settings, store) -> int:
    from app.hub import accounts

    store.ensure_schema()
    action = args.token_action
    if action == "create":
        token = accounts.create_token(store, args.name, admin=args.admin)
        kind = "an admin token (reports, state, feed and the IT API)" if args.admin else "a laptop token (reports, state and the feed)"
        print(f"Created {kind} named {args.name}. It is shown only this once:")
        print(token)
    elif action == "revoke":
        accounts.revoke_token(store, args.name)
        print(f"Revoked the token {args.name}.")
    else:
        rows = accounts.list_tokens(store)
        for row in rows:
            state = f"revoked {_when(row['revoked_at'])}" if row["revoked_at"] else "active"
            print(f"{row['name']}\t{'admin' if row['admin'] else 'laptop'}\tcreated {_when(row['created_at'])}\t{state}")
        if not rows:
            print("No tokens yet: make one with `mailbeacon hub token create NAME`.")
    return 0


def _when(value) -> str:
    from app.jsonio import iso_utc

    return iso_utc(value) if value is not None else "-"


_ACTIONS = {"serve": _serve, "migrate": _migrate, "user": _user, "token": _token}
