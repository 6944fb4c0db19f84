"""The layers of the package, as its imports show them: the core knows nothing of Ray, of the families
or of what stores a run; only ``search/tune`` imports Ray Tune; no module imports itself back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "search"
ABOVE_THE_CORE = ("search.records", "search.machine", "search.pipeline", "search.tune", "search.families")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path) -> set[str]:
    """Modules ``path`` imports when it runs (``if TYPE_CHECKING:`` blocks left out), at any depth."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


MODULES = {module_name(path): runtime_imports(path) for path in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("search.core")))
def test_the_core_imports_neither_ray_nor_any_layer_above_it(module):
    wrong = sorted(name for name in MODULES[module] if name.split(".")[0] == "ray" or name.startswith(ABOVE_THE_CORE))
    assert not wrong, f"{module} imports {wrong}"


def test_only_the_tune_adapter_imports_ray_tune():
    outside = sorted(
        module
        for module, imports in MODULES.items()
        if not module.startswith("search.tune") and any(name.startswith("ray.tune") for name in imports)
    )
    assert outside == []


def test_no_import_cycle_between_the_packages_modules():
    graph = {
        module: {name for name in imports if name in MODULES and name != module} for module, imports in MODULES.items()
    }
    done: set[str] = set()

    def cycle_from(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            found = cycle_from(imported, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        assert cycle_from(module, []) is None, " -> ".join(cycle_from(module, []) or [])
