"""The metadata file: what is kept about each credential except its secret.

One small JSON file, 0600 in a 0700 folder under platformdirs' user data dir. Readers read it
without a lock: writers replace it atomically (write a temporary file, fsync, rename), so a
reader sees the old file or the new one, never half of one. Writers hold an exclusive lock on a
separate lock file for the whole read-modify-write, so parallel git processes never lose an
entry. The OS drops the lock when a process dies, so a killed process leaves nothing to clean.

A file that is not valid JSON is set aside (renamed, kept for the user) and reported in one
line; the helper goes on as if it were empty.
"""

from __future__ import annotations

import os
import sys
import time

from git_credential_bbtoken import debug, jsonread
from git_credential_bbtoken.errors import BbtokenError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Callable

log = debug.getLogger(__name__)

FILE_NAME = "credentials.json"
LOCK_NAME = "credentials.lock"
FORMAT_VERSION = 1
LOCK_TIMEOUT_SECONDS = 30.0  # generous: 50 parallel git processes on 2 cores queue for seconds


class MetadataError(BbtokenError):
    """The metadata could not be read or written; the message is one line for the user."""


def data_dir() -> str:
    """Where the helper keeps its files: BBTOKEN_DATA_DIR, else platformdirs' user data dir.
    On Linux that is computed here exactly as platformdirs does (XDG_DATA_HOME, else
    ~/.local/share), which spares the hot path its import."""
    override = os.environ.get("BBTOKEN_DATA_DIR")
    if override:
        return override
    if sys.platform.startswith("linux"):
        base = os.environ.get("XDG_DATA_HOME", "").strip() or os.path.expanduser(
            "~/.local/share")
        return os.path.join(base, "git-credential-bbtoken")
    import platformdirs

    return str(platformdirs.user_data_dir("git-credential-bbtoken", appauthor=False))


# Opened for writing: never through a symlink someone planted, never inherited by children.
_WRITE_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def check_private(path: str, stat: os.stat_result, others_may_read: bool = True) -> None:
    """Refuse, as ssh does, a file or folder of ours that another user owns or that others
    may write (or, for secrets, read): its content could be planted. POSIX only."""
    if os.name != "posix":
        return
    forbidden = 0o022 if others_may_read else 0o077
    if stat.st_uid != os.getuid():
        problem = "belongs to another user"
    elif stat.st_mode & forbidden:
        problem = f"is open to other users (mode {stat.st_mode & 0o777:o})"
    else:
        return
    raise MetadataError(f"refusing to use {path}: it {problem}; nothing was read (fix: chown "
                        f"it to yourself and chmod {'go-w' if others_may_read else 'go-rwx'} "
                        "it)")


def open_private(path: str, others_may_read: bool = True) -> BinaryIO:
    """`path` opened for reading after checking it and its folder (see check_private)."""
    check_private(os.path.dirname(path), os.stat(os.path.dirname(path)))
    handle = open(path, "rb")  # noqa: SIM115 - returned to the caller
    try:
        check_private(path, os.fstat(handle.fileno()), others_may_read)
    except BaseException:
        handle.close()
        raise
    return handle


def ensure_private_dir(path: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)
    if os.name == "posix" and (os.stat(path).st_mode & 0o777) != 0o700:
        os.chmod(path, 0o700)


