"""The virtual screen (Xvfb + trayer) end-to-end tests run on; skipped without its tools."""

from __future__ import annotations

import pytest

from tests.desktop import Screen, missing_tools


@pytest.fixture
def screen():
    missing = missing_tools()
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install xvfb trayer xdotool imagemagick)")
    s = Screen()
    yield s
    s.close()
