"""The one guarded GET that every check goes through, bounded in time.

It refuses plain http (except to loopback), never follows a redirect (the token would go with
it), reads at most `BODY_LIMIT` bytes of a body, never raises a `requests` exception, and never
puts the token in a message or a log line: a request that got no answer is a `NotChecked`
(why, in words, and whether TLS was the cause). It reaches each URL as git would (`routes`:
git's CAs on top of the system trust store, git's proxy, never ~/.netrc), and sends nothing
where git's config turns certificate checks off. Facts: docs/bitbucket-facts.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
import urllib.parse
from typing import TYPE_CHECKING, Iterator, Mapping, NamedTuple

from git_credential_bbtoken import __version__, debug
from git_credential_bbtoken.common import LOOPBACK_HOSTS

if TYPE_CHECKING:
    import requests

    from git_credential_bbtoken.checks.routes import Routes

log = logging.getLogger(__name__)

# Per-socket-operation limits; each is also capped by what is left of the overall deadline.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 4.0
# Below this much time left a request would only time out; say "not checked" instead.
MIN_REQUEST_TIME = 0.05
BODY_LIMIT = 16 * 1024  # error bodies are small; a 200 ref advertisement is never read


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


class OutOfTime(Exception):
    """The overall deadline leaves no time for another request."""


class Clock:
    """One deadline across every request of a validation."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def timeout(self) -> tuple[float, float]:
        left = self.end - time.monotonic()
        if left < MIN_REQUEST_TIME:
            raise OutOfTime()
        # requests applies the read timeout per socket read, so capping both by what is
        # left bounds a validation to about the deadline even against a slow server.
        return (min(CONNECT_TIMEOUT, left), min(READ_TIMEOUT, left))


def make_session() -> requests.Session:
    """The one HTTP session, no retries. It reads nothing from the environment itself
    (`routes.prepare` turns requests' own lookups off, ~/.netrc among them): `routes` decides
    proxies and CAs per URL, the way git does."""
    import requests  # only the checks pay for importing requests

    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = f"git-credential-bbtoken/{__version__}"
    return session


