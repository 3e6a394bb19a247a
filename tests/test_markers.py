"""Every test module that needs TensorFlow says so with the `tensorflow` marker, so a device can run
the rest with `-m "not tensorflow"` (docs/testing.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
HEAVY = ("tensorflow", "keras")


def _needs_tensorflow(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in HEAVY for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in HEAVY:
            return True
        call = node.value if isinstance(node, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and getattr(call.func, "attr", "") == "importorskip"
            and any(isinstance(a, ast.Constant) and a.value in HEAVY for a in call.args)
        ):
            return True
    return False


def _marks(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            return {n.attr for n in ast.walk(node.value) if isinstance(n, ast.Attribute)}
    return set()


@pytest.mark.parametrize(
    "path", sorted(TESTS.rglob("test_*.py")), ids=lambda p: str(p.relative_to(TESTS))
)
def test_modules_needing_tensorflow_carry_the_marker(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if _needs_tensorflow(tree):
        assert "tensorflow" in _marks(tree), f"{path.name}: add pytestmark = pytest.mark.tensorflow"
