"""The user's commands — login, logout, list, doctor, setup — behind argparse.

Each command takes the parsed options and the I/O context and returns an exit status; a
failure is raised as a `BbtokenError`, which `cli.main` turns into its one line.
"""

from __future__ import annotations

import argparse
from typing import Callable

from git_credential_bbtoken import __version__
from git_credential_bbtoken.commands.accounts import list_entries
from git_credential_bbtoken.commands.accounts import logout as run_logout
from git_credential_bbtoken.commands.doctor import doctor as run_doctor
from git_credential_bbtoken.commands.login import login as run_login
from git_credential_bbtoken.commands.rotate import rotate as run_rotate
from git_credential_bbtoken.commands.setup import setup as run_setup
from git_credential_bbtoken.common import DEFAULT_URL, TOKEN_USERNAME
from git_credential_bbtoken.console import Io
from git_credential_bbtoken.errors import OK


def run_command(args: list[str], io: Io) -> int:
    parser = build_parser()
    if not args:
        io.out(parser.format_help().rstrip("\n"))
        return OK
    options = parser.parse_args(args)
    handler: Callable[[argparse.Namespace, Io], int] = options.handler
    return handler(options, io)


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
                       help=f"the username git sends (default: {TOKEN_USERNAME}; on Data "
                            "Center none: the token is sent as a Bearer token)")
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
                       help="Data Center: send the token as a Bearer token, without a "
                            "username (the default there without --username; git 2.46+)")
    login.set_defaults(handler=run_login)

    rotate = commands.add_parser(
        "rotate", help="replace a token everywhere it is stored, after checking the new one")
    rotate.add_argument("url", nargs="?", default=DEFAULT_URL, metavar="URL",
                        help="the entries at or below this URL, and every other entry that "
                             "holds the same token (default: %(default)s)")
    rotate.add_argument("--username", default=None,
                        help="which stored token, when several are stored below URL")
    rotate.add_argument("--expires", default=None, metavar="YYYY-MM-DD",
                        help="the new token's expiry date, as shown on the token page")
    rotate.add_argument("--token-stdin", action="store_true",
                        help="read the new token from one line of standard input")
    rotate.add_argument("--force", action="store_true",
                        help="replace even when the new token cannot do all the old one could")
    rotate.set_defaults(handler=run_rotate)

    logout = commands.add_parser("logout", help="remove stored tokens for a URL")
    logout.add_argument("url", nargs="?", default=DEFAULT_URL, metavar="URL")
    logout.add_argument("--username", default=None)
    logout.add_argument("--all", action="store_true",
                        help="remove every credential stored for that URL, for all users")
    logout.add_argument("--everything", action="store_true",
                        help="remove every stored credential, for every URL (used by "
                             "install.sh --uninstall --purge)")
    logout.set_defaults(handler=run_logout)

    listing = commands.add_parser("list", help="show stored credentials (never the tokens)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_entries)

    doctor = commands.add_parser("doctor", help="check the setup and explain what is wrong")
    doctor.add_argument("url", nargs="?", default=DEFAULT_URL, metavar="URL")
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument("--fix", action="store_true",
                        help="offer, one confirmation each, to remove passwords other "
                             "helpers still hold and to move tokens out of remote URLs")
    doctor.set_defaults(handler=run_doctor)

    setup = commands.add_parser("setup", help="make git use only bbtoken for Bitbucket")
    setup.add_argument("url", nargs="?", default=DEFAULT_URL, metavar="URL")
    where = setup.add_mutually_exclusive_group()
    for flag in ("--global", "--system", "--local"):
        where.add_argument(flag, dest="scope", action="store_const", const=flag[2:])
    setup.add_argument("--undo", action="store_true",
                       help="remove exactly what setup wrote")
    setup.set_defaults(handler=run_setup, scope="global")
    return parser
