"""Table-driven tests of explain.py: every text names the exact scopes, the cause and the fix."""

from __future__ import annotations

import datetime
import io
from typing import Callable

import pytest

from git_credential_bbtoken import console
from git_credential_bbtoken import explain as ex

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


DC_URL = "https://git.example.com/scm/PROJ/repo"
DC_BASE = "https://git.example.com"
DC_TOKENS = f"{DC_BASE}/plugins/servlet/access-tokens/manage"
DC_LOGIN = f"git credential-bbtoken login {DC_URL} --kind datacenter"

DC_CASES: list[tuple[Callable[[], ex.Explanation], str, list[str], list[str]]] = [
    (lambda: ex.dc_token_rejected(DC_URL, "alice"), ex.DC_TOKEN_REJECTED,
     ["401", "expiry cannot be extended", "\"alice\"", "Bearer", "REPO_WRITE", DC_TOKENS,
      f"{DC_LOGIN} --username alice"], []),
    (lambda: ex.dc_token_rejected(DC_URL), ex.DC_TOKEN_REJECTED,
     ["401", "Project or Repository settings", f"{DC_LOGIN} --bearer"], [DC_TOKENS]),
    (lambda: ex.dc_read_missing(DC_URL, "alice"), ex.DC_READ_MISSING,
     ["REPO_READ", "403", "owner's own permission", DC_TOKENS, f"{DC_LOGIN} --username alice"],
     []),
    (lambda: ex.dc_write_missing(DC_URL, "alice", "REPO_READ"), ex.DC_WRITE_MISSING,
     ["REPO_WRITE", "PROJECT_WRITE", "403", "The token has REPO_READ.", DC_TOKENS,
      f"{DC_LOGIN} --username alice"], []),
    (lambda: ex.dc_write_missing(DC_URL), ex.DC_WRITE_MISSING,
     ["REPO_WRITE", "The token can clone", "Project or Repository settings",
      f"{DC_LOGIN} --bearer"], [DC_TOKENS]),
    (lambda: ex.dc_no_access(DC_URL), ex.DC_NO_ACCESS,
     ["404", "no access", "/scm/PROJECT/repo.git", f"{DC_LOGIN} --bearer"], []),
    (lambda: ex.dc_expired(DC_URL, "2026-01-01", "alice"), ex.DC_EXPIRED,
     ["expired on 2026-01-01", "401", "cannot be extended", DC_TOKENS,
      f"{DC_LOGIN} --username alice"], []),
    (lambda: ex.dc_expires_soon(DC_URL, datetime.date(2026, 1, 1), 3, "alice"),
     ex.DC_EXPIRES_SOON, ["expires in 3 days", "2026-01-01", "cannot be extended", DC_TOKENS,
                          f"and run: {DC_LOGIN} --username alice"], ["then run"]),
    (lambda: ex.dc_basic_auth_disabled(DC_URL), ex.DC_BASIC_AUTH_DISABLED,
     ["Basic authentication is disabled", "401", "2.46", f"{DC_LOGIN} --bearer"], []),
    (lambda: ex.dc_bearer_only(DC_URL, "alice"), ex.DC_BEARER_ONLY,
     ["only as a Bearer token", "\"alice\"", "2.46", f"{DC_LOGIN} --bearer"], []),
    (lambda: ex.bearer_needs_newer_git(DC_URL, "2.45.0"), ex.BEARER_NEEDS_NEWER_GIT,
     ["git 2.45.0", "needs git 2.46 or newer", "extraHeader", "not sent", DC_URL],
     ["BBTOKEN"]),
    (lambda: ex.bearer_needs_newer_git(DC_BASE, from_environment=True),
     ex.BEARER_NEEDS_NEWER_GIT, ["BBTOKEN_TOKEN", "BBTOKEN_USERNAME", "this git"], []),
    (lambda: ex.dc_nothing_checked(DC_BASE), ex.DC_NOTHING_CHECKED,
     ["not checked", f"doctor {DC_BASE}/scm/PROJECT/REPO"], []),
]


def said(explanation: ex.Explanation) -> str:
    """What the person sees on stderr: the text through the helper's own `Io.say`."""
    out = console.Io(stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=io.StringIO())
    out.say(explanation.text())
    assert isinstance(out.stderr, io.StringIO)
    return out.stderr.getvalue()


@pytest.mark.parametrize(("build", "expected_id", "contains", "absent"), CASES + DC_CASES)
def test_catalogue_texts(build: Callable[[], ex.Explanation], expected_id: str,
                         contains: list[str], absent: list[str]) -> None:
    explanation = build()
    assert explanation.id == expected_id
    text = explanation.text()
    for part in contains:
        assert part in text, f"{part!r} not in:\n{text}"
    for part in absent:
        assert part not in text, f"{part!r} unexpectedly in:\n{text}"
    # Short, one paragraph, every line ours.
    assert 1 <= len(explanation.lines()) <= 12
    assert all(line.strip() for line in explanation.lines())
    lines = said(explanation).splitlines()
    assert len(lines) == len(explanation.lines())
    assert all(line.startswith("bbtoken: ") for line in lines)


def _ids(module: object) -> set[str]:
    """The explanation ids a module defines: `TOKEN_REJECTED = "token-rejected"`."""
    return {value for name, value in vars(module).items()
            if isinstance(value, str) and name.isupper() and value == name.lower().replace("_", "-")
            and value not in (ex.ERROR, ex.WARNING, ex.NOTE)}


def test_every_id_has_a_case() -> None:
    assert {case[1] for case in CASES + DC_CASES} == _ids(ex)


@pytest.mark.parametrize("build", [case[0] for case in DC_CASES])
def test_dc_explanations_end_with_a_fix_on_the_server(build: Callable[[], ex.Explanation]
                                                      ) -> None:
    explanation = build()
    assert explanation.fix and DC_BASE in "\n".join(explanation.fix)


def test_text_and_lines() -> None:
    e = ex.Explanation("x", "summary", ("detail",), ("Fix: do it",))
    assert e.lines() == ["summary", "detail", "Fix: do it"]
    assert e.text() == "summary\ndetail\nFix: do it"
    assert said(e) == "bbtoken: summary\nbbtoken: detail\nbbtoken: Fix: do it\n"


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
    assert secret not in explanation.text()
