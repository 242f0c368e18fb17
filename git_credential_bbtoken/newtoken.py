"""Around a new or a failed token on Bitbucket hosts: asking for one when nothing usable is
stored (by git's rules: askpass or terminal), checking it for what git is about to do and
keeping it with what the check learnt, and explaining an erase.

`advice` decides before a stored token is served; this module acts when there is none to
serve, or when git has just stored or rejected one.
"""

from __future__ import annotations

import time

from git_credential_bbtoken import debug, gitcommand
from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.advice import BEARER, QUIT, expired_token
from git_credential_bbtoken.common import (
    TOKEN_PAGE,
    TOKEN_USERNAME,
    bbtoken_command,
    now_iso,
    without_git_suffix,
)
from git_credential_bbtoken.storage.store import CredentialStore, Entry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from git_credential_bbtoken.checks.validation import Validation
    from git_credential_bbtoken.console import Io
    from git_credential_bbtoken.context import Request

log = debug.getLogger(__name__)


def ask_for_token(request: Request, io: Io, credentials: CredentialStore,
                  why: str | None = None) -> list[tuple[str, str]] | str | None:
    """Nothing is stored (or nothing usable: `why` says what, in place of "no token is
    stored"): ask the person (askpass or terminal, by git's rules), probe the token for what
    git is about to do, store it when it works. Returns the answer pairs, QUIT (also when the
    person cancels: git stops as after its own cancelled prompt, instead of asking again), or
    None when nobody can be asked (git then goes on as usual)."""
    from git_credential_bbtoken import prompt

    if not prompt.can_ask():
        return None
    record = request.record
    where = f"{request.protocol}://{request.host}" + (f"/{record.path}" if record.path else "")
    operation = gitcommand.detect()
    _say_what_to_create(request, where, operation, io, why)
    try:
        username, email = _ask_username(request, where, io)
        if not username and not _git_sends_bearer(request, io):
            return QUIT
        token = _typed_token(where, username)
    except prompt.NobodyToAsk as exc:
        log.debug("not asking: %s", exc)
        return None
    except prompt.Cancelled as exc:  # at the username prompt: no token either
        log.debug("no answer: %s", exc)
        username, email, token = "", None, ""
    validation = _probed(request, username, token, email, operation, io)
    if validation is None:
        return QUIT
    if validation.can_clone is True:
        _keep(request, username, token, email, validation, credentials, io)
    else:
        for problem in validation.problems:
            io.say(problem.text())
    return _answer(username, token)


def _typed_token(where: str, username: str) -> str:
    """The token typed at git's own password prompt; "" when none was (the prompt was
    cancelled). Raises prompt.NobodyToAsk."""
    from git_credential_bbtoken import prompt

    try:
        return prompt.ask(f"Password for '{_with_username(where, username)}': ",
                          secret=True).strip()
    except prompt.Cancelled as exc:
        log.debug("no answer: %s", exc)
        return ""


def _probed(request: Request, username: str, token: str, email: str | None, operation: str,
            io: Io) -> Validation | None:
    """The typed token's check for what git is about to do; None, with why, when there is no
    token (cancelled) or Bitbucket refused it that: git is then told to quit."""
    where = without_git_suffix(request.url)
    if not token:
        # Cancelled, or no token typed: stop git here, as its own cancelled prompt does,
        # rather than letting it ask the same question again.
        io.say(f"no token given for {where}: cancelled")
        return None
    debug.register_secret(token)
    validation = _validate(request, username, token, email)
    if _refused(validation, operation):
        for text in _why_it_cannot_work(request, validation):
            io.say(text)
        return None
    return validation


def _with_username(where: str, username: str) -> str:
    """The URL as git shows it in its prompt: with the username, when there is one."""
    return where.replace("://", f"://{username}@", 1) if username else where


