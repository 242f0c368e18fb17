"""`list` and `logout`: what is stored, and removing it."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from git_credential_bbtoken.checks.validation import Validation, scopes_text
from git_credential_bbtoken.commands.inputs import parse_scope_url
from git_credential_bbtoken.common import (
    TOKEN_USERNAME,
    bbtoken_command,
    days_left,
    utc_date_text,
)
from git_credential_bbtoken.console import Io
from git_credential_bbtoken.context import request_for_url
from git_credential_bbtoken.errors import UsageError
from git_credential_bbtoken.matching import same_scope, scope_covers
from git_credential_bbtoken.storage.store import CredentialStore, Entry


def logout(options: argparse.Namespace, io: Io) -> int:
    protocol, host, path = parse_scope_url(options.url)
    request = request_for_url(protocol, host, path)
    store = CredentialStore(io.say)

    def choose(entries: list[Entry]) -> list[Entry]:
        if options.everything:
            return entries
        chosen = [e for e in entries if e.protocol == protocol and e.host == host
                  and same_scope(e.path, path, request.config.kind)]
        if options.username is not None:
            return [e for e in chosen if e.username == options.username]
        users = {e.username for e in chosen}
        if options.all or len(users) < 2:
            return chosen
        if TOKEN_USERNAME in users:
            # The one `login URL` stores without --username: logout mirrors it.
            kept.extend(e for e in chosen if e.username != TOKEN_USERNAME)
            return [e for e in chosen if e.username == TOKEN_USERNAME]
        raise UsageError(f"several users are stored for {options.url} "
                         f"({', '.join(sorted(users))}): name one with --username, or use --all")

    kept: list[Entry] = []
    removed = store.remove(choose)
    if not removed:
        io.say(f"nothing is stored for {request.url}")
        below = [e for e in store.entries() if e.protocol == protocol and e.host == host
                 and e.path and scope_covers(path, e.path)]
        for entry in below:  # `logout URL` is for that scope only: say what lies below it
            io.say(f"  stored below it: {entry.url} ({entry.who}): "
                   + bbtoken_command("logout", entry.url))
        return 0
    for entry in removed:
        io.say(f"removed the token for {entry.url} ({entry.who})")
    for entry in kept:
        io.say(f"kept the token for {entry.url} ({entry.who}): add --username "
               f"{entry.username}, or use --all")
    return 0


def entry_summary(entry: Entry, backend_description: str) -> dict[str, Any]:
    """What `list` shows of an entry: everything but the token. `scopes` are the token's
    whole set, or (`scopes_partial`) those proven when Bitbucket did not list them all."""
    validation = entry.validation or {}
    scopes, partial = Validation.from_dict(validation).known_scopes()
    return {
        "url": entry.url,
        "username": entry.username,
        "authtype": entry.authtype,
        "email": entry.email,
        "kind": entry.kind,
        "scopes": scopes,
        "scopes_partial": partial,
        "checked_at": validation.get("checked_at"),
        "can_clone": validation.get("can_clone"),
        "can_push": validation.get("can_push"),
        # What Bitbucket answered on each repository the token was used on (`get`'s
        # first-use probe): {"ws/repo": {"clone": true, "push": false, "push_why": ...}}.
        "repositories": entry.repositories or {},
        "expires": utc_date_text(entry.expiry) if entry.expiry is not None else None,
        "days_left": days_left(entry.expiry, time.time()) if entry.expiry is not None else None,
        "stored_at": entry.stored_at,
        "backend": backend_description,
    }


def list_entries(options: argparse.Namespace, io: Io) -> int:
    store = CredentialStore(io.say)
    rows = [entry_summary(e, _backend_label(e)) for e in store.entries()]
    if options.json:
        io.out(json.dumps({"credentials": rows}, indent=2))
        return 0
    if not rows:
        io.out("No credentials stored. Run `git credential-bbtoken login` to add one.")
        return 0
    table = [("URL", "USERNAME", "EMAIL", "SCOPES", "CHECKED", "EXPIRES", "STORE")]
    for row in rows:
        table.append((
            row["url"], row["username"] or ("(Bearer token)" if row["authtype"] else "(empty)"),
            row["email"] or "-", scopes_text(row["scopes"], row["scopes_partial"]),
            (row["checked_at"] or "never")[:10], _expires(row["expires"], row["days_left"]),
            row["backend"],
        ))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        io.out("  ".join(cell.ljust(width) for cell, width in zip(r, widths)).rstrip())
    return 0


def _expires(date: str | None, days: int | None) -> str:
    """`2027-01-31 (62 days)`, `2026-12-01 (today)`, `2026-11-01 (expired)`, or `unknown`."""
    if date is None or days is None:
        return "unknown"
    left = "expired" if days < 0 else ("today" if days == 0 else
                                       f"{days} day{'s' if days != 1 else ''}")
    return f"{date} ({left})"


def _backend_label(entry: Entry) -> str:
    """`keyring (SecretService)`, `keyring (macOS)`, or `file`."""
    if entry.backend == "keyring" and entry.keyring_backend:
        parts = entry.keyring_backend.split(".")
        return f"keyring ({parts[-2] if len(parts) >= 2 else parts[-1]})"
    return entry.backend
