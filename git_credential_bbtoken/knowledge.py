"""What a stored token may do on each repository, as Bitbucket itself answered.

Kept in the entry (`Entry.repositories`), per repository and per operation, and dropped with
the token (a new token is a new entry). `get` reads it on every request, so this module is
pure and imports nothing: a fetch or push of a repository already known costs no request.

    {"acme/widgets": {"clone": true, "push": false, "push_why": "permission",
                      "push_status": 403, "push_at": 1764500000}}

`why` is what a refusal meant (docs/bitbucket-facts.md §3, §5):
- "scope": the token lacks a scope (Cloud's 403 "lack one or more required privilege scopes");
- "permission": the account (or a Data Center token's permission) does not allow it: 403;
- "no-access": the repository is not visible to the account, or does not exist (Cloud: 401
  with "You may not have access to this repository", Data Center: 404);
- "rejected": the credential itself was refused (Data Center 401): never sent again, not
  even by `doctor`; a new token (or the same one logged in again) is a new entry.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

    from git_credential_bbtoken.storage.store import Entry

CLONE = "clone"
PUSH = "push"
# The refusals whose cause cannot go away for this token: a Cloud token's missing scope
# (scopes cannot be edited), the credential itself refused, a retired app password. Any
# other refusal (an account's permission, a Data Center token's permission, which can be
# edited, a repository not visible) is asked about again each time, with the one probe: an
# admin may have granted access meanwhile. What was allowed stays known for the token's life.
LASTING = ("scope", "rejected", "retired")


def repository_name(kind: str, path: str | None) -> str | None:
    """The repository a request's path names, as people write it: `ws/repo` on Cloud (from
    `ws/repo.git`, `ws/repo.git/info/lfs`...), `PROJ/repo` on Data Center (from
    `scm/PROJ/repo.git`). None when the path names no repository."""
    parts = [part for part in (path or "").split("/") if part]
    if kind == "datacenter":
        if len(parts) < 3 or parts[0] != "scm":
            return None
        parts = parts[1:]
    if len(parts) < 2:
        return None
    repo = parts[1][:-4] if parts[1].endswith(".git") else parts[1]
    return f"{parts[0]}/{repo}" if repo else None


def repository_key(kind: str, path: str | None) -> str | None:
    """`repository_name` in lower case: Bitbucket's slugs and project keys ignore case."""
    name = repository_name(kind, path)
    return name.lower() if name is not None else None


def known(entry: Entry, key: str, need: str) -> bool | None:
    """What is known of `need` (CLONE or PUSH) for the repository `key` with this entry's
    token: True, False (a refusal whose cause is `LASTING`), or None (ask Bitbucket)."""
    if rejected(entry) is not None:
        return False  # the credential itself was refused: never sent again, anywhere
    facts = (entry.repositories or {}).get(key)
    if not isinstance(facts, dict):
        facts = {}
    value = facts.get(need)
    if value is True:
        return True
    if value is False:
        return False if facts.get(f"{need}_why") in LASTING else None
    if need == CLONE and facts.get(PUSH) is True:
        return True  # a token that may push may fetch (push needs read too)
    return _from_login(entry, key, need)


def _from_login(entry: Entry, key: str, need: str) -> bool | None:
    """A login for exactly this repository probed it: what it allowed counts as known. A
    refusal it saw is not kept here: the token's own (a scope, a rejection) stops git before
    this is asked (`advice`), and the account's may change, so it is asked again like any
    refusal (and then kept with its reason)."""
    if repository_key(entry.kind, entry.path) != key or not entry.validation:
        return None
    value = entry.validation.get("can_clone" if need == CLONE else "can_push")
    return True if value is True else None


def rejected(entry: Entry) -> dict[str, Any] | None:
    """The refusal of the credential itself, if one was kept (on any repository)."""
    for facts in (entry.repositories or {}).values():
        if not isinstance(facts, dict):
            continue
        for need in (CLONE, PUSH):
            if facts.get(f"{need}_why") == "rejected":
                return {"why": "rejected", "status": facts.get(f"{need}_status")}
    return None


def refusal(entry: Entry, key: str, need: str) -> dict[str, Any]:
    """The facts kept with a refusal: why, and the status Bitbucket answered."""
    token_level = rejected(entry)
    if token_level is not None:
        return token_level
    facts = (entry.repositories or {}).get(key) or {}
    return {"why": facts.get(f"{need}_why"), "status": facts.get(f"{need}_status")}


def learnt(key: str, need: str, allowed: bool, why: str | None, status: int | None,
           now: float) -> Any:
    """A change for `CredentialStore.update_if_free` that records one answer."""
    def record(entry: Entry) -> None:
        repositories = dict(entry.repositories or {})
        facts = dict(repositories.get(key) or {})
        facts[need] = allowed
        if allowed:
            for field in ("why", "status", "at"):
                facts.pop(f"{need}_{field}", None)
        else:
            facts.update({f"{need}_why": why, f"{need}_status": status, f"{need}_at": int(now)})
        repositories[key] = facts
        entry.repositories = repositories

    return record


def checked(key: str | None, verdicts: Iterable[tuple[str, bool, str | None, int | None]],
            now: float) -> Any:
    """A change for `CredentialStore.update` that records a fresh check of the token
    (`doctor`) on the repository `key` when it names one: each verdict is (need, allowed,
    why, status), as `access.read` gives it. What it allowed is known; a refusal is kept
    with its reason, like `get`'s own probe keeps it (asked again unless it is `LASTING`;
    a Cloud 401 changes nothing), but never replaces a lasting reason: only a check that
    allowed the operation drops that.
    Once the token was accepted, no refusal of the credential itself stands."""
    verdicts = list(verdicts)

    def record(entry: Entry) -> None:
        repositories = {name: dict(facts) for name, facts in (entry.repositories or {}).items()
                        if isinstance(facts, dict)}
        if any(allowed for _, allowed, _, _ in verdicts):
            for facts in repositories.values():
                for need in (CLONE, PUSH):
                    if facts.get(f"{need}_why") == "rejected":
                        _forget(facts, need)
        if key is not None:
            facts = repositories.setdefault(key, {})
            for verdict in verdicts:
                _check(facts, *verdict, now)
        entry.repositories = {name: facts for name, facts in repositories.items() if facts}

    return record


def _check(facts: dict[str, Any], need: str, allowed: bool, why: str | None,
           status: int | None, now: float) -> None:
    """One verdict of a fresh check (`checked`), into one repository's facts."""
    if allowed:
        _forget(facts, need)
        facts[need] = True
    elif facts.get(f"{need}_why") in LASTING:
        return
    elif why == "no-access" and status == 401:
        # Cloud's 401 may as well be the token itself (expired, revoked): what was known is
        # left as it was. Where the token worked, `get` serves it, and git's own 401 and
        # its erase explain and remove a dead token (then git asks for a new one).
        return
    else:
        _forget(facts, need)
        facts.update({need: False, f"{need}_why": why, f"{need}_status": status,
                      f"{need}_at": int(now)})


def _forget(facts: dict[str, Any], need: str) -> None:
    for field in (need, f"{need}_why", f"{need}_status", f"{need}_at"):
        facts.pop(field, None)
