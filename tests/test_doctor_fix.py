"""`doctor --fix` (issue 14): one confirmation each, typed at a real terminal (a pty), to
remove a stale password another helper holds and to move a token out of a remote URL; without
a terminal it only lists them. Real git, its `store` helper, the test server, the keyring."""

from __future__ import annotations

import os
import pty
import select
import subprocess
from pathlib import Path

from rig.server import BitbucketServer

APP_PASSWORD = "ATBBq9WxYz3Kp7Lm2Nn4"  # noqa: S105 - fake, app-password shaped
TOKEN = "ATATT3x-doctor-fix-token-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105
READ = "read:repository:bitbucket"
WRITE = "write:repository:bitbucket"


def in_terminal(argv: list[str], answer: str, cwd: Path | None = None) -> tuple[int, str]:
    """Run argv on a pseudo-terminal, typing `answer` at each `[y/N]` question."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session of its own with the pty as its terminal
        if cwd is not None:
            os.chdir(cwd)
        os.execvp(argv[0], argv)
    output = b""
    asked = 0
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 90)  # a hang guard, not a timing
            assert ready, f"no output for 90 s: {output.decode(errors='replace')}"
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if output.count(b"[y/N]") > asked:
                asked += 1
                os.write(fd, answer.encode() + b"\n")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def store_app_password(host: str) -> None:
    subprocess.run(["git", "config", "--global", "--add", "credential.helper", "store"],
                   check=True)
    subprocess.run(["git", "-c", "credential.helper=", "-c", "credential.helper=store",
                    "credential", "approve"], check=True, text=True,
                   input=f"protocol=https\nhost={host}\nusername=alice\n"
                         f"password={APP_PASSWORD}\n\n")


def credentials_file() -> str:
    path = Path(os.environ["HOME"]) / ".git-credentials"
    return path.read_text() if path.exists() else ""


def test_fix_removes_a_stale_app_password_after_a_typed_yes(secret_service: object) -> None:
    store_app_password("bitbucket.org")
    assert APP_PASSWORD in credentials_file()
    status, output = in_terminal(["git", "credential-bbtoken", "doctor", "--fix"], "y")
    assert "credential helper store still holds an app password" in output
    assert "Remove the password credential helper store holds for bitbucket.org" in output
    assert "removed the password credential helper store held" in output
    assert APP_PASSWORD not in output
    assert APP_PASSWORD not in credentials_file()
    assert status in (0, 1)


def test_fix_without_a_terminal_only_lists(secret_service: object) -> None:
    store_app_password("bitbucket.org")
    result = subprocess.run(["git", "credential-bbtoken", "doctor", "--fix"],
                            capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    assert "still holds an app password" in result.stdout
    assert "nothing was changed" in result.stderr
    assert APP_PASSWORD in credentials_file()


def test_fix_answered_no_changes_nothing(secret_service: object) -> None:
    store_app_password("bitbucket.org")
    _, output = in_terminal(["git", "credential-bbtoken", "doctor", "--fix"], "n")
    assert "Remove the password" in output and "removed" not in output
    assert APP_PASSWORD in credentials_file()


def test_fix_moves_a_token_out_of_a_remote_url(bitbucket: BitbucketServer,
                                               secret_service: object, tmp_path: Path) -> None:
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    bitbucket.add_token(TOKEN, "alice", [READ, WRITE])
    assert subprocess.run(["git", "credential-bbtoken", "setup", bitbucket.url]).returncode == 0
    with_token = bitbucket.url.replace("://", f"://alice:{TOKEN}@", 1) + "/acme/widgets.git"
    clone = subprocess.run(["git", "clone", with_token, str(tmp_path / "w")],
                           capture_output=True, text=True, timeout=120)
    assert clone.returncode == 0, clone.stderr
    config = tmp_path / "w" / ".git" / "config"
    assert TOKEN in config.read_text()

    listed = subprocess.run(["git", "credential-bbtoken", "doctor", bitbucket.url],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path / "w",
                            stdin=subprocess.DEVNULL)
    assert "remote origin's URL holds a token" in listed.stdout
    assert TOKEN not in listed.stdout + listed.stderr

    status, output = in_terminal(["git", "credential-bbtoken", "doctor", bitbucket.url,
                                  "--fix"], "y", cwd=tmp_path / "w")
    assert "moved the token of remote origin" in output, output
    assert "git reaches it with the stored token" in output
    assert TOKEN not in output and TOKEN not in config.read_text()
    fetch = subprocess.run(["git", "fetch"], cwd=tmp_path / "w", capture_output=True,
                           text=True, timeout=120,
                           env=dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS=""))
    assert fetch.returncode == 0, fetch.stderr
    remote = subprocess.run(["git", "remote", "-v"], cwd=tmp_path / "w", capture_output=True,
                            text=True).stdout
    assert TOKEN not in remote and "alice" not in remote
