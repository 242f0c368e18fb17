"""The one catalogue of explanations: what went wrong with a Bitbucket token, and the fix.

Pure and standard-library only (the `get` path renders these). Each builder takes the facts
(URL, username, missing scopes, dates...) and returns an `Explanation`; nothing here does I/O.
A user reads these in a terminal right after a failed git command, so every text is short,
names the exact scope strings, and ends with the fix.
"""

from __future__ import annotations

import re

from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.common import (
    APP_PASSWORDS_REMOVED,
    DEFAULT_URL,
    TOKEN_PAGE,
    TOKEN_USERNAME,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime
    from typing import Any, Iterable, Mapping

# Explanation ids: stable names that callers, tests and the metadata file refer to.
TOKEN_REJECTED = "token-rejected"  # noqa: S105 - an id
EMAIL_AS_GIT_USERNAME = "email-as-git-username"
REST_NEEDS_EMAIL = "rest-needs-email"
READ_MISSING = "read-missing"
WRITE_MISSING = "write-missing"
IDENTITY_MISSING = "identity-missing"
NO_BITBUCKET_SCOPES = "no-bitbucket-scopes"
APP_PASSWORD_RETIRED = "app-password-retired"  # noqa: S105 - an id
NO_ACCESS = "no-access"
EXPIRED = "expired"
EXPIRES_SOON = "expires-soon"
RATE_LIMITED = "rate-limited"
NOT_CHECKED = "not-checked"
NOTHING_CHECKED = "nothing-checked"
# Bitbucket Data Center / Server (HTTP access tokens)
DC_TOKEN_REJECTED = "dc-token-rejected"  # noqa: S105 - an id
DC_READ_MISSING = "dc-read-missing"
DC_WRITE_MISSING = "dc-write-missing"
DC_NO_ACCESS = "dc-no-access"
DC_EXPIRED = "dc-expired"
DC_EXPIRES_SOON = "dc-expires-soon"
DC_BASIC_AUTH_DISABLED = "dc-basic-auth-disabled"
DC_BEARER_ONLY = "dc-bearer-only"
BEARER_NEEDS_NEWER_GIT = "bearer-needs-newer-git"
DC_NOTHING_CHECKED = "dc-nothing-checked"

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

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_APP_PASSWORD_CHARS = re.compile(r"^[A-Za-z0-9]+$")


def looks_like_email(username: str | None) -> bool:
    """`someone@example.com`: an Atlassian account email rather than a Bitbucket username."""
    return bool(username) and _EMAIL.match(username or "") is not None


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
    return 16 <= len(secret) <= 24 and _APP_PASSWORD_CHARS.match(secret) is not None


# -- shared pieces ----------------------------------------------------------------------------


def login_command(url: str | None = None, *extra: str) -> str:
    return " ".join(["git credential-bbtoken login", url or DEFAULT_URL, *extra])


def doctor_command(url: str | None = None) -> str:
    return " ".join(["git credential-bbtoken doctor", url or DEFAULT_URL])


def scopes_for_new_token(needed: Iterable[str], granted: Iterable[str] | None = None) -> list[str]:
    """What to tick on the new token: what is needed plus the Bitbucket scopes it already had
    (a new token replaces the old one, so dropping those would break something else)."""
    keep = [s for s in sc.normalize_scopes(granted or ()) if s.endswith(sc.SUFFIX)]
    return sc.sort_scopes([*sc.normalize_scopes(needed), *keep])


def new_token_fix(url: str | None, scopes: Iterable[str], lead: str = "Fix") -> tuple[str, ...]:
    """The fix for every scope problem: scopes cannot be edited, so it is always a new token."""
    names = sc.sort_scopes(scopes)
    return (
        f"{lead}: create a new API token with scopes (scopes cannot be edited) at",
        f"  {TOKEN_PAGE}",
        "  (\"Create API token with scopes\", app Bitbucket) with: " + ", ".join(names),
        f"  then run: {login_command(url)}",
    )


def _scope_lines(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(f"Needs {sc.describe_scope(name)}." for name in names)


def _has_line(granted: Iterable[str] | None) -> tuple[str, ...]:
    if granted is None:
        return ()
    names = sc.sort_scopes(sc.normalize_scopes(granted))
    return ("The token has: " + (", ".join(names) if names else "no scopes") + ".",)


# -- the catalogue ----------------------------------------------------------------------------


def token_rejected(url: str, username: str | None = None, status: int = 401) -> Explanation:
    """401 from git or REST: the token or the username was refused; list the likely causes."""
    causes = [
        "  - it was created without Bitbucket scopes (plain \"Create API token\", or Jira/"
        "Confluence scopes only)",
        "  - it has expired or was revoked",
        "  - it was mistyped or cut short when pasted",
    ]
    if username and username != TOKEN_USERNAME:
        causes.append(f"  - the username \"{username}\" is not your Bitbucket username "
                      f"(or use {TOKEN_USERNAME})")
    causes.append("  - your account has no access to this repository")
    return Explanation(
        id=TOKEN_REJECTED,
        summary=f"Bitbucket rejected the token for {url} ({status}).",
        details=("Likely causes:", *causes),
        fix=new_token_fix(url, [sc.READ_REPOSITORY, sc.WRITE_REPOSITORY]),
    )


def email_as_git_username(url: str, username: str) -> Explanation:
    """git sent the Atlassian email as the username: git over HTTPS refuses it with 401."""
    return Explanation(
        id=EMAIL_AS_GIT_USERNAME,
        summary=f"git used your email ({username}) as the username for {url}; Bitbucket "
                "refuses it for git (401).",
        details=(f"With an API token git needs your Bitbucket username or {TOKEN_USERNAME};",
                 "the Atlassian email is only for the REST API (--email)."),
        fix=(f"Fix: run: {login_command(url, '--username', TOKEN_USERNAME, '--email', username)}",
             "  and remove the email from the remote URL if it is there (see `git remote -v`)."),
    )


def rest_needs_email(url: str, name: str, git_accepted: bool | None = None) -> Explanation:
    """REST answered 401 to `name:token`: REST wants the Atlassian email, not the username."""
    if looks_like_email(name):
        summary = f"The Bitbucket REST API rejected {name} with this token (401)."
        details: tuple[str, ...] = (
            ("git accepted the token, so " if git_accepted else "")
            + f"check that {name} is the email of the Atlassian account that made the token.",
        )
    else:
        summary = (f"The Bitbucket REST API rejected \"{name}\" (401): it needs your Atlassian "
                   "account email, not the Bitbucket username.")
        details = (f"git itself uses the Bitbucket username or {TOKEN_USERNAME}; REST uses the "
                   "email.",)
    return Explanation(
        id=REST_NEEDS_EMAIL, summary=summary, details=details,
        fix=(f"Fix: run: {login_command(url, '--email', 'YOUR-ATLASSIAN-EMAIL')}",),
        severity=WARNING,
    )


def read_missing(url: str, granted: Iterable[str] | None = None) -> Explanation:
    """Write-only or admin-only token: clone/fetch answer 403 (no scope includes another)."""
    have = None if granted is None else sc.normalize_scopes(granted)
    needed = [sc.READ_REPOSITORY]
    if have and sc.WRITE_REPOSITORY in have:
        needed.append(sc.WRITE_REPOSITORY)
    return Explanation(
        id=READ_MISSING,
        summary=f"The token cannot clone or fetch {url}: it lacks {sc.READ_REPOSITORY} (403).",
        details=(*_scope_lines([sc.READ_REPOSITORY]),
                 f"{sc.WRITE_REPOSITORY} and {sc.ADMIN_REPOSITORY} do not include read.",
                 *_has_line(have)),
        fix=new_token_fix(url, scopes_for_new_token(needed, have)),
    )


def write_missing(url: str, granted: Iterable[str] | None = None,
                  maybe_permission: bool = False) -> Explanation:
    """Read-only token used for push: git-receive-pack answers 403."""
    have = None if granted is None else sc.normalize_scopes(granted)
    details = [*_scope_lines([sc.WRITE_REPOSITORY]), *_has_line(have)]
    if maybe_permission:
        details.append(f"If the token does have {sc.WRITE_REPOSITORY}, your account may lack "
                       "write access to this repository: ask a workspace admin.")
    return Explanation(
        id=WRITE_MISSING,
        summary=f"The token cannot push to {url}: it lacks {sc.WRITE_REPOSITORY} (403).",
        details=tuple(details),
        fix=new_token_fix(url, scopes_for_new_token(
            [sc.READ_REPOSITORY, sc.WRITE_REPOSITORY], have)),
        severity=WARNING,
    )


def identity_missing(url: str, granted: Iterable[str] | None = None) -> Explanation:
    """No read:user: git works, but tools that call GET /2.0/user do not."""
    have = None if granted is None else sc.normalize_scopes(granted)
    return Explanation(
        id=IDENTITY_MISSING,
        summary=f"The token lacks {sc.READ_USER}: git works, but Sourcetree, Fork and IDE "
                "account panels cannot check who you are.",
        details=(*_scope_lines([sc.READ_USER]), *_has_line(have)),
        fix=new_token_fix(url, scopes_for_new_token([sc.READ_USER], have),
                          lead="Fix, if you use those tools"),
        severity=NOTE,
    )


def no_bitbucket_scopes(url: str, granted: Iterable[str] = ()) -> Explanation:
    """The token has scopes, but none for Bitbucket (e.g. Jira only): 401 everywhere."""
    return Explanation(
        id=NO_BITBUCKET_SCOPES,
        summary="The token has no Bitbucket scopes, so Bitbucket rejects it everywhere (401).",
        details=(*_has_line(granted),
                 "Tokens from the plain \"Create API token\" button have no scopes at all."),
        fix=new_token_fix(url, [sc.READ_REPOSITORY, sc.WRITE_REPOSITORY]),
    )


def app_password_retired(url: str, username: str | None = None,
                         status: int = 410) -> Explanation:
    """A retired app password (410, or 401 with a short secret and a username)."""
    who = f" for {username}" if username else ""
    if status == 410:
        summary = (f"Bitbucket refused an app password{who} on {url} (410): app passwords were "
                   f"removed on {APP_PASSWORDS_REMOVED}; only API tokens work now.")
    else:
        # Only a hint (see looks_like_app_password): say "looks like", not "is".
        summary = (f"Bitbucket rejected the password{who} on {url} ({status}); it looks like an "
                   f"app password, and app passwords were removed on {APP_PASSWORDS_REMOVED}.")
    return Explanation(
        id=APP_PASSWORD_RETIRED,
        summary=summary,
        details=("Another credential helper (osxkeychain, manager, store) may still hold it;",
                 f"`{doctor_command(url)}` shows which helpers git asks first."),
        fix=new_token_fix(url, [sc.READ_REPOSITORY, sc.WRITE_REPOSITORY]),
    )


def no_access(url: str, status: int = 404, username: str | None = None) -> Explanation:
    """The token works (or may) but does not reach this workspace or repository."""
    details = ["A token reaches only the workspaces and repositories its Atlassian account "
               "can see.", "Check the URL for typos and your access on bitbucket.org."]
    if username and username != TOKEN_USERNAME:
        details.append(f"Or \"{username}\" is not your Bitbucket username: use yours, or "
                       f"{TOKEN_USERNAME}.")
    return Explanation(
        id=NO_ACCESS,
        summary=f"The token is not valid for {url} ({status}): no such repository, or your "
                "account has no access to it.",
        details=tuple(details),
        fix=("Fix: if another account has access, create the token as that account at",
             f"  {TOKEN_PAGE}", f"  then run: {login_command(url)}"),
    )


def expired(url: str, date: datetime.date | str) -> Explanation:
    """Past the expiry date the user gave: Bitbucket will answer 401."""
    return Explanation(
        id=EXPIRED,
        summary=f"The token for {url} expired on {_date(date)}; Bitbucket will reject it (401).",
        fix=new_token_fix(url, [sc.READ_REPOSITORY, sc.WRITE_REPOSITORY]),
    )


def expires_soon(url: str, date: datetime.date | str, days: int) -> Explanation:
    """A warning ahead of the expiry date; Bitbucket itself never tells a client."""
    when = "today" if days <= 0 else ("tomorrow" if days == 1 else f"in {days} days")
    return Explanation(
        id=EXPIRES_SOON,
        summary=f"The token for {url} expires {when} ({_date(date)}).",
        fix=("Fix: before then, create a new token at", f"  {TOKEN_PAGE}",
             f"  and run: {login_command(url)}"),
        severity=WARNING,
    )


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


def nothing_checked(url: str) -> Explanation:
    """No repository in the URL and no email: there is nothing safe to probe."""
    return Explanation(
        id=NOTHING_CHECKED,
        summary=f"The token for {url} was stored without checking it: the URL names no "
                "repository and no --email was given.",
        fix=(f"Check it with: {doctor_command(url.rstrip('/') + '/WORKSPACE/REPO')}",
             f"  or log in with --email: {login_command(url, '--email', 'YOUR-ATLASSIAN-EMAIL')}"),
        severity=NOTE,
    )


# -- Bitbucket Data Center / Server -----------------------------------------------------------
#
# HTTP access tokens (facts doc, section 5): personal tokens go with the owner's username
# (Basic), project and repository tokens only as Bearer; permissions can be edited after
# creation, the expiry cannot. The fixes point at the server's own token pages.

BEARER_MIN_GIT = (2, 46)


def dc_tokens_page(url: str) -> str:
    """Where a user manages their personal HTTP access tokens on the server of `url`."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    prefix = parts.path.split("/scm/", 1)[0] if "/scm/" in parts.path else ""
    return f"{parts.scheme}://{parts.netloc}{prefix.rstrip('/')}/plugins/servlet/access-tokens/manage"


def dc_login_command(url: str, username: str | None = None) -> str:
    """`login` for a Data Center token: personal with --username, else --bearer."""
    who = ("--username", username) if username else ("--bearer",)
    return login_command(url, "--kind", "datacenter", *who)


def _dc_new_token_fix(url: str, username: str | None, permission: str) -> tuple[str, ...]:
    if username:
        where = ("Fix: create a new personal HTTP access token with " + permission
                 + " (Profile picture > Manage account > HTTP access tokens):",
                 f"  {dc_tokens_page(url)}")
    else:
        where = ("Fix: create a new project or repository HTTP access token with " + permission,
                 "  (Project or Repository settings > HTTP access tokens)")
    return (*where, f"  then run: {dc_login_command(url, username)}")


def dc_token_rejected(url: str, username: str | None = None, status: int = 401) -> Explanation:
    """401 from a Data Center server: the token, or the way it was sent, was refused."""
    causes = ["  - it has expired (an HTTP access token's expiry cannot be extended) or was "
              "revoked",
              "  - it was mistyped or cut short when pasted"]
    if username:
        causes.append(f"  - it is not a personal token of \"{username}\" (personal tokens go "
                      "with their owner's username)")
        causes.append("  - it is a project or repository token: those work only as Bearer "
                      "tokens, without a username")
    causes.append("  - your account has no access to this repository")
    return Explanation(
        id=DC_TOKEN_REJECTED,
        summary=f"Bitbucket Data Center rejected the token for {url} ({status}).",
        details=("Likely causes:", *causes),
        fix=_dc_new_token_fix(url, username, REPO_WRITE_TEXT),
    )


REPO_WRITE_TEXT = f"{sc.REPO_WRITE} (or {sc.REPO_READ} to clone only)"


def dc_read_missing(url: str, username: str | None = None, status: int = 403) -> Explanation:
    return Explanation(
        id=DC_READ_MISSING,
        summary=f"The token cannot clone or fetch {url}: it needs {sc.REPO_READ} ({status}).",
        details=(f"Needs {sc.describe_dc_permission(sc.REPO_READ)}.",
                 "A token never gets more than its owner's own permission on the repository."),
        fix=("Fix: give the token " + sc.REPO_READ + " or higher (token permissions can be "
             "edited:", f"  {dc_tokens_page(url)}), or ask a project admin for access,",
             f"  then check again: {dc_login_command(url, username)}"),
    )


def dc_write_missing(url: str, username: str | None = None,
                     permission: str | None = None) -> Explanation:
    """A token that can clone but not push: git-receive-pack answers 403."""
    has = (f"The token has {permission}." if permission else
           "The token can clone, so it has " + sc.REPO_READ + " (or PROJECT_READ).")
    return Explanation(
        id=DC_WRITE_MISSING,
        summary=f"The token cannot push to {url}: it needs {sc.REPO_WRITE} (403).",
        details=(f"Needs {sc.describe_dc_permission(sc.REPO_WRITE)}, or {sc.PROJECT_WRITE}.",
                 has,
                 "If the token does have " + sc.REPO_WRITE + ", your own account lacks write "
                 "access to this repository: ask a project admin."),
        fix=(f"Fix: raise the token's permission to {sc.REPO_WRITE} (Data Center token "
             "permissions can be edited) at",
             f"  {dc_tokens_page(url)}" if username else
             "  Project or Repository settings > HTTP access tokens",
             f"  then check again: {dc_login_command(url, username)}"),
        severity=WARNING,
    )


def dc_no_access(url: str, status: int = 404, username: str | None = None) -> Explanation:
    return Explanation(
        id=DC_NO_ACCESS,
        summary=f"The token does not reach {url} ({status}): no such repository, or the "
                "token's owner has no access to it.",
        details=("Check the URL (https://HOST/scm/PROJECT/repo.git) and the repository's "
                 "permissions.",
                 "A project or repository token reaches only its own project or repository."),
        fix=(f"Fix: use a token that reaches it, then run: {dc_login_command(url, username)}",),
    )


def dc_expired(url: str, date: datetime.date | str, username: str | None = None
               ) -> Explanation:
    return Explanation(
        id=DC_EXPIRED,
        summary=f"The token for {url} expired on {_date(date)}; Bitbucket Data Center will "
                "reject it (401).",
        details=("An HTTP access token's expiry cannot be extended.",),
        fix=_dc_new_token_fix(url, username, REPO_WRITE_TEXT),
    )


def dc_expires_soon(url: str, date: datetime.date | str, days: int,
                    username: str | None = None) -> Explanation:
    when = "today" if days <= 0 else ("tomorrow" if days == 1 else f"in {days} days")
    return Explanation(
        id=DC_EXPIRES_SOON,
        summary=f"The token for {url} expires {when} ({_date(date)}); its expiry cannot be "
                "extended.",
        fix=_dc_new_token_fix(url, username, "the same permission")[:-1]
        + (f"  and run: {dc_login_command(url, username)}",),
        severity=WARNING,
    )


def dc_basic_auth_disabled(url: str, username: str | None = None) -> Explanation:
    """The server refuses Basic authentication; the token itself works as a Bearer token."""
    return Explanation(
        id=DC_BASIC_AUTH_DISABLED,
        summary=f"Basic authentication is disabled on this Bitbucket Data Center server, so "
                f"git cannot send the token with a username to {url} (401).",
        details=("The token works as a Bearer token: git 2.46 or newer sends it that way "
                 "through this helper.",),
        fix=(f"Fix: run: {dc_login_command(url)}",
             "  (and use git 2.46 or newer), or ask the server's admins about basic "
             "authentication for HTTP access tokens."),
    )


def dc_bearer_only(url: str, username: str | None = None) -> Explanation:
    """A project or repository token sent with a username: Basic fails, Bearer works."""
    who = f" \"{username}\"" if username else ""
    return Explanation(
        id=DC_BEARER_ONLY,
        summary=f"This token works for {url} only as a Bearer token, not with the "
                f"username{who} (401).",
        details=("Project and repository HTTP access tokens are used without a username;",
                 "git 2.46 or newer sends them as `Authorization: Bearer` through this helper."),
        fix=(f"Fix: run: {dc_login_command(url)}",
             "  (or, for a personal token, check that the username is the token owner's)"),
    )


def bearer_needs_newer_git(url: str, version: str | None = None,
                           from_environment: bool = False) -> Explanation:
    """The token is Bearer-only and this git cannot send Bearer credentials."""
    this = f"git {version}" if version else "this git"
    which = (f"BBTOKEN_TOKEN, without BBTOKEN_USERNAME, is used for {url} as a Bearer-only "
             "token" if from_environment else f"The token stored for {url} is a Bearer-only "
             "token")
    fix = ["Fix: install git 2.46 or newer, or send the header yourself (it keeps the token "
           "in that config):",
           f"  git config http.{url}.extraHeader \"Authorization: Bearer <token>\""]
    if from_environment:
        fix.append("If it is a personal token, set BBTOKEN_USERNAME to its owner's username.")
    return Explanation(
        id=BEARER_NEEDS_NEWER_GIT,
        summary=f"{which} (project or repository token), and {this} cannot send one: it needs "
                f"git {'.'.join(map(str, BEARER_MIN_GIT))} or newer.",
        details=("Sent as a password it would only be refused (401), so it was not sent.",),
        fix=tuple(fix),
    )


def dc_nothing_checked(url: str, username: str | None = None) -> Explanation:
    return Explanation(
        id=DC_NOTHING_CHECKED,
        summary=f"The token for {url} was stored, but clone and push were not checked: the "
                "URL names no repository.",
        fix=("Check it with: " + doctor_command(
            url if "/scm/" in url else url.rstrip("/") + "/scm/PROJECT/REPO"),),
        severity=NOTE,
    )


def expired_for(kind: str, url: str, date: datetime.date | str,
                username: str | None = None) -> Explanation:
    if kind == "datacenter":
        return dc_expired(url, date, username)
    return expired(url, date)


def expires_soon_for(kind: str, url: str, date: datetime.date | str, days: int,
                     username: str | None = None) -> Explanation:
    if kind == "datacenter":
        return dc_expires_soon(url, date, days, username)
    return expires_soon(url, date, days)


def for_rejection(url: str, username: str | None, secret: str | None,
                  status: int = 401) -> Explanation:
    """The best explanation for a 401/410 from git: the most specific likely cause first."""
    if status == 410:
        return app_password_retired(url, username, status)
    if looks_like_email(username):
        return email_as_git_username(url, username or "")
    if username and username != TOKEN_USERNAME and looks_like_app_password(secret):
        return app_password_retired(url, username, status)
    return token_rejected(url, username, status)


def _date(date: datetime.date | str) -> str:
    return date if isinstance(date, str) else date.isoformat()


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
