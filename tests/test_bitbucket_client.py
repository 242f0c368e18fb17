"""Tests of the Cloud checks (checks/cloud.py, transport.py, validation.py) against real
sockets: the shared Bitbucket-like HTTPS rig (tests/rig, the `bitbucket` fixture) and, for
failures no server can fake, plain listeners that refuse or never answer. No mocks: the
client's requests really go over the wire.
"""

from __future__ import annotations

import json
import pathlib
import socket
import threading
from typing import Any, Callable, Iterator, TypeVar

import pytest

from git_credential_bbtoken import explain as ex
from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.checks import cloud as bb
from git_credential_bbtoken.checks import transport
from git_credential_bbtoken.checks.answers import UPLOAD_PACK, Outcome
from git_credential_bbtoken.checks.transport import Secret
from git_credential_bbtoken.checks.validation import GIT_PROBE, REST, Validation
from git_credential_bbtoken.common import TOKEN_PAGE
from git_credential_bbtoken.explain import cloud as cloud_text

T = TypeVar("T")

R = "read:repository:bitbucket"
W = "write:repository:bitbucket"
A = "admin:repository:bitbucket"
U = "read:user:bitbucket"
WS = "read:workspace:bitbucket"
TOKEN = "ATATT3xFfGF0" + "k" * 60  # noqa: S105 - a test token
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


def rig_target(bitbucket: Any, repo: str | None = "acme/widgets") -> bb.Target:
    return bb.Target(bitbucket.url, repo, bitbucket.api_url, bitbucket.ca_file)


@pytest.fixture
def rig(bitbucket: Any) -> Any:
    bitbucket.add_user("alice", EMAIL, workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    return bitbucket


@pytest.mark.parametrize(("scopes", "clone", "push", "ids"), [
    ([R, W, U], True, True, []),
    ([R, U], True, False, [cloud_text.WRITE_MISSING]),
    ([W, U], False, False, [cloud_text.READ_MISSING]),
    ([A, U], False, False, [cloud_text.READ_MISSING]),
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
    # A header or a 403 body lists the scopes; otherwise they stay unknown (never guessed).
    assert v.scopes is None or set(v.scopes) == set(scopes)
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
             cloud_text.IDENTITY_MISSING: U}
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
def test_rig_rest_only(rig: Any, headers: bool) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, U, WS])
    rig.send_scope_headers = headers
    v = bb.validate(rig_target(rig, None), "alice", TOKEN, EMAIL)
    assert v.sources == [REST]
    assert v.identity is True
    if headers:
        assert v.scopes is not None and set(v.scopes) == {R, U, WS}
        assert (v.can_clone, v.can_push) == (True, False)  # from the scopes: no probe asked
    rows = {row.what: row.answer for row in v.verdict_table()}
    assert rows["identity (Sourcetree, IDEs)"] == "yes"
    assert len(rig.requests) <= 2


@pytest.mark.parametrize("status", [404, 410])
def test_rig_rest_gone_is_not_checked(rig: Any, status: int) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W, U])
    if status == 410:
        rig.user_endpoint_gone = True
    else:
        rig.rest_status_override = 404
    v = bb.validate(rig_target(rig), "alice", TOKEN, EMAIL)
    assert (v.can_clone, v.can_push) == (True, True)  # the git probes still answered
    assert v.scopes is None
    assert ex.NOT_CHECKED in v.problem_ids and cloud_text.TOKEN_REJECTED not in v.problem_ids
    assert any(str(status) in r for r in v.not_checked)


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


def test_rig_tls_needs_the_ca_file(rig: Any) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W, U])
    target = bb.Target(rig.url, "acme/widgets", rig.api_url, None)
    v = bb.validate(target, "alice", TOKEN, EMAIL)
    assert v.can_clone is None and v.problem_ids == [ex.NOT_CHECKED]
    assert "sslCAInfo" in v.problems[0].text()


def test_rig_ca_bundle_from_environment(rig: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W])
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
