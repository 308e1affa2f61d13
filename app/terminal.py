"""What reaches a terminal: every line the CLI prints goes through one function, `printable`,
which makes control characters and bidi overrides visible instead of letting them act (a feed
title with ESC[2J, an OSC title change, a right-to-left override in a server greeting), and
through the one scrubber, so no secret is printed whatever text it arrived in."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from app.report.redact import scrub_text

# C0 controls other than tab and newline, DEL, C1 controls (0x9b is a one-byte CSI), the bidi
# embeddings, overrides and isolates, and the line/paragraph separators some terminals honour
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _visible(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` safe to print: controls and bidi marks shown as \\x1b / \\u202e, secrets masked."""
    return _UNSAFE.sub(_visible, scrub_text(text))


def has_unsafe(text: str) -> bool:
    return _UNSAFE.search(text) is not None


class SafeStream:
    """A text stream that passes every write through `printable`; the rest is the wrapped
    stream's (buffer, encoding, isatty, fileno), so binary output such as `report --dry-run`
    (JSON, whose encoder escapes the same characters) goes through unchanged."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(printable(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def safe_output() -> Iterator[None]:
    """Standard output and error pass through `printable` while the command runs."""
    saved = sys.stdout, sys.stderr
    sys.stdout = SafeStream(saved[0]) if saved[0] is not None else None  # type: ignore[assignment]
    sys.stderr = SafeStream(saved[1]) if saved[1] is not None else None  # type: ignore[assignment]
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        sys.stdout, sys.stderr = saved
