"""A recognisable token goes through every command; it may appear only in `get`'s answer.

Every command runs as a user or git runs it (login, get/store/erase through `git credential`,
list, doctor, logout, with and without `--json`, with and without BBTOKEN_DEBUG=1, and on
failure paths). Afterwards the token must be in none of: stderr, stdout (other than the `get`
answer), the metadata file, the lock file, anything else in the data folder, the git config,
the keyring items' labels and attributes, and the command lines of every git process the
helper started (git is wrapped by a PATH shim that logs its argv).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rig.server import BitbucketServer

CANARY = "ATATT3xLEAKCANARY-7f3a9c1e-0123456789abcdefghij"  # noqa: S105
BAD_CANARY = "ATATT3xLEAKCANARY-BAD-deadbeefdeadbeefdeadbeef"  # noqa: S105
NEW_CANARY = "ATATT3xLEAKCANARY-NEW-feedfacefeedfacefeedface"  # noqa: S105
CANARIES = (CANARY, BAD_CANARY, NEW_CANARY)
READ, WRITE, USER = ("read:repository:bitbucket", "write:repository:bitbucket",
                     "read:user:bitbucket")

SHIM = """#!/bin/sh
# Log this git's command line (one argument per line, then a separator), then be git.
for arg in "$@"; do printf '%s\\n' "$arg" >> "{log}"; done
printf -- '--end--\\n' >> "{log}"
exec "{git}" "$@"
"""


def data_dir() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "git-credential-bbtoken"


@pytest.fixture
def shim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every git process logs its argv to the returned file: `git` on PATH is a logging
    script, and so is `git` in git's exec path (git puts that folder first on its children's
    PATH, so the helper's own `git config` children find it there)."""
    real_git = shutil.which("git")
    assert real_git
    exec_path = subprocess.run([real_git, "--exec-path"], capture_output=True, text=True,
                               check=True).stdout.strip()
    log = tmp_path / "git-argv.log"
    log.touch()
    on_path = tmp_path / "shim"
    shim_exec = tmp_path / "shim-exec-path"
    on_path.mkdir()
    shim_exec.mkdir()
    for name in os.listdir(exec_path):  # git's own programs, through symlinks
        if name != "git":
            (shim_exec / name).symlink_to(os.path.join(exec_path, name))
    for folder in (on_path, shim_exec):
        script = folder / "git"
        script.write_text(SHIM.format(log=log, git=os.path.join(exec_path, "git")))
        script.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(on_path), os.environ["PATH"]]))
    monkeypatch.setenv("GIT_EXEC_PATH", str(shim_exec))
    return log


@pytest.fixture
def server(bitbucket: BitbucketServer, secret_service: object) -> BitbucketServer:
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    bitbucket.add_token(CANARY, "alice", scopes=[READ, WRITE, USER])
    bitbucket.add_token(NEW_CANARY, "alice", scopes=[READ])
    return bitbucket


class Transcript:
    def __init__(self) -> None:
        self.outputs: list[tuple[str, str, str]] = []  # (what, stream, text)

    def run(self, what: str, args: list[str], *, expect: int, input: str | None = None,
            answer_allowed: bool = False, debug: bool = False) -> subprocess.CompletedProcess[str]:
        """Run one step; its exit status must be `expect` (a step that fails for another
        reason than the one it is there for would leave the paths after it untested)."""
        env = dict(os.environ)
        if debug:
            env["BBTOKEN_DEBUG"] = "1"
        result = subprocess.run(args, input=input, capture_output=True, text=True, timeout=120,
                                env=env)
        assert result.returncode == expect, (what, result.returncode, result.stderr)
        self.outputs.append((what, "stderr", result.stderr))
        stdout = result.stdout
        if answer_allowed:
            # Only the password= line of git's answer may hold the token.
            stdout = "\n".join(line for line in stdout.splitlines()
                               if not line.startswith("password="))
        self.outputs.append((what, "stdout", stdout))
        return result

    def leaks(self) -> list[str]:
        return [f"{what} {stream}" for what, stream, text in self.outputs
                if any(c in text for c in CANARIES)]


