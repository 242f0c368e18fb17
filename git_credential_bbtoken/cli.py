"""Command line entry point: git's actions fast, the user's commands through argparse.

`main` is the one place that turns errors into what the user sees: a `BbtokenError` becomes
its one line on stderr and its exit status; anything else becomes one line naming the
error's class, never a traceback (unless BBTOKEN_DEBUG=1).
"""

from __future__ import annotations

import sys

from git_credential_bbtoken import debug
from git_credential_bbtoken.console import Io, default_io
from git_credential_bbtoken.errors import INTERRUPTED, OK, PROBLEM, USAGE, BbtokenError

PROTOCOL_ACTIONS = ("get", "store", "erase")
USER_COMMANDS = ("login", "logout", "list", "doctor", "setup", "rotate")
# git may call actions newer than ours with a record on stdin; at most this much is drained.
UNKNOWN_ACTION_INPUT_LIMIT = 1024 * 1024


def main(argv: list[str] | None = None, io: Io | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    io = io or default_io()
    debug.setup(io.stderr)
    try:
        if args and args[0] in PROTOCOL_ACTIONS:
            return _protocol_action(args[0], io)
        if args and not args[0].startswith("-") and args[0] not in USER_COMMANDS:
            return _unknown_action(args[0], io)
        # Imported here, not above: argparse and the commands cost every `get` ~10 ms.
        from git_credential_bbtoken.commands.dispatch import run_command

        return run_command(args, io)
    except BbtokenError as exc:
        io.say(str(exc))
        return exc.exit_status
    except KeyboardInterrupt:
        io.say("interrupted")
        return INTERRUPTED
    except Exception as exc:  # the last line of defence: git must never see a traceback
        if debug.enabled():
            import traceback

            io.stderr.write(debug.redact(traceback.format_exc()))
        io.say(f"internal error ({type(exc).__name__}); run with BBTOKEN_DEBUG=1 for details")
        return PROBLEM


def _protocol_action(action: str, io: Io) -> int:
    # helper (the actions) is imported only for an action: `--help` need not load the store.
    from git_credential_bbtoken import helper
    from git_credential_bbtoken.protocol import MAX_INPUT_BYTES, ProtocolError, read_record

    try:
        record = read_record(_read_one_record(io, MAX_INPUT_BYTES))
    except ProtocolError as exc:
        raise ProtocolError(f"{exc}; nothing was done") from None
    return helper.ACTIONS[action](record, io)


def _read_one_record(io: Io, limit: int) -> bytes:
    """stdin up to the blank line that ends a record (or its end, or `limit` + 1 bytes): git's
    own stores answer there, and a caller that keeps stdin open must not wait for us."""
    lines = []
    total = 0
    while total <= limit:
        line = io.stdin.readline(limit + 1 - total)
        if not line:
            break
        lines.append(line)
        total += len(line)
        if line == b"\n":
            break
    return b"".join(lines)


def _unknown_action(action: str, io: Io) -> int:
    """git may call actions newer than us: read the record and do nothing, as git's own
    helpers do. A person who mistyped a command at a terminal is told so."""
    if io.stdin_is_terminal():
        io.say(f"unknown command {action!r} (see `git credential-bbtoken --help`)")
        return USAGE
    io.read(UNKNOWN_ACTION_INPUT_LIMIT)
    return OK


if __name__ == "__main__":
    sys.exit(main())
