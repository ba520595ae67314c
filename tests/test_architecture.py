"""The package's layout is its architecture, and these checks keep it so: the import-linter
contracts in pyproject.toml (wings layered, render free of runtimes, no import cycle), at most
15 modules at the root, no private name imported across modules, no print in the library,
and each wing's curated ``__all__``."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "modelprof"


def _modules() -> list[tuple[str, Path, ast.Module]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found.append((".".join(parts), path, ast.parse(path.read_text(encoding="utf-8"))))
    return found


def _imported_module(name: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_at_most_15_modules_at_the_root() -> None:
    root_files = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root_files) <= 15, f"{len(root_files)} modules at the root: {root_files}"


def test_no_private_name_is_imported_from_another_module() -> None:
    crossings = []
    for name, path, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = _imported_module(name, path, node)
            if not source.startswith("modelprof"):
                continue
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and source != name:
                    crossings.append(f"{name} imports {source}.{alias.name}")
    assert crossings == []


def test_the_library_never_prints() -> None:
    allowed = ("modelprof.cli", "modelprof.docs")
    printing = [
        f"{name}:{node.lineno}"
        for name, _, tree in _modules()
        if not name.startswith(allowed)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
    ]
    assert printing == []


@pytest.mark.parametrize("wing", ["modelprof.measure", "modelprof.rewrite"])
def test_each_wing_exports_what_its_all_lists(wing: str) -> None:
    module = importlib.import_module(wing)
    public = {
        name
        for name in dir(module)
        if not name.startswith("_") and not inspect.ismodule(getattr(module, name))
    }
    assert public == set(module.__all__)
    # an exported name never hides a submodule (import wing.name as m would get the function)
    shadowed = [n for n in module.__all__ if importlib.util.find_spec(f"{wing}.{n}") is not None]
    assert shadowed == []
