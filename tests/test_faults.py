"""Faults around the helper: the keyring, the metadata file, the disk, the lock, Bitbucket.

Each fault must end in bounded time with a short, clear message (no traceback, no "internal
error"), git must keep working (the next helper in git's list, or git's prompt, takes over:
shown with a fallback helper after bbtoken), and no stored credential may be lost or
half-written. Real processes throughout (the console script, git, gnome-keyring, the rig's
HTTPS server), except the lock-timeout test, which shortens the 30 s bound in-process.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest
from rig.certs import make_certificates
from rig.required import skip_or_fail
from rig.server import BitbucketServer

from git_credential_bbtoken import cli
from git_credential_bbtoken.console import Io
from git_credential_bbtoken.storage import metadata

SCRIPT = Path(sys.executable).parent / "git-credential-bbtoken"
GEN = "gen.example"  # a generic host: plain storage, no validation, silent in normal use
TOKEN = "ATATT-fault-token-0123456789abcdef"  # noqa: S105
FALLBACK = "!f() { echo username=fallback; echo password=fallback-pw; }; f"
READ = "read:repository:bitbucket"
WRITE = "write:repository:bitbucket"
USER = "read:user:bitbucket"


class Run:
    """One run of the helper. Its duration is not kept: a bound is shown by what the helper
    says and does (e.g. "did not answer in time" while the server is still silent), and each
    run's timeout only stops a hang."""

    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        self.returncode = result.returncode
        self.stdout = result.stdout
        self.stderr = result.stderr

    @property
    def answer(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.stdout.splitlines() if "=" in line)

    def clean(self, max_lines: int = 1) -> Run:
        """No traceback, no internal error, at most `max_lines` lines on stderr."""
        assert "Traceback" not in self.stderr, self.stderr
        assert "internal error" not in self.stderr, self.stderr
        assert len(self.stderr.splitlines()) <= max_lines, self.stderr
        return self


def bb(*args: str, input: str = "", env: dict[str, str] | None = None,
       timeout: float = 60) -> Run:
    result = subprocess.run([str(SCRIPT), *args], input=input, capture_output=True, text=True,
                            timeout=timeout, env=env)
    return Run(result)


def record(**fields: str) -> str:
    return "".join(f"{k}={v}\n" for k, v in fields.items()) + "\n"


def store(host: str = GEN, password: str = TOKEN, env: dict[str, str] | None = None,
          **extra: str) -> Run:
    return bb("store", input=record(protocol="https", host=host, username="u",
                                    password=password, **extra), env=env)


def get(host: str = GEN, env: dict[str, str] | None = None, **extra: str) -> Run:
    return bb("get", input=record(protocol="https", host=host, **extra), env=env)


def git_fill_with_fallback(host: str = GEN, env: dict[str, str] | None = None) -> dict[str, str]:
    """`git credential fill` with bbtoken first and another helper after it."""
    result = subprocess.run(
        ["git", "-c", "credential.helper=", "-c", "credential.helper=bbtoken",
         "-c", f"credential.helper={FALLBACK}", "credential", "fill"],
        input=record(protocol="https", host=host), capture_output=True, text=True, timeout=60,
        env=env)
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def data_dir() -> Path:
    override = os.environ.get("BBTOKEN_DATA_DIR")
    if override:
        return Path(override)
    return Path(os.environ["XDG_DATA_HOME"]) / "git-credential-bbtoken"


def metadata_bytes() -> bytes | None:
    path = data_dir() / "credentials.json"
    return path.read_bytes() if path.exists() else None


def entries() -> list[dict[str, object]]:
    raw = metadata_bytes()
    return json.loads(raw)["credentials"] if raw else []


def leftovers() -> list[str]:
    return [p.name for p in data_dir().iterdir() if p.name.endswith(".tmp")]


def our_items(secret_service: object) -> dict[str, str]:
    items = secret_service.items()  # type: ignore[attr-defined]
    return {i["attributes"].get("service", ""): i["secret"] for i in items
            if i["attributes"].get("service", "").startswith("git-credential-bbtoken")}


# -- the keyring -----------------------------------------------------------------------------


def test_locked_keyring(secret_service: object) -> None:
    assert store().clean(0).returncode == 0
    before = metadata_bytes()
    secret_service.lock()  # type: ignore[attr-defined]
    try:
        got = get().clean(1)
        # Answers nothing and says why, exiting 1 as git's libsecret helper does on an error
        # (git goes on to the next helper whatever the status).
        assert got.returncode == 1 and "password" not in got.answer
        assert "locked" in got.stderr
        assert git_fill_with_fallback()["password"] == "fallback-pw"
        put = store(password="ATATT-new-while-locked").clean(1)
        assert put.returncode == 1 and "locked" in put.stderr
        assert metadata_bytes() == before
    finally:
        secret_service.unlock()  # type: ignore[attr-defined]
    assert get().answer["password"] == TOKEN


