"""Bitbucket Cloud: what an API token can do, from git `info/refs` probes and REST checks.

Git is asked with the git username, REST with the Atlassian email (docs/bitbucket-facts.md §1): a
403 from REST lists the token's scopes (section 3; `cloudrest`). When the URL names no
repository, the probes try one that REST listed, and the verdicts say which. The token goes
nowhere but `Target.base_url` and `Target.api_url`, through `transport`'s one guarded GET.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import TYPE_CHECKING, Iterable

from git_credential_bbtoken import __version__
from git_credential_bbtoken import explain as ex
from git_credential_bbtoken import scopes as sc
from git_credential_bbtoken.checks import skeleton, transport
from git_credential_bbtoken.checks.answers import (
    PERMISSION,
    RECEIVE_PACK,
    SCOPE,
    UPLOAD_PACK,
    Outcome,
    ProbeResult,
    blames_the_token,
    path_segment,
    probe_info_refs,
    refused_by,
)
from git_credential_bbtoken.checks.cloudrest import RestResult, rest_check
from git_credential_bbtoken.checks.transport import Channel
from git_credential_bbtoken.checks.validation import Validation
from git_credential_bbtoken.common import CLOUD_API_URL, now_iso, without_git_suffix
from git_credential_bbtoken.explain import access as access_texts
from git_credential_bbtoken.explain import cloud as texts

if TYPE_CHECKING:
    import requests

GIT_STATUSES = {200: Outcome.ALLOWED, 403: Outcome.MISSING_SCOPE, 401: Outcome.REJECTED,
                410: Outcome.RETIRED, 404: Outcome.NOT_FOUND}
REFUSED = (Outcome.REJECTED, Outcome.RETIRED, Outcome.NOT_FOUND)  # by git, for this repository
NOTHING_TO_CHECK = "no repository in the URL and no email given"
NOT_PROBED = "not checked: no repository to try (REST rejected the email and token)"
# What a probe answered with 200 proves the token has (docs/bitbucket-facts.md §3).
PROVES = {UPLOAD_PACK: sc.READ_REPOSITORY, RECEIVE_PACK: sc.WRITE_REPOSITORY}
# What the verdict table says of a push refused by the token's scope or by the account's
# permission on the repository (docs/bitbucket-facts.md §3).
PUSH_REASONS = {SCOPE: f"git probe: 403, lacks {sc.WRITE_REPOSITORY}",
                PERMISSION: "git probe: 403, your account may not write to this repository"}


@dataclasses.dataclass(frozen=True)
class Target:
    """Where to check: the git host, maybe a repository, the REST base, and git's CA file."""

    base_url: str  # https://bitbucket.org or https://127.0.0.1:PORT
    repo_path: str | None = None  # "ws/repo", "ws/repo.git" or None
    api_url: str = CLOUD_API_URL
    ca_file: str | None = None  # git's http.sslCAInfo / GIT_SSL_CAINFO, if set
    display_url: str | None = None  # the URL named in explanations; default base + repo
    workspace: str | None = None  # the URL's workspace, when it names one

    @classmethod
    def for_url(cls, url: str, api_url: str = CLOUD_API_URL,
                ca_file: str | None = None) -> Target:
        """`https://bitbucket.org/ws/repo.git` → base, `ws/repo`; a workspace URL → no repo."""
        parts = urllib.parse.urlsplit(url if "://" in url else f"https://{url}")
        base = f"{parts.scheme}://{parts.netloc}"
        segments = [s for s in parts.path.split("/") if s]
        repo = "/".join(segments[:2]) if len(segments) >= 2 else None
        shown = base + ("/" + "/".join(segments) if segments else "")
        return cls(base, repo, api_url, ca_file, shown, segments[0] if segments else None)

    @property
    def workspace_and_repo(self) -> tuple[str, str] | None:
        if not self.repo_path:
            return None
        segments = [s for s in self.repo_path.split("/") if s]
        if len(segments) < 2:
            return None
        repo = without_git_suffix(segments[1])
        return (segments[0], repo) if repo else None

    @property
    def url(self) -> str:
        if self.display_url:
            return self.display_url
        pair = self.workspace_and_repo
        return self.base_url.rstrip("/") + (f"/{pair[0]}/{pair[1]}" if pair else "")


