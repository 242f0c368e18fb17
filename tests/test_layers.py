"""The package's shape: no import circle (lazy imports inside functions included, so a lazy
import can only ever be for start-up speed), no module over 500 lines, and `requests` imported
by the checks package alone."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "git_credential_bbtoken"
NAME = "git_credential_bbtoken"
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of ours that `path` imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import mod` is an edge to mod; to pkg only for a name pkg defines.
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                     else node.module for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_circle() -> None:
    graph = _graph()
    assert f"{NAME}.helper" in graph and graph[f"{NAME}.cli"], "the graph was not read"
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_is_over_500_lines() -> None:
    lines = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert lines and {name: n for name, n in lines.items() if n > MAX_LINES} == {}


def test_only_the_checks_import_requests() -> None:
    users = set()
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "requests"
                                                    for a in node.names):
                users.add(name)
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == \
                    "requests":
                users.add(name)
    assert users and all(u.startswith(f"{NAME}.checks") for u in users), users


def test_the_package_under_test_is_this_checkout() -> None:
    """Every file of the checkout's package is in the package the tests import (the installed
    wheel, with tests/run.sh), byte for byte: a module the wheel leaves out, or an install
    older than the checkout, fails here by name rather than somewhere later."""
    import git_credential_bbtoken

    installed = Path(git_credential_bbtoken.__file__).resolve().parent
    files = sorted(p.relative_to(PACKAGE) for p in PACKAGE.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    assert Path("cli.py") in files and Path("py.typed") in files, files
    missing = [str(p) for p in files if not (installed / p).is_file()]
    assert missing == [], f"not in the package under test ({installed}): {missing}"
    stale = [str(p) for p in files if (installed / p).read_bytes() != (PACKAGE / p).read_bytes()]
    assert stale == [], f"older in {installed} than in the checkout (run tests/run.sh): {stale}"
