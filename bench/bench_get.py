#!/usr/bin/env python3
"""Benchmark: `git credential fill` through git-credential-bbtoken vs git's own helpers.

Run with the project's venv interpreter (it provides keyring for the helper's install):

    .venv/bin/python bench/bench_get.py [-n 30] [--helper PATH] [--keep]

See bench/README.md. Exit status: 0 all goals met, 1 a goal missed, 2 the setup failed.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime
import os
import platform
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

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
BY_NAME = "bbtoken fill, keyring by name"
BY_NAME_ENV = {"KEYRING_PROPERTY_PREFERRED_COLLECTION":
               "/org/freedesktop/secrets/aliases/default"}

GOALS = [  # (label, ratio key, limit, "max" means ratio <= limit, "min" ratio >= limit)
    ("bbtoken fill / libsecret fill", "keyring_vs_libsecret", 1.5, "max"),
    ("keyring.get_password process / bbtoken fill", "python_vs_bbtoken", 4.0, "min"),
    ("bbtoken fill (file store) / floor", "file_vs_floor", 1.35, "max"),
    ("bbtoken store unchanged / bbtoken fill", "store_vs_get", 2.0, "max"),
]
# Issue "Zero bare 403s": a repository already known costs what a plain fill costs. "The same"
# is read as within this ratio of the `bbtoken fill` row (noise on a shared machine).
KNOWN = "bbtoken get, repository known"
PROBE = "bbtoken get, first use (probe)"
KNOWN_LIMIT = 1.1
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


@dataclasses.dataclass
class Setup:
    """What the cases are made of: the helpers to time and where the network goes."""

    work: Path
    libsecret: Path
    helper: Path
    python: Path
    floor: Path
    extras: dict[str, Path]  # timed for information only: name -> helper script
    proxy: CountingProxy
    server: InfoRefsServer


def inner(args: argparse.Namespace, work: Path) -> int:
    keyring_daemon = None
    proxy = CountingProxy()
    server = None
    try:
        keyring_daemon = start_keyring()
        # Any HTTPS request the helper makes goes to this proxy, which counts and drops it
        # (the first-use rows alone bypass it for the local server, see first_use_cases).
        os.environ.update({"HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url,
                           "https_proxy": proxy.url, "http_proxy": proxy.url, "NO_PROXY": ""})
        libsecret = build_libsecret(work)
        helper, python = install_helper(work, args.helper)
        server = InfoRefsServer(work / "certs")
        setup = Setup(work, libsecret, helper, python, write_script(
            work / "floor-helper", FLOOR_SCRIPT.format(python=python, token=TOKEN)),
            extra_helpers(helper, python, args.helper), proxy, server)
        return run(args.runs, setup)
    except SetupError as exc:
        print(f"bench: setup failed: {exc}", file=sys.stderr)
        return 2
    finally:
        proxy.close()
        if server is not None:
            server.close()
        if keyring_daemon is not None:
            keyring_daemon.terminate()
            keyring_daemon.wait(timeout=10)


def write_script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def extra_helpers(helper: Path, python: Path, given: str | None) -> dict[str, Path]:
    """Timed for information only (no goal): the same install with an old pip's script, and
    the developer's .venv (a wheel install from tests/run.sh, or an editable one with
    BBTOKEN_EDITABLE=1)."""
    extras = {}
    if not given:
        extras["bbtoken fill, pip < 25 script"] = write_script(
            helper.with_name(helper.name + "-old-pip"), SCRIPT_OLD_PIP.format(python=python))
    dev = REPO / ".venv/bin/git-credential-bbtoken"
    if dev.exists() and dev.resolve() != helper:
        extras[f"bbtoken fill, .venv {venv_install_kind(REPO / '.venv')}"] = dev
    return extras


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


class InfoRefsServer:
    """A Bitbucket-like HTTPS server on 127.0.0.1, in a thread of this process: it answers
    `GET /WS/REPO.git/info/refs?service=git-upload-pack` (or receive-pack) with 200 and a
    ref advertisement when the Basic credential is the bench's token, 401 without it, 404 for
    anything else. Its certificate comes from tests/rig/certs.py (the openssl CLI); git and
    the helper trust its CA through http.sslCAInfo. It counts connections and answered
    info/refs requests."""

    def __init__(self, folder: Path) -> None:
        sys.path.insert(0, str(REPO / "tests"))
        from rig.certs import make_certificates

        try:
            certs = make_certificates(folder)
        except (OSError, RuntimeError) as exc:
            raise SetupError(f"making a test certificate with openssl failed: {exc}") from None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs.cert_file, certs.key_file)
        self.ca_file = certs.ca_file
        self.connections = 0
        self.info_refs = 0
        self.lock = threading.Lock()
        self.httpd = _TLSServer(context, self)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return self.connections, self.info_refs

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext, owner: InfoRefsServer) -> None:
        self.context = context
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _InfoRefsHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        with self.owner.lock:
            self.owner.connections += 1
        # The handshake runs in the request's thread (the handler's setup), bounded there.
        return self.context.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-handshake is no reason to print a traceback


class _InfoRefsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _TLSServer
    timeout = 5  # bounded: a client that says nothing is dropped
    AUTH = "Basic " + base64.b64encode(f"{USERNAME}:{TOKEN}".encode()).decode()

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
        super().setup()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path, _, query = self.path.partition("?")
        service = query.removeprefix("service=")
        if not path.endswith(".git/info/refs") or service not in ("git-upload-pack",
                                                                  "git-receive-pack"):
            self._answer(404, "text/plain", b"Not Found")
        elif self.headers.get("Authorization") != self.AUTH:
            self._answer(401, "text/plain", b"Unauthorized",
                         [("WWW-Authenticate", 'Basic realm="Bitbucket.org HTTP"')])
        else:
            with self.server.owner.lock:
                self.server.owner.info_refs += 1
            head = f"# service={service}\n"
            body = (f"{len(head) + 4:04x}{head}0000" + "0000").encode()
            self._answer(200, f"application/x-{service}-advertisement", body)

    def _answer(self, status: int, content_type: str, body: bytes,
                headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers or []:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


# -- measuring --------------------------------------------------------------------------------


GET_TABLE = "get"
FIRST_USE_TABLE = "first use"


@dataclasses.dataclass
class Case:
    """One row: a command git (or a person) runs, what it reads, and how it is checked."""

    name: str
    cmd: list[str]
    data: bytes
    env: dict[str, str] | None = None
    answers: bool = True    # its output must carry the stored token
    optional: bool = False  # information only: dropped (with a note) when it does not answer
    table: str = GET_TABLE
    before: Callable[[], None] | None = None  # untimed, before each of its runs


@dataclasses.dataclass
class Tally:
    """One row's runs: (wall ms, CPU ms, peak RSS MiB) each, and the network they used."""

    samples: list[tuple[float, float, float]] = dataclasses.field(default_factory=list)
    proxied: int = 0    # connections to the counting proxy (dropped there)
    served: int = 0     # connections to the local Bitbucket-like server
    info_refs: int = 0  # info/refs requests it answered


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


