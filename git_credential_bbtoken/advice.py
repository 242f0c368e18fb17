"""What the helper tells a person on Bitbucket hosts, around git's get, store and erase.

git gives a helper no second chance after a 403: the explanation has to come *before* the
request (from what `login`/`store` learnt about the token), or from the helper's own probe
when it asks for a token itself (`newtoken`). This module holds the decisions on a stored
token; `helper` calls it only for Bitbucket hosts, and imports it only when it is needed.

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
    TOKEN_USERNAME,
    bbtoken_command,
    days_left,
    utc_date_text,
    without_git_suffix,
)
from git_credential_bbtoken.knowledge import repository_key
from git_credential_bbtoken.storage.store import Entry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from git_credential_bbtoken import explain
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
    if validation.get("can_clone") is False and probed_here and _tokens_own(validation):
        # Stored with `login --force` although the check said it cannot work, for a cause
        # of the token's own: say why again rather than letting git fail with a bare status
        # code. Any other refusal (a repository the account cannot see) may have changed
        # since: `access` asks Bitbucket again, with its one probe.
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


# The stored refusals that are the token's own, and cannot change (Cloud: a scope, a
# retired app password), and those that may change (Data Center: a repository not visible,
# a token's permission, which can be edited).
_TOKENS_OWN = ("read-missing", "no-bitbucket-scopes", "app-password-retired")
_CHANGEABLE = ("dc-no-access", "dc-read-missing", "account-cannot-see")


def _stored_ids(validation: dict[str, Any]) -> list[str]:
    """The ids of the errors `login`/`store` found, as stored (without loading the texts)."""
    return [str(p.get("id")) for p in validation.get("problems") or []
            if isinstance(p, dict) and p.get("severity", "error") == "error"]


def _tokens_own(validation: dict[str, Any]) -> bool:
    """Cloud: whether the stored clone refusal is the token's own (`_TOKENS_OWN`)."""
    return any(found in _TOKENS_OWN for found in _stored_ids(validation))


def _changeable(validation: dict[str, Any]) -> bool:
    """Data Center: whether the stored clone refusal is one that may change (`_CHANGEABLE`):
    every error kept says so. Unknown is not: a rejected credential is never resent."""
    found = _stored_ids(validation)
    return bool(found) and all(one in _CHANGEABLE for one in found)


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
    if validation.get("can_clone") is False and not _changeable(validation):
        # The credential itself refused (or why unknown): never sent again (facts §5). A
        # repository not visible, or a permission (editable), is asked again (`access`).
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
    return [expired_token(entry).text()]


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


def expired_token(entry: Entry) -> explain.Explanation:
    """The expiry date has passed: the product's text (also said after an erase)."""
    assert entry.expiry is not None
    date = utc_date_text(entry.expiry)
    if entry.kind == "datacenter":
        from git_credential_bbtoken.explain import datacenter

        return datacenter.dc_expired(entry.url, date, entry.username or None)
    from git_credential_bbtoken.explain import cloud

    return cloud.expired(entry.url, date)
