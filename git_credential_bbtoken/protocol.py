"""git's credential record format: parse what git sends, format what we answer.

Pure: no I/O, no imports beyond the standard library, because this sits on the hot `get` path.
The rules follow git's `git-credential` manual (newest git) and `credential.c`:

- a record is `key=value` lines ending at a blank line or at the end of input;
- a value may contain `=` but never LF, NUL (git's own rule) or CR (git 2.48+, CVE-2024-52006);
- `url=` is split into its parts and, as in git, resets everything read before it;
- `key[]=` appends to a list, and an empty value clears the list;
- unknown keys are ignored so that newer gits keep working with us.
"""

from __future__ import annotations

from git_credential_bbtoken.common import MAX_EXPIRY, parse_host
from git_credential_bbtoken.errors import BbtokenError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable

MAX_INPUT_BYTES = 1024 * 1024

FORBIDDEN_CHARACTERS = {"\n": "a newline", "\r": "a carriage return", "\0": "a NUL byte"}


class ProtocolError(BbtokenError, ValueError):
    """Input git (or a person) sent that we refuse: the message is one line for stderr."""


class Credential:
    """One credential record, as git describes a request or as we answer it.

    A plain class rather than a dataclass: `dataclasses` costs the hot `get` path ~25 ms of
    imports (inspect, ast, ...)."""

    FIELDS = ("protocol", "host", "path", "username", "password", "password_expiry_utc",
              "oauth_refresh_token", "authtype", "credential", "ephemeral", "continue_",
              "quit", "wwwauth", "capabilities", "state")
    __slots__ = FIELDS

    def __init__(self, protocol: str | None = None, host: str | None = None,
                 path: str | None = None, username: str | None = None,
                 password: str | None = None, password_expiry_utc: int | None = None,
                 oauth_refresh_token: str | None = None, authtype: str | None = None,
                 credential: str | None = None, ephemeral: bool = False,
                 continue_: bool = False, quit: bool = False) -> None:
        self.protocol = protocol
        self.host = host
        self.path = path
        self.username = username
        self.password = password
        self.password_expiry_utc = password_expiry_utc
        self.oauth_refresh_token = oauth_refresh_token
        self.authtype = authtype
        self.credential = credential
        self.ephemeral = ephemeral
        self.continue_ = continue_
        self.quit = quit
        self.wwwauth: list[str] = []
        self.capabilities: list[str] = []
        self.state: list[str] = []

    def url(self, with_path: bool = True) -> str:
        """`protocol://host[/path]`: what the record is about, with no username or secret."""
        url = f"{self.protocol or ''}://{self.host or ''}"
        if with_path and self.path:
            url += "/" + self.path
        return url

    def __repr__(self) -> str:
        # Never let a secret reach a log line or a traceback through repr().
        shown = {name: getattr(self, name) for name in self.FIELDS
                 if getattr(self, name) not in (None, False, [])}
        for secret in ("password", "oauth_refresh_token", "credential"):
            if secret in shown:
                shown[secret] = "<redacted>"
        return f"Credential({shown})"


_STRING_KEYS = ("protocol", "host", "path", "username", "password", "oauth_refresh_token",
                "authtype", "credential")
_LIST_KEYS = {"wwwauth[]": "wwwauth", "capability[]": "capabilities", "state[]": "state"}
_TRUE_VALUES = ("1", "true", "yes", "on")


def read_record(data: bytes) -> Credential:
    """Parse git's input. Raises ProtocolError for input that must be refused, with nothing
    else done: oversized input, bytes that are not UTF-8, values holding CR or NUL, or a line
    with no `=`."""
    if len(data) > MAX_INPUT_BYTES:
        raise ProtocolError("input refused: larger than 1 MiB")
    if b"\0" in data:
        raise ProtocolError("input refused: a value contains a NUL byte")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("input refused: it is not valid UTF-8") from None
    record = Credential()
    for line in text.split("\n"):
        if line == "":
            break  # a blank line ends the record
        key, sep, value = line.partition("=")
        if not sep:
            # The line itself is not echoed: it may be a secret typed in the wrong place.
            raise ProtocolError("input refused: a line has no '='")
        if "\r" in value or "\r" in key:
            raise ProtocolError(f"input refused: the value of {_key_name(key)} contains a "
                                "carriage return")
        _apply(record, key, value)
    return record


