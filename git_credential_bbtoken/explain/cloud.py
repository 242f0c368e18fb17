"""Bitbucket Cloud: what went wrong with an API token, and the fix.

Facts: docs/bitbucket-facts.md §1-§4. Scopes cannot be edited, so the fix for
a missing scope is always a new token, with every scope that is needed plus the Bitbucket
scopes the old one had.
"""

from __future__ import annotations

from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.common import (
    APP_PASSWORDS_REMOVED,
    TOKEN_PAGE,
    TOKEN_USERNAME,
    bbtoken_command,
)
from git_credential_bbtoken.explain import (
    NOTE,
    WARNING,
    Explanation,
    date_text,
    doctor_command,
    login_command,
    looks_like_app_password,
    looks_like_email,
    new_token_fix,
    scopes_for_new_token,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime
    from typing import Iterable

# Explanation ids: stable names that callers, tests and the metadata file refer to.
TOKEN_REJECTED = "token-rejected"  # noqa: S105 - an id
EMAIL_AS_GIT_USERNAME = "email-as-git-username"
REST_NEEDS_EMAIL = "rest-needs-email"
EMAIL_OR_TOKEN_REJECTED = "email-or-token-rejected"  # noqa: S105 - an id
TOKEN_NO_LONGER_ACCEPTED = "token-no-longer-accepted"  # noqa: S105 - an id
READ_MISSING = "read-missing"
WRITE_MISSING = "write-missing"
IDENTITY_MISSING = "identity-missing"
WORKSPACE_MISSING = "workspace-missing"
NO_BITBUCKET_SCOPES = "no-bitbucket-scopes"
APP_PASSWORD_RETIRED = "app-password-retired"  # noqa: S105 - an id
NO_ACCESS = "no-access"
EXPIRED = "expired"
EXPIRES_SOON = "expires-soon"
NOTHING_CHECKED = "nothing-checked"

EMAIL_PLACEHOLDER = "YOUR-ATLASSIAN-EMAIL"


def _scope_lines(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(f"Needs {sc.describe_scope(name)}." for name in names)


def _has_line(granted: Iterable[str] | None, proven: Iterable[str] = ()) -> tuple[str, ...]:
    """What the token has: all of it (`granted`), or at least the `proven` scopes."""
    if granted is None:
        names = sc.sort_scopes(sc.normalize_scopes(proven))
        return ("The token has at least: " + ", ".join(names) + ".",) if names else ()
    names = sc.sort_scopes(sc.normalize_scopes(granted))
    return ("The token has: " + (", ".join(names) if names else "no scopes") + ".",)


def _known(granted: Iterable[str] | None,
           proven: Iterable[str]) -> tuple[frozenset[str] | None, frozenset[str]]:
    """The whole set (None: not listed), and what a new token must keep: the whole set, or
    else the scopes proven."""
    have = None if granted is None else sc.normalize_scopes(granted)
    return have, have if have is not None else sc.normalize_scopes(proven)


def _bitbucket_scopes(scopes: Iterable[str] | None) -> list[str]:
    return [s for s in sc.sort_scopes(sc.normalize_scopes(scopes or ())) if s.endswith(sc.SUFFIX)]


def _replacement_scopes(had: list[str]) -> list[str]:
    """What a new token in place of one that had `had` needs: what it had, and read; clone
    and push when nothing is known."""
    if not had:
        return [sc.READ_REPOSITORY, sc.WRITE_REPOSITORY]
    return scopes_for_new_token([sc.READ_REPOSITORY], had)


def token_rejected(url: str, username: str | None = None, status: int = 401,
                   known: Iterable[str] | None = None, git_worked: bool = False) -> Explanation:
    """401 from git or REST: the token or the username was refused; list the likely causes.

    `known`: the Bitbucket scopes the token is known to have (Bitbucket listed them, or it
    cloned or pushed with them). Then it was neither made without scopes nor mistyped, and
    only what fits a token Bitbucket accepted before is listed: never blame a scope the token
    is known to have (contract §4). `git_worked`: git accepted it under this username."""
    had = _bitbucket_scopes(known)
    if had:
        causes = ["  - it has expired or was revoked",
                  "  - your account lost access to this repository, or it was moved"]
        if username and username != TOKEN_USERNAME and not git_worked:
            causes.append(f"  - the username \"{username}\" is not your Bitbucket username "
                          f"(or use {TOKEN_USERNAME})")
        return Explanation(
            id=TOKEN_REJECTED,
            summary=f"Bitbucket rejected the token for {url} ({status}).",
            details=(f"Bitbucket accepted it before, with {', '.join(had)}: its scopes are "
                     "not the cause. Likely causes:", *causes),
            fix=new_token_fix(url, _replacement_scopes(had)),
        )
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


def email_as_git_username(url: str, username: str, stored_as: str | None = None
                          ) -> Explanation:
    """git sent, or is about to send, the Atlassian email as the username: git over HTTPS
    refuses it with 401 (docs/bitbucket-facts.md §1), and `login` keeps no token for it. git
    takes the username from the remote URL (`https://alice%40example.com@bitbucket.org/...`)
    or from `credential.username`; once neither names one, git asks with none and the
    stored token answers. `stored_as`: a token is stored for `url` under that (git) username,
    so the remote URL is the whole fix; without one, log in first."""
    remote = _remote_url(url)
    email_line = (f"With an API token git needs your Bitbucket username or {TOKEN_USERNAME}; "
                  "the Atlassian email is only for the REST API (--email).")
    set_url = (f"  git remote set-url origin {remote}",
               f"  (or clone {remote}); if `git remote -v` shows no email, remove "
               "credential.username from your git config.")
    if stored_as:
        return Explanation(
            id=EMAIL_AS_GIT_USERNAME,
            summary=f"git asks for the user {username} on {url}, but an email is not a git "
                    "username: Bitbucket refuses it for git (401).",
            details=(email_line,
                     f"A token is stored as {stored_as}: git uses it once the remote URL "
                     "names no user."),
            fix=("Fix: remove the email from the remote URL:", *set_url),
        )
    return Explanation(
        id=EMAIL_AS_GIT_USERNAME,
        summary=f"git used your email ({username}) as the username for {url}; Bitbucket "
                "refuses it for git (401).",
        details=(email_line,),
        fix=(f"Fix: run: {login_command(url, '--username', TOKEN_USERNAME, '--email', username)}",
             "  and remove the email from the remote URL if it is there:", *set_url),
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
        fix=(f"Fix: run: {login_command(url, '--email', EMAIL_PLACEHOLDER)}",),
        severity=WARNING,
    )


def email_or_token_rejected(url: str, email: str) -> Explanation:
    """REST answered 401 to `email:token` and git did not answer (no repository to probe):
    the email may not be the account's, or the token may be dead. Only git, which takes no
    email, tells which (docs/bitbucket-facts.md §1, §3)."""
    return Explanation(
        id=EMAIL_OR_TOKEN_REJECTED,
        summary=f"The Bitbucket REST API rejected {email} with this token (401): either "
                f"{email} is not the email of the Atlassian account that made the token, or "
                "the token has expired, was revoked or has no Bitbucket scopes.",
        details=("The REST API takes the Atlassian account's email; git takes the Bitbucket "
                 f"username or {TOKEN_USERNAME} and no email.",
                 "git did not tell whether the token works: the token itself is not "
                 "checked."),
        fix=("Fix: if the email is wrong, run:",
             f"  {login_command(url, '--email', EMAIL_PLACEHOLDER)}",
             "  To check the token itself, with git (no email needed), run:",
             f"  {doctor_command(_repository_url(url))}",
             f"  If git rejects it too, make a new token at {TOKEN_PAGE}"),
        severity=WARNING,
    )


def token_no_longer_accepted(url: str, email: str, since: str = "",
                             known: Iterable[str] | None = None,
                             stored_url: str | None = None) -> Explanation:
    """REST answered 401 to `email:token` and had accepted that same pair before: the email
    is the account's, so the token has expired or was revoked (docs/bitbucket-facts.md §3).
    `since`: when it was accepted; `known`: the scopes it had; `stored_url`: the scope the
    token is stored for, which `rotate` replaces, keeping the email."""
    had = _bitbucket_scopes(known)
    when = f" on {since}" if since else ""
    return Explanation(
        id=TOKEN_NO_LONGER_ACCEPTED,
        summary=f"Bitbucket no longer accepts the token for {url}: the REST API accepted "
                f"{email} with it{when} and now rejects it (401).",
        details=("The email is right, so the token has expired or was revoked.",
                 *_has_line(None, had)),
        fix=new_token_fix(url, _replacement_scopes(had),
                          then=bbtoken_command("rotate", stored_url or url)),
    )


def read_missing(url: str, granted: Iterable[str] | None = None,
                 proven: Iterable[str] = ()) -> Explanation:
    """Write-only or admin-only token: clone/fetch answer 403 (no scope includes another).
    `proven`: scopes the token is known to have when Bitbucket did not list them all."""
    have, keep = _known(granted, proven)
    needed = [sc.READ_REPOSITORY]
    if sc.WRITE_REPOSITORY in keep:
        needed.append(sc.WRITE_REPOSITORY)
    return Explanation(
        id=READ_MISSING,
        summary=f"The token cannot clone or fetch {url}: it lacks {sc.READ_REPOSITORY} (403).",
        details=(*_scope_lines([sc.READ_REPOSITORY]),
                 f"{sc.WRITE_REPOSITORY} and {sc.ADMIN_REPOSITORY} do not include read.",
                 *_has_line(have, keep)),
        fix=new_token_fix(url, scopes_for_new_token(needed, keep)),
    )


def write_missing(url: str, granted: Iterable[str] | None = None,
                  proven: Iterable[str] = ()) -> Explanation:
    """Read-only token used for push: git-receive-pack answers 403 with Bitbucket's scope
    text. (A 403 without it, or for a token known to have write, is the account's:
    `explain.access.account_cannot_push`.)"""
    have, keep = _known(granted, proven)
    return Explanation(
        id=WRITE_MISSING,
        summary=f"The token cannot push to {url}: it lacks {sc.WRITE_REPOSITORY} (403).",
        details=(*_scope_lines([sc.WRITE_REPOSITORY]), *_has_line(have, keep)),
        fix=new_token_fix(url, scopes_for_new_token(
            [sc.READ_REPOSITORY, sc.WRITE_REPOSITORY], keep)),
        severity=WARNING,
    )


def identity_missing(url: str, granted: Iterable[str] | None = None,
                     also: Iterable[str] = ()) -> Explanation:
    """No read:user or no read:workspace (unknown `granted`: read:user is what is known to
    be missing): git works, but Sourcetree and IDE account panels do not. The fix names every
    scope they need (`scopes.SOURCETREE`), not only the missing ones, and `also` those that
    another explanation's new token needs, so that one token serves both."""
    have = None if granted is None else sc.normalize_scopes(granted)
    missing = [sc.READ_USER] if have is None else [
        scope for scope in (sc.READ_USER, sc.READ_WORKSPACE) if scope not in have]
    if sc.READ_USER in missing:
        summary = (f"The token lacks {', '.join(missing)}: git works, but Sourcetree, Fork and "
                   "IDE account panels cannot check who you are"
                   + (", and Sourcetree cannot list your remote repositories."
                      if sc.READ_WORKSPACE in missing else "."))
    else:
        summary = (f"The token lacks {sc.READ_WORKSPACE}: git works, but Sourcetree cannot list "
                   "your workspaces and their remote repositories.")
    return Explanation(
        id=IDENTITY_MISSING if sc.READ_USER in missing else WORKSPACE_MISSING,
        summary=summary,
        details=(*_scope_lines(missing),
                 "Sourcetree and IDE account panels need " + ", ".join(sc.SOURCETREE) + ".",
                 *_has_line(have)),
        fix=new_token_fix(url, scopes_for_new_token([*sc.SOURCETREE, *also], have),
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
        summary=f"The token for {url} expired on {date_text(date)}; Bitbucket will reject it "
                "(401).",
        fix=new_token_fix(url, [sc.READ_REPOSITORY, sc.WRITE_REPOSITORY]),
    )


def expires_soon(url: str, date: datetime.date | str, days: int) -> Explanation:
    """A warning ahead of the expiry date; Bitbucket itself never tells a client."""
    when = "today" if days <= 0 else ("tomorrow" if days == 1 else f"in {days} days")
    return Explanation(
        id=EXPIRES_SOON,
        summary=f"The token for {url} expires {when} ({date_text(date)}).",
        fix=("Fix: before then, create a new token at", f"  {TOKEN_PAGE}",
             f"  and run: {login_command(url)}"),
        severity=WARNING,
    )


def nothing_checked(url: str) -> Explanation:
    """No repository in the URL and no email: there is nothing safe to probe."""
    return Explanation(
        id=NOTHING_CHECKED,
        summary=f"The token for {url} was stored without checking it: the URL names no "
                "repository and no --email was given.",
        fix=(f"Check it with: {doctor_command(_repository_url(url))}",
             f"  or log in with --email: {login_command(url, '--email', EMAIL_PLACEHOLDER)}"),
        severity=NOTE,
    )


def for_rejection(url: str, username: str | None, secret: str | None,
                  status: int = 401, known: Iterable[str] | None = None,
                  git_worked: bool = False) -> Explanation:
    """The best explanation for a 401/410 from git: the most specific likely cause first.
    `known`, `git_worked`: what is known of the token (`token_rejected`); None: nothing."""
    if status == 410:
        return app_password_retired(url, username, status)
    if looks_like_email(username):
        return email_as_git_username(url, username or "")
    if username and username != TOKEN_USERNAME and looks_like_app_password(secret):
        return app_password_retired(url, username, status)
    if known is not None and not sc.has_any_bitbucket_scope(known):
        return no_bitbucket_scopes(url, known)
    return token_rejected(url, username, status, known, git_worked)


def _remote_url(url: str) -> str:
    """The remote URL git should have for `url`: the repository's, ending in `.git`, with no
    user in it; WORKSPACE and REPO for what `url` does not name."""
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    names = [s for s in path.split("/") if s][:2]
    names += ["WORKSPACE", "REPO"][len(names):]
    repo = names[1][:-4] if names[1].endswith(".git") else names[1]
    return f"{scheme}://{host}/{names[0]}/{repo}.git"


def _repository_url(url: str) -> str:
    """A repository URL to check: `url` when it names one, else completed for the person to
    fill in: the host gets `/WORKSPACE/REPO`, a workspace `/REPO`."""
    scheme, _, rest = url.partition("://")
    segments = [s for s in rest.split("/")[1:] if s]
    if len(segments) >= 2:
        return url
    return url.rstrip("/") + ("/REPO" if len(segments) == 1 else "/WORKSPACE/REPO")
