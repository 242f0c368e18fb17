"""Tests of the Cloud checks (checks/cloud.py, transport.py, validation.py) against real
sockets: the shared Bitbucket-like HTTPS rig (tests/rig, the `bitbucket` fixture) and, for
failures no server can fake, plain listeners that refuse or never answer. No mocks: the
client's requests really go over the wire.
"""

from __future__ import annotations

import json
import pathlib
import socket
import subprocess
import threading
from typing import Any, Callable, Iterator, TypeVar

import pytest

from git_credential_bbtoken import explain as ex
from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.checks import cloud as bb
from git_credential_bbtoken.checks import transport
from git_credential_bbtoken.checks.answers import (
    RECEIVE_PACK,
    UPLOAD_PACK,
    Outcome,
    ProbeResult,
    blames_the_token,
    refused_by,
)
from git_credential_bbtoken.checks.transport import Secret
from git_credential_bbtoken.checks.validation import GIT_PROBE, REST, Validation
from git_credential_bbtoken.common import TOKEN_PAGE
from git_credential_bbtoken.explain import access as access_text
from git_credential_bbtoken.explain import cloud as cloud_text

T = TypeVar("T")

R = "read:repository:bitbucket"
W = "write:repository:bitbucket"
A = "admin:repository:bitbucket"
U = "read:user:bitbucket"
WS = "read:workspace:bitbucket"
TOKEN = "ATATT3xFfGF0" + "k" * 60  # noqa: S105 - a test token
# Every scope of the token-creation picker (docs/bitbucket-facts.md §2).
EVERY_SCOPE = [f"{verb}:{family}:bitbucket" for family, verbs in (
    ("user", "read write"), ("workspace", "read admin"),
    ("repository", "read write admin delete"), ("pullrequest", "read write"),
    ("project", "read admin"), ("pipeline", "read write admin"), ("runner", "read write"),
    ("issue", "read write delete"), ("webhook", "read write delete"),
    ("snippet", "read write delete"), ("ssh-key", "read write delete"),
    ("gpg-key", "read write delete"), ("permission", "read write delete"),
    ("package", "read write"), ("wiki", "read write delete")) for verb in verbs.split()]
REMOVED = ("/2.0/workspaces", "/2.0/repositories", "/2.0/user/permissions/workspaces")
EMAIL = "alice@example.com"


def assert_no_secret(validation: Validation, secret: str = TOKEN) -> None:
    """The token is in nothing the caller might store or print."""
    dumped = json.dumps(validation.to_dict())
    assert secret not in dumped
    assert secret not in repr(validation)
    for problem in validation.problems:
        assert secret not in problem.text()


# -- without a server -------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "base", "repo", "shown"), [
    ("https://bitbucket.org", "https://bitbucket.org", None, "https://bitbucket.org"),
    ("bitbucket.org", "https://bitbucket.org", None, "https://bitbucket.org"),
    ("https://bitbucket.org/acme", "https://bitbucket.org", None, "https://bitbucket.org/acme"),
    ("https://bitbucket.org/acme/widgets.git", "https://bitbucket.org", "acme/widgets.git",
     "https://bitbucket.org/acme/widgets.git"),
    ("https://127.0.0.1:8443/acme/widgets", "https://127.0.0.1:8443", "acme/widgets",
     "https://127.0.0.1:8443/acme/widgets"),
])
def test_target_for_url(url: str, base: str, repo: str | None, shown: str) -> None:
    target = bb.Target.for_url(url)
    assert (target.base_url, target.repo_path, target.url) == (base, repo, shown)
    assert target.api_url == "https://api.bitbucket.org/2.0"


@pytest.mark.parametrize(("repo_path", "pair"), [
    ("ws/repo", ("ws", "repo")),
    ("ws/repo.git", ("ws", "repo")),
    ("/ws/repo.git/info/lfs", ("ws", "repo")),
    ("ws", None),
    (None, None),
])
def test_workspace_and_repo(repo_path: str | None, pair: tuple[str, str] | None) -> None:
    assert bb.Target("https://bitbucket.org", repo_path).workspace_and_repo == pair


def test_secret_never_prints() -> None:
    secret = Secret(TOKEN)
    assert TOKEN not in repr(secret) and TOKEN not in str(secret) and TOKEN not in f"{secret}"
    assert secret.reveal() == TOKEN


