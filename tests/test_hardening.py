"""Issue 13 (hardening, round 2): each finding of the security review, shown for real.

Every test here failed on the main of 2026-11-30 before the fix it names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rig.gitrun import HELPER_SCRIPT, helper, parse_record
from rig.secret_service import SecretService

from git_credential_bbtoken.common import is_cloud_host, parse_host

TOKEN = "ATATT-hardening-token"  # noqa: S105 - fake


# -- 1. one strict host grammar ---------------------------------------------------------------


@pytest.mark.parametrize(("host", "parsed"), [
    ("bitbucket.org", ("bitbucket.org", None)),
    ("Bitbucket.ORG:443", ("bitbucket.org", 443)),
    ("git.example-corp.com:7990", ("git.example-corp.com", 7990)),
    ("127.0.0.1:8443", ("127.0.0.1", 8443)),
    ("[::1]", ("::1", None)),
    ("[::1]:8443", ("::1", 8443)),
    ("[2001:db8::7]:443", ("2001:db8::7", 443)),
])
def test_host_grammar_accepts_what_git_sends(host: str, parsed: tuple[str, int | None]) -> None:
    assert parse_host(host) == parsed


@pytest.mark.parametrize("host", [
    "bitbucket.org:@127.0.0.1", "user@bitbucket.org", "bitbucket.org:", "bitbucket.org:0",
    "bitbucket.org:65536", "bitbucket.org:44a", "bitbucket.org:443:1", "bit bucket.org",
    "bitbucket.org/evil", "", ".bitbucket.org", "-x.org", "a..b", "[::1", "[::1]x",
    "[::1]:", "[fe80::1%eth0]", "[]", "[127.0.0.1]", "bitbucket.org\\@evil", "bitbucket.org%00",
    "bücket.org",
])
def test_host_grammar_refuses_everything_else(host: str) -> None:
    assert parse_host(host) is None


@pytest.mark.parametrize("url", [
    "https://bitbucket.org:abc/ws", "https://bitbucket.org:99999/ws", "https://[::1",
    "not a url", "https://bitbucket.org/my ws", "https://bitbucket.org:@127.0.0.1/ws",
    "ftp://bitbucket.org/ws/repo", "ftp://example.com/ws/repo",
    "ssh://git@bitbucket.org/ws/repo.git",
])
@pytest.mark.parametrize("command", ["login", "logout", "doctor", "rotate", "setup"])
def test_a_command_line_url_outside_the_grammar_is_one_usage_line(command: str,
                                                                   url: str) -> None:
    """Not an "internal error (ValueError)", not "Checking https://not a url", not a token
    stored for ftp://: one line, exit 2, nothing changed."""
    result = helper(url, args=[command, *(["--token-stdin"] if command in ("login", "rotate")
                                         else [])], input=TOKEN + "\n")
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "internal error" not in result.stderr
    assert result.stdout == ""
    assert stored() == []
    assert subprocess.run(["git", "config", "--global", "--get-regexp", "credential"],
                          capture_output=True).stdout == b""


def test_only_bitbucket_org_on_the_https_port_is_cloud_by_default() -> None:
    assert is_cloud_host("bitbucket.org") and is_cloud_host("bitbucket.org:443")
    assert not is_cloud_host("bitbucket.org:8443")
    assert not is_cloud_host("bitbucket.org:@127.0.0.1")
    assert not is_cloud_host("bitbucket.org.evil.example")


@pytest.mark.parametrize("host", ["bitbucket.org:@127.0.0.1", "bitbucket.org:8443"])
def test_a_confusable_host_gets_no_environment_token(host: str) -> None:
    """The review's reproduction: BBTOKEN_TOKEN went to `bitbucket.org:@127.0.0.1`, which an
    HTTP client reads as user `bitbucket.org:` at host 127.0.0.1."""
    result = helper("get", {"protocol": "https", "host": host, "path": "ws/r.git"},
                    env={"BBTOKEN_TOKEN": TOKEN})
    assert result.returncode == 0, result.stderr
    assert "password" not in dict(parse_record(result.stdout))
    assert TOKEN not in result.stdout + result.stderr


