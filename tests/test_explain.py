"""Table-driven tests of the explanations (explain, explain.cloud, explain.datacenter): every
text names the exact scopes or permissions, the cause and the fix."""

from __future__ import annotations

import datetime
import io
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from git_credential_bbtoken import console
from git_credential_bbtoken import explain as ex
from git_credential_bbtoken.explain import cloud
from git_credential_bbtoken.explain import datacenter as dc

URL = "https://bitbucket.org/acme/widgets"
WS_URL = "https://bitbucket.org/acme"
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
    (lambda: cloud.token_rejected(URL, "alice"), cloud.TOKEN_REJECTED,
     ["401", "without Bitbucket scopes", "expired", "revoked", "alice",
      "x-bitbucket-api-token-auth", PAGE, LOGIN, R, W, "cannot be edited"], []),
    (lambda: cloud.token_rejected(URL, "x-bitbucket-api-token-auth"), cloud.TOKEN_REJECTED,
     ["401", PAGE, LOGIN], ["is not your Bitbucket username"]),
    # A token Bitbucket accepted before, with known scopes: only what still fits.
    (lambda: cloud.token_rejected(URL, "x-bitbucket-api-token-auth", known=[R, W]),
     cloud.TOKEN_REJECTED,
     ["401", f"accepted it before, with {R}, {W}", "not the cause", "expired or was revoked",
      "lost access", f"with: {R}, {W}", PAGE, LOGIN],
     ["without Bitbucket scopes", "mistyped", "is not your Bitbucket username"]),
    (lambda: cloud.token_rejected(URL, "alice", known=[R, U]), cloud.TOKEN_REJECTED,
     ["expired or was revoked", "\"alice\" is not your Bitbucket username", f"with: {R}, {U}"],
     ["without Bitbucket scopes", W]),
    (lambda: cloud.token_rejected(URL, "alice", known=[R], git_worked=True),
     cloud.TOKEN_REJECTED, ["expired or was revoked"], ["is not your Bitbucket username"]),
    (lambda: cloud.email_as_git_username(URL, "alice@example.com"), cloud.EMAIL_AS_GIT_USERNAME,
     ["alice@example.com", "x-bitbucket-api-token-auth", "Bitbucket username", "401",
      f"{LOGIN} --username x-bitbucket-api-token-auth --email alice@example.com",
      f"git remote set-url origin {URL}.git"], []),
    # git asks with the email from the remote URL and a token is stored under a git username:
    # the remote URL is the fix; storing the token for the email never works.
    (lambda: cloud.email_as_git_username(URL + ".git/info/lfs", "alice@example.com",
                                         "x-bitbucket-api-token-auth"),
     cloud.EMAIL_AS_GIT_USERNAME,
     ["alice@example.com", "not a git username", "401", "stored as x-bitbucket-api-token-auth",
      f"git remote set-url origin {URL}.git\n", f"clone {URL}.git", "credential.username"],
     ["--username alice@example.com", "login", "/info/lfs.git"]),
    (lambda: cloud.email_as_git_username("https://bitbucket.org", "alice@example.com", "bob"),
     cloud.EMAIL_AS_GIT_USERNAME,
     ["git remote set-url origin https://bitbucket.org/WORKSPACE/REPO.git"], []),
    (lambda: cloud.rest_needs_email(URL, "alice"), cloud.REST_NEEDS_EMAIL,
     ["alice", "Atlassian account email", "401", f"{LOGIN} --email"], []),
    (lambda: cloud.rest_needs_email(URL, "alice@example.com", git_accepted=True),
     cloud.REST_NEEDS_EMAIL, ["alice@example.com", "git accepted the token"], []),
    # REST refused email:token and git did not tell: the email or the token, said as such.
    (lambda: cloud.email_or_token_rejected(WS_URL, "bob@example.com"),
     cloud.EMAIL_OR_TOKEN_REJECTED,
     ["bob@example.com", "401", "is not the email of the Atlassian account", "expired",
      "revoked", f"login {WS_URL} --email YOUR-ATLASSIAN-EMAIL", f"doctor {WS_URL}/REPO",
      "not checked", PAGE], ["Bitbucket rejected the token", "create a new API token"]),
    (lambda: cloud.email_or_token_rejected(URL, "bob@example.com"),
     cloud.EMAIL_OR_TOKEN_REJECTED, [DOCTOR], ["/REPO"]),
    # ... and the same refusal of an email REST accepted before: the token.
    (lambda: cloud.token_no_longer_accepted(WS_URL, "alice@example.com", "2026-01-02", [R, W, U],
                                            "https://bitbucket.org"),
     cloud.TOKEN_NO_LONGER_ACCEPTED,
     ["no longer accepts the token", "alice@example.com", "on 2026-01-02", "401",
      "expired or was revoked", f"at least: {R}, {W}, {U}", f"with: {R}, {W}, {U}", PAGE,
      "then run: git credential-bbtoken rotate https://bitbucket.org"],
     ["is not the email", "without Bitbucket scopes", f"rotate {WS_URL}"]),
    (lambda: cloud.token_no_longer_accepted(WS_URL, "alice@example.com"),
     cloud.TOKEN_NO_LONGER_ACCEPTED, [f"with: {R}, {W}", f"rotate {WS_URL}"], [" on ", "at least"]),
    (lambda: cloud.read_missing(URL, [W]), cloud.READ_MISSING,
     [R, "403", "clone", f"{W} and {A} do not include read", "The token has: " + W,
      f"with: {R}, {W}", PAGE, LOGIN, "cannot be edited"], []),
    (lambda: cloud.read_missing(URL, [A]), cloud.READ_MISSING,
     [R, "The token has: " + A, f"with: {R}, {A}"], []),
    (lambda: cloud.read_missing(URL), cloud.READ_MISSING, [R, PAGE, LOGIN], ["The token has"]),
    (lambda: cloud.write_missing(URL, [R]), cloud.WRITE_MISSING,
     [W, "push", "403", f"with: {R}, {W}", PAGE, LOGIN], ["workspace admin"]),
    (lambda: cloud.read_missing(URL, None, [W, U]), cloud.READ_MISSING,
     [f"The token has at least: {W}, {U}.", f"with: {R}, {W}, {U}"], ["The token has:"]),
    (lambda: cloud.write_missing(URL, proven=[R, U, WS]), cloud.WRITE_MISSING,
     [f"The token has at least: {R}, {U}, {WS}.", f"with: {R}, {W}, {U}, {WS}"], []),
    (lambda: cloud.identity_missing(URL, [R, U], also=[R, W]), cloud.WORKSPACE_MISSING,
     [f"lacks {WS}:", f"with: {R}, {W}, {U}, {WS}"], []),
    (lambda: cloud.identity_missing(URL, [R, W]), cloud.IDENTITY_MISSING,
     [f"lacks {U}, {WS}", "git works", "Sourcetree", "cannot list your remote repositories",
      f"need {U}, {WS}, {R}", f"with: {R}, {W}, {U}, {WS}", PAGE, LOGIN], []),
    (lambda: cloud.identity_missing(URL, [R, WS]), cloud.IDENTITY_MISSING,
     [f"lacks {U}:", f"Needs {U}", f"need {U}, {WS}, {R}", f"with: {R}, {U}, {WS}"],
     [f"Needs {WS}", "remote repositories"]),
    (lambda: cloud.identity_missing(URL), cloud.IDENTITY_MISSING,
     [f"lacks {U}:", f"need {U}, {WS}, {R}", f"with: {R}, {U}, {WS}"], ["The token has"]),
    (lambda: cloud.identity_missing(URL, [R, W, U]), cloud.WORKSPACE_MISSING,
     [f"lacks {WS}:", "Sourcetree cannot list your workspaces", f"Needs {WS}",
      f"need {U}, {WS}, {R}", f"with: {R}, {W}, {U}, {WS}"], [f"Needs {U}"]),
    (lambda: cloud.no_bitbucket_scopes(URL, ["read:jira-work"]), cloud.NO_BITBUCKET_SCOPES,
     ["no Bitbucket scopes", "401", "read:jira-work", PAGE, LOGIN], []),
    (lambda: cloud.app_password_retired(URL, "alice", 410), cloud.APP_PASSWORD_RETIRED,
     ["410", "app password", "2026-07-28", "API tokens", DOCTOR, PAGE, LOGIN], []),
    (lambda: cloud.app_password_retired(URL, "alice", 401), cloud.APP_PASSWORD_RETIRED,
     ["401", "looks like an app password", "2026-07-28", PAGE, LOGIN], []),
    (lambda: cloud.no_access(URL, 404), cloud.NO_ACCESS,
     [URL, "404", "no access", PAGE, LOGIN], []),
    (lambda: cloud.no_access(URL, 401, "alice"), cloud.NO_ACCESS,
     ["401", "\"alice\" is not your Bitbucket username"], []),
    (lambda: cloud.expired(URL, datetime.date(2026, 3, 1)), cloud.EXPIRED,
     ["expired on 2026-03-01", "401", PAGE, LOGIN], []),
    (lambda: cloud.expires_soon(URL, "2026-03-01", 5), cloud.EXPIRES_SOON,
     ["expires in 5 days", "2026-03-01", PAGE, LOGIN], []),
    (lambda: cloud.expires_soon(URL, "2026-03-01", 1), cloud.EXPIRES_SOON,
     ["expires tomorrow"], []),
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
    (lambda: cloud.nothing_checked("https://bitbucket.org"), cloud.NOTHING_CHECKED,
     ["without checking", "--email", "doctor https://bitbucket.org/WORKSPACE/REPO"], []),
]


