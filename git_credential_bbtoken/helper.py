"""git's three actions — get, store, erase — over the credential store.

stdout carries the protocol answer only; everything for the person goes to stderr through
`Io.say`. On hosts that are not Bitbucket (kind `generic`) the helper behaves like git's own
stores and says nothing in normal operation: git's test battery compares stderr exactly.
"""

from __future__ import annotations

import os
import time

from git_credential_bbtoken import debug, knowledge
from git_credential_bbtoken.common import (
    TOKEN_USERNAME,
    bbtoken_command,
    now_iso,
    without_git_suffix,
)
from git_credential_bbtoken.context import Request, environment_username, make_request, refusal
from git_credential_bbtoken.matching import (
    bitbucket_new_token_scope,
    find_for_erase,
    find_for_get,
    normalize_path,
)
from git_credential_bbtoken.protocol import Credential
from git_credential_bbtoken.storage.secretstore import NoKeyringError
from git_credential_bbtoken.storage.store import CredentialStore, Entry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from git_credential_bbtoken.console import Io

log = debug.getLogger(__name__)


# -- get --------------------------------------------------------------------------------------


def get(record: Credential, io: Io) -> int:
    request = make_request(record)
    if request is None:
        return 0
    refused = refusal(request)
    if refused is not None:
        io.say(refused)
        return 0
    if request.config.is_bitbucket and os.environ.get("BBTOKEN_TOKEN"):
        return _answer_from_environment(request, io)

    store = CredentialStore(io.say)
    entries = store.entries()
    entry = find_for_get(entries, request.protocol, request.host, record.path,
                         record.username, request.config.kind)
    if entry is None:
        log.debug("nothing stored for %s", request.url)
        if request.config.is_bitbucket:
            return _nothing_stored_on_bitbucket(request, entries, store, io)
        return 0
    try:
        secret = store.secret(entry)
        refresh_token = store.refresh_token(entry)
    except NoKeyringError:
        log.debug("no keyring available; answering nothing")
        return 0
    if secret is None:
        log.debug("the secret for %s is missing from %s", entry.url, entry.backend)
        return 0
    debug.register_secret(secret)
    debug.register_secret(refresh_token)
    if request.config.is_bitbucket and not _may_serve(entry, secret, request, store, io):
        return 0
    return _answer_stored(entry, secret, refresh_token, record, io)


def _may_serve(entry: Entry, secret: str, request: Request, store: CredentialStore,
               io: Io) -> bool:
    """A Bitbucket token is served unless what is known of it (its expiry, its scopes) or of
    the repository (what Bitbucket answered the first time) says the request must fail."""
    if _has_something_known(entry) and not _before_answer(entry, secret, request, store, io):
        return False
    return _repository_allows(entry, secret, request, store, io)


def _repository_allows(entry: Entry, secret: str, request: Request, store: CredentialStore,
                       io: Io) -> bool:
    """What this token may do on the request's repository: known (no request at all), or
    learnt now with the one request git is about to make (`access`), and kept. A refusal is
    explained and git told to quit: after a probe, or without one when its cause cannot have
    gone away (`knowledge.LASTING`)."""
    key = knowledge.repository_key(entry.kind, request.record.path)
    if key is None:
        return True
    if all(knowledge.known(entry, key, need) is True
           for need in (knowledge.CLONE, knowledge.PUSH)):
        return True  # known for both: no need to tell a push from a fetch
    from git_credential_bbtoken import gitcommand

    need = knowledge.PUSH if gitcommand.detect() == gitcommand.PUSH else knowledge.CLONE
    state = knowledge.known(entry, key, need)
    if state is True:
        return True
    from git_credential_bbtoken import access

    token_works = None
    if state is None:
        verdict = access.probe(request, entry, secret, need)
        if verdict is None:
            return True  # no answer (timeout, network): serve it, as if nothing were known
        if verdict.allowed:
            _keep(store, entry, knowledge.learnt(key, need, True, None, verdict.status,
                                                 time.time()))
            return True
        if verdict.why == "no-access":
            dead = access.token_refused_elsewhere(request, entry, secret, key)
            if dead:
                # The token itself was refused: git sends it, gets the 401 and erases it
                # (explained then), and the next command asks for a new one. Quitting here
                # would keep a dead token forever.
                return True
            token_works = None if dead is None else True
        _keep(store, entry, knowledge.learnt(key, need, False, verdict.why, verdict.status,
                                             time.time()))
        why, status, detail = verdict.why, verdict.status, verdict.detail
    else:
        refused = knowledge.refusal(entry, key, need)
        why, status, detail = refused["why"], refused["status"], None
    for text in access.refusal_texts(entry, request, need, why, status, detail, token_works):
        io.say(text)
    io.answer([("quit", "1")])
    return False


