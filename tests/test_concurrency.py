"""50 helper processes at once over 10 scopes, with the real gnome-keyring.

Phase 1: 40 processes mix `store`, `get`, `erase` and `login --token-stdin` on 10 scopes of
one host, all at once, while a thread keeps reading the metadata file. Every `get` sees
nothing or a token written for its own scope; the reader never sees a half-written file;
afterwards metadata and keyring agree one to one (nothing lost, duplicated or orphaned).
Phase 2: 10 more processes, one final write (store, login or erase) per scope, all at once:
afterwards metadata and keyring hold exactly each scope's last write.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

SCRIPT = str(Path(sys.executable).parent / "git-credential-bbtoken")
HOST = "conc.example"  # generic: plain storage, no network
USER = "x-bitbucket-api-token-auth"  # login's default username, so login and store collide
SCOPES = [f"ws{i}" for i in range(10)]
SERVICE = "git-credential-bbtoken:"


def record(**fields: str) -> str:
    return "".join(f"{k}={v}\n" for k, v in fields.items()) + "\n"


def start(op: str, scope: str, token: str) -> subprocess.Popen[str]:
    base = {"protocol": "https", "host": HOST, "path": scope}
    if op == "login":
        args, data = [SCRIPT, "login", f"https://{HOST}/{scope}", "--token-stdin"], token + "\n"
    elif op == "store":
        args, data = [SCRIPT, "store"], record(**base, username=USER, password=token)
    elif op == "erase":
        args, data = [SCRIPT, "erase"], record(**base, username=USER)
    else:
        args, data = [SCRIPT, "get"], record(**base)
    import tempfile

    with tempfile.TemporaryFile("w+") as stdin:  # the whole input is there at once
        stdin.write(data)
        stdin.seek(0)
        return subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


class MetadataReader(threading.Thread):
    """Reads the metadata file as fast as it can, as `get` does (no lock)."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.reads = 0
        self.bad: list[bytes] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                continue
            self.reads += 1
            try:
                json.loads(raw)["credentials"]
            except (ValueError, KeyError):
                self.bad.append(raw)


def state(secret_service: object) -> tuple[dict[str, str], dict[str, str]]:
    """(scope -> token) from the metadata, via the keyring item each entry names; and
    (scope -> token) of every keyring item of ours."""
    path = Path(os.environ["XDG_DATA_HOME"]) / "git-credential-bbtoken" / "credentials.json"
    entries = json.loads(path.read_bytes())["credentials"] if path.exists() else []
    keys = [(e["protocol"], e["host"], e["path"], e["username"]) for e in entries]
    assert len(keys) == len(set(keys)), f"duplicated entries: {keys}"
    items = {}
    for item in secret_service.items():  # type: ignore[attr-defined]
        service = item["attributes"].get("service", "")
        if service.startswith(SERVICE):
            scope = service[len(SERVICE):].split("/", 3)[3]
            assert scope not in items, f"two keyring items for {scope}"
            items[scope] = item["secret"]
    in_metadata = {e["path"]: items.get(e["path"], "<missing>") for e in entries}
    return in_metadata, items


def test_fifty_processes_ten_scopes(secret_service: object) -> None:
    rng = random.Random(4711)
    data = Path(os.environ["XDG_DATA_HOME"]) / "git-credential-bbtoken"
    reader = MetadataReader(data / "credentials.json")
    reader.start()
    written: dict[str, set[str]] = {scope: set() for scope in SCOPES}

    # Phase 1: a seeded mix, every scope touched by several writers at once.
    plan = []
    for i in range(40):
        op = rng.choice(["store", "store", "login", "get", "get", "erase"])
        scope = SCOPES[i % 10]
        token = f"ATATT-{scope}-p1-{i:02d}"
        if op in ("store", "login"):
            written[scope].add(token)
        plan.append((op, scope, token))
    procs = [(op, scope, start(op, scope, token)) for op, scope, token in plan]
    results = [(op, scope, *finish(proc)) for op, scope, proc in procs]
    for op, scope, status, out, err in results:
        assert status == 0, (op, scope, err)
        assert "Traceback" not in err and "internal error" not in err, err
        if op == "get":
            answer = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
            assert answer.get("password") in written[scope] | {None}, (scope, answer)
    in_metadata, items = state(secret_service)
    assert in_metadata == items  # one to one: no entry without its secret, no orphan secret
    for scope, token in items.items():
        assert token in written[scope]

    # Phase 2: one last write per scope, the ten at once.
    expected: dict[str, str] = {}
    final = []
    for i, scope in enumerate(SCOPES):
        op = ["store", "login", "erase"][i % 3]
        token = f"ATATT-{scope}-final"
        if op != "erase":
            expected[scope] = token
        final.append((op, scope, token))
    procs = [(op, scope, start(op, scope, token)) for op, scope, token in final]
    for op, scope, proc in procs:
        status, _, err = finish(proc)
        assert status == 0 and "Traceback" not in err, (op, scope, err)
    reader.stop.set()
    reader.join(timeout=10)

    in_metadata, items = state(secret_service)
    assert in_metadata == expected
    assert items == expected
    assert reader.bad == [] and reader.reads > 0
    # And git is served exactly that.
    for scope in SCOPES:
        status, out, _ = finish(start("get", scope, ""))
        answer = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        assert answer.get("password") == expected.get(scope), scope
