"""What one request told: its `Outcome`, and the reading both products share of an answer.

The git probe (`info/refs?service=...`, what git itself would be told) is the same on Cloud
and Data Center but for the repository's URL and which statuses mean what; a status that no
product names is read here the same way for every check: 429 is rate limiting, a redirect is
never followed, anything else is "not checked", never "invalid".
"""

from __future__ import annotations

import dataclasses
import enum
import urllib.parse
from typing import TYPE_CHECKING, Iterable, Mapping, NamedTuple, Protocol

from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.checks.transport import (
    NotChecked,
    Response,
    redirect_reason,
    status_reason,
)

if TYPE_CHECKING:
    from git_credential_bbtoken.checks.transport import Channel

UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
SCOPE_TEXT = "lack one or more required privilege scopes"  # Bitbucket's 403 body, git and REST
TEXT_LIMIT = 300  # what is kept of a server's error text
# Whose a 403 is (`refused_by`, in `knowledge`'s words): the token's scope, or a permission.
SCOPE = "scope"
PERMISSION = "permission"


class Outcome(str, enum.Enum):
    """What one request told us."""

    ALLOWED = "allowed"  # 200 (REST: the token was accepted)
    MISSING_SCOPE = "missing-scope"  # 403
    REJECTED = "rejected"  # 401
    RETIRED = "retired"  # 410 from git: an app password
    NOT_FOUND = "not-found"  # 404 from git: no such repository, or no access
    RATE_LIMITED = "rate-limited"  # 429
    NOT_CHECKED = "not-checked"  # anything else: unreachable, timeout, TLS, 5xx, redirect


class Answer(Protocol):
    """What every check's result tells the validation, whatever else it carries."""

    @property
    def outcome(self) -> Outcome: ...

    @property
    def status(self) -> int | None: ...

    @property
    def reason(self) -> str: ...  # why it was not checked, or what the server said

    @property
    def retry_after(self) -> str | None: ...

    @property
    def tls(self) -> bool: ...  # not checked because of TLS


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
    denied_reason: str | None = None  # Data Center's X-Authentication-Denied-Reason header


def refused_by(result: ProbeResult, datacenter: bool = False) -> str | None:
    """What a probe's refusal means, in `knowledge`'s words (docs/bitbucket-facts.md §3 for
    Cloud, §5 for Data Center): "scope" (Cloud's 403 naming missing scopes: the token's),
    "permission" (any other 403: the account's, or a Data Center token's own permission),
    "no-access" (a repository the account cannot see, or none: Cloud's 401, a 404),
    "rejected" (Data Center's 401: the credential itself), "retired" (410: an app password).
    None when the probe allowed it or did not answer."""
    outcome = result.outcome
    if outcome is Outcome.MISSING_SCOPE:
        return SCOPE if result.scope_text and not datacenter else PERMISSION
    if outcome is Outcome.REJECTED:
        return "rejected" if datacenter else "no-access"
    return {Outcome.NOT_FOUND: "no-access", Outcome.RETIRED: "retired"}.get(outcome)


def blames_the_token(why: str | None, operation: str, scopes: Iterable[str] | None) -> bool:
    """Whether a refusal (`refused_by`) is the token's missing scope: Bitbucket said so, and
    the token is not known to hold every scope `operation` needs. A scope the token is known
    to have is never blamed (contract §4): the refusal is then the account's."""
    return why == SCOPE and not (scopes is not None and sc.can(operation, scopes))


class Unexpected(NamedTuple):
    """How a status that the product's table does not name is read."""

    outcome: Outcome
    reason: str
    retry_after: str | None = None


def unexpected(url: str, answer: Response, what: str = "") -> Unexpected:
    """429: rate limited (with Retry-After); a redirect, never followed, or any other status
    (`what` is added to its reason): not checked."""
    if answer.status == 429:
        return Unexpected(Outcome.RATE_LIMITED, status_reason(url, answer.status),
                          answer.headers.get("Retry-After"))
    if 300 <= answer.status < 400:
        return Unexpected(Outcome.NOT_CHECKED, redirect_reason(url, answer))
    return Unexpected(Outcome.NOT_CHECKED, status_reason(url, answer.status) + what)


def path_segment(part: str) -> str:
    """One segment of a URL path, with `/` and everything else unsafe quoted."""
    return urllib.parse.quote(part, safe="")


def probe_info_refs(line: Channel, repo_url: str, username: str | None, service: str,
                    user_agent: str, statuses: Mapping[int, Outcome]) -> ProbeResult:
    """GET `{repo_url}.git/info/refs?service=...`; `statuses` says what each status the
    product knows means. Smart-HTTP servers decide by User-Agent whether a client speaks git."""
    url = f"{repo_url}.git/info/refs?" + urllib.parse.urlencode({"service": service})
    answer = line.get(url, username, read_ok_body=False, headers={"User-Agent": user_agent})
    if isinstance(answer, NotChecked):
        return ProbeResult(service, Outcome.NOT_CHECKED, reason=answer.reason, tls=answer.tls)
    status = answer.status
    outcome = statuses.get(status)
    if outcome is None:
        other = unexpected(url, answer)
        return ProbeResult(service, other.outcome, status, other.reason, other.retry_after)
    text = answer.body.decode("utf-8", "replace") if status != 200 else ""
    denied = answer.headers.get("X-Authentication-Denied-Reason")
    return ProbeResult(service, outcome, status, text.strip()[:TEXT_LIMIT],
                       scope_text=outcome is Outcome.MISSING_SCOPE and SCOPE_TEXT in text,
                       denied_reason=denied[:TEXT_LIMIT] if denied else None)
