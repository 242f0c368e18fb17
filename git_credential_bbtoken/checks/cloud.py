"""Bitbucket Cloud: what an API token can do, from git `info/refs` probes and REST checks.

Git is asked with the git username, REST with the Atlassian email (docs/bitbucket-facts.md §1): a
403 from REST lists the token's scopes (section 3). The token goes nowhere but
`Target.base_url` and `Target.api_url`, through `transport`'s one guarded GET.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from typing import TYPE_CHECKING, Any

from git_credential_bbtoken import __version__
from git_credential_bbtoken import explain as ex
from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.checks import skeleton, transport
from git_credential_bbtoken.checks.answers import (
    Outcome,
    ProbeResult,
    path_segment,
    probe_info_refs,
    unexpected,
)
from git_credential_bbtoken.checks.transport import Channel, NotChecked, Response
from git_credential_bbtoken.checks.validation import Validation
from git_credential_bbtoken.common import CLOUD_API_URL, now_iso, without_git_suffix
from git_credential_bbtoken.explain import cloud as texts

if TYPE_CHECKING:
    import requests

GIT_STATUSES = {200: Outcome.ALLOWED, 403: Outcome.MISSING_SCOPE, 401: Outcome.REJECTED,
                410: Outcome.RETIRED, 404: Outcome.NOT_FOUND}
REFUSED = (Outcome.REJECTED, Outcome.RETIRED, Outcome.NOT_FOUND)  # by git, for this repository
NOTHING_TO_CHECK = "no repository in the URL and no email given"


@dataclasses.dataclass(frozen=True)
class Target:
    """Where to check: the git host, maybe a repository, the REST base, and git's CA file."""

    base_url: str  # https://bitbucket.org or https://127.0.0.1:PORT
    repo_path: str | None = None  # "ws/repo", "ws/repo.git" or None
    api_url: str = CLOUD_API_URL
    ca_file: str | None = None  # git's http.sslCAInfo / GIT_SSL_CAINFO, if set
    display_url: str | None = None  # the URL named in explanations; default base + repo

    @classmethod
    def for_url(cls, url: str, api_url: str = CLOUD_API_URL,
                ca_file: str | None = None) -> Target:
        """`https://bitbucket.org/ws/repo.git` → base, `ws/repo`; a workspace URL → no repo."""
        parts = urllib.parse.urlsplit(url if "://" in url else f"https://{url}")
        base = f"{parts.scheme}://{parts.netloc}"
        segments = [s for s in parts.path.split("/") if s]
        repo = "/".join(segments[:2]) if len(segments) >= 2 else None
        shown = base + ("/" + "/".join(segments) if segments else "")
        return cls(base, repo, api_url, ca_file, shown)

    @property
    def workspace_and_repo(self) -> tuple[str, str] | None:
        if not self.repo_path:
            return None
        segments = [s for s in self.repo_path.split("/") if s]
        if len(segments) < 2:
            return None
        repo = without_git_suffix(segments[1])
        return (segments[0], repo) if repo else None

    @property
    def url(self) -> str:
        if self.display_url:
            return self.display_url
        pair = self.workspace_and_repo
        return self.base_url.rstrip("/") + (f"/{pair[0]}/{pair[1]}" if pair else "")


# -- the git probe ----------------------------------------------------------------------------


def probe_git(target: Target, username: str, service: str, line: Channel) -> ProbeResult:
    """GET `{base}/{ws}/{repo}.git/info/refs?service=...`: what git itself would be told."""
    pair = target.workspace_and_repo
    if pair is None:
        return ProbeResult(service, Outcome.NOT_CHECKED, reason="no repository in the URL")
    ws, repo = (path_segment(p) for p in pair)
    return probe_info_refs(line, f"{target.base_url.rstrip('/')}/{ws}/{repo}", username, service,
                           f"git/2.0 (git-credential-bbtoken/{__version__})", GIT_STATUSES)


# -- the REST check ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RestResult:
    """What the REST API told us about the token."""

    outcome: Outcome
    status: int | None = None
    scopes: frozenset[str] | None = None  # the full granted set, when Bitbucket said so
    identity: bool | None = None  # GET /2.0/user allowed
    repo_read: bool | None = None  # GET /2.0/repositories/{ws}/{repo} allowed
    account: str | None = None  # the Bitbucket username /user answered with
    reason: str = ""
    retry_after: str | None = None
    tls: bool = False


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def _granted_from_error(data: Any) -> frozenset[str] | None:
    """`error.detail.granted` of a 403: the token's own scopes (docs/bitbucket-facts.md §3)."""
    try:
        granted = data["error"]["detail"]["granted"]
    except (KeyError, TypeError):
        return None
    if not isinstance(granted, list):
        return None
    return sc.normalize_scopes(granted)


