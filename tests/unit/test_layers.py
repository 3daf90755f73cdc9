"""Architecture invariants: imports go one way, and packages meet only at their public surface."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import releve

SRC = Path(releve.__file__).parent

# What each top-level part of `releve` may import from the rest of `releve`.
LEAVES = {"errors", "clock", "asgi"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "clock": set(),
    "asgi": {"errors"},
    "config": {"errors"},
    "gateway": {"errors", "clock", "config", "asgi"},
    "sim": {"errors"},
    "store": {"errors"},
    "notify": {"errors", "config", "store"},
    "monitor": {"errors", "clock", "config", "gateway", "store"},
    "status": {"errors", "config", "asgi", "store"},
    "admin": {"errors", "config", "asgi", "gateway", "store", "impact"},
    "impact": {"errors", "config", "store"},
    "jobs": {"errors", "clock", "config", "asgi", "gateway", "store", "notify"},
    "protect": {"errors", "config", "store"},
    "recovery": {"errors", "clock", "config", "asgi", "gateway", "store", "notify", "protect", "impact", "app",
                 "server", "sim"},
    "batches": {"errors", "clock", "config", "asgi", "gateway", "store"},
    "cluster": {"errors", "clock", "config", "gateway", "store"},
    "app": {"errors", "clock", "config", "asgi", "gateway", "store", "notify", "monitor", "status", "admin", "impact",
            "jobs", "batches", "protect", "recovery", "cluster"},
    "server": {"app", "config"},
    "runner": {"app", "server", "config", "gateway", "store", "protect"},
    "demo": {"errors", "clock", "config", "app", "server", "sim", "gateway", "store", "impact"},
    "cli": {"errors", "config", "runner", "sim", "demo", "app", "server", "gateway", "store", "notify", "monitor",
            "admin", "impact", "protect", "recovery", "cluster"},
}


def _modules() -> list[Path]:
    return sorted(path for path in SRC.rglob("*.py"))


def _part(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    dotted = ".".join(("releve", *path.relative_to(SRC).with_suffix("").parts))
    # The package that relative imports are resolved against.
    package = dotted.removesuffix(".__init__") if path.name == "__init__.py" else dotted.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((module, node.lineno))
    return [(module, line) for module, line in found if module.startswith("releve.") or module == "releve"]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_only_forward(path: Path) -> None:
    """Each module imports only the parts of releve its layer may depend on."""
    part = _part(path)
    assert part in ALLOWED or part == "__init__", f"add {part!r} to the layer table in {__file__}"
    allowed = ALLOWED.get(part, set())
    for module, line in _imports(path):
        target = module.split(".")[1] if "." in module else ""
        if target and target != part:
            assert target in allowed, f"{path.relative_to(SRC)}:{line} imports {module}: {part} may not import {target}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_other_packages_use_only_public_names(path: Path) -> None:
    """No module reaches into another package's private modules."""
    part = _part(path)
    for module, line in _imports(path):
        pieces = module.split(".")
        if len(pieces) > 2 and pieces[1] != part and any(p.startswith("_") for p in pieces[2:]):
            pytest.fail(f"{path.relative_to(SRC)}:{line} imports private {module}")


def test_no_global_statements() -> None:
    """State is passed in, never kept in module globals."""
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            assert not isinstance(node, ast.Global), f"{path.relative_to(SRC)}:{node.lineno} uses global"


_IMPORT_ALL = """
import importlib, pkgutil, sys

def refuse(event, args):
    if event.startswith("socket.") or (event == "open" and args[1] and any(m in str(args[1]) for m in "wax+")):
        raise RuntimeError(f"import-time side effect: {event} {args!r}")

import releve
sys.addaudithook(refuse)
for info in pkgutil.walk_packages(releve.__path__, "releve."):
    importlib.import_module(info.name)
"""


def test_importing_every_module_opens_no_socket_and_writes_nothing() -> None:
    """Importing does nothing but define things: no network, no files written."""
    result = subprocess.run([sys.executable, "-c", _IMPORT_ALL], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