DC_URL = "https://git.example.com/scm/PROJ/repo"
DC_BASE = "https://git.example.com"
DC_TOKENS = f"{DC_BASE}/plugins/servlet/access-tokens/manage"
DC_LOGIN = f"git credential-bbtoken login {DC_URL} --kind datacenter"

DC_CASES: list[tuple[Callable[[], ex.Explanation], str, list[str], list[str]]] = [
    (lambda: dc.dc_token_rejected(DC_URL, "alice"), dc.DC_TOKEN_REJECTED,
     ["401", "expiry cannot be extended", "\"alice\"", "Bearer", "REPO_WRITE", DC_TOKENS,
      f"{DC_LOGIN} --username alice", f"without a username: {DC_LOGIN}\n"],
     ["--bearer", "X-Authentication-Denied-Reason"]),
    (lambda: dc.dc_token_rejected(DC_URL), dc.DC_TOKEN_REJECTED,
     ["401", "Project or Repository settings", f"then run: {DC_LOGIN}",
      f"{DC_LOGIN} --username NAME"],
     [DC_TOKENS, "--bearer"]),
    (lambda: dc.dc_token_rejected(DC_URL, "alice", denied_reason="CAPTCHA required"),
     dc.DC_TOKEN_REJECTED, ["(X-Authentication-Denied-Reason): CAPTCHA required",
                            "logging in once in the web interface"], []),
    (lambda: dc.dc_read_missing(DC_URL, "alice"), dc.DC_READ_MISSING,
     ["REPO_READ", "403", "owner's own permission", DC_TOKENS, f"{DC_LOGIN} --username alice"],
     []),
    (lambda: dc.dc_write_missing(DC_URL, "alice", "REPO_READ"), dc.DC_WRITE_MISSING,
     ["REPO_WRITE", "PROJECT_WRITE", "403", "The token has REPO_READ.", DC_TOKENS,
      f"{DC_LOGIN} --username alice"], []),
    (lambda: dc.dc_write_missing(DC_URL), dc.DC_WRITE_MISSING,
     ["REPO_WRITE", "The token can clone", "Project or Repository settings",
      DC_LOGIN], [DC_TOKENS, "--bearer"]),
    (lambda: dc.dc_no_access(DC_URL), dc.DC_NO_ACCESS,
     ["404", "no access", "/scm/PROJECT/repo.git", DC_LOGIN], ["--bearer"]),
    (lambda: dc.dc_expired(DC_URL, "2026-01-01", "alice"), dc.DC_EXPIRED,
     ["expired on 2026-01-01", "401", "cannot be extended", DC_TOKENS,
      f"{DC_LOGIN} --username alice"], []),
    (lambda: dc.dc_expires_soon(DC_URL, datetime.date(2026, 1, 1), 3, "alice"),
     dc.DC_EXPIRES_SOON, ["expires in 3 days", "2026-01-01", "cannot be extended", DC_TOKENS,
                          f"and run: {DC_LOGIN} --username alice"], ["then run"]),
    (lambda: dc.dc_basic_auth_disabled(DC_URL), dc.DC_BASIC_AUTH_DISABLED,
     ["Basic authentication is disabled", "401", "2.46", "without a username", DC_LOGIN],
     ["--bearer", "--username"]),
    (lambda: dc.dc_bearer_only(DC_URL, "alice"), dc.DC_BEARER_ONLY,
     ["only as a Bearer token", "\"alice\"", "2.46", DC_LOGIN], ["--bearer"]),
    (lambda: dc.bearer_needs_newer_git(DC_URL, "2.45.0"), dc.BEARER_NEEDS_NEWER_GIT,
     ["git 2.45.0", "needs git 2.46 or newer", "extraHeader", "not sent", DC_URL],
     ["BBTOKEN"]),
    (lambda: dc.bearer_needs_newer_git(DC_BASE, from_environment=True),
     dc.BEARER_NEEDS_NEWER_GIT, ["BBTOKEN_TOKEN", "BBTOKEN_USERNAME", "this git"], []),
    (lambda: dc.dc_nothing_checked(DC_BASE), dc.DC_NOTHING_CHECKED,
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
    assert {case[1] for case in CASES} == _ids(ex) | _ids(cloud)
    assert {case[1] for case in DC_CASES} == _ids(dc)


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
    e = cloud.read_missing(URL, [W])
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
    ("alice", "ABCDEFGHabcdefgh1234", 410, cloud.APP_PASSWORD_RETIRED),
    ("alice", "ABCDEFGHabcdefgh1234", 401, cloud.APP_PASSWORD_RETIRED),
    ("x-bitbucket-api-token-auth", "ABCDEFGHabcdefgh1234", 401, cloud.TOKEN_REJECTED),
    ("alice@example.com", "ATATT" + "a" * 100, 401, cloud.EMAIL_AS_GIT_USERNAME),
    ("alice", "ATATT" + "a" * 100, 401, cloud.TOKEN_REJECTED),
    (None, "ATATT" + "a" * 100, 401, cloud.TOKEN_REJECTED),
])
def test_for_rejection(username: str | None, secret: str, status: int,
                       expected_id: str) -> None:
    explanation = cloud.for_rejection(URL, username, secret, status)
    assert explanation.id == expected_id
    assert secret not in explanation.text()