def _answer(username: str, token: str) -> list[tuple[str, str]]:
    """What git gets: Basic, or with no username (Data Center) a Bearer token."""
    if not username:
        return [("capability[]", "authtype"), ("authtype", BEARER), ("credential", token)]
    return [("username", username), ("password", token)]


def _git_sends_bearer(request: Request, io: Io) -> bool:
    """A Data Center token typed without a username goes as a Bearer token, which git sends
    only when it announced `capability[]=authtype` (2.46+); else say so, before the token is
    typed for nothing."""
    if "authtype" in request.record.capabilities:
        return True
    url = without_git_suffix(request.url)
    io.say(f"without a username the token for {url} is a Bearer token, and this git cannot "
           "send one (git 2.46 or newer can).\nGive the token owner's username for a personal "
           "token, or upgrade git for a project or repository token.")
    return False


def _refused(validation: Validation, operation: str) -> bool:
    """Whether Bitbucket refused the token what git is about to do."""
    return validation.can_clone is False or (operation == gitcommand.PUSH
                                             and validation.can_push is False)


def _why_it_cannot_work(request: Request, validation: Validation) -> list[str]:
    """What to say before telling git to quit with a token typed just now: why the clone
    (its errors) or the push (its refusal: a warning for `login`, where the token still
    clones, but the whole reason here) must fail. Never nothing."""
    from git_credential_bbtoken import explain
    from git_credential_bbtoken.explain import access, cloud, datacenter

    push_refused = validation.can_clone is not False
    push_ids = (cloud.WRITE_MISSING, access.ACCOUNT_CANNOT_PUSH, datacenter.DC_WRITE_MISSING)
    texts = [problem.text() for problem in validation.problems
             if (problem.id in push_ids if push_refused else problem.severity == explain.ERROR)]
    if texts:
        return texts
    url = without_git_suffix(request.url)
    need = "push" if push_refused else "clone"
    why = validation.reasons.get(need) or "no reason given"
    return [f"Bitbucket refused to let this token {need} {url} ({why}).\n"
            f"Check the token, and see why, with: {bbtoken_command('login', url)}"]


def _say_what_to_create(request: Request, where: str, operation: str, io: Io,
                        why: str | None) -> None:
    """Before asking: why (nothing is stored, unless `why` says otherwise), which token to
    create, where, and with what."""
    if request.config.kind == "datacenter":
        from git_credential_bbtoken.explain import datacenter as dc

        permission = "REPO_WRITE" if operation == gitcommand.PUSH else "REPO_READ"
        why = why or f"no HTTP access token is stored for {without_git_suffix(where)}."
        io.say(f"{why}\n"
               f"Create a personal one with {permission} at {dc.dc_tokens_page(where)}\n"
               "and give your Bitbucket username with it; for a project or repository token "
               "(or to send\na personal one as a Bearer token) leave the username empty.")
        return
    needed = [sc.READ_REPOSITORY] + ([sc.WRITE_REPOSITORY] if operation == gitcommand.PUSH
                                     else [])
    why = why or f"no API token is stored for {without_git_suffix(where)}."
    io.say(f"{why}\n"
           f"Create one at {TOKEN_PAGE}\n"
           f"(\"Create API token with scopes\", app Bitbucket) with: {', '.join(needed)}.\n"
           f"Username: your Bitbucket username or {TOKEN_USERNAME} (not your email).")


def _ask_username(request: Request, where: str, io: Io) -> tuple[str, str | None]:
    """The username for git (git's own, else asked) and the email for the REST checks, if
    the person typed one. On Data Center no name is "": the token goes as a Bearer token
    (project and repository tokens must; personal tokens may). Raises prompt.NobodyToAsk, or
    prompt.Cancelled."""
    from git_credential_bbtoken import prompt

    username = request.record.username
    if username is not None:
        return username, None
    datacenter = request.config.kind == "datacenter"
    username = prompt.ask(f"Username for '{where}': ", secret=False).strip()
    if not username:
        return ("", None) if datacenter else (TOKEN_USERNAME, None)
    from git_credential_bbtoken import explain

    if explain.looks_like_email(username) and not datacenter:
        # git needs the Bitbucket username; the email is what REST checks use.
        io.say(f"{username} is an email: git over HTTPS refuses it; using "
               f"{TOKEN_USERNAME} for git and the email for scope checks.")
        return TOKEN_USERNAME, username
    return username, None


