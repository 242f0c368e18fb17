"""`BBTOKEN_DEBUG=1`: trace what the helper does on stderr, with every secret redacted.

Secrets are registered as soon as they are read (the password git sends, BBTOKEN_TOKEN, a
typed token); a logging filter replaces each of them in every trace line, so a careless
format string cannot leak one.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

_secrets: set[str] = set()

REDACTED = "<redacted>"


def enabled() -> bool:
    return os.environ.get("BBTOKEN_DEBUG", "") not in ("", "0", "false", "no")


def register_secret(value: str | None) -> None:
    # An empty password has nothing to hide; anything else is hidden, however short.
    if value:
        _secrets.add(value)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class Logger:
    """`logging.getLogger(name)` for the hot path: `logging` is imported (about 10 ms) only
    when BBTOKEN_DEBUG is on and something is traced."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def debug(self, message: str, *args: object) -> None:
        if enabled():
            import logging

            logging.getLogger(self.name).debug(message, *args)


def getLogger(name: str) -> Logger:  # noqa: N802 - the name every Python reader expects
    return Logger(name)


def setup(stream: TextIO) -> None:
    """Send the package's log to stderr when BBTOKEN_DEBUG is set; otherwise keep it quiet
    (without even importing `logging`)."""
    if not enabled():
        return
    import logging

    class RedactingFilter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = redact(record.getMessage())
            record.args = None
            return True

    logger = logging.getLogger("git_credential_bbtoken")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("bbtoken[debug]: %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    # requests/urllib3 log URLs at debug level; they carry no secret (credentials go in
    # headers), but route them through the same redaction for safety.
    for name in ("urllib3",):
        other = logging.getLogger(name)
        other.addHandler(handler)
        other.setLevel(logging.DEBUG)
