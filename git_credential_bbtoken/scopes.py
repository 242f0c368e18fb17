"""Pure scope logic: which Bitbucket API-token scopes each git/IDE operation needs.

This module is on the hot `get` path, so it imports nothing at all (not even `enum` or `re`,
which would cost a `get` more than everything it does here) and does no I/O. Facts come from
docs/bitbucket-facts.md §2: no scope implies another — `write:repository:bitbucket`
does not include read, and `admin:repository:bitbucket` includes neither.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable

SUFFIX = ":bitbucket"

READ_REPOSITORY = "read:repository:bitbucket"
WRITE_REPOSITORY = "write:repository:bitbucket"
ADMIN_REPOSITORY = "admin:repository:bitbucket"
READ_USER = "read:user:bitbucket"
READ_WORKSPACE = "read:workspace:bitbucket"
READ_PULLREQUEST = "read:pullrequest:bitbucket"
WRITE_PULLREQUEST = "write:pullrequest:bitbucket"
READ_PROJECT = "read:project:bitbucket"


class Operation:
    """What a user does with a token: plain strings (no `enum` on the hot path)."""

    CLONE = "clone"  # clone, fetch, pull, ls-remote, Git LFS download
    PUSH = "push"  # push, Git LFS upload
    IDENTITY = "identity"  # GET /2.0/user: Sourcetree, Fork, IDE account panels
    WORKSPACES = "workspaces"  # list workspaces (Sourcetree "Remote repositories")
    PULL_REQUESTS_READ = "pull requests (read)"
    PULL_REQUESTS_WRITE = "pull requests (write)"


# Order matters: it is the order in which missing scopes are named to the user, so a
# message is stable from run to run. Read comes before write because a token needs both.
NEEDS: dict[str, tuple[str, ...]] = {
    Operation.CLONE: (READ_REPOSITORY,),
    Operation.PUSH: (READ_REPOSITORY, WRITE_REPOSITORY),
    Operation.IDENTITY: (READ_USER,),
    # GET /2.0/user/workspaces needs read:user + read:workspace; listing the repositories
    # inside also needs read:repository (docs/bitbucket-facts.md §2): SOURCETREE below.
    Operation.WORKSPACES: (READ_USER, READ_WORKSPACE),
    Operation.PULL_REQUESTS_READ: (READ_PULLREQUEST,),
    Operation.PULL_REQUESTS_WRITE: (READ_PULLREQUEST, WRITE_PULLREQUEST),
}

# What Sourcetree and IDE account panels need, all of it: who you are (GET /2.0/user), your
# workspaces (GET /2.0/user/workspaces) and their repositories, Sourcetree's "Remote
# repositories" (docs/bitbucket-facts.md §2).
SOURCETREE = (READ_USER, READ_WORKSPACE, READ_REPOSITORY)

# Old app-password / OAuth names (docs/bitbucket-facts.md §2). Only these are mapped: the old
# vocabulary had implications (write included read) that API tokens do not have, so
# guessing further mappings would claim scopes a token may lack.
LEGACY_NAMES: dict[str, str] = {
    "repository": READ_REPOSITORY,
    "repository:write": WRITE_REPOSITORY,
    "account": READ_USER,
    "team": READ_WORKSPACE,
    "pullrequest": READ_PULLREQUEST,
    "pullrequest:write": WRITE_PULLREQUEST,
    "project": READ_PROJECT,
}

_DESCRIPTIONS: dict[str, str] = {
    READ_REPOSITORY: "clone, fetch and pull",
    WRITE_REPOSITORY: "push (needs read:repository:bitbucket as well)",
    ADMIN_REPOSITORY: "repository settings (grants neither read nor write)",
    "delete:repository:bitbucket": "delete repositories",
    READ_USER: "your account details, used by Sourcetree and IDE account checks",
    "write:user:bitbucket": "change your account details",
    READ_WORKSPACE: "list your workspaces (Sourcetree's remote repository list needs it)",
    "admin:workspace:bitbucket": "administer workspaces",
    READ_PULLREQUEST: "view pull requests",
    WRITE_PULLREQUEST: "create, comment on and approve pull requests",
    READ_PROJECT: "view projects",
    "admin:project:bitbucket": "administer projects",
    "read:pipeline:bitbucket": "view Pipelines",
    "write:pipeline:bitbucket": "run Pipelines",
    "admin:pipeline:bitbucket": "administer Pipelines",
}


def _split_names(text: str) -> list[str]:
    """Header values (x-oauth-scopes) and `--scopes`-like input separate names with commas,
    white space or both."""
    return text.replace(",", " ").split()


def _normalize_one(name: str) -> str:
    cleaned = name.strip().lower()
    return LEGACY_NAMES.get(cleaned, cleaned)


def parse_scope_header(value: str | None) -> frozenset[str]:
    """Scopes from a header such as `x-oauth-scopes: repository, account` (or space separated)."""
    if not value:
        return frozenset()
    return normalize_scopes(_split_names(value))


def normalize_scopes(scopes: Iterable[str] | str | None) -> frozenset[str]:
    """Canonical scope names: stripped, lower case, old app-password names mapped.

    Unknown names are kept as they are, never rejected: Atlassian's picker keeps growing.
    A single string is parsed like a header (comma and/or space separated).
    """
    if scopes is None:
        return frozenset()
    if isinstance(scopes, str):
        return parse_scope_header(scopes)
    result = set()
    for item in scopes:
        if not isinstance(item, str):
            continue  # JSON from a server or a metadata file may hold anything
        for part in _split_names(item):
            result.add(_normalize_one(part))
    return frozenset(result)


def missing_scopes(operation: str, granted: Iterable[str]) -> tuple[str, ...]:
    """The scopes `operation` needs that `granted` lacks, in a stable order."""
    have = normalize_scopes(granted)
    return tuple(scope for scope in NEEDS[operation] if scope not in have)


def can(operation: str, granted: Iterable[str]) -> bool:
    """Whether a token with `granted` scopes can do `operation` (scopes only, not permissions)."""
    return not missing_scopes(operation, granted)


def has_any_bitbucket_scope(granted: Iterable[str]) -> bool:
    """A token without any Bitbucket scope fails everywhere with 401
    (docs/bitbucket-facts.md §2)."""
    return any(scope.endswith(SUFFIX) for scope in normalize_scopes(granted))


def describe_scope(scope: str) -> str:
    """`read:repository:bitbucket — clone, fetch and pull`; an unknown scope is just its name."""
    name = _normalize_one(scope)
    what = _DESCRIPTIONS.get(name)
    return f"{name} — {what}" if what else name


def sort_scopes(scopes: Iterable[str]) -> list[str]:
    """Scopes in a stable, readable order: by family, then read/write/admin/delete."""
    verbs = {"read": 0, "write": 1, "admin": 2, "delete": 3}

    def key(scope: str) -> tuple[str, int, str]:
        parts = scope.split(":")
        if len(parts) == 3:
            return (parts[1], verbs.get(parts[0], 9), scope)
        return ("~" + scope, 9, scope)  # unknown shapes last

    return sorted(set(scopes), key=key)


# -- Bitbucket Data Center / Server: HTTP access token permissions ----------------------------
#
# Facts doc, section 5. Unlike Cloud scopes these are levels: REPO_WRITE includes REPO_READ,
# REPO_ADMIN includes both, and a PROJECT_* permission grants the same level on every
# repository of the project. What a token may do is also capped by its owner's own
# permissions, which only the server knows: the git probes are the ground truth.

REPO_READ = "REPO_READ"
REPO_WRITE = "REPO_WRITE"
REPO_ADMIN = "REPO_ADMIN"
PROJECT_READ = "PROJECT_READ"
PROJECT_WRITE = "PROJECT_WRITE"
PROJECT_ADMIN = "PROJECT_ADMIN"

_DC_DESCRIPTIONS = {
    REPO_READ: "clone, fetch and pull",
    REPO_WRITE: "push (includes REPO_READ)",
    REPO_ADMIN: "repository settings (includes REPO_WRITE)",
    PROJECT_READ: "clone and pull every repository of the project",
    PROJECT_WRITE: "push to every repository of the project (includes PROJECT_READ)",
    PROJECT_ADMIN: "project settings (includes PROJECT_WRITE)",
}


def normalize_dc_permission(name: str) -> str:
    """`repo_write`, `repo-write` -> `REPO_WRITE`; unknown names kept (upper case)."""
    return name.strip().upper().replace("-", "_")


def describe_dc_permission(name: str) -> str:
    """`REPO_WRITE — push (includes REPO_READ)`; an unknown permission is just its name."""
    name = normalize_dc_permission(name)
    what = _DC_DESCRIPTIONS.get(name)
    return f"{name} — {what}" if what else name
