"""Command line entry point: git's actions fast, the user's commands through argparse.

The only place that turns exceptions into a user message: one line on stderr, never a
traceback (unless BBTOKEN_DEBUG=1).
"""

from __future__ import annotations

import sys

from git_credential_bbtoken import debug

# Exit statuses. Plain ints: `enum` would cost every `get` more than the rest of this module.
OK = 0
PROBLEM = 1  # a check failed, a token was refused, bad input
USAGE = 2


PROTOCOL_ACTIONS = ("get", "store", "erase")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    debug.setup()
    try:
        if args and args[0] in PROTOCOL_ACTIONS:
            return _protocol_action(args[0])
        if args and not args[0].startswith("-") and args[0] not in _user_commands():
            return _unknown_action(args[0])
        from git_credential_bbtoken.commands import run_command

        return run_command(args)
    except KeyboardInterrupt:
        print("bbtoken: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: git must never see a traceback
        if debug.enabled():
            import traceback

            sys.stderr.write(debug.redact(traceback.format_exc()))
        print(f"bbtoken: internal error ({type(exc).__name__}); run with BBTOKEN_DEBUG=1 "
              "for details", file=sys.stderr)
        return PROBLEM


def _protocol_action(action: str) -> int:
    from git_credential_bbtoken import helper
    from git_credential_bbtoken.protocol import MAX_INPUT_BYTES, ProtocolError, read_record

    data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    try:
        record = read_record(data)
    except ProtocolError as exc:
        print(f"bbtoken: {exc}; nothing was done", file=sys.stderr)
        return PROBLEM
    return helper.ACTIONS[action](record, helper.default_io())


def _unknown_action(action: str) -> int:
    """git may call actions newer than us: read the record and do nothing, as git's own
    helpers do. A person who mistyped a command at a terminal is told so."""
    if sys.stdin.isatty():
        print(f"bbtoken: unknown command {action!r} (see `git credential-bbtoken --help`)",
              file=sys.stderr)
        return USAGE
    sys.stdin.buffer.read(1024 * 1024)
    return OK


def _user_commands() -> tuple[str, ...]:
    return ("login", "logout", "list", "doctor", "setup", "help")


if __name__ == "__main__":
    sys.exit(main())
