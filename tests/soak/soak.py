"""Soak run (not part of CI): 10,000 mixed credential operations, then a consistency check.

    .venv/bin/python tests/soak/soak.py [--ops 10000] [--subprocess-every 100] [--seed 1]
                                        [--file-store]

Runs in a private environment (temporary HOME, XDG folders and global git config) against
the rig's private gnome-keyring on its own D-Bus (tests/rig/secret_service.py), or the
opt-in file store with --file-store. Most operations call `helper.get/store/erase`
in-process, as git's protocol would (record parsed by `protocol.read_record`, answer through
an `Io` over BytesIO); every Nth one runs the real console script instead. A model of what
should be stored checks every `get` on the way, and at the end the metadata file and the
keyring must hold exactly the model: nothing lost, duplicated, orphaned or half-written.
Prints operations per second per kind and overall.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

GENERIC = "soak.example"
CLOUD = "127.0.0.1:9"  # Bitbucket-kind, nothing listening: validation ends at once
USER = "x-bitbucket-api-token-auth"
SERVICE = "git-credential-bbtoken:"


def isolate(root: Path, file_store: bool) -> None:
    for name in list(os.environ):
        if name.startswith(("BBTOKEN_", "GIT_", "PYTHON_KEYRING")) or name.endswith("_PROXY") \
                or name.endswith("_proxy"):
            del os.environ[name]
    home = root / "home"
    for name, path in (("HOME", home), ("XDG_CONFIG_HOME", home / ".config"),
                       ("XDG_DATA_HOME", home / ".local" / "share"),
                       ("XDG_CACHE_HOME", home / ".cache"), ("XDG_RUNTIME_DIR", root / "run")):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ[name] = str(path)
    config = home / ".gitconfig"
    config.touch()
    os.environ.update(GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1",
                      GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    settings = [(f"bbtoken.https://{CLOUD}.kind", "cloud"),
                (f"bbtoken.https://{CLOUD}.apiUrl", f"https://{CLOUD}/2.0")]
    if file_store:
        settings.append(("bbtoken.store", "file"))
    for key, value in settings:
        subprocess.run(["git", "config", "--global", key, value], check=True)


def record(**fields: str) -> bytes:
    return ("".join(f"{k}={v}\n" for k, v in fields.items()) + "\n").encode()


class Soak:
    def __init__(self, seed: int, subprocess_every: int) -> None:
        from git_credential_bbtoken import cli, console

        self.cli = cli
        self.console = console
        self.rng = random.Random(seed)
        self.every = subprocess_every
        self.model: dict[tuple[str, str], str] = {}
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.counter = 0
        self.targets = [(GENERIC, f"scope{i}") for i in range(20)] + \
            [(CLOUD, f"ws{i}") for i in range(4)]

    def _fields(self, host: str, scope: str) -> dict[str, str]:
        path = f"{scope}/repo.git" if host == CLOUD else scope
        return {"protocol": "https", "host": host, "path": path}

    def call(self, action: str, data: bytes, via_subprocess: bool) -> tuple[int, str, str]:
        if via_subprocess:
            script = Path(sys.executable).parent / "git-credential-bbtoken"
            done = subprocess.run([str(script), action], input=data, capture_output=True,
                                  timeout=60)
            return (done.returncode, done.stdout.decode(), done.stderr.decode())
        out, err = io.BytesIO(), io.StringIO()
        status = self.cli.main([action], self.console.Io(io.BytesIO(data), out, err))
        return status, out.getvalue().decode(), err.getvalue()

    def step(self) -> None:
        self.counter += 1
        via = self.every > 0 and self.counter % self.every == 0
        host, scope = self.rng.choice(self.targets)
        base = self._fields(host, scope)
        key = (host, scope)
        roll = self.rng.random()
        if roll < 0.50:
            kind = "get"
            start = time.perf_counter()
            status, out, err = self.call("get", record(**base), via)
            answer = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
            if answer.get("password") != self.model.get(key):
                self.errors.append(f"get {key}: {answer.get('password')!r} != "
                                   f"{self.model.get(key)!r} ({err.strip()})")
        elif roll < 0.75:
            kind = "store"
            token = f"ATATT-{host}-{scope}-{self.counter}"
            start = time.perf_counter()
            status, out, err = self.call("store", record(**base, username=USER,
                                                         password=token), via)
            if status == 0:
                self.model[key] = token
        elif roll < 0.82 and key in self.model:
            kind = "store-unchanged"
            start = time.perf_counter()
            status, out, err = self.call("store", record(**base, username=USER,
                                                         password=self.model[key]), via)
        elif roll < 0.92:
            kind = "erase"
            start = time.perf_counter()
            status, out, err = self.call("erase", record(**base, username=USER), via)
            if status == 0:
                self.model.pop(key, None)
        else:
            kind = "erase-other-password"  # git rejected a password we do not hold
            start = time.perf_counter()
            status, out, err = self.call("erase", record(**base, username=USER,
                                                         password="not-the-stored-one"), via)
        self.times[kind + (" (subprocess)" if via else "")].append(time.perf_counter() - start)
        if status != 0 or "Traceback" in err or "internal error" in err:
            self.errors.append(f"{kind} {key}: exit {status}: {err.strip()[:200]}")

    def final_check(self, secret_service: object | None) -> list[str]:
        problems = []
        path = Path(os.environ["XDG_DATA_HOME"]) / "git-credential-bbtoken" / "credentials.json"
        entries = json.loads(path.read_bytes())["credentials"] if path.exists() else []
        keys = [(e["host"], e["path"]) for e in entries]
        if len(keys) != len(set(keys)):
            problems.append("duplicated metadata entries")
        if set(keys) != set(self.model):
            problems.append(f"metadata {sorted(set(keys) ^ set(self.model))} differ from model")
        if secret_service is not None:
            items = {}
            for item in secret_service.items():  # type: ignore[attr-defined]
                service = item["attributes"].get("service", "")
                if service.startswith(SERVICE):
                    _, _, host, scope = service[len(SERVICE):].split("/", 3)
                    items[(host, scope)] = item["secret"]
            if items != self.model:
                problems.append(f"keyring differs from model: "
                                f"{sorted(set(items.items()) ^ set(self.model.items()))[:5]}")
        else:
            secrets = json.loads((path.parent / "tokens.json").read_text())["secrets"]
            flat = {tuple(s[len(SERVICE):].split("/", 3)[2:]): v[USER]
                    for s, v in secrets.items()}
            if flat != self.model:
                problems.append("token file differs from model")
        for key, token in self.model.items():
            _, out, _ = self.call("get", record(**self._fields(*key)), True)
            if f"password={token}" not in out:
                problems.append(f"final get {key} does not serve the model's token")
        return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10000)
    parser.add_argument("--subprocess-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--file-store", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bbtoken-soak-") as tmp:
        root = Path(tmp)
        isolate(root, options.file_store)
        service = None
        if not options.file_store:
            from rig.secret_service import SecretService

            service = SecretService(root / "secret-service")
            service.start()
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = service.address
        try:
            soak = Soak(options.seed, options.subprocess_every)
            began = time.perf_counter()
            for i in range(options.ops):
                soak.step()
                if (i + 1) % 1000 == 0:
                    rate = (i + 1) / (time.perf_counter() - began)
                    print(f"  {i + 1} ops, {rate:.0f} ops/s, {len(soak.errors)} errors",
                          flush=True)
            elapsed = time.perf_counter() - began
            problems = soak.final_check(service)
        finally:
            if service is not None:
                service.stop()
    store = "file store" if options.file_store else "gnome-keyring (Secret Service)"
    print(f"\n{options.ops} operations in {elapsed:.1f} s: {options.ops / elapsed:.0f} ops/s "
          f"({store}, seed {options.seed})")
    for kind, times in sorted(soak.times.items()):
        times.sort()
        print(f"  {kind:32} {len(times):6d} ops  {len(times) / sum(times):8.0f} ops/s  "
              f"median {1000 * times[len(times) // 2]:6.1f} ms  "
              f"p99 {1000 * times[int(len(times) * 0.99)]:6.1f} ms")
    print(f"  stored at the end: {len(soak.model)} credentials")
    for error in soak.errors[:20]:
        print(f"  error: {error}")
    print("consistency check: " + ("OK (metadata, secret store and get agree with the model)"
                                   if not problems else "FAILED"))
    for problem in problems:
        print(f"  {problem}")
    return 0 if not problems and not soak.errors else 1


if __name__ == "__main__":
    sys.exit(main())