def test_validation_round_trip_is_json_safe() -> None:
    v = Validation(scopes=frozenset({W, R}), can_clone=True, can_push=False, identity=None,
                      username_ok=True, checked_at="2026-03-01T10:00:00+00:00",
                      sources=[GIT_PROBE], problems=[cloud_text.write_missing("u", [R])],
                      not_checked=["x"], account="alice", reasons={"clone": "git probe"})
    data = json.loads(json.dumps(v.to_dict()))
    assert data["scopes"] == [R, W]
    assert Validation.from_dict(data) == v
    partial = Validation(proven_scopes=frozenset({U, R}), sources=[REST])
    data = json.loads(json.dumps(partial.to_dict()))
    assert (data["scopes"], data["proven_scopes"]) == (None, [R, U])
    assert Validation.from_dict(data) == partial
    assert partial.known_scopes() == ([R, U], True)
    assert v.known_scopes() == ([R, W], False) and Validation().known_scopes() == (None, False)


@pytest.mark.parametrize("data", [None, {}, {"scopes": "nope", "can_clone": "yes",
                                              "problems": [1, {"id": "x"}], "reasons": [],
                                              "proven_scopes": "read:user:bitbucket"}])
def test_validation_from_dict_is_forgiving(data: Any) -> None:
    v = Validation.from_dict(data)
    assert v.scopes is None and v.can_clone is None and v.proven_scopes == frozenset()
    assert all(isinstance(p, ex.Explanation) for p in v.problems)


def test_validation_from_an_older_file() -> None:
    # Written before proven scopes were kept: no "proven_scopes" key at all.
    older = {"scopes": None, "can_clone": True, "can_push": None, "identity": True,
             "username_ok": True, "checked_at": "2026-01-05T09:00:00+00:00",
             "sources": ["git-probe", "rest"], "problems": [], "not_checked": [],
             "account": "alice", "reasons": {"clone": "git probe: allowed (200)"},
             "kind": "cloud", "authtype": None}
    v = Validation.from_dict(older)
    assert (v.scopes, v.proven_scopes, v.can_clone, v.identity) == (None, frozenset(), True,
                                                                     True)
    assert v.known_scopes() == (None, False)
    assert json.loads(json.dumps(v.to_dict()))["proven_scopes"] == []


def test_verdict_table() -> None:
    v = Validation(scopes=frozenset({R, U}), can_clone=True,
                      reasons={"clone": "git probe: allowed (200)"})
    rows = {row.what: row for row in v.verdict_table()}
    assert rows["clone"] == ("clone", "yes", "git probe: allowed (200)")
    assert rows["push"].answer == "unknown"  # can_push was not decided
    assert rows["workspaces"] == ("workspaces", "no", f"lacks {WS}; Sourcetree and IDEs need "
                                  f"{U}, {WS}, {R}")
    assert rows["pull requests (read)"].answer == "no"
    unknown = {row.what: row for row in Validation().verdict_table()}
    assert {row.answer for row in unknown.values()} == {"unknown"}


def test_verdict_table_with_proven_scopes_only() -> None:
    # No answer listed the token's scopes; what 200s proved is "yes", the rest is unknown.
    v = Validation(proven_scopes=frozenset({R, U, WS}), identity=True, sources=[REST],
                   reasons={"identity": "REST /user: allowed (200)"})
    rows = {row.what: row for row in v.verdict_table()}
    assert rows["workspaces"] == ("workspaces", "yes", f"has {U}, {WS}")
    assert rows["identity (Sourcetree, IDEs)"].answer == "yes"
    assert rows["pull requests (read)"] == ("pull requests (read)", "unknown",
                                            "unknown: Bitbucket did not list the token's scopes")
    assert (v.can(sc.Operation.CLONE), v.can(sc.Operation.PUSH)) == (True, None)
    denied = Validation(identity=False, reasons={"identity": f"REST /user: 403, lacks {U}"})
    row = {row.what: row for row in denied.verdict_table()}["identity (Sourcetree, IDEs)"]
    assert row.answer == "no" and row.why.endswith(f"need {U}, {WS}, {R}")


def test_nothing_to_check_makes_no_request() -> None:
    # Port 9 on loopback: if a request were made it would fail, and show up in not_checked.
    v = bb.validate(bb.Target("https://127.0.0.1:9", None, "https://127.0.0.1:9/2.0"),
                    "alice", TOKEN)
    assert v.problem_ids == [cloud_text.NOTHING_CHECKED]
    assert v.not_checked == ["no repository in the URL and no email given"]
    assert v.sources == []


