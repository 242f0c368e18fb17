"""What a test needs from the machine, and what happens without it: a skip on a developer's
machine, a failure where the run says it is required. CI sets BBTOKEN_REQUIRE_ALL=1 (and the
older BBTOKEN_REQUIRE_NEWER_GIT=1, BBTOKEN_REQUIRE_KEYRING=1): there, a test that cannot run
fails, so CI can never pass by skipping. tests/conftest.py also turns any other skip into a
failure under BBTOKEN_REQUIRE_ALL=1."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ALL = "BBTOKEN_REQUIRE_ALL"


def required(what: str) -> bool:
    """True where BBTOKEN_REQUIRE_<what>=1 or BBTOKEN_REQUIRE_ALL=1."""
    return "1" in (os.environ.get(f"BBTOKEN_REQUIRE_{what}"), os.environ.get(REQUIRE_ALL))


def skip_or_fail(reason: str, what: str) -> NoReturn:
    """Skip the test for `reason`, or fail it where `what` is required."""
    if required(what):
        pytest.fail(f"{reason} — required here (BBTOKEN_REQUIRE_{what}=1 or {REQUIRE_ALL}=1)",
                    pytrace=False)
    pytest.skip(reason)
