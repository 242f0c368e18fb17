"""`doctor [URL]`: check everything between git and Bitbucket, one line per check, with fixes.

Checks: the git version; which credential helpers git really runs for the URL and whether one
before bbtoken answers first (the stale app password trap) — asked of git itself through a
traced `git credential fill`, not re-derived from config rules (commands/helperchain.py), and
whether one runs after bbtoken (it gets every token git stores); the secret store; what is
stored for the URL; and, live and bounded, whether Bitbucket accepts the token, with which
scopes, and for a repository URL whether clone and push would be allowed. Exit 0 when no check
is a problem. Works offline: then it says what it could not check.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import time

from git_credential_bbtoken import checks as checks_module
from git_credential_bbtoken import debug, explain, knowledge
from git_credential_bbtoken.checks.validation import (
    IDENTITY_ROW,
    REST,
    Validation,
    git_worked,
    scopes_known,
    scopes_text,
)
from git_credential_bbtoken.commands.helperchain import (
    HELPER_TRACE_TIMEOUT,
    helper_chain,
    helper_lines,
    helper_name,
    helpers_run,
    is_bbtoken,
    not_only_bbtoken,
    only_bbtoken,
)
from git_credential_bbtoken.commands.inputs import parse_scope_url
from git_credential_bbtoken.commands.repair import (
    Repair,
    move_into_keyring,
    remove_stale_password,
    run_repairs,
    secrets_in_remotes,
)
from git_credential_bbtoken.common import (
    DOCTOR_EXPIRY_WARNING_DAYS,
    bbtoken_command,
    days_left,
    utc_date_text,
)
from git_credential_bbtoken.console import Io
from git_credential_bbtoken.context import Request, environment_username, request_for_url
from git_credential_bbtoken.explain import cloud
from git_credential_bbtoken.gitconfig import HostConfig, git_version, run_git
from git_credential_bbtoken.matching import find_for_get, same_scope
from git_credential_bbtoken.scopes import sort_scopes
from git_credential_bbtoken.storage.secretstore import KeyringSecrets, SecretStoreError
from git_credential_bbtoken.storage.store import CredentialStore, Entry

# The only statuses a check has (contract, section 2): information is "ok".
OK, WARNING, PROBLEM = "ok", "warning", "problem"

log = debug.getLogger(__name__)


@dataclasses.dataclass
class Check:
    name: str
    status: str
    message: str
    fix: list[str] = dataclasses.field(default_factory=list)


def doctor(options: argparse.Namespace, io: Io) -> int:
    protocol, host, path = parse_scope_url(options.url)
    request = request_for_url(protocol, host, path)
    config = request.config
    url = request.url
    git = git_version()  # one `git --version` for every check that needs it
    checks: list[Check] = [check_git_version(git)]
    checks.extend(check_helpers(protocol, host, path))
    repairs: list[Repair] = []
    checks.extend(check_other_helpers(protocol, host, repairs))
    checks.extend(check_remotes(repairs))
    credentials = CredentialStore(io.say)
    checks.append(check_secret_store(credentials, config))
    stored, token = find_stored(credentials, protocol, host, path, config)
    checks.extend(check_stored(stored, token, url))
    checks.extend(check_bearer_git(stored, url, git))
    if token is not None and config.is_bitbucket:
        checks.extend(check_live(request, stored, token, credentials))
    elif config.kind == "generic":
        checks.append(Check("bitbucket", OK, f"{host} is not configured as a Bitbucket host "
                            "(bbtoken.<url>.kind); tokens are stored but not checked"))
    checks.append(Check("ide", OK, "JetBrains IDEs use these credentials only with "
                        "Settings > Version Control > Git > 'Use credential helper' ticked"))
    problems = [c for c in checks if c.status == PROBLEM]
    if options.json:
        io.out(json.dumps({"url": url, "ok": not problems,
                           "checks": [dataclasses.asdict(c) for c in checks]}, indent=2))
    else:
        io.out(f"Checking {url}")
        for check in checks:
            io.out(f"  {check.status.ljust(7)}  {check.name.ljust(13)}  {check.message}")
            for line in check.fix:
                io.out(f"  {'':7}  {'':13}  {line}")
        io.out("No problems found." if not problems else
               f"{len(problems)} problem{'s' if len(problems) > 1 else ''} found.")
    if getattr(options, "fix", False) and repairs:
        run_repairs(repairs, io)
    return 1 if problems else 0


def check_git_version(found: tuple[str, tuple[int, int] | None] | None) -> Check:
    if found is None:
        return Check("git", PROBLEM, "git was not found on PATH", ["install git"])
    out, number = found
    version = number or (0, 0)
    if version < (2, 41):
        return Check("git", WARNING, f"{out}: too old to pass token expiry dates "
                     "(password_expiry_utc needs git 2.41)", ["upgrade git"])
    return Check("git", OK, out)


def check_bearer_git(entry: Entry | None, url: str,
                     found: tuple[str, tuple[int, int] | None] | None) -> list[Check]:
    """A Bearer token (Data Center, used without a username) goes only through git 2.46 or
    newer (`authtype`); with an older git every clone stops, whatever the server allows."""
    from git_credential_bbtoken.explain import datacenter

    if entry is None or not entry.authtype:
        return []
    if found is None or found[1] is None or found[1] >= datacenter.BEARER_MIN_GIT:
        return []
    said = datacenter.bearer_needs_newer_git(url, ".".join(map(str, found[1])))
    return [Check("git", PROBLEM, said.summary, [*said.details, *said.fix])]


def other_helpers() -> list[str]:
    """The helpers configured for every URL (`credential.helper`, all scopes), other than
    bbtoken: where passwords from before API tokens are kept (store, osxkeychain, manager)."""
    result = run_git(["config", "--get-all", "credential.helper"])
    names = []
    for value in result.stdout.splitlines():
        value = value.strip()
        if value and not is_bbtoken(value) and value not in names:
            names.append(value)
    return names


def check_other_helpers(protocol: str, host: str, repairs: list[Repair]) -> list[Check]:
    """Migration from app passwords: ask each other helper, alone, whether it still holds a
    password for this host. Even when bbtoken answers first, a stale entry there resurfaces
    as soon as setup is undone or an IDE runs git with another configuration. Each one found
    is also a repair (`--fix`)."""
    checks = []
    record = f"protocol={protocol}\nhost={host}\n\n"
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="")
    for helper in other_helpers():
        try:
            result = subprocess.run(
                ["git", "-c", "credential.helper=", "-c", f"credential.helper={helper}",
                 "-c", "credential.interactive=false", "credential", "fill"], input=record,
                env=env, capture_output=True, text=True, timeout=HELPER_TRACE_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            continue
        fields = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        if result.returncode != 0 or "password" not in fields:
            continue
        kind = ("an app password" if explain.looks_like_app_password(fields["password"])
                else "a password")
        name = helper_name(helper)
        checks.append(Check(
            "old helper", WARNING,
            f"credential helper {name} still holds {kind} for {host} "
            f"(user {fields.get('username', '?')}); app passwords no longer work",
            [*_reject_fix(helper, protocol, host),
             "or run: git credential-bbtoken doctor --fix  (asks before removing it)"]))
        repairs.append(remove_stale_password(helper, name, fields))
    return checks


def check_remotes(repairs: list[Repair]) -> list[Check]:
    """In a repository: remotes whose URL holds a token (plain text in .git/config and in
    `git remote -v`, and git never asks a helper for them). Each is a repair (`--fix`)."""
    checks = []
    for found in secrets_in_remotes():
        checks.append(Check("remote", PROBLEM, f"remote {found.remote}'s URL holds a token in "
                            f"plain text ({found.shown}): it is in .git/config and git never "
                            "asks a credential helper for it",
                            ["run: git credential-bbtoken doctor --fix  (moves it into the "
                             "keyring and out of the URL)"]))
        repairs.append(move_into_keyring(found))
    return checks


def check_helpers(protocol: str, host: str, path: str) -> list[Check]:
    url = f"{protocol}://{host}"
    helpers, answered = helper_chain(protocol, host, path)
    names = [helper_name(h) for h in helpers]
    setup_fix = f"run: {bbtoken_command('setup', url)}  (git then uses only bbtoken there)"
    if not helpers:
        return [Check("helpers", PROBLEM, f"git runs no credential helper for {url}",
                      [setup_fix])]
    first_ours = next((i for i, h in enumerate(helpers) if is_bbtoken(h)), None)
    if first_ours is None:
        if answered:
            # git stopped at this helper's answer: bbtoken, if configured, is never asked.
            return [Check("helpers", PROBLEM,
                          f"git asks {', '.join(names)} for {url} and {names[-1]} answers "
                          "with a stored password (often a retired app password), so bbtoken "
                          "is never asked", [setup_fix, *_reject_fix(helpers[-1], protocol,
                                                                     host)])]
        return [Check("helpers", PROBLEM, f"git runs {', '.join(names)} for {url}, not bbtoken",
                      [setup_fix])]
    before = names[:first_ours]
    launcher = check_launcher(helpers[first_ours])
    if before:
        return [Check("helpers", WARNING, f"git runs {', '.join(before)} before bbtoken for "
                      f"{url}; a password stored there would shadow the token", [setup_fix]),
                *launcher]
    if answered:  # bbtoken answered, so git did not get to the helpers after it
        names = helpers_run(protocol, host, path) or names
    after = None if only_bbtoken(names) else not_only_bbtoken(names, url, helper_lines(host))
    if after is not None:
        return [Check("helpers", WARNING, after[0], after[1]), *launcher]
    return [Check("helpers", OK, f"git runs {', '.join(names)} for {url}"), *launcher]


# The first lines of the console script that pips older than 25 wrote: its `import re` costs
# every `get` (so every fetch) about 10 ms, a third of the helper's whole run.
_SLOW_LAUNCHER = b"\nimport re\n"


_SH_EXEC = "'''exec' "  # how pip's /bin/sh launcher starts its exec line


def _launcher_interpreter(head: str) -> str:
    """The Python a console script runs. pip writes `#!/path/python`; when that path is too
    long for a #! line or holds a space, `#!/bin/sh` and then an exec line naming it."""
    first, _, rest = head.partition("\n")
    for line in rest.splitlines():
        if line.startswith(_SH_EXEC):
            try:
                return shlex.split(line[len(_SH_EXEC):])[0]
            except (ValueError, IndexError):
                break
    return first[2:].strip()