def test_refuses_plain_http_to_a_real_host() -> None:
    target = bb.Target("http://bitbucket.example.invalid", "ws/repo",
                       "http://api.bitbucket.example.invalid/2.0")
    v = bb.validate(target, "alice", TOKEN, EMAIL)
    assert v.can_clone is None and v.scopes is None
    assert any("refusing to send a token over http" in r for r in v.not_checked)
    assert_no_secret(v)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: connecting is refused


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listener that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_unreachable_is_not_checked(closed_port: int) -> None:
    base = f"https://127.0.0.1:{closed_port}"
    v = bb.validate(bb.Target(base, "ws/repo", f"{base}/2.0"), "alice", TOKEN, EMAIL)
    assert (v.can_clone, v.can_push, v.scopes, v.identity) == (None, None, None, None)
    assert v.problem_ids == [ex.NOT_CHECKED]
    assert any("could not connect" in r for r in v.not_checked)
    assert "doctor" in v.problems[0].text()
    assert_no_secret(v)


def returns(call: Callable[[], T]) -> T:
    """The call's result, failing the test if it hangs (a server that never answers must not
    hold the helper forever). A generous guard against a hang, not a timing measurement."""
    result: list[T] = []
    worker = threading.Thread(target=lambda: result.append(call()), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert result, "validate() did not return: the deadline did not bound it"
    return result[0]


def test_silent_server_is_bounded_by_the_deadline(silent_port: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Per-request timeouts longer than the hang guard: only the overall deadline can end it.
    monkeypatch.setattr(transport, "CONNECT_TIMEOUT", 120.0)
    monkeypatch.setattr(transport, "READ_TIMEOUT", 120.0)
    base = f"https://127.0.0.1:{silent_port}"
    v = returns(lambda: bb.validate(bb.Target(base, "ws/repo", f"{base}/2.0"), "alice", TOKEN,
                                    EMAIL, deadline=0.6))
    assert v.can_clone is None and v.scopes is None
    assert v.problem_ids == [ex.NOT_CHECKED]
    assert_no_secret(v)


def test_probe_without_repository_is_not_checked() -> None:
    with transport.channel(TOKEN, None, 5.0) as line:
        result = bb.probe_git(bb.Target("https://127.0.0.1:9"), "alice", UPLOAD_PACK, line)
    assert result.outcome is Outcome.NOT_CHECKED


# -- against the shared rig -------------------------------------------------------------------


def rig_target(bitbucket: Any, repo: str | None = "acme/widgets",
               workspace: str | None = None) -> bb.Target:
    return bb.Target(bitbucket.url, repo, bitbucket.api_url, bitbucket.ca_file,
                     workspace=workspace or (repo.split("/")[0] if repo else None))


@pytest.fixture
def rig(bitbucket: Any) -> Any:
    bitbucket.add_user("alice", EMAIL, workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    return bitbucket


@pytest.mark.parametrize(("scopes", "clone", "push", "ids"), [
    ([R, W, U, WS], True, True, []),
    ([R, W, U], True, True, [cloud_text.WORKSPACE_MISSING]),
    ([R, U], True, False, [cloud_text.WRITE_MISSING, cloud_text.WORKSPACE_MISSING]),
    ([W, U], False, False, [cloud_text.READ_MISSING, cloud_text.WORKSPACE_MISSING]),
    ([A, U], False, False, [cloud_text.READ_MISSING, cloud_text.WORKSPACE_MISSING]),
    ([R, W], True, True, [cloud_text.IDENTITY_MISSING]),
])
@pytest.mark.parametrize("headers", [True, False])
def test_rig_scopes(rig: Any, scopes: list[str], clone: bool, push: bool, ids: list[str],
                    headers: bool) -> None:
    rig.add_token(TOKEN, "alice", scopes=scopes)
    rig.send_scope_headers = headers
    v = bb.validate(rig_target(rig), "x-bitbucket-api-token-auth", TOKEN, EMAIL)
    assert (v.can_clone, v.can_push) == (clone, push)
    assert v.identity is (U in scopes)
    assert v.problem_ids == ids
    assert v.sources == [GIT_PROBE, REST]
    # A header or a 403 body lists the scopes; otherwise they stay unknown (never guessed),
    # and those proven are kept apart.
    if headers or WS not in scopes:  # without a header, only a 403 lists them
        assert v.scopes == set(scopes)
    else:
        assert v.scopes is None and v.proven_scopes == set(scopes)
    assert v.proven_scopes <= set(scopes)
    # A few requests only; git is asked only about info/refs (nothing is pushed), with the
    # git username; REST only with the email.
    log = rig.requests
    assert 2 <= len(log) <= 4
    for entry in log:
        if entry.surface == "git":
            assert entry.method == "GET" and entry.path.endswith("/info/refs")
            assert entry.username == "x-bitbucket-api-token-auth"
        else:
            assert entry.surface == "rest" and entry.username == EMAIL
    named = {cloud_text.READ_MISSING: R, cloud_text.WRITE_MISSING: W,
             cloud_text.IDENTITY_MISSING: U, cloud_text.WORKSPACE_MISSING: WS}
    for problem in v.problems:
        assert named[problem.id] in problem.text()
        assert TOKEN_PAGE in problem.text()
        # The 403 named missing scopes and the token has no write scope: not a permission.
        assert "write access to this repository" not in problem.text()
    assert_no_secret(v)


def test_rig_git_only_and_username(rig: Any) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W])
    for username in ("alice", "x-bitbucket-api-token-auth"):
        v = bb.validate(rig_target(rig), username, TOKEN)
        assert (v.can_clone, v.can_push, v.username_ok) == (True, True, True)
        assert v.scopes is None and v.sources == [GIT_PROBE]
    v = bb.validate(rig_target(rig), EMAIL, TOKEN)
    assert v.can_clone is False and v.username_ok is False
    assert v.problem_ids == [cloud_text.EMAIL_AS_GIT_USERNAME]


@pytest.mark.parametrize("state", [{"expired": True}, {"revoked": True}])
def test_rig_rejected_token(rig: Any, state: dict[str, bool]) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W], **state)
    v = bb.validate(rig_target(rig), "alice", TOKEN, EMAIL)
    assert v.can_clone is False and v.can_push is False
    assert cloud_text.TOKEN_REJECTED in v.problem_ids
    assert_no_secret(v)


