"""Storage through the real git and a real gnome-keyring: scopes, hosts, safety, concurrency.

Bitbucket-kind hosts here are loopback addresses with nothing listening (`bbtoken.<url>.kind
cloud`), so the validation that follows a new token ends at once with "not checked" and never
leaves the machine.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

BB = "127.0.0.1:9"  # the discard port: connection refused at once
BB_URL = f"https://{BB}"


def git(*args: str, input: str | None = None, env: dict[str, str] | None = None,
        helper: str = "bbtoken") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-c", "credential.helper=", "-c", f"credential.helper={helper}",
                           *args], input=input, capture_output=True, text=True, timeout=60,
                          env=env)


def record(**fields: str) -> str:
    return "".join(f"{k}={v}\n" for k, v in fields.items()) + "\n"


def fill(**fields: str) -> dict[str, str]:
    result = git("credential", "fill", input=record(**fields))
    if result.returncode != 0:
        return {}
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def approve(**fields: str) -> subprocess.CompletedProcess[str]:
    return git("credential", "approve", input=record(**fields))


def reject(**fields: str) -> subprocess.CompletedProcess[str]:
    return git("credential", "reject", input=record(**fields))


def helper(action: str, data: bytes, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "git_credential_bbtoken", action], input=data,
                          capture_output=True, timeout=60, env=env)


def data_dir() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "git-credential-bbtoken"


def metadata() -> list[dict[str, object]]:
    path = data_dir() / "credentials.json"
    return json.loads(path.read_text())["credentials"] if path.exists() else []


@pytest.fixture
def bitbucket_host(secret_service: object) -> str:
    """A loopback host configured as Bitbucket Cloud, with git sending paths."""
    for key, value in ((f"bbtoken.{BB_URL}.kind", "cloud"),
                       (f"bbtoken.{BB_URL}.apiUrl", f"{BB_URL}/2.0"),
                       ("credential.useHttpPath", "true")):
        subprocess.run(["git", "config", "--global", key, value], check=True)
    return BB


def test_workspace_tokens_serve_their_own_repositories(bitbucket_host: str) -> None:
    approve(protocol="https", host=BB, path="ws1/repo.git", username="u", password="token-one")
    approve(protocol="https", host=BB, path="ws2/repo.git", username="u", password="token-two")
    assert fill(protocol="https", host=BB, path="ws1/other.git")["password"] == "token-one"
    assert fill(protocol="https", host=BB, path="ws2/x.git")["password"] == "token-two"
    assert fill(protocol="https", host=BB,
                path="ws1/repo.git/info/lfs")["password"] == "token-one"
    assert fill(protocol="https", host=BB, path="ws3/repo.git") == {}
    scopes = sorted(entry["path"] for entry in metadata())  # type: ignore[type-var]
    assert scopes == ["ws1", "ws2"]


def test_hosts_match_exactly(bitbucket_host: str) -> None:
    approve(protocol="https", host=BB, path="ws/r.git", username="u", password="tok")
    assert fill(protocol="https", host="127.0.0.1:10", path="ws/r.git") == {}
    assert fill(protocol="https", host="127.0.0.1", path="ws/r.git") == {}
    assert fill(protocol="https", host=f"{BB}.evil.example", path="ws/r.git") == {}
    assert fill(protocol="https", host=BB, path="ws/r.git")["password"] == "tok"


def test_bitbucket_org_lookalike_gets_nothing(secret_service: object) -> None:
    # Storing for bitbucket.org through git would validate over the network; the entry is
    # written through the store directly instead.
    subprocess.run(["git", "config", "--global", "credential.useHttpPath", "true"], check=True)
    env = dict(os.environ)
    code = ("from git_credential_bbtoken.storage.store import CredentialStore, Entry\n"
            "CredentialStore(print).put(Entry('https', 'bitbucket.org', 'ws', 'u', "
            "kind='cloud'), 'real-token')\n")
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert fill(protocol="https", host="bitbucket.org", path="ws/r.git")["password"] == \
        "real-token"
    assert fill(protocol="https", host="bitbucket.org.evil.example", path="ws/r.git") == {}
    assert fill(protocol="https", host="evil.example", path="bitbucket.org/ws/r.git") == {}


def test_plain_http_is_refused_for_bitbucket_hosts(secret_service: object) -> None:
    subprocess.run(["git", "config", "--global", "bbtoken.http://bb.example.kind", "cloud"],
                   check=True)
    result = approve(protocol="http", host="bb.example", username="u", password="tok-4711")
    assert "only sent over https" in result.stderr
    assert metadata() == []
    assert "tok-4711" not in result.stderr


def test_token_is_readable_by_keyring_itself(bitbucket_host: str) -> None:
    approve(protocol="https", host=BB, path="ws/r.git", username="alice", password="tok-123")
    result = subprocess.run([sys.executable, "-m", "keyring", "get",
                             f"git-credential-bbtoken:https://{BB}/ws", "alice"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "tok-123"


def test_state_files_are_private_and_hold_no_secret(bitbucket_host: str) -> None:
    approve(protocol="https", host=BB, path="ws/r.git", username="u",
            password="recognisable-secret-4711")
    folder = data_dir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert b"recognisable-secret-4711" not in path.read_bytes(), path


def test_damaged_metadata_is_set_aside_and_the_helper_goes_on(bitbucket_host: str) -> None:
    approve(protocol="https", host=BB, path="ws/r.git", username="u", password="tok")
    (data_dir() / "credentials.json").write_text("{ this is not json")
    result = git("credential", "fill", input=record(protocol="https", host=BB, path="ws/r.git"),
                 env=dict(os.environ, GIT_TERMINAL_PROMPT="0"))
    assert len([line for line in result.stderr.splitlines() if "was damaged" in line]) == 1
    assert "Traceback" not in result.stderr
    assert list(data_dir().glob("credentials.json.corrupt-*"))
    approve(protocol="https", host=BB, path="ws/r.git", username="u", password="tok2")
    assert fill(protocol="https", host=BB, path="ws/r.git")["password"] == "tok2"


def test_erase_keeps_a_token_other_than_the_rejected_one(bitbucket_host: str) -> None:
    approve(protocol="https", host=BB, path="ws/r.git", username="u", password="current")
    reject(protocol="https", host=BB, path="ws/r.git", username="u", password="older")
    assert fill(protocol="https", host=BB, path="ws/r.git")["password"] == "current"
    reject(protocol="https", host=BB, path="ws/r.git", username="u", password="current")
    assert fill(protocol="https", host=BB, path="ws/r.git") == {}
    assert metadata() == []


def test_parallel_git_processes_lose_nothing(secret_service: object) -> None:
    hosts = [f"host{n}.example" for n in range(20)]

    def work(host: str) -> None:
        assert approve(protocol="https", host=host, username="u",
                       password=f"pw-{host}").returncode == 0
        assert fill(protocol="https", host=host)["password"] == f"pw-{host}"
        if host.startswith("host1"):
            assert reject(protocol="https", host=host, username="u").returncode == 0

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(work, hosts))
    kept = sorted(e["host"] for e in metadata())  # type: ignore[type-var]
    expected = sorted(h for h in hosts if not h.startswith("host1"))
    assert kept == expected
    for host in expected:
        assert fill(protocol="https", host=host)["password"] == f"pw-{host}"


@pytest.mark.parametrize("bad", [
    b"protocol=https\nhost=example.com\nusername=u\npassword=a\rb\n",
    b"protocol=https\nhost=example.com\nusername=u\npassword=a\0b\n",
    b"protocol=https\nhost=example.com\nusername=u\r\npassword=p\n",
    b"protocol=https\nhost=example.com\nusername=u\npassword=" + b"x" * (1024 * 1024) + b"\n",
])
def test_hostile_values_are_refused_with_one_line(secret_service: object, bad: bytes) -> None:
    result = helper("store", bad)
    assert result.returncode == 1
    assert len(result.stderr.decode().strip().splitlines()) == 1
    assert b"refused" in result.stderr
    assert metadata() == []
    assert fill(protocol="https", host="example.com", username="u") == {}


def test_no_keyring_get_is_silent_and_store_says_how_to_fix(no_keyring: object) -> None:
    stored = helper("store", record(protocol="https", host="example.com", username="u",
                                    password="p").encode())
    assert stored.returncode == 1
    lines = stored.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "bbtoken.store file" in lines[0]
    got = helper("get", record(protocol="https", host="example.com").encode())
    assert (got.returncode, got.stdout, got.stderr) == (0, b"", b"")
    assert metadata() == []


def test_no_keyring_get_on_bitbucket_is_silent_and_asks_nobody(
        bitbucket_host: str, no_keyring: object, askpass: Any) -> None:
    """Nothing stored, and nowhere to keep a token: no hint, no prompt (git asks itself)."""
    fill_in = record(protocol="https", host=BB, path="ws/repo.git").encode()
    askpass.answer(username="alice", password="typed-token")
    for env in (None, dict(os.environ, GIT_ASKPASS=askpass.path)):
        got = helper("get", fill_in, env=env)
        assert (got.returncode, got.stdout, got.stderr) == (0, b"", b"")
    assert askpass.prompts() == []
    stored = helper("store", record(protocol="https", host=BB, path="ws/repo.git",
                                    username="alice", password="typed-token").encode())
    lines = stored.stderr.decode().strip().splitlines()
    assert stored.returncode == 1 and len(lines) == 1 and "bbtoken.store file" in lines[0]
    assert metadata() == []


@pytest.mark.parametrize("path", ["acme", "acme/widgets"])
def test_no_keyring_login_says_one_line_and_sends_nothing(bitbucket: Any, no_keyring: object,
                                                         path: str) -> None:
    """Contract §6: one line on how to get a keyring, before the token is asked for or sent
    anywhere; never "stored"."""
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    bitbucket.add_token("ATATT3xFfGF0-no-keyring-login-0123456789", "alice",
                        scopes=["read:repository:bitbucket"])
    login = subprocess.run(
        [sys.executable, "-m", "git_credential_bbtoken", "login", f"{bitbucket.url}/{path}",
         "--token-stdin"], input="ATATT3xFfGF0-no-keyring-login-0123456789\n",
        capture_output=True, text=True, timeout=60)
    lines = login.stderr.strip().splitlines()
    assert login.returncode == 1 and len(lines) == 1, login.stderr
    assert "bbtoken.store file" in lines[0] and "nothing was stored" in lines[0]
    assert login.stdout == "" and bitbucket.requests == []
    assert metadata() == []


def test_file_store_works_without_keyring(no_keyring: object) -> None:
    subprocess.run(["git", "config", "--global", "bbtoken.store", "file"], check=True)
    approve(protocol="https", host="example.com", username="u", password="filed")
    assert fill(protocol="https", host="example.com")["password"] == "filed"
    tokens = data_dir() / "tokens.json"
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    assert b"filed" not in (data_dir() / "credentials.json").read_bytes()


def test_environment_token_is_served_only_to_bitbucket_hosts(bitbucket_host: str) -> None:
    env = dict(os.environ, BBTOKEN_TOKEN="env-token", BBTOKEN_USERNAME="ci-user")
    got = helper("get", record(protocol="https", host=BB, path="ws/r.git").encode(), env=env)
    assert got.stdout == b"username=ci-user\npassword=env-token\n"
    other = helper("get", record(protocol="https", host="github.example").encode(), env=env)
    assert other.stdout == b""
    helper("store", record(protocol="https", host=BB, path="ws/r.git", username="ci-user",
                           password="env-token").encode(), env=env)
    assert not data_dir().exists() or metadata() == []


def test_debug_trace_redacts_secrets(bitbucket_host: str) -> None:
    env = dict(os.environ, BBTOKEN_DEBUG="1")
    stored = helper("store", record(protocol="https", host=BB, path="ws/r.git", username="u",
                                    password="very-secret-value").encode(), env=env)
    got = helper("get", record(protocol="https", host=BB, path="ws/r.git").encode(), env=env)
    assert b"bbtoken[debug]" in stored.stderr and b"bbtoken[debug]" in got.stderr
    for output in (stored.stderr, got.stderr):
        assert b"very-secret-value" not in output
    assert b"password=very-secret-value" in got.stdout


def test_unknown_actions_are_ignored(secret_service: object) -> None:
    result = helper("frobnicate", b"protocol=https\nhost=example.com\n\n")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


def test_new_token_replaces_the_repository_login_that_served(bitbucket_host: str) -> None:
    login = subprocess.run(["git", "credential-bbtoken", "login", f"{BB_URL}/ws/repo",
                            "--token-stdin"], input="old-token\n", capture_output=True,
                           text=True)
    assert login.returncode == 0, login.stderr
    assert fill(protocol="https", host=BB, path="ws/repo.git")["password"] == "old-token"
    approve(protocol="https", host=BB, path="ws/repo.git",
            username="x-bitbucket-api-token-auth", password="new-token")
    assert [(e["path"], e["username"]) for e in metadata()] == [
        ("ws/repo", "x-bitbucket-api-token-auth")]
    assert fill(protocol="https", host=BB, path="ws/repo.git")["password"] == "new-token"


def test_a_new_token_for_a_workspace_leaves_the_host_wide_login_alone(
        bitbucket_host: str) -> None:
    login = subprocess.run(["git", "credential-bbtoken", "login", BB_URL, "--token-stdin"],
                           input="host-token\n", capture_output=True, text=True)
    assert login.returncode == 0, login.stderr
    approve(protocol="https", host=BB, path="ws/repo.git",
            username="x-bitbucket-api-token-auth", password="ws-token")
    assert [(e["path"], e["username"]) for e in metadata()] == [
        ("", "x-bitbucket-api-token-auth"), ("ws", "x-bitbucket-api-token-auth")]
    assert fill(protocol="https", host=BB, path="ws/other.git")["password"] == "ws-token"
    assert fill(protocol="https", host=BB, path="ws2/repo.git")["password"] == "host-token"
    # git stores the token that served after every success: nothing is written then.
    before = (data_dir() / "credentials.json").read_bytes()
    for path, token in (("ws2/repo.git", "host-token"), ("ws/repo.git", "ws-token")):
        approve(protocol="https", host=BB, path=path, username="x-bitbucket-api-token-auth",
                password=token)
    assert (data_dir() / "credentials.json").read_bytes() == before
