"""The one validation that Cloud and Data Center share; they differ only in data and hooks.

Probe clone (when the URL names a repository), probe push if clone was allowed, ask REST;
fold each answer into the `Validation` through the product's table (`Folds`: outcome ->
what it sets); let the product conclude (its explanations, most specific first); then say
what was rate limited or not checked, and what the product says when nothing was.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Generic, Mapping, Protocol, TypeVar

from git_credential_bbtoken import explain as ex
from git_credential_bbtoken.checks.answers import (
    RECEIVE_PACK,
    UPLOAD_PACK,
    Answer,
    Outcome,
    ProbeResult,
)
from git_credential_bbtoken.checks.validation import GIT_PROBE, REST, Validation

log = logging.getLogger(__name__)

A = TypeVar("A", bound=Answer)
R = TypeVar("R", bound=Answer)  # a product's REST answer

# How one answer with a given outcome changes the Validation.
Fold = Callable[[Validation, A], None]


@dataclasses.dataclass(frozen=True)
class Effect:
    """A fold that is only data: the flags one outcome decides (None: left as it is) and the
    reasons shown in the verdict table (`{status}` stands for the answer's status)."""

    reasons: Mapping[str, str]
    can_clone: bool | None = None
    can_push: bool | None = None
    username_ok: bool | None = None

    def __call__(self, v: Validation, answer: Answer) -> None:
        if self.can_clone is not None:
            v.can_clone = self.can_clone
        if self.can_push is not None:
            v.can_push = self.can_push
        if self.username_ok is not None:
            v.username_ok = self.username_ok
        for key, text in self.reasons.items():
            v.reasons[key] = text.format(status=answer.status)


# What both products conclude alike from the git probes.
CLONE_ALLOWED = Effect({"clone": "git probe: allowed (200)"}, can_clone=True, username_ok=True)
CLONE_REFUSED = Effect({"clone": "git probe: {status}", "push": "git probe: {status}"},
                       can_clone=False, can_push=False)
PUSH_REFUSED = Effect({"push": "git probe: {status}"}, can_push=False)


@dataclasses.dataclass(frozen=True)
class Folds(Generic[R]):
    """A product's tables: what each outcome of each check means. An outcome missing from a
    table is read as "not checked"."""

    clone: Mapping[Outcome, Fold[ProbeResult]]
    push: Mapping[Outcome, Fold[ProbeResult]]
    rest: Mapping[Outcome, Fold[R]]


@dataclasses.dataclass(frozen=True)
class Answers(Generic[R]):
    """What the checks of one validation answered (None: not asked)."""

    clone: ProbeResult | None
    push: ProbeResult | None
    rest: R | None


class Product(Protocol[R]):
    """One product's checks for one validation: the hooks the skeleton calls."""

    def validation(self) -> Validation:
        """The empty Validation, stamped with the time and the product."""

    def probe(self, service: str) -> ProbeResult | None:
        """The git probe for `service`, or None when the URL names no repository."""

    def rest(self) -> R | None:
        """The REST check, or None when there is nothing to ask it with."""

    def conclude(self, v: Validation, answers: Answers[R]) -> None:
        """What the product concludes from all the answers, and its explanations."""

    def when_nothing_checked(self, v: Validation, answers: Answers[R]) -> None:
        """What the product says when there was nothing to check."""


class _Notes:
    """What did not answer: the reasons (kept in `Validation.not_checked`), whether TLS was
    the cause, and whether Bitbucket was rate limiting (with its Retry-After)."""

    def __init__(self, v: Validation) -> None:
        self.v = v
        self.tls = False
        self.rate_limited = False
        self.retry_after: str | None = None

    def fold(self, answer: A | None, table: Mapping[Outcome, Fold[A]],
             source: str | None) -> None:
        if answer is None:
            return
        fold = table.get(answer.outcome)
        if fold is not None:
            if source is not None:
                self.v.sources.append(source)
            fold(self.v, answer)
        elif answer.outcome is Outcome.RATE_LIMITED:
            self.rate_limited, self.retry_after = True, answer.retry_after
            self._note(answer.reason)
        else:
            self._note(answer.reason, answer.tls)

    def _note(self, reason: str, tls: bool = False) -> None:
        if reason and reason not in self.v.not_checked:
            self.v.not_checked.append(reason)
        self.tls = self.tls or tls

    def explain(self, url: str) -> None:
        v = self.v
        if self.rate_limited:
            v.problems.append(ex.rate_limited(url, self.retry_after))
        elif v.not_checked:
            v.problems.append(ex.not_checked(url, v.not_checked, self.tls,
                                             partial=bool(v.sources)))


def run(product: Product[R], folds: Folds[R], url: str) -> Validation:
    """Ask, fold through the product's tables, conclude and explain (`url` is the one named
    in the explanations); never raises for HTTP trouble."""
    v = product.validation()
    clone = product.probe(UPLOAD_PACK)
    push = (product.probe(RECEIVE_PACK)
            if clone is not None and clone.outcome is Outcome.ALLOWED else None)
    answers = Answers(clone, push, product.rest())
    v.probes = tuple(probe for probe in (clone, push) if probe is not None)
    notes = _Notes(v)
    notes.fold(clone, folds.clone, GIT_PROBE)
    notes.fold(push, folds.push, None)
    notes.fold(answers.rest, folds.rest, REST)
    product.conclude(v, answers)
    notes.explain(url)
    product.when_nothing_checked(v, answers)
    log.debug("%s validation of %s: clone=%s push=%s identity=%s scopes=%s sources=%s "
              "authtype=%s problems=%s", v.kind, url, v.can_clone, v.can_push,
              v.identity, None if v.scopes is None else sorted(v.scopes), v.sources,
              v.authtype, v.problem_ids)
    return v
