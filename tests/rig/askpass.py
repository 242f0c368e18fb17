"""A scripted GIT_ASKPASS program: answers from a JSON file, logs every prompt, so tests see
exactly what a person (or an IDE dialog) would have been asked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCRIPT = """#!{python}
# Test askpass: log the prompt, answer by its first word ("Username" / "Password").
import json, sys
prompt = sys.argv[1] if len(sys.argv) > 1 else ""
with open({log!r}, "a") as log:
    log.write(json.dumps(prompt) + "\\n")
try:
    with open({answers!r}) as f:
        answers = json.load(f)
except FileNotFoundError:
    answers = {{}}
for word, key in (("Username", "username"), ("Password", "password")):
    if prompt.startswith(word) and answers.get(key) is not None:
        print(answers[key])
        sys.exit(0)
sys.exit(1)  # no answer: git treats it like a cancelled dialog
"""


class Askpass:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / "prompts.jsonl"
        self.answers = folder / "answers.json"
        self.path = str(folder / "askpass")
        Path(self.path).write_text(SCRIPT.format(python=sys.executable, log=str(self.log),
                                                 answers=str(self.answers)))
        Path(self.path).chmod(0o755)

    def answer(self, username: str | None = None, password: str | None = None) -> None:
        """Set the answers; None leaves that prompt unanswered (exit status 1)."""
        self.answers.write_text(json.dumps({"username": username, "password": password}))

    def prompts(self) -> list[str]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]
