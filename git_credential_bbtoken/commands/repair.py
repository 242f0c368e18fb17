"""`doctor --fix`: the repairs doctor can make, each after one confirmation at the terminal.

- A password another credential helper still holds for a Bitbucket host (usually a retired app
  password that shadows or outlives the token) is removed with `git credential reject`, run
  with that helper alone.
- A token written into a remote's URL (`https://user:TOKEN@bitbucket.org/ws/repo.git`, which
  leaves it in plain text in .git/config and makes git never ask a helper) is checked and
  stored as `login` would, the URL is set back without it, and a fetch is tried.

Without a terminal nothing is changed: doctor only lists what it would do. Secrets are only
ever passed to git on stdin, never on a command line, and never printed.
"""

from __future__ import annotations

import os
import subprocess
import urllib.parse
from typing import Callable

from git_credential_bbtoken import checks, explain
from git_credential_bbtoken.common import now_iso
from git_credential_bbtoken.console import Io
from git_credential_bbtoken.context import request_for_url
from git_credential_bbtoken.gitconfig import run_git
from git_credential_bbtoken.protocol import split_url
from git_credential_bbtoken.storage.store import CredentialStore, Entry

GIT_TIMEOUT = 60
QUIET_GIT = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}


class Repair:
    """One change doctor can make: the question to ask, and what doing it takes."""

    def __init__(self, question: str, apply: Callable[[Io], str]) -> None:
        self.question = question
        self.apply = apply  # returns what was done, in one line; raises BbtokenError


def run_repairs(repairs: list[Repair], io: Io) -> None:
    """Ask about each repair at the terminal and make the ones confirmed with y."""
    for repair in repairs:
        answer = io.ask_line(f"{repair.question} [y/N] ")
        if answer is None:
            io.say("no terminal to confirm repairs: nothing was changed (run doctor --fix in "
                   "a terminal)")
            return
        if answer.strip().lower() in ("y", "yes"):
            io.say(repair.apply(io))


# -- passwords kept by other helpers ----------------------------------------------------------


def remove_stale_password(helper: str, name: str, fields: dict[str, str]) -> Repair:
    """Forget the credential `helper` answered with (`fields`: git's answer), through
    `git credential reject` with that helper alone: it removes exactly that entry."""
    record = "".join(f"{key}={fields[key]}\n" for key in ("protocol", "host", "path",
                                                           "username", "password")
                     if key in fields) + "\n"

    def apply(io: Io) -> str:
        result = subprocess.run(
            ["git", "-c", "credential.helper=", "-c", f"credential.helper={helper}",
             "credential", "reject"], input=record, capture_output=True, text=True,
            timeout=GIT_TIMEOUT, env=dict(os.environ, **QUIET_GIT))
        if result.returncode != 0:
            return f"could not remove it: git credential reject failed ({name})"
        return (f"removed the password credential helper {name} held for {fields['host']} "
                f"(user {fields.get('username', '?')})")

    return Repair(f"Remove the password credential helper {name} holds for {fields['host']} "
                  f"(user {fields.get('username', '?')})?", apply)


# -- tokens inside remote URLs ----------------------------------------------------------------


class SecretInRemote:
    """A remote whose URL carries a password or token (never shown)."""

    def __init__(self, remote: str, url: str) -> None:
        self.remote = remote
        parts = urllib.parse.urlsplit(url)
        self.username = urllib.parse.unquote(parts.username or "")
        self.secret = urllib.parse.unquote(parts.password or "")
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
        self.clean_url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    @property
    def shown(self) -> str:
        """The URL with the secret masked, for messages."""
        return self.clean_url.replace("://", f"://{self.username}:***@", 1)


def secrets_in_remotes() -> list[SecretInRemote]:
    """The remotes of the repository doctor runs in whose http(s) URL holds a password."""
    result = run_git(["config", "--get-regexp", r"^remote\..*\.(push)?url$"])
    if result.returncode != 0:
        return []  # not in a repository, or no remotes
    found = []
    for line in result.stdout.splitlines():
        key, _, url = line.partition(" ")
        remote = key.split(".", 1)[1].rsplit(".", 1)[0]
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in ("http", "https") and parts.password:
            found.append(SecretInRemote(remote, url))
    return found


def move_into_keyring(found: SecretInRemote) -> Repair:
    def apply(io: Io) -> str:
        protocol, host, path = split_url(found.clean_url)
        request = request_for_url(protocol, host, path.removesuffix(".git"))
        username = found.username or None
        validation = None
        if request.config.is_bitbucket:
            validation = checks.validate(request, username, found.secret)
            if validation.can_clone is False:
                for problem in validation.problems:
                    io.say(problem.text())
                return (f"the token in remote {found.remote}'s URL cannot clone it; nothing "
                        "was changed")
        entry = Entry(protocol=protocol, host=host, path=path.removesuffix(".git"),
                      username=found.username, backend=request.config.store,
                      kind=request.config.kind, stored_at=now_iso(),
                      validation=validation.to_dict() if validation is not None else None)
        CredentialStore(io.say).put(entry, found.secret)
        # The URL without the secret: git asks the helpers again, and finds it stored.
        run_git(["remote", "set-url", found.remote, found.clean_url], check=True)
        fetch = subprocess.run(["git", "ls-remote", "--heads", found.remote],
                               capture_output=True, text=True, timeout=GIT_TIMEOUT,
                               env=dict(os.environ, **QUIET_GIT))
        outcome = ("git reaches it with the stored token" if fetch.returncode == 0 else
                   f"but git could not fetch it now: run {explain.doctor_command(request.url)}")
        return (f"moved the token of remote {found.remote} into the "
                f"{entry.backend} store; its URL is now {found.clean_url}, and {outcome}")

    return Repair(f"Move the token in remote {found.remote}'s URL ({found.shown}) into the "
                  "keyring, and remove it from the URL?", apply)