def _scopes(response: Response) -> frozenset[str] | None:
    """The token's scopes as an answer lists them: the `x-oauth-scopes` header (reported, not
    documented: used when present, never depended on), else a 403 body's granted list."""
    value = response.headers.get("x-oauth-scopes")
    if value is not None:
        return sc.parse_scope_header(value)
    return _granted_from_error(_json(response.body)) if response.status == 403 else None


def rest_check(target: Target, email: str, line: Channel) -> RestResult:
    """`GET {api}/user` with Basic email:token; learn the scopes; one more request if needed."""
    url = f"{target.api_url.rstrip('/')}/user"
    answer = line.get(url, email)
    if isinstance(answer, NotChecked):
        return RestResult(Outcome.NOT_CHECKED, reason=answer.reason, tls=answer.tls)
    status = answer.status
    if status == 401:
        return RestResult(Outcome.REJECTED, status)
    if status == 403:
        return RestResult(Outcome.ALLOWED, status, scopes=_scopes(answer), identity=False)
    if status != 200:
        # An unexpected 404/410 has been reported for /user: "not checked", never "invalid".
        other = unexpected(url, answer, " to GET /user")
        return RestResult(other.outcome, status, reason=other.reason,
                          retry_after=other.retry_after)
    data = _json(answer.body)
    account = data.get("username") if isinstance(data, dict) else None
    account = account if isinstance(account, str) else None
    scopes = _scopes(answer)
    if scopes is not None:
        return RestResult(Outcome.ALLOWED, status, scopes=scopes, identity=True, account=account)
    scopes, repo_read = _ask_once_more(target, email, line)
    return RestResult(Outcome.ALLOWED, status, scopes=scopes, identity=True,
                      repo_read=repo_read, account=account)


def _ask_once_more(target: Target, email: str,
                   line: Channel) -> tuple[frozenset[str] | None, bool | None]:
    """/user answered 200 without listing scopes, which proves read:user only. Ask an
    endpoint needing another scope: a 403 lists every granted scope, a 200 proves that one.
    The scopes learnt, and whether the repository may be read (None: not learnt)."""
    api = target.api_url.rstrip("/")
    pair = target.workspace_and_repo
    if pair is not None:
        ws, repo = (path_segment(p) for p in pair)
        more = line.get(f"{api}/repositories/{ws}/{repo}", email)
    else:
        more = line.get(f"{api}/workspaces?pagelen=1", email)
    if isinstance(more, NotChecked):
        return None, None  # /user already answered; this teaches nothing more
    scopes = _scopes(more)
    if pair is None:
        return scopes, None
    if more.status == 200:
        return scopes, True
    if scopes is None:  # a 403 without a list still says no; 404, 429, 5xx say nothing
        return None, (False if more.status == 403 else None)
    return scopes, sc.READ_REPOSITORY in scopes


# -- the validation ---------------------------------------------------------------------------


def _rest_allowed(v: Validation, rest: RestResult) -> None:
    v.scopes, v.identity, v.account = rest.scopes, rest.identity, rest.account
    v.reasons["identity"] = ("REST /user: allowed (200)" if rest.identity
                             else f"REST /user: 403, lacks {sc.READ_USER}")
    if v.can_clone is None and rest.repo_read is not None:
        v.can_clone = rest.repo_read
        v.reasons["clone"] = ("REST repository: allowed (200)" if rest.repo_read
                              else f"REST repository: 403, lacks {sc.READ_REPOSITORY}")


Answers = skeleton.Answers[RestResult]  # what the checks of one validation answered

FOLDS: skeleton.Folds[RestResult] = skeleton.Folds(
    clone={
        Outcome.ALLOWED: skeleton.CLONE_ALLOWED,
        Outcome.MISSING_SCOPE: skeleton.Effect(
            {"clone": f"git probe: 403, lacks {sc.READ_REPOSITORY}",
             "push": f"pushing needs {sc.READ_REPOSITORY} as well"},
            can_clone=False, can_push=False, username_ok=True),
        **{outcome: skeleton.CLONE_REFUSED for outcome in REFUSED},
    },
    push={
        Outcome.ALLOWED: skeleton.Effect({"push": "git probe: allowed (200)"}, can_push=True),
        Outcome.MISSING_SCOPE: skeleton.Effect(
            {"push": f"git probe: 403, lacks {sc.WRITE_REPOSITORY}"}, can_push=False),
        **{outcome: skeleton.PUSH_REFUSED for outcome in REFUSED},
    },
    rest={
        Outcome.ALLOWED: _rest_allowed,
        Outcome.REJECTED: skeleton.Effect({"identity": "REST /user: rejected (401)"}),
    },
)


