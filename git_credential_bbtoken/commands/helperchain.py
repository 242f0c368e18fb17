"""Which credential helpers git runs for a URL, and which config line each one comes from.

Asked of git itself, never re-derived from config rules: a traced `git credential fill` that
may not prompt anybody gives the helpers in the order git runs them (URL matching, scopes,
includes and empty resets all applied by git), and `git config --show-scope --show-origin`
gives the file and scope of a helper's line. Shared by `doctor`, which reports the chain, and
`setup`, which checks what it wrote.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from urllib.parse import urlsplit

from git_credential_bbtoken.common import DEFAULT_URL, bbtoken_command
from git_credential_bbtoken.gitconfig import run_git

HELPER_TRACE_TIMEOUT = 15
# The username sent to list every helper: nothing is stored for it anywhere, so no helper
# answers and git asks each one in turn (the first answer would end the list).
NOBODY = "git-credential-bbtoken-lists-helpers"


def helper_chain(protocol: str, host: str, path: str) -> tuple[list[str], bool]:
    """The helpers git runs for the URL, in order, and whether the last one run answered
    (git stops at the first answer)."""
    return _traced_fill(protocol, host, path, None) or ([], False)


def helpers_run(protocol: str, host: str, path: str) -> list[str] | None:
    """The name of every helper git runs for the URL, in order (none of them answers); None
    when git could not be asked."""
    traced = _traced_fill(protocol, host, path, NOBODY)
    return [helper_name(command) for command in traced[0]] if traced is not None else None


def _traced_fill(protocol: str, host: str, path: str,
                 username: str | None) -> tuple[list[str], bool] | None:
    record = f"protocol={protocol}\nhost={host}\n" + (f"path={path}\n" if path else "") + \
        (f"username={username}\n" if username else "") + "\n"
    env = dict(os.environ, GIT_TRACE="1", GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="",
               SSH_ASKPASS="")
    env.pop("BBTOKEN_DEBUG", None)
    if username:
        env.pop("BBTOKEN_TOKEN", None)  # served for any username
    try:
        result = subprocess.run(["git", "-c", "credential.interactive=false", "credential",
                                 "fill"], input=record, env=env, capture_output=True,
                                text=True, timeout=HELPER_TRACE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    helpers: list[str] = []
    for line in result.stderr.splitlines():
        found = re.search(r"trace: run_command: (.*) get'?$", line)
        if found:
            command = found.group(1).strip().strip("'")
            # `git credential-x get` re-runs itself as `git-credential-x get`: one helper.
            if helpers and helper_name(helpers[-1]) == helper_name(command):
                continue
            helpers.append(command)
    answered = result.returncode == 0 and "\npassword=" in "\n" + result.stdout
    return helpers, answered


def is_bbtoken(command: str) -> bool:
    return "credential-bbtoken" in command or "git_credential_bbtoken" in command


def helper_name(command: str) -> str:
    """`manager` for `git credential-manager`, `/usr/bin/git-credential-manager --x`...;
    `bbtoken` for every way of running bbtoken."""
    if is_bbtoken(command):
        return "bbtoken"
    match = re.search(r"git[ -]credential-([\w.-]+)", command)
    return match.group(1) if match else command


@dataclasses.dataclass(frozen=True)
class HelperLine:
    """One `credential.helper` or `credential.<url>.helper` value, where git reads it."""

    scope: str  # system, global, local, worktree, command
    origin: str  # `file:/home/me/.gitconfig`, `command line:`...
    key: str
    value: str

    @property
    def name(self) -> str:
        """The helper's name as `helper_name` gives it for the command git runs; "" for an
        empty value (which drops the helpers read before it)."""
        value = self.value.strip()
        if not value:
            return ""
        if value.startswith("!"):
            return helper_name(value[1:])
        return helper_name(value if "/" in value or "\\" in value else
                           f"git credential-{value}")

    @property
    def file(self) -> str:
        if self.origin.startswith("file:"):
            return self.origin[len("file:"):]
        return "git -c / GIT_CONFIG_*" if self.scope == "command" else self.origin

    def where(self) -> str:
        line = f"`{self.key} = {self.value}`" if self.value else f"an empty `{self.key}`"
        return f"{line} in {self.file} ({self.scope} config)"


def helper_lines(host: str) -> list[HelperLine]:
    """The helper lines that may apply to `host`, in the order git reads them: every
    `credential.helper`, and `credential.<url>.helper` where the URL names the host. (Which
    of them git really runs is `helpers_run`'s answer; this only says where they are.)"""
    result = run_git(["config", "-z", "--show-scope", "--show-origin", "--get-regexp",
                      r"^credential\.(.+\.)?helper$"])
    if result.returncode != 0:
        return []  # none, or a git older than 2.26 (no --show-scope)
    fields = result.stdout.split("\0")
    lines = []
    for scope, origin, item in zip(fields[0::3], fields[1::3], fields[2::3]):
        key, _, value = item.partition("\n")
        url = key[len("credential."):-len(".helper")]
        if not url or urlsplit(url).netloc.rpartition("@")[2].lower() == host.lower():
            lines.append(HelperLine(scope, origin, key, value))
    return lines


def only_bbtoken(names: list[str]) -> bool:
    return "bbtoken" in names and not others_after_bbtoken(names)


def others_after_bbtoken(names: list[str]) -> list[str]:
    """The helpers git runs after bbtoken (all of them when it does not run bbtoken)."""
    first = names.index("bbtoken") if "bbtoken" in names else -1
    return list(dict.fromkeys(n for n in names[first + 1:] if n != "bbtoken"))


def last_line(name: str, lines: list[HelperLine]) -> HelperLine | None:
    """The last line naming helper `name` ("": an empty value) that git reads after the
    last line naming bbtoken."""
    start = max((i + 1 for i, line in enumerate(lines) if line.name == "bbtoken"), default=0)
    return next((line for line in reversed(lines[start:]) if line.name == name), None)


def fix_for(line: HelperLine, url: str, own_scope: str | None = None) -> str:
    """How to get past `line`: setup at its scope writes bbtoken's lines after it, or moves
    them there; when setup at that scope could not (`own_scope`), only an edit can."""
    if line.scope == own_scope:
        return (f"edit {line.file}: remove that line, or move the [credential \"{url}\"] "
                "section below it")
    if line.scope in ("system", "global", "local"):
        url_words = [url] if url != DEFAULT_URL else []
        return f"run: {bbtoken_command('setup', *url_words, '--' + line.scope)}"
    return f"remove it from {line.file}"


def not_only_bbtoken(names: list[str], url: str, lines: list[HelperLine],
                     own_scope: str | None = None) -> tuple[str, list[str]] | None:
    """What to say when git runs another helper after bbtoken for `url`, or not bbtoken at
    all: a sentence naming each such helper and the line it comes from, and the fixes."""
    others = others_after_bbtoken(names)
    if "bbtoken" in names and not others:
        return None
    found = {name: last_line(name, lines) for name in others}
    reset = None if "bbtoken" in names else last_line("", lines)
    sources = "; ".join(line.where() for line in found.values() if line)
    set_by = f". Set by {sources}" if sources else ""
    if "bbtoken" in names:
        text = (f"git also runs {', '.join(others)} after bbtoken for {url}: it gets every "
                f"token git stores, and is asked whenever bbtoken has none{set_by}")
    else:
        text = (f"git does not run bbtoken for {url}"
                + (f": {reset.where()} is read after bbtoken's lines and drops them"
                   if reset else "") + (f"; it runs {', '.join(others)}{set_by}"
                                        if others else ""))
    fixes = [fix_for(line, url, own_scope) for line in (reset, *found.values()) if line]
    return text, list(dict.fromkeys(fixes)) or [
        f"run: {bbtoken_command('setup', url)}  (git then uses only bbtoken there)"]
