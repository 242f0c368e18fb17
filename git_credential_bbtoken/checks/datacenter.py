"""Bitbucket Data Center / Server: what an HTTP access token can do, bounded in time.

Facts: docs/bitbucket-api-tokens.md, section 5. Personal tokens go to git with Basic
`username:token`; project and repository tokens only as `Authorization: Bearer`. What a token
may do on one repository is learnt from the same safe probes as on Cloud (`info/refs` for
`git-upload-pack` and `git-receive-pack`: a 403 on the second means no REPO_WRITE), and the
REST API under `<url>/rest/api/latest` tells whether the token is accepted and who it is.
When Basic is refused but Bearer works, the token is Bearer-only (a project or repository
token, or basic authentication is disabled on the server): said so, never guessed.

Never imported on the `get` path; HTTP goes through bitbucket.py's one guarded `_get`.
"""

from __future__ import annotations

import dataclasses
import logging
import urllib.parse
from typing import TYPE_CHECKING

from git_credential_bbtoken import debug
from git_credential_bbtoken import explain as ex
from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.checks.cloud import (
    GIT_PROBE,
    RECEIVE_PACK,
    REST,
    UPLOAD_PACK,
    Outcome,
    ProbeResult,
    Secret,
    Validation,
    _Clock,
    _get,
    _now_iso,
    _redirect_reason,
    _Response,
    _status_reason,
    make_session,
)

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

BEARER = "Bearer"
REST_SUFFIX = "/rest/api/latest"
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
        if repo and repo.endswith(".git"):
            repo = repo[:-4] or None
        return cls(base, project, repo, (api_url or base + REST_SUFFIX).rstrip("/"), ca_file)

    @property
    def url(self) -> str:
        if self.project and self.repo:
            return f"{self.base_url}/scm/{self.project}/{self.repo}"
        if self.project:
            return f"{self.base_url}/scm/{self.project}"
        return self.base_url


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def probe_git(target: DcTarget, username: str | None, secret: Secret, service: str,
              session: requests.Session, clock: _Clock) -> ProbeResult:
    """GET `{base}/scm/{P}/{repo}.git/info/refs?service=...` with Basic (or Bearer)."""
    if not (target.project and target.repo):
        return ProbeResult(service, Outcome.NOT_CHECKED, reason="no repository in the URL")
    url = (f"{target.base_url}/scm/{_quote(target.project)}/{_quote(target.repo)}.git/"
           f"info/refs?" + urllib.parse.urlencode({"service": service}))
    answer = _get(session, url, (username, secret), clock, target.ca_file, read_ok_body=False,
                  headers={"User-Agent": "git/2.0 (git-credential-bbtoken)"})
    if not isinstance(answer, _Response):
        return ProbeResult(service, Outcome.NOT_CHECKED, reason=answer[0], tls=answer[1])
    status = answer.status
    text = answer.body.decode("utf-8", "replace").strip()[:300] if status != 200 else ""
    outcomes = {200: Outcome.ALLOWED, 401: Outcome.REJECTED, 403: Outcome.MISSING_SCOPE,
                404: Outcome.NOT_FOUND}
    if status in outcomes:
        return ProbeResult(service, outcomes[status], status, text)
    if status == 429:
        return ProbeResult(service, Outcome.RATE_LIMITED, status, _status_reason(url, status),
                           retry_after=answer.headers.get("Retry-After"))
    if 300 <= status < 400:
        return ProbeResult(service, Outcome.NOT_CHECKED, status, _redirect_reason(url, answer))
    return ProbeResult(service, Outcome.NOT_CHECKED, status, _status_reason(url, status))


@dataclasses.dataclass(frozen=True)
class DcRest:
    outcome: Outcome
    status: int | None = None
    account: str | None = None  # X-AUSERNAME, when the server names the user
    repo_read: bool | None = None
    message: str = ""
    reason: str = ""
    tls: bool = False