def test_rig_unscoped_token_is_rejected(rig: Any) -> None:
    rig.add_token(TOKEN, "alice", scopes=[])
    v = bb.validate(rig_target(rig), "alice", TOKEN)
    assert v.can_clone is False
    assert v.problem_ids == [cloud_text.TOKEN_REJECTED]
    assert "without Bitbucket scopes" in v.problems[0].text()


def test_rig_app_password(rig: Any) -> None:
    secret = "ABCDEFGHabcdefgh1234"  # noqa: S105 - a test app password
    rig.add_app_password(secret, "alice")
    v = bb.validate(rig_target(rig), "alice", secret)
    assert v.can_clone is False
    assert v.problem_ids == [cloud_text.APP_PASSWORD_RETIRED]
    assert "2026-07-28" in v.problems[0].text()
    assert_no_secret(v, secret)


def test_rig_rest_needs_email_not_username(rig: Any) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W, U])
    v = bb.validate(rig_target(rig, None), "alice", TOKEN, email="alice")
    assert v.problem_ids == [cloud_text.REST_NEEDS_EMAIL]
    assert v.scopes is None


@pytest.mark.parametrize("headers", [True, False])
def test_rig_host_level(rig: Any, headers: bool) -> None:
    # No workspace in the URL: REST names one, and one of its repositories to probe.
    rig.add_token(TOKEN, "alice", scopes=[R, U, WS])
    rig.send_scope_headers = headers
    v = bb.validate(rig_target(rig, None), "alice", TOKEN, EMAIL)
    assert v.sources == [GIT_PROBE, REST]
    assert v.identity is True
    assert (v.can_clone, v.can_push) == (True, False)
    assert v.reasons["clone"] == "git probe of acme/widgets: allowed (200)"
    assert v.reasons["push"] == f"git probe of acme/widgets: 403, lacks {W}"
    if headers:
        assert v.scopes == {R, U, WS}
    else:
        assert v.scopes is None and v.proven_scopes == {R, U, WS}
    rows = {row.what: row.answer for row in v.verdict_table()}
    assert rows["identity (Sourcetree, IDEs)"] == rows["workspaces"] == "yes"
    assert [(r.surface, r.path, r.query) for r in rig.requests] == [
        ("rest", "/2.0/user", ""), ("rest", "/2.0/user/workspaces", "pagelen=1"),
        ("rest", "/2.0/repositories/acme", "pagelen=1"),
        ("git", "/acme/widgets.git/info/refs", "service=git-upload-pack"),
        ("git", "/acme/widgets.git/info/refs", "service=git-receive-pack")]
    assert v.problem_ids == [cloud_text.WRITE_MISSING]


