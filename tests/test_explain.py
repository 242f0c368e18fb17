"""Table-driven tests of explain.py: every text names the exact scopes, the cause and the fix."""

from __future__ import annotations

import datetime
from typing import Callable

import pytest

from git_credential_bbtoken import explain as ex
from git_credential_bbtoken.scopes import Operation

URL = "https://bitbucket.org/acme/widgets"
R = "read:repository:bitbucket"
W = "write:repository:bitbucket"
A = "admin:repository:bitbucket"
U = "read:user:bitbucket"
WS = "read:workspace:bitbucket"
PAGE = "https://id.atlassian.com/manage-profile/security/api-tokens"
LOGIN = f"git credential-bbtoken login {URL}"
DOCTOR = f"git credential-bbtoken doctor {URL}"

# (builder, id, strings the rendered text must contain, strings it must not contain)
CASES: list[tuple[Callable[[], ex.Explanation], str, list[str], list[str]]] = [
    (lambda: ex.token_rejected(URL, "alice"), ex.TOKEN_REJECTED,
     ["401", "without Bitbucket scopes", "expired", "revoked", "alice",
      "x-bitbucket-api-token-auth", PAGE, LOGIN, R, W, "cannot be edited"], []),
    (lambda: ex.token_rejected(URL, "x-bitbucket-api-token-auth"), ex.TOKEN_REJECTED,
     ["401", PAGE, LOGIN], ["is not your Bitbucket username"]),
    (lambda: ex.email_as_git_username(URL, "alice@example.com"), ex.EMAIL_AS_GIT_USERNAME,
     ["alice@example.com", "x-bitbucket-api-token-auth", "Bitbucket username", "401",
      f"{LOGIN} --username x-bitbucket-api-token-auth --email alice@example.com"], []),
    (lambda: ex.rest_needs_email(URL, "alice"), ex.REST_NEEDS_EMAIL,
     ["alice", "Atlassian account email", "401", f"{LOGIN} --email"], []),
    (lambda: ex.rest_needs_email(URL, "alice@example.com", git_accepted=True),
     ex.REST_NEEDS_EMAIL, ["alice@example.com", "git accepted the token"], []),
    (lambda: ex.read_missing(URL, [W]), ex.READ_MISSING,
     [R, "403", "clone", f"{W} and {A} do not include read", "The token has: " + W,
      f"with: {R}, {W}", PAGE, LOGIN, "cannot be edited"], []),
    (lambda: ex.read_missing(URL, [A]), ex.READ_MISSING,
     [R, "The token has: " + A, f"with: {R}, {A}"], []),
    (lambda: ex.read_missing(URL), ex.READ_MISSING, [R, PAGE, LOGIN], ["The token has"]),
    (lambda: ex.write_missing(URL, [R]), ex.WRITE_MISSING,
     [W, "push", "403", f"with: {R}, {W}", PAGE, LOGIN], ["workspace admin"]),
    (lambda: ex.write_missing(URL, [R, W], maybe_permission=True), ex.WRITE_MISSING,
     [W, "write access to this repository"], []),
    (lambda: ex.identity_missing(URL, [R, W]), ex.IDENTITY_MISSING,
     [U, "git works", "Sourcetree", f"with: {R}, {W}, {U}", PAGE, LOGIN], []),
    (lambda: ex.scopes_missing(URL, Operation.WORKSPACES, [WS], [U]), ex.SCOPES_MISSING,
     [WS, f"with: {U}, {WS}", PAGE, LOGIN], []),
    (lambda: ex.scopes_missing(URL, Operation.PUSH, [W], [R]), ex.WRITE_MISSING, [W], []),
    (lambda: ex.scopes_missing(URL, Operation.PUSH, [R, W], []), ex.READ_MISSING, [R], []),
    (lambda: ex.scopes_missing(URL, Operation.IDENTITY, [U]), ex.IDENTITY_MISSING, [U], []),
    (lambda: ex.no_bitbucket_scopes(URL, ["read:jira-work"]), ex.NO_BITBUCKET_SCOPES,
     ["no Bitbucket scopes", "401", "read:jira-work", PAGE, LOGIN], []),
    (lambda: ex.app_password_retired(URL, "alice", 410), ex.APP_PASSWORD_RETIRED,
     ["410", "app password", "2026-07-28", "API tokens", DOCTOR, PAGE, LOGIN], []),
    (lambda: ex.app_password_retired(URL, "alice", 401), ex.APP_PASSWORD_RETIRED,
     ["401", "looks like an app password", "2026-07-28", PAGE, LOGIN], []),
    (lambda: ex.no_access(URL, 404), ex.NO_ACCESS, [URL, "404", "no access", PAGE, LOGIN], []),
    (lambda: ex.no_access(URL, 401, "alice"), ex.NO_ACCESS,
     ["401", "\"alice\" is not your Bitbucket username"], []),
    (lambda: ex.expired(URL, datetime.date(2026, 3, 1)), ex.EXPIRED,
     ["expired on 2026-03-01", "401", PAGE, LOGIN], []),
    (lambda: ex.expires_soon(URL, "2026-03-01", 5), ex.EXPIRES_SOON,
     ["expires in 5 days", "2026-03-01", PAGE, LOGIN], []),
    (lambda: ex.expires_soon(URL, "2026-03-01", 1), ex.EXPIRES_SOON, ["expires tomorrow"], []),
    (lambda: ex.rate_limited(URL, "30"), ex.RATE_LIMITED,
     ["429", "wait 30 seconds", "not checked", DOCTOR], []),
    (lambda: ex.rate_limited(URL, "600"), ex.RATE_LIMITED, ["about 10 minutes"], []),
    (lambda: ex.rate_limited(URL), ex.RATE_LIMITED, ["429", DOCTOR], ["wait"]),
    (lambda: ex.not_checked(URL, ["could not connect to bitbucket.org"]), ex.NOT_CHECKED,
     ["Nothing was checked", "does not mean the token is invalid",
      "could not connect to bitbucket.org", DOCTOR], ["sslCAInfo"]),
    (lambda: ex.not_checked(URL, ["the TLS certificate check failed"], tls=True),
     ex.NOT_CHECKED, ["http.sslCAInfo", "REQUESTS_CA_BUNDLE", DOCTOR], []),
    (lambda: ex.not_checked(URL, ["api.bitbucket.org answered 410 to GET /user"],
                            partial=True),
     ex.NOT_CHECKED, ["Some checks did not answer", "410", DOCTOR], ["Nothing was checked"]),
    (lambda: ex.nothing_checked("https://bitbucket.org"), ex.NOTHING_CHECKED,
     ["without checking", "--email", "doctor https://bitbucket.org/WORKSPACE/REPO"], []),
]


