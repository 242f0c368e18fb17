"""`rotate` (issue 14): one new token replaces the old one everywhere it is stored, checked
first, all or nothing. Real git, the Bitbucket-like server, the real keyring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rig.server import BitbucketServer

READ = "read:repository:bitbucket"
WRITE = "write:repository:bitbucket"
OLD = "ATATT3x-rotate-old-token-0123456789abcdefghijklmnopqrstuvwxyz-OLD1"
NEW = "ATATT3x-rotate-new-token-0123456789abcdefghijklmnopqrstuvwxyz-NEW2"
WEAK = "ATATT3x-rotate-weak-token-0123456789abcdefghijklmnopqrstuvwxyz-WK3"


def bbtoken(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "credential-bbtoken", *args], input=input,
                          capture_output=True, text=True, timeout=120)


def listed() -> list[dict[str, Any]]:
    result = bbtoken("list", "--json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)["credentials"]
    return rows


def fill(server: BitbucketServer, repo: str) -> str | None:
    record = (f"protocol=https\nhost={server.url.split('://', 1)[1]}\npath={repo}.git\n\n")
    result = subprocess.run(["git", "credential", "fill"], input=record, capture_output=True,
                            text=True, timeout=60,
                            env=dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS=""))
    answer = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return answer.get("password")


@pytest.fixture
def server(bitbucket: BitbucketServer, secret_service: object) -> BitbucketServer:
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    bitbucket.add_repo("acme/gadgets")
    for token, scopes in ((OLD, [READ, WRITE]), (NEW, [READ, WRITE]), (WEAK, [READ])):
        bitbucket.add_token(token, "alice", scopes)
    assert bbtoken("setup", bitbucket.url).returncode == 0
    for repo in ("acme/widgets", "acme/gadgets"):
        login = bbtoken("login", f"{bitbucket.url}/{repo}", "--token-stdin", input=OLD + "\n")
        assert login.returncode == 0, login.stderr
    return bitbucket


def test_rotate_replaces_the_token_of_two_repositories_at_once(server: BitbucketServer) -> None:
    result = bbtoken("rotate", server.url, "--token-stdin", "--expires", "2099-01-31",
                     input=NEW + "\n")
    assert result.returncode == 0, result.stderr
    assert NEW not in result.stdout + result.stderr and OLD not in result.stderr
    assert "replaced the token for" in result.stderr
    assert f"...{OLD[-4:]}" in result.stderr and "revoke" in result.stderr
    assert fill(server, "acme/widgets") == NEW and fill(server, "acme/gadgets") == NEW
    rows = listed()
    assert len(rows) == 2
    assert all(r["expires"] == "2099-01-31" and r["can_push"] is True for r in rows)


def test_a_weaker_token_is_refused_and_nothing_changes(server: BitbucketServer) -> None:
    before = listed()
    result = bbtoken("rotate", server.url, "--token-stdin", input=WEAK + "\n")
    assert result.returncode == 1
    assert "cannot do everything the old one could" in result.stderr
    assert "push to" in result.stderr and "nothing was changed" in result.stderr
    assert fill(server, "acme/widgets") == OLD and fill(server, "acme/gadgets") == OLD
    assert listed() == before
    forced = bbtoken("rotate", server.url, "--token-stdin", "--force", input=WEAK + "\n")
    assert forced.returncode == 0, forced.stderr
    assert fill(server, "acme/widgets") == WEAK


def test_a_repository_url_with_git_rotates_the_repository(server: BitbucketServer) -> None:
    """`…/acme/widgets.git` names the scope `login …/acme/widgets` stored."""
    result = bbtoken("rotate", f"{server.url}/acme/widgets.git", "--token-stdin",
                     "--expires", "2099-01-31", input=NEW + "\n")
    assert result.returncode == 0, result.stderr
    assert f"replaced the token for {server.url}/acme/widgets (" in result.stderr
    # the same token was stored for gadgets too: replaced with it, as rotate promises
    assert fill(server, "acme/widgets") == NEW and len(listed()) == 2


def test_a_new_token_over_1_mib_is_refused_and_nothing_changes(server: BitbucketServer) -> None:
    before = listed()
    server.clear_log()
    result = bbtoken("rotate", server.url, "--token-stdin", input="A" * (1024 * 1024 + 10) + "\n")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "larger than 1 MiB" in result.stderr
    assert server.requests == []
    assert fill(server, "acme/widgets") == OLD and listed() == before


def test_rotate_with_nothing_stored_says_so(bitbucket: BitbucketServer) -> None:
    result = bbtoken("rotate", bitbucket.url, "--token-stdin", input=NEW + "\n")
    assert result.returncode == 1 and "nothing is stored for" in result.stderr


CRASH_ON_SECOND_REPLACEMENT = """
import os, sys
from git_credential_bbtoken.storage import secretstore
real_set = secretstore.KeyringSecrets.set
calls = []
def set_then_crash(self, service, username, secret):
    if not service.startswith("git-credential-bbtoken:rotation-"):
        calls.append(service)
        if len(calls) == 2:
            os._exit(9)  # the process dies between two replacements
    real_set(self, service, username, secret)
secretstore.KeyringSecrets.set = set_then_crash
from git_credential_bbtoken.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_crash_between_two_replacements_leaves_every_entry_on_one_token(
        server: BitbucketServer, tmp_path: Path) -> None:
    """The process is killed (os._exit) after the first keyring item was replaced and
    before the second: the next run of the helper finishes the rotation from its journal."""
    script = tmp_path / "crashing.py"
    script.write_text(CRASH_ON_SECOND_REPLACEMENT)
    crashed = subprocess.run([sys.executable, str(script), "rotate", server.url,
                              "--token-stdin", "--expires", "2099-01-31"], input=NEW + "\n",
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == 9, crashed.stderr
    tokens = {fill(server, "acme/widgets"), fill(server, "acme/gadgets")}
    assert tokens == {NEW}
    assert all(r["expires"] == "2099-01-31" for r in listed())


# -- expiry: one rule, shown by list and doctor ------------------------------------------------


def _store_expiring_in(days: int) -> str:
    import datetime

    date = (datetime.datetime.now(datetime.timezone.utc).date()
            + datetime.timedelta(days=days)).isoformat()
    login = bbtoken("login", "https://example.edu", "--token-stdin", "--expires", date,
                    input="expiring-secret\n")
    assert login.returncode == 0, login.stderr
    return date


@pytest.mark.parametrize(("days", "status"), [(10, "warning"), (14, "warning"), (15, "ok"),
                                              (0, "warning")])
def test_doctor_warns_from_14_days_ahead_and_points_at_rotate(secret_service: object,
                                                               days: int, status: str) -> None:
    date = _store_expiring_in(days)
    result = bbtoken("doctor", "https://example.edu", "--json")
    expiry = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["expiry"]
    assert expiry["status"] == status and date in expiry["message"]
    if status == "warning":
        assert any("git credential-bbtoken rotate https://example.edu" in line
                   for line in expiry["fix"])


def test_list_shows_the_expiry_date_and_days_left(secret_service: object) -> None:
    date = _store_expiring_in(30)
    (row,) = listed()
    assert row["expires"] == date and row["days_left"] == 30
    table = bbtoken("list").stdout
    assert f"{date} (30 days)" in table