@pytest.mark.parametrize("status", [404, 410])
def test_rig_rest_gone_is_not_checked(rig: Any, status: int) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W, U])
    if status == 410:
        rig.user_endpoint_gone = True
    else:
        rig.rest_status_override = 404
    v = bb.validate(rig_target(rig), "alice", TOKEN, EMAIL)
    assert (v.can_clone, v.can_push) == (True, True)  # the git probes still answered
    assert ex.NOT_CHECKED in v.problem_ids and cloud_text.TOKEN_REJECTED not in v.problem_ids
    assert any(f"answered {status} to GET /user" in r for r in v.not_checked)
    assert v.identity is None or v.scopes is not None  # never "no" from a missing /user
    if status == 404:  # every endpoint: nothing learnt
        assert v.scopes is None and REST not in v.sources
    else:  # only /user is gone: the next endpoint's 403 still lists the scopes
        assert v.scopes == {R, W, U}
        assert [r.path for r in rig.requests if r.surface == "rest"] == [
            "/2.0/user", "/2.0/user/workspaces"]


@pytest.mark.parametrize(("status", "expected"), [(429, ex.RATE_LIMITED), (503, ex.NOT_CHECKED),
                                                  (500, ex.NOT_CHECKED)])
def test_rig_rest_trouble(rig: Any, status: int, expected: str) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W, U])
    rig.rest_status_override = status
    v = bb.validate(rig_target(rig, None), "alice", TOKEN, EMAIL)
    assert v.scopes is None and v.identity is None
    assert v.problem_ids == [expected]
    assert "doctor" in v.problems[0].text()


def test_rig_slow_rest_is_bounded(rig: Any) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W, U])
    rig.rest_delay = 5
    v = bb.validate(rig_target(rig), "alice", TOKEN, EMAIL, deadline=1.0)
    # REST not read (it answers after the deadline), the git probes read: the bound worked.
    assert (v.can_clone, v.can_push) == (True, True)
    assert v.scopes is None and v.problem_ids == [ex.NOT_CHECKED]


def test_rig_slow_git_is_bounded(rig: Any) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W, U])
    rig.git_delay = 5
    v = bb.validate(rig_target(rig), "alice", TOKEN, EMAIL, deadline=1.0)
    # The probes would have answered after 5 s; "not checked" shows the deadline cut them.
    assert v.can_clone is None and v.scopes is None
    assert v.problem_ids == [ex.NOT_CHECKED]
    assert any("time" in r for r in v.not_checked)


def without_git_ca() -> None:
    """The checks read git's http.sslCAInfo themselves: take the rig's CA out of it."""
    subprocess.run(["git", "config", "--global", "--unset", "http.sslCAInfo"], check=True)


def test_rig_tls_needs_the_ca_file(rig: Any) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W, U])
    without_git_ca()
    target = bb.Target(rig.url, "acme/widgets", rig.api_url, None)
    v = bb.validate(target, "alice", TOKEN, EMAIL)
    assert v.can_clone is None and v.problem_ids == [ex.NOT_CHECKED]
    assert "sslCAInfo" in v.problems[0].text()


def test_rig_ca_bundle_from_environment(rig: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W])
    without_git_ca()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", rig.ca_file)
    v = bb.validate(bb.Target(rig.url, "acme/widgets", rig.api_url, None), "alice", TOKEN)
    assert v.can_clone is True


def test_rig_unknown_repository(rig: Any) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W])
    v = bb.validate(rig_target(rig, "acme/nope"), "alice", TOKEN)
    assert v.can_clone is False
    assert v.problem_ids[0] in (cloud_text.TOKEN_REJECTED, cloud_text.NO_ACCESS)


def test_missing_ca_file_is_not_checked(closed_port: int, tmp_path: pathlib.Path) -> None:
    base = f"https://127.0.0.1:{closed_port}"
    missing = str(tmp_path / "no-such-ca.pem")
    v = bb.validate(bb.Target(base, "ws/repo", f"{base}/2.0", missing), "alice", TOKEN)
    assert v.can_clone is None and v.problem_ids == [ex.NOT_CHECKED]
    assert "sslCAInfo" in v.problems[0].text()


# -- learning every scope, with today's endpoints only ---------------------------------------


def rest_asked(rig: Any) -> list[str]:
    return [r.path + (f"?{r.query}" if r.query else "") for r in rig.requests
            if r.surface == "rest"]


def rows_of(v: Validation) -> dict[str, tuple[str, str]]:
    return {row.what: (row.answer, row.why) for row in v.verdict_table()}


