"""`rotate`: replace a token everywhere it is stored, after checking that the new one can do
what the old one could.

Atlassian API tokens expire within a year and their scopes cannot be edited, so every user
replaces every token at least once a year. One token is often stored for several scopes (the
host, a workspace, a repository): `rotate URL` finds every entry at or below URL, and every
other entry holding the same secret, checks the new token as `login` does, refuses (nothing
changed) one that lacks a scope, a clone or a push the old one had, and replaces the secret in
all of them at once (`CredentialStore.rotate`: all or nothing, even across a crash).
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from git_credential_bbtoken import checks
from git_credential_bbtoken.commands.inputs import parse_expiry, parse_scope_url, read_token
from git_credential_bbtoken.common import TOKEN_PAGE, bbtoken_command, now_iso
from git_credential_bbtoken.console import Io
from git_credential_bbtoken.context import request_for_url
from git_credential_bbtoken.errors import CommandFailed, UsageError
from git_credential_bbtoken.matching import scope_covers
from git_credential_bbtoken.storage.store import CredentialStore, Entry, for_new_token

if TYPE_CHECKING:
    from git_credential_bbtoken.checks.validation import Validation

SHOWN_TAIL = 4  # how many last characters of the old token are shown, to find it to revoke


def rotate(options: argparse.Namespace, io: Io) -> int:
    protocol, host, path = parse_scope_url(options.url)
    request = request_for_url(protocol, host, path)
    url, path = request.url, request.record.path or ""
    store = CredentialStore(io.say)
    everything = store.entries()
    under = [e for e in everything if (e.protocol, e.host) == (protocol, host)
             and scope_covers(path, e.path)
             and (options.username is None or e.username == options.username)]
    if not under:
        raise CommandFailed(f"nothing is stored for {url} or below it; store a token with: "
                            f"{bbtoken_command('login', url)}")
    old = _choose_old_token(store, under, url, io)
    targets = store.holding(old, everything)
    token = read_token(io, options.token_stdin, f"New token for {url}: ")
    if token == old:
        raise UsageError("that is the token already stored; nothing was changed")
    expiry = _expiry(options.expires, io)

    checked = {e.key: _check(e, token) for e in targets}
    losses = [loss for e in targets for loss in _losses(e, checked[e.key])]
    if losses and not options.force:
        io.say("the new token cannot do everything the old one could:\n"
               + "\n".join(f"  - {loss}" for loss in losses)
               + "\nCreate a token with those scopes (scopes cannot be edited), or use --force "
               "to store it anyway.")
        raise CommandFailed("nothing was changed")

    def replace(entry: Entry) -> None:
        validation = checked.get(entry.key)
        for_new_token(entry, validation.to_dict() if validation is not None else None, expiry,
                      now_iso())

    done = store.rotate(targets, token, replace)
    rotated = [e for e in done if e.key in checked]
    for entry in rotated:
        io.say(f"replaced the token for {entry.url} ({entry.username or 'Bearer token'})")
    io.say(_revoke_advice(rotated, old))
    return 0


def _secret(store: CredentialStore, entry: Entry) -> str | None:
    try:
        return store.secret(entry)
    except Exception:  # noqa: BLE001 - an unreadable entry is just not one of the targets
        return None


def _choose_old_token(store: CredentialStore, under: list[Entry], url: str, io: Io) -> str:
    """The one token stored at or below `url`; asked for when there are several."""
    groups: dict[str, list[Entry]] = {}
    for entry in under:
        secret = _secret(store, entry)
        if secret is not None:
            groups.setdefault(secret, []).append(entry)
    if not groups:
        raise CommandFailed(f"the tokens stored for {url} are missing from the secret store; "
                            f"store a new one with: {bbtoken_command('login', url)}")
    choices = list(groups.items())
    if len(choices) == 1:
        return choices[0][0]
    listing = "\n".join(
        f"  {number}. ...{secret[-SHOWN_TAIL:]}: "
        + ", ".join(f"{e.url} ({e.username or 'Bearer token'})" for e in entries)
        for number, (secret, entries) in enumerate(choices, 1))
    io.say(f"different tokens are stored at or below {url}:\n{listing}")
    answer = io.ask_line(f"Which one to replace (1-{len(choices)})? ")
    if answer is None:
        raise UsageError("name the token's user with --username, or rotate a narrower URL")
    if not (answer.strip().isdigit() and 1 <= int(answer) <= len(choices)):
        raise UsageError(f"{answer.strip()[:20]!r} is not one of 1-{len(choices)}; nothing was "
                         "changed")
    return choices[int(answer) - 1][0]


def _expiry(text: str | None, io: Io) -> int | None:
    """--expires, else asked at the terminal (Atlassian shows the date only when the token is
    created; no API tells it later). Enter skips."""
    if text is None:
        answer = io.ask_line("Expiry date of the new token as shown by Atlassian "
                             "(YYYY-MM-DD, Enter to skip): ")
        text = (answer or "").strip() or None
    expiry = parse_expiry(text)
    if expiry is not None and expiry < time.time():
        raise UsageError(f"the expiry date {text} is in the past: that token no longer works")
    return expiry


def _check(entry: Entry, token: str) -> Validation:
    request = request_for_url(entry.protocol, entry.host, entry.path)
    username = None if entry.authtype else entry.username
    return checks.validate(request, username, token, entry.email)


def _losses(entry: Entry, new: Validation) -> list[str]:
    """What the old token could do for `entry` (as last checked) that the new one cannot."""
    old = entry.validation or {}
    losses = []
    if old.get("can_clone") is True and new.can_clone is False:
        losses.append(f"clone {entry.url}")
    if old.get("can_push") is True and new.can_push is False:
        losses.append(f"push to {entry.url}")
    old_scopes = old.get("scopes")
    if isinstance(old_scopes, list) and new.scopes is not None:
        missing = sorted(set(old_scopes) - set(new.scopes))
        if missing:
            losses.append(f"{', '.join(missing)} (for {entry.url})")
    return losses


def _revoke_advice(entries: list[Entry], old: str) -> str:
    where = TOKEN_PAGE
    datacenter = next((e for e in entries if e.kind == "datacenter"), None)
    if datacenter is not None:
        from git_credential_bbtoken.explain import datacenter as dc_text

        where = dc_text.dc_tokens_page(datacenter.url)
    return (f"Next: revoke the old token (it ends in ...{old[-SHOWN_TAIL:]}) at {where}\n"
            "so that nothing keeps using it.")