def test_no_secret_service(no_keyring: None) -> None:
    got = get().clean(0)
    assert got.returncode == 0 and got.stdout == ""
    assert git_fill_with_fallback()["password"] == "fallback-pw"
    put = store().clean(1)
    assert put.returncode == 1
    assert "no keyring is available" in put.stderr and "bbtoken.store file" in put.stderr
    assert metadata_bytes() is None


class FakeBus:
    """A unix socket where the session bus should be: it hangs up at once ("close"), or
    accepts and never says a word ("hang") — a Secret Service gone away mid-call, or stuck."""

    def __init__(self, path: Path, mode: str) -> None:
        self.path = path
        self.mode = mode
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(64)
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.mode == "close":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                self.held.append(conn)

    def close(self) -> None:
        stop_listening(self.sock, self.thread)
        for conn in self.held:
            conn.close()


def stop_listening(sock: socket.socket, thread: threading.Thread) -> None:
    """Wake the thread blocked in accept() before closing the socket. Closing alone leaves it
    waiting on the fd number, which the next test's server soon reuses: the stale thread then
    accepts (and here resets) that server's connections."""
    try:
        sock.shutdown(socket.SHUT_RDWR)  # accept() returns EINVAL
    except OSError:
        pass
    thread.join(timeout=10)
    sock.close()


@pytest.mark.parametrize("mode", ["close", "hang"])
def test_secret_service_gone_or_hung_mid_way(mode: str, secret_service: object,
                                             tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert store().clean(0).returncode == 0
    before = metadata_bytes()
    real_bus = os.environ["DBUS_SESSION_BUS_ADDRESS"]
    bus = FakeBus(tmp_path / "bus", mode)
    try:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={bus.path}")
        # A bus that never answers must not hang git. A guard, not a measurement: the
        # helper's own D-Bus bounds are a few seconds, far below it.
        got = bb("get", input=record(protocol="https", host=GEN), timeout=20).clean(1)
        assert got.returncode == 0 and "password" not in got.answer
        assert git_fill_with_fallback()["password"] == "fallback-pw"
        put = bb("store", input=record(protocol="https", host=GEN, username="u",
                                       password="ATATT-other"), timeout=20).clean(1)
        assert put.returncode == 1
        assert metadata_bytes() == before
    finally:
        bus.close()
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", real_bus)
    assert get().answer["password"] == TOKEN


FAILING_BACKEND = '''
"""A real keyring backend (PYTHON_KEYRING_BACKEND) that keeps secrets in a JSON file and
fails on demand: FAILING_KEYRING=write|read|all."""
import json, os
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordSetError

PATH = os.environ["FAILING_KEYRING_FILE"]

def _load():
    try:
        with open(PATH) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}

class Keyring(KeyringBackend):
    priority = 1

    def _fails(self, what):
        return os.environ.get("FAILING_KEYRING", "") in (what, "all")

    def get_password(self, service, username):
        if self._fails("read"):
            raise KeyringError("backend exploded while reading")
        return _load().get(service + "\\0" + username)

    def set_password(self, service, username, password):
        if self._fails("write"):
            raise PasswordSetError("disk quota exceeded in the vault")
        data = _load()
        data[service + "\\0" + username] = password
        with open(PATH, "w") as f:
            json.dump(data, f)

    def delete_password(self, service, username):
        if self._fails("write"):
            raise KeyringError("vault is read-only")
        data = _load()
        data.pop(service + "\\0" + username, None)
        with open(PATH, "w") as f:
            json.dump(data, f)
'''


@pytest.fixture
def failing_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "backend"
    folder.mkdir()
    (folder / "failing_keyring.py").write_text(FAILING_BACKEND)
    monkeypatch.setenv("PYTHONPATH", str(folder))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "failing_keyring.Keyring")
    monkeypatch.setenv("FAILING_KEYRING_FILE", str(tmp_path / "vault.json"))
    monkeypatch.setenv("FAILING_KEYRING", "")
    return tmp_path / "vault.json"