# -- the git probe ----------------------------------------------------------------------------


def probe_git(target: Target, username: str, service: str, line: Channel) -> ProbeResult:
    """GET `{base}/{ws}/{repo}.git/info/refs?service=...`: what git itself would be told."""
    pair = target.workspace_and_repo
    if pair is None:
        return ProbeResult(service, Outcome.NOT_CHECKED, reason="no repository in the URL")
    ws, repo = (path_segment(p) for p in pair)
    return probe_info_refs(line, f"{target.base_url.rstrip('/')}/{ws}/{repo}", username, service,
                           f"git/2.0 (git-credential-bbtoken/{__version__})", GIT_STATUSES)


def proven_by_git(probes: Iterable[ProbeResult | None]) -> frozenset[str]:
    """The scopes that probes answered with 200 prove."""
    return frozenset(PROVES[p.service] for p in probes
                     if p is not None and p.outcome is Outcome.ALLOWED and p.service in PROVES)


# -- the validation ---------------------------------------------------------------------------


def _rest_allowed(v: Validation, rest: RestResult) -> None:
    v.scopes, v.identity, v.account = rest.scopes, rest.identity, rest.account
    v.proven_scopes = v.proven_scopes | rest.proven
    if rest.identity is not None:
        v.reasons["identity"] = ("REST /user: allowed (200)" if rest.identity
                                 else f"REST /user: 403, lacks {sc.READ_USER}")
    v.not_checked.extend(r for r in rest.not_checked if r not in v.not_checked)
    if v.can_clone is None and rest.repo_read is not None:
        v.can_clone = rest.repo_read
        v.reasons["clone"] = ("REST repository: allowed (200)" if rest.repo_read
                              else f"REST repository: 403, lacks {sc.READ_REPOSITORY}")


Answers = skeleton.Answers[RestResult]  # what the checks of one validation answered

FOLDS: skeleton.Folds[RestResult] = skeleton.Folds(
    clone={
        Outcome.ALLOWED: skeleton.CLONE_ALLOWED,
        Outcome.MISSING_SCOPE: skeleton.Effect(
            {"clone": f"git probe: 403, lacks {sc.READ_REPOSITORY}",
             "push": f"pushing needs {sc.READ_REPOSITORY} as well"},
            can_clone=False, can_push=False, username_ok=True),
        **{outcome: skeleton.CLONE_REFUSED for outcome in REFUSED},
    },
    push={
        Outcome.ALLOWED: skeleton.Effect({"push": "git probe: allowed (200)"}, can_push=True),
        # Whose refusal a 403 is (the token's scope or the account's permission) is decided
        # with everything known, in `_push_refusal`.
        Outcome.MISSING_SCOPE: skeleton.PUSH_REFUSED,
        **{outcome: skeleton.PUSH_REFUSED for outcome in REFUSED},
    },
    rest={
        Outcome.ALLOWED: _rest_allowed,
        Outcome.REJECTED: skeleton.Effect({"identity": "REST /user: rejected (401)"}),
    },
)


