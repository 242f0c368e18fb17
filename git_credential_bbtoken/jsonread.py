"""`json.loads` for the hot `get` path, without importing the `json` package.

`json.decoder` imports `re` (and with it `enum`, `functools`, `collections`, ...), which costs
a `get` more than reading and parsing our small files. The C scanner that `json.loads` itself
uses lives in the `_json` extension module and needs only a few settings, so we call it
directly. Where `_json` is missing (another Python implementation) this is `json.loads`.
Writers keep using `json.dumps`: they are not on the hot path.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

_WHITESPACE = " \t\n\r"  # JSON's four white-space characters (RFC 8259), as json.loads skips


class _Settings:
    """What the C scanner reads from its context: `json.loads`' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"),
                      "NaN": float("nan")}.__getitem__


_scan: Callable[[str, int], tuple[Any, int]] | None = None  # chosen at the first call


def loads(text: str) -> Any:
    """Like `json.loads(text)` for a str: the value, or ValueError (JSONDecodeError)."""
    return parse(text, _scan or _choose_scanner())


def parse(text: str, scan: Callable[[str, int], tuple[Any, int]]) -> Any:
    """`text` parsed with `scan` (a scanner as `json.scanner.make_scanner` returns)."""
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = scan(text, start)
    except Exception:
        # Damaged text. The scanner's own errors are not dependable here: it raises
        # StopIteration where there is no value, and on CPython 3.11 a SystemError when
        # `json.decoder` (which holds JSONDecodeError) has not been imported. So json
        # itself reads the text again and raises what `json.loads` raises.
        return _json_loads(text)
    if text[end:].strip(_WHITESPACE):
        return _json_loads(text)  # extra data after the value: json raises it
    return value


def _choose_scanner() -> Callable[[str, int], tuple[Any, int]]:
    global _scan
    try:
        _scan = extension_scanner()
    except ImportError:
        _scan = scan_with_json
    return _scan


def extension_scanner() -> Callable[[str, int], tuple[Any, int]]:
    """The C scanner behind `json.loads`, with `json.loads`' settings."""
    from _json import make_scanner

    return make_scanner(_Settings())  # type: ignore[arg-type]  # reads only these


def scan_with_json(text: str, start: int) -> tuple[Any, int]:
    """The same through the `json` package, where `_json` is missing."""
    import json

    return json.JSONDecoder().raw_decode(text, start)


def _json_loads(text: str) -> Any:
    import json

    return json.loads(text)