def _keep(store: CredentialStore, entry: Entry, change: Callable[[Entry], None]) -> None:
    """Record what was learnt, without ever waiting for the writers' lock."""
    try:
        store.update_if_free(entry, change)
    except Exception as exc:  # knowing it next time is no reason to fail git now
        log.debug("could not keep what was learnt: %s", type(exc).__name__)


def _answer_stored(entry: Entry, secret: str, refresh_token: str | None, record: Credential,
                   io: Io) -> int:
    if entry.authtype:
        log.debug("answering with the %s token stored for %s", entry.authtype, entry.url)
        if "authtype" not in record.capabilities and entry.kind == "generic":
            return 0  # as git's stores: this git cannot use it, so there is no answer
        return _answer_bearer(entry.authtype, secret, entry.expiry, record, io,
                              explain_url=entry.url)
    log.debug("answering with the credential stored for %s as %s", entry.url, entry.username)
    pairs = [("username", entry.username), ("password", secret)]
    if entry.expiry is not None:
        pairs.append(("password_expiry_utc", str(entry.expiry)))
    if refresh_token is not None:
        pairs.append(("oauth_refresh_token", refresh_token))
    io.answer(pairs)
    return 0


def _has_something_known(entry: Entry) -> bool:
    """Whether there is anything to look at before serving a Bitbucket token: an expiry date,
    what a check learnt, or a username that may go with a retired app password. Else `advice`
    (and all it imports) is not even loaded."""
    return entry.expiry is not None or bool(entry.validation) or entry.username != TOKEN_USERNAME


def _before_answer(entry: Entry, secret: str, request: Request, store: CredentialStore,
                   io: Io) -> bool:
    """advice's decision on a stored token, carried out: its notes said, the expiry warning
    recorded, git told to quit if it must. True when the token is to be served."""
    from git_credential_bbtoken import advice

    decision = advice.before_answer(entry, secret, request)
    if decision.action == advice.RENEW:
        from git_credential_bbtoken import newtoken

        answer = newtoken.renew_expired(entry, request, io, store)
        io.answer(answer if isinstance(answer, list) else [("quit", "1")])
        return False
    for text in decision.texts():
        io.say(text)
    if decision.warned_on is not None:
        _record_expiry_warning(store, entry, decision.warned_on)
    if decision.action == advice.QUIT:
        io.answer([("quit", "1")])
    return decision.action == advice.ANSWER


def _record_expiry_warning(store: CredentialStore, entry: Entry, day: str) -> None:
    def mark(stored: Entry) -> None:
        stored.expiry_warned_on = day

    try:
        # Never waits for the lock: if a writer holds it, the warning is shown again later.
        store.update_if_free(entry, mark)
    except Exception as exc:  # a warning shown twice is no reason to fail git
        log.debug("could not record the expiry warning: %s", type(exc).__name__)


def _answer_bearer(authtype: str, secret: str, expiry: int | None, record: Credential, io: Io,
                   explain_url: str, from_environment: bool = False) -> int:
    """A Bearer-only token (Data Center project or repository token): through git's
    `authtype`/`credential` attributes when git announced `capability[]=authtype` (2.46+);
    with an older git, explain and stop rather than send it as a password that must fail."""
    if "authtype" not in record.capabilities:
        from git_credential_bbtoken.explain import datacenter

        io.say(datacenter.bearer_needs_newer_git(explain_url, from_environment=from_environment)
               .text())
        io.answer([("quit", "1")])
        return 0
    pairs = [("capability[]", "authtype"), ("authtype", authtype), ("credential", secret)]
    if expiry is not None:
        pairs.append(("password_expiry_utc", str(expiry)))
    io.answer(pairs)
    return 0


