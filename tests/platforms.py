"""Which tests can run on which platform, marked by rule (never by a list of test names, never a
silent skip). Loaded for every run by `-p platforms` in pyproject.toml's addopts, which also
registers the markers:

  linux_only  the test needs what only the Linux rig has: the private gnome-keyring on D-Bus
              (fixture `secret_service`, rig/secret_service.py), or "no keyring" made by hiding
              D-Bus (`no_keyring`), or fake platform helpers (manager, osxkeychain) that git
              finds on PATH only where its exec path has no real one (`system_helper`,
              rig/systemhelper.py), or the git >= 2.46 with its source tree that
              .ci/newer-git.sh builds from Debian's package (`newer_git`).
  posix_only  the test module cannot be imported here: code that runs at import (imports,
              decorators, module constants) uses a module or an `os`/`signal` name that this
              platform lacks (fcntl, pty, termios, pwd, os.geteuid on Windows). Its tests cannot
              even be collected; one placeholder item stands for them, marked posix_only, so
              `-m "not posix_only"` counts it as deselected and running it fails.

CI (.github/workflows/ci.yml) runs everything on Linux, `-m "not linux_only"` on macOS and
`-m "not linux_only and not posix_only"` on Windows; the run ends with what it deselected and
why. Marks apply on every platform, so `-m "not linux_only"` on Linux shows what macOS runs.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# fixture -> why a test that uses it runs on Linux only
LINUX_ONLY_FIXTURES = {
    "secret_service": "needs the rig's gnome-keyring on a private D-Bus (rig/secret_service.py)",
    "newer_git": "needs the git >= 2.46 and git's source tree that .ci/newer-git.sh builds "
                 "from Debian's package",
    "no_keyring": "takes the keyring away by hiding D-Bus, which leaves macOS's and Windows' "
                  "keyring in place",
    "system_helper": "fakes git-credential-manager / -osxkeychain on PATH, where git's exec "
                     "path on Windows and macOS holds the real one, which git runs first",
}
# Standard modules that exist on POSIX systems only.
POSIX_MODULES = {"fcntl", "grp", "posix", "pty", "pwd", "resource", "syslog", "termios", "tty"}
CHECKED_MODULES = {"os": os, "signal": signal}

_deselected: dict[str, int] = {}


def missing_at_import(path: Path) -> list[str]:
    """What the module's import-time code uses that this platform lacks (function bodies run
    later, in their test, and are not looked at)."""
    missing = []
    pending: list[ast.AST] = [ast.parse(path.read_bytes(), str(path))]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending += node.decorator_list + node.args.defaults
            pending += [d for d in node.args.kw_defaults if d is not None]
            continue
        if isinstance(node, ast.Lambda):
            continue
        pending += ast.iter_child_nodes(node)
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name.partition(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module.partition(".")[0]]
        missing += [f"import {name}" for name in names
                    if name in POSIX_MODULES and importlib.util.find_spec(name) is None]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in CHECKED_MODULES \
                and not hasattr(CHECKED_MODULES[node.value.id], node.attr):
            missing.append(f"{node.value.id}.{node.attr}")
    return sorted(set(missing))


class Unimportable(pytest.File):
    """A test module that cannot be imported on this platform: one failing placeholder item."""

    missing: list[str] = []

    def collect(self) -> Iterator[pytest.Item]:
        item = Placeholder.from_parent(self, name=f"[not importable on {sys.platform}]")
        item.add_marker(pytest.mark.posix_only(reason=f"uses {', '.join(self.missing)}"))
        yield item


class Placeholder(pytest.Item):
    def runtest(self) -> None:
        missing = ", ".join(self.parent.missing)  # type: ignore[union-attr]
        pytest.fail(f"{self.path.name} cannot be imported on {sys.platform}: it uses "
                    f"{missing} at import time (deselect with -m 'not posix_only')",
                    pytrace=False)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.name


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector
                                ) -> pytest.Collector | None:
    missing = missing_at_import(module_path)
    if not missing:
        return None
    module = Unimportable.from_parent(parent, path=module_path)
    module.missing = missing
    return module


@pytest.hookimpl(tryfirst=True)  # before -m deselects by the marks set here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses = set(getattr(item, "fixturenames", ()))
        for fixture, why in LINUX_ONLY_FIXTURES.items():
            if fixture in uses:
                item.add_marker(pytest.mark.linux_only(reason=why))


def pytest_deselected(items: list[pytest.Item]) -> None:
    for item in items:
        mark = next((m for m in item.iter_markers() if m.name in ("linux_only", "posix_only")),
                    None)
        if mark is not None:
            key = f"{mark.name}: {mark.kwargs.get('reason', '')}"
            _deselected[key] = _deselected.get(key, 0) + 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _deselected:
        terminalreporter.section(f"not run on {sys.platform} (deselected by platform marks)")
        for reason, count in sorted(_deselected.items()):
            terminalreporter.write_line(f"{count:5d}  {reason}")