def test_keyring_raising_on_write_and_read(failing_keyring: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert store().clean(0).returncode == 0
    assert get().answer["password"] == TOKEN
    before, vault = metadata_bytes(), failing_keyring.read_bytes()
    monkeypatch.setenv("FAILING_KEYRING", "write")
    put = store(password="ATATT-replacement").clean(1)
    assert put.returncode == 1
    assert "could not write to the keyring" in put.stderr and "PasswordSetError" in put.stderr
    new_scope = store(host="other.example").clean(1)
    assert new_scope.returncode == 1
    assert (metadata_bytes(), failing_keyring.read_bytes()) == (before, vault)
    assert get().answer["password"] == TOKEN  # reading still works: nothing was lost
    monkeypatch.setenv("FAILING_KEYRING", "read")
    got = get().clean(1)
    assert got.returncode == 1 and "password" not in got.answer
    assert "could not read the keyring" in got.stderr
    assert git_fill_with_fallback()["password"] == "fallback-pw"
    monkeypatch.setenv("FAILING_KEYRING", "")
    assert get().answer["password"] == TOKEN


def test_keyring_refusing_a_delete_leaves_both_or_neither(failing_keyring: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    assert store().clean(0).returncode == 0
    monkeypatch.setenv("FAILING_KEYRING", "write")
    erase = bb("erase", input=record(protocol="https", host=GEN, username="u")).clean(1)
    assert erase.returncode == 1 and "could not delete from the keyring" in erase.stderr
    in_metadata = bool(entries())
    in_keyring = TOKEN in failing_keyring.read_text()
    assert in_metadata == in_keyring, (in_metadata, in_keyring)


# -- the metadata file -----------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "garbage", "wrong-shape", "empty"])
def test_damaged_metadata_is_set_aside(damage: str, secret_service: object) -> None:
    assert store().clean(0).returncode == 0
    assert store(host="two.example", password="ATATT-second").clean(0).returncode == 0
    path = data_dir() / "credentials.json"
    original = path.read_bytes()
    damaged = {"truncated": original[:len(original) // 2],
               "garbage": os.urandom(300),
               "wrong-shape": b'{"version": 1, "credentials": {"not": "a list"}}',
               "empty": b""}[damage]
    path.write_bytes(damaged)
    got = get().clean(1)
    assert got.returncode == 0 and "password" not in got.answer
    assert "damaged" in got.stderr and "moved to" in got.stderr
    aside = [p for p in data_dir().iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == damaged  # kept for the user
    assert git_fill_with_fallback()["password"] == "fallback-pw"
    # The secrets are untouched; storing again works at once.
    assert set(our_items(secret_service).values()) == {TOKEN, "ATATT-second"}
    assert store().clean(0).returncode == 0
    assert get().clean(0).answer["password"] == TOKEN


def test_metadata_entry_with_a_wrong_typed_field(secret_service: object) -> None:
    assert store().clean(0).returncode == 0
    path = data_dir() / "credentials.json"
    document = json.loads(path.read_bytes())
    document["credentials"][0]["expiry"] = "soon"
    document["credentials"][0]["validation"] = ["not", "a", "dict"]
    path.write_text(json.dumps(document))
    for run in (get(kind="x"), bb("list"), bb("list", "--json")):
        run.clean(1)


def test_unreadable_metadata(secret_service: object) -> None:
    assert store().clean(0).returncode == 0
    path = data_dir() / "credentials.json"
    original = path.read_bytes()
    if os.geteuid() == 0:
        # root reads a chmod 000 file anyway: a directory in its place is unreadable to all.
        path.unlink()
        path.mkdir()
    else:
        path.chmod(0)
    try:
        got = get().clean(1)
        assert got.returncode == 1 and "password" not in got.answer
        assert "cannot read" in got.stderr
        assert git_fill_with_fallback()["password"] == "fallback-pw"
        put = store(password="ATATT-other").clean(1)
        assert put.returncode == 1 and "cannot read" in put.stderr
    finally:
        if path.is_dir():
            path.rmdir()
            path.write_bytes(original)
        else:
            path.chmod(0o600)
    assert get().answer["password"] == TOKEN


@pytest.fixture
def tiny_tmpfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 64 KiB tmpfs as the data dir (BBTOKEN_DATA_DIR): a disk we can fill or make
    read-only for real. Needs root and a kernel that lets us mount; skipped otherwise, except
    where BBTOKEN_REQUIRE_TMPFS=1 or BBTOKEN_REQUIRE_ALL=1 (CI)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs",
                             str(mount)], capture_output=True, text=True)
    if result.returncode != 0:
        skip_or_fail(f"cannot mount a tmpfs here ({result.stderr.strip()}): the read-only and "
                     "full-disk faults need one (root, and a container allowed to mount)",
                     "TMPFS")
    monkeypatch.setenv("BBTOKEN_DATA_DIR", str(mount / "bbtoken"))
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _remount(mount: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mount)], check=True)


