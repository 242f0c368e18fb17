"""Which credential helpers git runs for a URL, asked of git itself, never re-derived from
config rules: a traced `git credential fill` that may not prompt anybody gives the helpers in
the order git runs them (URL matching, scopes, includes and empty resets all applied by git).
"""

from __future__ import annotations

import os
import re
import subprocess

HELPER_TRACE_TIMEOUT = 15


def helper_chain(protocol: str, host: str, path: str) -> tuple[list[str], bool]:
    """The helpers git runs for the URL, in order, and whether the last one run answered
    (git stops at the first answer)."""
    record = f"protocol={protocol}\nhost={host}\n" + (f"path={path}\n" if path else "") + "\n"
    env = dict(os.environ, GIT_TRACE="1", GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="",
               SSH_ASKPASS="")
    env.pop("BBTOKEN_DEBUG", None)
    try:
        result = subprocess.run(["git", "-c", "credential.interactive=false", "credential",
                                 "fill"], input=record, env=env, capture_output=True,
                                text=True, timeout=HELPER_TRACE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return [], False
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
    """`manager` for `git credential-manager`, `/usr/bin/git-credential-manager --x`..."""
    match = re.search(r"git[ -]credential-([\w.-]+)", command)
    return match.group(1) if match else command
