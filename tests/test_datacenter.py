"""Issue 7: Bitbucket Data Center / Server HTTP access tokens, with real git against the rig's
Data Center personality (tests/rig/datacenter.py).

Personal tokens go to git with Basic `username:token` (`login --username`); without a
username a token is a Bearer token (project and repository tokens must be, personal ones may
be) and reaches git through `capability[]=authtype` (git 2.46+). A token the server rejects is
never sent again. The explanations come before git's bare 403, as on Cloud.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rig.askpass import Askpass
from rig.datacenter import DataCenterServer
from rig.gitrun import HELPER_SCRIPT, credential

from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.checks import datacenter as dc
from git_credential_bbtoken.checks.datacenter import DcTarget
from git_credential_bbtoken.explain import datacenter as dc_text

PERSONAL = "NDY2MjQ4NTU5MjU5OkDc-personal-read-0123456789ab"
WRITER = "NzE0MjQ4NTU5MjU5OkDc-personal-write-0123456789a"
PROJECT = "MTIzNDU2Nzg5MDEyOkDc-project-token-0123456789ab"


@pytest.fixture
def datacenter(datacenter: DataCenterServer) -> DataCenterServer:
    """conftest's Data Center-like server (alice, PROJ/widgets), with `setup` done, as a user
    would."""
    result = bbtoken("setup", datacenter.url)
    assert result.returncode == 0, result.stderr
    return datacenter


def run(*args: str, cwd: Path | None = None, input: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, input=input, capture_output=True, text=True,
                          timeout=120, env=env)


def bbtoken(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return run("git", "credential-bbtoken", *args, input=input)


def login(server: DataCenterServer, token: str, *extra: str, path: str = "scm/PROJ/widgets"
          ) -> subprocess.CompletedProcess[str]:
    return bbtoken("login", "--kind", "datacenter", f"{server.url}/{path}", "--token-stdin",
                   *extra, input=token + "\n")


def listed() -> list[dict[str, Any]]:
    result = bbtoken("list", "--json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)["credentials"]
    return rows


def with_git(bin_dir: str) -> dict[str, str]:
    """The test's environment with another git first on PATH (the helper stays found)."""
    return dict(os.environ, PATH=os.pathsep.join([bin_dir, os.environ["PATH"]]))


def git_saying_it_is_older(folder: Path) -> dict[str, str]:
    """The test's environment with, first on PATH, a `git` that says it is 2.39 and passes
    everything else to the real one, whichever git is installed."""
    real = shutil.which("git")
    assert real
    folder.mkdir()
    script = folder / "git"
    script.write_text('#!/bin/sh\nif [ "$1" = --version ]; then echo "git version 2.39.5"; '
                      f'exit 0; fi\nexec "{real}" "$@"\n')
    script.chmod(0o755)
    return with_git(str(folder))


def asked_as_an_older_git(folder: Path, env: dict[str, str]) -> dict[str, str]:
    """`env` with, first on PATH, a `git-credential-bbtoken` that drops
    `capability[]=authtype` (git 2.46+'s way of saying it can send a Bearer token) from what
    git asks, then runs the real helper: any git then asks as one before 2.46 does. git finds
    `credential-bbtoken` on PATH, after its exec path, which does not hold it."""
    folder.mkdir()
    script = folder / "git-credential-bbtoken"
    script.write_text("#!/bin/sh\ngrep -v '^capability\\[\\]=authtype$' | "
                      f'"{HELPER_SCRIPT}" "$@"\n')
    script.chmod(0o755)
    return dict(env, PATH=os.pathsep.join([str(folder), env["PATH"]]))


def commit_something(work: Path, env: dict[str, str] | None = None) -> None:
    (work / "new.txt").write_text("hello\n")
    assert run("git", "-C", str(work), "add", "new.txt", env=env).returncode == 0
    assert run("git", "-C", str(work), "commit", "-qm", "new", env=env).returncode == 0


def clone_url(server: DataCenterServer) -> str:
    return f"{server.url}/scm/PROJ/widgets.git"


# -- personal tokens (Basic username:token) ---------------------------------------------------


