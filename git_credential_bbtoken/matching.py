"""Which stored credential answers a request, and which ones an erase removes.

Pure: works on plain entries (protocol, host, path scope, username) and knows nothing of files
or keyrings. Two sets of rules, chosen by the host's kind:

- Bitbucket hosts (kind `cloud` or `datacenter`): a stored path is a *scope*. It matches the
  same path and every path below it, on `/` boundaries (`ws` matches `ws/repo.git` and
  `ws/repo.git/info/lfs`, never `ws2`); the most specific scope wins.
- other hosts (kind `generic`): git's own stores' rule (`credential_match()` in git): a field
  the request leaves out matches anything, a field it gives must be equal.

On both, protocol and host (port included) must be equal, and a username git sends must match.
"""

from __future__ import annotations

from git_credential_bbtoken.common import without_git_suffix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional, Protocol, Sequence, TypeVar

    class Scoped(Protocol):
        protocol: str
        host: str
        path: str  # "" for the whole host
        username: str

    E = TypeVar("E", bound=Scoped)

BITBUCKET_KINDS = ("cloud", "datacenter")


def normalize_path(path: str | None) -> str:
    return (path or "").strip("/")


def bitbucket_scope(path: str | None) -> str:
    """A path as a scope on a Bitbucket host: without slashes at the ends or `.git` at the
    end, since `ws/repo.git` and `ws/repo` are one repository (and older versions kept a login
    for `https://host/ws/repo.git` under `ws/repo.git`)."""
    return without_git_suffix(normalize_path(path))


def same_scope(stored: str, scope: str, kind: str) -> bool:
    """Whether an entry kept for `stored` is the one a command names with `scope`: on Bitbucket
    hosts with or without `.git`; on other hosts the same path, as in git's own stores."""
    if kind in BITBUCKET_KINDS:
        return bitbucket_scope(stored) == bitbucket_scope(scope)
    return normalize_path(stored) == normalize_path(scope)


def scope_covers(scope: str, path: str) -> bool:
    """True when a credential kept for `scope` may serve `path` (both without slashes at the
    ends): the same path or one below it, never a sibling that shares a prefix. A repository
    scope covers the repository with and without `.git`."""
    scope = bitbucket_scope(scope)
    if not scope:
        return True
    if path == scope:
        return True
    if path.startswith(scope + "/"):
        return True
    # `ws/repo` also covers `ws/repo.git` and what lies below it: git sends the .git form.
    return path == scope + ".git" or path.startswith(scope + ".git/")


def find_for_get(entries: Sequence[E], protocol: str, host: str, path: str | None,
                 username: str | None, kind: str) -> E | None:
    """The entry that answers git's `get`, or None."""
    candidates = [e for e in entries if _same_origin(e, protocol, host)
                  and (username is None or e.username == username)]
    if kind in BITBUCKET_KINDS:
        wanted = normalize_path(path)
        covering = [e for e in candidates if scope_covers(e.path, wanted)]
        # The most specific scope wins; among equals, the one stored last (entries are kept in
        # the order they were stored, so the last one in the list).
        best: E | None = None
        for entry in covering:
            if best is None or len(bitbucket_scope(entry.path)) >= \
                    len(bitbucket_scope(best.path)):
                best = entry
        return best
    for entry in candidates:
        if path is None or entry.path == normalize_path(path):
            return entry
    return None


def find_for_erase(entries: Sequence[E], protocol: str, host: str, path: str | None,
                   username: str | None, kind: str,
                   password_matches: Optional[Callable[[E], bool]] = None) -> list[E]:
    """The entries an `erase` removes.

    Generic hosts: every entry matching git's pattern. Bitbucket hosts: with the rejected
    password known, every covering entry that holds that password (the token is dead wherever
    it is kept); without it, only the entry `get` would have served."""
    candidates = [e for e in entries if _same_origin(e, protocol, host)
                  and (username is None or e.username == username)]
    if kind in BITBUCKET_KINDS:
        wanted = normalize_path(path)
        covering = [e for e in candidates if scope_covers(e.path, wanted)]
        if password_matches is not None:
            return [e for e in covering if password_matches(e)]
        served = find_for_get(covering, protocol, host, path, username, kind)
        return [served] if served is not None else []
    matched = [e for e in candidates if path is None or e.path == normalize_path(path)]
    if password_matches is not None:
        matched = [e for e in matched if password_matches(e)]
    return matched


def bitbucket_store_scope(path: str | None, kind: str) -> str:
    """The scope a credential stored by git (with `useHttpPath`) is kept under on a Bitbucket
    host: the workspace on Cloud (`ws/repo.git` -> `ws`), the project on Data Center
    (`scm/PROJ/repo.git` -> `scm/PROJ`), so that one token serves all of its repositories."""
    parts = [p for p in normalize_path(path).split("/") if p]
    if not parts:
        return ""
    if kind == "datacenter" and parts[0] == "scm" and len(parts) >= 2:
        return "/".join(parts[:2])
    return parts[0]


def bitbucket_new_token_scope(served: str | None, path: str | None, kind: str) -> str:
    """Where a new token that git stores is kept on a Bitbucket host, `served` being the scope
    of the entry that served the request (None: nothing did). In that entry's place when it
    lies within the request's workspace (or project): a repository login is replaced, neither
    widened to its workspace nor shadowed by a new workspace entry. Else for the workspace:
    a broader login (the whole host) keeps its token for every other workspace."""
    scope = bitbucket_store_scope(path, kind)
    return served if served is not None and scope_covers(scope, served) else scope


def _same_origin(entry: Scoped, protocol: str, host: str) -> bool:
    return entry.protocol == protocol and entry.host == host
