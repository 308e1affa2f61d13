"""`mailbeacon secret set|delete NAME`: keep channel secrets in the system keyring."""

from __future__ import annotations

import argparse
import getpass
import sys

from app import secrets


def run(args: argparse.Namespace) -> int:
    name = secrets.check_name(args.name)
    if args.action == "delete":
        secrets.delete_secret(name)
        print(f"Deleted {name} from the keyring.")
        return 0
    if sys.stdin.isatty():
        value = getpass.getpass(f"Value for {name} (not shown): ")
    else:  # piped in by a script: the first line, without its newline
        value = sys.stdin.readline().rstrip("\r\n")
    secrets.set_secret(name, value)
    print(f"Stored {name} in the keyring (service {secrets.SERVICE}).")
    return 0
