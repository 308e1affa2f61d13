"""Entry point of the frozen app: the same command line as the `mailbeacon` console script.

The Windows build is a windowed (GUI-subsystem) program so the tray opens without a console;
when started from a console for a command such as `check`, it attaches to that console so the
output is seen.
"""

from __future__ import annotations

import os
import sys


def _attach_windows_console() -> None:
    """Give a GUI-subsystem exe the parent's console, or keep redirected handles as they are."""
    import ctypes

    attach_parent_process = -1
    if sys.stdout is not None and sys.stderr is not None:
        return  # handles were inherited (redirected to a file or a pipe)
    if not ctypes.windll.kernel32.AttachConsole(attach_parent_process):
        sys.stdout = sys.stdout or open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
        sys.stderr = sys.stderr or open(os.devnull, "w")  # noqa: SIM115
        return
    if sys.stdout is None:
        sys.stdout = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115
    if sys.stderr is None:
        sys.stderr = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115


def main() -> int:
    if sys.platform == "win32":
        _attach_windows_console()
    elif sys.platform == "darwin":
        # Finder passes -psn_0_12345 to apps started by double click
        sys.argv = [a for a in sys.argv if not a.startswith("-psn_")]
    from app.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