@pytest.mark.parametrize("headers", [True, False])
def test_workspace_level_every_scope_gets_yes(rig: Any, headers: bool) -> None:
    rig.add_repo("acme/zeta")
    rig.add_token(TOKEN, "alice", scopes=EVERY_SCOPE)
    rig.send_scope_headers = headers
    v = bb.validate(rig_target(rig, None, "acme"), "x-bitbucket-api-token-auth", TOKEN, EMAIL)
    rows = rows_of(v)
    # The workspace's first repository was probed, and the reasons say which.
    assert rows["clone"] == ("yes", "git probe of acme/widgets: allowed (200)")
    assert rows["push"] == ("yes", "git probe of acme/widgets: allowed (200)")
    assert rows["identity (Sourcetree, IDEs)"] == ("yes", "REST /user: allowed (200)")
    assert rows["workspaces"] == ("yes", f"has {U}, {WS}")
    assert v.problem_ids == [] and v.not_checked == []
    assert [(r.surface, r.path) for r in rig.requests if r.surface == "git"] == [
        ("git", "/acme/widgets.git/info/refs")] * 2
    if headers:  # x-oauth-scopes lists them all: every row is yes
        assert v.scopes == set(EVERY_SCOPE)
        assert {answer for answer, _ in rows.values()} == {"yes"}
        assert rest_asked(rig) == ["/2.0/user", "/2.0/repositories/acme?pagelen=1"]
    else:  # no answer lists them: what was proven is kept, nothing is guessed
        assert v.scopes is None and v.proven_scopes == {R, W, U, WS}
        assert v.known_scopes() == ([R, W, U, WS], True)
        assert rows["pull requests (read)"][0] == rows["pull requests (write)"][0] == "unknown"
        assert rest_asked(rig) == ["/2.0/user", "/2.0/repositories/acme?pagelen=1",
                                   "/2.0/user/workspaces?pagelen=1"]


@pytest.mark.parametrize(("level", "scopes", "asked"), [
    # The URL names a repository: what the probes proved is not asked again.
    ("repo", [R, W], ["/2.0/user"]),  # 403: the full list at once
    ("repo", [R, W, U], ["/2.0/user", "/2.0/user/workspaces?pagelen=1"]),
    ("repo", [W, U], ["/2.0/user", "/2.0/repositories/acme/widgets"]),
    ("repo", [R, W, U, WS], ["/2.0/user", "/2.0/user/workspaces?pagelen=1"]),
    # A workspace: its repositories are listed (for the probe) unless read is known missing.
    ("workspace", [R, W], ["/2.0/user", "/2.0/repositories/acme?pagelen=1"]),
    ("workspace", [W, U], ["/2.0/user", "/2.0/repositories/acme?pagelen=1"]),
    ("workspace", [R, W, U], ["/2.0/user", "/2.0/repositories/acme?pagelen=1",
                              "/2.0/user/workspaces?pagelen=1"]),
    ("workspace", [W], ["/2.0/user"]),  # 403 lists no read: no listing, no probe
    # The host: /user/workspaces names a workspace.
    ("host", [R, W, U], ["/2.0/user", "/2.0/user/workspaces?pagelen=1"]),
    ("host", [R, U, WS], ["/2.0/user", "/2.0/user/workspaces?pagelen=1",
                          "/2.0/repositories/acme?pagelen=1"]),
])
def test_as_few_requests_as_it_takes(rig: Any, level: str, scopes: list[str],
                                     asked: list[str]) -> None:
    rig.add_token(TOKEN, "alice", scopes=scopes)
    target = {"repo": rig_target(rig), "workspace": rig_target(rig, None, "acme"),
              "host": rig_target(rig, None)}[level]
    v = bb.validate(target, "alice", TOKEN, EMAIL)
    assert rest_asked(rig) == asked
    assert not {p.split("?")[0] for p in rest_asked(rig)} & set(REMOVED)
    # Whatever was learnt agrees with the token; the verdicts never contradict the scopes.
    assert v.proven_scopes <= set(scopes)
    assert v.scopes is None or v.scopes == set(scopes)
    assert v.can_clone in (None, R in scopes)
    assert v.can_push in (None, R in scopes and W in scopes)


def test_workspace_level_without_read_is_refused_without_a_probe(rig: Any) -> None:
    rig.add_token(TOKEN, "alice", scopes=[W, U])
    v = bb.validate(rig_target(rig, None, "acme"), "alice", TOKEN, EMAIL)
    assert v.scopes == {W, U} and v.can_clone is False
    assert v.problem_ids == [cloud_text.READ_MISSING, cloud_text.WORKSPACE_MISSING]
    assert [r for r in rig.requests if r.surface == "git"] == []