class Response(NamedTuple):
    """What a server answered: the status, the headers, and at most `BODY_LIMIT` of the body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclasses.dataclass(frozen=True)
class NotChecked:
    """A request that got no answer: why, in words, and whether TLS was the cause."""

    reason: str
    tls: bool = False


def _netloc(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def redirect_reason(url: str, response: Response) -> str:
    location = response.headers.get("Location", "")
    where = _netloc(urllib.parse.urljoin(url, location)) if location else "elsewhere"
    return (f"{_netloc(url)} redirected ({response.status}) to {where}; the token was not sent "
            "there")


def status_reason(url: str, status: int) -> str:
    return f"{_netloc(url)} answered {status}"


def _refuse_plain_http(url: str) -> NotChecked | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS:
        return None  # the test rig and local mirrors
    return NotChecked(f"refusing to send a token over {parts.scheme or 'an unknown scheme'} "
                      f"to {_netloc(url)}")


@dataclasses.dataclass(frozen=True)
class Channel:
    """One validation's way to Bitbucket: one session, one deadline, how git reaches each
    URL (`routes`, which also holds the caller's CA file) and the token, sent only to the URLs
    the checks name."""

    session: requests.Session
    clock: Clock
    routes: Routes
    secret: Secret

    def get(self, url: str, username: str | None, read_ok_body: bool = True,
            headers: Mapping[str, str] | None = None) -> Response | NotChecked:
        """One GET with Basic `username:token`, or Bearer when `username` is None (Data
        Center project and repository tokens)."""
        from git_credential_bbtoken.checks import routes

        refused = _refuse_plain_http(url)
        if refused:
            return refused
        route = self.routes.route(url)
        if isinstance(route, routes.Refused):
            return NotChecked(route.reason, route.tls)
        try:
            timeout = self.clock.timeout()
        except OutOfTime:
            return NotChecked(f"the {self.clock.seconds:g} s time limit ran out before asking "
                              f"{_netloc(url)}")
        token = self.secret.reveal()
        auth = (routes.basic_auth(username, token) if username is not None
                else routes.BearerAuth(token))
        try:
            if url.lower().startswith("https:"):
                self.routes.context(route)  # a CA file that cannot be read: said here
            # verify=True: certificates are always checked, with the context `routes` made.
            response = self.session.get(
                url, auth=auth, timeout=timeout, verify=True, proxies=dict(route.proxies),
                allow_redirects=False, stream=True, headers=dict(headers or {}))
        except Exception as exc:  # noqa: BLE001 - nothing from requests may reach the user
            self._debug_exception(url, exc)
            return failure_reason(exc, _netloc(url), bool(route.proxies))
        try:
            body = self._body(url, response, read_ok_body)
            log.debug("GET %s -> %s", url, response.status_code)
            return Response(response.status_code, response.headers, body)
        finally:
            response.close()

    def _body(self, url: str, response: requests.Response, read_ok_body: bool) -> bytes:
        # A 200 ref advertisement can be megabytes and tells us nothing more: skip it.
        if response.status_code == 200 and not read_ok_body:
            return b""
        try:
            return response.raw.read(BODY_LIMIT, decode_content=True) or b""
        except Exception as exc:  # noqa: BLE001 - a body cut short is still an answer
            self._debug_exception(url, exc)
            return b""

    def _debug_exception(self, url: str, exc: BaseException) -> None:
        # Exception texts from urllib3 carry URLs, not headers; replace the token anyway.
        token = self.secret.reveal()
        text = str(exc).replace(token, debug.REDACTED) if token else str(exc)
        log.debug("GET %s failed: %s: %s", url, type(exc).__name__, text)


def failure_reason(exc: Exception, host: str, proxied: bool = False) -> NotChecked:
    """Why a request got no answer, in words, and whether TLS was the cause. The most
    specific classes first: SSLError and ProxyError are ConnectionErrors, ConnectTimeout is
    a Timeout."""
    import requests  # already loaded: the session that raised `exc` imported it

    from git_credential_bbtoken.checks.routes import CaFileError

    if isinstance(exc, CaFileError):
        return NotChecked(f"could not use the CA file {exc.path}", True)
    errors = requests.exceptions
    if proxied and isinstance(exc, (errors.InvalidProxyURL, errors.InvalidSchema)):
        return NotChecked(f"git's proxy for {host} is not a proxy URL the checks can use")
    for kind, reason, tls in (
            (errors.SSLError, f"the TLS certificate check failed for {host}", True),
            (errors.ProxyError, f"the proxy failed to reach {host}", False),
            (errors.ConnectTimeout, f"timed out connecting to {host}", False),
            (errors.Timeout, f"{host} did not answer in time", False),
            (errors.ConnectionError, f"could not connect to {host}", False)):
        if isinstance(exc, kind):
            return NotChecked(reason, tls)
    return NotChecked(f"the request to {host} failed ({type(exc).__name__})")


@contextlib.contextmanager
def channel(token: str, ca_file: str | None, deadline: float,
            session: requests.Session | None = None) -> Iterator[Channel]:
    """A `Channel` for one validation, its `deadline` seconds counted from now; `ca_file` is
    trusted on top of what git and the system trust. The session is made (and closed after)
    unless the caller lends one, which is set to send like git (`routes.prepare`) meanwhile.
    The token is registered with `debug` first, so no trace line can show it."""
    from git_credential_bbtoken.checks import routes

    debug.register_secret(token)
    secret = Secret(token)
    clock = Clock(deadline)
    own = session is None
    session = session or make_session()
    how = routes.Routes(ca_file)
    trusted_env, previous = session.trust_env, routes.prepare(session, how)
    try:
        yield Channel(session, clock, how, secret)
    finally:
        if own:
            session.close()
        else:
            session.trust_env = trusted_env
            if previous is not None:
                session.mount("https://", previous)