def check_launcher(command: str) -> list[Check]:
    """Say so when the script git runs as bbtoken was written by an old pip."""
    try:
        words = [w for w in shlex.split(command) if "credential-bbtoken" in w]
    except ValueError:  # unbalanced quotes: git could not run it either
        return []
    if not words:
        return []  # `python -m git_credential_bbtoken` or a shell alias: nothing to look at
    path = words[-1] if os.path.isabs(words[-1]) else shutil.which("git-credential-bbtoken")
    try:
        with open(path or "", "rb") as handle:
            head = handle.read(1024)
    except OSError:
        return []
    if not head.startswith(b"#!") or _SLOW_LAUNCHER not in head:
        return []
    python = _launcher_interpreter(head.decode("utf-8", "replace"))
    if "pipx" in python:
        fix = "pipx upgrade-shared && pipx reinstall git-credential-bbtoken"
    else:
        fix = (f"{python} -m pip install --upgrade pip, then reinstall git-credential-bbtoken "
               "with it (install/install.sh does both)")
    return [Check("launcher", OK, f"{path} was written by a pip older than 25 and imports "
                  "`re`: each fetch pays about 10 ms more than it needs", [fix])]


def _reject_fix(command: str, protocol: str, host: str) -> list[str]:
    name = helper_name(command) if "credential-" in command else command
    return [f"remove the old entry: printf 'protocol={protocol}\\nhost={host}\\n' | "
            f"git -c credential.helper= -c credential.helper={name} credential reject"]


