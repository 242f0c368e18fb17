"""The user's commands — login, logout, list, doctor, setup — behind argparse.

Each command returns an exit status; `BbtokenError`s carry the one line the user sees.
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import json
import sys
from typing import Any, Callable

from git_credential_bbtoken import __version__, debug
from git_credential_bbtoken.helper import TOKEN_USERNAME, Io, default_io
from git_credential_bbtoken.protocol import FORBIDDEN_CHARACTERS, ProtocolError, split_url
from git_credential_bbtoken.storage.metadata import MetadataError
from git_credential_bbtoken.storage.secretstore import SecretStoreError
from git_credential_bbtoken.storage.store import CredentialStore, Entry

DEFAULT_URL = "https://bitbucket.org"


class UsageError(Exception):
    """Bad input from the user: one line, exit status 2, nothing changed."""


class CommandFailed(Exception):
    """The command could not do its job: one line, exit status 1."""


def run_command(args: list[str]) -> int:
    parser = build_parser()
    if not args:
        parser.print_help()
        return 0
    options = parser.parse_args(args)
    handler: Callable[[argparse.Namespace, Io], int] = options.handler
    io = default_io()
    try:
        return handler(options, io)
    except UsageError as exc:
        io.say(str(exc))
        return 2
    except (CommandFailed, SecretStoreError, MetadataError, ProtocolError) as exc:
        io.say(str(exc))
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="git credential-bbtoken",
        description="A git credential helper for Bitbucket API tokens: stores them in the OS "
                    "keyring, checks their scopes, and explains failures instead of a bare 403.",
        epilog="git itself runs `git credential-bbtoken get|store|erase` "
               "(credential.helper = bbtoken).")
    parser.add_argument("--version", action="version",
                        version=f"git-credential-bbtoken {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    login = commands.add_parser("login", help="store (and check) an API token")
    login.add_argument("url", nargs="?", default=DEFAULT_URL, metavar="URL",
                       help="bitbucket.org, or a workspace or repository URL to scope the "
                            "token to (default: %(default)s)")
    login.add_argument("--username", default=None,
                       help=f"the username git sends (default: {TOKEN_USERNAME})")
    login.add_argument("--email", default=None,
                       help="your Atlassian account email: enables the REST checks of the "
                            "token's scopes")
    login.add_argument("--expires", default=None, metavar="YYYY-MM-DD",
                       help="the token's expiry date, as shown on the token page")
    login.add_argument("--token-stdin", action="store_true",
                       help="read the token from one line of standard input")
    login.add_argument("--force", action="store_true",
                       help="store the token even when it cannot clone")
    login.add_argument("--kind", choices=("cloud", "datacenter", "generic"), default=None,
                       help="what the URL's host is; saved as bbtoken.<url>.kind in the global "
                            "git config (datacenter: Bitbucket Data Center / Server)")
    login.add_argument("--bearer", action="store_true",
                       help="Data Center: a project or repository HTTP access token (no "
                            "username; git 2.46+ sends it as a Bearer token)")
    login.set_defaults(handler=_login)

    logout = commands.add_parser("logout", help="remove stored tokens for a URL")
    logout.add_argument("url", nargs="?", default=DEFAULT_URL, metavar="URL")
    logout.add_argument("--username", default=None)
    logout.add_argument("--all", action="store_true",
                        help="remove every credential stored for that URL, for all users")
    logout.add_argument("--everything", action="store_true",
                        help="remove every stored credential, for every URL (used by "
                             "install.sh --uninstall --purge)")
    logout.set_defaults(handler=_logout)

    listing = commands.add_parser("list", help="show stored credentials (never the tokens)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)

    doctor = commands.add_parser("doctor", help="check the setup and explain what is wrong")
    doctor.add_argument("url", nargs="?", default=DEFAULT_URL, metavar="URL")
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(handler=_doctor)

    setup = commands.add_parser("setup", help="make git use only bbtoken for Bitbucket")
    setup.add_argument("url", nargs="?", default=DEFAULT_URL, metavar="URL")
    where = setup.add_mutually_exclusive_group()
    for flag in ("--global", "--system", "--local"):
        where.add_argument(flag, dest="scope", action="store_const", const=flag[2:])
    setup.add_argument("--undo", action="store_true",
                       help="remove exactly what setup wrote")
    setup.set_defaults(handler=_setup, scope="global")
    return parser


# -- login ------------------------------------------------------------------------------------


def _login(options: argparse.Namespace, io: Io) -> int:
    from git_credential_bbtoken.commands.login import login

    return login(options, io)


def read_token(from_stdin: bool, prompt: str) -> str:
    """The token, from one line of stdin or typed without echo. Refused when empty or when it
    holds a character git's protocol cannot carry."""
    if from_stdin:
        token = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise UsageError("no terminal to ask for the token: pipe it in with --token-stdin")
        token = getpass.getpass(prompt)
    token = token.strip()
    if not token:
        raise UsageError("no token given; nothing was stored")
    if any(char in token for char in FORBIDDEN_CHARACTERS):
        raise UsageError("the token contains a line break or NUL; nothing was stored")
    debug.register_secret(token)
    return token


