"""Every error the helper shows a person, and the exit statuses they end with.

A `BbtokenError` carries one line for the user and its exit status; `cli.main` is the one
place that turns it into that line on stderr. Plain classes and ints: `get` imports this, and
`enum` would cost it more than everything else here.
"""

from __future__ import annotations

# Exit statuses.
OK = 0
PROBLEM = 1  # a check failed, a token was refused, the store failed, bad input from git
USAGE = 2  # bad input from the person at the terminal; nothing was changed
INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


class BbtokenError(Exception):
    """A failure the user is told about in one line (the exception's text), never with a
    traceback. The text must hold no secret."""

    exit_status = PROBLEM


class UsageError(BbtokenError):
    """Bad input from the user: one line, exit status 2, nothing changed."""

    exit_status = USAGE


class CommandFailed(BbtokenError):
    """A command could not do its job: one line, exit status 1."""