def _apply(record: Credential, key: str, value: str) -> None:
    if key in _STRING_KEYS:
        setattr(record, key, value)
    elif key == "password_expiry_utc":
        # git ignores a value it cannot parse; so do we.
        # ASCII digits only, and no later than the end of year 9999 (what dates can show).
        record.password_expiry_utc = (int(value) if value.isascii() and value.isdigit()
                                      and len(value) <= 12 and int(value) <= MAX_EXPIRY
                                      else None)
    elif key == "url":
        _apply_url(record, value)
    elif key in _LIST_KEYS:
        values: list[str] = getattr(record, _LIST_KEYS[key])
        if value == "":
            values.clear()
        else:
            values.append(value)
    elif key == "ephemeral":
        record.ephemeral = value.lower() in _TRUE_VALUES
    elif key == "continue":
        record.continue_ = value.lower() in _TRUE_VALUES
    elif key == "quit":
        record.quit = value.lower() in _TRUE_VALUES
    # Anything else is a key from a newer git, or noise: ignored, as git itself does.


def _apply_url(record: Credential, url: str) -> None:
    """As git's credential_from_url(): clear the record, then take the URL's parts."""
    from urllib.parse import unquote

    if "://" not in url:
        raise ProtocolError("input refused: url= has no protocol")
    fresh = Credential()
    protocol, rest = url.split("://", 1)
    fresh.protocol = protocol
    authority, slash, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    if at:
        username, colon, password = userinfo.partition(":")
        fresh.username = unquote(username)
        if colon:
            fresh.password = unquote(password)
    fresh.host = unquote(hostport)
    if slash and path:
        # git keeps the path without the leading slash and drops a trailing one.
        fresh.path = unquote(path).rstrip("/") or None
    for name in ("username", "password", "host", "path"):
        value = getattr(fresh, name)
        if value is not None and any(char in value for char in FORBIDDEN_CHARACTERS):
            # Decoded from %0a, %0d or %00: refused as the raw characters are (git does too).
            raise ProtocolError(f"input refused: the {name} in url= decodes to a line break "
                                "or NUL")
    for name in Credential.FIELDS:
        setattr(record, name, getattr(fresh, name))


def format_answer(pairs: Iterable[tuple[str, str]]) -> bytes:
    """Our answer to git: `key=value` lines. A value git could misread is never written."""
    lines = []
    for key, value in pairs:
        for char, name in FORBIDDEN_CHARACTERS.items():
            if char in key or char in value:
                raise ProtocolError(f"refusing to answer: the value of {key!r} contains {name}")
        lines.append(f"{key}={value}\n")
    return "".join(lines).encode("utf-8")


def normalize_host(host: str) -> str:
    """Host names compare without case; the port stays part of the host."""
    return host.lower()


def split_url(url: str) -> tuple[str, str, str]:
    """Split a user-given URL (`bitbucket.org`, `https://bitbucket.org/ws/repo.git`) into
    (protocol, host[:port], path). A bare host means https. The host must pass the one host
    grammar (`common.parse_host`); a URL with a space or a control character is refused."""
    from urllib.parse import urlsplit

    if any(char.isspace() or not char.isprintable() for char in url):
        raise ProtocolError(f"not a URL: {_shorten(url)!r} (it holds a space or a control "
                            "character)")
    if "://" not in url:
        url = "https://" + url
    try:
        parts = urlsplit(url)
    except ValueError:  # `https://[::1`
        raise ProtocolError(f"not a URL: {_shorten(url)!r}") from None
    if "@" in parts.netloc:
        raise ProtocolError("the URL must not contain a username or password")
    parsed = parse_host(parts.netloc)
    if parsed is None:
        raise ProtocolError(f"not a URL: {_shorten(url)!r} (its host must be a name or an "
                            "[IPv6] address, with a port from 1 to 65535 if any)")
    name, port = parsed
    host = f"[{name}]" if ":" in name else name
    if port is not None:
        host = f"{host}:{port}"
    return parts.scheme.lower(), host, parts.path.strip("/")


def _key_name(key: str) -> str:
    """A key named in an error message, unless it is not one we know (then it may be data)."""
    known = key in _STRING_KEYS or key in _LIST_KEYS or key in (
        "url", "password_expiry_utc", "ephemeral", "continue", "quit")
    return repr(key) if known else "a line"


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
