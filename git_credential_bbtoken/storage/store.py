"""Stored credentials: the metadata file and the secret store, kept in step.

An entry is identified by (protocol, host, path scope, username). Its secret lives in the
backend named in the entry (`keyring` or `file`); everything else (email, expiry, validation
results) lives in the metadata file. Writers hold the metadata lock across both, so that
parallel git processes leave the two in agreement; readers take no lock.
"""

from __future__ import annotations

import os

from git_credential_bbtoken import debug  # noqa: I001
from git_credential_bbtoken.storage.metadata import MetadataFile, data_dir
from git_credential_bbtoken.storage.secretstore import (
    FileSecrets,
    KeyringSecrets,
    SecretStoreError,
    service_name,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Union

    SecretBackend = Union[KeyringSecrets, FileSecrets]

log = debug.getLogger(__name__)

SECRETS_FILE_NAME = "tokens.json"
# How long a read through `keyring` may take (after the fast path's own 2 s), so that `get`
# answers within a few seconds even when the Secret Service hangs.
KEYRING_READ_SECONDS = 3.0
JOURNAL_USER = "bbtoken-rotate"  # the keyring user of a rotation's journal item


class Entry:
    """One stored credential, without its secret. A plain class (not a dataclass): this is
    read on every `get`, and `dataclasses` costs more to import than the lookup itself."""

    # name -> default; the order is the order of the constructor's arguments.
    DEFAULTS: dict[str, Any] = {
        "backend": "keyring",
        "keyring_backend": None,  # which keyring backend class stored the secret
        "kind": "generic",
        "email": None,
        "expiry": None,  # Unix seconds, as git's password_expiry_utc
        "has_refresh_token": False,
        "stored_at": None,
        "validation": None,  # what the last check learnt (checks.validation.Validation.to_dict())
        "expiry_warned_on": None,  # the day the last "expires soon" line was shown
        "authtype": None,  # "Bearer": a token git must send as `Authorization: Bearer`
        # What this token may do on each repository, learnt from Bitbucket: {"ws/repo":
        # {"clone": bool|None, "push": bool|None, ...}}; dropped with the token.
        "repositories": None,
        "rotating": None,  # the id of an unfinished `rotate` (see CredentialStore.rotate)
    }
    FIELDS = ("protocol", "host", "path", "username", *DEFAULTS)

    def __init__(self, protocol: str, host: str, path: str, username: str,
                 **optional: Any) -> None:
        self.protocol = protocol
        self.host = host
        self.path = path  # the scope: "" for the whole host, else a workspace, project or repo
        self.username = username
        unknown = set(optional) - set(self.DEFAULTS)
        if unknown:
            raise TypeError(f"unknown Entry fields: {sorted(unknown)}")
        for name, default in self.DEFAULTS.items():
            setattr(self, name, optional.get(name, default))

    # Declared for type checkers; set in __init__.
    backend: str
    keyring_backend: str | None
    kind: str
    email: str | None
    expiry: int | None
    has_refresh_token: bool
    stored_at: str | None
    validation: dict[str, Any] | None
    expiry_warned_on: str | None
    authtype: str | None
    repositories: dict[str, Any] | None
    rotating: str | None

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.host}" + (f"/{self.path}" if self.path else "")

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.protocol, self.host, self.path, self.username)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and self.to_dict() == other.to_dict()

    @property
    def who(self) -> str:
        """The username, in words for a person: a Bearer token goes without one."""
        return self.username or "no username, a Bearer token"

    def __repr__(self) -> str:
        return f"Entry({self.url!r}, username={self.username!r})"

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS
                if getattr(self, name) is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry | None:
        try:
            entry = cls(**{k: v for k, v in data.items() if k in cls.FIELDS})
        except TypeError:
            return None  # a damaged entry is skipped, the others still work
        if not all(isinstance(v, str) for v in entry.key):
            return None
        # A hand-edited field of the wrong type reads as unknown rather than crashing git.
        for name, default in cls.DEFAULTS.items():
            value = getattr(entry, name)
            expected = {"expiry": int, "has_refresh_token": bool, "validation": dict,
                        "repositories": dict}.get(name, str)
            wrong = (value is not None and not isinstance(value, expected)) or (
                expected is int and isinstance(value, bool))
            if wrong:
                setattr(entry, name, default)
        return entry


