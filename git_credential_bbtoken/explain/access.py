"""What `get` says when Bitbucket refused a token on one repository before git asked it:
the account's access rather than the token's scopes (docs/bitbucket-facts.md §3, §5).

A scope problem is the token's (a new token fixes it); a permission problem is the account's
(only a workspace or project admin fixes it), and a repository the account cannot see looks
the same as one that does not exist. Saying which is the point: git itself prints only
`The requested URL returned error: 403`.
"""

from __future__ import annotations

from git_credential_bbtoken.common import bbtoken_command
from git_credential_bbtoken.explain import WARNING, Explanation

ACCOUNT_CANNOT_PUSH = "account-cannot-push"
ACCOUNT_CANNOT_SEE = "account-cannot-see"
CREDENTIAL_REJECTED = "credential-rejected"


def account_cannot_push(url: str, repo: str, status: int, datacenter: bool = False) -> Explanation:
    """A push refused (403) although the token is allowed to push in general: the account
    (or, on Data Center, the token's own permission) may only read this repository."""
    who = "a project admin" if datacenter else "a workspace admin"
    return Explanation(
        id=ACCOUNT_CANNOT_PUSH,
        summary=f"Your account can only read {repo}: Bitbucket refused a push to {url} "
                f"({status}).",
        details=("This is the account's permission on the repository, not the token's scopes: "
                 "a new token will not help.",),
        fix=(f"Fix: ask {who} for write access to {repo}, then push again.",),
        severity=WARNING,
    )


def account_cannot_see(url: str, repo: str, status: int, token_works: bool) -> Explanation:
    """A fetch refused (401 with Bitbucket's "You may not have access" text, 403 without a
    scope text, or 404): the repository is hidden from the account, or it does not exist."""
    details = [f"Check the URL ({url}) and that your account is a member of the repository's "
               "workspace or project."]
    if not token_works:
        details.append("If the repository is right, the token itself may be expired or "
                       "revoked: " + bbtoken_command("doctor", url))
    return Explanation(
        id=ACCOUNT_CANNOT_SEE,
        summary=f"Your account cannot see {repo}, or it does not exist: Bitbucket refused "
                f"{url} ({status}).",
        details=tuple(details),
        fix=("Fix: ask the repository's admin for access, or correct the remote URL "
             "(git remote set-url).",),
    )


def credential_rejected(url: str, status: int, denied_reason: str | None) -> Explanation:
    """Data Center refused the credential itself. Sending it again would only count towards
    the CAPTCHA that locks the account after repeated failures, so it is not sent again."""
    from git_credential_bbtoken.explain.datacenter import server_denied

    said = server_denied(denied_reason)  # the reason, then how to clear a CAPTCHA
    return Explanation(
        id=CREDENTIAL_REJECTED,
        summary=f"Bitbucket Data Center rejected the stored token for {url} ({status}).",
        details=(*said[:1], "It will not be sent again: repeated failures lock the account "
                 "behind a CAPTCHA.", *said[1:]),
        fix=("Fix: create a new HTTP access token, then run: "
             + bbtoken_command("rotate", url),),
    )