@dataclasses.dataclass
class _Cloud:
    """The Cloud checks of one validation (the skeleton's `Product`). REST is asked once:
    after the probes when the URL names a repository (what they proved is not asked again),
    first otherwise, to find a repository for them."""

    target: Target
    username: str  # for git
    email: str | None  # for REST
    line: Channel
    probes: dict[str, ProbeResult] = dataclasses.field(default_factory=dict, init=False)
    probed: str | None = dataclasses.field(default=None, init=False)  # "ws/repo" tried
    _rest: list[RestResult | None] = dataclasses.field(default_factory=list, init=False)

    def validation(self) -> Validation:
        return Validation(checked_at=now_iso())

    def probe(self, service: str) -> ProbeResult | None:
        target = self._probe_target()
        if target is None:
            return None
        self.probes[service] = probe_git(target, self.username, service, self.line)
        return self.probes[service]

    def _probe_target(self) -> Target | None:
        """The URL's repository, or else the first one REST listed (None: nothing to probe)."""
        if self.target.workspace_and_repo is not None:
            return self.target
        rest = self.rest()
        if rest is None or not rest.repositories:
            return None
        self.probed = rest.repositories[0]
        return dataclasses.replace(self.target, repo_path=self.probed)

    def rest(self) -> RestResult | None:
        if not self._rest:
            target = self.target
            self._rest.append(rest_check(target.api_url, self.email, self.line,
                                         target.workspace, target.workspace_and_repo,
                                         proven_by_git(self.probes.values()))
                              if self.email else None)
        return self._rest[0]

    def conclude(self, v: Validation, answers: Answers) -> None:
        clone, push = answers.clone, answers.push
        if clone is not None and clone.outcome in REFUSED and ex.looks_like_email(self.username):
            v.username_ok = False
        v.proven_scopes = v.proven_scopes | proven_by_git((clone, push))
        _fill_in_from_scopes(v, probed=clone is not None)
        if clone is None and answers.rest is not None \
                and answers.rest.outcome is Outcome.REJECTED:
            for key in ("clone", "push"):
                v.reasons.setdefault(key, NOT_PROBED)
        why = _push_refusal(v, push)
        if self.probed is not None:
            why = _name_the_probed(v, self.probed, why)
        url = self.target.url
        push_problem = _push_problem(url, self.target.workspace_and_repo, v, push, why)
        new_token_for_push = push_problem is not None and push_problem.id == texts.WRITE_MISSING
        also = sc.NEEDS[sc.Operation.PUSH] if new_token_for_push else ()
        chosen = (_clone_problem(self, v, answers), push_problem, _rest_problem(self, answers),
                  _scope_problem(url, v, also))
        v.problems.extend(problem for problem in chosen if problem is not None)

    def when_nothing_checked(self, v: Validation, answers: Answers) -> None:
        if answers.clone is None and answers.rest is None:
            v.not_checked.append(NOTHING_TO_CHECK)
            v.problems.append(texts.nothing_checked(self.target.url))


def validate(target: Target, git_username: str, token: str, email: str | None = None,
             deadline: float = 5.0, session: requests.Session | None = None) -> Validation:
    """Probe git (when a repository is known) and REST (when an email is given), within
    `deadline` seconds overall, and explain what will go wrong. Never raises for HTTP trouble."""
    with transport.channel(token, target.ca_file, deadline, session) as line:
        return skeleton.run(_Cloud(target, git_username, email, line), FOLDS, target.url)


def _fill_in_from_scopes(v: Validation, probed: bool) -> None:
    """What the scopes (all of them, or those proven) say where no probe answered."""
    if v.can_clone is None:
        v.can_clone = v.can(sc.Operation.CLONE)
    if v.can_push is None and (v.can_clone is not False or not probed):
        v.can_push = v.can(sc.Operation.PUSH)
    if v.identity is None:
        v.identity = v.can(sc.Operation.IDENTITY)


def _push_refusal(v: Validation, push: ProbeResult | None) -> str | None:
    """Whose a push 403 is, with the reason the verdict table shows: SCOPE when Bitbucket's
    body names missing scopes and the token is not known to have write; PERMISSION, the
    account's, otherwise (never blame a scope the token is known to have). None: no 403."""
    if push is None or push.outcome is not Outcome.MISSING_SCOPE:
        return None
    why = SCOPE if blames_the_token(refused_by(push), sc.Operation.PUSH, v.scopes) \
        else PERMISSION
    v.reasons["push"] = PUSH_REASONS[why]
    return why