def test_read_only_disk_get_still_serves(tiny_tmpfs: Path, secret_service: object) -> None:
    assert store().clean(0).returncode == 0
    _remount(tiny_tmpfs, "ro")
    assert get().clean(0).answer["password"] == TOKEN


def test_read_only_disk_store_says_one_line(tiny_tmpfs: Path, secret_service: object) -> None:
    assert store().clean(0).returncode == 0
    before = metadata_bytes()
    _remount(tiny_tmpfs, "ro")
    put = store(host="other.example").clean(1)
    assert put.returncode == 1 and "read-only" in put.stderr.lower()
    assert metadata_bytes() == before


def _fill(mount: Path) -> None:
    fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def test_full_disk_new_credential(tiny_tmpfs: Path, secret_service: object) -> None:
    assert store().clean(0).returncode == 0
    before = metadata_bytes()
    _fill(tiny_tmpfs)
    put = store(host="other.example", password="ATATT-no-room").clean(1)
    assert put.returncode == 1
    assert "No space left on device" in put.stderr and "nothing was changed" in put.stderr
    assert metadata_bytes() == before and leftovers() == []
    assert get().clean(0).answer["password"] == TOKEN  # the old one is intact
    assert "password" not in get(host="other.example").answer
    (tiny_tmpfs / "filler").unlink()
    assert store(host="other.example", password="ATATT-no-room").clean(0).returncode == 0
    assert get(host="other.example").answer["password"] == "ATATT-no-room"


def test_full_disk_replacing_a_token_changes_nothing(tiny_tmpfs: Path,
                                                     secret_service: object) -> None:
    assert store().clean(0).returncode == 0
    _fill(tiny_tmpfs)
    put = store(password="ATATT-replacement").clean(1)
    assert put.returncode == 1 and "nothing was changed" in put.stderr
    assert get().answer["password"] == TOKEN


# -- the writers' lock -----------------------------------------------------------------------