def check_secret_store(credentials: CredentialStore, config: HostConfig) -> Check:
    if os.environ.get("BBTOKEN_TOKEN"):
        return Check("secret store", OK, "BBTOKEN_TOKEN is set: served from the environment")
    backend = credentials.backend(config.store)
    why_not = backend.unavailable_reason() if isinstance(backend, KeyringSecrets) else None
    if why_not is not None:
        why_not = why_not.replace("; nothing was stored", "")
        return Check("secret store", PROBLEM, f"{backend.describe()}: {why_not}",
                     ["unlock or install a Secret Service (gnome-keyring, KWallet), or run: "
                      "git config --global bbtoken.store file"])
    try:
        backend.get("git-credential-bbtoken:doctor", "probe")
    except SecretStoreError as exc:
        return Check("secret store", PROBLEM, str(exc))
    if config.store == "file":
        return Check("secret store", WARNING, f"{backend.describe()}: tokens in plaintext "
                     "(bbtoken.store file)")
    return Check("secret store", OK, backend.describe())


def find_stored(credentials: CredentialStore, protocol: str, host: str, path: str,
                config: HostConfig) -> tuple[Entry | None, str | None]:
    if os.environ.get("BBTOKEN_TOKEN") and config.is_bitbucket:
        username = environment_username(config.kind)  # as `get` serves it
        from_env = Entry(protocol=protocol, host=host, path="", kind=config.kind,
                         username=username or "",
                         authtype=None if username is not None else "Bearer")
        return from_env, os.environ["BBTOKEN_TOKEN"]
    try:
        entry = find_for_get(credentials.entries(), protocol, host, path or None, None,
                             config.kind)
        if entry is None:
            return None, None
        return entry, credentials.secret(entry)
    except (SecretStoreError, OSError):
        return None, None


