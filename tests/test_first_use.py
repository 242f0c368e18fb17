"""Issue 12, zero bare 403s: the first time a stored token is used on a repository for an
operation whose outcome is unknown, `get` asks Bitbucket what git is about to ask, keeps the
answer, and explains a refusal instead of letting git end in a bare 403. Real git, the
Bitbucket-like server (with per-repository permissions), the real keyring."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rig.server import BitbucketServer

READ = "read:repository:bitbucket"
WRITE = "write:repository:bitbucket"
READ_ONLY = "ATATT3x-first-use-read-only-0123456789abcdefghijklmnopqrstuvwxyz"
WRITER = "ATATT3x-first-use-writer-0123456789abcdefghijklmnopqrstuvwxyzABCD"
QUIT = "fatal: credential helper 'bbtoken' told us to quit"
BARE = "The requested URL returned error"


def git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="")
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env)


def probes(server: BitbucketServer) -> list[Any]:
    """The helper's own requests (git's carry git's User-Agent)."""
    return [r for r in server.requests if "git-credential-bbtoken" in r.agent]


@pytest.fixture
def server(bitbucket: BitbucketServer, secret_service: object) -> BitbucketServer:
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    for repo in ("acme/widgets", "acme/gizmos", "acme/gadgets"):
        bitbucket.add_repo(repo)
    bitbucket.add_token(READ_ONLY, "alice", [READ])
    bitbucket.add_token(WRITER, "alice", [READ, WRITE])
    assert git("credential-bbtoken", "setup", bitbucket.url).returncode == 0
    return bitbucket


def login_workspace(server: BitbucketServer, token: str) -> None:
    """A login for the workspace without --email: nothing about repositories is known."""
    result = subprocess.run(["git", "credential-bbtoken", "login", f"{server.url}/acme",
                             "--token-stdin"], input=token + "\n", capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def clone(server: BitbucketServer, repo: str, where: Path) -> subprocess.CompletedProcess[str]:
    return git("clone", f"{server.url}/{repo}.git", str(where))


def doctor_says(url: str, check: str) -> str:
    """The status of one of `doctor`'s checks for `url`."""
    doctor = subprocess.run(["git", "credential-bbtoken", "doctor", url, "--json"],
                            capture_output=True, text=True, timeout=120)
    [status] = [c["status"] for c in json.loads(doctor.stdout)["checks"] if c["name"] == check]
    return str(status)


def doctor_checks(url: str) -> dict[str, Any]:
    """`doctor`'s checks for `url`, by name (the last of each name)."""
    doctor = subprocess.run(["git", "credential-bbtoken", "doctor", url, "--json"],
                            capture_output=True, text=True, timeout=120)
    return {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}


def commit(work: Path) -> None:
    changes = work / "new.txt"
    changes.write_text((changes.read_text() if changes.exists() else "") + "change\n")
    assert git("add", "new.txt", cwd=work).returncode == 0
    done = git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-m", "c",
               cwd=work)
    assert done.returncode == 0, done.stderr


def test_push_with_a_read_only_token_is_explained_the_first_time(server: BitbucketServer,
                                                                 tmp_path: Path) -> None:
    login_workspace(server, READ_ONLY)
    work = tmp_path / "w"
    cloned = clone(server, "acme/widgets", work)
    assert cloned.returncode == 0, cloned.stderr
    commit(work)
    server.clear_log()
    pushed = git("push", "origin", "HEAD:main", cwd=work)
    assert pushed.returncode != 0
    assert f"The token cannot push to {server.url}/acme/widgets: it lacks {WRITE}" in \
        pushed.stderr
    assert QUIT in pushed.stderr and BARE not in pushed.stderr
    assert [(r.query, r.status) for r in probes(server)] == [
        ("service=git-receive-pack", 403)]
    # git's own request went out without a credential only (its 401 challenge): the token
    # was never sent for a push that had to fail.
    assert [r.username for r in server.requests if r not in probes(server)] == [None]
    # Known now: the next push is explained without asking Bitbucket again.
    server.clear_log()
    again = git("push", "origin", "HEAD:main", cwd=work)
    assert "lacks " + WRITE in again.stderr and QUIT in again.stderr
    assert probes(server) == []
    assert [r.username for r in server.requests] == [None]
    # `list --json` shows what was learnt, per repository.
    listed = subprocess.run(["git", "credential-bbtoken", "list", "--json"],
                            capture_output=True, text=True, timeout=60)
    (row,) = json.loads(listed.stdout)["credentials"]
    widgets = row["repositories"]["acme/widgets"]
    assert (widgets["clone"], widgets["push"], widgets["push_why"], widgets["push_status"]) == \
        (True, False, "scope", 403)