@pytest.mark.parametrize(("known", "expected_id", "absent"), [
    (None, cloud.TOKEN_REJECTED, []),
    ([R, W], cloud.TOKEN_REJECTED, ["without Bitbucket scopes"]),
    ([R], cloud.TOKEN_REJECTED, ["without Bitbucket scopes", W]),
    (["read:jira-work"], cloud.NO_BITBUCKET_SCOPES, []),
])
def test_for_rejection_of_a_token_whose_scopes_are_known(known: list[str] | None,
                                                         expected_id: str,
                                                         absent: list[str]) -> None:
    # Never blame a scope the token is known to have (contract §4).
    explanation = cloud.for_rejection(URL, "x-bitbucket-api-token-auth", "ATATT" + "a" * 100,
                                      known=known)
    assert explanation.id == expected_id
    for part in absent:
        assert part not in explanation.text()


def test_loading_the_explanations_stays_light() -> None:
    # `get` loads these whenever it has something to say (an expiry line, a known push
    # failure): they must not bring `re`, `typing` and the like with them. Run without `site`,
    # whose editable-install finder imports `re` itself (see test_hot_path.py).
    code = ("import sys\n"
            "import git_credential_bbtoken.explain.cloud\n"
            "import git_credential_bbtoken.explain.datacenter\n"
            "heavy = ('re', 'typing', 'dataclasses', 'enum', 'datetime', 'json', 'urllib')\n"
            "print(sorted(m for m in heavy if m in sys.modules))\n")
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": root}).stdout.strip()
    assert out == "[]"


@pytest.mark.parametrize(("url", "suggested"), [
    ("https://bitbucket.org", "https://bitbucket.org/WORKSPACE/REPO"),
    ("https://bitbucket.org/acme", "https://bitbucket.org/acme/REPO"),
])
def test_nothing_checked_suggests_a_repository_url_below_the_one_given(url: str,
                                                                        suggested: str) -> None:
    from git_credential_bbtoken.explain import cloud

    assert f"doctor {suggested}" in cloud.nothing_checked(url).text()
