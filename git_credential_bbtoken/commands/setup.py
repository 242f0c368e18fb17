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

Then it asks git which helpers run for the URL (commands/helperchain.py). Lines read after
ours can still change that: in the same file (a tool that appended `helper =` and its own
helper), setup writes its section again at the end of the file; in a file git reads later
(a global `credential.helper` after `setup --system`), it names the line and the fix.
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
    warning, lines = verify(protocol, host, path, options.scope)
    # A line read after ours in this very file (a tool that appended `helper =` and its own
    # helper) is fixed here: our lines go to the end of the file again.
    moved = warning is not None and _shadowed_here(lines, options.scope) and \
        _holds_only_ours(config, url)
    if moved:
        move_to_end(config, url, helper)
        warning, _ = verify(protocol, host, path, options.scope)
    where = f"{options.scope} config"
    if moved:
        io.say(f"moved bbtoken's lines for {url} below the credential.helper lines added "
               f"after them in the {where}" + ("" if warning else
                                                ": git uses only bbtoken again"))
    elif wrote:
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


def _shadowed_here(lines: list[HelperLine], scope: str) -> bool:
    """Whether a helper line of `scope` is read after the last one there that names bbtoken."""
    ours = [i for i, line in enumerate(lines) if line.scope == scope and line.name == "bbtoken"]
    return bool(ours) and any(line.scope == scope for line in lines[ours[-1] + 1:])


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

    def names(self, regex: str) -> list[str]:
        """The keys that match, in file order (section and key in lower case)."""
        result = run_git(["config", self.flag, "--name-only", "--get-regexp", regex])
        return result.stdout.splitlines() if result.returncode == 0 else []

    def section_is_empty(self, section_regex: str) -> bool:
        return not self.names(section_regex)

    def remove_section(self, section: str) -> None:
        run_git(["config", self.flag, "--remove-section", section])

    def _run(self, args: list[str]) -> None:
        result = run_git(["config", self.flag, *args])
        if result.returncode != 0:
            self._fail(result.stderr)

    def _fail(self, stderr: str) -> None:
        first = stderr.strip().splitlines()[0] if stderr.strip() else "git config failed"
        raise CommandFailed(f"could not change git config: {first}")


def _marker(config: ConfigFile, url: str) -> list[str]:
    """What setup wrote for the URL in this file (`helper`, `usehttppath`), from its marker."""
    return [w for w in (config.get_all(f"bbtoken.{url}.setup") or [""])[-1].split(",") if w]


def apply(config: ConfigFile, url: str, helper: str) -> list[str]:
    """Write what is missing; return what was written (empty when already set up)."""
    helper_key = f"credential.{url}.helper"
    path_key = f"credential.{url}.useHttpPath"
    marker_key = f"bbtoken.{url}.setup"
    wrote = _marker(config, url)
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


def _holds_only_ours(config: ConfigFile, url: str) -> bool:
    """Whether the URL's [credential] section holds nothing but what setup wrote."""
    wrote = _marker(config, url)
    keys = [key.rsplit(".", 1)[1] for key in config.names(_section_regex("credential", url))]
    helpers = config.get_all(f"credential.{url}.helper")
    return "helper" in wrote and all(v == "" or _is_our_helper(v) for v in helpers) and \
        [k for k in keys if k != "helper"] == (["usehttppath"] if "usehttppath" in wrote
                                               else [])


def move_to_end(config: ConfigFile, url: str, helper: str) -> None:
    """Write setup's section for the URL again, after every line of the file (git config
    adds a section that is not there at the end). The marker stays: --undo finds them."""
    config.remove_section(f"credential.{url}")
    config.add(f"credential.{url}.helper", "")
    config.add(f"credential.{url}.helper", helper)
    if "usehttppath" in _marker(config, url):
        config.add(f"credential.{url}.useHttpPath", "true")


def undo(config: ConfigFile, url: str) -> bool:
    helper_key = f"credential.{url}.helper"
    path_key = f"credential.{url}.useHttpPath"
    marker_key = f"bbtoken.{url}.setup"
    if not config.get_all(marker_key):
        return False
    wrote = _marker(config, url)
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
    # The keys of that section only: a key name holds no dot, another URL's subsection may.
    return "^" + re.escape(f"{section}.{url}.") + "[^.]+$"