def test_login_kind_datacenter_writes_the_kind_for_the_host(datacenter: DataCenterServer
                                                            ) -> None:
    datacenter.add_personal_token(WRITER, "alice", ["REPO_WRITE"])
    result = login(datacenter, WRITER, "--username", "alice")
    assert result.returncode == 0, result.stderr
    kind = run("git", "config", "--global", f"bbtoken.{datacenter.url}.kind")
    assert kind.stdout.strip() == "datacenter"
    assert "clone" in result.stdout and "push" in result.stdout
    [row] = listed()
    assert row["url"] == f"{datacenter.url}/scm/PROJ/widgets" and row["username"] == "alice"
    assert row["can_clone"] is True and row["can_push"] is True
    assert WRITER not in result.stdout + result.stderr


def test_clone_with_repo_read_works_and_push_is_explained_before_the_403(
        datacenter: DataCenterServer, tmp_path: Path) -> None:
    datacenter.add_personal_token(PERSONAL, "alice", ["REPO_READ"])
    result = login(datacenter, PERSONAL, "--username", "alice")
    assert result.returncode == 0, result.stderr
    assert sc.REPO_WRITE in result.stderr  # login already says push will not work
    datacenter.clear_log()
    work = tmp_path / "w"
    clone = run("git", "clone", clone_url(datacenter), str(work))
    assert clone.returncode == 0, clone.stderr
    assert {(r.scheme, r.username) for r in datacenter.requests} <= {(None, None),
                                                                      ("basic", "alice")}
    commit_something(work)
    datacenter.clear_log()
    push = run("git", "-C", str(work), "push", "origin", "HEAD")
    assert push.returncode != 0
    assert "needs REPO_WRITE" in push.stderr
    assert "told us to quit" in push.stderr
    assert "returned error: 403" not in push.stderr  # stopped before the doomed request
    # A token's permissions can be edited (facts §5), so what the login saw is asked again
    # with get's one probe; git itself never sent the token for the doomed push.
    assert [(r.query, r.status) for r in datacenter.requests if r.scheme is not None] == [
        ("service=git-receive-pack", 403)]


def test_personal_write_token_clones_and_pushes(datacenter: DataCenterServer,
                                                tmp_path: Path) -> None:
    datacenter.add_personal_token(WRITER, "alice", ["REPO_WRITE"])
    assert login(datacenter, WRITER, "--username", "alice").returncode == 0
    work = tmp_path / "w"
    assert run("git", "clone", clone_url(datacenter), str(work)).returncode == 0
    commit_something(work)
    push = run("git", "-C", str(work), "push", "origin", "HEAD")
    assert push.returncode == 0, push.stderr


def test_token_permission_is_capped_by_its_owner(datacenter: DataCenterServer) -> None:
    datacenter.add_user("bob", {"PROJ": "PROJECT_READ"})
    datacenter.add_personal_token(WRITER, "bob", ["REPO_ADMIN"])
    result = login(datacenter, WRITER, "--username", "bob")
    assert result.returncode == 0, result.stderr
    assert listed()[0]["can_push"] is False
    assert "ask a project admin" in result.stderr


def test_expired_token_is_refused_with_the_reason(datacenter: DataCenterServer) -> None:
    datacenter.add_personal_token(PERSONAL, "alice", ["REPO_WRITE"], expired=True)
    result = login(datacenter, PERSONAL, "--username", "alice")
    assert result.returncode == 1
    assert "rejected the token" in result.stderr and "expired" in result.stderr
    assert "plugins/servlet/access-tokens/manage" in result.stderr
    assert listed() == []


def sent_with_a_credential(server: DataCenterServer) -> list[tuple[str, str | None, int]]:
    """(surface, scheme, status) of every request that carried a credential."""
    return [(r.surface, r.scheme, r.status) for r in server.requests if r.scheme is not None]


def test_basic_auth_disabled_is_named(datacenter: DataCenterServer) -> None:
    datacenter.add_personal_token(WRITER, "alice", ["REPO_WRITE"])
    datacenter.basic_auth_disabled = True
    result = login(datacenter, WRITER, "--username", "alice")
    assert result.returncode == 1
    assert "Basic authentication is disabled" in result.stderr
    assert f"run: git credential-bbtoken login {datacenter.url}/scm/PROJ/widgets --kind " \
           "datacenter\n" in result.stderr  # without a username: a Bearer login
    assert sent_with_a_credential(datacenter) == [("git", "basic", 401)]  # the server's say
    # ...and the same token then works without a username, as a Bearer token.
    assert login(datacenter, WRITER).returncode == 0


