"""git as Git for Windows and macOS ship it: a system config (GIT_CONFIG_SYSTEM, so no root is
needed) whose `[credential] helper` is the platform's own (manager, osxkeychain), and that
helper faked by a script early on PATH which logs each call (action and host) and answers
nothing, or a stored password once told to."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

# What the installers write, credential helper included (no http.* lines: those would change
# what git does here). Git for Windows: C:/Program Files/Git/etc/gitconfig; macOS: Xcode's
# share/git-core/gitconfig and Homebrew's etc/gitconfig.
SYSTEM_CONFIGS = {
    "manager": ('[diff "astextplain"]\n\ttextconv = astextplain\n'
                "[core]\n\tautocrlf = true\n\tfscache = true\n\tsymlinks = false\n"
                "[credential]\n\thelper = manager\n"
                '[credential "https://dev.azure.com"]\n\tuseHttpPath = true\n'
                "[init]\n\tdefaultBranch = master\n"),
    "osxkeychain": "[credential]\n\thelper = osxkeychain\n",
}

SCRIPT = """#!/bin/sh
# Fake git-credential-{name}: log "<action> <host>", answer only when an answer file exists.
host=
while IFS= read -r line; do
    [ -z "$line" ] && break
    case "$line" in host=*) host=${{line#host=}} ;; esac
done
printf '%s %s\\n' "$1" "$host" >> {log}
if [ "$1" = get ] && [ -f {answer} ]; then cat {answer}; fi
exit 0
"""


class SystemHelper:
    def __init__(self, folder: Path, name: str) -> None:
        self.name = name
        self.config = folder / "gitconfig"
        self.config.write_text(SYSTEM_CONFIGS[name])
        self.bin = folder / "bin"
        self.bin.mkdir()
        self.log = folder / "calls.log"
        self.answer_file = folder / "answer"
        script = self.bin / f"git-credential-{name}"
        script.write_text(SCRIPT.format(name=name, log=shlex.quote(str(self.log)),
                                        answer=shlex.quote(str(self.answer_file))))
        script.chmod(0o755)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Every git of the test reads the system config; the fake is found right after the
        venv's bin (which the rig keeps first)."""
        monkeypatch.delenv("GIT_CONFIG_NOSYSTEM", raising=False)
        monkeypatch.setenv("GIT_CONFIG_SYSTEM", str(self.config))
        exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True,
                                   check=True).stdout.strip()
        real = Path(exec_path) / f"git-credential-{self.name}"
        # git looks in its exec path before PATH: a real helper there would run, not the fake
        assert not real.exists(), f"{real} would run instead of the fake"
        venv_bin, _, rest = os.environ["PATH"].partition(os.pathsep)
        assert venv_bin == str(Path(sys.executable).parent)
        monkeypatch.setenv("PATH", os.pathsep.join([venv_bin, str(self.bin), rest]))

    def answer(self, username: str, password: str) -> None:
        """From now on `get` answers with this stored password (an old app password, say)."""
        self.answer_file.write_text(f"username={username}\npassword={password}\n")

    def calls(self) -> list[tuple[str, str]]:
        """(action, host) of each call since the last clear(), in order."""
        if not self.log.exists():
            return []
        return [(action, host) for action, _, host in
                (line.partition(" ") for line in self.log.read_text().splitlines())]

    def clear(self) -> None:
        self.log.unlink(missing_ok=True)
