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
from git_credential_bbtoken.store import CredentialStore, Entry, now_iso


def login(options: argparse.Namespace, io: Io) -> int:
    from git_credential_bbtoken.commands import (
        CommandFailed,
        UsageError,
        parse_expiry,
        parse_scope_url,
        read_token,
    )

    protocol, host, path = parse_scope_url(options.url)
    config = host_config(protocol, host, path)
    request = Request(Credential(protocol=protocol, host=host, path=path or None), protocol,
                      host, config)
    url = request.url
    if not transport_allowed(request):
        raise UsageError(f"{url} is plain http: Bitbucket tokens are only sent over https")
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
        from git_credential_bbtoken import bitbucket

        target = bitbucket.Target.for_url(url, api_url=config.api_url
                                          or bitbucket.DEFAULT_API_URL,
                                          ca_file=ca_file_for(f"{protocol}://{host}"))
        validation = bitbucket.validate(target, username, token, email=options.email)
        print_verdicts(validation, io)
        errors = [p for p in validation.problems if p.severity == explain.ERROR]
        if validation.can_clone is False and not options.force:
            for problem in errors or validation.problems:
                io.say(problem.text())
            raise CommandFailed("nothing was stored (a token that cannot clone is refused; "
                                "--force stores it anyway)")
        for problem in validation.problems:
            io.say(problem.text())

    credentials = CredentialStore(io.say)
    entry = Entry(protocol=protocol, host=host, path=path, username=username,
                  backend=config.store, kind=config.kind, email=options.email, expiry=expiry,
                  stored_at=now_iso(),
                  validation=validation.to_dict() if validation is not None else None)
    credentials.put(entry, token)
    where = credentials.backend(entry.backend).describe()
    io.say(f"stored the token for {url} as {username} in {where}.")
    return 0


def print_verdicts(validation: object, io: Io) -> None:
    """The small table of what the token can do, on stdout."""
    from git_credential_bbtoken.bitbucket import Validation

    assert isinstance(validation, Validation)
    rows = validation.verdict_table()
    width = max(len(row.what) for row in rows)
    print("What this token can do:")
    for row in rows:
        print(f"  {row.what.ljust(width)}  {row.answer.ljust(7)}  {row.why}")
    if validation.scopes is not None:
        print("  scopes: " + (", ".join(sorted(validation.scopes)) or "none"))