@pytest.mark.parametrize("username", ["alice", None])
@pytest.mark.parametrize("path", ["scm/PROJ/widgets", ""])
def test_login_never_sends_a_rejected_token_again(datacenter: DataCenterServer,
                                                  username: str | None, path: str) -> None:
    """Repeated failures put the account behind a CAPTCHA (facts §5): after the server's
    first 401, nothing more goes with that token (not to REST, not as Bearer after Basic),
    and the server's X-Authentication-Denied-Reason is passed on."""
    datacenter.add_personal_token(PERSONAL, "alice", ["REPO_READ"])
    datacenter.denied_reason = "CAPTCHA required; log in once in the web UI"
    who = ("--username", username) if username else ()
    result = login(datacenter, "NDk-revoked-or-mistyped-token", *who, path=path)
    assert result.returncode == 1
    [(surface, scheme, status)] = sent_with_a_credential(datacenter)
    assert status == 401 and scheme == ("basic" if username else "bearer")
    assert surface == ("git" if path else "rest")
    assert "rejected the token" in result.stderr
    assert "X-Authentication-Denied-Reason): CAPTCHA required" in result.stderr
    assert listed() == []


def test_project_token_with_a_username_is_explained(datacenter: DataCenterServer) -> None:
    """Refused with a username: the token is not sent again as Bearer to find out why; the
    explanation names the project-token cause and the login without a username."""
    datacenter.add_project_token(PROJECT, "PROJ", ["REPO_WRITE"])
    result = login(datacenter, PROJECT, "--username", "alice")
    assert result.returncode == 1
    assert "project or repository token: those work only as Bearer" in result.stderr
    assert f"login {datacenter.url}/scm/PROJ/widgets --kind datacenter\n" in result.stderr
    assert sent_with_a_credential(datacenter) == [("git", "basic", 401)]
    assert listed() == []


def test_login_options_that_do_not_go_together(datacenter: DataCenterServer) -> None:
    both = login(datacenter, PERSONAL, "--username", "alice", "--bearer")
    assert both.returncode == 2
    cloud = bbtoken("login", "https://bitbucket.org/ws/repo", "--bearer", "--token-stdin",
                    input="x\n")
    assert cloud.returncode == 2 and "--kind datacenter" in cloud.stderr


# -- without a username: Bearer (project and repository tokens, personal ones too) ------------


@pytest.mark.parametrize("kind", ["project", "personal"])
def test_login_in_the_contract_form_is_a_bearer_login(datacenter: DataCenterServer,
                                                      kind: str, tmp_path: Path) -> None:
    """Contract §2's `login URL --token-stdin`, the kind from git config: no username, so the
    token is checked and stored as a Bearer token, which project and repository tokens need
    and personal tokens accept. Checked in that one form only. Run with a git that says it is
    2.39 (the helper run directly: through `git credential-bbtoken`, git would put its exec
    path, which holds the real git, first on the helper's PATH)."""
    if kind == "project":
        datacenter.add_project_token(PROJECT, "PROJ", ["REPO_READ"])
    else:
        datacenter.add_personal_token(PROJECT, "alice", ["REPO_READ"])
    mark_datacenter(datacenter)
    result = run(str(HELPER_SCRIPT), "login", f"{datacenter.url}/scm/PROJ/widgets",
                 "--token-stdin", input=PROJECT + "\n",
                 env=git_saying_it_is_older(tmp_path / "git-2.39"))
    assert result.returncode == 0, result.stderr
    assert {r.scheme for r in datacenter.requests} == {"bearer"}
    [row] = listed()
    assert row["username"] == "" and row["authtype"] == "Bearer" and row["can_clone"] is True
    # git 2.39 cannot send it: said at login, with the way out.
    assert "cannot send a Bearer token" in result.stderr
    assert "--username NAME" in result.stderr


def test_doctor_says_a_bearer_token_needs_a_newer_git(datacenter: DataCenterServer,
                                                      newer_git: str, tmp_path: Path) -> None:
    """The server allows the token, but a git before 2.46 cannot send a Bearer token: every
    clone would stop, so doctor must not say "No problems found"."""
    datacenter.add_project_token(PROJECT, "PROJ", ["REPO_WRITE"])
    mark_datacenter(datacenter)
    assert login(datacenter, PROJECT).returncode == 0
    url = f"{datacenter.url}/scm/PROJ/widgets"
    older = git_saying_it_is_older(tmp_path / "git-2.39")
    doctor = run(str(HELPER_SCRIPT), "doctor", url, "--json", env=older)
    assert doctor.returncode == 1, doctor.stdout
    problems = [c for c in json.loads(doctor.stdout)["checks"] if c["status"] == "problem"]
    assert [c["name"] for c in problems] == ["git"]
    assert "git 2.39 cannot send one: it needs git 2.46 or newer" in problems[0]["message"]
    newer = run(str(HELPER_SCRIPT), "doctor", url, "--json", env=with_git(newer_git))
    assert newer.returncode == 0, newer.stdout  # the same token, a git that can send it


