"""What is known about a token (`Validation`), as stored in the metadata file and shown as the
verdict table of `login` and `doctor`."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple

from git_credential_bbtoken import explain as ex
from git_credential_bbtoken import scopes as sc

if TYPE_CHECKING:
    from git_credential_bbtoken.checks.answers import ProbeResult

# Where a verdict came from (`Validation.sources`).
GIT_PROBE = "git-probe"
REST = "rest"

NO_REPOSITORY = "not checked: the URL names no repository"


def scopes_text(scopes: list[str] | None, partial: bool = False) -> str:
    """Scopes as `list`, `login` and `doctor` show them: `a, b`, `a, b (at least)` when only
    those were proven, `none`, or `unknown`."""
    if scopes is None:
        return "unknown"
    return (", ".join(scopes) or "none") + (" (at least)" if partial else "")


def scopes_known(validation: Mapping[str, Any] | None,
                 repositories: Mapping[str, Any] | None = None) -> frozenset[str] | None:
    """What a stored token is known to have (None: nothing known), from what is kept beside
    it: the scopes its check listed or proved, and read (and write) where Bitbucket let it
    clone (push), at its check or on a repository since (`knowledge`)."""
    v = Validation.from_dict(validation)
    known = set(v.scopes if v.scopes is not None else v.proven_scopes)
    facts = [v.to_dict(), *(f for f in (repositories or {}).values() if isinstance(f, Mapping))]
    for fact in facts:
        if fact.get("can_clone") is True or fact.get("clone") is True:
            known.add(sc.READ_REPOSITORY)
        if fact.get("can_push") is True or fact.get("push") is True:
            known.update((sc.READ_REPOSITORY, sc.WRITE_REPOSITORY))
    if not known and v.scopes is None:
        return None
    return frozenset(known)


def git_worked(validation: Mapping[str, Any] | None,
               repositories: Mapping[str, Any] | None = None) -> bool:
    """Whether git itself accepted the stored token: a probe at its check, or a repository
    where Bitbucket let it clone or push since."""
    v = Validation.from_dict(validation)
    if GIT_PROBE in v.sources and (v.can_clone or v.can_push):
        return True
    return any(isinstance(f, Mapping) and (f.get("clone") is True or f.get("push") is True)
               for f in (repositories or {}).values())


class VerdictRow(NamedTuple):
    what: str
    answer: str  # yes | no | unknown
    why: str


def _answer(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


@dataclasses.dataclass
class Validation:
    """What is known about a token; JSON-safe via `to_dict`, and never holds the token.

    `scopes` is the token's whole set, when Bitbucket listed it (a REST 403, or the
    `x-oauth-scopes` header); `proven_scopes` are those a request proved by answering 200,
    when no list came: the token has at least these."""

    scopes: frozenset[str] | None = None  # None: unknown
    can_clone: bool | None = None
    can_push: bool | None = None
    identity: bool | None = None
    username_ok: bool | None = None
    checked_at: str = ""
    sources: list[str] = dataclasses.field(default_factory=list)
    problems: list[ex.Explanation] = dataclasses.field(default_factory=list)
    not_checked: list[str] = dataclasses.field(default_factory=list)
    account: str | None = None  # Bitbucket username reported by /2.0/user
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)  # verdict -> why
    kind: str = "cloud"  # or "datacenter": permissions, not scopes
    authtype: str | None = None  # "Bearer" when the token works only as a Bearer token
    proven_scopes: frozenset[str] = frozenset()
    # The git probes as Bitbucket answered them (clone, then push; of the URL's repository
    # when it names one), for `access.learnt_from`: not stored here, what they tell is kept
    # per repository (`Entry.repositories`).
    probes: tuple[ProbeResult, ...] = dataclasses.field(default=(), compare=False,
                                                        repr=False)

    @property
    def problem_ids(self) -> list[str]:
        return [p.id for p in self.problems]

    def can(self, operation: str) -> bool | None:
        """Whether the scopes allow `operation`: from the whole set when known, else yes when
        the proven scopes suffice; None: unknown."""
        if self.scopes is not None:
            return sc.can(operation, self.scopes)
        return True if sc.can(operation, self.proven_scopes) else None

    def known_scopes(self) -> tuple[list[str] | None, bool]:
        """The scopes to show, and whether they are only part of the token's set (proven
        ones); (None, False) when nothing is known."""
        if self.scopes is not None:
            return sc.sort_scopes(self.scopes), False
        if self.proven_scopes:
            return sc.sort_scopes(self.proven_scopes), True
        return None, False

    def rest_accepted(self) -> bool:
        """Whether REST accepted `email:token` (Cloud's `GET /2.0/user` answered 200, or a
        403 listing the token's scopes): then the email stored with it was the account's."""
        return self.kind == "cloud" and REST in self.sources and self.identity is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scopes": None if self.scopes is None else sc.sort_scopes(self.scopes),
            "can_clone": self.can_clone,
            "can_push": self.can_push,
            "identity": self.identity,
            "username_ok": self.username_ok,
            "checked_at": self.checked_at,
            "sources": list(self.sources),
            "problems": [p.to_dict() for p in self.problems],
            "not_checked": list(self.not_checked),
            "account": self.account,
            "reasons": dict(self.reasons),
            "kind": self.kind,
            "authtype": self.authtype,
            "proven_scopes": sc.sort_scopes(self.proven_scopes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Validation:
        """Forgiving: missing or malformed fields read as unknown."""
        if not isinstance(data, Mapping):
            return cls()

        def flag(key: str) -> bool | None:
            value = data.get(key)
            return value if isinstance(value, bool) else None

        def strings(key: str) -> list[str]:
            value = data.get(key)
            return [str(v) for v in value] if isinstance(value, list) else []

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        raw_scopes, raw_proven = data.get("scopes"), data.get("proven_scopes")
        problems = [ex.Explanation.from_dict(p) for p in data.get("problems") or []
                    if isinstance(p, Mapping)]
        reasons = data.get("reasons")
        return cls(
            scopes=sc.normalize_scopes(raw_scopes) if isinstance(raw_scopes, list) else None,
            can_clone=flag("can_clone"), can_push=flag("can_push"), identity=flag("identity"),
            username_ok=flag("username_ok"), checked_at=str(data.get("checked_at") or ""),
            sources=strings("sources"), problems=problems, not_checked=strings("not_checked"),
            account=text("account"),
            reasons={str(k): str(v) for k, v in reasons.items()}
            if isinstance(reasons, Mapping) else {},
            kind=str(data.get("kind") or "cloud"),
            authtype=text("authtype"),
            proven_scopes=sc.normalize_scopes(raw_proven) if isinstance(raw_proven, list)
            else frozenset(),
        )

    def verdict_table(self) -> list[VerdictRow]:
        """Rows for `login`/`doctor`: what the token can do, yes/no/unknown, and why."""
        return _VERDICT_TABLES.get(self.kind, _cloud_rows)(self)


def _datacenter_rows(v: Validation) -> list[VerdictRow]:
    """Data Center: permissions are not listed anywhere, so only what was asked is known."""
    return [
        VerdictRow("clone", _answer(v.can_clone), v.reasons.get("clone", NO_REPOSITORY)),
        VerdictRow("push", _answer(v.can_push), v.reasons.get("push", NO_REPOSITORY)),
        VerdictRow("REST API", _answer(v.identity), v.reasons.get("identity", "not checked")),
    ]


IDENTITY_ROW = "identity (Sourcetree, IDEs)"


def _cloud_rows(v: Validation) -> list[VerdictRow]:
    rows = [
        VerdictRow("clone", _answer(v.can_clone), _cloud_why(v, "clone", sc.Operation.CLONE)),
        VerdictRow("push", _answer(v.can_push), _cloud_why(v, "push", sc.Operation.PUSH)),
        _sourcetree_row(IDENTITY_ROW, v.identity,
                        _cloud_why(v, "identity", sc.Operation.IDENTITY)),
    ]
    workspaces = v.can(sc.Operation.WORKSPACES)
    rows.append(_sourcetree_row("workspaces", workspaces,
                                _cloud_why(v, "", sc.Operation.WORKSPACES)))
    for label, operation in (("pull requests (read)", sc.Operation.PULL_REQUESTS_READ),
                             ("pull requests (write)", sc.Operation.PULL_REQUESTS_WRITE)):
        rows.append(VerdictRow(label, _answer(v.can(operation)), _cloud_why(v, "", operation)))
    return rows


def _sourcetree_row(what: str, value: bool | None, why: str) -> VerdictRow:
    """A row about Sourcetree and IDE panels: a "no" names every scope they need."""
    if value is False:
        why += "; Sourcetree and IDEs need " + ", ".join(sc.SOURCETREE)
    return VerdictRow(what, _answer(value), why)


def _cloud_why(v: Validation, key: str, operation: str) -> str:
    if key and key in v.reasons:
        return v.reasons[key]
    if v.scopes is not None:
        missing = sc.missing_scopes(operation, v.scopes)
        return "lacks " + ", ".join(missing) if missing else "has " + ", ".join(
            sc.NEEDS[operation])
    if sc.can(operation, v.proven_scopes):
        return "has " + ", ".join(sc.NEEDS[operation])
    if REST in v.sources:
        return "unknown: Bitbucket did not list the token's scopes"
    if v.not_checked:
        return f"not checked: {v.not_checked[0]}"
    return "not checked: scopes are learned with --email"


_VERDICT_TABLES: dict[str, Callable[[Validation], list[VerdictRow]]] = {
    "cloud": _cloud_rows,
    "datacenter": _datacenter_rows,
}
