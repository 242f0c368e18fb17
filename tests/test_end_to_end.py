"""The real git against the Bitbucket-like test server, through `credential.helper=bbtoken`.

Each test starts from `git credential-bbtoken setup <server>` in an isolated HOME, as a user
would, and looks at what git and the helper print, what the server was asked, and what stays
stored.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rig.askpass import Askpass
from rig.gitrun import CredentialResult, credential
from rig.server import BitbucketServer

READ = "read:repository:bitbucket"
WRITE = "write:repository:bitbucket"
USER = "read:user:bitbucket"
WORKSPACE = "read:workspace:bitbucket"
EVERY_SCOPE = [READ, WRITE, "admin:repository:bitbucket", "delete:repository:bitbucket", USER,
               "write:user:bitbucket", WORKSPACE, "admin:workspace:bitbucket",
               "read:pullrequest:bitbucket", "write:pullrequest:bitbucket",
               "read:project:bitbucket", "admin:project:bitbucket", "read:pipeline:bitbucket",
               "write:pipeline:bitbucket", "read:issue:bitbucket", "read:wiki:bitbucket"]
REMOVED = {"/2.0/workspaces", "/2.0/repositories", "/2.0/user/permissions/workspaces"}
GOOD = "ATATT3xFfGF0-good-token-0123456789abcdefghijklmnopqrstuvwxyz"


def run(*args: str, cwd: Path | None = None, input: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, input=input, capture_output=True, text=True,
                          timeout=120, env=env)


def bbtoken(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return run("git", "credential-bbtoken", *args, input=input)


def listed() -> list[dict[str, Any]]:
    result = bbtoken("list", "--json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)["credentials"]
    return rows


@pytest.fixture
def server(bitbucket: BitbucketServer, secret_service: object) -> BitbucketServer:
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    result = bbtoken("setup", bitbucket.url)
    assert result.returncode == 0, result.stderr
    return bitbucket


def login(server: BitbucketServer, token: str, *extra: str, path: str = "acme/widgets"
          ) -> subprocess.CompletedProcess[str]:
    return bbtoken("login", f"{server.url}/{path}", "--token-stdin", *extra, input=token + "\n")


def git_requests(server: BitbucketServer) -> list[Any]:
    return [r for r in server.requests if not r.path.startswith("/2.0")]


def test_clone_and_push_with_a_stored_token(server: BitbucketServer, tmp_path: Path) -> None:
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    assert login(server, GOOD).returncode == 0
    server.clear_log()
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"))
    assert clone.returncode == 0, clone.stderr
    # get answered from storage: the helper itself asked the server nothing (the only
    # requests are git's own, each with the stored credential after the first challenge).
    assert all(r.path.startswith("/acme/widgets.git") for r in server.requests)
    assert {r.username for r in server.requests} <= {None, "x-bitbucket-api-token-auth"}
    (tmp_path / "w" / "new.txt").write_text("hello\n")
    assert run("git", "-C", str(tmp_path / "w"), "add", "new.txt").returncode == 0
    assert run("git", "-C", str(tmp_path / "w"), "-c", "user.name=t", "-c", "user.email=t@e",
               "commit", "-m", "new").returncode == 0
    push = run("git", "-C", str(tmp_path / "w"), "push", "origin", "HEAD")
    assert push.returncode == 0, push.stderr
    # The commit really arrived.
    head = run("git", "-C", str(tmp_path / "w"), "rev-parse", "HEAD").stdout
    assert run("git", f"--git-dir={server.repos['acme/widgets']}", "rev-parse",
               "main").stdout == head


def test_clone_without_a_token_fails_cleanly(server: BitbucketServer, tmp_path: Path) -> None:
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"))
    assert clone.returncode == 128
    # bbtoken's one line says what to do, then git's own failure; nothing else.
    url = f"{server.url}/acme/widgets"
    assert clone.stderr.splitlines()[1:] == [
        f"bbtoken: no token is stored for {url}; run: git credential-bbtoken login {url}",
        f"fatal: could not read Username for '{url}.git': terminal prompts disabled"]
    # Only git's first, anonymous request: nothing was sent in the helper's name.
    assert [(r.username, r.status) for r in server.requests] == [(None, 401)]
    assert listed() == []


@pytest.mark.parametrize("scopes", [["admin:repository:bitbucket"], [WRITE]])
def test_login_refuses_a_token_that_cannot_clone(server: BitbucketServer,
                                                 scopes: list[str]) -> None:
    server.add_token("ATATT-no-read-token-000000000000000000000000", "alice", scopes=scopes)
    refused = login(server, "ATATT-no-read-token-000000000000000000000000")
    assert refused.returncode == 1
    assert READ in refused.stderr
    assert "id.atlassian.com/manage-profile/security/api-tokens" in refused.stderr
    assert listed() == []
    forced = login(server, "ATATT-no-read-token-000000000000000000000000", "--force")
    assert forced.returncode == 0
    assert len(listed()) == 1


@pytest.mark.parametrize("token", [GOOD + "\rx", GOOD + "\0x", "A" * (1024 * 1024 + 10)],
                         ids=["carriage return", "NUL", "over 1 MiB"])
def test_login_refuses_input_git_could_not_carry(server: BitbucketServer, token: str) -> None:
    """Contract, section 6: refused with one line, nothing stored, nothing sent."""
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    refused = login(server, token)
    assert refused.returncode == 2
    assert len(refused.stderr.splitlines()) == 1 and "nothing was stored" in refused.stderr
    assert server.requests == []
    assert listed() == []


def test_login_with_email_learns_scopes_with_and_without_headers(
        server: BitbucketServer) -> None:
    server.add_token(GOOD, "alice", scopes=[READ, USER])
    for headers in (True, False):
        server.send_scope_headers = headers
        result = login(server, GOOD, "--email", "alice@example.com", path="acme")
        assert result.returncode == 0, result.stderr
        row = listed()[0]
        if headers:
            assert row["scopes"] == [READ, USER]
        assert "push" in result.stdout and "clone" in result.stdout


def test_first_clone_asks_through_askpass_and_explains_a_token_without_read(
        server: BitbucketServer, askpass: Askpass, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server.add_token("ATATT-write-only-0000000000000000000000000", "alice", scopes=[WRITE])
    monkeypatch.setenv("GIT_ASKPASS", askpass.path)
    askpass.answer(username="alice", password="ATATT-write-only-0000000000000000000000000")
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"))
    assert clone.returncode != 0
    assert READ in clone.stderr
    assert "told us to quit" in clone.stderr
    assert askpass.prompts() == [f"Password for '{server.url.replace('://', '://alice@')}"
                                 "/acme/widgets.git': "] or askpass.prompts()[0].startswith(
        "Username for '")
    assert listed() == []


def test_first_clone_with_a_good_token_stores_it_and_asks_once(
        server: BitbucketServer, askpass: Askpass, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    monkeypatch.setenv("GIT_ASKPASS", askpass.path)
    askpass.answer(username="", password=GOOD)
    first = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    prompts = askpass.prompts()
    assert prompts[0] == f"Username for '{server.url}/acme/widgets.git': "
    assert prompts[1].startswith("Password for '")
    assert [row["url"] for row in listed()] == [f"{server.url}/acme"]
    second = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "b"))
    assert second.returncode == 0, second.stderr
    assert askpass.prompts() == prompts


def test_push_with_a_read_only_token_is_explained_before_git_fails(
        server: BitbucketServer, tmp_path: Path) -> None:
    server.add_token(GOOD, "alice", scopes=[READ])
    result = login(server, GOOD)
    assert result.returncode == 0 and "push" in result.stdout
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"))
    assert clone.returncode == 0, clone.stderr
    (tmp_path / "w" / "f").write_text("x")
    assert run("git", "-C", str(tmp_path / "w"), "add", "f").returncode == 0
    assert run("git", "-C", str(tmp_path / "w"), "-c", "user.name=t", "-c", "user.email=t@e",
               "commit", "-m", "x").returncode == 0
    server.clear_log()
    push = run("git", "-C", str(tmp_path / "w"), "push", "origin", "HEAD")
    assert push.returncode != 0
    assert WRITE in push.stderr
    assert "told us to quit" in push.stderr
    assert "returned error: 403" not in push.stderr  # stopped before the doomed request
    assert [r for r in server.requests if r.username is not None] == []  # nothing was sent


def test_revoked_token_is_explained_and_removed(server: BitbucketServer,
                                                tmp_path: Path) -> None:
    token = server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    assert login(server, GOOD).returncode == 0
    token.revoked = True
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"))
    assert clone.returncode != 0
    assert "rejected the token" in clone.stderr
    assert "expired or was revoked" in clone.stderr
    assert listed() == []


def test_a_revoked_token_that_had_worked_is_not_blamed_on_its_scopes(
        server: BitbucketServer, tmp_path: Path) -> None:
    # It cloned, with read and write known: Bitbucket's 401 now means expired or revoked
    # (or the account lost the repository), never a token made without scopes.
    token = server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    assert login(server, GOOD).returncode == 0
    work = tmp_path / "w"
    assert run("git", "clone", f"{server.url}/acme/widgets.git", str(work)).returncode == 0
    token.revoked = True
    doctor = bbtoken("doctor", f"{server.url}/acme/widgets")
    fetch = run("git", "-C", str(work), "fetch")
    assert doctor.returncode == 1 and fetch.returncode != 0
    for said in (doctor.stdout, fetch.stderr):
        assert "rejected the token" in said and "expired or was revoked" in said, said
        assert f"accepted it before, with {READ}, {WRITE}" in said, said
        assert "without Bitbucket scopes" not in said and "mistyped" not in said, said
    assert f"with: {READ}, {WRITE}" in fetch.stderr
    assert f"login {server.url}/acme/widgets" in fetch.stderr
    assert listed() == []


@pytest.mark.parametrize("email", [False, True], ids=["git-only", "with-email"])
def test_a_revoked_token_on_a_repository_never_used_is_erased_not_kept(
        server: BitbucketServer, askpass: Askpass, tmp_path: Path, email: bool) -> None:
    # Cloud answers 401 for a dead token and for a repository the account cannot see alike.
    # The first-use probe of a new repository must not blame the account and keep the dead
    # token for ever: a repository it has cloned tells them apart. Then git gets its 401,
    # erases the token, and the next clone asks for a new one.
    token = server.add_token(GOOD, "alice", scopes=[READ, WRITE, USER, WORKSPACE])
    server.add_token(OTHER, "alice", scopes=[READ, WRITE])
    server.add_repo("acme/gadgets")
    extra = ["--email", "alice@example.com"] if email else []
    assert login(server, GOOD, *extra, path="acme").returncode == 0
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS=askpass.path, SSH_ASKPASS="")
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"), env=env)
    assert clone.returncode == 0, clone.stderr
    token.revoked = True
    askpass.answer("x-bitbucket-api-token-auth", OTHER)  # the new token the person types
    first = run("git", "clone", f"{server.url}/acme/gadgets.git", str(tmp_path / "g1"),
                env=env)
    assert first.returncode != 0
    assert "cannot see" not in first.stderr and QUIT not in first.stderr, first.stderr
    assert "expired or was revoked" in first.stderr, first.stderr  # the erase explains
    assert listed() == []
    second = run("git", "clone", f"{server.url}/acme/gadgets.git", str(tmp_path / "g2"),
                 env=env)
    assert second.returncode == 0, second.stderr
    assert [row["url"] for row in listed()] == [f"{server.url}/acme"]


def test_doctor_on_a_revoked_token_leaves_the_way_to_a_new_one_open(
        server: BitbucketServer, askpass: Askpass, tmp_path: Path) -> None:
    # doctor sees the 401 (a dead token, or the repository hidden: Cloud cannot say which);
    # it must not turn the repository the token cloned into one `get` refuses from memory:
    # git's own 401 and erase remove the dead token, and the next fetch asks for a new one.
    token = server.add_token(GOOD, "alice", scopes=[READ, WRITE, USER, WORKSPACE])
    server.add_token(OTHER, "alice", scopes=[READ, WRITE])
    assert login(server, GOOD, "--email", "alice@example.com", path="acme").returncode == 0
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS=askpass.path, SSH_ASKPASS="")
    work = tmp_path / "w"
    assert run("git", "clone", f"{server.url}/acme/widgets.git", str(work),
               env=env).returncode == 0
    token.revoked = True
    assert bbtoken("doctor", f"{server.url}/acme/widgets").returncode == 1
    askpass.answer("x-bitbucket-api-token-auth", OTHER)
    first = run("git", "-C", str(work), "fetch", env=env)
    assert first.returncode != 0 and "cannot see" not in first.stderr, first.stderr
    assert "expired or was revoked" in first.stderr, first.stderr
    second = run("git", "-C", str(work), "fetch", env=env)
    assert second.returncode == 0, second.stderr


def test_a_repository_the_account_cannot_see_is_told_apart_from_a_dead_token(
        server: BitbucketServer, tmp_path: Path) -> None:
    # The same 401, but the token still clones what it cloned before: the account's.
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    server.add_repo("other/secret")
    assert login(server, GOOD, path="").returncode == 0
    assert run("git", "clone", f"{server.url}/acme/widgets.git",
               str(tmp_path / "w")).returncode == 0
    hidden = run("git", "clone", f"{server.url}/other/secret.git", str(tmp_path / "s"))
    assert hidden.returncode != 0
    assert "Your account cannot see other/secret" in hidden.stderr and QUIT in hidden.stderr
    assert "may be expired or revoked" not in hidden.stderr  # shown not to be the token
    assert len(listed()) == 1  # kept: the token is fine


def test_an_email_in_the_remote_url_is_explained_with_the_url_to_use(
        server: BitbucketServer, tmp_path: Path) -> None:
    # A token is stored for the workspace as x-bitbucket-api-token-auth; the remote URL names
    # the Atlassian email, which git would send and Bitbucket refuse (facts §1). Storing the
    # token for the email cannot help (login refuses it): the remote URL is the fix.
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    assert login(server, GOOD, path="acme").returncode == 0
    clean = f"{server.url}/acme/widgets.git"
    with_email = clean.replace("://", "://alice%40example.com@")
    work = tmp_path / "w"
    assert run("git", "clone", clean, str(work)).returncode == 0
    assert run("git", "remote", "set-url", "origin", with_email, cwd=work).returncode == 0
    fetch = run("git", "fetch", cwd=work)
    assert fetch.returncode != 0
    assert "alice@example.com" in fetch.stderr and "not a git username" in fetch.stderr
    assert "x-bitbucket-api-token-auth" in fetch.stderr
    assert "--username alice@example.com" not in fetch.stderr and "login" not in fetch.stderr
    # The fix it names, run as written, works.
    [fix] = [line.split("bbtoken: ", 1)[1].strip() for line in fetch.stderr.splitlines()
             if "git remote set-url" in line]
    assert fix == f"git remote set-url origin {clean}"
    assert run(*fix.split(), cwd=work).returncode == 0
    assert run("git", "fetch", cwd=work).returncode == 0
    # A clone with the email in the URL is told to clone the URL without it.
    cloned = run("git", "clone", with_email, str(tmp_path / "w2"))
    assert cloned.returncode != 0 and f"(or clone {clean})" in cloned.stderr


def test_email_as_git_username_is_refused_with_its_own_explanation(
        server: BitbucketServer) -> None:
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    result = login(server, GOOD, "--username", "alice@example.com")
    assert result.returncode == 1
    assert "email" in result.stderr and "x-bitbucket-api-token-auth" in result.stderr
    assert listed() == []


def test_retired_app_password_gets_its_own_explanation(server: BitbucketServer,
                                                       tmp_path: Path) -> None:
    server.add_app_password("apppassword123456789", "alice")
    refused = login(server, "apppassword123456789", "--username", "alice")
    assert refused.returncode == 1
    assert "app password" in refused.stderr
    assert login(server, "apppassword123456789", "--username", "alice", "--force"
                 ).returncode == 0
    server.clear_log()
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"))
    assert clone.returncode != 0
    assert "app password" in clone.stderr
    assert not [r for r in server.requests if r.username == "alice"]  # never sent again


def test_login_without_anything_to_check_stores_and_says_so(server: BitbucketServer) -> None:
    result = login(server, GOOD, path="acme")
    assert result.returncode == 0
    assert "without checking" in result.stderr
    assert len(listed()) == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_api_trouble_is_not_checked_not_invalid(server: BitbucketServer, status: int) -> None:
    server.add_token(GOOD, "alice", scopes=[READ, WRITE, USER])
    server.rest_status_override = status
    result = login(server, GOOD, "--email", "alice@example.com", path="acme")
    assert result.returncode == 0, result.stderr
    said = result.stderr.lower()
    assert ("rate" in said) if status == 429 else ("does not mean the token is invalid" in said)


def test_unreachable_api_ends_in_bounded_time(server: BitbucketServer) -> None:
    subprocess.run(["git", "config", "--global", f"bbtoken.{server.url}.apiUrl",
                    "https://127.0.0.1:9/2.0"], check=True)
    result = login(server, GOOD, "--email", "alice@example.com", path="acme")
    assert result.returncode == 0
    assert "does not mean the token is invalid" in result.stderr.lower()
    # Kept, unchecked rather than judged.
    [row] = listed()
    assert (row["url"], row["email"], row["scopes"]) == (f"{server.url}/acme",
                                                         "alice@example.com", None)


def test_doctor_reports_good_and_read_only_tokens(server: BitbucketServer) -> None:
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    assert login(server, GOOD).returncode == 0
    good = bbtoken("doctor", f"{server.url}/acme/widgets")
    assert good.returncode == 0, good.stdout
    assert good.stdout.splitlines()[-1] == "No problems found."
    server.add_token("ATATT-read-only-1111111111111111111111111", "alice", scopes=[READ])
    # Stored (it can clone), with a warning that it cannot push.
    assert login(server, "ATATT-read-only-1111111111111111111111111").returncode == 0
    read_only = bbtoken("doctor", f"{server.url}/acme/widgets", "--json")
    assert read_only.returncode == 1
    report = json.loads(read_only.stdout)
    push = [c for c in report["checks"] if c["name"] == "push"][0]
    assert push["status"] == "problem" and WRITE in push["message"]
    assert "ATATT-read-only" not in read_only.stdout


def test_environment_token_serves_ci_without_storing(server: BitbucketServer,
                                                     secret_service: Any,
                                                     tmp_path: Path) -> None:
    server.add_token(GOOD, "alice", scopes=[READ])
    env = dict(os.environ, BBTOKEN_TOKEN=GOOD)
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"), env=env)
    assert clone.returncode == 0, clone.stderr
    assert (tmp_path / "w" / "README.md").is_file()
    # Sent with the Cloud token username (BBTOKEN_USERNAME unset), after the challenge.
    assert {r.username for r in server.requests} == {None, "x-bitbucket-api-token-auth"}
    assert listed() == []
    assert secret_service.items() == []


def test_store_checks_a_new_token_once(server: BitbucketServer) -> None:
    server.add_token(GOOD, "alice", scopes=[READ])
    record = (f"protocol=https\nhost={server.url.split('://')[1]}\npath=acme/widgets.git\n"
              f"username=x-bitbucket-api-token-auth\npassword={GOOD}\n\n")
    first = run("git", "credential", "approve", input=record)
    assert WRITE in first.stderr  # explained at once: this token cannot push
    assert [row["can_push"] for row in listed()] == [False]
    server.clear_log()
    again = run("git", "credential", "approve", input=record)
    assert again.stderr == ""
    assert server.requests == []  # an unchanged token is not checked again


# -- what must never happen, the way users would meet it ---------------------------------------


def fill(server: BitbucketServer, path: str = "acme/widgets.git",
         env: dict[str, str] | None = None, protocol: str = "https",
         host: str | None = None) -> CredentialResult:
    """`git credential fill` through bbtoken (setup's helper config), nobody to ask."""
    host = host or server.url.split("://", 1)[1]
    return credential("fill", {"protocol": protocol, "host": host, "path": path}, env=env)


def test_logout_removes_what_login_stored(server: BitbucketServer,
                                          secret_service: Any) -> None:
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    url = f"{server.url}/acme/widgets"
    assert login(server, GOOD).returncode == 0
    assert [row["url"] for row in listed()] == [url]
    assert fill(server).fields["password"] == GOOD

    logout = bbtoken("logout", url)
    assert logout.returncode == 0, logout.stderr
    assert f"removed the token for {url} (x-bitbucket-api-token-auth)" in logout.stderr
    assert listed() == []
    assert secret_service.items() == []  # the token itself is gone, not just its entry
    after = fill(server)
    assert after.returncode != 0 and "password" not in after.fields
    assert f"no token is stored for {url}" in after.stderr
    # Nothing left to remove.
    again = bbtoken("logout", url)
    assert again.returncode == 0 and f"nothing is stored for {url}" in again.stderr


def test_logout_of_a_host_names_what_is_stored_below_it(server: BitbucketServer) -> None:
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    assert login(server, GOOD, path="acme").returncode == 0
    logout = bbtoken("logout", server.url)
    assert logout.returncode == 0
    assert logout.stderr.splitlines() == [
        f"bbtoken: nothing is stored for {server.url}",
        f"bbtoken:   stored below it: {server.url}/acme (x-bitbucket-api-token-auth): "
        f"git credential-bbtoken logout {server.url}/acme"]
    assert len(listed()) == 1  # nothing removed that was not named


def test_logout_of_a_url_with_several_users(server: BitbucketServer) -> None:
    # `login URL` stores for x-bitbucket-api-token-auth, so `logout URL` removes that one and
    # says which it kept; --username and --all name the others.
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    url = f"{server.url}/acme/widgets"
    for extra in ([], ["--username", "alice"], ["--username", "bob", "--force"]):
        assert login(server, GOOD, *extra).returncode == 0
    logout = bbtoken("logout", url)
    assert logout.returncode == 0, logout.stderr
    assert f"removed the token for {url} (x-bitbucket-api-token-auth)" in logout.stderr
    assert f"kept the token for {url} (alice): add --username alice, or use --all" \
        in logout.stderr
    assert sorted(row["username"] for row in listed()) == ["alice", "bob"]
    # Without the default user, nothing is guessed: one line, exit 2, nothing removed.
    ambiguous = bbtoken("logout", url)
    assert ambiguous.returncode == 2
    assert ambiguous.stderr.strip().endswith(
        f"several users are stored for {url} (alice, bob): name one with --username, or use "
        "--all")
    assert len(listed()) == 2
    alice = bbtoken("logout", url, "--username", "alice")
    assert alice.returncode == 0 and [row["username"] for row in listed()] == ["bob"]
    everyone = bbtoken("logout", url, "--all")
    assert everyone.returncode == 0 and listed() == []


# -- a repository URL with or without .git: one scope (contract, section 2) --------------------

OTHER = "ATATT3xFfGF0-other-token-0123456789abcdefghijklmnopqrstuvwxy"


def test_a_repository_url_with_or_without_git_is_one_scope(server: BitbucketServer,
                                                           tmp_path: Path) -> None:
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    server.add_token(OTHER, "alice", scopes=[READ, WRITE])
    url = f"{server.url}/acme/widgets"
    assert login(server, GOOD, path="acme/widgets.git").returncode == 0
    assert [row["url"] for row in listed()] == [url]
    for path in ("acme/widgets", "acme/widgets.git", "acme/widgets.git/info/lfs"):
        assert fill(server, path).fields.get("password") == GOOD, path
    clone = run("git", "clone", url, str(tmp_path / "w"))  # a remote without .git
    assert clone.returncode == 0, clone.stderr
    doctor = bbtoken("doctor", f"{url}.git", "--json")
    report = json.loads(doctor.stdout)
    assert report["url"] == url and doctor.returncode == 0, doctor.stdout

    # Logging in again for the same scope and username replaces the stored token.
    assert login(server, OTHER).returncode == 0
    assert [row["url"] for row in listed()] == [url]
    assert fill(server, "acme/widgets.git").fields["password"] == OTHER

    logout = bbtoken("logout", f"{url}.git")
    assert logout.returncode == 0, logout.stderr
    assert f"removed the token for {url} (x-bitbucket-api-token-auth)" in logout.stderr
    assert listed() == []


def _store_as_an_older_version(server: BitbucketServer, path: str) -> None:
    """A login for `https://host/acme/widgets.git` as older versions kept it: under
    the scope `acme/widgets.git`. Straight into the store."""
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    host = server.url.split("://", 1)[1]
    code = ("from git_credential_bbtoken.storage.store import CredentialStore, Entry\n"
            f"CredentialStore(print).put(Entry('https', {host!r}, {path!r}, "
            f"'x-bitbucket-api-token-auth', kind='cloud'), {GOOD!r})\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("spelling", ["acme/widgets", "acme/widgets.git"])
def test_a_login_kept_under_git_by_an_older_version_still_works(
        server: BitbucketServer, secret_service: Any, spelling: str) -> None:
    _store_as_an_older_version(server, "acme/widgets.git")
    for path in ("acme/widgets", "acme/widgets.git", "acme/widgets.git/info/lfs"):
        assert fill(server, path).fields.get("password") == GOOD, path
    logout = bbtoken("logout", f"{server.url}/{spelling}")
    assert logout.returncode == 0, logout.stderr
    assert "removed the token for" in logout.stderr
    assert listed() == [] and secret_service.items() == []


def test_logging_in_again_replaces_a_login_kept_under_git(server: BitbucketServer,
                                                           secret_service: Any) -> None:
    _store_as_an_older_version(server, "acme/widgets.git")
    server.add_token(OTHER, "alice", scopes=[READ, WRITE])
    assert login(server, OTHER).returncode == 0
    assert [row["url"] for row in listed()] == [f"{server.url}/acme/widgets"]
    assert [item["secret"] for item in secret_service.items()] == [OTHER]
    assert fill(server, "acme/widgets.git").fields["password"] == OTHER


def test_other_hosts_keep_the_path_as_given(secret_service: Any) -> None:
    """Not Bitbucket: git's own stores' rules, where `repo.git` and `repo` are two paths."""
    stored = bbtoken("login", "https://example.edu/ws/repo.git", "--token-stdin",
                     input="generic-secret\n")
    assert stored.returncode == 0, stored.stderr
    assert [row["url"] for row in listed()] == ["https://example.edu/ws/repo.git"]
    assert "nothing is stored" in bbtoken("logout", "https://example.edu/ws/repo").stderr
    assert len(listed()) == 1


@pytest.mark.parametrize(("days", "warns"), [(5, True), (7, True), (8, False)])
def test_expiry_warning_window_is_seven_days(server: BitbucketServer, days: int,
                                             warns: bool) -> None:
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    expires = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days)
    assert login(server, GOOD, "--expires", expires.isoformat()).returncode == 0
    got = fill(server)
    assert got.returncode == 0 and got.fields["password"] == GOOD, got.stderr
    if warns:
        assert f"expires in {days} days ({expires})" in got.stderr, got.stderr
        assert len(got.stderr.splitlines()) == 1
    else:
        assert got.stderr == ""


PLAIN_HTTP = "tokens are only sent over https"


def test_environment_token_is_not_sent_to_bitbucket_org_over_http() -> None:
    # bitbucket.org is Bitbucket Cloud without any configuration: its token must not go out
    # in clear text, even in CI mode. Nothing is contacted: the helper refuses first.
    env = dict(os.environ, BBTOKEN_TOKEN=GOOD)
    result = credential("fill", {"protocol": "http", "host": "bitbucket.org",
                                 "path": "acme/widgets.git"}, env=env)
    assert "password" not in result.fields and GOOD not in str(result)
    assert result.returncode != 0  # git found no credential and could ask nobody
    assert f"not using a Bitbucket token for http://bitbucket.org: {PLAIN_HTTP}" in result.stderr
    # The same request over https is served.
    served = credential("fill", {"protocol": "https", "host": "bitbucket.org",
                                 "path": "acme/widgets.git"}, env=env)
    assert served.returncode == 0 and served.fields["password"] == GOOD


def test_stored_token_is_not_sent_over_http(secret_service: Any) -> None:
    # A token kept for http://bitbucket.org (an older version, a hand-edited store) stays
    # where it is. Stored here as `login` would, straight into the store.
    code = ("from git_credential_bbtoken.storage.store import CredentialStore, Entry\n"
            "CredentialStore(print).put(Entry('http', 'bitbucket.org', 'acme', "
            f"'x-bitbucket-api-token-auth', kind='cloud'), {GOOD!r})\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert [item["secret"] for item in secret_service.items()] == [GOOD]
    result = credential("fill", {"protocol": "http", "host": "bitbucket.org",
                                 "path": "acme/widgets.git"},
                        extra_config=["credential.useHttpPath=true"])
    assert "password" not in result.fields and GOOD not in str(result)
    assert PLAIN_HTTP in result.stderr


# -- what login learns with --email, from today's endpoints only ------------------------------


def verdicts(stdout: str) -> dict[str, tuple[str, str]]:
    """`login`'s table: what -> (yes | no | unknown, why)."""
    rows = {}
    for line in stdout.splitlines():
        for answer in ("yes", "no", "unknown"):
            what, sep, why = line.strip().partition(f"  {answer}  ")
            if sep and what and not what.startswith("scopes"):
                rows[what.strip()] = (answer, why.strip())
                break
    return rows


@pytest.mark.parametrize("headers", [True, False])
def test_full_scope_token_at_workspace_level_gets_yes(server: BitbucketServer,
                                                      headers: bool) -> None:
    server.add_token(GOOD, "alice", scopes=EVERY_SCOPE)
    server.send_scope_headers = headers
    result = login(server, GOOD, "--email", "alice@example.com", path="acme")
    assert result.returncode == 0, result.stderr
    rows = verdicts(result.stdout)
    assert rows["clone"] == ("yes", "git probe of acme/widgets: allowed (200)"), result.stdout
    assert rows["push"] == ("yes", "git probe of acme/widgets: allowed (200)")
    assert rows["identity (Sourcetree, IDEs)"] == ("yes", "REST /user: allowed (200)")
    assert rows["workspaces"] == ("yes", f"has {USER}, {WORKSPACE}")
    assert result.stderr.splitlines() == [
        f"bbtoken: stored the token for {server.url}/acme as x-bitbucket-api-token-auth in "
        + result.stderr.split(" in ", 1)[1].strip()]
    [row] = listed()
    assert (row["can_clone"], row["can_push"]) == (True, True)
    if headers:  # Bitbucket listed every scope: every row is yes
        assert {answer for answer, _ in rows.values()} == {"yes"}, result.stdout
        assert (set(row["scopes"]), row["scopes_partial"]) == (set(EVERY_SCOPE), False)
    else:  # nothing listed them: what was proven, marked partial; nothing guessed
        assert rows["pull requests (read)"][0] == "unknown"
        assert (row["scopes"], row["scopes_partial"]) == ([READ, WRITE, USER, WORKSPACE], True)
    assert [r.path for r in server.requests if r.surface == "git"] == [
        "/acme/widgets.git/info/refs"] * 2


def test_token_without_read_user_is_told_what_sourcetree_needs(
        server: BitbucketServer) -> None:
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    result = login(server, GOOD, "--email", "alice@example.com")
    assert result.returncode == 0, result.stderr  # git works: stored, with a note
    sourcetree = f"Sourcetree and IDEs need {USER}, {WORKSPACE}, {READ}"
    rows = verdicts(result.stdout)
    assert rows["identity (Sourcetree, IDEs)"] == ("no", f"REST /user: 403, lacks {USER}; "
                                                   + sourcetree)
    assert rows["workspaces"] == ("no", f"lacks {USER}, {WORKSPACE}; " + sourcetree)
    assert f"The token lacks {USER}, {WORKSPACE}: git works" in result.stderr
    assert f"account panels need {USER}, {WORKSPACE}, {READ}." in result.stderr
    assert f"with: {READ}, {WRITE}, {USER}, {WORKSPACE}" in result.stderr
    report = json.loads(bbtoken("doctor", f"{server.url}/acme/widgets", "--json").stdout)
    named = {c["name"]: c for c in report["checks"]}
    assert named["identity"]["status"] == named["workspaces"]["status"] == "warning"
    assert sourcetree in named["workspaces"]["message"]
    assert any(c["name"] == "explanation" and WORKSPACE in c["message"]
               for c in report["checks"])


def test_removed_endpoints_are_never_called_and_a_410_is_not_checked(
        server: BitbucketServer) -> None:
    server.add_token(GOOD, "alice", scopes=[READ, WRITE, USER, WORKSPACE])
    for path in ("acme/widgets", "acme", ""):
        result = bbtoken("login", f"{server.url}/{path}".rstrip("/"), "--token-stdin",
                         "--email", "alice@example.com", input=GOOD + "\n")
        assert result.returncode == 0, result.stderr
        assert "Could not" not in result.stderr
    assert server.rest.removed_calls == []
    assert not {r.path.rstrip("/") for r in server.requests} & REMOVED
    # Bitbucket answers 410 for an endpoint it removed: "not checked", never "invalid".
    server.user_endpoint_gone = True
    gone = login(server, GOOD, "--email", "alice@example.com", path="acme")
    assert gone.returncode == 0, gone.stderr
    assert "answered 410 to GET /user" in gone.stderr
    assert "does not mean the token is invalid" in gone.stderr
    assert "rejected" not in gone.stderr.lower()
    rows = verdicts(gone.stdout)
    assert rows["clone"] == ("yes", "git probe of acme/widgets: allowed (200)")
    # /user/workspaces answered 200, which proves read:user as well
    assert rows["identity (Sourcetree, IDEs)"] == ("yes", f"has {USER}")
    assert server.rest.removed_calls == []


def test_list_shows_proven_scopes_as_partial(server: BitbucketServer) -> None:
    # No answer fails, so none lists the token's scopes: those proven are kept as such.
    server.add_token(GOOD, "alice", scopes=[READ, USER, WORKSPACE])
    result = login(server, GOOD, "--email", "alice@example.com")
    assert result.returncode == 0, result.stderr
    proven = [READ, USER, WORKSPACE]
    assert f"scopes: {', '.join(proven)} (at least)" in result.stdout
    # It cannot push: the new token it is told to make keeps what this one was proven to have.
    assert f"The token has at least: {', '.join(proven)}." in result.stderr
    assert f"with: {READ}, {WRITE}, {USER}, {WORKSPACE}" in result.stderr
    [row] = listed()
    assert (row["scopes"], row["scopes_partial"]) == (proven, True)
    table = bbtoken("list").stdout
    assert f"{', '.join(proven)} (at least)" in table
    # A 403 lists them all: the full set, not partial.
    server.add_token("ATATT-read-write-22222222222222222222222", "alice", scopes=[READ, WRITE])
    assert login(server, "ATATT-read-write-22222222222222222222222", "--email",
                 "alice@example.com").returncode == 0
    [row] = listed()
    assert (row["scopes"], row["scopes_partial"]) == ([READ, WRITE], False)
    assert "(at least)" not in bbtoken("list").stdout


# -- a scope problem or the account's permission; the email or the token (contract §4) -------

ACCOUNT_READS_ONLY = "Your account can only read acme/widgets"
QUIT = "fatal: credential helper 'bbtoken' told us to quit"


def commit(work: Path) -> None:
    (work / "f").write_text(os.urandom(4).hex())
    assert run("git", "-C", str(work), "add", "f").returncode == 0
    assert run("git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@e", "commit",
               "-m", "x").returncode == 0


def helper_probes(server: BitbucketServer) -> list[tuple[str, int]]:
    return [(r.query, r.status) for r in server.requests if "git-credential-bbtoken" in r.agent]


def test_an_account_that_may_only_read_is_not_blamed_on_the_token(
        server: BitbucketServer, tmp_path: Path) -> None:
    # The token has every scope git needs; the account may only read the repository.
    scopes = [READ, WRITE, USER, WORKSPACE]
    server.add_token(GOOD, "alice", scopes=scopes)
    server.send_scope_headers = True
    server.set_permission("alice", "acme/widgets", "read")
    result = login(server, GOOD, "--email", "alice@example.com")
    assert result.returncode == 0, result.stderr  # it can clone: stored
    assert ACCOUNT_READS_ONLY in result.stderr and "a new token will not help" in result.stderr
    assert "ask a workspace admin for write access to acme/widgets" in result.stderr
    assert f"lacks {WRITE}" not in result.stderr + result.stdout
    assert verdicts(result.stdout)["push"] == (
        "no", "git probe: 403, your account may not write to this repository")
    [row] = listed()
    assert (row["scopes"], row["scopes_partial"], row["can_clone"], row["can_push"]) == (
        scopes, False, True, False)
    doctor = bbtoken("doctor", f"{server.url}/acme/widgets", "--json")
    push = [c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "push"][0]
    assert push["status"] == "problem" and "your account may not write" in push["message"]
    assert f"lacks {WRITE}" not in doctor.stdout and ACCOUNT_READS_ONLY in doctor.stdout
    work = tmp_path / "w"
    assert run("git", "clone", f"{server.url}/acme/widgets.git", str(work)).returncode == 0
    commit(work)
    for _ in range(2):
        # Asked each time, with one probe: an admin may grant write at any moment.
        server.clear_log()
        pushed = run("git", "-C", str(work), "push", "origin", "HEAD")
        assert pushed.returncode != 0
        assert ACCOUNT_READS_ONLY in pushed.stderr and QUIT in pushed.stderr
        assert "lacks" not in pushed.stderr and "returned error: 403" not in pushed.stderr
        assert helper_probes(server) == [("service=git-receive-pack", 403)]
    [row] = listed()
    assert (row["scopes"], row["repositories"]["acme/widgets"]["push_why"]) == (
        scopes, "permission")


def test_store_of_a_token_the_account_may_not_push_with_blames_no_scope(
        server: BitbucketServer) -> None:
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    server.set_permission("alice", "acme/widgets", "read")
    record = (f"protocol=https\nhost={server.url.split('://')[1]}\npath=acme/widgets.git\n"
              f"username=x-bitbucket-api-token-auth\npassword={GOOD}\n\n")
    stored = run("git", "credential", "approve", input=record)
    assert ACCOUNT_READS_ONLY in stored.stderr and "lacks" not in stored.stderr
    [row] = listed()
    # Only what a probe proved is known: read, at least; nothing says write is missing.
    assert (row["scopes"], row["scopes_partial"], row["can_push"]) == ([READ], True, False)


@pytest.mark.parametrize(("email", "revoked"), [("bob@example.com", False),
                                                ("alice@example.com", True)])
def test_workspace_login_refused_by_rest_names_the_email_and_stores_unchecked(
        server: BitbucketServer, email: str, revoked: bool) -> None:
    # REST refused email:token and the URL names no repository for git to try: a wrong
    # email and a dead token look the same. Nothing shows the token cannot clone, so it is
    # stored, unchecked, and the explanation says both and how to tell.
    server.add_token(GOOD, "alice", scopes=[READ, WRITE, USER, WORKSPACE], revoked=revoked)
    result = login(server, GOOD, "--email", email, path="acme")
    assert result.returncode == 0, result.stderr
    assert f"rejected {email} with this token (401)" in result.stderr
    assert "is not the email of the Atlassian account" in result.stderr
    assert "expired" in result.stderr and "revoked" in result.stderr
    assert "the token itself is not checked" in result.stderr
    assert f"doctor {server.url}/acme/REPO" in result.stderr
    assert "Bitbucket rejected the token" not in result.stderr
    assert verdicts(result.stdout)["clone"][0] == "unknown"
    [row] = listed()
    assert (row["url"], row["email"], row["can_clone"]) == (f"{server.url}/acme", email, None)
    # The check it suggests tells which: git takes no email.
    doctor = bbtoken("doctor", f"{server.url}/acme/widgets")
    if revoked:
        assert doctor.returncode == 1 and "Bitbucket rejected the token" in doctor.stdout
    else:
        assert doctor.returncode == 0, doctor.stdout
        assert f"git accepted the token, so check that {email}" in doctor.stdout
