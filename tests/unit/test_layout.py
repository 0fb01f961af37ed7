"""How the code's own modules may import each other, read from the source with ``ast`` (every
import counts: top-level, in a function, under ``TYPE_CHECKING``).

- No test module imports another test module or a conftest: what several share lives in
  ``tests/fixtures/`` (fixtures through ``pytest_plugins``, helpers and journeys imported).
- The local stack's modules import each other without a cycle, and never tests/ or bench/
  (both import local/, for its one ``LambdaContext``); bench/ never imports tests/.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, source: str | None = None) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file (or in ``source``, read as
    that file); ``from a import b`` yields both ``a`` and ``a.b`` (b may be a module)."""
    if source is None:
        source = path.read_text(encoding="utf-8")
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _last(name: str) -> str:
    return name.rpartition(".")[2]


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for line, name in imports_of(path)
        if _last(name) == "conftest" or (path.name.startswith("test_") and _last(name).startswith("test_"))
    ]
    assert not wrong, "move what is shared to tests/fixtures/:\n" + "\n".join(wrong)


def test_the_import_reader_sees_relative_and_function_level_imports() -> None:
    pretend = ROOT / "tests" / "integration" / "test_example.py"
    source = "def f():\n    from .test_inbound import PHONE\n    import tests.unit.conftest\n"
    found = {name for _, name in imports_of(pretend, source)}
    assert {"tests.integration.test_inbound", "tests.unit.conftest"} <= found


def _local_graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in (ROOT / "local").glob("*.py")}
    return {
        name: {target for _, target in imports_of(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> modules it imports), or None."""
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> list[str] | None:
        if node in trail:
            return [*trail[trail.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            found = visit(target, [*trail, node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return None


def test_the_local_stack_modules_import_each_other_without_a_cycle() -> None:
    graph = _local_graph()
    assert {"local.stack", "local.server", "local.context"} <= graph.keys()
    cycle = _cycle(graph)
    assert cycle is None, "import cycle in local/: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_local_imports_neither_tests_nor_bench_and_bench_not_tests() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for folder, refused in (("local", ("tests", "bench")), ("bench", ("tests",)))
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, name in imports_of(path)
        if name.split(".")[0] in refused
    ]
    assert not wrong, "\n".join(wrong)
