"""Bitbucket Data Center / Server: what went wrong with an HTTP access token, and the fix.

Facts: docs/bitbucket-facts.md §5. Personal tokens go with the owner's username
(Basic), project and repository tokens only as Bearer (and personal ones may too): a login
without a username is a Bearer login. Permissions can be edited after creation, the expiry
cannot. The fixes point at the server's own token pages.
"""

from __future__ import annotations

from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.explain import (
    NOTE,
    WARNING,
    Explanation,
    date_text,
    doctor_command,
    login_command,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime

# Explanation ids: stable names that callers, tests and the metadata file refer to.
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

BEARER_MIN_GIT = (2, 46)


def dc_tokens_page(url: str) -> str:
    """Where a user manages their personal HTTP access tokens on the server of `url`."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    prefix = parts.path.split("/scm/", 1)[0] if "/scm/" in parts.path else ""
    return f"{parts.scheme}://{parts.netloc}{prefix.rstrip('/')}/plugins/servlet/access-tokens/manage"


def dc_login_command(url: str, username: str | None = None) -> str:
    """`login` for a Data Center token: a personal one with --username (Basic), else without
    a username (Bearer)."""
    who = ("--username", username) if username else ()
    return login_command(url, "--kind", "datacenter", *who)


def server_denied(denied_reason: str | None) -> tuple[str, ...]:
    """What the server said with its 401 (`X-Authentication-Denied-Reason`): usually that the
    account is behind a CAPTCHA after repeated failures."""
    if not denied_reason:
        return ()
    return (f"The server says why (X-Authentication-Denied-Reason): {denied_reason[:200]}",
            "A CAPTCHA is cleared by logging in once in the web interface.")


def _dc_new_token_fix(url: str, username: str | None, permission: str) -> tuple[str, ...]:
    if username:
        where = ("Fix: create a new personal HTTP access token with " + permission
                 + " (Profile picture > Manage account > HTTP access tokens):",
                 f"  {dc_tokens_page(url)}")
    else:
        where = ("Fix: create a new project or repository HTTP access token with " + permission,
                 "  (Project or Repository settings > HTTP access tokens)")
    return (*where, f"  then run: {dc_login_command(url, username)}")


def dc_token_rejected(url: str, username: str | None = None, status: int = 401,
                      denied_reason: str | None = None) -> Explanation:
    """401 from a Data Center server: the token, or the way it was sent, was refused. It was
    not sent again (facts §5), so the server's own reason, when it gave one, is all there is."""
    causes = ["  - it has expired (an HTTP access token's expiry cannot be extended) or was "
              "revoked",
              "  - it was mistyped or cut short when pasted"]
    if username:
        causes.append(f"  - it is not a personal token of \"{username}\" (personal tokens go "
                      "with their owner's username)")
        causes.append("  - it is a project or repository token: those work only as Bearer "
                      f"tokens, without a username: {dc_login_command(url)}")
    else:
        causes.append("  - it is a personal token that this server takes only with its "
                      f"owner's username: {dc_login_command(url, 'NAME')}")
    causes.append("  - your account has no access to this repository")
    return Explanation(
        id=DC_TOKEN_REJECTED,
        summary=f"Bitbucket Data Center rejected the token for {url} ({status}).",
        details=(*server_denied(denied_reason), "Likely causes:", *causes),
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
        summary=f"The token for {url} expired on {date_text(date)}; Bitbucket Data Center will "
                "reject it (401).",
        details=("An HTTP access token's expiry cannot be extended.",),
        fix=_dc_new_token_fix(url, username, REPO_WRITE_TEXT),
    )


def dc_expires_soon(url: str, date: datetime.date | str, days: int,
                    username: str | None = None) -> Explanation:
    when = "today" if days <= 0 else ("tomorrow" if days == 1 else f"in {days} days")
    return Explanation(
        id=DC_EXPIRES_SOON,
        summary=f"The token for {url} expires {when} ({date_text(date)}); its expiry cannot be "
                "extended.",
        fix=_dc_new_token_fix(url, username, "the same permission")[:-1]
        + (f"  and run: {dc_login_command(url, username)}",),
        severity=WARNING,
    )


def dc_basic_auth_disabled(url: str, username: str | None = None,
                           denied_reason: str | None = None) -> Explanation:
    """The server refuses Basic authentication (its 401 says so): only Bearer can work."""
    return Explanation(
        id=DC_BASIC_AUTH_DISABLED,
        summary=f"Basic authentication is disabled on this Bitbucket Data Center server, so "
                f"git cannot send the token with a username to {url} (401).",
        details=(*server_denied(denied_reason),
                 "Log in without a username and the token is sent as a Bearer token: git "
                 "2.46 or newer sends it that way through this helper."),
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