def _in_process(action: str, data: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    stdout, stderr = io.BytesIO(), io.StringIO()
    status = cli.main([action], Io(io.BytesIO(data.encode()), stdout, stderr))
    out = stdout.getvalue().decode()
    return Run(subprocess.CompletedProcess([action], status, out, stderr.getvalue()))


def test_lock_held_by_another_process(monkeypatch: pytest.MonkeyPatch) -> None:
    subprocess.run(["git", "config", "--global", "bbtoken.store", "file"], check=True)
    assert _in_process("store", record(protocol="https", host=GEN, username="u",
                                       password=TOKEN), monkeypatch).returncode == 0
    before = metadata_bytes()
    monkeypatch.setattr(metadata, "LOCK_TIMEOUT_SECONDS", 1.0)
    fd = os.open(data_dir() / "credentials.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another open file description: it conflicts like a process
    try:
        got = _in_process("get", record(protocol="https", host=GEN), monkeypatch).clean(0)
        # Readers take no lock: one that did would give up after LOCK_TIMEOUT_SECONDS with
        # a message, which clean(0) and the answer check would catch.
        assert got.answer["password"] == TOKEN
        put = _in_process("store", record(protocol="https", host=GEN, username="u",
                                          password="ATATT-late"), monkeypatch).clean(1)
        assert put.returncode == 1
        assert "another git-credential-bbtoken process has held" in put.stderr
        assert "nothing was changed" in put.stderr
        assert metadata_bytes() == before
    finally:
        os.close(fd)
    assert _in_process("get", record(protocol="https", host=GEN),
                       monkeypatch).answer["password"] == TOKEN


HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
if len(sys.argv) > 3:  # a writer's last act before it lets go: replace the metadata
    os.replace(sys.argv[3], os.path.join(os.path.dirname(sys.argv[1]), "credentials.json"))
"""


def _holder(seconds: float, then_write: Path | None = None) -> subprocess.Popen[str]:
    data_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(data_dir() / "credentials.lock"),
                             str(seconds), *([str(then_write)] if then_write else [])],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_writer_waits_for_a_short_lock(secret_service: object, tmp_path: Path) -> None:
    # The holder writes the metadata just before it lets go. A writer that waits for the lock
    # reads that and adds to it; one that did not wait would have read the file before and
    # had its own entry overwritten.
    assert store(host="other.example.org").clean(0).returncode == 0
    holders_version = tmp_path / "holders-credentials.json"
    holders_version.write_bytes(metadata_bytes() or b"")
    (data_dir() / "credentials.json").unlink()
    holder = _holder(1.5, then_write=holders_version)
    try:
        put = store().clean(0)
    finally:
        holder.wait(timeout=10)
        holder.stdout.close()  # type: ignore[union-attr]
    assert put.returncode == 0
    assert {e["host"] for e in entries()} == {"other.example.org", GEN}
    assert get().answer["password"] == TOKEN


def test_lock_of_a_killed_process_is_recovered(secret_service: object) -> None:
    holder = _holder(600)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    holder.stdout.close()  # type: ignore[union-attr]
    put = store().clean(0)
    assert put.returncode == 0  # not the 30 s wait and "held" error of a live holder
    assert get().answer["password"] == TOKEN


# -- Bitbucket -------------------------------------------------------------------------------


@pytest.fixture
def server(bitbucket: BitbucketServer, secret_service: object) -> BitbucketServer:
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    bitbucket.add_token(TOKEN, "alice", scopes=[READ, WRITE, USER])
    subprocess.run(["git", "config", "--global", "credential.useHttpPath", "true"], check=True)
    return bitbucket


def _host(server: BitbucketServer) -> str:
    return server.url.split("://", 1)[1]


def _served_offline(server: BitbucketServer) -> None:
    """The token stored despite the fault is served by get. The check did not answer, so the
    repository is not known yet: the first get asks Bitbucket once, what git is about to ask
    (contract §3); from then on it is known and get asks nothing."""
    server.clear_log()
    got = get(host=_host(server), path="acme/widgets.git").clean(0)
    assert got.answer["password"] == TOKEN
    # At most that one request (none reaches the server while its TLS still fails).
    assert [(r.path, r.query) for r in server.requests] in (
        [], [("/acme/widgets.git/info/refs", "service=git-upload-pack")])
    server.clear_log()
    again = get(host=_host(server), path="acme/widgets.git").clean(0)
    assert again.answer["password"] == TOKEN
    assert server.requests == []


def test_bitbucket_slow_beyond_the_bound(server: BitbucketServer) -> None:
    server.git_delay = 30
    put = bb("store", input=record(protocol="https", host=_host(server),
                                   path="acme/widgets.git", username="alice",
                                   password=TOKEN)).clean(6)
    assert put.returncode == 0
    assert "did not answer in time" in put.stderr or "time limit" in put.stderr
    server.git_delay = 0
    _served_offline(server)


def test_bitbucket_rest_slow_on_login(server: BitbucketServer) -> None:
    server.rest_delay = 30
    login = bb("login", server.url, "--email", "alice@example.com", "--token-stdin",
               input=TOKEN + "\n").clean(8)
    assert login.returncode == 0
    assert "did not answer in time" in login.stderr
    server.rest_delay = 0


class ResettingServer:
    """Accepts TCP connections and resets them at once (RST), as a broken proxy does."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()


def test_bitbucket_resetting_connections(secret_service: object) -> None:
    resetter = ResettingServer()
    host = f"127.0.0.1:{resetter.port}"
    for key, value in ((f"bbtoken.https://{host}.kind", "cloud"),
                       (f"bbtoken.https://{host}.apiUrl", f"https://{host}/2.0")):
        subprocess.run(["git", "config", "--global", key, value], check=True)
    try:
        login = bb("login", f"https://{host}/acme/widgets", "--email", "a@example.com",
                   "--token-stdin", input=TOKEN + "\n").clean(8)
        assert login.returncode == 0
        assert "could not connect" in login.stderr
        assert get(host=host, path="acme/widgets.git").answer["password"] == TOKEN
    finally:
        stop_listening(resetter.sock, resetter.thread)


def test_bitbucket_tls_failure(server: BitbucketServer, tmp_path: Path) -> None:
    other_ca = make_certificates(tmp_path / "other-ca").ca_file
    subprocess.run(["git", "config", "--global", "http.sslCAInfo", other_ca], check=True)
    login = bb("login", f"{server.url}/acme/widgets", "--email", "alice@example.com",
               "--token-stdin", input=TOKEN + "\n").clean(8)
    assert login.returncode == 0
    assert "TLS certificate check failed" in login.stderr
    assert all(r.path == "" for r in server.requests) or server.requests == []
    _served_offline(server)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_bitbucket_rate_limit_and_server_errors(status: int, server: BitbucketServer) -> None:
    server.rest_status_override = status
    login = bb("login", server.url, "--email", "alice@example.com", "--token-stdin",
               input=TOKEN + "\n").clean(8)
    assert login.returncode == 0
    if status == 429:
        assert "30" in login.stderr and "rate" in login.stderr.lower()
    else:
        assert f"answered {status}" in login.stderr
    assert any(r.surface == "rest" and r.status == status for r in server.requests)
    rows = json.loads(bb("list", "--json").stdout)["credentials"]
    assert [r["url"] for r in rows] == [server.url]
