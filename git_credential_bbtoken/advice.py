"""What the helper tells a person on Bitbucket hosts, around git's get, store and erase.

git gives a helper no second chance after a 403: the explanation has to come *before* the
request (from what `login`/`store` learnt about the token), or from the helper's own probe
when it asks for a token itself. This module holds those decisions; `helper` calls it only
for Bitbucket hosts, and imports it (and through it `requests`) only when it is needed.

Before serving a stored token, the decision is data (`Decision`: the action, the notes to
say, the expiry warning to record); `helper.get` says it, records it and acts on it.
"""

from __future__ import annotations

import time

from git_credential_bbtoken import debug, gitcommand
from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.common import (
    APP_PASSWORDS_REMOVED,
    EXPIRY_WARNING_DAYS,
    TOKEN_PAGE,
    TOKEN_USERNAME,
    bbtoken_command,
    days_left,
    now_iso,
    utc_date_text,
    without_git_suffix,
)
from git_credential_bbtoken.knowledge import repository_key
from git_credential_bbtoken.storage.store import CredentialStore, Entry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from git_credential_bbtoken import explain
    from git_credential_bbtoken.checks.validation import Validation
    from git_credential_bbtoken.console import Io
    from git_credential_bbtoken.context import Request

    # Something to tell the person: a text function of this module and the facts it takes.
    Note = tuple[Callable[..., list[str]], tuple[Any, ...]]

# The explanations are imported by each function that is about to say something: a `get`
# whose token is fine says nothing and should not load them.

log = debug.getLogger(__name__)

ANSWER = "answer"  # serve the stored credential
RENEW = "renew"  # it expired: ask for a new one (`renew_expired`), else quit
QUIT = "quit"  # tell git to stop: the request is certain to fail
BEARER = "Bearer"  # the authtype of a Data Center token used without a username


class Decision:
    """What `get` does with a stored token, decided from what is known of it: the action
    (ANSWER, RENEW or QUIT), what to tell the person, and the day to record as the last expiry
    warning (`warned_on`, `YYYY-MM-DD`, or None).

    What to tell is kept as notes, a text function of this module and its facts, turned into
    words by `texts`: deciding loads none of the texts, so a `get` with nothing to say never
    does. A plain class: `dataclasses` would cost `get` more than all it does here."""

    __slots__ = ("action", "notes", "warned_on")

    def __init__(self, action: str, *notes: Note, warned_on: str | None = None) -> None:
        self.action = action
        self.notes = notes
        self.warned_on = warned_on

    def texts(self) -> list[str]:
        """What to tell the person, one paragraph for each `Io.say`."""
        return [text for say, facts in self.notes for text in say(*facts)]

    def __repr__(self) -> str:
        said = ", ".join(say.__name__ for say, _ in self.notes)
        return f"Decision({self.action!r}, [{said}], warned_on={self.warned_on!r})"


def before_answer(entry: Entry, secret: str, request: Request) -> Decision:
    """Look at what is known of a stored token before serving it: its expiry date, and what
    `login`/`store` learnt of its scopes or permissions."""
    now = time.time()
    if entry.expiry is not None and entry.expiry <= now:
        return Decision(RENEW, (_expired_texts, (entry,)))
    url = without_git_suffix(request.url)
    if entry.kind == "datacenter":
        decision = _before_answer_datacenter(entry, url, request.record.path)
    else:
        decision = _before_answer_cloud(entry, secret, url)
    today = _expiry_warning_day(entry, now)
    if today is None:
        return decision
    # One line, at most once a day (this runs on every background fetch), before the rest.
    assert entry.expiry is not None
    days = days_left(entry.expiry, now)
    return Decision(decision.action, (_expires_soon_texts, (entry, days)), *decision.notes,
                    warned_on=today)


def _expiry_warning_day(entry: Entry, now: float) -> str | None:
    """Today's date when the token expires within the warning window and nobody was warned
    today; else None."""
    if entry.expiry is None or days_left(entry.expiry, now) > EXPIRY_WARNING_DAYS:
        return None
    today = utc_date_text(now)
    return None if entry.expiry_warned_on == today else today