def test_a_known_repository_costs_no_extra_request(server: BitbucketServer,
                                                   tmp_path: Path) -> None:
    login_workspace(server, WRITER)
    work = tmp_path / "w"
    server.clear_log()
    assert clone(server, "acme/widgets", work).returncode == 0
    assert [r.query for r in probes(server)] == ["service=git-upload-pack"]  # first use
    server.clear_log()
    fetched = git("fetch", cwd=work)
    assert fetched.returncode == 0, fetched.stderr
    assert probes(server) == [] and server.requests  # only git's own requests
    commit(work)
    server.clear_log()
    assert git("push", "origin", "HEAD:main", cwd=work).returncode == 0
    assert [r.query for r in probes(server)] == ["service=git-receive-pack"]  # first push
    commit(work)
    server.clear_log()
    pushed = git("push", "origin", "HEAD:main", cwd=work)
    assert pushed.returncode == 0, pushed.stderr
    assert probes(server) == []


def approve(server: BitbucketServer, token: str) -> None:
    """What git runs after a request that succeeded: `store`, with the repository's path
    (setup turned credential.useHttpPath on)."""
    record = (f"protocol=https\nhost={server.url.split('://')[1]}\npath=acme/widgets.git\n"
              f"username=x-bitbucket-api-token-auth\npassword={token}\n\n")
    approved = subprocess.run(["git", "credential", "approve"], input=record,
                              capture_output=True, text=True, timeout=120)
    assert approved.returncode == 0, approved.stderr


def test_what_store_learnt_of_the_repository_is_kept(server: BitbucketServer,
                                                     tmp_path: Path) -> None:
    """`store`'s check of a new token probed the repository git used: that is kept as
    `get`'s own first-use probe keeps it, and a clone and a push of it ask nothing more."""
    server.clear_log()
    approve(server, WRITER)
    assert sorted(r.query for r in probes(server)) == ["service=git-receive-pack",
                                                       "service=git-upload-pack"]
    server.clear_log()
    work = tmp_path / "w"
    cloned = clone(server, "acme/widgets", work)
    assert cloned.returncode == 0, cloned.stderr
    commit(work)
    pushed = git("push", "origin", "HEAD:main", cwd=work)
    assert pushed.returncode == 0, pushed.stderr
    assert probes(server) == [] and server.requests  # only git's own requests
    # Only that repository is known: another one of the workspace is asked about once.
    assert clone(server, "acme/gizmos", tmp_path / "g").returncode == 0
    assert [r.query for r in probes(server)] == ["service=git-upload-pack"]


def test_a_push_refusal_that_store_saw_is_explained_without_asking_again(
        server: BitbucketServer, tmp_path: Path) -> None:
    approve(server, READ_ONLY)
    work = tmp_path / "w"
    assert clone(server, "acme/widgets", work).returncode == 0
    commit(work)
    server.clear_log()
    pushed = git("push", "origin", "HEAD:main", cwd=work)
    assert "lacks " + WRITE in pushed.stderr and QUIT in pushed.stderr
    assert probes(server) == []
    assert [r.username for r in server.requests] == [None]  # the token was never sent