def check_stored(entry: Entry | None, token: str | None, url: str) -> list[Check]:
    if entry is None:
        return [Check("stored", PROBLEM, f"no token is stored for {url}",
                      [f"run: {explain.login_command(url)}"])]
    if token is None:
        return [Check("stored", PROBLEM, f"the token for {entry.url} is missing from the "
                      "secret store", [f"run: {explain.login_command(url)}"])]
    checks = [Check("stored", OK, f"{entry.url} ({entry.who})"
                    + (f" (email {entry.email})" if entry.email else ""))]
    if entry.expiry is not None:
        now = time.time()
        days = days_left(entry.expiry, now)
        date = utc_date_text(entry.expiry)
        rotate = f"create a new token, then run: {bbtoken_command('rotate', url)}"
        if entry.expiry <= now:
            checks.append(Check("expiry", PROBLEM, f"the token expired on {date}", [rotate]))
        elif days <= DOCTOR_EXPIRY_WARNING_DAYS:
            when = "today" if days <= 0 else ("tomorrow" if days == 1 else f"in {days} days")
            checks.append(Check("expiry", WARNING, f"the token expires on {date} ({when})",
                                [rotate]))
        else:
            checks.append(Check("expiry", OK, f"expires on {date} (in {days} days)"))
    return checks


def check_live(request: Request, entry: Entry | None, token: str,
               credentials: CredentialStore) -> list[Check]:
    assert entry is not None
    rejected = knowledge.rejected(entry)
    if rejected is not None:
        return [_rejected_before(request, rejected)]
    validation = checks_module.validate(request, None if entry.authtype else entry.username,
                                        token, entry.email)
    remember(credentials, entry, request, validation)
    checks = []
    rows = {row.what: row for row in validation.verdict_table()}
    scopes, partial = validation.known_scopes()
    if scopes is not None:
        checks.append(Check("scopes", OK if scopes else PROBLEM, scopes_text(scopes, partial)))
    for what in ("clone", "push"):
        row = rows[what]
        status = {"yes": OK, "no": PROBLEM, "unknown": WARNING}[row.answer]
        checks.append(Check(what, status, f"{row.answer}: {row.why}"))
    # Sourcetree and IDE panels: shown once known; a "no" names every scope they need.
    for name, what in (("identity", IDENTITY_ROW), ("workspaces", "workspaces")):
        panel = rows.get(what)
        if panel is not None and panel.answer != "unknown":
            checks.append(Check(name, OK if panel.answer == "yes" else WARNING,
                                f"{panel.answer}: {panel.why}"))
    # An explanation is as serious as the row it explains: a note (not checked, a scope
    # Sourcetree needs) goes with a row that is a warning (unknown, or a panel's "no").
    for problem in validation.problems:
        if problem.id == cloud.EMAIL_OR_TOKEN_REJECTED:
            checks.append(_token_not_confirmed(problem, entry, request.url))
            continue
        problem = _what_fits(problem, entry, request.url)
        status = PROBLEM if problem.severity == explain.ERROR else WARNING
        checks.append(Check("explanation", status, problem.summary,
                            list(problem.details) + list(problem.fix)))
    return checks


def _what_fits(problem: explain.Explanation, entry: Entry, url: str) -> explain.Explanation:
    """git rejected a token that had worked, or whose scopes are known: only the causes that
    still fit, never a scope it is known to have (contract §4)."""
    if problem.id != cloud.TOKEN_REJECTED:
        return problem
    known = scopes_known(entry.validation, entry.repositories)
    if known is None:
        return problem
    return cloud.for_rejection(url, entry.username or None, None, known=known,
                               git_worked=git_worked(entry.validation, entry.repositories))


