"""Which stored credential answers which request (pure, table-driven)."""

from __future__ import annotations

import dataclasses

import pytest

from git_credential_bbtoken.matching import (
    bitbucket_new_token_scope,
    bitbucket_store_scope,
    find_for_erase,
    find_for_get,
    same_scope,
    scope_covers,
)


@dataclasses.dataclass
class E:
    path: str
    username: str = "x-bitbucket-api-token-auth"
    protocol: str = "https"
    host: str = "bitbucket.org"
    password: str = "tok"


@pytest.mark.parametrize("scope, path, covered", [
    ("", "", True),
    ("", "ws/repo.git", True),
    ("ws", "ws", True),
    ("ws", "ws/repo.git", True),
    ("ws", "ws/repo.git/info/lfs", True),
    ("ws", "ws2/repo.git", False),
    ("ws", "w", False),
    ("ws", "", False),
    ("ws/repo", "ws/repo.git", True),
    ("ws/repo", "ws/repo.git/info/lfs/objects/batch", True),
    ("ws/repo", "ws/repo2.git", False),
    ("ws/repo", "ws/repo/info/lfs", True),
    # a scope kept as `ws/repo.git` (older versions' logins) is the same repository
    ("ws/repo.git", "ws/repo.git", True),
    ("ws/repo.git", "ws/repo", True),
    ("ws/repo.git", "ws/repo.git/info/lfs", True),
    ("ws/repo.git", "ws/repo2.git", False),
])
def test_scope_covers(scope: str, path: str, covered: bool) -> None:
    assert scope_covers(scope, path) is covered


def test_most_specific_scope_wins_on_bitbucket() -> None:
    host_wide, workspace, repo = E(""), E("ws"), E("ws/repo")
    entries = [repo, host_wide, workspace]
    assert find_for_get(entries, "https", "bitbucket.org", "ws/repo.git", None, "cloud") is repo
    assert find_for_get(entries, "https", "bitbucket.org", "ws/other.git", None,
                        "cloud") is workspace
    assert find_for_get(entries, "https", "bitbucket.org", "elsewhere/r.git", None,
                        "cloud") is host_wide
    assert find_for_get(entries, "https", "bitbucket.org", None, None, "cloud") is host_wide


def test_a_repository_scope_with_git_is_no_more_specific_than_without() -> None:
    """An older version's `ws/repo.git` and a newer login's `ws/repo` are one scope: the one
    stored last answers, never the older one for being four characters longer."""
    older, newer = E("ws/repo.git", password="old"), E("ws/repo", password="new")
    for path in ("ws/repo", "ws/repo.git", "ws/repo.git/info/lfs"):
        assert find_for_get([older, newer], "https", "bitbucket.org", path, None,
                            "cloud") is newer


@pytest.mark.parametrize("stored, scope, kind, same", [
    ("ws/repo", "ws/repo.git", "cloud", True),
    ("ws/repo.git", "ws/repo", "cloud", True),
    ("scm/PROJ/repo.git", "scm/PROJ/repo", "datacenter", True),
    ("ws/repo", "ws/repo2", "cloud", False),
    ("ws", "ws/repo", "cloud", False),
    ("ws/repo.git", "ws/repo", "generic", False),  # git's own stores: two paths
    ("ws/repo.git", "ws/repo.git", "generic", True),
])
def test_same_scope(stored: str, scope: str, kind: str, same: bool) -> None:
    assert same_scope(stored, scope, kind) is same


@pytest.mark.parametrize("protocol, host, path, username", [
    ("http", "bitbucket.org", "ws/r.git", None),
    ("https", "bitbucket.org:8443", "ws/r.git", None),
    ("https", "bitbucket.org.evil.example", "ws/r.git", None),
    ("https", "evil.example", "bitbucket.org/ws/r.git", None),
    ("https", "bitbucket.org", "ws2/r.git", None),
    ("https", "bitbucket.org", "ws/r.git", "someone-else"),
    ("https", "bitbucket.org", None, None),  # a workspace token is not served without a path
])
def test_no_match_on_bitbucket(protocol: str, host: str, path: str | None,
                               username: str | None) -> None:
    assert find_for_get([E("ws")], protocol, host, path, username, "cloud") is None


def test_username_sent_by_git_must_match() -> None:
    alice, bob = E("ws", username="alice"), E("ws", username="bob")
    assert find_for_get([alice, bob], "https", "bitbucket.org", "ws/r.git", "bob",
                        "cloud") is bob


def test_generic_hosts_follow_gits_own_rules() -> None:
    foo = E("foo.git", host="path.tld")
    plain = E("", host="example.com")
    assert find_for_get([foo], "https", "path.tld", "bar.git", None, "generic") is None
    assert find_for_get([foo], "https", "path.tld", "foo.git", None, "generic") is foo
    assert find_for_get([foo], "https", "path.tld", None, None, "generic") is foo
    # On generic hosts a stored path is not a scope: nothing below it matches.
    assert find_for_get([foo], "https", "path.tld", "foo.git/x", None, "generic") is None
    assert find_for_get([plain], "https", "example.com", "r.git", None, "generic") is None


def test_erase_on_bitbucket_removes_only_holders_of_the_rejected_token() -> None:
    workspace, repo = E("ws", password="dead"), E("ws/repo", password="alive")
    other_ws = E("other", password="dead")
    removed = find_for_erase([workspace, repo, other_ws], "https", "bitbucket.org",
                             "ws/repo.git", None, "cloud", lambda e: e.password == "dead")
    assert removed == [workspace]


def test_erase_on_bitbucket_without_password_removes_what_get_served() -> None:
    workspace, repo = E("ws"), E("ws/repo")
    assert find_for_erase([workspace, repo], "https", "bitbucket.org", "ws/repo.git", None,
                          "cloud") == [repo]


def test_erase_on_generic_host_is_a_pattern() -> None:
    a, b = E("", username="a", host="example.com"), E("", username="b", host="example.com")
    assert find_for_erase([a, b], "https", "example.com", None, None, "generic") == [a, b]
    assert find_for_erase([a, b], "https", "example.com", None, "b", "generic") == [b]
    assert find_for_erase([a, b], "https", "example.com", None, None, "generic",
                          lambda e: e.username == "a") == [a]


@pytest.mark.parametrize("path, kind, scope", [
    ("ws/repo.git", "cloud", "ws"),
    ("ws/repo.git/info/lfs", "cloud", "ws"),
    ("/ws/repo.git/", "cloud", "ws"),
    (None, "cloud", ""),
    ("scm/PROJ/repo.git", "datacenter", "scm/PROJ"),
])
def test_store_scope(path: str | None, kind: str, scope: str) -> None:
    assert bitbucket_store_scope(path, kind) == scope


@pytest.mark.parametrize("served, path, kind, scope", [
    (None, "ws/repo.git", "cloud", "ws"),  # nothing served: the workspace
    ("", "ws/repo.git", "cloud", "ws"),  # a host-wide login keeps its token
    ("ws", "ws/repo.git", "cloud", "ws"),
    ("ws/repo", "ws/repo.git", "cloud", "ws/repo"),  # a repository login is replaced
    ("ws/repo.git", "ws/repo.git/info/lfs", "cloud", "ws/repo.git"),
    ("", None, "cloud", ""),  # no path: the host
    ("", "scm/PROJ/repo.git", "datacenter", "scm/PROJ"),
    ("scm/PROJ/repo", "scm/PROJ/repo.git", "datacenter", "scm/PROJ/repo"),
])
def test_new_token_scope(served: str | None, path: str | None, kind: str, scope: str) -> None:
    assert bitbucket_new_token_scope(served, path, kind) == scope