def test_push_by_an_account_that_may_only_read(server: BitbucketServer,
                                               tmp_path: Path) -> None:
    """The token has write:repository; the account may only read the repository: the
    refusal is the account's, and no scope the token has is blamed."""
    server.set_permission("alice", "acme/widgets", "read")
    login_workspace(server, WRITER)
    work = tmp_path / "w"
    assert clone(server, "acme/widgets", work).returncode == 0
    commit(work)
    pushed = git("push", "origin", "HEAD:main", cwd=work)
    assert "Your account can only read acme/widgets" in pushed.stderr
    assert "ask a workspace admin for write access" in pushed.stderr
    assert "lacks" not in pushed.stderr and BARE not in pushed.stderr
    assert QUIT in pushed.stderr


def test_push_works_once_an_admin_grants_write(server: BitbucketServer,
                                                tmp_path: Path) -> None:
    """The account's refusal is not the token's: it may change at any moment (the text
    itself says "then push again"), so each push it refused asks Bitbucket again, with the
    one probe, instead of quitting on what it said last."""
    server.set_permission("alice", "acme/widgets", "read")
    login_workspace(server, WRITER)
    work = tmp_path / "w"
    assert clone(server, "acme/widgets", work).returncode == 0
    commit(work)
    refused = git("push", "origin", "HEAD:main", cwd=work)
    assert "then push again" in refused.stderr and QUIT in refused.stderr
    server.clear_log()
    still = git("push", "origin", "HEAD:main", cwd=work)  # nothing changed: asked, refused
    assert "then push again" in still.stderr and QUIT in still.stderr
    assert [(r.query, r.status) for r in probes(server)] == [("service=git-receive-pack", 403)]
    server.set_permission("alice", "acme/widgets", "write")
    server.clear_log()
    pushed = git("push", "origin", "HEAD:main", cwd=work)
    assert pushed.returncode == 0, pushed.stderr
    assert [(r.query, r.status) for r in probes(server)] == [("service=git-receive-pack", 200)]
    commit(work)
    server.clear_log()
    assert git("push", "origin", "HEAD:main", cwd=work).returncode == 0
    assert probes(server) == []  # allowed is known: no request


def test_doctor_replaces_a_refusal_get_relies_on(server: BitbucketServer,
                                                 tmp_path: Path) -> None:
    """`doctor` checks afresh: what it finds allowed is what `get` knows from then on."""
    server.set_permission("alice", "acme/widgets", "read")
    login_workspace(server, WRITER)
    work = tmp_path / "w"
    assert clone(server, "acme/widgets", work).returncode == 0
    commit(work)
    assert QUIT in git("push", "origin", "HEAD:main", cwd=work).stderr
    server.set_permission("alice", "acme/widgets", "write")
    assert doctor_says(f"{server.url}/acme/widgets", "push") == "ok"
    server.clear_log()
    pushed = git("push", "origin", "HEAD:main", cwd=work)
    assert pushed.returncode == 0, pushed.stderr
    assert probes(server) == []


@pytest.mark.parametrize("status", [429, 500, 410])
def test_doctor_keeps_the_scopes_login_learnt(server: BitbucketServer, status: int) -> None:
    """A `doctor` whose REST check got no answer (rate limited, a server error, an endpoint
    gone) while git's probes passed learnt no scopes: the login's stay known."""
    login = subprocess.run(["git", "credential-bbtoken", "login", f"{server.url}/acme/widgets",
                            "--email", "alice@example.com", "--token-stdin"],
                           input=WRITER + "\n", capture_output=True, text=True, timeout=120)
    assert login.returncode == 0, login.stderr
    before = stored_validation()
    assert before["scopes"] == [READ, WRITE] and not before["scopes_partial"]
    server.rest_status_override = status
    assert doctor_says(f"{server.url}/acme/widgets", "clone") == "ok"
    after = stored_validation()
    assert after["scopes"] == [READ, WRITE] and not after["scopes_partial"]
    assert after["checked_at"] >= before["checked_at"]


