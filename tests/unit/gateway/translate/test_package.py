"""The translate package's public surface, and that it stays pure."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import releve.gateway.translate as translate

PACKAGE = Path(translate.__file__).parent


def test_all_is_sorted_unique_and_complete() -> None:
    """__all__ is sorted, each name exists, and every public object defined in the package is listed."""
    exported = list(translate.__all__)
    assert exported == sorted(set(exported))
    assert all(hasattr(translate, name) for name in exported)
    public = {
        name
        for name, value in vars(translate).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith(translate.__name__)
    }
    assert public == set(exported)


def test_translators_import_nothing_that_does_io() -> None:
    """Pure translators: no module imports sockets, files, clocks or HTTP clients."""
    forbidden = {"aiohttp", "asyncio", "datetime", "httpx", "os", "pathlib", "random", "socket", "time", "uuid"}
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            )
            assert not {name.split(".")[0] for name in names} & forbidden, f"{path.name} imports {names}"


def test_importing_the_package_does_nothing_but_define() -> None:
    """Importing the package opens no socket and writes no file."""
    script = (
        "import sys\n"
        "def refuse(event, args):\n"
        "    writing = event == 'open' and args[1] and any(mode in str(args[1]) for mode in 'wax+')\n"
        "    if event.startswith('socket.') or writing:\n"
        "        raise RuntimeError(event)\n"
        "sys.addaudithook(refuse)\n"
        "import releve.gateway.translate\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
