"""Before a stored token is first used on a repository: ask Bitbucket what git is about to ask.

git never shows a helper its 403s, so a refusal can only be explained before git's request.
When `get` serves a token on a repository for an operation whose outcome is not known yet (a
push; a clone or fetch of a repository never used with this token), it makes the request git
is about to make anyway (`info/refs?service=git-upload-pack` or `git-receive-pack`, which
changes nothing), bounded at 3 s, and keeps the answer (`knowledge`). A refusal is explained
and git told to quit; a timeout or network error is as if nothing were known. This module
reads the probe's answer and words the refusal; `helper.get` runs it and keeps what it learnt.
The same probes made by a validation (a token typed at the prompt, or stored by git) are kept
the same way (`learnt_from`), so the next `get` for that repository asks nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, NamedTuple

from git_credential_bbtoken import checks, knowledge
from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.checks.answers import (
    PERMISSION,
    RECEIVE_PACK,
    SCOPE,
    Outcome,
    blames_the_token,
    refused_by,
)
from git_credential_bbtoken.common import without_git_suffix
from git_credential_bbtoken.knowledge import CLONE, PUSH, repository_name

if TYPE_CHECKING:
    from git_credential_bbtoken.checks.answers import ProbeResult
    from git_credential_bbtoken.checks.validation import Validation
    from git_credential_bbtoken.context import Request
    from git_credential_bbtoken.explain import Explanation
    from git_credential_bbtoken.storage.store import Entry


class Verdict(NamedTuple):
    """What one probe decided: allowed or not, and for a refusal why (see `knowledge`)."""

    allowed: bool
    why: str | None = None
    status: int | None = None
    detail: str | None = None  # what the server said, when it says why (Data Center)


def probe(request: Request, entry: Entry, secret: str, need: str) -> Verdict | None:
    """Ask Bitbucket, as git will, whether `need` (clone or push) is allowed; None when the
    answer says nothing about it (timeout, unreachable, rate limited, a server error)."""
    username = None if entry.authtype else entry.username
    result = checks.probe(request, username, secret, push=need == PUSH)
    return read(result, entry, need)


def read(result: ProbeResult, entry: Entry, need: str) -> Verdict | None:
    """The verdict in one probe's answer (`checks.answers.refused_by`: docs/bitbucket-facts.md
    §3 for Cloud, §5 for Data Center). A scope refusal for a scope the token is known to have
    is the account's (`blames_the_token`), kept as such: unlike a scope, it may change."""
    if result.outcome is Outcome.ALLOWED:
        return Verdict(True)
    why = refused_by(result, datacenter=entry.kind == "datacenter")
    if why is None:
        return None
    if why == SCOPE and not blames_the_token(why, _operation(need), _known_scopes(entry)):
        why = PERMISSION
    return Verdict(False, why, result.status, result.denied_reason)


def learnt_from(validation: Validation, entry: Entry, path: str | None,
                now: float) -> list[Callable[[Entry], None]]:
    """What a validation's git probes of the repository in `path` told about `entry`'s token,
    as changes that keep it (`knowledge.learnt`) exactly as `get`'s own probe would. Nothing
    when `path` names no repository (the probes then tried another one, or none), or when
    the probes sent the token otherwise than the entry will (Basic, or Bearer). `entry`
    should carry the validation itself: what it shows of the scopes decides whose a
    refusal is."""
    key = knowledge.repository_key(entry.kind, path)
    if key is None:
        return []
    return [knowledge.learnt(key, need, verdict.allowed, verdict.why, verdict.status, now)
            for need, verdict in verdicts(validation, entry, key)]


def verdicts(validation: Validation, entry: Entry,
             key: str | None) -> list[tuple[str, Verdict]]:
    """The verdicts (need, `Verdict`) in a validation's git probes of the repository `key`
    (see `learnt_from`), as `get`'s probe would read them."""
    if key is None or validation.authtype != entry.authtype:
        return []
    found = []
    for result in validation.probes:
        need = PUSH if result.service == RECEIVE_PACK else CLONE
        verdict = read(result, entry, need)
        if verdict is not None:
            found.append((need, verdict))
    return found


