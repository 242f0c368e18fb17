"""Running git, `git credential` and our helper the way users and git do: real processes,
text in and out, never raising on a non-zero exit (the status is what tests check)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence, Union

Record = Union[Mapping[str, str], Sequence[tuple[str, str]], str]

HELPER_SCRIPT = Path(sys.executable).parent / "git-credential-bbtoken"


def _git(git_bin_dir: str | os.PathLike[str] | None) -> str:
    return str(Path(git_bin_dir) / "git") if git_bin_dir else "git"


def _env(env: Mapping[str, str | None] | None) -> dict[str, str]:
    """The test's (isolated) environment, plus `env` on top; a None value removes a name."""
    merged = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def run_git(*args: str, cwd: str | os.PathLike[str] | None = None, input: str | None = None,
            env: Mapping[str, str | None] | None = None,
            git_bin_dir: str | os.PathLike[str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_git(git_bin_dir), *args], cwd=cwd, input=input, env=_env(env),
                          capture_output=True, text=True, timeout=timeout)


def format_record(record: Record) -> str:
    """A credential record as git writes it: key=value lines, then a blank line."""
    if isinstance(record, str):
        return record if record.endswith("\n") else record + "\n"
    pairs = record.items() if isinstance(record, Mapping) else record
    return "".join(f"{key}={value}\n" for key, value in pairs) + "\n"


def parse_record(text: str) -> list[tuple[str, str]]:
    """key=value lines in order (repeated keys such as capability[] kept)."""
    pairs = []
    for line in text.splitlines():
        if not line:
            break
        key, _, value = line.partition("=")
        pairs.append((key, value))
    return pairs


class CredentialResult(NamedTuple):
    """Unpacks as (answer, stderr, returncode); `.fields` is the answer as a dict."""
    answer: list[tuple[str, str]]
    stderr: str
    returncode: int

    @property
    def fields(self) -> dict[str, str]:
        return dict(self.answer)


def credential(action: str, record: Record, helper: str = "bbtoken",
               extra_config: Sequence[str] = (), env: Mapping[str, str | None] | None = None,
               git_bin_dir: str | os.PathLike[str] | None = None,
               timeout: float = 60) -> CredentialResult:
    """`git credential <fill|approve|reject>` with only `helper` configured (the empty value
    first resets any helper list from config files). extra_config: "key=value" strings."""
    args = ["-c", "credential.helper=", "-c", f"credential.helper={helper}"]
    for item in extra_config:
        args += ["-c", item]
    result = run_git(*args, "credential", action, input=format_record(record), env=env,
                     git_bin_dir=git_bin_dir, timeout=timeout)
    return CredentialResult(parse_record(result.stdout), result.stderr, result.returncode)


def helper(action: str, record: Record | None = None, args: Sequence[str] = (),
           env: Mapping[str, str | None] | None = None, input: str | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the console script `git-credential-bbtoken [args...] <action>` directly; `record`
    (or raw `input`) goes to stdin. Use parse_record(result.stdout) for a `get` answer."""
    stdin = input if input is not None else (format_record(record) if record is not None
                                             else "")
    return subprocess.run([str(HELPER_SCRIPT), *args, action], input=stdin, env=_env(env),
                          capture_output=True, text=True, timeout=timeout)
