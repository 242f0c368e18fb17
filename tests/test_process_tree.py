"""Push or fetch? The helper looks at the git command that started it. Linux reads /proc;
every other OS goes through psutil. Both paths run here, under a real `git push` and
`git fetch`, so the one macOS and Windows users get is tested too (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rig.server import BitbucketServer

READ = "read:repository:bitbucket"
READ_ONLY = "ATATT3x-process-tree-read-only-0123456789abcdefghijklmnopqrstuv"

PSUTIL_HELPER = """#!{python}
import sys
from git_credential_bbtoken import gitcommand
gitcommand._FORCE_PSUTIL = True
from git_credential_bbtoken.cli import main
sys.exit(main())
"""


def git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="")
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.parametrize("path", ["proc", "psutil"])
def test_a_push_is_told_from_a_fetch(bitbucket: BitbucketServer, secret_service: object,
                                     tmp_path: Path, path: str) -> None:
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    bitbucket.add_token(READ_ONLY, "alice", [READ])
    login = subprocess.run(["git", "credential-bbtoken", "login",
                            f"{bitbucket.url}/acme/widgets",
                            "--token-stdin"], input=READ_ONLY + "\n", capture_output=True,
                           text=True, timeout=120)
    assert login.returncode == 0, login.stderr
    helper = "bbtoken"
    if path == "psutil":
        script = tmp_path / "git-credential-bbtoken-psutil"
        script.write_text(PSUTIL_HELPER.format(python=sys.executable))
        script.chmod(0o755)
        helper = str(script)
    key = f"credential.{bitbucket.url}.helper"
    subprocess.run(["git", "config", "--global", key, ""], check=True)
    subprocess.run(["git", "config", "--global", "--add", key, helper], check=True)
    subprocess.run(["git", "config", "--global", f"credential.{bitbucket.url}.useHttpPath",
                    "true"], check=True)

    work = tmp_path / "w"
    assert git("clone", f"{bitbucket.url}/acme/widgets.git", str(work)).returncode == 0
    fetched = git("fetch", cwd=work)
    assert fetched.returncode == 0 and "cannot push" not in fetched.stderr
    (work / "f.txt").write_text("x\n")
    assert git("add", "f.txt", cwd=work).returncode == 0
    assert git("-c", "user.name=T", "-c", "user.email=t@e.x", "commit", "-qm", "c",
               cwd=work).returncode == 0
    pushed = git("push", "origin", "HEAD:main", cwd=work)
    assert pushed.returncode != 0
    assert "The token cannot push to" in pushed.stderr, pushed.stderr
    assert "told us to quit" in pushed.stderr