def test_the_real_host_still_gets_the_environment_token() -> None:
    result = helper("get", {"protocol": "https", "host": "bitbucket.org", "path": "ws/r.git"},
                    env={"BBTOKEN_TOKEN": TOKEN})
    assert dict(parse_record(result.stdout))["password"] == TOKEN


# -- 4. url= percent-decoding -----------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "https://u%0apassword=INJ:pw@example.edu/",
    "https://u:p%0dw@example.edu/",
    "https://u:pw%00@example.edu/",
    "https://example.edu%0a/",
    "https://example.edu/repo%0aquit=1",
])
def test_decoded_line_breaks_and_nul_in_url_are_refused(url: str) -> None:
    result = helper("store", f"url={url}\n\n")
    assert result.returncode == 1
    assert result.stderr.startswith("bbtoken: input refused") and "nothing was done" in \
        result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert stored() == []


def stored() -> list[dict[str, object]]:
    """What `list --json` shows."""
    listing = helper("--json", args=["list"])
    assert listing.returncode == 0, listing.stderr
    return json.loads(listing.stdout)["credentials"]  # type: ignore[no-any-return]


# -- 5. terminal escapes ----------------------------------------------------------------------


def test_terminal_escapes_from_a_path_never_reach_the_terminal() -> None:
    """git decodes `%1b]0;...%07` in a remote URL into raw bytes in `path=`; echoed as they
    are, they would retitle (or worse) the user's terminal."""
    path = "ws/\x1b]0;pwned\x07r\x9b.git"
    result = helper("get", {"protocol": "https", "host": "bitbucket.org", "path": path},
                    env={"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": None, "SSH_ASKPASS": None})
    assert result.returncode == 0
    assert "no token is stored" in result.stderr  # the line that echoes the path
    assert "%1B]0;pwned%07r%9B" in result.stderr
    assert not any(char in result.stderr for char in "\x1b\x07\x9b")


# -- 7. the null keyring ----------------------------------------------------------------------

NULL_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


def test_the_null_keyring_is_refused_not_reported_as_storing() -> None:
    login = helper("https://bitbucket.org/ws", args=["login", "--token-stdin"],
                   input=TOKEN + "\n", env=NULL_KEYRING)
    assert login.returncode == 1
    assert "keyring.backends.null.Keyring" in login.stderr
    assert "PYTHON_KEYRING_BACKEND" in login.stderr and "stored the token" not in login.stderr
    assert stored() == []
    doctor = helper("--json", args=["doctor"], env=NULL_KEYRING)
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert doctor.returncode == 1
    assert checks["secret store"]["status"] == "problem"
    assert "PYTHON_KEYRING_BACKEND" in checks["secret store"]["message"]


def test_the_null_keyring_from_keyrings_config_file_is_named(isolated_env: object) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "python_keyring" / "keyringrc.cfg"
    config.parent.mkdir(parents=True)
    config.write_text("[backend]\ndefault-keyring=keyring.backends.null.Keyring\n")
    login = helper("https://bitbucket.org/ws", args=["login", "--token-stdin"],
                   input=TOKEN + "\n")
    assert login.returncode == 1 and str(config) in login.stderr, login.stderr
    assert stored() == []


# -- 8. files ---------------------------------------------------------------------------------

GENERIC = {"protocol": "https", "host": "example.edu", "username": "u", "password": TOKEN}
GENERIC_GET = {"protocol": "https", "host": "example.edu"}


def _data_dir() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "git-credential-bbtoken"


def test_a_planted_lock_symlink_is_not_followed(tmp_path: Path) -> None:
    """The lock file is opened with O_NOFOLLOW: a symlink planted in its place must not make
    the helper create (or truncate) a file elsewhere."""
    _data_dir().mkdir(mode=0o700, parents=True, exist_ok=True)
    victim = tmp_path / "created-by-the-helper"
    (_data_dir() / "credentials.lock").symlink_to(victim)
    result = helper("store", GENERIC)
    assert result.returncode == 1 and "cannot lock" in result.stderr, result.stderr
    assert not victim.exists()


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_folder_others_may_write_is_refused(mode: int) -> None:
    """A credentials.json planted in a folder others may write is not served."""
    subprocess.run(["git", "config", "--global", "bbtoken.store", "file"], check=True)
    assert helper("store", GENERIC).returncode == 0
    assert dict(parse_record(helper("get", GENERIC_GET).stdout))["password"] == TOKEN
    _data_dir().chmod(mode)
    try:
        got = helper("get", GENERIC_GET)
        assert "password" not in dict(parse_record(got.stdout))
        assert got.returncode == 1 and "refusing to use" in got.stderr
        assert len(got.stderr.splitlines()) == 1 and TOKEN not in got.stderr
    finally:
        _data_dir().chmod(0o700)