def renew_expired(entry: Entry, request: Request, io: Io,
                  credentials: CredentialStore) -> list[tuple[str, str]] | str:
    """The stored token expired (`RENEW`): ask the person (by git's rules) for a new one for
    the expired one's username, probe it for what git is about to do, and put it in place of
    the expired one, as `rotate` does: at its scope, with its username and email, and in every
    other entry that held the same token. QUIT, with why, when nobody can be asked or nothing
    came of asking: the expired token is certain to be refused. A Bearer-only token is renewed
    with `rotate` (its prompt asks for no username)."""
    from git_credential_bbtoken import prompt

    expired = expired_token(entry)
    if entry.authtype or not prompt.can_ask():
        io.say(expired.text())
        return QUIT
    record = request.record
    where = f"{request.protocol}://{request.host}" + (f"/{record.path}" if record.path else "")
    operation = gitcommand.detect()
    _say_what_to_renew(entry, request, expired.summary, operation, io)
    try:
        token = _typed_token(where, entry.username)
    except prompt.NobodyToAsk as exc:  # the guidance said why already: only what to run
        log.debug("not asking: %s", exc)
        io.say(f"nobody could be asked for it; replace it with: "
               f"{bbtoken_command('rotate', entry.url)}")
        return QUIT
    validation = _probed(request, entry.username, token, entry.email, operation, io)
    if validation is None:
        return QUIT
    if validation.can_clone is not True:
        for problem in validation.problems:
            io.say(problem.text())
    _replace_expired(entry, token, validation, request, credentials, io)
    return _answer(entry.username, token)


def _say_what_to_renew(entry: Entry, request: Request, summary: str, operation: str,
                       io: Io) -> None:
    """Before asking for the new token: that the old one expired, and what to create: what
    the old one could do (else read and write), and at least what git is about to do."""
    from git_credential_bbtoken.checks.validation import scopes_known

    known = scopes_known(entry.validation, entry.repositories)
    push = operation == gitcommand.PUSH
    if request.config.kind == "datacenter":
        from git_credential_bbtoken.explain import datacenter as dc

        read_only = not push and known is not None and sc.WRITE_REPOSITORY not in known
        permission = "REPO_READ" if read_only else "REPO_WRITE"
        io.say(f"{summary}\nCreate a new one with {permission} at "
               f"{dc.dc_tokens_page(entry.url)}")
        return
    scopes = set(known or (sc.READ_REPOSITORY, sc.WRITE_REPOSITORY)) | {sc.READ_REPOSITORY}
    if push:
        scopes.add(sc.WRITE_REPOSITORY)
    io.say(f"{summary}\n"
           f"Create a new one at {TOKEN_PAGE}\n"
           f"(\"Create API token with scopes\", app Bitbucket) with: "
           f"{', '.join(sorted(scopes))}.")


def _replace_expired(entry: Entry, token: str, validation: Validation, request: Request,
                     credentials: CredentialStore, io: Io) -> None:
    """The new token in place of the expired one, as `rotate` replaces one: in `entry` and in
    every entry holding the same secret, each at its scope with its username and email, all
    or none (`CredentialStore.rotate`); the old expiry date goes with the old token."""
    from git_credential_bbtoken.storage.store import for_new_token

    learnt = _learnt(validation, entry, request)
    checked, stored_at = validation.to_dict(), now_iso()

    def replace(stored: Entry) -> None:
        mine = stored.key == entry.key
        for_new_token(stored, checked if mine else None, None, stored_at)
        for change in learnt if mine else ():
            change(stored)

    try:
        old = credentials.secret(entry)
        targets = credentials.holding(old) if old is not None else []
        if entry.key not in {e.key for e in targets}:
            targets.append(entry)
        credentials.rotate(targets, token, replace)
    except Exception as exc:  # git still gets the token; only keeping it failed
        io.say(f"could not keep the token: {exc}")