@dataclasses.dataclass(frozen=True)
class _Cloud:
    """The Cloud checks of one validation (the skeleton's `Product`)."""

    target: Target
    username: str  # for git
    email: str | None  # for REST
    line: Channel

    def validation(self) -> Validation:
        return Validation(checked_at=now_iso())

    def probe(self, service: str) -> ProbeResult | None:
        if self.target.workspace_and_repo is None:
            return None
        return probe_git(self.target, self.username, service, self.line)

    def rest(self) -> RestResult | None:
        return rest_check(self.target, self.email, self.line) if self.email else None

    def conclude(self, v: Validation, answers: Answers) -> None:
        clone = answers.clone
        if clone is not None and clone.outcome in REFUSED and ex.looks_like_email(self.username):
            v.username_ok = False
        _fill_in_from_scopes(v, probed=clone is not None)
        url = self.target.url
        chosen = (_clone_problem(self, v, answers), _push_problem(url, v, answers.push),
                  _rest_problem(self, answers), _scope_problem(url, v))
        v.problems.extend(problem for problem in chosen if problem is not None)

    def when_nothing_checked(self, v: Validation, answers: Answers) -> None:
        if answers.clone is None and answers.rest is None:
            v.not_checked.append(NOTHING_TO_CHECK)
            v.problems.append(texts.nothing_checked(self.target.url))


def validate(target: Target, git_username: str, token: str, email: str | None = None,
             deadline: float = 5.0, session: requests.Session | None = None) -> Validation:
    """Probe git (when a repository is known) and REST (when an email is given), within
    `deadline` seconds overall, and explain what will go wrong. Never raises for HTTP trouble."""
    with transport.channel(token, target.ca_file, deadline, session) as line:
        return skeleton.run(_Cloud(target, git_username, email, line), FOLDS, target.url)


def _fill_in_from_scopes(v: Validation, probed: bool) -> None:
    """What the scopes say where no probe answered."""
    if v.scopes is None:
        return
    if v.can_clone is None:
        v.can_clone = sc.can(sc.Operation.CLONE, v.scopes)
    if v.can_push is None and (v.can_clone is not False or not probed):
        v.can_push = sc.can(sc.Operation.PUSH, v.scopes)
    if v.identity is None:
        v.identity = sc.can(sc.Operation.IDENTITY, v.scopes)


# -- the explanations, most specific first, without repeating one cause twice -----------------


def _clone_problem(cloud: _Cloud, v: Validation,
                   answers: Answers) -> ex.Explanation | None:
    url, username, clone, granted = cloud.target.url, cloud.username, answers.clone, v.scopes
    if clone is None:
        if v.can_clone is False and (granted is None or sc.has_any_bitbucket_scope(granted)):
            return texts.read_missing(url, granted)  # (no Bitbucket scope at all: _scope_problem)
        return None
    rest = answers.rest
    if clone.outcome is Outcome.REJECTED and rest is not None and rest.outcome is Outcome.ALLOWED:
        # REST accepted the token, so git refused the username or this repository.
        if ex.looks_like_email(username):
            return texts.email_as_git_username(url, username)
        return texts.no_access(url, 401, username)
    if clone.outcome in (Outcome.REJECTED, Outcome.RETIRED):
        return texts.for_rejection(url, username, cloud.line.secret.reveal(), clone.status or 401)
    if clone.outcome is Outcome.NOT_FOUND:
        return texts.no_access(url, clone.status or 404)
    if clone.outcome is Outcome.MISSING_SCOPE:
        return texts.read_missing(url, granted)
    return None


def _push_problem(url: str, v: Validation, push: ProbeResult | None) -> ex.Explanation | None:
    granted = v.scopes
    if push is not None and push.outcome is Outcome.MISSING_SCOPE:
        has_write = granted is not None and sc.WRITE_REPOSITORY in granted
        return texts.write_missing(url, granted, maybe_permission=has_write or not push.scope_text)
    if v.can_push is False and v.can_clone is True and push is None:
        return texts.write_missing(url, granted)
    return None


def _rest_problem(cloud: _Cloud, answers: Answers) -> ex.Explanation | None:
    if answers.rest is None or answers.rest.outcome is not Outcome.REJECTED:
        return None
    clone = answers.clone
    git_answer = clone.outcome if clone is not None else None
    git_accepted = git_answer in (Outcome.ALLOWED, Outcome.MISSING_SCOPE)
    if git_accepted or not ex.looks_like_email(cloud.email):
        return texts.rest_needs_email(cloud.target.url, cloud.email or "", git_accepted)
    if git_answer in (Outcome.REJECTED, Outcome.RETIRED):
        return None  # the git explanation already covers it
    return texts.token_rejected(cloud.target.url, None, 401)


def _scope_problem(url: str, v: Validation) -> ex.Explanation | None:
    if v.scopes is not None and not sc.has_any_bitbucket_scope(v.scopes):
        return texts.no_bitbucket_scopes(url, v.scopes)
    if v.identity is False:
        return texts.identity_missing(url, v.scopes)
    return None