def _before_answer_cloud(entry: Entry, secret: str, url: str) -> Decision:
    """Cloud: scopes imply nothing (write does not include read), learnt at login/store."""
    validation = entry.validation or {}
    granted = validation.get("scopes")
    scopes = granted if isinstance(granted, list) else None
    # A verdict of the login's git probe holds for the token everywhere only when the login
    # was for one repository; on a workspace it was one repository's (permissions differ
    # between repositories), and `access` asks each repository itself.
    probed_here = repository_key(entry.kind, entry.path) is not None
    if validation.get("can_clone") is False and probed_here:
        # Stored with `login --force` although the check said it cannot work: say why again
        # rather than letting git fail with a bare status code.
        return Decision(QUIT, (_cannot_clone_texts, (validation, url, scopes)))
    if not validation and entry.username != TOKEN_USERNAME and _looks_like_app_password(secret):
        # App passwords were removed on 2026-07-28 and always fail now, with a 410 after
        # which git does not even call erase: the stale secret would stay forever.
        return Decision(QUIT, (_app_password_texts, (entry, url)))
    if scopes is not None and not sc.can(sc.Operation.CLONE, scopes):
        # Without read:repository:bitbucket neither fetch nor push can work (no implication).
        return Decision(QUIT, (_read_missing_texts, (url, scopes)))
    lacks_write = scopes is not None and not sc.can(sc.Operation.PUSH, scopes)
    push_refused = validation.get("can_push") is False and probed_here
    # Cheapest first: the process tree only when a push could be refused, and the catalogue
    # (whose refusal it was) only for a push.
    if not (lacks_write or push_refused) or gitcommand.detect() != gitcommand.PUSH:
        return Decision(ANSWER)
    if lacks_write or not _push_refused_by_the_account(validation):
        return Decision(QUIT, (_write_missing_texts, (url, scopes)))
    return Decision(ANSWER)


def _push_refused_by_the_account(validation: dict[str, Any]) -> bool:
    """The check found the account may not push here, not the token: an admin may change
    that, so `get` asks Bitbucket again on first use (`access`) instead of quitting on it."""
    from git_credential_bbtoken.explain.access import ACCOUNT_CANNOT_PUSH

    return any(p.id == ACCOUNT_CANNOT_PUSH for p in _stored_problems(validation))


def _looks_like_app_password(secret: str) -> bool:
    from git_credential_bbtoken import explain  # old entries only: rare

    return explain.looks_like_app_password(secret)


def _before_answer_datacenter(entry: Entry, url: str, path: str | None) -> Decision:
    """Data Center: permissions are levels (REPO_WRITE includes read), learnt from the
    probes at login/store; explain a clone or push that the server will refuse. A token's
    permissions can be edited after its creation (docs/bitbucket-facts.md §5): a push the
    login saw refused is asked about again (`access`) when git names the repository."""
    validation = entry.validation or {}
    username = entry.username or None
    if validation.get("can_clone") is False:
        return Decision(QUIT, (_dc_cannot_clone_texts, (validation, url, username)))
    if (validation.get("can_push") is False and repository_key(entry.kind, path) is None
            and gitcommand.detect() == gitcommand.PUSH):
        return Decision(QUIT, (_dc_write_missing_texts, (validation, url, username)))
    return Decision(ANSWER)


# -- what `get` says: each function turns a note's facts into paragraphs ----------------------
#
# These import the explanations (only they do, in this part of the module): they run only
# when a decision has something to say.


def _expired_texts(entry: Entry) -> list[str]:
    return [_expired(entry).text()]


def _expires_soon_texts(entry: Entry, days: int) -> list[str]:
    """One line: the summary and the command to renew."""
    assert entry.expiry is not None
    date = utc_date_text(entry.expiry)
    if entry.kind == "datacenter":
        from git_credential_bbtoken.explain import datacenter

        username = entry.username or None
        soon = datacenter.dc_expires_soon(entry.url, date, days, username)
    else:
        from git_credential_bbtoken.explain import cloud

        soon = cloud.expires_soon(entry.url, date, days)
    # `rotate` replaces it wherever the same token is stored, after checking the new one.
    return [soon.summary + f" Renew it: create a new token, then run: "
            f"{bbtoken_command('rotate', entry.url)}"]


def _cannot_clone_texts(validation: dict[str, Any], url: str,
                        scopes: list[str] | None) -> list[str]:
    from git_credential_bbtoken.explain import cloud

    return _stored_errors(validation) or [cloud.read_missing(url, scopes).text()]


def _app_password_texts(entry: Entry, url: str) -> list[str]:
    from git_credential_bbtoken.explain import cloud

    retired = cloud.app_password_retired(url, entry.username)
    return ["\n".join([f"the secret stored for {entry.url} ({entry.username}) looks like an "
                       f"app password; app passwords were removed on "
                       f"{APP_PASSWORDS_REMOVED} and Bitbucket refuses them now.",
                       *retired.details, *retired.fix])]


def _read_missing_texts(url: str, scopes: list[str]) -> list[str]:
    from git_credential_bbtoken.explain import cloud

    return [cloud.read_missing(url, scopes).text()]


