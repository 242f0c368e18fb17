"""`login`: take a token from the person, check what it can do, and store it.

It refuses (exit 1, nothing stored) a token that certainly cannot clone, unless --force. When
nothing can be checked (no repository in the URL and no --email, or Bitbucket unreachable) it
stores the token, says what was not checked and how to check it, and exits 0.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from git_credential_bbtoken import checks, explain
from git_credential_bbtoken.checks.validation import scopes_text
from git_credential_bbtoken.commands.inputs import parse_expiry, parse_scope_url, read_token
from git_credential_bbtoken.common import TOKEN_USERNAME, now_iso
from git_credential_bbtoken.console import Io
from git_credential_bbtoken.context import Request, request_for_url, transport_allowed
from git_credential_bbtoken.errors import CommandFailed, UsageError
from git_credential_bbtoken.explain import cloud
from git_credential_bbtoken.gitconfig import git_version, read_urlmatch, run_git
from git_credential_bbtoken.matching import same_scope
from git_credential_bbtoken.storage.store import CredentialStore, Entry

if TYPE_CHECKING:
    from git_credential_bbtoken.checks.validation import Validation

BEARER = "Bearer"


def login(options: argparse.Namespace, io: Io) -> int:
    protocol, host, path = parse_scope_url(options.url)
    if options.kind:
        set_kind(protocol, host, options.kind, io)
    request = request_for_url(protocol, host, path)
    config = request.config
    if options.bearer and config.kind != "datacenter":
        raise UsageError("--bearer is for Bitbucket Data Center HTTP access tokens: add "
                         "--kind datacenter")
    if not transport_allowed(request):
        raise UsageError(f"{request.url} is plain http: Bitbucket tokens are only sent over "
                         "https")
    _refuse_without_a_store(config.store, io)
    if config.kind == "datacenter":
        return _login_datacenter(options, io, request)
    url = request.url
    username = options.username or TOKEN_USERNAME
    expiry = _future_expiry(options.expires)
    if config.is_bitbucket and explain.looks_like_email(username) and not options.force:
        io.say(cloud.email_as_git_username(url, username).text())
        raise CommandFailed("nothing was stored (use --email for the email, and --username "
                            "for your Bitbucket username)")
    token = read_token(io, options.token_stdin, f"Bitbucket API token for {url}: ")

    validation = None
    if config.kind == "cloud":
        validation = checks.validate(request, username, token, options.email)
        report_or_refuse(validation, options.force, io)

    entry = Entry(protocol=protocol, host=host, path=request.record.path or "", username=username,
                  backend=config.store, kind=config.kind, email=options.email, expiry=expiry,
                  stored_at=now_iso(),
                  validation=validation.to_dict() if validation is not None else None)
    where = _store(entry, token, io)
    io.say(f"stored the token for {url} as {username} in {where}.")
    return 0


def _refuse_without_a_store(backend: str, io: Io) -> None:
    """No keyring to keep the token: one line saying how to get one (contract §6), before a
    token is asked for or sent anywhere."""
    from git_credential_bbtoken.storage.secretstore import KeyringSecrets

    secrets = CredentialStore(io.say).backend(backend)
    reason = secrets.unavailable_reason() if isinstance(secrets, KeyringSecrets) else None
    if reason is not None:
        raise CommandFailed(reason)


def _future_expiry(text: str | None) -> int | None:
    expiry = parse_expiry(text)
    if expiry is not None and expiry < time.time():
        raise UsageError(f"--expires {text} is in the past: that token no longer works; "
                         "create a new one")
    return expiry


def _store(entry: Entry, token: str, io: Io) -> str:
    """Store the entry with its token, replacing the same login kept by an older version
    under the `ws/repo.git` spelling of its scope; where it went, in words."""
    credentials = CredentialStore(io.say)
    credentials.put(entry, token)
    credentials.remove(lambda entries: [
        e for e in entries if e.key != entry.key and e.protocol == entry.protocol
        and e.host == entry.host and e.username == entry.username
        and same_scope(e.path, entry.path, entry.kind)])
    return credentials.backend(entry.backend).describe()


def report_or_refuse(validation: Validation, force: bool, io: Io) -> None:
    """Show what the check found; refuse (CommandFailed, nothing stored) a token that
    certainly cannot clone, unless --force."""
    print_verdicts(validation, io)
    if validation.can_clone is False and not force:
        errors = [p for p in validation.problems if p.severity == explain.ERROR]
        for problem in errors or validation.problems:
            io.say(problem.text())
        raise CommandFailed("nothing was stored (a token that cannot clone is refused; "
                            "--force stores it anyway)")
    for problem in validation.problems:
        io.say(problem.text())


def print_verdicts(validation: Validation, io: Io) -> None:
    """The small table of what the token can do, on stdout."""
    rows = validation.verdict_table()
    width = max(len(row.what) for row in rows)
    io.out("What this token can do:")
    for row in rows:
        io.out(f"  {row.what.ljust(width)}  {row.answer.ljust(7)}  {row.why}")
    scopes, partial = validation.known_scopes()
    if scopes is not None:
        io.out("  scopes: " + scopes_text(scopes, partial))


def set_kind(protocol: str, host: str, kind: str, io: Io) -> None:
    """`login --kind K URL`: `bbtoken.<protocol>://<host>.kind K` in the global git config."""
    base = f"{protocol}://{host}"
    if read_urlmatch("bbtoken", base).get("kind", "").strip().lower() == kind:
        return
    result = run_git(["config", "--global", f"bbtoken.{base}.kind", kind])
    if result.returncode != 0:
        raise CommandFailed(f"could not write bbtoken.{base}.kind to the global git config: "
                            + (result.stderr.strip().splitlines() or ["git config failed"])[0])
    io.say(f"{base} is Bitbucket {'Data Center' if kind == 'datacenter' else kind} now "
           f"(git config --global bbtoken.{base}.kind {kind}).")


def _login_datacenter(options: argparse.Namespace, io: Io, request: Request) -> int:
    """Bitbucket Data Center / Server HTTP access tokens: a personal token goes with its
    owner's username (--username: Basic); without one the token is a Bearer token, as project
    and repository tokens must be and personal ones may be (facts §5). Checked in that one
    form only: a token the server rejects is never sent again."""
    url = request.url
    if options.bearer and options.username:
        raise UsageError("--bearer is for tokens used without a username: drop --username "
                         "(or --bearer, for a personal token with its owner's username)")
    bearer = not options.username
    if options.email:
        io.say("--email is only used on Bitbucket Cloud; ignored.")
    expiry = _future_expiry(options.expires)
    username = None if bearer else options.username
    token = read_token(io, options.token_stdin, f"HTTP access token for {url}: ")
    validation = checks.validate(request, username, token)
    report_or_refuse(validation, options.force, io)
    if bearer:
        validation.authtype = BEARER
        _say_if_git_cannot_send_bearer(url, io)
    entry = Entry(protocol=request.protocol, host=request.host,
                  path=(request.record.path or ""), username=username or "",
                  backend=request.config.store, kind="datacenter", expiry=expiry,
                  stored_at=now_iso(), authtype=BEARER if bearer else None,
                  validation=validation.to_dict())
    where = _store(entry, token, io)
    io.say(f"stored the {'Bearer ' if bearer else ''}token for {url}"
           + (f" as {username}" if username else " (used without a username)")
           + f" in {where}.")
    return 0


def _say_if_git_cannot_send_bearer(url: str, io: Io) -> None:
    """git sends a Bearer token only from 2.46 on: with an older git, say so at login rather
    than at the first clone."""
    from git_credential_bbtoken.explain import datacenter

    found = git_version()
    version = found[1] if found is not None else None
    if version is None or version >= datacenter.BEARER_MIN_GIT:
        return
    io.say(f"git {'.'.join(map(str, version))} cannot send a Bearer token (git 2.46 or newer "
           "can): upgrade git, or, for a personal token, log in with its owner's username: "
           + datacenter.dc_login_command(url, "NAME"))