def _nothing_stored_on_bitbucket(request: Request, entries: list[Entry],
                                 store: CredentialStore, io: Io) -> int:
    """Say why nothing matched when a near miss explains it, else ask the person (when git's
    rules allow) and probe what they type. Nothing at all without a keyring to keep the
    token in: git asks the person itself, and the `store` that follows says how to get one."""
    if not store.can_keep(request.config.store):
        log.debug("no keyring available; answering nothing")
        return 0
    record = request.record
    same_host = [e for e in entries if (e.protocol, e.host) == (request.protocol, request.host)]
    if record.username is not None and same_host:
        bearer = find_for_get([e for e in same_host if e.authtype], request.protocol,
                              request.host, record.path, None, request.config.kind)
        if bearer is not None:
            from git_credential_bbtoken.explain import datacenter

            # A project/repository token goes without a username: git took one from the URL.
            io.say(datacenter.dc_bearer_only(bearer.url, record.username).summary + "\n"
                   f"Remove '{record.username}@' from the remote URL (git remote set-url) so "
                   "git sends the stored Bearer token.")
            return 0
        names = sorted({e.username for e in same_host} - {record.username})
        if names and find_for_get(same_host, request.protocol, request.host, record.path,
                                  None, request.config.kind) is not None:
            io.say(_another_username(request, record.username, names[0]))
            return 0
    if record.path is None and any(e.path for e in same_host):
        io.say(f"tokens are stored for workspaces of {request.host}, but git did not send the "
               "repository path; run `git credential-bbtoken setup` (it sets "
               "credential.useHttpPath)")
    from git_credential_bbtoken import advice, newtoken

    answer = newtoken.ask_for_token(request, io, store)
    if answer == advice.QUIT:
        io.answer([("quit", "1")])
    elif isinstance(answer, list):
        io.answer(answer)
    else:
        # Nobody could be asked (CI, an IDE's background fetch): git will fail with its own
        # "could not read Username"; one line says what to do about it.
        where = without_git_suffix(request.url)
        io.say(f"no token is stored for {where}; run: {bbtoken_command('login', where)}")
    return 0


def _another_username(request: Request, username: str, stored_as: str) -> str:
    """git asks for `username` (from the remote URL) and a token is stored as `stored_as`.
    On Cloud an email is never a git username (docs/bitbucket-facts.md §1), so storing the
    token for it cannot help: the remote URL is the fix."""
    if request.config.kind == "cloud":
        from git_credential_bbtoken.explain import cloud, looks_like_email

        if looks_like_email(username):
            return cloud.email_as_git_username(without_git_suffix(request.url), username,
                                               stored_as).text()
    return (f"a token is stored for {request.host} as {stored_as}, but git asks for user "
            f"'{username}' (from the remote URL). Either remove '{username}@' from the "
            "remote URL, or store the token for that name: "
            f"{bbtoken_command('login', request.url, '--username', username)}")


def _answer_from_environment(request: Request, io: Io) -> int:
    """CI mode: serve BBTOKEN_TOKEN without storing anything. Only for Bitbucket hosts, so a
    token meant for Bitbucket never reaches another host that uses this helper."""
    token = os.environ["BBTOKEN_TOKEN"]
    debug.register_secret(token)
    username = environment_username(request.config.kind, request.record.username)
    if username is None:
        log.debug("answering with BBTOKEN_TOKEN as a Bearer token")
        where = f"{request.protocol}://{request.host}"
        return _answer_bearer("Bearer", token, None, request.record, io, explain_url=where,
                              from_environment=True)
    log.debug("answering with BBTOKEN_TOKEN as %s", username)
    io.answer([("username", username), ("password", token)])
    return 0


# -- store ------------------------------------------------------------------------------------


