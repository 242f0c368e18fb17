"""`install/install.sh` as a new user runs it: a fresh HOME, no pipx, a PATH without this
project's venv. It builds its own venv from (a copy of) this checkout — pip fetches keyring,
platformdirs and requests from PyPI — wires git, and a real clone from the test server then
works through the installed helper. `--uninstall` undoes every setup, leaving git config
byte-identical; `--purge` removes the stored tokens too.

Slow (two pip installs into fresh venvs) and needs PyPI: it is one test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rig.required import skip_or_fail
from rig.server import BitbucketServer

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
READ = "read:repository:bitbucket"
WRITE = "write:repository:bitbucket"
GOOD = "ATATT3xFfGF0-install-good-0123456789abcdefghijklmnopqrstuvwxyz"
NAME = "git-credential-bbtoken"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="install.sh is for POSIX")


def copy_checkout(target: Path) -> Path:
    """The files a user's clone has that the install uses, without this venv or build dirs
    (pip builds in the source tree; a copy keeps other test runs out of its way)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".venv", "*.pyc")
    target.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, target / name)
    for folder in ("git_credential_bbtoken", "install", "man"):
        shutil.copytree(ROOT / folder, target / folder, ignore=ignore)
    return target


def short_path() -> str:
    """PATH as a new user has it: without this project's venv (nor pipx: BBTOKEN_NO_PIPX)."""
    return os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if p and Path(p).resolve() != VENV_BIN.resolve())


def sh(*args: str, env: dict[str, str], input: str | None = None,
       cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), env=env, input=input, cwd=cwd, capture_output=True,
                          text=True, timeout=900, stdin=None if input else subprocess.DEVNULL)


def stored(env: dict[str, str], exe: Path) -> list[dict[str, Any]]:
    result = sh(str(exe), "list", "--json", env=env)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)["credentials"]
    return rows


def test_install_clone_uninstall_purge(bitbucket: BitbucketServer, secret_service: Any,
                                       isolated_env: Path, tmp_path: Path) -> None:
    if shutil.which("python3", path=short_path()) is None:
        skip_or_fail("install.sh needs a python3 on PATH (besides this venv's)", "PYTHON3")
    server = bitbucket
    server.add_user("alice", "alice@example.com", workspaces=["acme"])
    server.add_repo("acme/widgets")
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])

    checkout = copy_checkout(tmp_path / "checkout")
    bin_dir = tmp_path / "bin"
    env = dict(os.environ, PATH=short_path(), BBTOKEN_NO_PIPX="1",
               BBTOKEN_BIN_DIR=str(bin_dir))
    assert shutil.which(NAME, path=env["PATH"]) is None
    data_home = Path(env["XDG_DATA_HOME"])
    venv = data_home / NAME / "venv"
    exe = venv / "bin" / NAME
    # the manual page, beside bin_dir as man looks for it from PATH (<dir>/../share/man)
    man_page = tmp_path / "share" / "man" / "man1" / f"{NAME}.1"
    config_before = isolated_env.read_bytes()  # holds the server's CA and bbtoken.* lines

    install = sh("sh", str(checkout / "install" / "install.sh"), env=env)
    assert install.returncode == 0, install.stdout + install.stderr
    assert exe.exists() and (bin_dir / NAME).resolve() == exe.resolve()
    assert man_page.resolve() == (venv / "share" / "man" / "man1" / f"{NAME}.1").resolve()
    assert man_page.read_bytes() == (ROOT / "man" / f"{NAME}.1").read_bytes()
    # The console script git runs on every fetch starts without `re` (issue 5: pip >= 25).
    script = exe.read_text()
    assert script.startswith(f"#!{venv}/bin/python") and "import re" not in script
    assert "credential-bbtoken login" in install.stdout
    helpers = sh("git", "config", "--global", "--get-all",
                 "credential.https://bitbucket.org.helper", env=env).stdout.splitlines()
    # bin_dir is not on PATH, so setup wrote the installed script's full path
    assert helpers == ["", str(exe.resolve())]

    # Re-running upgrades in place and changes no config.
    config_installed = isolated_env.read_bytes()
    again = sh("sh", str(checkout / "install" / "install.sh"), env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert isolated_env.read_bytes() == config_installed

    # The installed helper, wired the same way for the test server, serves a real clone.
    assert sh(str(exe), "setup", server.url, env=env).returncode == 0
    login = sh(str(exe), "login", f"{server.url}/acme/widgets", "--token-stdin",
               input=GOOD + "\n", env=env)
    assert login.returncode == 0, login.stderr
    server.clear_log()
    clone = sh("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"),
               env=env)
    assert clone.returncode == 0, clone.stderr
    assert (tmp_path / "w" / ".git").is_dir()
    assert "x-bitbucket-api-token-auth" in {r.username for r in server.requests}

    # --uninstall: git config exactly as before the install (setup undone for bitbucket.org
    # and for the test server alike); tokens kept.
    uninstall = sh("sh", str(checkout / "install" / "install.sh"), "--uninstall", env=env)
    assert uninstall.returncode == 0, uninstall.stdout + uninstall.stderr
    assert isolated_env.read_bytes() == config_before
    assert not venv.exists()
    assert not (bin_dir / NAME).exists() and not (bin_dir / NAME).is_symlink()
    assert not man_page.exists() and not man_page.is_symlink()
    assert "--purge" in uninstall.stdout
    # the stored token survives (read with this checkout's own helper)
    project_env = dict(os.environ)
    assert len(stored(project_env, VENV_BIN / NAME)) == 1
    assert secret_service.items()

    # --uninstall --purge removes the stored tokens as well.
    assert sh("sh", str(checkout / "install" / "install.sh"), env=env).returncode == 0
    purge = sh("sh", str(checkout / "install" / "install.sh"), "--uninstall", "--purge",
               env=env)
    assert purge.returncode == 0, purge.stdout + purge.stderr
    assert isolated_env.read_bytes() == config_before
    assert stored(project_env, VENV_BIN / NAME) == []
    assert not secret_service.items()
    assert GOOD not in install.stdout + install.stderr + purge.stdout + purge.stderr
