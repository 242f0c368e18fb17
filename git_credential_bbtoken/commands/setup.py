"""`setup`: make git use only bbtoken for a Bitbucket URL, and `setup --undo`.

What it writes, in the chosen config file (global by default):

    [credential "https://bitbucket.org"]
        helper =                 # an empty value drops inherited helpers (manager, osxkeychain,
        helper = bbtoken         # store...) for this URL; then ours
        useHttpPath = true       # git sends the repository path, so workspace tokens match
    [bbtoken "https://bitbucket.org"]
        setup = helper,usehttppath   # what setup wrote, so --undo removes exactly that

Running it twice changes nothing. IDEs run the system git with the user's global config, so
they get the same; when the console script is not on PATH (an IDE's PATH is often shorter),
the helper is written as an absolute, quoted path.

Then it asks git which helpers run for the URL (commands/helperchain.py): a helper set in a
file git reads later (a global `credential.helper` after `setup --system`) still runs, and
setup names its line and the fix.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

from git_credential_bbtoken.commands.helperchain import (
    HelperLine,
    helper_lines,
    helpers_run,
    not_only_bbtoken,
    only_bbtoken,
)
from git_credential_bbtoken.commands.inputs import parse_scope_url
from git_credential_bbtoken.common import DEFAULT_URL, bbtoken_command, origin_url
from git_credential_bbtoken.console import Io
from git_credential_bbtoken.errors import CommandFailed
from git_credential_bbtoken.gitconfig import run_git

SCRIPT_NAME = "git-credential-bbtoken"


def setup(options: argparse.Namespace, io: Io) -> int:
    protocol, host, path = parse_scope_url(options.url)
    url = origin_url(protocol, host, path)
    config = ConfigFile(options.scope)
    if options.scope == "local" and run_git(["rev-parse", "--git-dir"]).returncode != 0:
        raise CommandFailed("--local needs to be run inside a git repository")
    if options.undo:
        undone = undo(config, url)
        io.say(f"removed bbtoken's settings for {url} from the {options.scope} config"
               if undone else f"setup had written nothing for {url} in the {options.scope} "
               "config; nothing changed")
        return 0
    helper = helper_command()
    wrote = apply(config, url, helper)
    warning, _ = verify(protocol, host, path, options.scope)
    where = f"{options.scope} config"
    if wrote:
        io.say(("git now uses only bbtoken" if not warning else "wrote bbtoken's settings")
               + f" for {url} ({where}). "
               f"Next: {bbtoken_command('login', *([url] if url != DEFAULT_URL else []))}")
    else:
        io.say(f"already set up for {url} ({where}); nothing changed")
    if warning:
        io.say(f"warning: {warning[0]}\n" + "\n".join(f"  {fix}" for fix in warning[1]))
    return 0


def verify(protocol: str, host: str, path: str, scope: str
           ) -> tuple[tuple[str, list[str]] | None, list[HelperLine]]:
    """What to warn about when git does not run only bbtoken for the URL (None when it does,
    or when git could not be asked), and the helper lines that may apply to the host."""
    names = helpers_run(protocol, host, path)
    if names is None or only_bbtoken(names):
        return None, []
    lines = helper_lines(host)
    return not_only_bbtoken(names, origin_url(protocol, host, path), lines, scope), lines


def helper_command() -> str:
    """What to write as the helper: `bbtoken` when git will find `git-credential-bbtoken` on
    PATH, else the absolute path of this installation's script, quoted for git's shell."""
    if shutil.which(SCRIPT_NAME):
        return "bbtoken"
    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if script is None or not script.name.startswith(SCRIPT_NAME):
        candidate = Path(sys.executable).parent / (SCRIPT_NAME + (
            ".exe" if os.name == "nt" else ""))
        script = candidate if candidate.exists() else None
    if script is None:
        return "bbtoken"
    # git runs an absolute path "as is" through its shell, but only when the value starts
    # with the path: a quoted value would become `git credential-'/...'`. So keep it bare and
    # backslash-escape what the shell would split on, as Git for Windows writes GCM's path
    # (`C:/Program\\ Files/...`); forward slashes on Windows, where git's sh runs it.
    path = str(script).replace("\\", "/") if os.name == "nt" else str(script)
    return re.sub(r"([^\w./:@%+=,-])", r"\\\1", path)


class ConfigFile:
    """git config for one scope (--global, --system, --local)."""

    def __init__(self, scope: str) -> None:
        self.flag = f"--{scope}"

    def get_all(self, key: str) -> list[str]:
        result = run_git(["config", self.flag, "--get-all", key])
        return result.stdout.splitlines() if result.returncode == 0 else []

    def add(self, key: str, value: str) -> None:
        self._run(["--add", key, value])

    def set(self, key: str, value: str) -> None:
        self._run([key, value])

    def unset_all(self, key: str, value_pattern: str | None = None) -> None:
        args = ["--unset-all", key] + ([value_pattern] if value_pattern is not None else [])
        result = run_git(["config", self.flag, *args])
        if result.returncode not in (0, 5):  # 5: nothing to unset
            self._fail(result.stderr)

    def section_is_empty(self, section_regex: str) -> bool:
        result = run_git(["config", self.flag, "--get-regexp", section_regex])
        return result.returncode != 0 or not result.stdout.strip()

    def remove_section(self, section: str) -> None:
        run_git(["config", self.flag, "--remove-section", section])

    def _run(self, args: list[str]) -> None:
        result = run_git(["config", self.flag, *args])
        if result.returncode != 0:
            self._fail(result.stderr)

    def _fail(self, stderr: str) -> None:
        first = stderr.strip().splitlines()[0] if stderr.strip() else "git config failed"
        raise CommandFailed(f"could not change git config: {first}")


def apply(config: ConfigFile, url: str, helper: str) -> list[str]:
    """Write what is missing; return what was written (empty when already set up)."""
    helper_key = f"credential.{url}.helper"
    path_key = f"credential.{url}.useHttpPath"
    marker_key = f"bbtoken.{url}.setup"
    wrote = [w for w in (config.get_all(marker_key) or [""])[-1].split(",") if w]
    changed = []
    helpers = config.get_all(helper_key)
    if helpers[-2:] != ["", helper]:
        config.add(helper_key, "")
        config.add(helper_key, helper)
        changed.append("helper")
    current = config.get_all(path_key)
    if not current or current[-1].lower() not in ("true", "yes", "on", "1"):
        # Added after the user's own value (the last one wins), which stays untouched, so
        # --undo gives back the file's exact bytes.
        changed.append("usehttppath")
        config.add(path_key, "true")
    if changed:
        # Keep what an earlier setup wrote, so one --undo removes all of it.
        merged = wrote + [c for c in changed if c not in wrote]
        config.unset_all(marker_key)
        config.set(marker_key, ",".join(merged))
    return changed


def undo(config: ConfigFile, url: str) -> bool:
    helper_key = f"credential.{url}.helper"
    path_key = f"credential.{url}.useHttpPath"
    marker_key = f"bbtoken.{url}.setup"
    marker = config.get_all(marker_key)
    if not marker:
        return False
    wrote = [w for w in marker[-1].split(",") if w]
    for item in wrote:
        if item == "helper":
            _remove_our_helpers(config, helper_key)
        elif item == "usehttppath":
            config.unset_all(path_key, "^true$")
        elif item.startswith("usehttppath="):
            config.set(path_key, item.split("=", 1)[1])
    config.unset_all(marker_key)
    for section, regex in ((f"credential.{url}", _section_regex("credential", url)),
                           (f"bbtoken.{url}", _section_regex("bbtoken", url))):
        if config.section_is_empty(regex):
            config.remove_section(section)
    return True


def _remove_our_helpers(config: ConfigFile, key: str) -> None:
    """Remove each `helper =` / `helper = bbtoken` pair that setup wrote, and nothing else."""
    values = config.get_all(key)
    theirs: list[str] = []
    i = 0
    while i < len(values):
        if values[i] == "" and i + 1 < len(values) and _is_our_helper(values[i + 1]):
            i += 2  # a pair setup wrote
            continue
        theirs.append(values[i])
        i += 1
    if not any(v == "" or _is_our_helper(v) for v in theirs):
        # The usual case: no value of the user's looks like ours, so git config can remove
        # ours by value and every other byte of the file stays as it was.
        for value in dict.fromkeys(v for v in values if v not in theirs):
            config.unset_all(key, "^" + re.escape(value) + "$")
        return
    # The user has values git config cannot tell from ours (an empty reset of their own, or
    # a `helper = bbtoken` they wrote by hand): write their values back, in their order (the
    # same helpers for git; the lines move to the end of the section).
    config.unset_all(key)
    try:
        for value in theirs:
            config.add(key, value)
    except Exception:
        # Never leave the user without their helpers: put every value back as it was.
        config.unset_all(key)
        for value in values:
            config.add(key, value)
        raise


def _is_our_helper(value: str) -> bool:
    return value == "bbtoken" or SCRIPT_NAME in value


def _section_regex(section: str, url: str) -> str:
    return "^" + re.escape(f"{section}.{url}.")