@pytest.mark.parametrize(("build", "expected_id", "contains", "absent"), CASES)
def test_catalogue_texts(build: Callable[[], ex.Explanation], expected_id: str,
                         contains: list[str], absent: list[str]) -> None:
    explanation = build()
    assert explanation.id == expected_id
    rendered = explanation.render()
    for text in contains:
        assert text in rendered, f"{text!r} not in:\n{rendered}"
    for text in absent:
        assert text not in rendered, f"{text!r} unexpectedly in:\n{rendered}"
    # Short, one paragraph, every line ours.
    lines = rendered.splitlines()
    assert all(line.startswith("bbtoken: ") or line == "bbtoken:" for line in lines)
    assert 1 <= len(lines) <= 12
    assert "\n\n" not in rendered


def test_every_id_is_in_the_catalogue() -> None:
    ids = {case[1] for case in CASES}
    assert ids == set(ex.CATALOGUE)


def test_text_and_render() -> None:
    e = ex.Explanation("x", "summary", ("detail",), ("Fix: do it",))
    assert e.text() == "summary\ndetail\nFix: do it"
    assert e.render() == "bbtoken: summary\nbbtoken: detail\nbbtoken: Fix: do it\n"
    assert e.render(prefix="") == "summary\ndetail\nFix: do it\n"


def test_dict_round_trip_and_forgiving_load() -> None:
    e = ex.read_missing(URL, [W])
    assert ex.Explanation.from_dict(e.to_dict()) == e
    loose = ex.Explanation.from_dict({"id": "read-missing", "details": "not a list"})
    assert loose.id == "read-missing" and loose.details == () and loose.severity == ex.ERROR


@pytest.mark.parametrize(("secret", "expected"), [
    ("ABCDEFGHabcdefgh1234", True),  # 20 characters, letters and digits
    ("ATBB" + "x" * 32, True),
    ("ATATT3xFfGF0" + "A" * 180, False),
    ("ATATT" + "a" * 15, False),  # short but with the token prefix: not an app password
    ("a" * 60, False),
    ("short", False),
    ("with-dash-and_under12", False),
    ("", False),
])
def test_looks_like_app_password(secret: str, expected: bool) -> None:
    assert ex.looks_like_app_password(secret) is expected


@pytest.mark.parametrize(("name", "expected"), [
    ("alice@example.com", True),
    ("alice.b+git@sub.example.co.uk", True),
    ("alice", False),
    ("x-bitbucket-api-token-auth", False),
    ("alice@localhost", False),
    ("a b@example.com", False),
    ("", False),
    (None, False),
])
def test_looks_like_email(name: str | None, expected: bool) -> None:
    assert ex.looks_like_email(name) is expected


@pytest.mark.parametrize(("username", "secret", "status", "expected_id"), [
    ("alice", "ABCDEFGHabcdefgh1234", 410, ex.APP_PASSWORD_RETIRED),
    ("alice", "ABCDEFGHabcdefgh1234", 401, ex.APP_PASSWORD_RETIRED),
    ("x-bitbucket-api-token-auth", "ABCDEFGHabcdefgh1234", 401, ex.TOKEN_REJECTED),
    ("alice@example.com", "ATATT" + "a" * 100, 401, ex.EMAIL_AS_GIT_USERNAME),
    ("alice", "ATATT" + "a" * 100, 401, ex.TOKEN_REJECTED),
    (None, "ATATT" + "a" * 100, 401, ex.TOKEN_REJECTED),
])
def test_for_rejection(username: str | None, secret: str, status: int,
                       expected_id: str) -> None:
    explanation = ex.for_rejection(URL, username, secret, status)
    assert explanation.id == expected_id
    assert secret not in explanation.render()


@pytest.mark.parametrize(("expiry", "expected"), [
    (datetime.date(2026, 2, 28), ex.EXPIRED),
    (datetime.date(2026, 3, 1), ex.EXPIRES_SOON),  # the last day: still works today
    (datetime.date(2026, 3, 10), ex.EXPIRES_SOON),
    (datetime.date(2026, 6, 1), None),
])
def test_expiry_notice(expiry: datetime.date, expected: str | None) -> None:
    notice = ex.expiry_notice(URL, expiry, today=datetime.date(2026, 3, 1))
    assert (notice.id if notice else None) == expected