def store(record: Credential, io: Io) -> int:
    request = make_request(record)
    # A password goes with a username; a Bearer credential (authtype + credential) may not.
    bearer = record.password is None and bool(record.authtype) and record.credential is not None
    if request is None or record.ephemeral:
        return 0  # ephemeral: git marks credentials that must not outlive this request
    if not bearer and (record.username is None or record.password is None):
        return 0
    refused = refusal(request)
    if refused is not None:
        io.say(refused)
        return 0
    if request.config.is_bitbucket and os.environ.get("BBTOKEN_TOKEN"):
        return 0  # CI mode writes nothing to disk
    secret = record.credential if bearer else record.password
    assert secret is not None
    username = record.username or ""
    debug.register_secret(secret)
    debug.register_secret(record.oauth_refresh_token)

    credentials = CredentialStore(io.say)
    entries = credentials.entries()
    kind = request.config.kind
    if request.config.is_bitbucket:
        # git stores the token that served this request again after every success: then
        # nothing changes. A new one is kept for the workspace, or in place of a login
        # within it; never over a login for the whole host (bitbucket_new_token_scope).
        current = find_for_get(entries, request.protocol, request.host, record.path,
                               record.username, kind)
        scope = bitbucket_new_token_scope(current.path if current is not None else None,
                                          record.path, kind)
    else:
        scope = normalize_path(record.path)
        current = next((e for e in entries if e.key == (request.protocol, request.host,
                                                        scope, username)), None)
    if current is not None and credentials.secret(current) == secret:
        _store_unchanged(credentials, current, record)
        return 0
    entry = Entry(protocol=request.protocol, host=request.host, path=scope,
                  username=username, backend=request.config.store, kind=kind,
                  expiry=record.password_expiry_utc, stored_at=now_iso(),
                  authtype=record.authtype if bearer else None)
    previous = next((e for e in entries if e.key == entry.key), None)
    if previous is not None:
        entry.email = previous.email  # a new token for the same login keeps its email
    credentials.put(entry, secret, record.oauth_refresh_token)
    log.debug("stored a credential for %s as %s in %s", entry.url, entry.username,
              entry.backend)
    # Cloud takes no Bearer tokens for git (facts §1): nothing to check for one there.
    if request.config.is_bitbucket and (not bearer or kind == "datacenter"):
        from git_credential_bbtoken import newtoken

        newtoken.after_new_token(entry, secret, request, io, credentials)
    return 0


def _store_unchanged(credentials: CredentialStore, current: Entry, record: Credential) -> None:
    """git stores after every successful request: for a token we already hold, keep what we
    know. git 2.39 drops password_expiry_utc from this store, so a missing expiry never wipes
    the one we have; a new one replaces it."""
    refresh_changed = (record.oauth_refresh_token is not None
                       and record.oauth_refresh_token != credentials.refresh_token(current))
    if refresh_changed:
        assert record.password is not None
        if record.password_expiry_utc is not None:
            current.expiry = record.password_expiry_utc
        credentials.put(current, record.password, record.oauth_refresh_token)
        return
    expiry = record.password_expiry_utc
    if expiry is not None and expiry != current.expiry:
        def set_expiry(entry: Entry) -> None:
            entry.expiry = expiry
        credentials.update(current, set_expiry)
    log.debug("the credential for %s is unchanged", current.url)


# -- erase ------------------------------------------------------------------------------------


def erase(record: Credential, io: Io) -> int:
    request = make_request(record)
    if request is None or refusal(request) is not None:
        return 0  # nothing was served for it, so nothing is removed
    debug.register_secret(record.password)
    debug.register_secret(record.credential)  # a rejected Bearer token comes back here
    if request.config.is_bitbucket and os.environ.get("BBTOKEN_TOKEN"):
        debug.register_secret(os.environ["BBTOKEN_TOKEN"])
        # CI mode stores nothing, so there is nothing to remove; the reason still helps.
        from git_credential_bbtoken import newtoken

        newtoken.after_erase(request, [], io)
        return 0
    credentials = CredentialStore(io.say)

    # A Bearer credential git rejected comes back as authtype + credential, no password.
    rejected = record.password if record.password is not None else (
        record.credential if record.authtype else None)
    debug.register_secret(rejected)

    def holds_rejected_password(entry: Entry) -> bool:
        return credentials.secret(entry) == rejected

    def choose(entries: list[Entry]) -> list[Entry]:
        return find_for_erase(entries, request.protocol, request.host, record.path,
                              record.username, request.config.kind,
                              holds_rejected_password if rejected is not None else None)

    try:
        removed = credentials.remove(choose)
    except NoKeyringError:
        return 0  # nothing can be stored, so there is nothing to remove
    for entry in removed:
        log.debug("erased the credential for %s as %s", entry.url, entry.username)
    if request.config.is_bitbucket:
        from git_credential_bbtoken import newtoken

        newtoken.after_erase(request, removed, io)
    return 0


ACTIONS: dict[str, Callable[[Credential, Io], int]] = {"get": get, "store": store,
                                                       "erase": erase}
