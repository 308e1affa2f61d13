"""The frozen app, built once per test session and reused while the sources are unchanged."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the first test that needs the frozen app builds it (PyInstaller: about two minutes on two cores,
# more on a loaded machine), inside that test's time limit; later tests reuse the build
FROZEN_BUILD_TIMEOUT_S = 900


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if "frozen_exe" in getattr(item, "fixturenames", ()) and here in Path(item.path).parents:
            item.add_marker(pytest.mark.timeout(FROZEN_BUILD_TIMEOUT_S))


def load_build_module():
    spec = importlib.util.spec_from_file_location("mailbeacon_build", ROOT / "packaging" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def build():
    return load_build_module()


@pytest.fixture(scope="session")
def frozen_exe(build) -> Path:
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("needs PyInstaller (pip install pyinstaller)")
    exe = build.build_frozen()
    assert exe.is_file() and os.access(exe, os.X_OK), exe
    return exe


@pytest.fixture
def frozen_env(isolated_home) -> dict[str, str]:
    """The environment for the frozen binary: fresh home, no Python paths leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QT_"))}
    env["MAILBEACON_HOME"] = str(isolated_home)
    return env


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