def _name_the_probed(v: Validation, repo: str, why: str | None) -> str | None:
    """The probes tried `repo`, which the URL did not name: the reasons say so. Scopes are
    the token's, so they hold for the whole workspace; the account's permission is for that
    one repository: a push refused by it stays unknown (and explains nothing)."""
    for key in ("clone", "push"):
        reason = v.reasons.get(key, "")
        if reason.startswith("git probe"):
            v.reasons[key] = f"git probe of {repo}" + reason[len("git probe"):]
    if why != PERMISSION:
        return why
    v.can_push = None
    v.reasons["push"] = (f"git probe of {repo}: 403; your account may not write to that "
                         "repository")
    return None


# -- the explanations, most specific first, without repeating one cause twice -----------------


def _clone_problem(cloud: _Cloud, v: Validation,
                   answers: Answers) -> ex.Explanation | None:
    url, username, clone, granted = cloud.target.url, cloud.username, answers.clone, v.scopes
    if clone is None:
        if v.can_clone is False and (granted is None or sc.has_any_bitbucket_scope(granted)):
            # (no Bitbucket scope at all: _scope_problem)
            return texts.read_missing(url, granted, v.proven_scopes)
        return None
    rest = answers.rest
    if clone.outcome is Outcome.REJECTED and rest is not None and rest.outcome is Outcome.ALLOWED:
        # REST accepted the token, so git refused the username or this repository.
        if ex.looks_like_email(username):
            return texts.email_as_git_username(url, username)
        return texts.no_access(url, 401, username)
    if clone.outcome in (Outcome.REJECTED, Outcome.RETIRED):
        return texts.for_rejection(url, username, cloud.line.secret.reveal(), clone.status or 401)
    if clone.outcome is Outcome.NOT_FOUND:
        return texts.no_access(url, clone.status or 404)
    if clone.outcome is Outcome.MISSING_SCOPE:
        return texts.read_missing(url, granted, v.proven_scopes)
    return None


def _push_problem(url: str, pair: tuple[str, str] | None, v: Validation,
                  push: ProbeResult | None, why: str | None) -> ex.Explanation | None:
    """A push the probe saw refused (`why`: whose refusal), or that the scopes rule out."""
    if why == SCOPE:
        return texts.write_missing(url, v.scopes, proven=v.proven_scopes)
    if why == PERMISSION and push is not None:
        repo = "/".join(pair) if pair else url
        return access_texts.account_cannot_push(url, repo, push.status or 403)
    if v.can_push is False and v.can_clone is True and push is None:
        return texts.write_missing(url, v.scopes, proven=v.proven_scopes)
    return None


def _rest_problem(cloud: _Cloud, answers: Answers) -> ex.Explanation | None:
    if answers.rest is None or answers.rest.outcome is not Outcome.REJECTED:
        return None
    clone = answers.clone
    git_answer = clone.outcome if clone is not None else None
    git_accepted = git_answer in (Outcome.ALLOWED, Outcome.MISSING_SCOPE)
    if git_accepted or not ex.looks_like_email(cloud.email):
        return texts.rest_needs_email(cloud.target.url, cloud.email or "", git_accepted)
    if git_answer in (Outcome.REJECTED, Outcome.RETIRED):
        return None  # the git explanation already covers it
    # git did not tell whether the token works: the email or the token, not known which.
    return texts.email_or_token_rejected(cloud.target.url, cloud.email or "")


def _scope_problem(url: str, v: Validation, also: tuple[str, ...]) -> ex.Explanation | None:
    if v.scopes is not None and not sc.has_any_bitbucket_scope(v.scopes):
        return texts.no_bitbucket_scopes(url, v.scopes)
    if v.identity is False or (v.scopes is not None
                               and not sc.can(sc.Operation.WORKSPACES, v.scopes)):
        return texts.identity_missing(url, v.scopes, also)  # Sourcetree and IDE panels
    return None
