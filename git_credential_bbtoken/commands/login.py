"""`login`: take a token from the person, check what it can do, and store it.

It refuses (exit 1, nothing stored) a token that certainly cannot clone, unless --force. When
nothing can be checked (no repository in the URL and no --email, or Bitbucket unreachable) it
stores the token, says what was not checked and how to check it, and exits 0.
"""

from __future__ import annotations

import argparse
import time

from git_credential_bbtoken import explain
from git_credential_bbtoken.gitconfig import ca_file_for, host_config
from git_credential_bbtoken.helper import TOKEN_USERNAME, Io, Request, transport_allowed
from git_credential_bbtoken.protocol import Credential
from git_credential_bbtoken.storage.store import CredentialStore, Entry, now_iso

TYPE_CHECKING = False
if TYPE_CHECKING:
    from git_credential_bbtoken.checks.cloud import Validation


def login(options: argparse.Namespace, io: Io) -> int:
    from git_credential_bbtoken.commands import (
        CommandFailed,
        UsageError,
        parse_expiry,
        parse_scope_url,
        read_token,
    )

    protocol, host, path = parse_scope_url(options.url)
    kind = getattr(options, "kind", None)
    if kind:
        set_kind(protocol, host, kind, io)
    config = host_config(protocol, host, path)
    bearer = bool(getattr(options, "bearer", False))
    if bearer and config.kind != "datacenter":
        raise UsageError("--bearer is for Bitbucket Data Center project and repository "
                         "tokens: add --kind datacenter")
    request = Request(Credential(protocol=protocol, host=host, path=path or None), protocol,
                      host, config)
    url = request.url
    if not transport_allowed(request):
        raise UsageError(f"{url} is plain http: Bitbucket tokens are only sent over https")
    if config.kind == "datacenter":
        return _login_datacenter(options, io, request, bearer)
    username = options.username or TOKEN_USERNAME
    expiry = parse_expiry(options.expires)
    if expiry is not None and expiry < time.time():
        raise UsageError(f"--expires {options.expires} is in the past: that token no longer "
                         "works; create a new one")
    if config.is_bitbucket and explain.looks_like_email(username) and not options.force:
        io.say(explain.email_as_git_username(url, username).text())
        raise CommandFailed("nothing was stored (use --email for the email, and --username "
                            "for your Bitbucket username)")
    token = read_token(options.token_stdin, f"Bitbucket API token for {url}: ")

    validation = None
    if config.kind == "cloud":
        from git_credential_bbtoken.checks import cloud as bitbucket

        target = bitbucket.Target.for_url(url, api_url=config.api_url
                                          or bitbucket.DEFAULT_API_URL,
                                          ca_file=ca_file_for(f"{protocol}://{host}"))
        validation = bitbucket.validate(target, username, token, email=options.email)
        report_or_refuse(validation, options.force, io)

    credentials = CredentialStore(io.say)
    entry = Entry(protocol=protocol, host=host, path=path, username=username,
                  backend=config.store, kind=config.kind, email=options.email, expiry=expiry,
                  stored_at=now_iso(),
                  validation=validation.to_dict() if validation is not None else None)
    credentials.put(entry, token)
    where = credentials.backend(entry.backend).describe()
    io.say(f"stored the token for {url} as {username} in {where}.")
    return 0


def report_or_refuse(validation: Validation, force: bool, io: Io) -> None:
    """Show what the check found; refuse (CommandFailed, nothing stored) a token that
    certainly cannot clone, unless --force."""
    from git_credential_bbtoken.commands import CommandFailed

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
    print("What this token can do:")
    for row in rows:
        print(f"  {row.what.ljust(width)}  {row.answer.ljust(7)}  {row.why}")
    if validation.scopes is not None:
        print("  scopes: " + (", ".join(sorted(validation.scopes)) or "none"))


def set_kind(protocol: str, host: str, kind: str, io: Io) -> None:
    """`login --kind K URL`: `bbtoken.<protocol>://<host>.kind K` in the global git config."""
    from git_credential_bbtoken.commands import CommandFailed
    from git_credential_bbtoken.gitconfig import read_urlmatch, run_git

    base = f"{protocol}://{host}"
    if read_urlmatch("bbtoken", base).get("kind", "").strip().lower() == kind:
        return
    result = run_git(["config", "--global", f"bbtoken.{base}.kind", kind])
    if result.returncode != 0:
        raise CommandFailed(f"could not write bbtoken.{base}.kind to the global git config: "
                            + (result.stderr.strip().splitlines() or ["git config failed"])[0])
    io.say(f"{base} is Bitbucket {'Data Center' if kind == 'datacenter' else kind} now "
           f"(git config --global bbtoken.{base}.kind {kind}).")


def _login_datacenter(options: argparse.Namespace, io: Io, request: Request,
                      bearer: bool) -> int:
    """Bitbucket Data Center / Server HTTP access tokens: a personal token goes with its
    owner's username (--username); a project or repository token is Bearer-only (--bearer)."""
    from git_credential_bbtoken.checks import datacenter
    from git_credential_bbtoken.commands import (
        UsageError,
        parse_expiry,
        read_token,
    )

    url = request.url
    if bearer and options.username:
        raise UsageError("--bearer is for project and repository tokens, which are used "
                         "without a username: drop --username (or --bearer, for a personal "
                         "token)")
    if not bearer and not options.username:
        raise UsageError("Bitbucket Data Center: for a personal HTTP access token give your "
                         "username (--username NAME); for a project or repository token, "
                         "which has none, use --bearer")
    if options.email:
        io.say("--email is only used on Bitbucket Cloud; ignored.")
    expiry = parse_expiry(options.expires)
    if expiry is not None and expiry < time.time():
        raise UsageError(f"--expires {options.expires} is in the past: that token no longer "
                         "works; create a new one")
    username = None if bearer else options.username
    token = read_token(options.token_stdin, f"HTTP access token for {url}: ")
    target = datacenter.DcTarget.for_url(url, api_url=request.config.api_url,
                                         ca_file=ca_file_for(f"{request.protocol}://"
                                                             f"{request.host}"))
    validation = datacenter.validate(target, username, token)
    report_or_refuse(validation, options.force, io)
    if bearer:
        validation.authtype = datacenter.BEARER
    credentials = CredentialStore(io.say)
    entry = Entry(protocol=request.protocol, host=request.host,
                  path=(request.record.path or ""), username=username or "",
                  backend=request.config.store, kind="datacenter", expiry=expiry,
                  stored_at=now_iso(), authtype=datacenter.BEARER if bearer else None,
                  validation=validation.to_dict())
    credentials.put(entry, token)
    where = credentials.backend(entry.backend).describe()
    io.say(f"stored the {'Bearer ' if bearer else ''}token for {url}"
           + (f" as {username}" if username else " (project or repository token)")
           + f" in {where}.")
    return 0