def test_project_token_works_through_authtype_bearer(datacenter: DataCenterServer,
                                                     newer_git: str, tmp_path: Path) -> None:
    datacenter.add_project_token(PROJECT, "PROJ", ["REPO_WRITE"])
    result = login(datacenter, PROJECT, "--bearer")  # the explicit spelling still works
    assert result.returncode == 0, result.stderr
    assert listed()[0]["username"] == ""
    env = with_git(newer_git)
    datacenter.clear_log()
    work = tmp_path / "w"
    clone = run("git", "clone", clone_url(datacenter), str(work), env=env)
    assert clone.returncode == 0, clone.stderr
    schemes = {r.scheme for r in datacenter.requests}
    assert schemes == {None, "bearer"}  # the first challenge, then Bearer only
    commit_something(work, env)
    push = run("git", "-C", str(work), "push", "origin", "HEAD", env=env)
    assert push.returncode == 0, push.stderr


def test_get_answers_bearer_only_when_git_announces_authtype(
        datacenter: DataCenterServer, newer_git: str) -> None:
    datacenter.add_project_token(PROJECT, "PROJ", ["REPO_READ"])
    assert login(datacenter, PROJECT).returncode == 0
    record = {"protocol": "https", "host": f"127.0.0.1:{datacenter.port}",
              "path": "scm/PROJ/widgets.git"}
    answer, _, status = credential("fill", [*record.items(), ("capability[]", "authtype")],
                                   git_bin_dir=newer_git)
    assert status == 0
    assert ("authtype", "Bearer") in answer and ("credential", PROJECT) in answer
    assert not [k for k, _ in answer if k == "password"]


def fill_as_an_older_git(server: DataCenterServer, request: pytest.FixtureRequest, git: str,
                         env: dict[str, str] | None = None) -> tuple[Any, str, int]:
    """What a git older than 2.46 asks the helper: the record without
    `capability[]=authtype`. `git credential fill` announces only the capabilities its input
    does, so any git (the system one, or the newer one) asks exactly that here."""
    bin_dir = request.getfixturevalue("newer_git") if git == "newer" else None
    record = {"protocol": "https", "host": f"127.0.0.1:{server.port}",
              "path": "scm/PROJ/widgets.git"}
    return credential("fill", record, env=env, git_bin_dir=bin_dir)


@pytest.mark.parametrize("git", ["system", "newer"])
def test_older_git_is_told_instead_of_sending_a_password(datacenter: DataCenterServer,
                                                         request: pytest.FixtureRequest,
                                                         git: str) -> None:
    datacenter.add_project_token(PROJECT, "PROJ", ["REPO_READ"])
    assert login(datacenter, PROJECT, "--bearer").returncode == 0
    datacenter.clear_log()
    answer, stderr, status = fill_as_an_older_git(datacenter, request, git)
    assert status != 0 and answer == []  # nothing git could send, as Basic or otherwise
    assert "needs git 2.46 or newer" in stderr
    assert "extraHeader" in stderr
    assert "told us to quit" in stderr
    assert datacenter.requests == []
    assert PROJECT not in stderr


# -- BBTOKEN_TOKEN (CI) on Data Center ---------------------------------------------------------


def mark_datacenter(server: DataCenterServer) -> None:
    """What docs/CI.md tells a Data Center job to run (nothing is stored, so no `login`)."""
    assert run("git", "config", "--global", f"bbtoken.{server.url}.kind",
               "datacenter").returncode == 0


def test_environment_project_token_is_sent_as_bearer(datacenter: DataCenterServer,
                                                     newer_git: str, tmp_path: Path) -> None:
    datacenter.add_project_token(PROJECT, "PROJ", ["REPO_READ"])
    mark_datacenter(datacenter)
    env = dict(with_git(newer_git), BBTOKEN_TOKEN=PROJECT)
    datacenter.clear_log()
    clone = run("git", "clone", clone_url(datacenter), str(tmp_path / "w"), env=env)
    assert clone.returncode == 0, clone.stderr
    assert {r.scheme for r in datacenter.requests} == {None, "bearer"}
    assert listed() == []  # CI mode stores nothing


