"""Bitbucket Data Center / Server: what an HTTP access token can do, bounded in time.

Facts: docs/bitbucket-facts.md §5. Personal tokens go to git with Basic
`username:token`; project and repository tokens only as `Authorization: Bearer`. What a token
may do on one repository is learnt from the same safe probes as on Cloud (`info/refs` for
`git-upload-pack` and `git-receive-pack`: a 403 on the second means no REPO_WRITE), and the
REST API under `<url>/rest/api/latest` tells whether the token is accepted and who it is.
A token the server rejects (401) is never sent again, in any form (facts §5: repeated failures
put the account behind a CAPTCHA): not to REST after git, not as Bearer after Basic. The
server's `X-Authentication-Denied-Reason` is passed on in the explanation.

Never imported on the `get` path; HTTP goes through `transport`'s one guarded GET.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import TYPE_CHECKING

from git_credential_bbtoken import explain as ex
from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.checks import skeleton, transport
from git_credential_bbtoken.checks.answers import (
    TEXT_LIMIT,
    Outcome,
    ProbeResult,
    path_segment,
    probe_info_refs,
    unexpected,
)
from git_credential_bbtoken.checks.transport import Channel, NotChecked
from git_credential_bbtoken.checks.validation import Validation
from git_credential_bbtoken.common import now_iso, without_git_suffix
from git_credential_bbtoken.explain import datacenter as texts

if TYPE_CHECKING:
    import requests

BEARER = "Bearer"
REST_SUFFIX = "/rest/api/latest"
GIT_STATUSES = {200: Outcome.ALLOWED, 401: Outcome.REJECTED, 403: Outcome.MISSING_SCOPE,
                404: Outcome.NOT_FOUND}
# Words a Data Center 401 uses when the server refuses Basic authentication altogether.
_BASIC_DISABLED_WORDS = ("basic auth", "disabled")


@dataclasses.dataclass(frozen=True)
class DcTarget:
    """A Data Center server (with its context path), maybe a project and repository."""

    base_url: str  # https://host[:port][/context]
    project: str | None = None
    repo: str | None = None
    api_url: str = ""
    ca_file: str | None = None

    @classmethod
    def for_url(cls, url: str, api_url: str | None = None,
                ca_file: str | None = None) -> DcTarget:
        """`https://host/scm/PROJ/repo.git` (clone URL) or `.../projects/PROJ/repos/repo`
        (browser URL) -> base, project, repository; `https://host` -> base only."""
        parts = urllib.parse.urlsplit(url if "://" in url else f"https://{url}")
        segments = [s for s in parts.path.split("/") if s]
        project = repo = None
        prefix = segments
        for marker in ("scm", "projects"):
            if marker in segments:
                at = segments.index(marker)
                prefix, rest = segments[:at], segments[at + 1:]
                if marker == "projects" and len(rest) >= 3 and rest[1] == "repos":
                    rest = [rest[0], rest[2]]
                project = rest[0] if rest else None
                repo = rest[1] if len(rest) >= 2 else None
                break
        base = f"{parts.scheme}://{parts.netloc}" + "".join(f"/{s}" for s in prefix)
        if repo:
            repo = without_git_suffix(repo) or None
        return cls(base, project, repo, (api_url or base + REST_SUFFIX).rstrip("/"), ca_file)

    @property
    def names_repository(self) -> bool:
        return bool(self.project and self.repo)

    @property
    def url(self) -> str:
        if self.project and self.repo:
            return f"{self.base_url}/scm/{self.project}/{self.repo}"
        if self.project:
            return f"{self.base_url}/scm/{self.project}"
        return self.base_url


def probe_git(target: DcTarget, username: str | None, service: str,
              line: Channel) -> ProbeResult:
    """GET `{base}/scm/{P}/{repo}.git/info/refs?service=...` with Basic (or Bearer)."""
    project, repo = target.project, target.repo
    if not (project and repo):
        return ProbeResult(service, Outcome.NOT_CHECKED, reason="no repository in the URL")
    repo_url = f"{target.base_url}/scm/{path_segment(project)}/{path_segment(repo)}"
    return probe_info_refs(line, repo_url, username, service,
                           "git/2.0 (git-credential-bbtoken)", GIT_STATUSES)


@dataclasses.dataclass(frozen=True)
class DcRest:
    outcome: Outcome
    status: int | None = None
    account: str | None = None  # X-AUSERNAME, when the server names the user
    repo_read: bool | None = None
    message: str = ""
    reason: str = ""
    tls: bool = False
    retry_after: str | None = None  # not read from a Data Center REST 429
    denied_reason: str | None = None  # X-Authentication-Denied-Reason of a 401


def rest_check(target: DcTarget, username: str | None, line: Channel) -> DcRest:
    """The repository (`GET {api}/projects/{P}/repos/{r}`) when the URL names one, else
    `GET {api}/application-properties`: is the token accepted, and whose is it."""
    project, repo = target.project, target.repo
    on_repo = bool(project and repo)
    if project and repo:
        url = f"{target.api_url}/projects/{path_segment(project)}/repos/{path_segment(repo)}"
    else:
        url = f"{target.api_url}/application-properties"
    answer = line.get(url, username)
    if isinstance(answer, NotChecked):
        return DcRest(Outcome.NOT_CHECKED, reason=answer.reason, tls=answer.tls)
    status = answer.status
    account = answer.headers.get("X-AUSERNAME") or None
    if status == 200:
        return DcRest(Outcome.ALLOWED, status, account, True if on_repo else None)
    if status == 401:
        denied = answer.headers.get("X-Authentication-Denied-Reason")
        return DcRest(Outcome.REJECTED, status, message=_error_message(answer.body),
                      denied_reason=denied[:TEXT_LIMIT] if denied else None)
    if status in (403, 404) and on_repo:
        return DcRest(Outcome.ALLOWED, status, account, False, _error_message(answer.body))
    other = unexpected(url, answer)
    return DcRest(other.outcome, status, reason=other.reason)


def _error_message(body: bytes) -> str:
    """`errors[0].message` of a Data Center error body, or the text itself."""
    import json  # only for an error body

    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
        return str(data["errors"][0]["message"])[:TEXT_LIMIT]
    except (ValueError, KeyError, IndexError, TypeError):
        return text.strip()[:TEXT_LIMIT]


def _says_basic_disabled(*texts: str) -> bool:
    return any(all(word in text.lower() for word in _BASIC_DISABLED_WORDS) for text in texts)


# -- the validation ---------------------------------------------------------------------------


def _rest_accepted(v: Validation, rest: DcRest) -> None:
    v.identity = True
    v.account = rest.account
    v.reasons["identity"] = f"REST: accepted ({rest.status})" + (
        f" as {rest.account}" if rest.account else "")
    if v.can_clone is None and rest.repo_read is not None:
        v.can_clone = rest.repo_read
        v.reasons["clone"] = f"REST repository: {rest.status}"
        if not rest.repo_read:
            v.can_push = False


def _rest_rejected(v: Validation, rest: DcRest) -> None:
    v.identity = False
    v.reasons["identity"] = "REST: rejected (401)"
    if v.can_clone is None:
        v.can_clone = v.can_push = False
        v.reasons["clone"] = v.reasons["push"] = "REST: rejected (401)"


Answers = skeleton.Answers[DcRest]  # what the checks of one validation answered

FOLDS: skeleton.Folds[DcRest] = skeleton.Folds(
    clone={
        Outcome.ALLOWED: skeleton.CLONE_ALLOWED,
        **{outcome: skeleton.CLONE_REFUSED
           for outcome in (Outcome.REJECTED, Outcome.MISSING_SCOPE, Outcome.NOT_FOUND)},
    },
    push={
        Outcome.ALLOWED: skeleton.Effect(
            {"push": f"git probe: allowed (200), at least {sc.REPO_WRITE}"}, can_push=True),
        Outcome.MISSING_SCOPE: skeleton.Effect(
            {"push": f"git probe: 403, needs {sc.REPO_WRITE}"}, can_push=False),
        Outcome.REJECTED: skeleton.PUSH_REFUSED,
        Outcome.NOT_FOUND: skeleton.PUSH_REFUSED,
    },
    rest={Outcome.ALLOWED: _rest_accepted, Outcome.REJECTED: _rest_rejected},
)


def _rejected(answers: Answers) -> bool:
    """The token itself was refused: by git, or by REST when git did not answer."""
    clone, rest = answers.clone, answers.rest
    if clone is not None and clone.outcome is Outcome.REJECTED:
        return True
    return (rest is not None and rest.outcome is Outcome.REJECTED
            and (clone is None or clone.outcome in (Outcome.NOT_CHECKED, Outcome.RATE_LIMITED)))


@dataclasses.dataclass
class _DataCenter:
    """The Data Center checks of one validation (the skeleton's `Product`); `username` is
    None for a Bearer token. A git probe's 401 (`refused`) ends what is sent with the token."""

    target: DcTarget
    username: str | None
    line: Channel
    refused: ProbeResult | None = None

    def validation(self) -> Validation:
        return Validation(checked_at=now_iso(), kind="datacenter",
                          authtype=BEARER if self.username is None else None)

    def probe(self, service: str) -> ProbeResult | None:
        if not self.target.names_repository or self.refused is not None:
            return None
        result = probe_git(self.target, self.username, service, self.line)
        if result.outcome is Outcome.REJECTED:
            self.refused = result
        return result

    def rest(self) -> DcRest | None:
        if self.refused is not None:
            return None  # the server rejected the token: never sent again (facts §5)
        return rest_check(self.target, self.username, self.line)

    def conclude(self, v: Validation, answers: Answers) -> None:
        """The explanations, most specific first."""
        problem = (self._rejection(v, answers) if _rejected(answers)
                   else _access_problem(self.target.url, self.username, v, answers))
        if problem is not None:
            v.problems.append(problem)
        if answers.push is not None and answers.push.outcome is Outcome.MISSING_SCOPE:
            v.problems.append(texts.dc_write_missing(self.target.url, self.username))

    def when_nothing_checked(self, v: Validation, answers: Answers) -> None:
        if answers.clone is None and not _rejected(answers):
            v.problems.append(texts.dc_nothing_checked(self.target.url, self.username))

    def _rejection(self, v: Validation, answers: Answers) -> ex.Explanation:
        """Refused (401), from what the server said with its one refusal: Basic disabled on
        the server (then only Bearer can work), or the token; with its denied reason."""
        clone, rest = answers.clone, answers.rest
        said = (clone.reason if clone is not None else "",
                rest.message if rest is not None else "")
        denied = ((clone.denied_reason if clone is not None else None)
                  or (rest.denied_reason if rest is not None else None))
        if self.username is not None and _says_basic_disabled(*said):
            v.authtype = BEARER  # the server said so; the login decides what to keep
            return texts.dc_basic_auth_disabled(self.target.url, self.username, denied)
        return texts.dc_token_rejected(self.target.url, self.username, 401, denied)


def _access_problem(url: str, username: str | None, v: Validation,
                    answers: Answers) -> ex.Explanation | None:
    """The token was accepted: what it may not do on this repository."""
    clone, rest = answers.clone, answers.rest
    if clone is not None and clone.outcome is Outcome.MISSING_SCOPE:
        return texts.dc_read_missing(url, username, 403)
    if clone is not None and clone.outcome is Outcome.NOT_FOUND:
        return texts.dc_no_access(url, clone.status or 404, username)
    if v.can_clone is False and rest is not None and rest.repo_read is False:
        status = clone.status if clone is not None and clone.status else rest.status
        return texts.dc_no_access(url, status or 404, username)
    return None


def validate(target: DcTarget, username: str | None, token: str, deadline: float = 5.0,
             session: requests.Session | None = None) -> Validation:
    """Probe git (with a repository) and REST, as git will send the token: Basic with
    `username`, or Bearer when `username` is None. Never raises for HTTP trouble."""
    with transport.channel(token, target.ca_file, deadline, session) as line:
        return skeleton.run(_DataCenter(target, username, line), FOLDS, target.url)