class MetadataFile:
    def __init__(self, directory: str, warn: Callable[[str], None]):
        self.directory = directory
        self.path = os.path.join(directory, FILE_NAME)
        self.lock_path = os.path.join(directory, LOCK_NAME)
        self._warn = warn

    # -- reading --------------------------------------------------------------------------

    def read(self, holding_lock: bool = False) -> list[dict[str, Any]]:
        """The stored entries; a missing file means none. Damaged content reads as none and
        is set aside under the lock, unless a writer repaired it meanwhile; a reader never
        waits for the lock: while a writer holds it, the writer's file is the one to read."""
        try:
            with open_private(self.path) as handle:
                raw = handle.read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise MetadataError(f"cannot read {self.path}: {exc.strerror}") from None
        entries = _parse(raw)
        if entries is not None:
            return entries
        if not holding_lock:
            lock = _Lock(self.directory, self.lock_path, wait=False)
            if not lock.acquire():
                return []  # a writer is at work and will leave a whole file
            try:
                return self.read(holding_lock=True)
            finally:
                lock.release()
        self._set_aside()
        return []

    def _set_aside(self) -> None:
        aside = f"{self.path}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
        os.replace(self.path, aside)
        self._warn(f"the credential list {self.path} was damaged; it was moved to "
                   f"{os.path.basename(aside)} "
                   "and a new one started (the secrets in the keyring are untouched)")

    # -- writing --------------------------------------------------------------------------

    def try_lock(self) -> _Lock | None:
        """The writers' lock if it is free right now, else None (never waits)."""
        lock = _Lock(self.directory, self.lock_path, wait=False)
        return lock if lock.acquire() else None

    def locked(self) -> _Lock:
        """Hold the writers' lock (bounded wait, then a clear error): `with file.locked():`."""
        return _Lock(self.directory, self.lock_path)

    def write(self, entries: list[dict[str, Any]]) -> None:
        """Replace the file atomically. The caller holds the lock."""
        import json  # only writers pay for it

        data = json.dumps({"version": FORMAT_VERSION, "credentials": entries}, indent=1,
                          sort_keys=True).encode("utf-8") + b"\n"
        write_private_file(self.path, data)


class _Lock:
    """The writers' lock as a context manager (no contextlib on the hot path)."""

    def __init__(self, directory: str, lock_path: str, wait: bool = True) -> None:
        self.directory = directory
        self.lock_path = lock_path
        self.wait = wait  # False: one try, for callers that must never wait (`get`)
        self.fd = -1

    def acquire(self) -> bool:
        """Take the lock: waiting at most LOCK_TIMEOUT_SECONDS (then MetadataError), or, with
        wait=False, trying once. False only when a no-wait try found it held."""
        try:
            ensure_private_dir(self.directory)
            self.fd = os.open(self.lock_path, _WRITE_FLAGS, 0o600)
        except OSError as exc:
            raise MetadataError(f"cannot lock {self.lock_path}: {exc.strerror}; nothing was "
                                "changed") from None
        try:
            if self.wait:
                _lock(self.fd, self.lock_path)
            elif not _try_lock(self.fd):
                os.close(self.fd)
                return False
        except BaseException:
            os.close(self.fd)
            raise
        return True

    def release(self) -> None:
        try:
            _unlock(self.fd)
        finally:
            os.close(self.fd)

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def write_private_file(path: str, data: bytes) -> None:
    """Replace `path` with `data` atomically, mode 0600 in a 0700 folder: written to a
    temporary file in the same folder, flushed to disk, then renamed over the old one."""
    import tempfile  # only writers pay for it

    folder = os.path.dirname(path)
    try:
        ensure_private_dir(folder)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                   dir=folder)
    except OSError as exc:
        raise MetadataError(f"cannot write in {folder}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:  # mkstemp creates it 0600
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise MetadataError(f"cannot write {path}: {exc.strerror}; nothing was changed") from None


def _parse(raw: bytes) -> list[dict[str, Any]] | None:
    """The entries of a file's content, or None when the content is damaged."""
    try:
        document = jsonread.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(document, dict):
        return None
    entries = document.get("credentials")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return None
    return entries


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _lock(fd: int, path: str) -> None:
    deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
    delay = 0.005
    while not _try_lock(fd):
        if time.monotonic() >= deadline:
            raise MetadataError(f"another git-credential-bbtoken process has held {path} for "
                                f"over {LOCK_TIMEOUT_SECONDS:.0f} s; nothing was changed "
                                "(try again; if it persists, check for a hung process)")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