def run(runs: int, setup: Setup) -> int:
    cases = get_cases(setup) + first_use_cases(setup)
    cases = check_answers(cases)
    tallies = measure_cases(cases, runs, setup)
    return report(runs, cases, tallies)


def get_cases(s: Setup) -> list[Case]:
    """The `get` rows (issue 5), with one credential stored through each helper first."""
    file_env = dict(os.environ, BBTOKEN_DATA_DIR=str(s.work / "file-store-data"))
    store_file = s.work / "git-credentials"
    fill_in = record(protocol="https", host="bitbucket.org")
    cred = record(protocol="https", host="bitbucket.org", username=USERNAME, password=TOKEN)
    file_fill_in = record(protocol="https", host="bitbucket.org", username="file-user")
    file_cred = record(protocol="https", host="bitbucket.org", username="file-user",
                       password=TOKEN)
    helper, file_store = str(s.helper), ("-c", "bbtoken.store=file")
    for cmd, data, env in [(git(str(s.libsecret), "approve"), cred, None),
                           (git(helper, "approve"), cred, None),
                           (git(f"store --file {store_file}", "approve"), file_cred, None),
                           (git(helper, "approve", *file_store), file_cred, file_env)]:
        measure(cmd, data, env)
    keyring_get = (f"import keyring; keyring.get_password({SERVICE!r}, {USERNAME!r})")
    cases = [
        Case("libsecret fill", git(str(s.libsecret), "fill"), fill_in),
        Case("bbtoken fill", git(helper, "fill"), fill_in),
        # The D-Bus fast path off (it cannot honour a keyring property): keyring reads, with
        # the backend that stored the token loaded by name, as on macOS and Windows.
        Case(BY_NAME, git(helper, "fill"), fill_in, dict(os.environ, **BY_NAME_ENV)),
        Case("keyring.get_password", [str(s.python), "-c", keyring_get], b"", answers=False),
        Case("credential-store fill", git(f"store --file {store_file}", "fill"), file_fill_in),
        Case("bbtoken fill (file)", git(helper, "fill", *file_store), file_fill_in, file_env),
        Case(FLOOR, git(str(s.floor), "fill"), file_fill_in),
        Case("bbtoken store unchanged", git(helper, "approve"), cred, answers=False),
        Case("bbtoken get (direct)", [helper, "get"], fill_in),
    ]
    cases += [Case(name, git(str(script), "fill"), fill_in, optional=True)
              for name, script in s.extras.items()]
    return cases


