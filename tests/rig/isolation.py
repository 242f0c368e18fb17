"""The per-test environment: nothing of the developer's machine may leak into a test (their
git config, keyring, proxies, tokens), and every subprocess inherits the same isolation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Variables that would change what git, keyring, requests or our helper do.
REMOVED = [
    "GIT_ASKPASS", "SSH_ASKPASS", "BBTOKEN_TOKEN", "BBTOKEN_USERNAME", "BBTOKEN_DEBUG",
    "PYTHON_KEYRING_BACKEND",
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
    "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE",
    "SSL_CERT_DIR", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY",
    # A pytest started from a git hook or with git tracing on would otherwise steer every git.
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT", "GIT_EXEC_PATH", "GIT_TRACE", "GIT_TRACE_CURL", "GIT_CURL_VERBOSE",
    "LANGUAGE",
]


def isolate(monkeypatch: pytest.MonkeyPatch, root: Path) -> Path:
    """Point every per-user location into `root`; returns the isolated global git config."""
    for name in list(os.environ):
        if name in REMOVED or name.startswith(("BBTOKEN_", "GIT_CONFIG_KEY_",
                                               "GIT_CONFIG_VALUE_")):
            # Kept: where the newer git is, and what this run requires (rig.required).
            if name != "BBTOKEN_NEWER_GIT" and not name.startswith("BBTOKEN_REQUIRE_"):
                monkeypatch.delenv(name, raising=False)
    home = root / "home"
    dirs = {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_STATE_HOME": home / ".local" / "state",
        "XDG_RUNTIME_DIR": root / "run",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(path))
    dirs["XDG_RUNTIME_DIR"].chmod(0o700)  # the XDG spec requires it; keyring code checks
    # Not in the checkout: there `python -m git_credential_bbtoken` would import the checkout
    # instead of the installed package, and git would see the project's own repository.
    work = root / "cwd"
    work.mkdir(exist_ok=True)
    monkeypatch.chdir(work)

    git_config = home / ".gitconfig"
    git_config.touch()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(git_config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    # English messages, so tests can match git's wording.
    monkeypatch.setenv("LC_ALL", "C")
    # Commits in tests need an identity; env vars keep the global config file empty.
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Rig Tester")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "rig@example.invalid")
    # The venv's bin holds the console script `git-credential-bbtoken`: it must win on PATH.
    venv_bin = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", os.pathsep.join([venv_bin, os.environ.get("PATH", "")]))
    return git_config


def git_version(git_bin_dir: str | os.PathLike[str] | None = None) -> tuple[int, ...]:
    """(2, 39, 5) for `git version 2.39.5`; the system git (first on PATH) by default."""
    git = str(Path(git_bin_dir) / "git") if git_bin_dir else "git"
    out = subprocess.run([git, "--version"], capture_output=True, text=True,
                         check=True).stdout
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    assert match, out
    return tuple(int(part) for part in match.groups() if part is not None)