class CredentialStore:
    def __init__(self, warn: Callable[[str], None]) -> None:
        directory = data_dir()
        self.metadata = MetadataFile(directory, warn)
        self._backends: dict[str, SecretBackend] = {
            "keyring": KeyringSecrets(),
            "file": FileSecrets(os.path.join(directory, SECRETS_FILE_NAME)),
        }

    def backend(self, name: str) -> SecretBackend:
        return self._backends.get(name, self._backends["keyring"])

    def can_keep(self, name: str) -> bool:
        """Whether a secret could be kept in the backend `name` (`bbtoken.store`): the file
        always, the keyring when one is usable (cheaply known where it can be)."""
        backend = self.backend(name)
        return not isinstance(backend, KeyringSecrets) or backend.usable()

    # -- reading (no lock) ----------------------------------------------------------------

    def entries(self) -> list[Entry]:
        entries = _entries(self.metadata.read())
        if any(e.rotating for e in entries):
            # A `rotate` that crashed: finish it now if nobody holds the lock (never wait).
            lock = self.metadata.try_lock()
            if lock is not None:
                try:
                    entries = self._finish_rotations()
                finally:
                    lock.release()
        return entries

    def secret(self, entry: Entry) -> str | None:
        return self._read_secret(entry, service_name(entry.url))

    def refresh_token(self, entry: Entry) -> str | None:
        if not entry.has_refresh_token:
            return None
        return self._read_secret(entry, service_name(entry.url, refresh=True))

    def _read_secret(self, entry: Entry, service: str) -> str | None:
        """Through the fast Secret Service lookup when keyring's SecretService backend stored
        the item and keyring would still choose it; through `keyring` in every other case,
        and whenever the fast path cannot decide (loading the backend that stored the item
        by name where keyring's configuration allows it, see secretstore)."""
        if entry.backend == "keyring":
            from git_credential_bbtoken.storage import fastsecret

            if entry.keyring_backend == fastsecret.SECRET_SERVICE_BACKEND and \
                    fastsecret.applies():
                try:
                    return fastsecret.lookup(service, entry.username)
                except fastsecret.FastPathUnavailable as exc:
                    log.debug("fast keyring lookup unavailable (%s); asking keyring", exc)
        backend = self.backend(entry.backend)
        if isinstance(backend, KeyringSecrets):
            return backend.get_within(service, entry.username, KEYRING_READ_SECONDS,
                                      stored_by=entry.keyring_backend)
        return backend.get(service, entry.username)

    # -- writing (under the lock) ---------------------------------------------------------

    def put(self, entry: Entry, secret: str, refresh_token: str | None = None) -> None:
        """Store or replace the credential with the same (protocol, host, scope, username)."""
        backend = self.backend(entry.backend)
        entry.has_refresh_token = refresh_token is not None
        # Resolved before taking the lock: importing keyring and finding its backend is the
        # slow part, and parallel git processes must not queue behind it.
        entry.keyring_backend = backend.backend_id() if isinstance(backend, KeyringSecrets) \
            else None
        with self.metadata.locked():
            entries = _entries(self.metadata.read(holding_lock=True))
            previous = [e for e in entries if e.key == entry.key]
            service = service_name(entry.url)
            # Kept to put back if the metadata cannot be written (a full disk): "nothing was
            # changed" must then be true of the keyring too.
            try:
                old_secret = backend.get(service, entry.username)
            except SecretStoreError:
                old_secret = None  # unreadable: nothing to put back
            # The secret first: a crash before the metadata write leaves at worst an unused
            # keyring item, never an entry without its secret.
            backend.set(service, entry.username, secret)
            refresh_service = service_name(entry.url, refresh=True)
            if refresh_token is not None:
                backend.set(refresh_service, entry.username, refresh_token)
            elif any(e.has_refresh_token for e in previous):
                backend.delete(refresh_service, entry.username)
            for old in previous:
                if old.backend != entry.backend:
                    self._delete_secrets(old)
            kept = [e for e in entries if e.key != entry.key] + [entry]
            try:
                self.metadata.write([e.to_dict() for e in kept])
            except Exception:
                if old_secret is not None:
                    backend.set(service, entry.username, old_secret)
                else:
                    backend.delete(service, entry.username)
                raise

    def rotate(self, entries: list[Entry], secret: str,
               change: Callable[[Entry], None]) -> list[Entry]:
        """Give every entry in `entries` the secret `secret` and apply `change` to its
        metadata: all of them or none, even across a crash. The new secret is first kept
        under a journal item and each entry marked with its id; then each entry's secret is
        replaced and the marks cleared. Whoever finds a mark later (the next `get`, `store`
        or command) finishes the job from the journal, so no crash leaves the entries on two
        different tokens. Returns the entries as stored."""
        import secrets as random  # a journal id; only `rotate` pays for the import

        journal = f"rotation-{random.token_hex(8)}"
        keys = {e.key for e in entries}
        with self.metadata.locked():
            current = self._finish_rotations()
            chosen = [e for e in current if e.key in keys]
            for backend in {e.backend for e in chosen}:
                self.backend(backend).set(service_name(journal), JOURNAL_USER, secret)
            for entry in chosen:
                change(entry)
                entry.rotating = journal
            self.metadata.write([e.to_dict() for e in current])
            return self._finish_rotations()

    def holding(self, secret: str, entries: list[Entry] | None = None) -> list[Entry]:
        """The entries (of `entries`, else all) whose secret is `secret`: one token kept for
        several scopes, all of which a new token replaces (`rotate`, a renewal)."""
        found = []
        for entry in self.entries() if entries is None else entries:
            try:
                held = self.secret(entry)
            except Exception:  # noqa: BLE001 - an unreadable entry is just not one of them
                held = None
            if held == secret:
                found.append(entry)
        return found

    def _finish_rotations(self) -> list[Entry]:
        """Complete every marked rotation from its journal item (the lock is held)."""
        entries = _entries(self.metadata.read(holding_lock=True))
        journals = {(e.rotating, e.backend) for e in entries if e.rotating}
        if not journals:
            return entries
        for journal, backend_name in journals:
            backend = self.backend(backend_name)
            secret = backend.get(service_name(journal), JOURNAL_USER)
            for entry in entries:
                if entry.rotating != journal or entry.backend != backend_name:
                    continue
                if secret is not None:
                    backend.set(service_name(entry.url), entry.username, secret)
                else:  # the journal is gone (cleared by hand): keep the old token, unchecked
                    entry.validation = None
                entry.rotating = None
        self.metadata.write([e.to_dict() for e in entries])
        for journal, backend_name in journals:
            self.backend(backend_name).delete(service_name(journal), JOURNAL_USER)
        return entries

    def update(self, entry: Entry, change: Callable[[Entry], None]) -> None:
        """Change an entry's metadata (not its secret), if it is still there."""
        with self.metadata.locked():
            self._change(entry, change)

    def update_if_free(self, entry: Entry, change: Callable[[Entry], None]) -> bool:
        """`update`, but only if no other process holds the lock right now: for `get`'s own
        bookkeeping, which must never make git wait. False when skipped."""
        lock = self.metadata.try_lock()
        if lock is None:
            return False
        try:
            self._change(entry, change)
        finally:
            lock.release()
        return True

    def _change(self, entry: Entry, change: Callable[[Entry], None]) -> None:
        entries = _entries(self.metadata.read(holding_lock=True))
        for stored in entries:
            if stored.key == entry.key:
                change(stored)
        self.metadata.write([e.to_dict() for e in entries])

    def remove(self, choose: Callable[[list[Entry]], Iterable[Entry]]) -> list[Entry]:
        """Remove the entries `choose` picks from the current list (called under the lock,
        so a choice that reads secrets sees exactly what it removes). Returns them."""
        self._prepare_backends()
        with self.metadata.locked():
            entries = _entries(self.metadata.read(holding_lock=True))
            doomed = list(choose(entries))
            if not doomed:
                return []
            # Secrets first; only the entries whose secrets are really gone leave the list,
            # so a keyring that refuses a delete never leaves a token without its entry.
            gone = set()
            try:
                for entry in doomed:
                    self._delete_secrets(entry)
                    gone.add(entry.key)
            finally:
                if gone:
                    self.metadata.write([e.to_dict() for e in entries if e.key not in gone])
            return doomed

    def _prepare_backends(self) -> None:
        """Import and resolve the keyring outside the lock (see `put`); a missing keyring
        shows up later, where a secret is really needed."""
        keyring_backend = self._backends["keyring"]
        if isinstance(keyring_backend, KeyringSecrets):
            keyring_backend.available()

    def _delete_secrets(self, entry: Entry) -> None:
        """The entry's secrets, from where `get` reads them."""
        backend = self.backend(entry.backend)
        services = [service_name(entry.url)]
        if entry.has_refresh_token:
            services.append(service_name(entry.url, refresh=True))
        for service in services:
            if isinstance(backend, KeyringSecrets):
                backend.delete(service, entry.username, stored_by=entry.keyring_backend)
            else:
                backend.delete(service, entry.username)


def for_new_token(entry: Entry, validation: dict[str, Any] | None, expiry: int | None,
                  stored_at: str) -> None:
    """An entry's metadata once a new token replaces its secret (`CredentialStore.rotate`'s
    change): what the old token could do, and its expiry date, go with it."""
    entry.validation = validation
    entry.repositories = None  # what the old token could do per repository
    entry.expiry = expiry
    entry.expiry_warned_on = None
    entry.stored_at = stored_at


def _entries(raw: list[dict[str, Any]]) -> list[Entry]:
    entries = []
    for item in raw:
        entry = Entry.from_dict(item)
        if entry is not None:
            entries.append(entry)
    return entries