def rest_check(target: DcTarget, username: str | None, secret: Secret,
               session: requests.Session, clock: _Clock) -> DcRest:
    """The repository (`GET {api}/projects/{P}/repos/{r}`) when the URL names one, else
    `GET {api}/application-properties`: is the token accepted, and whose is it."""
    api = target.api_url
    if target.project and target.repo:
        url = f"{api}/projects/{_quote(target.project)}/repos/{_quote(target.repo)}"
    else:
        url = f"{api}/application-properties"
    answer = _get(session, url, (username, secret), clock, target.ca_file)
    if not isinstance(answer, _Response):
        return DcRest(Outcome.NOT_CHECKED, reason=answer[0], tls=answer[1])
    status = answer.status
    message = _error_message(answer.body)
    account = answer.headers.get("X-AUSERNAME") or None
    on_repo = bool(target.project and target.repo)
    if status == 200:
        return DcRest(Outcome.ALLOWED, status, account, True if on_repo else None)
    if status == 401:
        return DcRest(Outcome.REJECTED, status, message=message)
    if status in (403, 404) and on_repo:
        return DcRest(Outcome.ALLOWED, status, account, False, message)
    if status == 429:
        return DcRest(Outcome.RATE_LIMITED, status, reason=_status_reason(url, status))
    if 300 <= status < 400:
        return DcRest(Outcome.NOT_CHECKED, status, reason=_redirect_reason(url, answer))
    return DcRest(Outcome.NOT_CHECKED, status, reason=_status_reason(url, status))


def _error_message(body: bytes) -> str:
    """`errors[0].message` of a Data Center error body, or the text itself."""
    import json

    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
        return str(data["errors"][0]["message"])[:300]
    except (ValueError, KeyError, IndexError, TypeError):
        return text.strip()[:300]


def _says_basic_disabled(*texts: str) -> bool:
    return any(all(word in text.lower() for word in _BASIC_DISABLED_WORDS) for text in texts)


def validate(target: DcTarget, username: str | None, token: str, deadline: float = 5.0,
             session: requests.Session | None = None) -> Validation:
    """Probe git (with a repository) and REST, as git will send the token: Basic with
    `username`, or Bearer when `username` is None. Never raises for HTTP trouble."""
    debug.register_secret(token)
    secret = Secret(token)
    clock = _Clock(deadline)
    own = session is None
    session = session or make_session()
    try:
        return _validate(target, username, secret, clock, session)
    finally:
        if own:
            session.close()


