"""Explanations: what went wrong with a Bitbucket token, and the fix — the shared part.

Here: the `Explanation` type and its severities, the heuristics that choose which explanation
leads, the pieces both products' texts use (commands, the new-token fix) and the texts that do
not depend on the product (not checked, rate limited). The texts of each product are in
`explain.cloud` (API tokens on bitbucket.org) and `explain.datacenter` (HTTP access tokens);
this module never imports them, so a caller loads only its own product's texts.

Pure and standard-library only, and light: the `get` path imports it when it has something
to say (never otherwise), and it imports neither `re` nor `typing` at load time. Each builder
takes the facts (URL, username, missing scopes, dates...) and returns an `Explanation`;
nothing here does I/O. A user reads these in a terminal right after a failed git command, so
every text is short, names the exact scope strings, and ends with the fix.
"""

from __future__ import annotations

from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.common import DEFAULT_URL, TOKEN_PAGE, bbtoken_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime
    from typing import Any, Iterable, Mapping

# Explanation ids: stable names that callers, tests and the metadata file refer to. The
# products' ids are in their modules.
RATE_LIMITED = "rate-limited"
NOT_CHECKED = "not-checked"

ERROR = "error"  # the operation will fail
WARNING = "warning"  # something the user probably wants will fail, or soon will
NOTE = "note"  # worth knowing; nothing the user asked for fails


class Explanation:
    """One explanation: a one-line summary, a few lines of detail, and the fix.

    A plain immutable class rather than a frozen dataclass: `get` renders these, and
    importing `dataclasses` would cost it more than everything else it does."""

    __slots__ = ("id", "summary", "details", "fix", "severity")

    def __init__(self, id: str, summary: str, details: tuple[str, ...] = (),  # noqa: A002
                 fix: tuple[str, ...] = (), severity: str = ERROR) -> None:
        for name, value in (("id", id), ("summary", summary), ("details", tuple(details)),
                            ("fix", tuple(fix)), ("severity", severity)):
            object.__setattr__(self, name, value)

    id: str
    summary: str
    details: tuple[str, ...]
    fix: tuple[str, ...]
    severity: str

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Explanation is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Explanation) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.id, self.summary, self.details, self.fix, self.severity))

    def __repr__(self) -> str:
        return f"Explanation(id={self.id!r}, summary={self.summary!r})"

    def lines(self) -> list[str]:
        return [self.summary, *self.details, *self.fix]

    def text(self) -> str:
        """The paragraph without prefixes, for callers that add their own (e.g. `Io.say`)."""
        return "\n".join(self.lines())

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "summary": self.summary, "details": list(self.details),
                "fix": list(self.fix), "severity": self.severity}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Explanation:
        """Forgiving: a metadata file edited by hand or by an older version still loads."""
        def strings(value: Any) -> tuple[str, ...]:
            if isinstance(value, (list, tuple)):
                return tuple(str(v) for v in value)
            return ()

        return cls(id=str(data.get("id", "")), summary=str(data.get("summary", "")),
                   details=strings(data.get("details")), fix=strings(data.get("fix")),
                   severity=str(data.get("severity", ERROR)))


# -- heuristics -------------------------------------------------------------------------------


def looks_like_email(username: str | None) -> bool:
    """`someone@example.com`: an Atlassian account email rather than a Bitbucket username."""
    if not username:
        return False
    import re  # here, not at the top: `get` loads this module without needing `re`

    return re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", username) is not None


def looks_like_app_password(secret: str | None) -> bool:
    """A hint, not a fact: does this secret look like a retired Bitbucket app password?

    App passwords are short (usually 20 letters and digits); API tokens observed so far are
    much longer and begin with `ATATT`. Atlassian documents neither length nor prefix, so
    this only chooses which explanation to lead with; it never decides what is stored.
    Newer app passwords have been seen beginning with `ATBB` (longer); also only a hint.
    """
    if not secret:
        return False
    secret = secret.strip()
    if secret.startswith("ATATT"):
        return False
    if secret.startswith("ATBB"):
        return True
    return 16 <= len(secret) <= 24 and secret.isascii() and secret.isalnum()


# -- shared pieces ----------------------------------------------------------------------------


def login_command(url: str | None = None, *extra: str) -> str:
    return bbtoken_command("login", url or DEFAULT_URL, *extra)


def doctor_command(url: str | None = None) -> str:
    return bbtoken_command("doctor", url or DEFAULT_URL)


def scopes_for_new_token(needed: Iterable[str], granted: Iterable[str] | None = None) -> list[str]:
    """What to tick on the new token: what is needed plus the Bitbucket scopes it already had
    (a new token replaces the old one, so dropping those would break something else)."""
    keep = [s for s in sc.normalize_scopes(granted or ()) if s.endswith(sc.SUFFIX)]
    return sc.sort_scopes([*sc.normalize_scopes(needed), *keep])


def new_token_fix(url: str | None, scopes: Iterable[str], lead: str = "Fix",
                  then: str | None = None) -> tuple[str, ...]:
    """The fix for every scope problem: scopes cannot be edited, so it is always a new token.
    `then`: the command that stores it, when not `login` (e.g. `rotate`, which keeps the
    email and every scope the old token is stored for)."""
    names = sc.sort_scopes(scopes)
    return (
        f"{lead}: create a new API token with scopes (scopes cannot be edited) at",
        f"  {TOKEN_PAGE}",
        "  (\"Create API token with scopes\", app Bitbucket) with: " + ", ".join(names),
        f"  then run: {then or login_command(url)}",
    )


def date_text(date: datetime.date | str) -> str:
    """A date as texts show it: `YYYY-MM-DD`."""
    return date if isinstance(date, str) else date.isoformat()


# -- texts for either product -----------------------------------------------------------------


def rate_limited(url: str, retry_after: str | int | None = None) -> Explanation:
    """429: Bitbucket counts requests per user over a rolling hour."""
    wait = _retry_after_text(retry_after)
    return Explanation(
        id=RATE_LIMITED,
        summary=f"Bitbucket is rate limiting this account (429); the token for {url} was not "
                "checked.",
        details=(f"Limits are counted per user over a rolling hour.{wait}",),
        fix=(f"Check later with: {doctor_command(url)}",),
        severity=NOTE,
    )


def not_checked(url: str, reasons: Iterable[str], tls: bool = False,
                partial: bool = False) -> Explanation:
    """Unreachable, timed out, TLS failure, unexpected status: say plainly what was not decided.

    `partial`: some checks did answer; only the listed ones are missing."""
    listed = [r for r in reasons if r]
    details = [("Some checks did not answer" if partial else "Nothing was checked")
               + "; this does not mean the token is invalid:"]
    details += [f"  - {r}" for r in listed]
    if tls:
        details.append("Behind a company proxy or private CA? Set git's http.sslCAInfo (or "
                       "REQUESTS_CA_BUNDLE) to its certificate file.")
    return Explanation(
        id=NOT_CHECKED,
        summary=f"Could not {'fully ' if partial else ''}check the token for {url}.",
        details=tuple(details),
        fix=(f"Check later with: {doctor_command(url)}",),
        severity=NOTE,
    )


def _retry_after_text(retry_after: str | int | None) -> str:
    if retry_after is None or retry_after == "":
        return ""
    text = str(retry_after).strip()
    if text.isdigit():
        seconds = int(text)
        if seconds >= 120:
            return f" Bitbucket asks to wait about {round(seconds / 60)} minutes."
        return f" Bitbucket asks to wait {seconds} seconds."
    return f" Bitbucket asks to wait until {text}."