def test_environment_personal_token_goes_with_bbtoken_username(datacenter: DataCenterServer,
                                                               tmp_path: Path) -> None:
    datacenter.add_personal_token(WRITER, "alice", ["REPO_WRITE"])
    mark_datacenter(datacenter)
    env = dict(os.environ, BBTOKEN_TOKEN=WRITER, BBTOKEN_USERNAME="alice")
    datacenter.clear_log()
    clone = run("git", "clone", clone_url(datacenter), str(tmp_path / "w"), env=env)
    assert clone.returncode == 0, clone.stderr
    assert "basic" in {r.scheme for r in datacenter.requests}
    assert listed() == []


def test_doctor_checks_an_environment_project_token_as_bearer(
        datacenter: DataCenterServer) -> None:
    datacenter.add_project_token(PROJECT, "PROJ", ["REPO_READ"])
    mark_datacenter(datacenter)
    result = run("git", "credential-bbtoken", "doctor", f"{datacenter.url}/scm/PROJ/widgets",
                 "--json", env=dict(os.environ, BBTOKEN_TOKEN=PROJECT))
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["clone"]["status"] == "ok", checks
    assert checks["push"]["status"] == "problem"
    assert "basic" not in {r.scheme for r in datacenter.requests}
    assert PROJECT not in result.stdout + result.stderr


@pytest.mark.parametrize("git", ["system", "newer"])
def test_environment_bearer_token_with_an_older_git_is_explained(
        datacenter: DataCenterServer, request: pytest.FixtureRequest, git: str) -> None:
    datacenter.add_project_token(PROJECT, "PROJ", ["REPO_READ"])
    mark_datacenter(datacenter)
    datacenter.clear_log()
    answer, stderr, status = fill_as_an_older_git(datacenter, request, git,
                                                  env={"BBTOKEN_TOKEN": PROJECT})
    assert status != 0 and answer == []  # nothing git could send, as Basic or otherwise
    assert "BBTOKEN_TOKEN, without BBTOKEN_USERNAME" in stderr
    assert "needs git 2.46 or newer" in stderr and "BBTOKEN_USERNAME to its" in stderr
    assert "told us to quit" in stderr
    assert datacenter.requests == []
    assert PROJECT not in stderr


def test_username_in_the_url_with_a_bearer_token_is_explained(
        datacenter: DataCenterServer, newer_git: str, tmp_path: Path) -> None:
    datacenter.add_project_token(PROJECT, "PROJ", ["REPO_READ"])
    assert login(datacenter, PROJECT, "--bearer").returncode == 0
    url = clone_url(datacenter).replace("://", "://alice@")
    clone = run("git", "clone", url, str(tmp_path / "w"), env=with_git(newer_git))
    assert clone.returncode != 0
    assert "only as a Bearer token" in clone.stderr and "alice@" in clone.stderr


# -- nothing stored: the first clone asks (askpass, as an IDE would) -----------------------------