def parse_expiry(text: str | None) -> int | None:
    """`YYYY-MM-DD` -> Unix seconds at the end of that day (UTC), so a token is never called
    expired while Bitbucket still accepts it."""
    if text is None:
        return None
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--expires wants a date as YYYY-MM-DD, not {text[:20]!r}") from None
    end = datetime.datetime.combine(day, datetime.time(23, 59, 59),
                                    tzinfo=datetime.timezone.utc)
    return int(end.timestamp())


def parse_scope_url(url: str) -> tuple[str, str, str]:
    try:
        return split_url(url)
    except ProtocolError as exc:
        raise UsageError(str(exc)) from None


# -- logout -----------------------------------------------------------------------------------


def _logout(options: argparse.Namespace, io: Io) -> int:
    protocol, host, path = parse_scope_url(options.url)
    store = CredentialStore(io.say)

    def choose(entries: list[Entry]) -> list[Entry]:
        if options.everything:
            return entries
        chosen = [e for e in entries if e.protocol == protocol and e.host == host
                  and e.path == path.strip("/")]
        if options.username is not None:
            chosen = [e for e in chosen if e.username == options.username]
        elif not options.all and len({e.username for e in chosen}) > 1:
            names = ", ".join(sorted({e.username for e in chosen}))
            raise UsageError(f"several users are stored for {options.url} ({names}): name one "
                             "with --username, or use --all")
        return chosen

    removed = store.remove(choose)
    if not removed:
        io.say(f"nothing is stored for {_display(protocol, host, path)}")
        return 0
    for entry in removed:
        io.say(f"removed the token for {entry.url} ({entry.username})")
    return 0


# -- list -------------------------------------------------------------------------------------


def entry_summary(entry: Entry, backend_description: str) -> dict[str, Any]:
    """What `list` shows of an entry: everything but the token."""
    validation = entry.validation or {}
    expiry = None
    if entry.expiry is not None:
        from git_credential_bbtoken.protocol import MAX_EXPIRY

        expiry = datetime.datetime.fromtimestamp(min(entry.expiry, MAX_EXPIRY),
                                                 datetime.timezone.utc)
    return {
        "url": entry.url,
        "username": entry.username,
        "authtype": entry.authtype,
        "email": entry.email,
        "kind": entry.kind,
        "scopes": validation.get("scopes"),
        "checked_at": validation.get("checked_at"),
        "can_clone": validation.get("can_clone"),
        "can_push": validation.get("can_push"),
        "expires": expiry.date().isoformat() if expiry else None,
        "stored_at": entry.stored_at,
        "backend": backend_description,
    }


def _list(options: argparse.Namespace, io: Io) -> int:
    store = CredentialStore(io.say)
    rows = [entry_summary(e, _backend_label(e)) for e in store.entries()]
    if options.json:
        json.dump({"credentials": rows}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not rows:
        print("No credentials stored. Run `git credential-bbtoken login` to add one.")
        return 0
    table = [("URL", "USERNAME", "EMAIL", "SCOPES", "CHECKED", "EXPIRES", "STORE")]
    for row in rows:
        scopes = row["scopes"]
        table.append((
            row["url"], row["username"] or ("(Bearer token)" if row["authtype"] else "(empty)"),
            row["email"] or "-",
            ", ".join(scopes) if scopes else ("none" if scopes == [] else "unknown"),
            (row["checked_at"] or "never")[:10], row["expires"] or "unknown", row["backend"],
        ))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(r, widths)).rstrip())
    return 0


# -- doctor and setup -------------------------------------------------------------------------


def _doctor(options: argparse.Namespace, io: Io) -> int:
    from git_credential_bbtoken.commands.doctor import doctor

    return doctor(options, io)


def _setup(options: argparse.Namespace, io: Io) -> int:
    from git_credential_bbtoken.commands.setup import setup

    return setup(options, io)


def _backend_label(entry: Entry) -> str:
    """`keyring (SecretService)`, `keyring (macOS)`, or `file`."""
    if entry.backend == "keyring" and entry.keyring_backend:
        parts = entry.keyring_backend.split(".")
        return f"keyring ({parts[-2] if len(parts) >= 2 else parts[-1]})"
    return entry.backend


def _display(protocol: str, host: str, path: str) -> str:
    return f"{protocol}://{host}" + (f"/{path}" if path else "")

