"""Imports run one way (docs/architecture.md): read every module's imports with ``ast``.

vocabulary ← storage ← collectors; storage ← accounting; accounting and storage ← forecasting ←
dashboard; everything ← jieneng's CLI and settings composition. A function-level import of a
project module is refused too: it is how a cycle hides.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("jieneng", "storage", "collectors", "accounting", "forecasting", "dashboard")
#: The bottom layer: the vocabulary and the message catalog, importable by every package.
BOTTOM = ("jieneng.vocabulary", "jieneng.messages")

#: layer → the project layers its modules may import (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "vocabulary": frozenset(),
    "storage": frozenset({"vocabulary"}),
    "collectors": frozenset({"vocabulary", "storage"}),
    "accounting": frozenset({"vocabulary", "storage"}),
    "forecasting": frozenset({"vocabulary", "storage", "accounting"}),
    "dashboard": frozenset({"vocabulary", "storage", "collectors", "accounting", "forecasting"}),
    "jieneng": frozenset({"vocabulary", "storage", "collectors", "accounting", "forecasting",
                          "dashboard"}),
}


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name, or None for a module outside the project."""
    if module in BOTTOM or module.startswith(tuple(f"{m}." for m in BOTTOM)):
        return "vocabulary"
    top = module.split(".")[0]
    return top if top in PACKAGES else None


def module_name(path: Path) -> str:
    """The dotted name of a source file under the repository root."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_sources() -> list[Path]:
    """Every Python file of the project's packages."""
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def imports(tree: ast.Module, module: str, is_package: bool) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for every import in a parsed module."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
            )
            if isinstance(child, ast.ClassDef):
                inner = top  # a class body runs at import time: still module level
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join([*base, child.module] if child.module else base)
                else:
                    target = child.module or ""
                found.append((target, child.lineno, top))
                # ``from pkg import submodule`` imports the submodule too
                found.extend((f"{target}.{alias.name}", child.lineno, top) for alias in child.names)
            visit(child, inner)

    visit(tree, True)
    return found


def violations() -> tuple[list[str], list[str]]:
    """(imports against the allowed direction, function-level imports of project modules)."""
    against, hidden = [], []
    for path in project_sources():
        module = module_name(path)
        layer = layer_of(module)
        assert layer is not None
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target, line, top in imports(tree, module, path.name == "__init__.py"):
            target_layer = layer_of(target)
            if target_layer is None or target_layer == layer:
                continue
            where = f"{path.relative_to(ROOT)}:{line}"
            if target == "jieneng":  # ``from jieneng import vocabulary`` names the package only
                continue
            if target_layer not in ALLOWED[layer]:
                against.append(f"{where}: {layer} imports {target} ({target_layer})")
            elif not top:
                hidden.append(f"{where}: function-level import of {target}")
        for target, line, top in imports(tree, module, path.name == "__init__.py"):
            if not top and layer_of(target) == layer and target != module:
                hidden.append(f"{path.relative_to(ROOT)}:{line}: function-level import of {target}")
    return against, sorted(set(hidden))


def test_imports_run_one_way() -> None:
    against, _ = violations()
    assert not against, "imports against the allowed direction:\n" + "\n".join(against)


def test_no_function_level_imports_of_project_modules() -> None:
    _, hidden = violations()
    assert not hidden, "function-level imports (move them to module level):\n" + "\n".join(hidden)


@pytest.mark.parametrize("module", BOTTOM)
def test_the_bottom_layer_imports_nothing_of_the_project(module: str) -> None:
    path = ROOT / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    project = [t for t, _, _ in imports(tree, module, False) if layer_of(t)]
    assert project == []
    assert (ROOT / "jieneng" / "__init__.py").read_text(encoding="utf-8").count("import") == 0


@pytest.mark.parametrize(("source", "expected"), [
    ("from accounting.engine import x\n", "collectors/x.py:1: collectors imports accounting.engine"),
    ("import jieneng.settings\n", "storage/x.py:1: storage imports jieneng.settings"),
])
def test_the_checker_catches_a_wrong_import(source: str, expected: str) -> None:
    module = expected.split("/")[0] + ".x"
    tree = ast.parse(source)
    layer = layer_of(module)
    found = [
        f"{module.replace('.', '/')}.py:{line}: {layer} imports {t}"
        for t, line, _ in imports(tree, module, False)
        if layer_of(t) not in (None, layer) and layer_of(t) not in ALLOWED[layer or ""]
    ]
    assert expected in found


def test_the_checker_sees_function_level_imports() -> None:
    tree = ast.parse("def f():\n    from storage import open_store\n")
    assert imports(tree, "accounting.x", False)[0] == ("storage", 2, False)