def git_credential(action: str, fields: dict[str, str]) -> list[str]:
    return ["git", "-c", "credential.helper=", "-c", "credential.helper=bbtoken",
            "-c", "credential.useHttpPath=true", "credential", action]


def record(fields: dict[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in fields.items()) + "\n"


def everything_at_rest(secret_service: object) -> list[str]:
    """Places on disk (and keyring metadata) that must never hold a token."""
    found = []
    folder = data_dir()
    if folder.exists():
        for path in folder.rglob("*"):
            if path.is_file() and any(c.encode() in path.read_bytes() for c in CANARIES):
                found.append(str(path))
    gitconfig = Path(os.environ["GIT_CONFIG_GLOBAL"])
    if any(c in gitconfig.read_text() for c in CANARIES):
        found.append("global git config")
    for item in secret_service.items():  # type: ignore[attr-defined]
        visible = item["label"] + repr(item["attributes"])
        if any(c in visible for c in CANARIES):
            found.append(f"keyring item label/attributes: {item['label']}")
    return found


@pytest.mark.parametrize("debug", [False, True], ids=["quiet", "BBTOKEN_DEBUG"])
def test_token_appears_only_in_the_get_answer(debug: bool, server: BitbucketServer,
                                              shim: Path, secret_service: object) -> None:
    t = Transcript()
    url = f"{server.url}/acme/widgets"
    host = server.url.split("://", 1)[1]
    repo = {"protocol": "https", "host": host, "path": "acme/widgets.git"}
    bb = ["git", "credential-bbtoken"]

    t.run("setup", [*bb, "setup", server.url], expect=0, debug=debug)
    # A token that cannot clone is refused (a failure path), then the good one is stored.
    t.run("login (refused)", [*bb, "login", url, "--email", "alice@example.com",
                              "--token-stdin"], input=BAD_CANARY + "\n", expect=1, debug=debug)
    t.run("login", [*bb, "login", url, "--email", "alice@example.com", "--token-stdin"],
          input=CANARY + "\n", expect=0, debug=debug)
    fill = t.run("get", git_credential("fill", repo), input=record(repo), expect=0,
                 answer_allowed=True, debug=debug)
    assert f"password={CANARY}" in fill.stdout
    direct = t.run("get (direct)", [*bb, "get"], input=record(repo), expect=0,
                   answer_allowed=True, debug=debug)
    assert f"password={CANARY}" in direct.stdout
    t.run("store (unchanged)", git_credential("approve", repo), expect=0,
          input=record({**repo, "username": "x-bitbucket-api-token-auth", "password": CANARY}),
          debug=debug)
    t.run("store (new)", git_credential("approve", repo), expect=0,
          input=record({**repo, "username": "x-bitbucket-api-token-auth",
                        "password": NEW_CANARY}), debug=debug)
    listed = t.run("list", [*bb, "list"], expect=0, debug=debug)
    assert url in listed.stdout
    as_json = t.run("list --json", [*bb, "list", "--json"], expect=0, debug=debug)
    assert [row["url"] for row in json.loads(as_json.stdout)["credentials"]] == [url]
    # The new token is read-only: doctor reports the push problem (exit 1), in both forms.
    doctor = t.run("doctor", [*bb, "doctor", url], expect=1, debug=debug)
    assert "problem  push" in doctor.stdout
    doctor_json = t.run("doctor --json", [*bb, "doctor", url, "--json"], expect=1, debug=debug)
    assert json.loads(doctor_json.stdout)["ok"] is False
    # A push with a read-only token: get explains and answers quit (a failure path).
    os.environ["BBTOKEN_GIT_OPERATION"] = "push"
    try:
        pushing = t.run("get (push, read-only)", [*bb, "get"], input=record(repo), expect=0,
                        debug=debug, answer_allowed=True)
    finally:
        del os.environ["BBTOKEN_GIT_OPERATION"]
    assert "quit=1" in pushing.stdout, pushing.stderr
    t.run("erase", git_credential("reject", repo), expect=0,
          input=record({**repo, "username": "x-bitbucket-api-token-auth",
                        "password": NEW_CANARY}), debug=debug)
    assert "No credentials stored" in t.run("list (erased)", [*bb, "list"], expect=0).stdout
    t.run("login again", [*bb, "login", url, "--token-stdin"], input=CANARY + "\n", expect=0,
          debug=debug)
    bad = t.run("store with bad input", [*bb, "store"], expect=1,
                input=f"protocol=https\nhost={host}\nusername=u\npassword={CANARY}\r\n\n",
                debug=debug)
    assert "carriage return" in bad.stderr
    t.run("logout", [*bb, "logout", url], expect=0, debug=debug)
    after = t.run("list (after)", [*bb, "list"], expect=0, debug=debug)
    assert "No credentials stored" in after.stdout

    assert t.leaks() == []
    assert everything_at_rest(secret_service) == []
    argv_log = shim.read_text()
    assert "--get-urlmatch" in argv_log  # the shim did see the helper's git children
    assert not any(c in argv_log for c in CANARIES)


def test_ci_token_from_the_environment_is_not_leaked(server: BitbucketServer, shim: Path,
                                                     secret_service: object) -> None:
    t = Transcript()
    host = server.url.split("://", 1)[1]
    repo = {"protocol": "https", "host": host, "path": "acme/widgets.git"}
    os.environ["BBTOKEN_TOKEN"] = CANARY
    try:
        got = t.run("get", ["git", "credential-bbtoken", "get"], input=record(repo), expect=0,
                    answer_allowed=True, debug=True)
        assert f"password={CANARY}" in got.stdout
        t.run("store", ["git", "credential-bbtoken", "store"], expect=0,
              input=record({**repo, "username": "u", "password": CANARY}), debug=True)
        t.run("erase", ["git", "credential-bbtoken", "erase"], expect=0,
              input=record({**repo, "username": "u", "password": CANARY}), debug=True)
        # With git wired to bbtoken and a repository to probe, so that doctor really sends
        # the token (a clean bill of health: exit 0).
        t.run("setup", ["git", "credential-bbtoken", "setup", server.url], expect=0,
              debug=True)
        doctor = t.run("doctor", ["git", "credential-bbtoken", "doctor",
                                  f"{server.url}/acme/widgets", "--json"], expect=0, debug=True)
        checks = {c["name"]: c["status"] for c in json.loads(doctor.stdout)["checks"]}
        assert (checks["clone"], checks["push"]) == ("ok", "ok"), checks
    finally:
        del os.environ["BBTOKEN_TOKEN"]
    assert t.leaks() == []
    assert everything_at_rest(secret_service) == []
    assert not any(c in shim.read_text() for c in CANARIES)


ECHOING_BACKEND = '''
"""A keyring backend whose errors quote the password (some vault clients do)."""
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordSetError

class Keyring(KeyringBackend):
    priority = 1
    def get_password(self, service, username):
        raise KeyringError("no entry")
    def set_password(self, service, username, password):
        raise PasswordSetError(f"refused to store {password!r} for {username}")
    def delete_password(self, service, username):
        raise KeyringError("nothing")
'''


def test_exception_text_from_the_keyring_is_redacted(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "echoing_keyring.py").write_text(ECHOING_BACKEND)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "echoing_keyring.Keyring")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "git-credential-bbtoken"), "store"],
        input=f"protocol=https\nhost=gen.example\nusername=u\npassword={CANARY}\n\n",
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "could not write to the keyring" in result.stderr
    assert CANARY not in result.stderr


def test_repr_and_exceptions_of_in_process_objects_hide_the_token() -> None:
    from git_credential_bbtoken.checks.transport import Secret
    from git_credential_bbtoken.protocol import Credential, ProtocolError, read_record

    record_ = read_record(f"protocol=https\nhost=h\nusername=u\npassword={CANARY}\n"
                          f"oauth_refresh_token={CANARY}\n".encode())
    assert CANARY not in repr(record_) and CANARY not in str(record_)
    assert CANARY not in repr(Secret(CANARY)) and CANARY not in f"{Secret(CANARY)}"
    for bad in (f"password={CANARY}\rx\n", f"{CANARY}\n", f"url={CANARY}\n"):
        with pytest.raises(ProtocolError) as caught:
            read_record(bad.encode())
        assert CANARY not in str(caught.value)
    assert CANARY not in repr(Credential(password=CANARY))