def _token_not_confirmed(problem: explain.Explanation, entry: Entry, url: str) -> Check:
    """REST refused `email:token` and git could not be asked (no repository to try): a wrong
    email and a dead token look the same (docs/bitbucket-facts.md §1, §3). Either way it is a
    problem: nothing accepted the token, so doctor does not call it fine. When the check kept
    with the token shows REST accepted this email before, the token is the cause."""
    before = Validation.from_dict(entry.validation)
    if entry.email and before.rest_accepted():
        known = scopes_known(entry.validation, entry.repositories)
        said = cloud.token_no_longer_accepted(url, entry.email, before.checked_at[:10], known,
                                              entry.url)
        return Check("token", PROBLEM, said.summary, [*said.details, *said.fix])
    return Check("token", PROBLEM, "could not be confirmed: " + problem.summary[:1].lower()
                 + problem.summary[1:], [*problem.details, *problem.fix])


def _rejected_before(request: Request, rejected: dict[str, object]) -> Check:
    """The credential itself was refused before (Data Center: repeated failures lock the
    account behind a CAPTCHA): it is not sent again, not even to check it; what was kept is
    the answer, with the fix (a new token, or the same one logged in again once the account
    is unlocked)."""
    from git_credential_bbtoken.common import without_git_suffix
    from git_credential_bbtoken.explain import access

    status = rejected.get("status")
    said = access.credential_rejected(without_git_suffix(request.url),
                                      status if isinstance(status, int) else 401, None)
    url = without_git_suffix(request.url)
    return Check("token", PROBLEM, said.summary + " Not sent again to check it.",
                 [*said.details, *said.fix, "once the account is unlocked, the same token can "
                  f"be stored again with: {explain.login_command(url)}"])


def remember(credentials: CredentialStore, entry: Entry, request: Request,
             validation: Validation) -> None:
    """What this fresh check learnt goes where `get` relies on it: each verdict of its git
    probes of the URL's repository (`knowledge.checked`, which keeps a lasting refusal unless
    this check allowed the operation), and the login's check when it was for the same scope
    (merged: what this check could not learn, the scopes or the email's identity, stays as
    the login learnt it). Not for BBTOKEN_TOKEN (nothing is stored)."""
    from git_credential_bbtoken import access

    if os.environ.get("BBTOKEN_TOKEN") or (validation.can_clone is None
                                           and validation.can_push is None):
        return
    key = knowledge.repository_key(entry.kind, request.record.path)
    merged = merged_validation(entry.validation, validation)
    checked_entry = copy.copy(entry)
    checked_entry.validation = merged
    learnt = knowledge.checked(key, [(need, v.allowed, v.why, v.status) for need, v in
                                     access.verdicts(validation, checked_entry, key)],
                               time.time())
    # Only a check that reached the token replaces the login's: one Bitbucket rejected (401)
    # learnt nothing of its scopes, and the explanation after git's erase needs what was
    # known of them (never blame a scope the token is known to have).
    accepted = True in (validation.can_clone, validation.can_push, validation.identity)
    for_this_scope = accepted and same_scope(entry.path, request.record.path or "",
                                             entry.kind)

    def change(stored: Entry) -> None:
        learnt(stored)
        if for_this_scope:
            stored.validation = merged

    try:
        credentials.update(entry, change)
    except Exception as exc:  # the check itself is done and shown; keeping it is a bonus
        log.debug("could not keep what doctor learnt: %s", type(exc).__name__)


# What a check learns of the token itself through REST; a check that got no REST answer
# (429, 5xx, 410) has none of it, and then the previous check's stands.
_REST_FACTS = ("identity", "account", "username_ok")


def merged_validation(before: dict[str, object] | None,
                      validation: Validation) -> dict[str, object]:
    """A fresh check's validation, with what it did not learn taken from the one before:
    the scopes (listed, or proven), and the email's identity facts."""
    result = validation.to_dict()
    if not isinstance(before, dict):
        return result
    old = Validation.from_dict(before)
    if validation.scopes is None and old.scopes is not None:
        result["scopes"] = before.get("scopes")
    if validation.scopes is None:
        result["proven_scopes"] = sort_scopes(validation.proven_scopes | old.proven_scopes)
    if validation.identity is None and old.identity is not None:
        for field in _REST_FACTS:
            result[field] = before.get(field)
        sources = result.get("sources")
        if isinstance(sources, list) and old.rest_accepted() and REST not in sources:
            result["sources"] = [*sources, REST]
    return result
