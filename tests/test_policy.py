"""The helper's rules, in-process and fast: `cli.main([action], io)` with git's record in an
injected `console.Io` and an in-memory keyring (`keyring.set_keyring`), against the real
`git config` of the isolated environment. What a stored token answers, what erase removes,
what is never stored, where BBTOKEN_TOKEN goes, which transport a Bitbucket token may take.

These complement the end-to-end tests (real git, the rig's server and gnome-keyring), which
show the same rules the way users meet them; here a broken rule fails in milliseconds, with
the exact answer and the exact stderr in the assertion.
"""

from __future__ import annotations

import datetime
import os
import subprocess
from collections.abc import Iterator
from io import BytesIO, StringIO
from pathlib import Path
from typing import NamedTuple

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from git_credential_bbtoken import cli
from git_credential_bbtoken.common import TOKEN_USERNAME
from git_credential_bbtoken.console import Io
from git_credential_bbtoken.storage.store import CredentialStore, Entry

GENERIC = "git.example.com"
CLOUD = "bitbucket.org"
ENV_TOKEN = "ATATT-from-the-environment-0123456789"  # noqa: S105 - test data
SERVICE = "git-credential-bbtoken:"


class MemoryKeyring(KeyringBackend):
    """A keyring held in a dict: {(service, username): password}."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError("no such item")


@pytest.fixture
def memory() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


class Result(NamedTuple):
    status: int
    answer: list[tuple[str, str]]  # stdout as key=value pairs, in order
    stdout: bytes
    stderr: str

    @property
    def fields(self) -> dict[str, str]:
        return dict(self.answer)


def never_asked(prompt: str) -> str:
    raise AssertionError(f"the helper asked for a secret at a terminal: {prompt!r}")


def record(**fields: str) -> bytes:
    return "".join(f"{key}={value}\n" for key, value in fields.items()).encode() + b"\n"


def run(action: str, data: bytes) -> Result:
    """`git-credential-bbtoken ACTION` with `data` on stdin, as the console script runs it."""
    stdout, stderr = BytesIO(), StringIO()
    status = cli.main([action], Io(stdin=BytesIO(data), stdout=stdout, stderr=stderr,
                                   getpass=never_asked))
    out = stdout.getvalue()
    answer = [(key, value) for key, _, value in
              (line.partition("=") for line in out.decode().splitlines())]
    return Result(status, answer, out, stderr.getvalue())


def seed(memory: MemoryKeyring, path: str, token: str, protocol: str = "https",
         host: str = CLOUD, **fields: object) -> None:
    """A Bitbucket Cloud credential as `login` leaves it (seeded directly: a `store` on
    bitbucket.org would check the token over the network)."""
    entry = Entry(protocol, host, path, TOKEN_USERNAME, kind="cloud", **fields)
    CredentialStore(lambda text: None).put(entry, token)
    assert memory.items[(f"{SERVICE}{entry.url}", TOKEN_USERNAME)] == token


def metadata_file() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "git-credential-bbtoken" / "credentials.json"


def git_config(key: str, value: str) -> None:
    subprocess.run(["git", "config", "--global", key, value], check=True)


# -- generic hosts: git's own store rules ------------------------------------------------------


def test_store_then_get_on_a_generic_host(memory: MemoryKeyring) -> None:
    stored = run("store", record(protocol="https", host=GENERIC, username="u",
                                 password="s3cret"))
    assert stored == (0, [], b"", "")
    assert memory.items == {(f"{SERVICE}https://{GENERIC}", "u"): "s3cret"}

    got = run("get", record(protocol="https", host=GENERIC))
    assert got == (0, [("username", "u"), ("password", "s3cret")],
                   b"username=u\npassword=s3cret\n", "")
    # Host names compare without case, as in git.
    assert run("get", record(protocol="https", host=GENERIC.upper())).fields == \
        {"username": "u", "password": "s3cret"}
    # Another host, another protocol, another username: nothing (and nothing said).
    for other in (record(protocol="https", host="other.example.com"),
                  record(protocol="http", host=GENERIC),
                  record(protocol="https", host=GENERIC, username="someone-else")):
        assert run("get", other) == (0, [], b"", "")


def test_a_new_password_replaces_the_old_one(memory: MemoryKeyring) -> None:
    for password in ("first", "second"):
        assert run("store", record(protocol="https", host=GENERIC, username="u",
                                   password=password)).status == 0
    assert memory.items == {(f"{SERVICE}https://{GENERIC}", "u"): "second"}
    assert run("get", record(protocol="https", host=GENERIC)).fields["password"] == "second"


def test_erase_removes_only_the_rejected_password(memory: MemoryKeyring) -> None:
    assert run("store", record(protocol="https", host=GENERIC, username="u",
                               password="current")).status == 0
    # git rejects a password that is no longer the stored one (another process replaced
    # it meanwhile): the current one stays.
    stale = run("erase", record(protocol="https", host=GENERIC, username="u",
                                password="stale"))
    assert stale == (0, [], b"", "")
    assert run("get", record(protocol="https", host=GENERIC)).fields["password"] == "current"

    rejected = run("erase", record(protocol="https", host=GENERIC, username="u",
                                   password="current"))
    assert rejected == (0, [], b"", "")
    assert memory.items == {}
    assert run("get", record(protocol="https", host=GENERIC)).answer == []


def test_erase_on_bitbucket_removes_the_rejected_token_and_keeps_the_others(
        memory: MemoryKeyring) -> None:
    seed(memory, "acme", "workspace-token")
    seed(memory, "acme/widgets", "repository-token")
    erased = run("erase", record(protocol="https", host=CLOUD, path="acme/widgets.git",
                                 username=TOKEN_USERNAME, password="repository-token"))
    assert erased.status == 0 and erased.answer == []
    assert "removed the stored token for https://bitbucket.org/acme/widgets" in erased.stderr
    assert list(memory.items.values()) == ["workspace-token"]
    # The workspace's token now serves the repository.
    got = run("get", record(protocol="https", host=CLOUD, path="acme/widgets.git"))
    assert got.fields == {"username": TOKEN_USERNAME, "password": "workspace-token"}


def test_ephemeral_store_stores_nothing(memory: MemoryKeyring) -> None:
    result = run("store", record(protocol="https", host=GENERIC, username="u",
                                 password="one-time", ephemeral="1"))
    assert result == (0, [], b"", "")
    assert memory.items == {}
    assert not metadata_file().exists()
    assert run("get", record(protocol="https", host=GENERIC)).answer == []


# -- Bitbucket: scopes -------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "expected"), [
    ("acme/widgets.git", "repository-token"),
    ("acme/widgets", "repository-token"),
    ("acme/widgets.git/info/lfs", "repository-token"),
    ("acme/gadgets.git", "workspace-token"),
    ("acme", "workspace-token"),
    ("acme-two/widgets.git", "host-token"),  # a sibling that shares a prefix: not acme's
    ("other/repo.git", "host-token"),
])
def test_get_on_bitbucket_org_the_most_specific_scope_wins(memory: MemoryKeyring, path: str,
                                                          expected: str) -> None:
    # Stored from the most specific to the least: the order must not decide.
    seed(memory, "acme/widgets", "repository-token")
    seed(memory, "acme", "workspace-token")
    seed(memory, "", "host-token")
    got = run("get", record(protocol="https", host=CLOUD, path=path))
    assert got == (0, [("username", TOKEN_USERNAME), ("password", expected)],
                   f"username={TOKEN_USERNAME}\npassword={expected}\n".encode(), "")


def test_get_on_bitbucket_org_without_a_covering_scope_answers_nothing(
        memory: MemoryKeyring) -> None:
    seed(memory, "acme", "workspace-token")
    got = run("get", record(protocol="https", host=CLOUD, path="other/repo.git"))
    assert got.status == 0 and got.answer == []
    # Nobody can be asked here (no terminal, no askpass): one line says what to do.
    assert got.stderr == ("bbtoken: no token is stored for https://bitbucket.org/other/repo; "
                          "run: git credential-bbtoken login https://bitbucket.org/other/repo\n")


# -- BBTOKEN_TOKEN (CI) --------------------------------------------------------------------------


def test_environment_token_goes_to_bitbucket_hosts_only(memory: MemoryKeyring,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("store", record(protocol="https", host=GENERIC, username="u",
                               password="generic-secret")).status == 0
    monkeypatch.setenv("BBTOKEN_TOKEN", ENV_TOKEN)

    cloud = run("get", record(protocol="https", host=CLOUD, path="acme/widgets.git"))
    assert cloud == (0, [("username", TOKEN_USERNAME), ("password", ENV_TOKEN)],
                     f"username={TOKEN_USERNAME}\npassword={ENV_TOKEN}\n".encode(), "")
    monkeypatch.setenv("BBTOKEN_USERNAME", "alice")
    assert run("get", record(protocol="https", host=CLOUD)).fields == \
        {"username": "alice", "password": ENV_TOKEN}

    # Another host gets what is stored for it, or nothing: never the environment's token.
    generic = run("get", record(protocol="https", host=GENERIC))
    assert generic.fields == {"username": "u", "password": "generic-secret"}
    elsewhere = run("get", record(protocol="https", host="elsewhere.example.com"))
    for result in [generic, elsewhere]:
        assert ENV_TOKEN.encode() not in result.stdout and ENV_TOKEN not in result.stderr
    assert elsewhere == (0, [], b"", "")


def test_environment_token_mode_stores_nothing_for_bitbucket(memory: MemoryKeyring,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setenv("BBTOKEN_TOKEN", ENV_TOKEN)
    result = run("store", record(protocol="https", host=CLOUD, path="acme/widgets.git",
                                 username=TOKEN_USERNAME, password=ENV_TOKEN))
    assert result == (0, [], b"", "")
    assert memory.items == {}
    assert not metadata_file().exists()


# -- transport: Bitbucket tokens go over https only --------------------------------------------


HTTPS_ONLY = ("bbtoken: not using a Bitbucket token for http://bitbucket.org: tokens are only "
              "sent over https (change the remote URL to https://...)\n")


def test_environment_token_is_never_sent_over_plain_http(memory: MemoryKeyring,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BBTOKEN_TOKEN", ENV_TOKEN)
    result = run("get", record(protocol="http", host=CLOUD, path="acme/widgets.git"))
    assert result == (0, [], b"", HTTPS_ONLY)


def test_stored_token_is_never_sent_over_plain_http(memory: MemoryKeyring) -> None:
    # However it got there (an old version, a hand edit): a token kept for http:// stays put.
    seed(memory, "acme", "http-token", protocol="http")
    result = run("get", record(protocol="http", host=CLOUD, path="acme/widgets.git"))
    assert result == (0, [], b"", HTTPS_ONLY)


def test_store_over_plain_http_keeps_nothing(memory: MemoryKeyring) -> None:
    result = run("store", record(protocol="http", host=CLOUD, path="acme/widgets.git",
                                 username=TOKEN_USERNAME, password="http-token"))
    assert result == (0, [], b"", HTTPS_ONLY)
    assert memory.items == {}


def test_plain_http_to_loopback_is_allowed_for_test_servers(memory: MemoryKeyring,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    git_config("bbtoken.http://127.0.0.1:9.kind", "cloud")
    monkeypatch.setenv("BBTOKEN_TOKEN", ENV_TOKEN)
    result = run("get", record(protocol="http", host="127.0.0.1:9", path="acme/w.git"))
    assert result.fields == {"username": TOKEN_USERNAME, "password": ENV_TOKEN}


def test_generic_hosts_follow_git_over_plain_http(memory: MemoryKeyring) -> None:
    assert run("store", record(protocol="http", host=GENERIC, username="u",
                               password="plain")).status == 0
    assert run("get", record(protocol="http", host=GENERIC)).fields == \
        {"username": "u", "password": "plain"}


# -- expiry ------------------------------------------------------------------------------------


def midnight_utc_in(days: int) -> int:
    today = datetime.datetime.now(datetime.timezone.utc).date()
    day = today + datetime.timedelta(days=days)
    return int(datetime.datetime(day.year, day.month, day.day,
                                 tzinfo=datetime.timezone.utc).timestamp())


@pytest.mark.parametrize(("days", "warns"), [(1, True), (5, True), (7, True), (8, False),
                                             (30, False)])
def test_expiry_warning_in_the_last_seven_days(memory: MemoryKeyring, days: int,
                                               warns: bool) -> None:
    expiry = midnight_utc_in(days)
    seed(memory, "acme", "expiring-token", expiry=expiry)
    got = run("get", record(protocol="https", host=CLOUD, path="acme/widgets.git"))
    # Served either way, with its expiry for git.
    assert got.status == 0
    assert got.answer == [("username", TOKEN_USERNAME), ("password", "expiring-token"),
                          ("password_expiry_utc", str(expiry))]
    if warns:
        [line] = got.stderr.splitlines()
        date = datetime.datetime.fromtimestamp(expiry, datetime.timezone.utc).date()
        assert f"expires {'tomorrow' if days == 1 else f'in {days} days'} ({date})" in line, line
        assert "git credential-bbtoken rotate https://bitbucket.org/acme" in line
        # Once a day: the next get says nothing.
        assert run("get", record(protocol="https", host=CLOUD,
                                 path="acme/widgets.git")).stderr == ""
    else:
        assert got.stderr == ""


# -- input git must not send -------------------------------------------------------------------


@pytest.mark.parametrize("action", ["store", "get", "erase"])
def test_carriage_return_in_a_value_is_one_line_exit_1_and_nothing_done(
        memory: MemoryKeyring, action: str) -> None:
    assert run("store", record(protocol="https", host=GENERIC, username="u",
                               password="kept")).status == 0
    before = metadata_file().read_bytes()
    result = run(action, record(protocol="https", host=GENERIC, username="u",
                                password="new\rvalue"))
    assert result == (1, [], b"", "bbtoken: input refused: the value of 'password' contains a "
                                  "carriage return; nothing was done\n")
    assert memory.items == {(f"{SERVICE}https://{GENERIC}", "u"): "kept"}
    assert metadata_file().read_bytes() == before


def test_carriage_return_on_a_first_store_creates_nothing(memory: MemoryKeyring) -> None:
    result = run("store", b"protocol=https\nhost=" + GENERIC.encode()
                 + b"\nusername=u\npassword=a\rb\n\n")
    assert result.status == 1 and result.answer == [] and len(result.stderr.splitlines()) == 1
    assert memory.items == {}
    assert not metadata_file().exists()
