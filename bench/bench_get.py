#!/usr/bin/env python3
"""Benchmark: `git credential fill` through git-credential-bbtoken vs git's own helpers.

Run with the project's venv interpreter (it provides keyring for the helper's install):

    .venv/bin/python bench/bench_get.py [-n 30] [--helper PATH] [--keep]

See bench/README.md. Exit status: 0 all goals met, 1 a goal missed, 2 the setup failed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIBSECRET_SRC = Path("/usr/share/doc/git/contrib/credential/libsecret")
KEYRING_PASSWORD = "bench-keyring-password"  # noqa: S105 - a throwaway keyring
TOKEN = "ATATT3xFfGF0-bench-token-0123456789abcdef"  # noqa: S105 - a fake token
USERNAME = "x-bitbucket-api-token-auth"
SERVICE = "git-credential-bbtoken:https://bitbucket.org"

# The console script git runs, as pip 25 and newer write it (pypa/pip#13166; pipx and uv
# write the same kind, and install.sh upgrades pip in its venv to get it)...
SCRIPT = """#!{python}
import sys
from git_credential_bbtoken.cli import main
if __name__ == '__main__':
    sys.argv[0] = sys.argv[0].removesuffix('.exe')
    sys.exit(main())
"""
# ... and as older pips wrote it: its `import re` costs every run about 10 ms (timed for
# information, for installs made with an old pip).
SCRIPT_OLD_PIP = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from git_credential_bbtoken.cli import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""

# The floor for any helper written in Python: this interpreter started as git starts the
# helper, answering a fixed credential and doing nothing else (timed for information).
FLOOR_SCRIPT = """#!{python}
import sys
sys.stdin.buffer.read()
sys.stdout.write("username=file-user\\npassword={token}\\n")
"""
FLOOR = "floor: Python helper, fixed answer"

GOALS = [  # (label, ratio key, limit, "max" means ratio <= limit, "min" ratio >= limit)
    ("bbtoken fill / libsecret fill", "keyring_vs_libsecret", 2.0, "max"),
    ("keyring.get_password process / bbtoken fill", "python_vs_bbtoken", 4.0, "min"),
    ("bbtoken fill (file store) / credential-store fill", "file_vs_store", 3.0, "max"),
    ("bbtoken store unchanged / bbtoken fill", "store_vs_get", 2.0, "max"),
]
PEAK_RSS_LIMIT_MIB = 30.0
HAVE_TIME = os.access("/usr/bin/time", os.X_OK)
RSS_FILE = os.path.join(tempfile.gettempdir(), f"bbtoken-bench-rss-{os.getpid()}")


class SetupError(Exception):
    pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=30, help="runs of each (default 30)")
    parser.add_argument("--helper", help="time this installed git-credential-bbtoken script "
                        "instead of a fresh non-editable install of this checkout")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        return inner(args, Path(args.inner))
    for tool in ("dbus-run-session", "gnome-keyring-daemon", "git", "make", "pkg-config"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is required", file=sys.stderr)
            return 2
    try:
        import keyring  # noqa: F401 - the helper's install borrows this interpreter's packages
    except ImportError:
        print("bench: run me with the project's venv (.venv/bin/python)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bbtoken-bench-"))
    try:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
               "HOME": str(work / "home"), "XDG_CONFIG_HOME": str(work / "home/.config"),
               "XDG_DATA_HOME": str(work / "home/.local/share"),
               "XDG_CACHE_HOME": str(work / "home/.cache"),
               "XDG_RUNTIME_DIR": str(work / "run"), "GIT_CONFIG_NOSYSTEM": "1",
               "TMPDIR": str(work / "tmp")}
        for name in ("home", "run", "tmp"):
            (work / name).mkdir(mode=0o700)
        cmd = ["dbus-run-session", "--", sys.executable, str(Path(__file__).resolve()),
               "--inner", str(work), "-n", str(args.runs)]
        if args.helper:
            cmd += ["--helper", str(Path(args.helper).resolve())]
        return subprocess.run(cmd, env=env).returncode
    finally:
        if args.keep:
            print(f"bench: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


# -- inside dbus-run-session ------------------------------------------------------------------


def inner(args: argparse.Namespace, work: Path) -> int:
    keyring_daemon = None
    proxy = CountingProxy()
    try:
        keyring_daemon = start_keyring()
        # Any HTTPS request the helper makes goes to this proxy, which counts and drops it.
        os.environ.update({"HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url,
                           "https_proxy": proxy.url, "http_proxy": proxy.url, "NO_PROXY": ""})
        libsecret = build_libsecret(work)
        helper, python = install_helper(work, args.helper)
        # Timed for information only (no goal): the same install with an old pip's script,
        # and the developer's .venv (a wheel install from tests/run.sh, or an editable one with
        # BBTOKEN_EDITABLE=1).
        others = {}
        if not args.helper:
            old_pip = helper.with_name(helper.name + "-old-pip")
            old_pip.write_text(SCRIPT_OLD_PIP.format(python=python))
            old_pip.chmod(0o755)
            others["bbtoken fill, pip < 25 script"] = old_pip
        floor = work / "floor-helper"
        floor.write_text(FLOOR_SCRIPT.format(python=python, token=TOKEN))
        floor.chmod(0o755)
        others[FLOOR] = floor
        dev = REPO / ".venv/bin/git-credential-bbtoken"
        if dev.exists() and dev.resolve() != helper:
            others[f"bbtoken fill, .venv {venv_install_kind(REPO / '.venv')}"] = dev
        return run(args.runs, work, libsecret, helper, python, others, proxy)
    except SetupError as exc:
        print(f"bench: setup failed: {exc}", file=sys.stderr)
        return 2
    finally:
        proxy.close()
        if keyring_daemon is not None:
            keyring_daemon.terminate()
            keyring_daemon.wait(timeout=10)


def venv_install_kind(venv: Path) -> str:
    """`editable` when the package is installed editable in `venv` (pip leaves a
    `__editable__.*` file in site-packages), else `wheel`."""
    return "editable" if any(venv.glob("lib/python*/site-packages/__editable__.*")) \
        else "wheel"


def start_keyring() -> subprocess.Popen:
    daemon = subprocess.Popen(["gnome-keyring-daemon", "--foreground", "--unlock",
                               "--components=secrets"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert daemon.stdin is not None
    daemon.stdin.write(KEYRING_PASSWORD.encode())
    daemon.stdin.close()
    sys.path.insert(0, str(REPO))
    from git_credential_bbtoken.storage import fastsecret

    deadline = time.monotonic() + 15
    while True:
        try:
            fastsecret.lookup("bench-probe", "nobody")
            return daemon
        except fastsecret.FastPathUnavailable as exc:
            if time.monotonic() > deadline:
                daemon.terminate()
                raise SetupError(f"gnome-keyring did not come up on the private bus ({exc})") \
                    from None
            time.sleep(0.1)


def build_libsecret(work: Path) -> Path:
    source = work / "libsecret"
    shutil.copytree(LIBSECRET_SRC, source)
    built = subprocess.run(["make"], cwd=source, capture_output=True, text=True)
    binary = source / "git-credential-libsecret"
    if built.returncode != 0 or not binary.exists():
        raise SetupError("building git-credential-libsecret failed (is libsecret-1-dev "
                         f"installed?):\n{built.stdout}{built.stderr}")
    return binary


def install_helper(work: Path, given: str | None) -> tuple[Path, Path]:
    """The helper script to time and the interpreter its first line names. By default a
    non-editable install of this checkout, as pipx makes one: the package copied into a
    fresh venv's site-packages and byte-compiled, pip's console script; its dependencies come
    from this interpreter's site-packages through a .pth path line."""
    if given:
        script = Path(given)
        first = script.read_text(encoding="utf-8").splitlines()[0]
        if not first.startswith("#!"):
            raise SetupError(f"{script} is not a script with a #! line")
        return script, Path(first[2:].strip().split()[0])
    venv = work / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin/python3"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    site_dir = Path(site.stdout.strip())
    shutil.copytree(REPO / "git_credential_bbtoken", site_dir / "git_credential_bbtoken",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([str(python), "-m", "compileall", "-q", str(site_dir)], check=True)
    import sysconfig

    (site_dir / "zz_bench_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    script = venv / "bin/git-credential-bbtoken"
    script.write_text(SCRIPT.format(python=python))
    script.chmod(0o755)
    return script, python


class CountingProxy:
    """A TCP listener that counts connections and drops them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.count = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


# -- measuring --------------------------------------------------------------------------------


def record(**pairs: str) -> bytes:
    return "".join(f"{k}={v}\n" for k, v in pairs.items()).encode() + b"\n"


def git(helper: str, action: str, *config: str) -> list[str]:
    return ["git", "-c", "credential.helper=", "-c", f"credential.helper={helper}", *config,
            "credential", action]


def measure(cmd: list[str], data: bytes, env: dict[str, str] | None = None
            ) -> tuple[float, float, float, bytes]:
    """Wall ms, CPU ms (user+sys, the process and its waited-for children) and peak RSS MiB
    (the largest of the process and its descendants) of one run, and its stdout."""
    # The peak RSS comes from /usr/bin/time: a direct child of this (large) Python process
    # would report this process's own size as its floor (Linux keeps the pre-exec maximum).
    timed = ["/usr/bin/time", "-f", "%M", "-o", RSS_FILE, *cmd] if HAVE_TIME else cmd
    start = time.perf_counter()
    proc = subprocess.Popen(timed, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(data)  # small: fits in the pipe
    proc.stdin.close()
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SetupError(f"{' '.join(cmd)} exited with {code}")
    if HAVE_TIME:
        with open(RSS_FILE, encoding="ascii") as handle:
            rss_kib = int(handle.read().split()[-1])
    else:
        rss_kib = usage.ru_maxrss
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, rss_kib / 1024, out


def run(runs: int, work: Path, libsecret: Path, helper: Path, python: Path,
        others: dict[str, Path],
        proxy: CountingProxy) -> int:
    file_env = dict(os.environ, BBTOKEN_DATA_DIR=str(work / "file-store-data"))
    store_file = work / "git-credentials"
    fill_in = record(protocol="https", host="bitbucket.org")
    cred = record(protocol="https", host="bitbucket.org", username=USERNAME, password=TOKEN)
    file_fill_in = record(protocol="https", host="bitbucket.org", username="file-user")
    file_cred = record(protocol="https", host="bitbucket.org", username="file-user",
                       password=TOKEN)
    cases = {  # name: (command, stdin, env)
        "libsecret fill": (git(str(libsecret), "fill"), fill_in, None),
        "bbtoken fill": (git(str(helper), "fill"), fill_in, None),
        "keyring.get_password": ([str(python), "-c", "import keyring; keyring.get_password("
                                  f"{SERVICE!r}, {USERNAME!r})"], b"", None),
        "credential-store fill": (git(f"store --file {store_file}", "fill"), file_fill_in,
                                  None),
        "bbtoken fill (file)": (git(str(helper), "fill", "-c", "bbtoken.store=file"),
                                file_fill_in, file_env),
        "bbtoken store unchanged": (git(str(helper), "approve"), cred, None),
        "bbtoken get (direct)": ([str(helper), "get"], fill_in, None),
    }
    for name, script in others.items():
        cases[name] = (git(str(script), "fill"), file_fill_in if name == FLOOR else fill_in,
                       None)

    # Store one credential through each helper, then check each answers with it.
    for cmd, data, env in [(git(str(libsecret), "approve"), cred, None),
                           (git(str(helper), "approve"), cred, None),
                           (git(f"store --file {store_file}", "approve"), file_cred, None),
                           (git(str(helper), "approve", "-c", "bbtoken.store=file"), file_cred,
                            file_env)]:
        measure(cmd, data, env)
    for name, (cmd, data, env) in list(cases.items()):
        if "fill" in name or "direct" in name:
            try:
                out = measure(cmd, data, env)[3].decode()
            except SetupError as exc:
                out = str(exc)
            if f"password={TOKEN}\n" not in out:
                if name in others:  # informational only
                    print(f"bench: dropped '{name}': it did not answer ({out.strip()})")
                    del cases[name]
                    continue
                raise SetupError(f"{name} did not answer with the stored token")

    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in cases}
    store_requests = 0
    for _ in range(2):  # warm-up: page cache, .pyc, the keyring daemon
        for cmd, data, env in cases.values():
            measure(cmd, data, env)
    for _ in range(runs):  # alternately: A B C ... A B C ...
        for name, (cmd, data, env) in cases.items():
            before = proxy.count
            results[name].append(measure(cmd, data, env)[:3])
            if name == "bbtoken store unchanged":
                store_requests += proxy.count - before

    return report(runs, results, store_requests)


def report(runs: int, results: dict[str, list[tuple[float, float, float]]],
           store_requests: int) -> int:
    med = {name: statistics.median(r[0] for r in rows) for name, rows in results.items()}
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    load = os.getloadavg()
    print(f"bbtoken bench, {datetime.date.today().isoformat()}, {os.cpu_count()} cores "
          f"({platform.processor() or platform.machine()}), load {load[0]:.2f}, "
          f"Python {platform.python_version()}, {git_version.strip()}, {runs} runs each, "
          "alternating")
    print()
    print(f"| {'what (wall time, ms)':34} | median |    min |    max | CPU med | peak RSS |")
    print(f"|{'-' * 36}|-------:|-------:|-------:|--------:|---------:|")
    for name, rows in results.items():
        walls = [r[0] for r in rows]
        cpu = statistics.median(r[1] for r in rows)
        rss = max(r[2] for r in rows)
        print(f"| {name:34} | {med[name]:6.1f} | {min(walls):6.1f} | {max(walls):6.1f} | "
              f"{cpu:7.1f} | {rss:4.1f} MiB |")
    ratios = {
        "keyring_vs_libsecret": med["bbtoken fill"] / med["libsecret fill"],
        "python_vs_bbtoken": med["keyring.get_password"] / med["bbtoken fill"],
        "file_vs_store": med["bbtoken fill (file)"] / med["credential-store fill"],
        "store_vs_get": med["bbtoken store unchanged"] / med["bbtoken fill"],
    }
    peak = max(r[2] for r in results["bbtoken get (direct)"])
    print()
    missed = 0
    for label, key, limit, sense in GOALS:
        ok = ratios[key] <= limit if sense == "max" else ratios[key] >= limit
        missed += not ok
        bound = f"<= {limit:g}x" if sense == "max" else f">= {limit:g}x"
        print(f"{'ok    ' if ok else 'MISSED'} {label}: {ratios[key]:.2f}x (goal {bound})")
        if key == "file_vs_store" and FLOOR in med:
            floor = med[FLOOR] / med["credential-store fill"]
            print(f"       (the floor, a Python helper that only answers: {floor:.2f}x"
                  f"{'; this goal is out of reach for a Python helper' if floor > limit else ''})")
    ok = peak <= PEAK_RSS_LIMIT_MIB
    missed += not ok
    print(f"{'ok    ' if ok else 'MISSED'} peak RSS of a bbtoken get: {peak:.1f} MiB "
          f"(goal <= {PEAK_RSS_LIMIT_MIB:g} MiB)")
    ok = store_requests == 0
    missed += not ok
    print(f"{'ok    ' if ok else 'MISSED'} network connections during unchanged stores: "
          f"{store_requests} (goal 0)")
    print()
    print("all goals met" if not missed else f"{missed} goal(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
