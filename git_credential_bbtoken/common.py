"""Names and small pure helpers that every layer shares: Bitbucket's fixed names and URLs,
host and URL spelling, dates. Imports nothing, so any module may use it (`get` included).

Facts behind the names: docs/bitbucket-facts.md.
"""

from __future__ import annotations

# The username that works for git over HTTPS with any user's Cloud API token (facts, §1).
TOKEN_USERNAME = "x-bitbucket-api-token-auth"  # noqa: S105 - a username, not a secret
DEFAULT_URL = "https://bitbucket.org"  # what the commands act on when given no URL
CLOUD_HOSTS = ("bitbucket.org",)
CLOUD_API_URL = "https://api.bitbucket.org/2.0"
TOKEN_PAGE = "https://id.atlassian.com/manage-profile/security/api-tokens"  # noqa: S105
APP_PASSWORDS_REMOVED = "2026-07-28"
# Plain http is allowed to these only (local test servers and mirrors).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# Expiry windows, in days before a token's expiry date: `get` warns (one line, once a day)
# from EXPIRY_WARNING_DAYS ahead; `doctor` reports a warning from DOCTOR_EXPIRY_WARNING_DAYS.
EXPIRY_WARNING_DAYS = 7
DOCTOR_EXPIRY_WARNING_DAYS = 14
MAX_EXPIRY = 253402300799  # 9999-12-31T23:59:59Z: the latest date a date can show
SECONDS_PER_DAY = 86400


_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_IPV6_CHARACTERS = frozenset("0123456789abcdefABCDEF:.")


def parse_host(host: str) -> tuple[str, int | None] | None:
    """The one host grammar of the helper: `name[:port]`, where the name holds letters, digits,
    dots and hyphens, or `[IPv6][:port]`. Returns (lower-case name without brackets, port or
    None); None for anything else (`bitbucket.org:@127.0.0.1`, user info, spaces, a zone id,
    a port out of range), which then gets nothing from the Bitbucket logic."""
    if host.startswith("["):
        end = host.find("]")
        name, rest = host[1:end], host[end + 1:]
        if end < 0 or not name or ":" not in name or not set(name) <= _IPV6_CHARACTERS:
            return None
    else:
        name, colon, port_text = host.partition(":")
        rest = colon + port_text
        if not name or not set(name) <= _NAME_CHARACTERS or name[0] in ".-" or \
                name[-1] == "-" or ".." in name:
            return None
    if not rest:
        return name.lower(), None
    digits = rest[1:]
    if rest[0] != ":" or not (digits.isascii() and digits.isdigit()) or len(digits) > 5 or \
            not 0 < int(digits) <= 65535:
        return None
    return name.lower(), int(digits)


_SHELL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "@%+=:,./_-")


def shell_quote(word: str) -> str:
    """`word` as one POSIX shell word, quoted only when it needs it (as shlex.quote, without
    its `re`): a URL with `;`, `$(...)` or spaces in a suggested command stays one word."""
    if word and set(word) <= _SHELL_SAFE:
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def bbtoken_command(*words: str) -> str:
    """A `git credential-bbtoken ...` command to suggest, each word shell-quoted."""
    return " ".join(["git credential-bbtoken", *(shell_quote(word) for word in words)])


def is_cloud_host(host: str) -> bool:
    """bitbucket.org itself, on the https port: the host that is Bitbucket Cloud by default."""
    parsed = parse_host(host)
    return parsed is not None and parsed[0] in CLOUD_HOSTS and parsed[1] in (None, 443)


def is_loopback(host: str) -> bool:
    parsed = parse_host(host)
    return parsed is not None and parsed[0] in LOOPBACK_HOSTS


def without_git_suffix(url: str) -> str:
    """A repository URL as people type it in commands: without the trailing `.git`."""
    return url[:-4] if url.endswith(".git") else url


def origin_url(protocol: str, host: str, path: str | None = None) -> str:
    """`protocol://host[/path]`, with no username or secret."""
    return f"{protocol}://{host}" + (f"/{path}" if path else "")


def utc_day(timestamp: float) -> int:
    """The UTC calendar day of a timestamp, counted from 1970-01-01: differences of these
    are differences of dates, without importing `datetime` on every `get`."""
    return int(min(timestamp, MAX_EXPIRY) // SECONDS_PER_DAY)


def days_left(expiry: float, now: float) -> int:
    """Calendar days (UTC) from `now` until the expiry date: 0 on the day itself. What `get`
    and `doctor` compare with EXPIRY_WARNING_DAYS, and what their texts call "in N days"."""
    return utc_day(expiry) - utc_day(now)


def utc_date_text(timestamp: float) -> str:
    """`YYYY-MM-DD` of a timestamp, in UTC."""
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(min(timestamp, MAX_EXPIRY)))


def now_iso() -> str:
    """The current UTC time as ISO 8601 to the second (`2026-11-30T12:00:00+00:00`)."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