def _write_missing_texts(url: str, scopes: list[str] | None) -> list[str]:
    from git_credential_bbtoken.explain import cloud

    return [cloud.write_missing(url, scopes).text()]


def _dc_cannot_clone_texts(validation: dict[str, Any], url: str,
                           username: str | None) -> list[str]:
    from git_credential_bbtoken.explain import datacenter

    return _stored_errors(validation) or [datacenter.dc_token_rejected(url, username).text()]


def _dc_write_missing_texts(validation: dict[str, Any], url: str,
                            username: str | None) -> list[str]:
    from git_credential_bbtoken.explain import datacenter

    known = [p for p in _stored_problems(validation) if p.id == datacenter.DC_WRITE_MISSING]
    return [(known[0] if known else datacenter.dc_write_missing(url, username)).text()]


def _stored_problems(validation: dict[str, Any]) -> list[explain.Explanation]:
    """The problems `login`/`store` found, as stored with the entry."""
    from git_credential_bbtoken import explain

    return [explain.Explanation.from_dict(p) for p in validation.get("problems") or []
            if isinstance(p, dict)]


def _stored_errors(validation: dict[str, Any]) -> list[str]:
    from git_credential_bbtoken import explain

    return [p.text() for p in _stored_problems(validation) if p.severity == explain.ERROR]


def _expired(entry: Entry) -> explain.Explanation:
    """The expiry date has passed: the product's text (also said after an erase)."""
    assert entry.expiry is not None
    date = utc_date_text(entry.expiry)
    if entry.kind == "datacenter":
        from git_credential_bbtoken.explain import datacenter

        return datacenter.dc_expired(entry.url, date, entry.username or None)
    from git_credential_bbtoken.explain import cloud

    return cloud.expired(entry.url, date)


# -- nothing stored, a new token, an erase ------------------------------------------------------


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
        token = prompt.ask(f"Password for '{_with_username(where, username)}': ",
                           secret=True).strip()
    except prompt.NobodyToAsk as exc:
        log.debug("not asking: %s", exc)
        return None
    except prompt.Cancelled as exc:
        log.debug("no answer: %s", exc)
        token = ""
    if not token:
        # Cancelled, or no token typed: stop git here, as its own cancelled prompt does,
        # rather than letting it ask the same question again.
        io.say(f"no token given for {without_git_suffix(where)}: cancelled")
        return QUIT
    debug.register_secret(token)
    validation = _validate(request, username, token, email)
    if validation.can_clone is False or (operation == gitcommand.PUSH
                                         and validation.can_push is False):
        for text in _why_it_cannot_work(request, validation):
            io.say(text)
        return QUIT
    if validation.can_clone is True:
        _keep(request, username, token, email, validation, credentials, io)
    else:
        for problem in validation.problems:
            io.say(problem.text())
    return _answer(username, token)


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
    """The stored token expired (`RENEW`): as when nothing is stored, ask the person for a
    new one for the same username (`ask_for_token`, which probes and keeps it), and drop the
    expired one when the new one went elsewhere. QUIT, with why, when nobody can be asked or
    nothing came of asking: the expired token is certain to be refused. A Bearer-only token
    is renewed with `login` (its prompt asks for no username)."""
    from git_credential_bbtoken import context, prompt
    from git_credential_bbtoken.protocol import Credential

    expired = _expired(entry)
    answer = None
    if not entry.authtype and prompt.can_ask():
        record = request.record
        same_user = Credential(protocol=record.protocol, host=record.host, path=record.path,
                               username=entry.username)
        asking = context.Request(same_user, request.protocol, request.host, request.config)
        answer = ask_for_token(asking, io, credentials, why=expired.summary)
    if not isinstance(answer, list):
        if answer is None:
            io.say(expired.text())
        return QUIT
    try:  # the new one, if kept, has no expiry date: only the expired one is chosen
        credentials.remove(lambda entries: [e for e in entries if e.key == entry.key
                                            and e.expiry == entry.expiry])
    except Exception as exc:  # git still gets the new token; the old one is only shadowed
        log.debug("could not remove the expired token: %s", type(exc).__name__)
    return answer


def after_new_token(entry: Entry, token: str, request: Request, io: Io,
                    credentials: CredentialStore) -> None:
    """git stored a token we did not know: check it (bounded) and keep what we learnt."""
    from git_credential_bbtoken.explain import cloud

    validation = _validate(request, entry.username, token, entry.email)
    for problem in validation.problems:
        if problem.id not in (cloud.NOTHING_CHECKED,):
            io.say(problem.text())
    result = validation.to_dict()
    learnt = _learnt(validation, entry, request)

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
            io.say(_expired(entry).text())
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