def first_use_cases(s: Setup) -> list[Case]:
    """The rows of issue "Zero bare 403s": a `fill` with a repository path (useHttpPath) for
    the local Bitbucket-kind server, through a token stored for the repository's workspace.
    "known": the entry already knows the repository (its first fill, here, probed and kept
    the answer). "first use": before each run the credential is rejected and stored again
    (untimed) through another repository of the workspace (a store keeps what its own check
    learnt of the repository it names), so every timed run starts with the repository
    unknown and makes its probe."""
    host = s.server.url.removeprefix("https://")
    config = ("-c", "credential.useHttpPath=true", "-c", f"http.sslCAInfo={s.server.ca_file}",
              "-c", f"bbtoken.{s.server.url}.kind=cloud")
    # Straight to the local server (never through the counting proxy), so a probe is real;
    # the server counts every connection instead.
    env = dict(os.environ, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    helper = str(s.helper)

    def fill_in(workspace: str) -> bytes:
        return record(protocol="https", host=host, path=f"{workspace}/repo.git")

    def cred(workspace: str, repo: str = "repo") -> bytes:
        return record(protocol="https", host=host, path=f"{workspace}/{repo}.git",
                      username=USERNAME, password=TOKEN)

    def forget_probed() -> None:
        measure(git(helper, "reject", *config), cred("probe"), env)
        measure(git(helper, "approve", *config), cred("probe", "other"), env)

    measure(git(helper, "approve", *config), cred("known"), env)
    measure(git(helper, "fill", *config), fill_in("known"), env)  # the first use: probed
    return [
        Case(KNOWN, git(helper, "fill", *config), fill_in("known"), env,
             table=FIRST_USE_TABLE),
        Case(PROBE, git(helper, "fill", *config), fill_in("probe"), env,
             table=FIRST_USE_TABLE, before=forget_probed),
    ]


def check_answers(cases: list[Case]) -> list[Case]:
    """Each row that answers must answer with the stored token: an optional row that does
    not is dropped (with a note), any other is a setup failure."""
    kept = []
    for case in cases:
        if case.answers:
            if case.before is not None:
                case.before()
            try:
                out = measure(case.cmd, case.data, case.env)[3].decode()
            except SetupError as exc:
                out = str(exc)
            if f"password={TOKEN}\n" not in out:
                if not case.optional:
                    raise SetupError(f"{case.name} did not answer with the stored token")
                print(f"bench: dropped '{case.name}': it did not answer ({out.strip()})")
                continue
        kept.append(case)
    return kept


def measure_cases(cases: list[Case], runs: int, s: Setup) -> dict[str, Tally]:
    """Two untimed warm-up rounds (page cache, .pyc, the keyring daemon), then `runs` rounds
    alternately (A B C ... A B C ...); each run's network use is counted."""
    for _ in range(2):
        for case in cases:
            if case.before is not None:
                case.before()
            measure(case.cmd, case.data, case.env)
    tallies = {case.name: Tally() for case in cases}
    for _ in range(runs):
        for case in cases:
            if case.before is not None:
                case.before()
            tally = tallies[case.name]
            proxied, (served, info_refs) = s.proxy.count, s.server.counts()
            tally.samples.append(measure(case.cmd, case.data, case.env)[:3])
            after = s.server.counts()
            tally.proxied += s.proxy.count - proxied
            tally.served += after[0] - served
            tally.info_refs += after[1] - info_refs
    return tallies


# -- reporting --------------------------------------------------------------------------------


def report(runs: int, cases: list[Case], tallies: dict[str, Tally]) -> int:
    med = {name: statistics.median(r[0] for r in t.samples) for name, t in tallies.items()}
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    load = os.getloadavg()
    print(f"bbtoken bench, {datetime.date.today().isoformat()}, {os.cpu_count()} cores "
          f"({platform.processor() or platform.machine()}), load {load[0]:.2f}, "
          f"Python {platform.python_version()}, {git_version.strip()}, {runs} runs each, "
          "alternating")
    print()
    print_table([c.name for c in cases if c.table == GET_TABLE], tallies, med)
    print()
    missed = get_goals(tallies, med)
    print()
    print('Issue "Zero bare 403s": a fill with a repository path (useHttpPath), through a '
          "token stored for its workspace")
    print()
    print_table([c.name for c in cases if c.table == FIRST_USE_TABLE], tallies, med)
    print()
    missed += first_use_goals(runs, tallies, med)
    print()
    print("all goals met" if not missed else f"{missed} goal(s) missed")
    return 1 if missed else 0


def print_table(names: list[str], tallies: dict[str, Tally], med: dict[str, float]) -> None:
    print(f"| {'what (wall time, ms)':34} | median |    min |    max | CPU med | peak RSS |")
    print(f"|{'-' * 36}|-------:|-------:|-------:|--------:|---------:|")
    for name in names:
        rows = tallies[name].samples
        walls = [r[0] for r in rows]
        cpu = statistics.median(r[1] for r in rows)
        rss = max(r[2] for r in rows)
        print(f"| {name:34} | {med[name]:6.1f} | {min(walls):6.1f} | {max(walls):6.1f} | "
              f"{cpu:7.1f} | {rss:4.1f} MiB |")


def verdict(ok: bool, text: str) -> int:
    """Print one goal line; 1 when the goal is missed."""
    print(f"{'ok    ' if ok else 'MISSED'} {text}")
    return 0 if ok else 1


def get_goals(tallies: dict[str, Tally], med: dict[str, float]) -> int:
    """The `get` goals (issues 5 and "One house"); the number missed."""
    ratios = {
        "keyring_vs_libsecret": med["bbtoken fill"] / med["libsecret fill"],
        "python_vs_bbtoken": med["keyring.get_password"] / med["bbtoken fill"],
        "file_vs_floor": med["bbtoken fill (file)"] / med[FLOOR],
        "store_vs_get": med["bbtoken store unchanged"] / med["bbtoken fill"],
    }
    missed = 0
    for label, key, limit, sense in GOALS:
        ok = ratios[key] <= limit if sense == "max" else ratios[key] >= limit
        bound = f"<= {limit:g}x" if sense == "max" else f">= {limit:g}x"
        missed += verdict(ok, f"{label}: {ratios[key]:.3f}x (goal {bound})")
        if key == "file_vs_floor":
            store = med["credential-store fill"]
            print(f"       (information: bbtoken fill (file store) / credential-store fill: "
                  f"{med['bbtoken fill (file)'] / store:.2f}x; the floor / credential-store "
                  f"fill: {med[FLOOR] / store:.2f}x)")
    peak = max(r[2] for r in tallies["bbtoken get (direct)"].samples)
    missed += verdict(peak <= PEAK_RSS_LIMIT_MIB, f"peak RSS of a bbtoken get: {peak:.1f} MiB "
                      f"(goal <= {PEAK_RSS_LIMIT_MIB:g} MiB)")
    stores = tallies["bbtoken store unchanged"]
    connections = stores.proxied + stores.served
    missed += verdict(connections == 0, "network connections during unchanged stores: "
                      f"{connections} (goal 0)")
    return missed


def first_use_goals(runs: int, tallies: dict[str, Tally], med: dict[str, float]) -> int:
    """Issue "Zero bare 403s": a known repository costs a plain fill and no request; a first
    use costs one info/refs request (its time is information). The number missed."""
    known, probe = tallies[KNOWN], tallies[PROBE]
    ratio = med[KNOWN] / med["bbtoken fill"]
    missed = verdict(ratio <= KNOWN_LIMIT, f"{KNOWN} / bbtoken fill: {ratio:.3f}x "
                     f"(goal <= {KNOWN_LIMIT:g}x, the same)")
    connections = known.proxied + known.served
    missed += verdict(connections == 0, "network connections during repository-known gets: "
                      f"{connections} (goal 0)")
    missed += verdict(probe.info_refs == runs and probe.proxied == 0,
                      f"info/refs requests during first-use gets: {probe.info_refs} in {runs} "
                      f"runs over {probe.served} connections (goal one each)")
    print(f"       (information: the probe's cost, {PROBE} - bbtoken fill: "
          f"{med[PROBE] - med['bbtoken fill']:+.1f} ms, {med[PROBE] / med['bbtoken fill']:.2f}x)")
    return missed


if __name__ == "__main__":
    sys.exit(main())