def _validate(target: DcTarget, username: str | None, secret: Secret, clock: _Clock,
              session: requests.Session) -> Validation:
    v = Validation(checked_at=_now_iso(), kind="datacenter",
                   authtype=BEARER if username is None else None)
    url = target.url
    add = v.problems.append
    tls = False
    rate_limited: str | None | bool = False

    def note(reason: str, was_tls: bool = False) -> None:
        nonlocal tls
        if reason and reason not in v.not_checked:
            v.not_checked.append(reason)
        tls = tls or was_tls

    clone = push = None
    if target.project and target.repo:
        clone = probe_git(target, username, secret, UPLOAD_PACK, session, clock)
        if clone.outcome is Outcome.ALLOWED:
            push = probe_git(target, username, secret, RECEIVE_PACK, session, clock)
    rest = rest_check(target, username, secret, session, clock)

    if clone is not None and clone.outcome not in (Outcome.NOT_CHECKED, Outcome.RATE_LIMITED):
        v.sources.append(GIT_PROBE)
    if rest.outcome in (Outcome.ALLOWED, Outcome.REJECTED):
        v.sources.append(REST)

    # -- git probes: the ground truth for this repository.
    if clone is not None:
        if clone.outcome is Outcome.ALLOWED:
            v.can_clone, v.username_ok = True, True
            v.reasons["clone"] = "git probe: allowed (200)"
        elif clone.outcome in (Outcome.REJECTED, Outcome.MISSING_SCOPE, Outcome.NOT_FOUND):
            v.can_clone = v.can_push = False
            v.reasons["clone"] = v.reasons["push"] = f"git probe: {clone.status}"
        elif clone.outcome is Outcome.RATE_LIMITED:
            rate_limited = clone.retry_after
            note(clone.reason)
        else:
            note(clone.reason, clone.tls)
    if push is not None:
        if push.outcome is Outcome.ALLOWED:
            v.can_push = True
            v.reasons["push"] = f"git probe: allowed (200), at least {sc.REPO_WRITE}"
        elif push.outcome in (Outcome.MISSING_SCOPE, Outcome.REJECTED, Outcome.NOT_FOUND):
            v.can_push = False
            v.reasons["push"] = (f"git probe: 403, needs {sc.REPO_WRITE}"
                                 if push.outcome is Outcome.MISSING_SCOPE
                                 else f"git probe: {push.status}")
        elif push.outcome is Outcome.RATE_LIMITED:
            rate_limited = push.retry_after
            note(push.reason)
        else:
            note(push.reason, push.tls)

    # -- REST: accepted, and whose token.
    if rest.outcome is Outcome.ALLOWED:
        v.identity = True
        v.account = rest.account
        v.reasons["identity"] = f"REST: accepted ({rest.status})" + (
            f" as {rest.account}" if rest.account else "")
        if v.can_clone is None and rest.repo_read is not None:
            v.can_clone = rest.repo_read
            v.reasons["clone"] = f"REST repository: {rest.status}"
            if not rest.repo_read:
                v.can_push = False
    elif rest.outcome is Outcome.REJECTED:
        v.identity = False
        v.reasons["identity"] = "REST: rejected (401)"
        if v.can_clone is None:
            v.can_clone = v.can_push = False
            v.reasons["clone"] = v.reasons["push"] = "REST: rejected (401)"
    elif rest.outcome is Outcome.RATE_LIMITED:
        rate_limited = None
        note(rest.reason)
    else:
        note(rest.reason, rest.tls)

    # -- explanations, most specific first.
    rejected = (clone is not None and clone.outcome is Outcome.REJECTED) or (
        rest.outcome is Outcome.REJECTED and (clone is None or clone.outcome
                                              in (Outcome.NOT_CHECKED, Outcome.RATE_LIMITED)))
    if rejected:
        texts = [clone.reason if clone is not None else "", rest.message]
        if username is not None and _works_as_bearer(target, secret, session, clock):
            v.authtype = BEARER  # what would work; the login decides what to keep
            add(ex.dc_basic_auth_disabled(url, username) if _says_basic_disabled(*texts)
                else ex.dc_bearer_only(url, username))
        else:
            add(ex.dc_token_rejected(url, username, 401))
    elif clone is not None and clone.outcome is Outcome.MISSING_SCOPE:
        add(ex.dc_read_missing(url, username, 403))
    elif (clone is not None and clone.outcome is Outcome.NOT_FOUND) or (
            v.can_clone is False and rest.repo_read is False):
        add(ex.dc_no_access(url, (clone.status if clone is not None and clone.status
                                  else rest.status) or 404, username))
    if push is not None and push.outcome is Outcome.MISSING_SCOPE:
        add(ex.dc_write_missing(url, username))
    if rate_limited is not False:
        add(ex.rate_limited(url, rate_limited))
    elif v.not_checked:
        add(ex.not_checked(url, v.not_checked, tls, partial=bool(v.sources)))
    if clone is None and not rejected:
        add(ex.dc_nothing_checked(url, username))
    log.debug("datacenter validation of %s: clone=%s push=%s rest=%s authtype=%s problems=%s",
              url, v.can_clone, v.can_push, rest.outcome.value, v.authtype, v.problem_ids)
    return v


def _works_as_bearer(target: DcTarget, secret: Secret, session: requests.Session,
                     clock: _Clock) -> bool:
    """Basic was refused: would the same token work as a Bearer token? One request."""
    if target.project and target.repo:
        return probe_git(target, None, secret, UPLOAD_PACK, session,
                         clock).outcome is Outcome.ALLOWED
    return rest_check(target, None, secret, session, clock).outcome is Outcome.ALLOWED
