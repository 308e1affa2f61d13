"""Compile every module the test run can import into a bytecode cache checked by source hash.

For the run 400 days ahead. Python validates its .pyc files by the source's modification time,
and under the shifted clock every source looks 400 days newer than the .pyc written for it, so
each process would compile each module it imports again; with PYTHONDONTWRITEBYTECODE (set on
CI machines) the result is never kept. Processes then start several times slower, and tests of
a check's own time limits fail. A cache under PYTHONPYCACHEPREFIX whose files are checked by
hash does not care about clocks, and leaves the interpreter's own files untouched.

    PYTHONPYCACHEPREFIX=DIR python .ci/compile_hashed.py
"""

from __future__ import annotations

import compileall
import os
import py_compile
import re
import sys
import sysconfig
from pathlib import Path

if not sys.pycache_prefix:
    sys.exit("compile_hashed: set PYTHONPYCACHEPREFIX to the cache folder")
root = Path(__file__).resolve().parent.parent
# the interpreter's and packages' own test suites and GUI demos are never imported here
others = re.compile(r"[/\\](test|tests|lib2to3|idlelib|tkinter|turtledemo|ensurepip)[/\\]")
hashed = py_compile.PycInvalidationMode.CHECKED_HASH
workers = os.cpu_count() or 1
for path in sorted({sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")}):
    compileall.compile_dir(path, quiet=2, workers=workers, invalidation_mode=hashed, rx=others)
for name in ("app", "tests", "benchmarks"):
    compileall.compile_dir(root / name, quiet=2, workers=workers, invalidation_mode=hashed)
print(f"compile_hashed: bytecode checked by hash in {sys.pycache_prefix}")
