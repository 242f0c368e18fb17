"""Table-driven tests of scopes.py: the facts doc's scope table, normalisation, no implication."""

from __future__ import annotations

import subprocess
import sys

import pytest

from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.scopes import Operation

R = "read:repository:bitbucket"
W = "write:repository:bitbucket"
A = "admin:repository:bitbucket"
U = "read:user:bitbucket"
WS = "read:workspace:bitbucket"
PR = "read:pullrequest:bitbucket"
PW = "write:pullrequest:bitbucket"


@pytest.mark.parametrize(("given", "expected"), [
    ([R], {R}),
    (["  READ:Repository:Bitbucket "], {R}),
    (["repository"], {R}),
    (["repository:write"], {W}),
    (["account"], {U}),
    (["team"], {WS}),
    (["pullrequest"], {PR}),
    (["pullrequest:write"], {PW}),
    (["project"], {"read:project:bitbucket"}),
    (["read:jira-work"], {"read:jira-work"}),  # unknown names are kept, never rejected
    (["read:future-thing:bitbucket"], {"read:future-thing:bitbucket"}),
    (["", "  "], set()),
    ([R, R, "repository"], {R}),
    ([f"{R}, {W}"], {R, W}),  # a header value inside a list is still split
    (None, set()),
])
def test_normalize_scopes(given: list[str] | None, expected: set[str]) -> None:
    assert sc.normalize_scopes(given) == frozenset(expected)


@pytest.mark.parametrize(("header", "expected"), [
    ("repository, account", {R, U}),
    ("repository,account", {R, U}),
    (f"{R} {W}", {R, W}),
    (f" {R},  {W} ,{U} ", {R, W, U}),
    ("pullrequest:write\tteam", {PW, WS}),
    ("", set()),
    (None, set()),
])
def test_header_form(header: str | None, expected: set[str]) -> None:
    assert sc.parse_scope_header(header) == frozenset(expected)
    if header is not None:
        assert sc.normalize_scopes(header) == frozenset(expected)


def test_normalize_returns_frozenset_and_skips_non_strings() -> None:
    result = sc.normalize_scopes([R, 3, None, W])  # type: ignore[list-item]
    assert isinstance(result, frozenset)
    assert result == {R, W}


@pytest.mark.parametrize(("operation", "granted", "missing"), [
    (Operation.CLONE, [R], ()),
    (Operation.CLONE, [W], (R,)),  # write does not include read
    (Operation.CLONE, [A], (R,)),  # admin includes neither
    (Operation.CLONE, [], (R,)),
    (Operation.CLONE, ["repository"], ()),
    (Operation.PUSH, [R, W], ()),
    (Operation.PUSH, [R], (W,)),
    (Operation.PUSH, [W], (R,)),
    (Operation.PUSH, [A], (R, W)),
    (Operation.PUSH, [], (R, W)),  # stable order: read first
    (Operation.PUSH, ["repository:write"], (R,)),  # old name mapped; still no implication
    (Operation.IDENTITY, [U], ()),
    (Operation.IDENTITY, [R, W], (U,)),
    (Operation.WORKSPACES, [U, WS], ()),
    (Operation.WORKSPACES, [WS], (U,)),
    (Operation.WORKSPACES, [], (U, WS)),
    (Operation.PULL_REQUESTS_READ, [PR], ()),
    (Operation.PULL_REQUESTS_READ, [PW], (PR,)),
    (Operation.PULL_REQUESTS_WRITE, [PR, PW], ()),
    (Operation.PULL_REQUESTS_WRITE, [PR], (PW,)),
    (Operation.PULL_REQUESTS_WRITE, [], (PR, PW)),
])
def test_missing_scopes(operation: Operation, granted: list[str],
                        missing: tuple[str, ...]) -> None:
    assert sc.missing_scopes(operation, granted) == missing
    assert sc.can(operation, granted) is (not missing)


def test_every_operation_has_needs() -> None:
    operations = [value for name, value in vars(Operation).items() if name.isupper()]
    assert len(operations) == 6
    for operation in operations:
        assert sc.NEEDS[operation]


@pytest.mark.parametrize(("granted", "expected"), [
    ([R], True),
    (["repository"], True),
    (["read:jira-work", "write:confluence-content"], False),
    ([], False),
    (["read:future:bitbucket"], True),
])
def test_has_any_bitbucket_scope(granted: list[str], expected: bool) -> None:
    assert sc.has_any_bitbucket_scope(granted) is expected


@pytest.mark.parametrize(("scope", "expected"), [
    (R, "read:repository:bitbucket — clone, fetch and pull"),
    ("repository", "read:repository:bitbucket — clone, fetch and pull"),
    ("read:future:bitbucket", "read:future:bitbucket"),
])
def test_describe_scope(scope: str, expected: str) -> None:
    assert sc.describe_scope(scope) == expected


def test_describe_covers_every_needed_scope() -> None:
    for needed in sc.NEEDS.values():
        for scope in needed:
            assert " — " in sc.describe_scope(scope)


def test_sort_scopes_is_stable_and_readable() -> None:
    assert sc.sort_scopes([W, U, "zzz", R, A, R]) == [R, W, A, U, "zzz"]


def test_imports_nothing_heavy() -> None:
    # scopes and explain are on the hot `get` path: they must not pull in requests/keyring.
    code = ("import sys; import git_credential_bbtoken.scopes, git_credential_bbtoken.explain; "
            "print(sorted(m for m in ('requests', 'keyring', 'urllib3', 'platformdirs') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