@pytest.mark.parametrize("repo", ["acme/gizmos", "acme/nothing-here"])
def test_clone_of_a_repository_the_account_cannot_see(server: BitbucketServer,
                                                      tmp_path: Path, repo: str) -> None:
    server.set_permission("alice", "acme/gizmos", "none")
    login_workspace(server, WRITER)
    assert clone(server, "acme/widgets", tmp_path / "ok").returncode == 0
    cloned = clone(server, repo, tmp_path / "no")
    assert cloned.returncode != 0
    assert f"Your account cannot see {repo}, or it does not exist" in cloned.stderr
    assert BARE not in cloned.stderr and QUIT in cloned.stderr
    assert "token itself may be expired" not in cloned.stderr  # it worked on widgets
    listed = subprocess.run(["git", "credential-bbtoken", "list", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert TOKEN_NOT_IN(listed.stdout)


def stored_validation() -> dict[str, Any]:
    """What the most specific login's check stored (`list --json`)."""
    listed = subprocess.run(["git", "credential-bbtoken", "list", "--json"],
                            capture_output=True, text=True, timeout=60)
    rows = json.loads(listed.stdout)["credentials"]
    return dict(max(rows, key=lambda row: len(row["url"])))


def TOKEN_NOT_IN(text: str) -> bool:  # noqa: N802 - reads as a sentence in the assertion
    return WRITER not in text and READ_ONLY not in text


# -- Data Center --------------------------------------------------------------------------------

DC_READER = "BBDC-first-use-reader-0123456789abcdefghijklmnop"


@pytest.fixture
def datacenter(datacenter: Any) -> Any:
    """conftest's Data Center-like server, with a project alice cannot see and her personal
    REPO_READ token logged in for the whole server."""
    datacenter.add_repo("OTHER", "secrets")
    datacenter.add_personal_token(DC_READER, "alice", ["REPO_READ"])
    assert git("credential-bbtoken", "setup", datacenter.url).returncode == 0
    login = subprocess.run(["git", "credential-bbtoken", "login", "--kind", "datacenter",
                            datacenter.url, "--username", "alice", "--token-stdin"],
                           input=DC_READER + "\n", capture_output=True, text=True, timeout=120)
    assert login.returncode == 0, login.stderr
    return datacenter


def test_datacenter_repository_the_token_cannot_see(datacenter: Any, tmp_path: Path) -> None:
    cloned = git("clone", f"{datacenter.url}/scm/OTHER/secrets.git", str(tmp_path / "s"))
    assert cloned.returncode != 0
    assert "does not reach" in cloned.stderr and "(404)" in cloned.stderr
    assert QUIT in cloned.stderr and BARE not in cloned.stderr


def test_datacenter_push_without_repo_write(datacenter: Any, tmp_path: Path) -> None:
    work = tmp_path / "w"
    assert git("clone", f"{datacenter.url}/scm/PROJ/widgets.git", str(work)).returncode == 0
    commit(work)
    pushed = git("push", "origin", "HEAD:main", cwd=work)
    assert "cannot push" in pushed.stderr and "REPO_WRITE" in pushed.stderr
    assert QUIT in pushed.stderr and BARE not in pushed.stderr


@pytest.mark.parametrize("scope", ["", "/scm/PROJ/widgets"])
def test_datacenter_push_works_once_the_token_gets_repo_write(datacenter: Any, tmp_path: Path,
                                                              scope: str) -> None:
    """A Data Center token's permissions can be edited after its creation (facts §5): a
    push refused for want of REPO_WRITE is asked about again, whether the refusal came from
    `get`'s probe or from a login for the repository itself."""
    if scope:
        login = subprocess.run(["git", "credential-bbtoken", "login", datacenter.url + scope,
                                "--username", "alice", "--token-stdin"], input=DC_READER + "\n",
                               capture_output=True, text=True, timeout=120)
        assert login.returncode == 0, login.stderr
        assert stored_validation()["can_push"] is False  # the login saw the push refused
    work = tmp_path / "w"
    assert git("clone", f"{datacenter.url}/scm/PROJ/widgets.git", str(work)).returncode == 0
    commit(work)
    refused = git("push", "origin", "HEAD:main", cwd=work)
    assert "REPO_WRITE" in refused.stderr and QUIT in refused.stderr
    datacenter.tokens[DC_READER].permissions = ["REPO_WRITE"]
    pushed = git("push", "origin", "HEAD:main", cwd=work)
    assert pushed.returncode == 0, pushed.stderr


def test_datacenter_never_sends_a_rejected_credential_twice(datacenter: Any,
                                                            tmp_path: Path) -> None:
    """Repeated 401s lock a Data Center account behind a CAPTCHA: a credential the server
    refused is not sent again, and the server's reason is passed on."""
    datacenter.tokens[DC_READER].revoked = True
    datacenter.denied_reason = "CAPTCHA required; log in once in the web UI"
    datacenter.clear_log()
    first = git("clone", f"{datacenter.url}/scm/PROJ/widgets.git", str(tmp_path / "a"))
    assert "rejected the stored token" in first.stderr and QUIT in first.stderr
    assert "X-Authentication-Denied-Reason" in first.stderr and "CAPTCHA" in first.stderr
    sent = [r for r in datacenter.requests if r.scheme is not None]
    assert len(sent) == 1  # the helper's one probe; git never sent it
    datacenter.clear_log()
    second = git("clone", f"{datacenter.url}/scm/PROJ/widgets.git", str(tmp_path / "b"))
    assert "rejected the stored token" in second.stderr and QUIT in second.stderr
    assert [r for r in datacenter.requests if r.scheme is not None] == []  # not sent again
    # `doctor` does not send it either: it says what was kept, and how to get out of it.
    doctor = doctor_checks(f"{datacenter.url}/scm/PROJ/widgets")
    assert [r for r in datacenter.requests if r.scheme is not None] == []
    assert doctor["token"]["status"] == "problem"
    assert "rejected the stored token" in doctor["token"]["message"]
    assert any("rotate" in line for line in doctor["token"]["fix"])
    third = git("clone", f"{datacenter.url}/scm/PROJ/widgets.git", str(tmp_path / "c"))
    assert QUIT in third.stderr
    assert [r for r in datacenter.requests if r.scheme is not None] == []
    # Out of its CAPTCHA, the account's token works again once it is logged in again.
    datacenter.tokens[DC_READER].revoked = False
    datacenter.denied_reason = None
    login = subprocess.run(["git", "credential-bbtoken", "login", datacenter.url,
                            "--username", "alice", "--token-stdin"], input=DC_READER + "\n",
                           capture_output=True, text=True, timeout=120)
    assert login.returncode == 0, login.stderr
    fourth = git("clone", f"{datacenter.url}/scm/PROJ/widgets.git", str(tmp_path / "d"))
    assert fourth.returncode == 0, fourth.stderr


def test_datacenter_access_lost_while_doctor_checked_comes_back(datacenter: Any,
                                                                tmp_path: Path) -> None:
    """A `doctor` run while the token could not see the repository (404, an edited
    permission) does not make `get` quit once the permission is back: only the token's own
    refusal does."""
    url = f"{datacenter.url}/scm/PROJ/widgets"
    login = subprocess.run(["git", "credential-bbtoken", "login", url, "--username", "alice",
                            "--token-stdin"], input=DC_READER + "\n", capture_output=True,
                           text=True, timeout=120)
    assert login.returncode == 0, login.stderr
    datacenter.tokens[DC_READER].permissions = []
    assert doctor_says(url, "clone") == "problem"
    datacenter.tokens[DC_READER].permissions = ["REPO_READ"]
    cloned = git("clone", url + ".git", str(tmp_path / "w"))
    assert cloned.returncode == 0, cloned.stderr