def test_workspace_level_wrong_git_username(rig: Any) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W, U, WS])
    v = bb.validate(rig_target(rig, None, "acme"), "bob", TOKEN, EMAIL)
    assert v.can_clone is False
    assert v.reasons["clone"] == "git probe of acme/widgets: 401"
    assert v.problem_ids == [cloud_text.NO_ACCESS]
    assert "\"bob\" is not your Bitbucket username" in v.problems[0].text()


def test_workspace_without_repositories(rig: Any) -> None:
    rig.add_user("carol", "carol@example.com", workspaces=["empty"])
    rig.add_token(TOKEN, "carol", scopes=[R, W, U, WS])
    v = bb.validate(rig_target(rig, None, "empty"), "carol", TOKEN, "carol@example.com")
    assert [r.surface for r in rig.requests] == ["rest"] * 3  # nothing to probe
    rows = rows_of(v)
    assert rows["clone"] == ("yes", f"has {R}")  # proven by the listing
    assert rows["push"][0] == "unknown"
    assert v.proven_scopes == {R, U, WS} and v.problem_ids == []


def test_a_retired_endpoint_is_not_checked_and_the_rest_still_learnt(rig: Any) -> None:
    # Should Bitbucket retire /user/workspaces too: 410 is "not checked", never "invalid".
    rig.rest.removed.append(r"/2\.0/user/workspaces/?")
    rig.rest.removed_calls_expected = True
    rig.add_token(TOKEN, "alice", scopes=[R, W, U, WS])
    v = bb.validate(rig_target(rig, None, "acme"), "alice", TOKEN, EMAIL)
    assert (v.can_clone, v.can_push, v.identity) == (True, True, True)
    assert v.proven_scopes == {R, W, U}
    assert v.problem_ids == [ex.NOT_CHECKED]
    assert v.not_checked == [f"127.0.0.1:{rig.port} answered 410 to GET /user/workspaces"]
    assert rows_of(v)["workspaces"] == ("unknown",
                                        "unknown: Bitbucket did not list the token's scopes")
    assert "does not mean the token is invalid" in v.problems[0].text()


@pytest.mark.parametrize("scopes", [[R, W, U, WS], [R, U], [W], EVERY_SCOPE])
@pytest.mark.parametrize("repo", ["acme/widgets", "acme", None])
def test_removed_endpoints_are_never_called(rig: Any, scopes: list[str],
                                            repo: str | None) -> None:
    rig.add_token(TOKEN, "alice", scopes=scopes)
    workspace = repo.split("/")[0] if repo else None
    bb.validate(rig_target(rig, repo if repo and "/" in repo else None, workspace), "alice",
                TOKEN, EMAIL)
    assert rig.rest.removed_calls == []
    assert all(r.status != 410 for r in rig.requests)


# -- a scope problem or a permission problem (contract §4) -----------------------------------

PUSH_BY_ACCOUNT = "git probe: 403, your account may not write to this repository"


@pytest.mark.parametrize(("outcome", "scope_text", "datacenter", "why"), [
    (Outcome.MISSING_SCOPE, True, False, "scope"),
    (Outcome.MISSING_SCOPE, False, False, "permission"),
    (Outcome.MISSING_SCOPE, True, True, "permission"),  # Data Center: permissions only
    (Outcome.REJECTED, False, False, "no-access"),  # Cloud's 401: hidden repository too
    (Outcome.REJECTED, False, True, "rejected"),
    (Outcome.NOT_FOUND, False, False, "no-access"),
    (Outcome.RETIRED, False, False, "retired"),
    (Outcome.ALLOWED, False, False, None),
    (Outcome.NOT_CHECKED, False, False, None),
])
def test_whose_refusal_a_probe_answer_is(outcome: Outcome, scope_text: bool, datacenter: bool,
                                         why: str | None) -> None:
    result = ProbeResult(RECEIVE_PACK, outcome, 403, scope_text=scope_text)
    assert refused_by(result, datacenter) == why


@pytest.mark.parametrize(("why", "scopes", "blamed"), [
    ("scope", None, True),  # Bitbucket named scopes and nothing says the token has them
    ("scope", [R], True),
    ("scope", [R, W], False),  # never blame a scope the token is known to have
    ("scope", [W, U], True),  # push needs read as well
    ("permission", None, False),
    ("permission", [R], False),
    ("no-access", None, False),
])
def test_a_scope_the_token_is_known_to_have_is_never_blamed(why: str, scopes: list[str] | None,
                                                             blamed: bool) -> None:
    assert blames_the_token(why, sc.Operation.PUSH, scopes) is blamed


