"""Ask Bitbucket what a token can do: git `info/refs` probes and REST checks, bounded in time.

The only module that imports `requests`; it is never imported on the `get` path when a
credential is stored. It never raises a `requests` exception, never sends the token anywhere
but `Target.base_url` and `Target.api_url`, never follows a redirect with it, and never puts
it in a message or a log line. Facts: docs/bitbucket-api-tokens.md, sections 1 and 3.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import logging
import time
import urllib.parse
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple

from git_credential_bbtoken import __version__, debug
from git_credential_bbtoken import explain as ex
from git_credential_bbtoken import scopes as sc

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.bitbucket.org/2.0"
UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
# Per-socket-operation limits; each is also capped by what is left of the overall deadline.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 4.0
# Below this much time left a request would only time out; say "not checked" instead.
MIN_REQUEST_TIME = 0.05
BODY_LIMIT = 16 * 1024  # error bodies are small; a 200 ref advertisement is never read
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SCOPE_TEXT = "lack one or more required privilege scopes"  # Bitbucket's 403 body, git and REST

GIT_PROBE = "git-probe"
REST = "rest"


class Secret:
    """A token that prints as `<redacted>`, so no repr, f-string or log line can leak it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(<redacted>)"

    __str__ = __repr__


@dataclasses.dataclass(frozen=True)
class Target:
    """Where to check: the git host, maybe a repository, the REST base, and git's CA file."""

    base_url: str  # https://bitbucket.org or https://127.0.0.1:PORT
    repo_path: str | None = None  # "ws/repo", "ws/repo.git" or None
    api_url: str = DEFAULT_API_URL
    ca_file: str | None = None  # git's http.sslCAInfo / GIT_SSL_CAINFO, if set
    display_url: str | None = None  # the URL named in explanations; default base + repo

    @classmethod
    def for_url(cls, url: str, api_url: str = DEFAULT_API_URL,
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
        repo = segments[1][:-4] if segments[1].endswith(".git") else segments[1]
        return (segments[0], repo) if repo else None

    @property
    def url(self) -> str:
        if self.display_url:
            return self.display_url
        pair = self.workspace_and_repo
        return self.base_url.rstrip("/") + (f"/{pair[0]}/{pair[1]}" if pair else "")


class Outcome(str, enum.Enum):
    """What one request told us."""

    ALLOWED = "allowed"  # 200 (REST: the token was accepted)
    MISSING_SCOPE = "missing-scope"  # 403
    REJECTED = "rejected"  # 401
    RETIRED = "retired"  # 410 from git: an app password
    NOT_FOUND = "not-found"  # 404 from git: no such repository, or no access
    RATE_LIMITED = "rate-limited"  # 429
    NOT_CHECKED = "not-checked"  # anything else: unreachable, timeout, TLS, 5xx, redirect


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """The answer to one `info/refs?service=...` probe."""

    service: str
    outcome: Outcome
    status: int | None = None
    reason: str = ""  # why it was not checked, or what the server said
    retry_after: str | None = None
    tls: bool = False
    scope_text: bool = False  # the 403 body named missing scopes (not a repo permission)


@dataclasses.dataclass(frozen=True)
class RestResult:
    """What the REST API told us about the token."""

    outcome: Outcome
    status: int | None = None
    scopes: frozenset[str] | None = None  # the full granted set, when Bitbucket said so
    present: frozenset[str] = frozenset()  # scopes known to be granted (full set unknown)
    identity: bool | None = None  # GET /2.0/user allowed
    repo_read: bool | None = None  # GET /2.0/repositories/{ws}/{repo} allowed
    account: str | None = None  # the Bitbucket username /user answered with
    credential_type: str | None = None
    reason: str = ""
    retry_after: str | None = None
    tls: bool = False


class _OutOfTime(Exception):
    """The overall deadline leaves no time for another request."""


class _Clock:
    """One deadline across every request of a validation."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def timeout(self) -> tuple[float, float]:
        left = self.end - time.monotonic()
        if left < MIN_REQUEST_TIME:
            raise _OutOfTime()
        # requests applies the read timeout per socket read, so capping both by what is
        # left bounds a validation to about the deadline even against a slow server.
        return (min(CONNECT_TIMEOUT, left), min(READ_TIMEOUT, left))


def make_session() -> requests.Session:
    """The one HTTP session: proxies and REQUESTS_CA_BUNDLE from the environment, no retries."""
    import requests

    session = requests.Session()
    session.trust_env = True  # HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE (never verify=False)
    session.headers["User-Agent"] = f"git-credential-bbtoken/{__version__}"
    return session


class _Response(NamedTuple):
    status: int
    headers: Mapping[str, str]
    body: bytes


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _refuse_plain_http(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and (parts.hostname or "") in LOOPBACK:
        return None  # the test rig and local mirrors
    return f"refusing to send a token over {parts.scheme or 'an unknown scheme'} to {_host(url)}"


def _get(session: requests.Session, url: str, auth: tuple[str | None, Secret], clock: _Clock,
         ca_file: str | None, read_ok_body: bool = True,
         headers: Mapping[str, str] | None = None) -> _Response | tuple[str, bool]:
    """One GET with Basic auth (or Bearer, when the username is None: Data Center project
    and repository tokens); a `_Response`, or (why it was not checked, was it TLS)."""

    refused = _refuse_plain_http(url)
    if refused:
        return refused, False
    host = _host(url)
    try:
        timeout = clock.timeout()
    except _OutOfTime:
        return f"the {clock.seconds:g} s time limit ran out before asking {host}", False
    # An explicit verify= wins over REQUESTS_CA_BUNDLE inside requests; passing True lets
    # the environment's bundle apply when git names no CA file.
    verify: bool | str = ca_file if ca_file else True
    sent = dict(headers or {})
    if auth[0] is None:
        sent["Authorization"] = f"Bearer {auth[1].reveal()}"
    try:
        response = session.get(
            url, auth=(auth[0], auth[1].reveal()) if auth[0] is not None else None,
            timeout=timeout, verify=verify, allow_redirects=False, stream=True, headers=sent)
    except Exception as exc:  # noqa: BLE001 - nothing from requests may reach the user
        _debug_exception(url, exc, auth[1])
        return _failure_reason(exc, host, ca_file)
    try:
        body = b""
        # A 200 ref advertisement can be megabytes and tells us nothing more: skip it.
        if response.status_code != 200 or read_ok_body:
            try:
                body = response.raw.read(BODY_LIMIT, decode_content=True) or b""
            except Exception as exc:  # noqa: BLE001 - a body cut short is still an answer
                _debug_exception(url, exc, auth[1])
        log.debug("GET %s -> %s", url, response.status_code)
        return _Response(response.status_code, response.headers, body)
    finally:
        response.close()


def _failure_reason(exc: Exception, host: str, ca_file: str | None) -> tuple[str, bool]:
    """Why a request got no answer, in words, and whether TLS was the cause. The most
    specific classes first: SSLError and ProxyError are ConnectionErrors, ConnectTimeout is
    a Timeout."""
    import requests

    errors = requests.exceptions
    for kind, reason, tls in (
            (errors.SSLError, f"the TLS certificate check failed for {host}", True),
            (errors.ProxyError, f"the proxy failed to reach {host}", False),
            (errors.ConnectTimeout, f"timed out connecting to {host}", False),
            (errors.Timeout, f"{host} did not answer in time", False),
            (errors.ConnectionError, f"could not connect to {host}", False)):
        if isinstance(exc, kind):
            return reason, tls
    # requests raises a bare OSError for a CA file it cannot read (not a RequestException).
    if isinstance(exc, OSError) and not isinstance(exc, errors.RequestException) and ca_file:
        return f"could not use the CA file {ca_file}", True
    return f"the request to {host} failed ({type(exc).__name__})", False


def _debug_exception(url: str, exc: BaseException, token: Secret) -> None:
    # Exception texts from urllib3 carry URLs, not headers; replace the token anyway.
    text = str(exc).replace(token.reveal(), debug.REDACTED) if token.reveal() else str(exc)
    log.debug("GET %s failed: %s: %s", url, type(exc).__name__, text)


def _redirect_reason(url: str, response: _Response) -> str:
    location = response.headers.get("Location", "")
    where = _host(urllib.parse.urljoin(url, location)) if location else "elsewhere"
    return (f"{_host(url)} redirected ({response.status}) to {where}; the token was not sent "
            "there")


def _status_reason(url: str, status: int) -> str:
    return f"{_host(url)} answered {status}"


# -- the git probe ----------------------------------------------------------------------------


def probe_git(target: Target, username: str, token: str | Secret, service: str,
              session: requests.Session | None = None,
              deadline: float | None = None, _clock: _Clock | None = None) -> ProbeResult:
    """GET `{base}/{ws}/{repo}.git/info/refs?service=...`: what git itself would be told."""
    pair = target.workspace_and_repo
    if pair is None:
        return ProbeResult(service, Outcome.NOT_CHECKED, reason="no repository in the URL")
    secret = token if isinstance(token, Secret) else Secret(token)
    clock = _clock or _Clock(deadline if deadline is not None else 5.0)
    own = session is None
    session = session or make_session()
    try:
        ws, repo = (urllib.parse.quote(p, safe="") for p in pair)
        url = (f"{target.base_url.rstrip('/')}/{ws}/{repo}.git/info/refs?"
               + urllib.parse.urlencode({"service": service}))
        # Smart-HTTP servers decide by User-Agent whether a client speaks git.
        answer = _get(session, url, (username, secret), clock, target.ca_file,
                      headers={"User-Agent": f"git/2.0 (git-credential-bbtoken/{__version__})"},
                      read_ok_body=False)
    finally:
        if own:
            session.close()
    if not isinstance(answer, _Response):
        return ProbeResult(service, Outcome.NOT_CHECKED, reason=answer[0], tls=answer[1])
    status = answer.status
    text = answer.body.decode("utf-8", "replace") if status != 200 else ""
    if status == 200:
        return ProbeResult(service, Outcome.ALLOWED, status)
    if status == 403:
        return ProbeResult(service, Outcome.MISSING_SCOPE, status, text.strip()[:300],
                           scope_text=SCOPE_TEXT in text)
    if status == 401:
        return ProbeResult(service, Outcome.REJECTED, status, text.strip()[:300])
    if status == 410:
        return ProbeResult(service, Outcome.RETIRED, status, text.strip()[:300])
    if status == 404:
        return ProbeResult(service, Outcome.NOT_FOUND, status, text.strip()[:300])
    if status == 429:
        return ProbeResult(service, Outcome.RATE_LIMITED, status, _status_reason(url, status),
                           retry_after=answer.headers.get("Retry-After"))
    if 300 <= status < 400:
        return ProbeResult(service, Outcome.NOT_CHECKED, status, _redirect_reason(url, answer))
    return ProbeResult(service, Outcome.NOT_CHECKED, status, _status_reason(url, status))


# -- the REST check ---------------------------------------------------------------------------


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def _granted_from_error(data: Any) -> frozenset[str] | None:
    """`error.detail.granted` of a 403: the token's own scopes (facts doc, section 3)."""
    try:
        granted = data["error"]["detail"]["granted"]
    except (KeyError, TypeError):
        return None
    if not isinstance(granted, list):
        return None
    return sc.normalize_scopes(granted)


def _header_scopes(response: _Response) -> frozenset[str] | None:
    # Reported, not documented: use it when present, never depend on it.
    value = response.headers.get("x-oauth-scopes")
    return None if value is None else sc.parse_scope_header(value)


def rest_check(target: Target, email: str, token: str | Secret,
               session: requests.Session | None = None, deadline: float | None = None,
               _clock: _Clock | None = None) -> RestResult:
    """`GET {api}/user` with Basic email:token; learn the scopes; one more request if needed."""
    secret = token if isinstance(token, Secret) else Secret(token)
    clock = _clock or _Clock(deadline if deadline is not None else 5.0)
    own = session is None
    session = session or make_session()
    try:
        return _rest_check(target, email, secret, session, clock)
    finally:
        if own:
            session.close()


def _rest_check(target: Target, email: str, secret: Secret, session: requests.Session,
                clock: _Clock) -> RestResult:
    api = target.api_url.rstrip("/")
    url = f"{api}/user"
    answer = _get(session, url, (email, secret), clock, target.ca_file)
    if not isinstance(answer, _Response):
        return RestResult(Outcome.NOT_CHECKED, reason=answer[0], tls=answer[1])
    status = answer.status
    kind = answer.headers.get("x-credential-type")
    scopes = _header_scopes(answer)
    data = _json(answer.body)
    if status == 401:
        return RestResult(Outcome.REJECTED, status, credential_type=kind)
    if status == 429:
        return RestResult(Outcome.RATE_LIMITED, status, reason=_status_reason(url, status),
                          retry_after=answer.headers.get("Retry-After"))
    if status == 403:
        granted = _granted_from_error(data)
        return RestResult(Outcome.ALLOWED, status, scopes=scopes if scopes is not None
                          else granted, identity=False, credential_type=kind)
    if status != 200:
        # An unexpected 404/410 has been reported for /user: "not checked", never "invalid".
        reason = (_redirect_reason(url, answer) if 300 <= status < 400
                  else f"{_status_reason(url, status)} to GET /user")
        return RestResult(Outcome.NOT_CHECKED, status, reason=reason)
    account = data.get("username") if isinstance(data, dict) else None
    account = account if isinstance(account, str) else None
    if scopes is not None:
        return RestResult(Outcome.ALLOWED, status, scopes=scopes, identity=True,
                          account=account, credential_type=kind)
    # 200 without the header: /user proved read:user. One more request to an endpoint
    # needing another scope: a 403 lists every granted scope, a 200 proves that scope.
    present = {sc.READ_USER}
    pair = target.workspace_and_repo
    if pair is not None:
        ws, repo = (urllib.parse.quote(p, safe="") for p in pair)
        second, proves = f"{api}/repositories/{ws}/{repo}", sc.READ_REPOSITORY
    else:
        second, proves = f"{api}/workspaces?pagelen=1", sc.READ_WORKSPACE
    more = _get(session, second, (email, secret), clock, target.ca_file)
    repo_read: bool | None = None
    result_scopes: frozenset[str] | None = None
    if isinstance(more, _Response):
        result_scopes = _header_scopes(more)
        if more.status == 200:
            present.add(proves)
            repo_read = True if pair is not None else None
        elif more.status == 403:
            granted = _granted_from_error(_json(more.body))
            result_scopes = result_scopes if result_scopes is not None else granted
            if pair is not None and result_scopes is None:
                repo_read = False
        # Anything else (404, 429, 5xx, timeout) teaches nothing more; /user already answered.
    if result_scopes is not None:
        if pair is not None and repo_read is None:
            repo_read = sc.READ_REPOSITORY in result_scopes
        return RestResult(Outcome.ALLOWED, status, scopes=result_scopes, identity=True,
                          repo_read=repo_read, account=account, credential_type=kind)
    return RestResult(Outcome.ALLOWED, status, present=frozenset(present), identity=True,
                      repo_read=repo_read, account=account, credential_type=kind)


# -- the validation ---------------------------------------------------------------------------


class VerdictRow(NamedTuple):
    what: str
    answer: str  # yes | no | unknown
    why: str


def _answer(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


@dataclasses.dataclass
class Validation:
    """What is known about a token; JSON-safe via `to_dict`, and never holds the token."""

    scopes: frozenset[str] | None = None  # None: unknown
    can_clone: bool | None = None
    can_push: bool | None = None
    identity: bool | None = None
    username_ok: bool | None = None
    checked_at: str = ""
    sources: list[str] = dataclasses.field(default_factory=list)
    problems: list[ex.Explanation] = dataclasses.field(default_factory=list)
    not_checked: list[str] = dataclasses.field(default_factory=list)
    account: str | None = None  # Bitbucket username reported by /2.0/user
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)  # verdict -> why
    kind: str = "cloud"  # or "datacenter" (datacenter.py): permissions, not scopes
    authtype: str | None = None  # "Bearer" when the token works only as a Bearer token

    @property
    def problem_ids(self) -> list[str]:
        return [p.id for p in self.problems]

    @property
    def checked_anything(self) -> bool:
        return bool(self.sources)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scopes": None if self.scopes is None else sc.sort_scopes(self.scopes),
            "can_clone": self.can_clone,
            "can_push": self.can_push,
            "identity": self.identity,
            "username_ok": self.username_ok,
            "checked_at": self.checked_at,
            "sources": list(self.sources),
            "problems": [p.to_dict() for p in self.problems],
            "not_checked": list(self.not_checked),
            "account": self.account,
            "reasons": dict(self.reasons),
            "kind": self.kind,
            "authtype": self.authtype,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Validation:
        """Forgiving: missing or malformed fields read as unknown."""
        if not isinstance(data, Mapping):
            return cls()

        def flag(key: str) -> bool | None:
            value = data.get(key)
            return value if isinstance(value, bool) else None

        def strings(key: str) -> list[str]:
            value = data.get(key)
            return [str(v) for v in value] if isinstance(value, list) else []

        raw_scopes = data.get("scopes")
        problems = [ex.Explanation.from_dict(p) for p in data.get("problems") or []
                    if isinstance(p, Mapping)]
        reasons = data.get("reasons")
        account = data.get("account")
        return cls(
            scopes=sc.normalize_scopes(raw_scopes) if isinstance(raw_scopes, list) else None,
            can_clone=flag("can_clone"), can_push=flag("can_push"), identity=flag("identity"),
            username_ok=flag("username_ok"), checked_at=str(data.get("checked_at") or ""),
            sources=strings("sources"), problems=problems, not_checked=strings("not_checked"),
            account=account if isinstance(account, str) else None,
            reasons={str(k): str(v) for k, v in reasons.items()}
            if isinstance(reasons, Mapping) else {},
            kind=str(data.get("kind") or "cloud"),
            authtype=data.get("authtype") if isinstance(data.get("authtype"), str) else None,
        )

    def verdict_table(self) -> list[VerdictRow]:
        """Rows for `login`/`doctor`: what the token can do, yes/no/unknown, and why."""
        if self.kind == "datacenter":
            return [
                VerdictRow("clone", _answer(self.can_clone),
                           self.reasons.get("clone", "not checked: the URL names no repository")),
                VerdictRow("push", _answer(self.can_push),
                           self.reasons.get("push", "not checked: the URL names no repository")),
                VerdictRow("REST API", _answer(self.identity),
                           self.reasons.get("identity", "not checked")),
            ]
        rows = [
            VerdictRow("clone", _answer(self.can_clone), self._why("clone", sc.Operation.CLONE)),
            VerdictRow("push", _answer(self.can_push), self._why("push", sc.Operation.PUSH)),
            VerdictRow("identity (Sourcetree, IDEs)", _answer(self.identity),
                       self._why("identity", sc.Operation.IDENTITY)),
        ]
        for label, operation in (("workspaces", sc.Operation.WORKSPACES),
                                 ("pull requests (read)", sc.Operation.PULL_REQUESTS_READ),
                                 ("pull requests (write)", sc.Operation.PULL_REQUESTS_WRITE)):
            value = None if self.scopes is None else sc.can(operation, self.scopes)
            rows.append(VerdictRow(label, _answer(value), self._why("", operation)))
        return rows

    def _why(self, key: str, operation: str) -> str:
        if key and key in self.reasons:
            return self.reasons[key]
        if self.scopes is None:
            if REST in self.sources:
                return "unknown: Bitbucket did not list the token's scopes"
            if self.not_checked:
                return f"not checked: {self.not_checked[0]}"
            return "not checked: scopes are learned with --email"
        missing = sc.missing_scopes(operation, self.scopes)
        if missing:
            return "lacks " + ", ".join(missing)
        return "has " + ", ".join(sc.NEEDS[operation])


def validate(target: Target, git_username: str, token: str, email: str | None = None,
             deadline: float = 5.0, session: requests.Session | None = None) -> Validation:
    """Probe git (when a repository is known) and REST (when an email is given), within
    `deadline` seconds overall, and explain what will go wrong. Never raises for HTTP trouble."""
    debug.register_secret(token)
    secret = Secret(token)
    clock = _Clock(deadline)
    own = session is None
    session = session or make_session()
    try:
        return _validate(target, git_username, secret, email, clock, session)
    finally:
        if own:
            session.close()


def _validate(target: Target, git_username: str, secret: Secret, email: str | None,
              clock: _Clock, session: requests.Session) -> Validation:
    v = Validation(checked_at=_now_iso())
    url = target.url
    tls = False
    rate_limit: str | None | bool = False  # False: not limited; else the Retry-After value
    clone: ProbeResult | None = None
    push: ProbeResult | None = None

    def note(reason: str, was_tls: bool = False) -> None:
        nonlocal tls
        if reason and reason not in v.not_checked:
            v.not_checked.append(reason)
        tls = tls or was_tls

    if target.workspace_and_repo is not None:
        clone = probe_git(target, git_username, secret, UPLOAD_PACK, session, _clock=clock)
        if clone.outcome is Outcome.ALLOWED:
            push = probe_git(target, git_username, secret, RECEIVE_PACK, session, _clock=clock)
    rest = (rest_check(target, email, secret, session, _clock=clock)
            if email else None)

    # -- git probes: the ground truth for this repository.
    if clone is not None:
        if clone.outcome is Outcome.ALLOWED:
            v.can_clone, v.username_ok = True, True
            v.reasons["clone"] = "git probe: allowed (200)"
        elif clone.outcome is Outcome.MISSING_SCOPE:
            v.can_clone, v.can_push, v.username_ok = False, False, True
            v.reasons["clone"] = f"git probe: 403, lacks {sc.READ_REPOSITORY}"
            v.reasons["push"] = f"pushing needs {sc.READ_REPOSITORY} as well"
        elif clone.outcome in (Outcome.REJECTED, Outcome.RETIRED, Outcome.NOT_FOUND):
            v.can_clone, v.can_push = False, False
            v.reasons["clone"] = v.reasons["push"] = f"git probe: {clone.status}"
            if ex.looks_like_email(git_username):
                v.username_ok = False
        elif clone.outcome is Outcome.RATE_LIMITED:
            rate_limit = clone.retry_after
            note(clone.reason)
        else:
            note(clone.reason, clone.tls)
        if clone.outcome not in (Outcome.NOT_CHECKED, Outcome.RATE_LIMITED):
            v.sources.append(GIT_PROBE)
    if push is not None:
        if push.outcome is Outcome.ALLOWED:
            v.can_push = True
            v.reasons["push"] = "git probe: allowed (200)"
        elif push.outcome in (Outcome.MISSING_SCOPE, Outcome.REJECTED, Outcome.RETIRED,
                              Outcome.NOT_FOUND):
            v.can_push = False
            v.reasons["push"] = (f"git probe: 403, lacks {sc.WRITE_REPOSITORY}"
                                 if push.outcome is Outcome.MISSING_SCOPE
                                 else f"git probe: {push.status}")
        elif push.outcome is Outcome.RATE_LIMITED:
            rate_limit = push.retry_after
            note(push.reason)
        else:
            note(push.reason, push.tls)

    # -- REST: the scopes, identity, and whether the token itself is accepted.
    rest_accepted = False
    if rest is not None:
        if rest.outcome is Outcome.ALLOWED:
            rest_accepted = True
            v.sources.append(REST)
            v.scopes = rest.scopes
            v.identity = rest.identity
            v.account = rest.account
            v.reasons["identity"] = ("REST /user: allowed (200)" if rest.identity
                                     else f"REST /user: 403, lacks {sc.READ_USER}")
            if v.can_clone is None and rest.repo_read is not None:
                v.can_clone = rest.repo_read
                v.reasons["clone"] = ("REST repository: allowed (200)" if rest.repo_read
                                      else f"REST repository: 403, lacks {sc.READ_REPOSITORY}")
        elif rest.outcome is Outcome.REJECTED:
            v.sources.append(REST)
            v.reasons["identity"] = "REST /user: rejected (401)"
        elif rest.outcome is Outcome.RATE_LIMITED:
            rate_limit = rest.retry_after
            note(rest.reason)
        else:
            note(rest.reason, rest.tls)

    # -- what the scopes say where no probe answered.
    if v.scopes is not None:
        if v.can_clone is None:
            v.can_clone = sc.can(sc.Operation.CLONE, v.scopes)
        if v.can_push is None and (v.can_clone is not False or clone is None):
            v.can_push = sc.can(sc.Operation.PUSH, v.scopes)
        if v.identity is None:
            v.identity = sc.can(sc.Operation.IDENTITY, v.scopes)

    _explain(v, target, url, git_username, secret, email, clone, push, rest, rest_accepted)
    if rate_limit is not False:
        v.problems.append(ex.rate_limited(url, rate_limit))
    elif v.not_checked:
        v.problems.append(ex.not_checked(url, v.not_checked, tls, partial=bool(v.sources)))
    if clone is None and rest is None:
        v.not_checked.append("no repository in the URL and no email given")
        v.problems.append(ex.nothing_checked(url))
    log.debug("validation of %s: clone=%s push=%s identity=%s scopes=%s sources=%s problems=%s",
              url, v.can_clone, v.can_push, v.identity,
              None if v.scopes is None else sorted(v.scopes), v.sources, v.problem_ids)
    return v


def _explain(v: Validation, target: Target, url: str, git_username: str, secret: Secret,
             email: str | None, clone: ProbeResult | None, push: ProbeResult | None,
             rest: RestResult | None, rest_accepted: bool) -> None:
    """Choose the explanations, most specific first, without repeating one cause twice."""
    granted = v.scopes
    add = v.problems.append
    if clone is not None and clone.outcome in (Outcome.REJECTED, Outcome.RETIRED):
        if rest_accepted and clone.outcome is Outcome.REJECTED:
            # REST accepted the token, so git refused the username or this repository.
            if ex.looks_like_email(git_username):
                add(ex.email_as_git_username(url, git_username))
            else:
                add(ex.no_access(url, 401, git_username))
        else:
            add(ex.for_rejection(url, git_username, secret.reveal(), clone.status or 401))
    elif clone is not None and clone.outcome is Outcome.NOT_FOUND:
        add(ex.no_access(url, clone.status or 404))
    elif clone is not None and clone.outcome is Outcome.MISSING_SCOPE:
        add(ex.read_missing(url, granted))
    elif v.can_clone is False and clone is None and (
            granted is None or sc.has_any_bitbucket_scope(granted)):
        add(ex.read_missing(url, granted))  # (no Bitbucket scope at all is explained below)
    if push is not None and push.outcome is Outcome.MISSING_SCOPE:
        has_write = granted is not None and sc.WRITE_REPOSITORY in granted
        add(ex.write_missing(url, granted, maybe_permission=has_write or not push.scope_text))
    elif v.can_push is False and v.can_clone is True and push is None:
        add(ex.write_missing(url, granted))

    if rest is not None and rest.outcome is Outcome.REJECTED:
        git_accepted = clone is not None and clone.outcome in (Outcome.ALLOWED,
                                                                Outcome.MISSING_SCOPE)
        git_rejected = clone is not None and clone.outcome in (Outcome.REJECTED,
                                                                Outcome.RETIRED)
        if git_accepted or not ex.looks_like_email(email):
            add(ex.rest_needs_email(url, email or "", git_accepted))
        elif not git_rejected:  # else the git explanation already covers it
            add(ex.token_rejected(url, None, 401))
    if granted is not None and not sc.has_any_bitbucket_scope(granted):
        add(ex.no_bitbucket_scopes(url, granted))
    elif v.identity is False:
        add(ex.identity_missing(url, granted))
