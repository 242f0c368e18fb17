"""Bitbucket Cloud REST: what the API says about a token, from as few of today's endpoints as
it takes (docs/bitbucket-facts.md §3).

Asked with Basic `email:token` (§1): `GET /2.0/user` first (who the token belongs to; a 401
there is the one "rejected"), then, only while an answer can still teach something,
`/2.0/repositories/{ws}/{repo}`, `/2.0/repositories/{ws}` and `/2.0/user/workspaces`. A 403
lists every scope the token has (`error.detail.granted`), as `x-oauth-scopes` does on any
answer when Bitbucket sends it; a 200 proves the scopes its endpoint needs. At workspace or
host level the listing also names a repository for the git probes to try. The endpoints
Bitbucket removed in 2026 (`/2.0/workspaces`, `/2.0/repositories` without a workspace,
`/2.0/user/permissions/workspaces`) are never asked; a 404 or 410 means "not checked", and
the next endpoint is asked all the same.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable

from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.checks.answers import Outcome, path_segment, unexpected
from git_credential_bbtoken.checks.transport import Channel, NotChecked, Response

USER = "user"  # needs read:user
USER_WORKSPACES = "user/workspaces?pagelen=1"  # read:user + read:workspace; one is enough
ONE = "?pagelen=1"  # one repository is all a probe needs
GONE = (404, 410)  # an endpoint removed or hidden: not checked, and the next one is asked


@dataclasses.dataclass(frozen=True)
class RestResult:
    """What the REST API told us about the token."""

    outcome: Outcome
    status: int | None = None
    scopes: frozenset[str] | None = None  # the full granted set, when Bitbucket said so
    proven: frozenset[str] = frozenset()  # scopes a 200 proved (with those given to start)
    identity: bool | None = None  # GET /2.0/user allowed
    repo_read: bool | None = None  # GET /2.0/repositories/{ws}/{repo} allowed
    account: str | None = None  # the Bitbucket username /user answered with
    repositories: tuple[str, ...] = ()  # "ws/repo" that /repositories/{ws} listed
    not_checked: tuple[str, ...] = ()  # requests that did not answer, once one did
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


def listed_scopes(response: Response) -> frozenset[str] | None:
    """The token's scopes as an answer lists them: the `x-oauth-scopes` header (reported, not
    documented: used when present, never depended on), else a 403 body's granted list."""
    value = response.headers.get("x-oauth-scopes")
    if value is not None:
        return sc.parse_scope_header(value)
    return _granted_from_error(_json(response.body)) if response.status == 403 else None


class _Learning:
    """One REST learning: what is known so far, and whether another request can add to it."""

    def __init__(self, api_url: str, email: str, line: Channel, proven: Iterable[str]) -> None:
        self.api, self.email, self.line = api_url.rstrip("/"), email, line
        self.scopes: frozenset[str] | None = None  # the whole set, once listed
        self.proven = set(proven)
        self.accepted = False  # an endpoint took the token (200 or 403)
        self.stopped = False  # asking more is pointless (401, 429, 5xx, no answer)
        self.failure: RestResult | None = None  # the result if no endpoint takes the token
        self.notes: list[str] = []  # what did not answer
        self.asked: set[str] = set()

    def worth_asking(self, needs: tuple[str, ...], wanted: bool) -> bool:
        """`wanted`: the answer itself is needed (who the user is, what to probe), not only
        what it proves; never when the token is known to lack what the endpoint needs."""
        if self.scopes is not None:
            return wanted and set(needs) <= self.scopes
        return wanted or not set(needs) <= self.proven

    def ask(self, path: str, needs: tuple[str, ...], wanted: bool = False) -> Response | None:
        """GET {api}/{path} if it can still teach something; the answer when the endpoint
        took the token (200 or 403), else None."""
        if self.stopped or path in self.asked or not self.worth_asking(needs, wanted):
            return None
        self.asked.add(path)
        url = f"{self.api}/{path}"
        answer = self.line.get(url, self.email)
        if isinstance(answer, NotChecked):
            self._fail(RestResult(Outcome.NOT_CHECKED, reason=answer.reason, tls=answer.tls))
        elif answer.status in (200, 403):
            self._learn(answer, needs)
            return answer
        elif answer.status == 401:
            self._fail(RestResult(Outcome.REJECTED, 401))
        else:
            other = unexpected(url, answer, f" to GET /{path.split('?')[0]}")
            self._fail(RestResult(other.outcome, answer.status, reason=other.reason,
                                  retry_after=other.retry_after),
                       stop=answer.status not in GONE)
        return None

    def _learn(self, answer: Response, needs: tuple[str, ...]) -> None:
        self.accepted = True
        listed = listed_scopes(answer)
        if listed is not None:
            self.scopes = listed
        if answer.status == 200:
            self.proven.update(needs)

    def _fail(self, result: RestResult, stop: bool = True) -> None:
        self.stopped = self.stopped or stop
        if self.failure is None or result.outcome is Outcome.REJECTED:
            self.failure = result
        if result.reason and result.reason not in self.notes:
            self.notes.append(result.reason)

    def result(self, **found: Any) -> RestResult:
        if not self.accepted:
            return self.failure or RestResult(Outcome.NOT_CHECKED)
        return RestResult(Outcome.ALLOWED, scopes=self.scopes, proven=frozenset(self.proven),
                          not_checked=tuple(self.notes), **found)


