"""The I/O context: where the helper reads and writes, handed from `cli.main` to every action
and command, so that nothing below it touches `sys.std*` and tests can run any of it
in-process with buffers.

stdout carries the protocol answer (for git) or a command's output (for the person); stderr
carries everything said to the person, each line marked `bbtoken: `.
"""

from __future__ import annotations

import sys

from git_credential_bbtoken.protocol import format_answer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Callable, TextIO


_CONTROL_CHARACTERS = {**{code: f"%{code:02X}" for code in range(0x20) if code != 0x09},
                       **{code: f"%{code:02X}" for code in range(0x7F, 0xA0)}}


def neutralise(text: str) -> str:
    """`text` with every control character but tab percent-encoded (`ESC` -> `%1B`)."""
    return text.translate(_CONTROL_CHARACTERS)


def _terminal_getpass(prompt: str) -> str:
    import getpass

    return getpass.getpass(prompt)


def _open_terminal() -> tuple[BinaryIO, BinaryIO] | None:
    """The controlling terminal as (reader, writer), unbuffered, or None when there is none
    (CI, an IDE's background fetch). POSIX: /dev/tty; Windows: the console, CONIN$ and
    CONOUT$, as git for Windows prompts."""
    import os

    try:
        if os.name == "nt":
            reader = open("CONIN$", "rb", buffering=0)  # noqa: SIM115 - returned
            try:
                return reader, open("CONOUT$", "wb", buffering=0)  # noqa: SIM115
            except OSError:
                reader.close()
                raise
        fd = os.open("/dev/tty", os.O_RDWR | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None
    # A terminal is not seekable, so text mode "r+" is refused: unbuffered bytes instead.
    tty = open(fd, "r+b", buffering=0)  # noqa: SIM115 - returned
    return tty, tty


def has_terminal() -> bool:
    terminal = _open_terminal()
    if terminal is None:
        return False
    for stream in set(terminal):
        stream.close()
    return True


def terminal_line(prompt: str) -> str | None:
    """One line typed at the controlling terminal after `prompt`, or None without one; end
    of input (Ctrl-D) reads as an empty line, the default answer of every question asked
    through `Io.ask_line`."""
    try:
        return terminal_input(prompt)
    except EOFError:
        return ""


def terminal_input(prompt: str) -> str | None:
    """`terminal_line`, but end of input (Ctrl-D on an empty line) raises EOFError: for a
    prompt where an empty line means something (a username) and Ctrl-D must cancel."""
    terminal = _open_terminal()
    if terminal is None:
        return None
    reader, writer = terminal
    try:
        writer.write(prompt.encode())
        line = reader.readline().decode(errors="replace")
    finally:
        for stream in {reader, writer}:
            stream.close()
    if not line:
        raise EOFError("end of input at the terminal")
    return line.rstrip("\r\n")


class Io:
    """stdin and stdout as bytes, stderr as text, and how to ask the person at the terminal:
    `getpass` (a secret, without echo) and `ask_line` (a visible answer; None when there is
    no terminal)."""

    __slots__ = ("stdin", "stdout", "stderr", "getpass", "ask_line")

    def __init__(self, stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO,
                 getpass: Callable[[str], str] = _terminal_getpass,
                 ask_line: Callable[[str], str | None] = terminal_line) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.getpass = getpass
        self.ask_line = ask_line

    def say(self, text: str) -> None:
        """One short paragraph for the person at the terminal, marked as ours. Control
        characters (which may come from a URL or a server) are shown percent-encoded, as git's
        `credential.sanitizePrompt` does, so no terminal escape reaches the terminal."""
        for line in text.rstrip("\n").split("\n"):
            line = neutralise(line)
            self.stderr.write(f"bbtoken: {line}\n" if line else "bbtoken:\n")
        self.stderr.flush()

    def answer(self, pairs: list[tuple[str, str]]) -> None:
        """The protocol answer to git."""
        self.stdout.write(format_answer(pairs))
        self.stdout.flush()

    def out(self, text: str = "") -> None:
        """One line of a command's output (a table, JSON) on stdout."""
        self.stdout.write(text.encode("utf-8", "replace") + b"\n")
        self.stdout.flush()

    def read(self, limit: int) -> bytes:
        """At most `limit` bytes of stdin."""
        return self.stdin.read(limit)

    def read_line(self, limit: int) -> str | None:
        """One line of stdin, without its line ending (a token piped in); None when it holds
        more than `limit` bytes (then no more than `limit` + 1 of them were read)."""
        line = self.stdin.readline(limit + 1).rstrip(b"\r\n")
        return None if len(line) > limit else line.decode("utf-8", "replace")

    def stdin_is_terminal(self) -> bool:
        isatty = getattr(self.stdin, "isatty", None)
        return bool(isatty and isatty())


def default_io() -> Io:
    """The process's own streams."""
    return Io(stdin=sys.stdin.buffer, stdout=sys.stdout.buffer, stderr=sys.stderr)