@pytest.mark.parametrize(("email", "headers"), [(EMAIL, True), (EMAIL, False), (None, False)])
def test_rig_push_refused_by_the_account_blames_no_scope(rig: Any, email: str | None,
                                                         headers: bool) -> None:
    # The token has write; the account may only read the repository: Bitbucket's 403 on
    # git-receive-pack carries its repository text, not the scope text.
    rig.add_token(TOKEN, "alice", scopes=[R, W, U, WS])
    rig.send_scope_headers = headers
    rig.set_permission("alice", "acme/widgets", "read")
    v = bb.validate(rig_target(rig), "x-bitbucket-api-token-auth", TOKEN, email)
    assert (v.can_clone, v.can_push) == (True, False)
    assert v.reasons["push"] == PUSH_BY_ACCOUNT
    assert v.problem_ids == [access_text.ACCOUNT_CANNOT_PUSH]
    said = v.problems[0].text()
    assert "Your account can only read acme/widgets" in said
    assert "a new token will not help" in said and "workspace admin" in said
    assert "lacks" not in said and TOKEN_PAGE not in said
    # What the token has is not downgraded by the account's refusal.
    if email and headers:
        assert v.scopes == {R, W, U, WS}
    else:
        assert W not in v.proven_scopes and (v.scopes is None or W in v.scopes)
    assert "lacks" not in json.dumps(v.to_dict())
    assert_no_secret(v)


def test_rig_push_refused_by_the_account_on_a_listed_repository_stays_unknown(rig: Any) -> None:
    # A workspace login probes the first repository REST lists; the account's permission
    # there says nothing of the workspace's other repositories: push stays unknown.
    rig.add_token(TOKEN, "alice", scopes=[R, W, U, WS])
    rig.set_permission("alice", "acme/widgets", "read")
    v = bb.validate(rig_target(rig, None, "acme"), "alice", TOKEN, EMAIL)
    assert (v.can_clone, v.can_push) == (True, None)
    assert v.reasons == {"clone": "git probe of acme/widgets: allowed (200)",
                         "push": "git probe of acme/widgets: 403; your account may not write "
                                 "to that repository",
                         "identity": "REST /user: allowed (200)"}
    assert v.problem_ids == []


# -- REST refused email:token: the email or the token (docs/bitbucket-facts.md §1, §3) -------


@pytest.mark.parametrize("level", ["workspace", "host"])
@pytest.mark.parametrize(("email", "revoked"), [("bob@example.com", False), (EMAIL, True)])
def test_rig_rest_401_without_a_repository_names_the_email_and_the_token(
        rig: Any, level: str, email: str, revoked: bool) -> None:
    # No repository to probe, so nothing tells a wrong email from a dead token: say both,
    # never "the token was rejected".
    rig.add_token(TOKEN, "alice", scopes=[R, W, U, WS], revoked=revoked)
    target = rig_target(rig, None, "acme" if level == "workspace" else None)
    v = bb.validate(target, "x-bitbucket-api-token-auth", TOKEN, email)
    assert (v.can_clone, v.can_push) == (None, None)
    assert v.problem_ids == [cloud_text.EMAIL_OR_TOKEN_REJECTED]
    said = v.problems[0].text()
    assert f"rejected {email} with this token (401)" in said
    assert "is not the email of the Atlassian account" in said
    assert "expired" in said and "revoked" in said
    assert "--email YOUR-ATLASSIAN-EMAIL" in said and "/REPO" in said
    assert rows_of(v)["clone"] == ("unknown", bb.NOT_PROBED)
    assert [r.surface for r in rig.requests] == ["rest"]  # nothing else to ask


@pytest.mark.parametrize(("email", "revoked", "ids", "text"), [
    # git accepted the token: the email is what REST refused.
    ("bob@example.com", False, [cloud_text.REST_NEEDS_EMAIL], "git accepted the token"),
    # git refused it too: the token (git's explanation says so; REST adds nothing).
    (EMAIL, True, [cloud_text.TOKEN_REJECTED], "expired or was revoked"),
])
def test_rig_rest_401_with_a_repository_git_tells_which(rig: Any, email: str, revoked: bool,
                                                        ids: list[str], text: str) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W, U, WS], revoked=revoked)
    v = bb.validate(rig_target(rig), "x-bitbucket-api-token-auth", TOKEN, email)
    assert v.problem_ids == ids
    assert text in v.problems[0].text()