def rest_check(api_url: str, email: str, line: Channel, workspace: str | None = None,
               pair: tuple[str, str] | None = None, proven: Iterable[str] = ()) -> RestResult:
    """Ask REST with Basic email:token what the token may do, about the URL's `workspace`
    or repository (`pair`: workspace, repository); `proven`: scopes the git probes already
    proved, which no endpoint is asked to prove again."""
    learning = _Learning(api_url, email, line, proven)
    identity, account = _identity(learning.ask(USER, (sc.READ_USER,), wanted=True))
    repo_read, repositories = _look_around(learning, workspace, pair)
    return learning.result(identity=identity, account=account, repo_read=repo_read,
                           repositories=repositories)


def _identity(user: Response | None) -> tuple[bool | None, str | None]:
    """Whether /user answered (None: it did not say), and the username it named."""
    if user is None:
        return None, None
    if user.status == 403:
        return False, None
    data = _json(user.body)
    account = data.get("username") if isinstance(data, dict) else None
    return True, account if isinstance(account, str) else None


def _look_around(learning: _Learning, workspace: str | None,
                 pair: tuple[str, str] | None) -> tuple[bool | None, tuple[str, ...]]:
    """After /user: whether the URL's repository may be read (None: not learnt), and the
    repositories listed for the probes when the URL names none."""
    workspace_scopes = (sc.READ_USER, sc.READ_WORKSPACE)
    if pair is not None:
        ws, repo = (path_segment(p) for p in pair)
        answer = learning.ask(f"repositories/{ws}/{repo}", (sc.READ_REPOSITORY,))
        learning.ask(USER_WORKSPACES, workspace_scopes)
        return _repo_read(answer, learning.scopes), ()
    workspace = workspace or _first_workspace(
        learning.ask(USER_WORKSPACES, workspace_scopes, wanted=True))
    repositories: tuple[str, ...] = ()
    if workspace:
        repositories = _listed(workspace, learning.ask(
            f"repositories/{path_segment(workspace)}{ONE}", (sc.READ_REPOSITORY,), wanted=True))
    learning.ask(USER_WORKSPACES, workspace_scopes)
    return None, repositories


def _repo_read(answer: Response | None, scopes: frozenset[str] | None) -> bool | None:
    if answer is None:
        return None
    if answer.status == 200:
        return True
    return sc.READ_REPOSITORY in scopes if scopes is not None else False  # a 403 says no


def _values(answer: Response | None) -> list[dict[str, Any]]:
    """The `values` of a page Bitbucket answered with 200."""
    data = _json(answer.body) if answer is not None and answer.status == 200 else None
    values = data.get("values") if isinstance(data, dict) else None
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def _first_workspace(answer: Response | None) -> str | None:
    """The first workspace a /user/workspaces page names."""
    for access in _values(answer):
        workspace = access.get("workspace")
        slug = workspace.get("slug") if isinstance(workspace, dict) else None
        if isinstance(slug, str) and slug:
            return slug
    return None


def _listed(workspace: str, answer: Response | None) -> tuple[str, ...]:
    """"ws/repo" for each repository a /repositories/{ws} page names. Only the slug is used:
    the probe goes to the host the user logged in to, never to a link from an answer."""
    slugs = (value.get("slug") for value in _values(answer))
    return tuple(f"{workspace}/{slug}" for slug in slugs if isinstance(slug, str) and slug)
