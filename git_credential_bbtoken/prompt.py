"""Asking a person for a username or token, by git's own rules.

git asks through an askpass program (GIT_ASKPASS, then core.askPass, then SSH_ASKPASS) even
when GIT_TERMINAL_PROMPT=0, through the terminal only when that is not 0, and nobody when
`credential.interactive` is false. The prompts use git's exact wording (`Username for
'<url>': `, `Password for '<url>': `) because IDE dialogs, JetBrains' among them, parse it.
The token is handed back on the program's stdout, never on a command line.
"""

from __future__ import annotations

import getpass
import os
import subprocess

from git_credential_bbtoken.console import has_terminal, neutralise, terminal_input
from git_credential_bbtoken.gitconfig import run_git


class NobodyToAsk(Exception):
    """No askpass program and no terminal: git's rules say not to ask."""


class Cancelled(Exception):
    """The person was asked and gave no answer: the askpass dialog was cancelled (the program
    failed), or the terminal prompt ended (end of input). git itself stops there ("could
    not read Username"); asking again would show the same question twice."""


def askpass_program() -> str | None:
    for value in (os.environ.get("GIT_ASKPASS"), _core_askpass(), os.environ.get("SSH_ASKPASS")):
        if value:
            return value
    return None


def _core_askpass() -> str | None:
    result = run_git(["config", "--get", "core.askPass"])
    return result.stdout.strip() or None if result.returncode == 0 else None


def interactive_allowed() -> bool:
    result = run_git(["config", "--type=bool", "--get", "credential.interactive"])
    return not (result.returncode == 0 and result.stdout.strip() == "false")


def terminal_prompt_allowed() -> bool:
    """GIT_TERMINAL_PROMPT is a boolean to git: 0, false, no, off and empty all mean off."""
    value = os.environ.get("GIT_TERMINAL_PROMPT")
    return value is None or value.strip().lower() not in ("", "0", "false", "no", "off")


def can_ask() -> bool:
    if not interactive_allowed():
        return False
    if askpass_program():
        return True
    return terminal_prompt_allowed() and has_terminal()


def ask(prompt: str, secret: bool) -> str:
    """The answer to `prompt` (git's wording), from askpass or the terminal. Control characters
    in it (from a URL's path) are percent-encoded first, as git's credential.sanitizePrompt
    does."""
    prompt = neutralise(prompt)
    program = askpass_program()
    if program:
        # As git does: the program is run directly (no shell, so a path with spaces works,
        # e.g. VS Code's askpass under "Visual Studio Code.app"), the prompt its one argument.
        try:
            result = subprocess.run([program, prompt], stdin=subprocess.DEVNULL,
                                    capture_output=True, text=True, timeout=600)
        except OSError:
            raise NobodyToAsk(f"the askpass program {program!r} could not be run") from None
        except subprocess.TimeoutExpired:
            raise Cancelled(f"the askpass program {program!r} gave no answer") from None
        if result.returncode != 0:
            raise Cancelled(f"the askpass program {program!r} failed (cancelled)")
        return result.stdout.split("\n", 1)[0].rstrip("\r")
    if not terminal_prompt_allowed() or not has_terminal():
        raise NobodyToAsk("no askpass program and no terminal")
    if secret:
        try:  # the terminal, without echo (the console on Windows)
            return getpass.getpass(prompt)
        except EOFError:
            raise Cancelled("end of input at the terminal") from None
    try:
        line = terminal_input(prompt)
    except EOFError:
        raise Cancelled("end of input at the terminal") from None
    if line is None:
        raise NobodyToAsk("the terminal went away")
    return line