def test_a_token_file_others_may_read_is_refused() -> None:
    subprocess.run(["git", "config", "--global", "bbtoken.store", "file"], check=True)
    assert helper("store", GENERIC).returncode == 0
    tokens = _data_dir() / "tokens.json"
    tokens.chmod(0o644)
    got = helper("get", GENERIC_GET)
    assert "password" not in dict(parse_record(got.stdout))
    assert "refusing to use" in got.stderr and str(tokens) in got.stderr


@pytest.mark.skipif(getattr(os, "geteuid", lambda: -1)() != 0,
                    reason="needs root to hand a file to another user")
def test_a_file_of_another_user_is_refused() -> None:
    assert helper("store", GENERIC).returncode == 0
    metadata = _data_dir() / "credentials.json"
    os.chown(metadata, 65534, 65534)
    got = helper("get", GENERIC_GET)
    assert "password" not in dict(parse_record(got.stdout))
    assert "belongs to another user" in got.stderr


# -- 9. the protocol --------------------------------------------------------------------------


def test_get_answers_at_the_blank_line_without_waiting_for_end_of_input() -> None:
    """git's own stores answer when the record ends; a caller that keeps stdin open (a
    credential manager speaking to several helpers) must get the answer, not a hang."""
    assert helper("store", GENERIC).returncode == 0
    process = subprocess.Popen([str(HELPER_SCRIPT), "get"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdin is not None
        process.stdin.write(b"protocol=https\nhost=example.edu\n\n")
        process.stdin.flush()  # and keep it open
        status = process.wait(timeout=60)  # a hang guard, not a timing
        answer = dict(parse_record(process.stdout.read().decode()))  # type: ignore[union-attr]
    finally:
        process.kill()
        process.communicate()
    assert status == 0 and answer["password"] == TOKEN


# -- 2. `get` never hangs on the secret store ------------------------------------------------


def test_get_gives_up_on_a_hung_secret_service(secret_service: SecretService) -> None:
    """gnome-keyring stopped (SIGSTOP) keeps its bus name and never answers: the fast read
    gives up after 2 s, and the keyring fallback used to wait without limit (400 s and
    more), hanging every fetch of every IDE."""
    assert helper("store", GENERIC).returncode == 0
    secret_service.pause()
    try:
        got = helper("get", GENERIC_GET, timeout=120)  # a hang guard, not a timing
    finally:
        secret_service.resume()
    assert "password" not in dict(parse_record(got.stdout))
    assert got.returncode == 1 and "did not answer within" in got.stderr, got.stderr
    assert len(got.stderr.splitlines()) == 1
    assert dict(parse_record(helper("get", GENERIC_GET).stdout))["password"] == TOKEN


# -- 3. `get` never waits on the writers' lock ------------------------------------------------

HOLD_LOCK = ("import fcntl, os, sys\n"
             "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
             "fcntl.flock(fd, fcntl.LOCK_EX)\n"
             "print('held', flush=True)\n"
             "sys.stdin.read()\n")


def test_get_reading_a_damaged_file_does_not_wait_for_a_writer() -> None:
    """A damaged credentials.json used to make `get` take the writers' lock to set it aside,
    waiting up to 30 s (then failing) while another process held it."""
    assert helper("store", GENERIC).returncode == 0
    metadata = _data_dir() / "credentials.json"
    metadata.write_bytes(b"{ damaged")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK,
                               str(_data_dir() / "credentials.lock")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        got = helper("get", GENERIC_GET)
        assert holder.poll() is None  # still held while `get` answered
    finally:
        holder.communicate("")
    assert got.returncode == 0 and got.stderr == "" and got.stdout == ""
    assert metadata.read_bytes() == b"{ damaged"  # left for a writer, or the next reader
    again = helper("get", GENERIC_GET)  # the lock is free now: set aside and said so
    assert "was damaged" in again.stderr and not metadata.exists()


@pytest.mark.parametrize("path", ["ws/../other/repo.git", "ws/./repo.git", "../ws/repo.git",
                                  "ws/repo.git/.."])
def test_dot_segments_get_no_bitbucket_token(path: str) -> None:
    """A token kept for workspace `ws` must not answer for `ws/../other`."""
    login = helper("https://bitbucket.org/ws", args=["login", "--token-stdin"],
                   input=TOKEN + "\n")
    assert login.returncode == 0, login.stderr
    got = helper("get", {"protocol": "https", "host": "bitbucket.org", "path": path})
    assert "password" not in dict(parse_record(got.stdout))
    assert "'.' or '..' segments" in got.stderr
    stored_before = stored()
    put = helper("store", {"protocol": "https", "host": "bitbucket.org", "path": path,
                           "username": "x-bitbucket-api-token-auth", "password": "other"})
    assert put.returncode == 0 and stored() == stored_before
    assert helper("erase", {"protocol": "https", "host": "bitbucket.org", "path": path}
                  ).returncode == 0
    assert stored() == stored_before


@pytest.mark.parametrize(("argv", "operation"), [
    (["git-lfs", "pre-push", "origin", "https://bitbucket.org/ws/r.git"], "push"),
    (["git", "lfs", "push", "origin", "main"], "push"),
    (["/usr/bin/git-lfs", "filter-process"], "fetch"),
    (["git", "-C", "lfs", "lfs", "push"], "push"),
    (["git", "lfs", "fetch"], "fetch"),
    (["git-lfs", "env"], "unknown"),
])
def test_git_lfs_uploads_are_pushes(argv: list[str], operation: str) -> None:
    """`git lfs push` and the pre-push hook upload: a token that cannot push must be
    explained there too, not taken for a fetch."""
    from git_credential_bbtoken.gitcommand import classify

    assert classify(argv) == operation


def test_suggested_commands_are_shell_quoted() -> None:
    """A URL with shell syntax in it (from a remote URL git decoded) stays one word when the
    suggestion is pasted into a shell."""
    path = "ws/$(touch pwned);x"
    got = helper("get", {"protocol": "https", "host": "bitbucket.org", "path": path},
                 env={"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": None, "SSH_ASKPASS": None})
    line = next(line for line in got.stderr.splitlines() if "run: git credential-bbtoken" in line)
    command = line.split("run: ", 1)[1]
    import shlex

    assert shlex.split(command) == ["git", "credential-bbtoken", "login",
                                    f"https://bitbucket.org/{path}"]


def test_the_expiry_note_never_waits_for_the_writers_lock(monkeypatch: pytest.MonkeyPatch,
                                                          ) -> None:
    """The once-a-day expiry note is written back without waiting: with another process
    holding the lock (and the lock wait made endless), `get` still answers."""
    import datetime
    import io
    import threading

    from git_credential_bbtoken import cli
    from git_credential_bbtoken.console import Io
    from git_credential_bbtoken.storage import metadata

    soon = (datetime.datetime.now(datetime.timezone.utc).date()
            + datetime.timedelta(days=3)).isoformat()
    login = helper("https://bitbucket.org/ws", args=["login", "--token-stdin", "--expires",
                                                     soon], input=TOKEN + "\n")
    assert login.returncode == 0, login.stderr
    monkeypatch.setattr(metadata, "LOCK_TIMEOUT_SECONDS", 10.0 ** 6)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK,
                               str(_data_dir() / "credentials.lock")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    out, err = io.BytesIO(), io.StringIO()
    record = b"protocol=https\nhost=bitbucket.org\npath=ws/repo.git\n\n"
    worker = threading.Thread(target=cli.main, args=(["get"], Io(io.BytesIO(record), out, err)),
                              daemon=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        worker.start()
        worker.join(120)  # a hang guard: with the old code this thread never ends
        assert not worker.is_alive(), "get waited for the writers' lock"
    finally:
        holder.communicate("")
    assert f"password={TOKEN}" in out.getvalue().decode()
    assert "expires in 3 days" in err.getvalue()
