"""What the commands take from the person: a URL to act on, an expiry date, a token."""

from __future__ import annotations

import datetime

from git_credential_bbtoken import debug
from git_credential_bbtoken.console import Io
from git_credential_bbtoken.errors import UsageError
from git_credential_bbtoken.protocol import (
    FORBIDDEN_CHARACTERS,
    MAX_INPUT_BYTES,
    ProtocolError,
    split_url,
)


def read_token(io: Io, from_stdin: bool, prompt: str) -> str:
    """The token, from one line of stdin or typed without echo. Refused when empty, over
    1 MiB (as git's input is), or when it holds a character git's protocol cannot carry."""
    if from_stdin:
        line = io.read_line(MAX_INPUT_BYTES)
        if line is None:
            raise UsageError("the token is larger than 1 MiB; nothing was stored")
        token = line
    else:
        if not io.stdin_is_terminal():
            raise UsageError("no terminal to ask for the token: pipe it in with --token-stdin")
        token = io.getpass(prompt)
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
    """A URL given on the command line -> (protocol, host[:port], path); bad ones, and any
    protocol but https and http (whose use context.refusal governs), are a usage error."""
    protocol, sep, _ = url.partition("://")
    if sep and protocol and protocol.lower() not in ("https", "http"):
        raise UsageError(f"{protocol[:20]}:// is not supported: tokens are kept for https:// "
                         "URLs (give one)")
    try:
        return split_url(url)
    except ProtocolError as exc:
        raise UsageError(str(exc)) from None
