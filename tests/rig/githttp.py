"""Bare repositories and the real `git http-backend`: the rig serves git's smart HTTP with
git itself, so clone, fetch and push behave exactly as against a real server."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# The CGI's environment is built from scratch: the test's isolated HOME, global config or
# GIT_* variables must not change how the *server* side behaves.
SERVER_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C",
                  "GIT_AUTHOR_NAME": "Rig", "GIT_AUTHOR_EMAIL": "rig@example.invalid",
                  "GIT_COMMITTER_NAME": "Rig", "GIT_COMMITTER_EMAIL": "rig@example.invalid",
                  "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
                  "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


def _server_env(root: Path) -> dict[str, str]:
    git_dir = str(Path(shutil.which("git") or "/usr/bin/git").parent)
    return {"PATH": os.pathsep.join([git_dir, "/usr/bin", "/bin"]), "HOME": str(root),
            **SERVER_GIT_ENV}


def _git(root: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(["git", *args], input=stdin, capture_output=True, text=True,
                            env=_server_env(root), cwd=root, check=True)
    return result.stdout.strip()


def create_bare_repo(root: Path, full_name: str) -> Path:
    """root/ws/repo.git with one commit (README.md) on main, push allowed over HTTP."""
    path = root / f"{full_name}.git"
    path.parent.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q", "--bare", "--initial-branch=main", str(path))
    git_dir = f"--git-dir={path}"
    _git(root, git_dir, "config", "http.receivepack", "true")
    # Plumbing builds the first commit without a work tree.
    blob = _git(root, git_dir, "hash-object", "-w", "--stdin", stdin=f"# {full_name}\n")
    tree = _git(root, git_dir, "mktree", stdin=f"100644 blob {blob}\tREADME.md\n")
    commit = _git(root, git_dir, "commit-tree", tree, "-m", "Initial commit")
    _git(root, git_dir, "update-ref", "refs/heads/main", commit)
    return path


def run_http_backend(root: Path, method: str, path_info: str, query: str, body: bytes,
                     headers: dict[str, str], remote_user: str
                     ) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run the CGI once; returns (status, headers, body) of its answer."""
    env = _server_env(root)
    env.update({
        "GIT_PROJECT_ROOT": str(root), "GIT_HTTP_EXPORT_ALL": "1",
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_METHOD": method, "PATH_INFO": path_info, "QUERY_STRING": query,
        "REMOTE_USER": remote_user, "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(body)),
    })
    # http-backend undoes a gzip request body itself when told the encoding.
    for name in ("Content-Encoding", "Git-Protocol"):
        if headers.get(name):
            env["HTTP_" + name.upper().replace("-", "_")] = headers[name]
    result = subprocess.run(["git", "http-backend"], input=body, capture_output=True,
                            env=env, timeout=120)
    head, _, payload = result.stdout.partition(b"\r\n\r\n")
    if not _:
        head, _, payload = result.stdout.partition(b"\n\n")
    status = 200
    out_headers = []
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            out_headers.append((name.strip(), value.strip()))
    if result.returncode != 0 and not result.stdout:
        return 500, [("Content-Type", "text/plain")], result.stderr
    return status, out_headers, payload