def token_refused_elsewhere(request: Request, entry: Entry, secret: str,
                            key: str) -> bool | None:
    """Whether a Cloud 401 on this repository is the token's: Bitbucket Cloud answers 401 for
    a dead token (expired, revoked) and for a repository the account cannot see alike
    (docs/bitbucket-facts.md §3). A repository this token has cloned tells them apart with
    one more bounded probe: refused there too (True), the token itself is dead; allowed there
    (False), it is this repository. None when there is no such repository, or no answer."""
    if entry.kind == "datacenter":
        return None  # its 401 is the credential's already ("rejected")
    worked = [other for other, facts in (entry.repositories or {}).items()
              if other != key and isinstance(facts, dict) and facts.get("clone") is True]
    if not worked:
        return None
    from git_credential_bbtoken.context import Request
    from git_credential_bbtoken.protocol import Credential

    record = Credential(protocol=request.record.protocol, host=request.record.host,
                        path=worked[0] + ".git")
    verdict = probe(Request(record, request.protocol, request.host, request.config), entry,
                    secret, CLONE)
    if verdict is None:
        return None
    return not verdict.allowed and verdict.why == "no-access"


def _operation(need: str) -> str:
    return sc.Operation.PUSH if need == PUSH else sc.Operation.CLONE


def refusal_texts(entry: Entry, request: Request, need: str, why: str | None,
                  status: int | None, detail: str | None,
                  token_works: bool | None = None) -> list[str]:
    """What to say about a refusal, most specific first; never blaming a scope the token is
    known to have. `token_works`: what `token_refused_elsewhere` found, when it was asked."""
    return [_refusal(entry, request, need, why, status or 403, detail, token_works).text()]


def _refusal(entry: Entry, request: Request, need: str, why: str | None, status: int,
             detail: str | None, token_works: bool | None = None) -> Explanation:
    from git_credential_bbtoken.explain import access

    url = without_git_suffix(request.url)
    repo = repository_name(entry.kind, request.record.path) or url
    if entry.kind == "datacenter":
        return _datacenter_refusal(entry, url, repo, need, why, status, detail)
    scopes = _known_scopes(entry)
    if blames_the_token(why, _operation(need), scopes):
        from git_credential_bbtoken.explain import cloud

        return (cloud.write_missing(url, scopes) if need == PUSH
                else cloud.read_missing(url, scopes))
    if why == "retired":
        from git_credential_bbtoken.explain import cloud

        return cloud.app_password_retired(url, entry.username, status)
    if need == PUSH and why in ("scope", "permission"):
        return access.account_cannot_push(url, repo, status)
    if token_works is None:
        # A Cloud 401 may be the token's (expired, revoked) even if it worked before.
        token_works = _token_works(entry) and status != 401
    return access.account_cannot_see(url, repo, status, token_works=token_works)


def _datacenter_refusal(entry: Entry, url: str, repo: str, need: str, why: str | None,
                        status: int, detail: str | None) -> Explanation:
    from git_credential_bbtoken.explain import access, datacenter

    username = entry.username or None
    if why == "rejected":
        return access.credential_rejected(url, status, detail)
    if why == "permission":
        return (datacenter.dc_write_missing(url, username) if need == PUSH
                else datacenter.dc_read_missing(url, username, status))
    return datacenter.dc_no_access(url, status, username)


def _known_scopes(entry: Entry) -> list[str] | None:
    """What the token is known to have (`checks.validation.scopes_known`: its check's
    scopes, and read or write proven on a repository)."""
    from git_credential_bbtoken.checks.validation import scopes_known

    known = scopes_known(entry.validation, entry.repositories)
    return None if known is None else sc.sort_scopes(known)


def _token_works(entry: Entry) -> bool:
    """Whether Bitbucket accepted this token somewhere: at login, or on another repository."""
    validation = entry.validation or {}
    if validation.get("can_clone") is True or validation.get("identity") is True:
        return True
    return any(isinstance(facts, dict) and True in (facts.get("clone"), facts.get("push"))
               for facts in (entry.repositories or {}).values())
