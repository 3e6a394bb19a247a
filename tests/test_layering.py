"""Dependencies point one way: the runtime (edgexray/) knows nothing of the export toolchain, and
library code never imports the CLI. Checked on the source with `ast`, so no import runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Folder -> the name it installs as.
PACKAGES = {"edgexray": "edgexray", "export": "edgexray_export"}


def _module_name(path: Path) -> str:
    top, *rest = path.relative_to(ROOT).with_suffix("").parts
    parts = [PACKAGES[top], *rest]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    return imports_in(
        path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py"
    )


def imports_in(source: str, module: str, is_package: bool) -> set[str]:
    """Every module `source` (the module named `module`) imports, at any depth (inside functions
    too), relative imports resolved; `from a import b` counts as `a` and `a.b`."""
    found: set[str] = set()
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _is_under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _is_cli(path: Path) -> bool:
    """CLI code: the runtime's command modules and the workstation commands."""
    return "cli" in path.relative_to(ROOT).parts[:-1]


@pytest.mark.parametrize("path", _sources("edgexray"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_runtime_never_imports_the_export_toolchain(path: Path) -> None:
    offending = sorted(m for m in _imports(path) if _is_under(m, "edgexray_export"))
    assert offending == [], f"{path.relative_to(ROOT)} imports {offending}"


@pytest.mark.parametrize(
    "path",
    [p for folder in PACKAGES for p in _sources(folder) if not _is_cli(p)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_library_code_never_imports_the_cli(path: Path) -> None:
    offending = sorted(m for m in _imports(path) if _is_under(m, "edgexray.cli"))
    assert offending == [], f"{path.relative_to(ROOT)} imports {offending}"


def test_the_scan_sees_imports_inside_functions_and_relative_ones() -> None:
    # The checks above are only worth something if the scanner finds what they look for.
    code = (
        "import os\n"
        "def f():\n    from edgexray_export.pipeline import export_model\n"
        "from ..cli import main\nfrom . import card\n"
    )
    found = imports_in(code, "edgexray.bench.sample", is_package=False)
    assert {"os", "edgexray_export.pipeline", "edgexray.cli.main", "edgexray.bench.card"} <= found
    assert "edgexray.card" in _imports(ROOT / "edgexray" / "bench" / "subjects.py")


def test_the_export_side_owns_its_errors_and_bench_rows() -> None:
    import edgexray.errors
    from edgexray.bench.subjects import BUILTIN_SUBJECTS
    from edgexray.cli.main import COMMANDS

    assert not hasattr(edgexray.errors, "ExportError")
    assert not hasattr(edgexray.errors, "ParityError")
    assert all(
        v.startswith("edgexray_export.") for k, v in BUILTIN_SUBJECTS.items() if "keras" in k
    )
    for name in ("export", "train", "evaluate", "synth"):
        assert COMMANDS[name].startswith("edgexray_export.cli.")


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph` (module -> modules it imports): the groups of modules that
    each reach all the others, a module that reaches itself included, sorted."""

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(graph.get(start, ()))
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph.get(module, ()))
        return seen

    reach = {module: reachable(module) for module in graph}
    cyclic = [module for module in graph if module in reach[module]]
    groups = {tuple(sorted(m for m in cyclic if m in reach[n] and n in reach[m])) for n in cyclic}
    return sorted(map(list, groups))


def runtime_import_graph() -> dict[str, set[str]]:
    """Each module of edgexray/ -> the modules of edgexray/ it imports, at any depth (inside
    functions and `if TYPE_CHECKING:` too: a cycle there is still two modules that need each
    other). `from a import b` counts as importing `a` and `a.b`."""
    modules = {_module_name(path): path for path in _sources("edgexray")}
    return {
        name: {m for m in _imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }


def test_the_runtime_has_no_import_cycles() -> None:
    assert import_cycles(runtime_import_graph()) == []


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"d"}}
    assert import_cycles(graph) == [["a", "b", "c"], ["e"]]
    assert "edgexray.classifier" in runtime_import_graph()["edgexray"]