def after_new_token(entry: Entry, token: str, request: Request, io: Io,
                    credentials: CredentialStore) -> None:
    """git stored a token we did not know: check it (bounded) and keep what we learnt."""
    import copy

    from git_credential_bbtoken.explain import cloud

    validation = _validate(request, entry.username, token, entry.email)
    for problem in validation.problems:
        if problem.id not in (cloud.NOTHING_CHECKED,):
            io.say(problem.text())
    result = validation.to_dict()
    # Read the probes with what this check showed of the scopes (as `_keep` does): a scope
    # refusal for a scope it has is the account's, and may change.
    checked = copy.copy(entry)
    checked.validation = result
    learnt = _learnt(validation, checked, request)

    def keep(stored: Entry) -> None:
        stored.validation = result
        for change in learnt:
            change(stored)

    credentials.update(entry, keep)


def _learnt(validation: Validation, entry: Entry,
            request: Request) -> list[Callable[[Entry], None]]:
    """What the validation's probes of the request's repository told, kept as `get`'s
    first-use probe keeps it: the next fetch or push of that repository asks nothing."""
    from git_credential_bbtoken import access

    return access.learnt_from(validation, entry, request.record.path, time.time())


def after_erase(request: Request, removed: list[Entry], io: Io) -> None:
    """git got a 401 with this credential: say why Bitbucket may have refused it."""
    record = request.record
    url = without_git_suffix(request.url)
    for entry in removed:
        if entry.expiry is not None and entry.expiry <= time.time():
            io.say(expired_token(entry).text())
            io.say(f"removed the stored token for {entry.url} ({entry.username}).")
            return
    if request.config.kind == "datacenter":
        from git_credential_bbtoken.explain import datacenter

        io.say(datacenter.dc_token_rejected(url, record.username).text())
    else:
        from git_credential_bbtoken.checks.validation import git_worked, scopes_known
        from git_credential_bbtoken.explain import cloud

        # What was kept beside the rejected token says which causes still fit: one that
        # cloned, or whose scopes Bitbucket listed, was not made without scopes.
        known = [scopes_known(e.validation, e.repositories) for e in removed]
        had = [scopes for scopes in known if scopes is not None]
        worked = any(git_worked(e.validation, e.repositories) for e in removed)
        io.say(cloud.for_rejection(url, record.username, record.password,
                                   known=frozenset().union(*had) if had else None,
                                   git_worked=worked).text())
    for entry in removed:
        io.say(f"removed the stored token for {entry.url} ({entry.username}).")


def _validate(request: Request, username: str, token: str, email: str | None) -> Validation:
    from git_credential_bbtoken import checks

    return checks.validate(request, username or None, token, email)


def _keep(request: Request, username: str, token: str, email: str | None,
          validation: Validation,
          credentials: CredentialStore, io: Io) -> None:
    from git_credential_bbtoken.matching import bitbucket_store_scope

    entry = Entry(protocol=request.protocol, host=request.host,
                  path=bitbucket_store_scope(request.record.path, request.config.kind),
                  username=username, backend=request.config.store, kind=request.config.kind,
                  email=email, stored_at=now_iso(), authtype=None if username else BEARER,
                  validation=validation.to_dict())
    for change in _learnt(validation, entry, request):
        change(entry)
    try:
        credentials.put(entry, token)
    except Exception as exc:  # git still gets the token; only keeping it failed
        io.say(f"could not keep the token: {exc}")