def clone_asking(server: DataCenterServer, askpass: Askpass, work: Path,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    mark_datacenter(server)
    env = dict(env or os.environ, GIT_ASKPASS=askpass.path)
    return run("git", "clone", clone_url(server), str(work), env=env)


def test_first_clone_with_an_empty_username_sends_a_bearer_token(
        datacenter: DataCenterServer, askpass: Askpass, newer_git: str, tmp_path: Path) -> None:
    """Nothing stored, no username: the person is asked once for each, and the token goes as
    a Bearer token (git 2.46+ announces authtype), never as Basic with an empty username."""
    datacenter.add_project_token(PROJECT, "PROJ", ["REPO_READ"])
    askpass.answer(username="", password=PROJECT)
    clone = clone_asking(datacenter, askpass, tmp_path / "w", with_git(newer_git))
    assert clone.returncode == 0, clone.stderr
    assert [p.split(" ")[0] for p in askpass.prompts()] == ["Username", "Password"]
    assert askpass.prompts()[1] == f"Password for '{clone_url(datacenter)}': "  # git's
    assert {r.scheme for r in datacenter.requests} == {None, "bearer"}
    [row] = listed()  # kept, as a Bearer token
    assert row["username"] == "" and row["authtype"] == "Bearer"
    assert PROJECT not in clone.stderr


@pytest.mark.parametrize("git", ["system", "newer"])
def test_first_clone_with_an_empty_username_and_an_older_git_is_told(
        datacenter: DataCenterServer, askpass: Askpass, request: pytest.FixtureRequest,
        git: str, tmp_path: Path) -> None:
    """git before 2.46 cannot send a Bearer token: said after the empty username, before a
    token is typed for nothing, and git told to stop rather than ask again. Whichever git
    runs, the helper is asked as an older git asks (no `capability[]=authtype`)."""
    datacenter.add_project_token(PROJECT, "PROJ", ["REPO_READ"])
    askpass.answer(username="", password=PROJECT)
    env = with_git(request.getfixturevalue("newer_git")) if git == "newer" else dict(os.environ)
    clone = clone_asking(datacenter, askpass, tmp_path / "w",
                         asked_as_an_older_git(tmp_path / "older", env))
    assert clone.returncode != 0
    assert [p.split(" ")[0] for p in askpass.prompts()] == ["Username"]
    assert "cannot send one (git 2.46 or newer can)" in clone.stderr
    assert "told us to quit" in clone.stderr
    assert sent_with_a_credential(datacenter) == []
    assert listed() == []


# -- pure pieces ------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "base", "project", "repo"), [
    ("https://git.example.com/scm/PROJ/repo.git", "https://git.example.com", "PROJ", "repo"),
    ("https://git.example.com/bitbucket/scm/PROJ/repo", "https://git.example.com/bitbucket",
     "PROJ", "repo"),
    ("https://git.example.com/projects/PROJ/repos/repo/browse", "https://git.example.com",
     "PROJ", "repo"),
    ("https://git.example.com:7990", "https://git.example.com:7990", None, None),
])
def test_dc_target_from_urls(url: str, base: str, project: str | None,
                             repo: str | None) -> None:
    target = DcTarget.for_url(url)
    assert (target.base_url, target.project, target.repo) == (base, project, repo)
    assert target.api_url == base + "/rest/api/latest"


def test_doctor_checks_a_datacenter_token(datacenter: DataCenterServer) -> None:
    datacenter.add_personal_token(PERSONAL, "alice", ["REPO_READ"])
    assert login(datacenter, PERSONAL, "--username", "alice").returncode == 0
    result = bbtoken("doctor", f"{datacenter.url}/scm/PROJ/widgets", "--json")
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["clone"]["status"] == "ok"
    assert checks["push"]["status"] == "problem" and "REPO_WRITE" in checks["push"]["message"]
    assert PERSONAL not in result.stdout + result.stderr
    listing = bbtoken("list").stdout
    assert "alice" in listing


@pytest.mark.parametrize(("project_token", "expected", "authtype"), [
    (True, dc_text.DC_TOKEN_REJECTED, None),
    (False, dc_text.DC_BASIC_AUTH_DISABLED, dc.BEARER),
])
def test_validation_refused_as_basic_asks_nothing_more(
        datacenter: DataCenterServer, project_token: bool, expected: str,
        authtype: str | None) -> None:
    """Refused as Basic: one request, and what the server said decides (Basic disabled is
    named, and then only Bearer can work); the token is never retried as Bearer."""
    if project_token:
        datacenter.add_project_token(WRITER, "PROJ", ["REPO_WRITE"])
    else:
        datacenter.add_personal_token(WRITER, "alice", ["REPO_WRITE"])
        datacenter.basic_auth_disabled = True
    target = DcTarget.for_url(f"{datacenter.url}/scm/PROJ/widgets", ca_file=datacenter.ca_file)
    v = dc.validate(target, "alice", WRITER)
    assert v.authtype == authtype and v.problem_ids == [expected]
    assert (v.can_clone, v.can_push) == (False, False)
    assert sent_with_a_credential(datacenter) == [("git", "basic", 401)]
    bearer = dc.validate(target, None, WRITER)  # asked as Bearer from the start
    assert bearer.authtype == dc.BEARER and (bearer.can_clone, bearer.can_push) == (True, True)


def test_datacenter_checks_share_the_skeleton_without_private_names() -> None:
    """The Data Center checks are data and hooks on the one shared skeleton: they borrow no
    private (`_x`) name from another module."""
    import ast

    tree = ast.parse(Path(dc.__file__).read_text())
    borrowed = [alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names if alias.name.startswith("_")]
    assert borrowed == []
