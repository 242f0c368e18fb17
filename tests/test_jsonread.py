"""jsonread.loads answers exactly as json.loads, through `_json`'s scanner and without it."""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from git_credential_bbtoken import jsonread

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)
# Both ways jsonread can parse: the fast one, and the one used where `_json` is missing.
SCANNERS = pytest.mark.parametrize("scanner", ["extension", "json"])


def _scan(scanner: str):
    return jsonread.extension_scanner() if scanner == "extension" else jsonread.scan_with_json


def _outcome(parse, text: str) -> tuple[str, object]:
    try:
        return ("value", parse(text))
    except ValueError as exc:
        return ("error", type(exc).__name__)


@SCANNERS
@given(value=JSON_VALUES, indent=st.sampled_from([None, 0, 1, "\t"]),
       padding=st.sampled_from(["", " ", "\n", " \t\r\n "]))
def test_documents_parse_as_json_parses_them(scanner: str, value: object, indent: object,
                                             padding: str) -> None:
    text = padding + json.dumps(value, indent=indent, ensure_ascii=False) + padding
    assert jsonread.parse(text, _scan(scanner)) == json.loads(text)


@SCANNERS
@given(text=st.text(alphabet=st.sampled_from(list('{}[]",:0123456789.eE+-tfnrulsaNI\\ \n\t'
                                                   "\u00e9\x00\x1f")), max_size=40))
def test_any_text_gives_the_same_value_or_error_as_json(scanner: str, text: str) -> None:
    scan = _scan(scanner)
    expected = _outcome(json.loads, text)
    got = _outcome(lambda t: jsonread.parse(t, scan), text)
    if expected[0] == "value" and expected[1] != expected[1]:  # NaN is not equal to itself
        assert got[0] == "value" and got[1] != got[1]
    else:
        assert got == expected


@SCANNERS
@pytest.mark.parametrize("text", ["", "   ", "{", '{"a": 1} x', '{"a": 1}{}', "[1,]", "nul",
                                  '"tab\tinside"', "\ufeff{}"])
def test_damaged_documents_raise_value_error(scanner: str, text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)  # the reference agrees that these are not JSON
    with pytest.raises(ValueError):
        jsonread.parse(text, _scan(scanner))


def test_cpython_uses_the_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonread, "_scan", None)
    assert jsonread.loads('{"a": [1]}') == {"a": [1]}
    assert jsonread._scan is not jsonread.scan_with_json


def test_without_the_extension_json_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_json_extension(name: str, *args: object, **kwargs: object) -> object:
        if name == "_json":
            raise ImportError("no _json here")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jsonread, "_scan", None)
    monkeypatch.setattr(builtins, "__import__", no_json_extension)
    assert jsonread.loads('{"a": [1]}') == {"a": [1]}
    assert jsonread._scan is jsonread.scan_with_json


def test_damaged_documents_raise_value_error_in_a_fresh_interpreter() -> None:
    # As on the hot path: nothing has imported `json` yet (the C scanner words its errors
    # with json.decoder's JSONDecodeError, and on CPython 3.11 fails oddly without it).
    probe = ("import sys\n"
             "from git_credential_bbtoken import jsonread\n"
             "assert jsonread.loads('{\"a\": [1, 2.5, null]}') == {'a': [1, 2.5, None]}\n"
             "assert 'json' not in sys.modules\n"
             "for text in sys.argv[1:]:\n"
             "    try:\n"
             "        jsonread.loads(text)\n"
             "    except ValueError as exc:\n"
             "        print(type(exc).__name__)\n")
    damaged = ["{ this is not json", "[1,", '{"a" 1}', "", "1 2"]
    path = os.pathsep.join([str(Path(jsonread.__file__).parents[1]), *sys.path])
    result = subprocess.run([sys.executable, "-S", "-c", probe, *damaged], capture_output=True,
                            text=True, env=dict(os.environ, PYTHONPATH=path), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["JSONDecodeError"] * len(damaged)
