"""Where secrets live: the OS keyring through `keyring` (default), or an opt-in private file.

The only module that imports `keyring`. Items are written so that `keyring` itself (and every
tool built on it) can read them: service `git-credential-bbtoken:<protocol>://<host>[/<scope>]`,
username the git username, password the token. So `keyring get SERVICE USERNAME` prints the
token, and `keyring del` removes it.

Every failure of the backend becomes a SecretStoreError with one line for the user; which
keyring backend is used stays `keyring`'s choice and the user's (PYTHON_KEYRING_BACKEND,
keyringrc.cfg).

Reading a secret skips keyring's discovery when it can. Left without configuration, keyring
imports every backend it knows, its own and every plugin's (an entry-point scan), to pick the
viable one with the highest priority; that choice is what `store` recorded beside the entry
(`keyring_backend`). Where keyring's own configuration is silent, a read loads that recorded
class by name, as keyring loads a configured one (`keyring.core.load_keyring`), and only that
backend's module is imported. On macOS and Windows this is `get`'s path; on Linux, the one
behind the D-Bus fast path (fastsecret). A recorded class that is no longer viable falls back to
discovery.
"""

from __future__ import annotations

import sys

from git_credential_bbtoken import debug, jsonread
from git_credential_bbtoken.errors import BbtokenError
from git_credential_bbtoken.storage.metadata import MetadataError, open_private, write_private_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = debug.getLogger(__name__)

SERVICE_PREFIX = "git-credential-bbtoken:"
REFRESH_SERVICE_PREFIX = "git-credential-bbtoken-refresh:"

NO_KEYRING_HINT = (
    "no keyring is available to keep the token (on a desktop, unlock or install a Secret "
    "Service such as gnome-keyring; on a server, run `git config --global bbtoken.store file` "
    "to keep tokens in a private file, or set BBTOKEN_TOKEN for CI); nothing was stored"
)


class SecretStoreError(BbtokenError):
    """The secret store failed; the message is one line for the user, with no secret."""


class NoKeyringError(SecretStoreError):
    def __init__(self, message: str = NO_KEYRING_HINT) -> None:
        super().__init__(message)


def service_name(url: str, refresh: bool = False) -> str:
    return (REFRESH_SERVICE_PREFIX if refresh else SERVICE_PREFIX) + url


class KeyringSecrets:
    """Secrets in the OS keyring, through `keyring`."""

    name = "keyring"

    def __init__(self) -> None:
        self._backend: Any = None
        self._loaded: dict[str, Any] = {}  # backends loaded by name, for reads

    def _keyring(self) -> Any:
        if self._backend is None:
            keyring = _import_keyring()
            backend = keyring.get_keyring()
            if isinstance(backend, keyring.backends.null.Keyring):
                # It accepts every write and forgets it: "stored" would be a lie.
                raise NoKeyringError(_null_keyring_message(backend))
            if _is_unusable(backend, keyring.backends.fail.Keyring):
                raise NoKeyringError()
            log.debug("keyring backend: %s", type(backend).__name__)
            self._backend = backend
        return self._backend

    def _reader(self, stored_by: str | None) -> Any:
        """The backend to read a secret that `stored_by` (a class name) stored: loaded by name
        when keyring would otherwise have to discover its backend, else keyring's choice."""
        if not stored_by or self._backend is not None:
            return self._keyring()
        if stored_by not in self._loaded:
            keyring = _import_keyring()
            self._loaded[stored_by] = _load_by_name(keyring, stored_by)
        loaded = self._loaded[stored_by]
        return self._keyring() if loaded is None else loaded

    def available(self) -> bool:
        try:
            self._keyring()
            return True
        except SecretStoreError:
            return False

    def usable(self) -> bool:
        """False only when it is certain, without importing keyring, that no keyring keeps
        secrets here (`fastsecret.keyring_usable`). When only keyring could tell, True: `get`
        must not pay for keyring's discovery, nor wait on it without a bound, and the `store`
        that follows says in one line when nothing could keep the token. A process that has
        imported keyring already (it may have chosen its own backend: `keyring.set_keyring`)
        asks keyring."""
        if self._backend is not None or "keyring" in sys.modules:
            return self.available()
        from git_credential_bbtoken.storage import fastsecret

        return fastsecret.keyring_usable() is not False

    def backend_id(self) -> str:
        """The keyring backend's class, e.g. `keyring.backends.SecretService.Keyring`."""
        backend = self._keyring()
        return f"{type(backend).__module__}.{type(backend).__name__}"

    def unavailable_reason(self) -> str | None:
        """None when a usable keyring is there, else the one line saying why not."""
        try:
            self._keyring()
            return None
        except SecretStoreError as exc:
            return str(exc)

    def describe(self) -> str:
        try:
            backend = self._keyring()
        except SecretStoreError:
            return "keyring (none available)"
        return f"keyring ({type(backend).__module__}.{type(backend).__name__})"

    def get(self, service: str, username: str, stored_by: str | None = None) -> str | None:
        backend = self._reader(stored_by)
        try:
            value = backend.get_password(service, username)
        except Exception as exc:
            raise SecretStoreError(_failure("read", exc)) from None
        return value if value is None else str(value)

    def get_within(self, service: str, username: str, seconds: float,
                   stored_by: str | None = None) -> str | None:
        """`get`, given up after `seconds`: a hung Secret Service (stopped, or stuck in D-Bus
        activation) makes keyring wait without limit, and git with it. The call runs in a
        daemon thread, which the process leaves behind when it gives up."""
        import threading  # only when the fast path could not answer

        outcome: dict[str, Any] = {}

        def read() -> None:
            try:
                outcome["value"] = self.get(service, username, stored_by)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                outcome["error"] = exc

        worker = threading.Thread(target=read, name="bbtoken-keyring-read", daemon=True)
        worker.start()
        worker.join(seconds)
        if worker.is_alive():
            raise SecretStoreError(f"the keyring did not answer within {seconds:g} s, so "
                                   "nothing was read; check that the Secret Service "
                                   "(gnome-keyring, KWallet) is running and not hung")
        if "error" in outcome:
            raise outcome["error"]
        value: str | None = outcome.get("value")
        return value

    def set(self, service: str, username: str, secret: str) -> None:
        backend = self._keyring()
        try:
            backend.set_password(service, username, secret)
        except Exception as exc:
            raise SecretStoreError(_failure("write to", exc)) from None

    def delete(self, service: str, username: str, stored_by: str | None = None) -> None:
        """Removes the item from where `get` reads it (`stored_by`, see `_reader`)."""
        backend = self._reader(stored_by)
        try:
            backend.delete_password(service, username)
        except Exception as exc:
            # keyring raises PasswordDeleteError when the item is already gone: that is fine.
            if type(exc).__name__ == "PasswordDeleteError":
                return
            raise SecretStoreError(_failure("delete from", exc)) from None


class FileSecrets:
    """Opt-in (`bbtoken.store file`): secrets in a plaintext JSON file, 0600 in a 0700 folder,
    for machines with no keyring. Callers hold the metadata lock while writing."""

    name = "file"

    def __init__(self, path: str) -> None:
        self.path = path

    def available(self) -> bool:
        return True

    def describe(self) -> str:
        return f"file ({self.path})"

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            with open_private(self.path, others_may_read=False) as handle:
                document = jsonread.loads(handle.read().decode("utf-8"))
        except FileNotFoundError:
            return {}
        except MetadataError as exc:
            raise SecretStoreError(str(exc)) from None
        except (OSError, ValueError) as exc:
            raise SecretStoreError(f"cannot read the token file {self.path}: "
                                   f"{type(exc).__name__}") from None
        secrets = document.get("secrets") if isinstance(document, dict) else None
        return secrets if isinstance(secrets, dict) else {}

    def _write(self, secrets: dict[str, dict[str, str]]) -> None:
        import json  # only writers pay for it

        data = json.dumps({"version": 1, "secrets": secrets}, indent=1, sort_keys=True)
        try:
            write_private_file(self.path, data.encode("utf-8") + b"\n")
        except MetadataError as exc:
            raise SecretStoreError(str(exc)) from None

    def get(self, service: str, username: str) -> str | None:
        value = self._read().get(service, {}).get(username)
        return value if isinstance(value, str) else None

    def set(self, service: str, username: str, secret: str) -> None:
        secrets = self._read()
        secrets.setdefault(service, {})[username] = secret
        self._write(secrets)

    def delete(self, service: str, username: str) -> None:
        secrets = self._read()
        users = secrets.get(service, {})
        if username in users:
            del users[username]
            if not users:
                del secrets[service]
            self._write(secrets)


def _import_keyring() -> Any:
    try:
        import keyring
        import keyring.backends.fail
        import keyring.backends.null
        import keyring.core
    except Exception as exc:  # a broken install must not crash git
        log.debug("keyring import failed: %s", type(exc).__name__)
        raise NoKeyringError() from None
    return keyring


KEYRING_BACKENDS = "keyring.backends."


def _load_by_name(keyring: Any, name: str) -> Any:
    """The backend class `name`, loaded as keyring loads a configured one, when keyring's
    configuration is silent (so that keyring would discover its backend); else None, and the
    caller asks keyring. None too when the class is gone or no longer viable here."""
    from git_credential_bbtoken.storage import fastsecret

    if not name.startswith(KEYRING_BACKENDS):
        # The name comes from a data file: only keyring's own backends are imported from it.
        # A plugin's backend (and anything else) is found by keyring's discovery.
        return None
    if fastsecret.keyring_configured():
        return None  # keyring loads the configured one by name itself: no discovery to skip
    if getattr(keyring.core, "_keyring_backend", None) is not None:
        return None  # chosen already in this process (`keyring.set_keyring`): that one
    try:
        backend = keyring.core.load_keyring(name)
    except Exception as exc:  # gone, not viable (its priority raises), or an older keyring
        log.debug("keyring backend %s not loaded by name (%s); keyring decides", name,
                  type(exc).__name__)
        return None
    if isinstance(backend, keyring.backends.null.Keyring) or \
            _is_unusable(backend, keyring.backends.fail.Keyring):
        return None
    log.debug("keyring backend loaded by name: %s", name)
    return backend


def _null_keyring_message(backend: Any) -> str:
    """Why keyring chose its null backend, and how to undo that."""
    import os

    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        source = "PYTHON_KEYRING_BACKEND in the environment"
        undo = "unset PYTHON_KEYRING_BACKEND (Poetry users often set it)"
    else:
        try:
            from keyring.util import platform_

            config = os.path.join(platform_.config_root(), "keyringrc.cfg")
        except Exception:  # noqa: BLE001 - only for the message
            config = "keyringrc.cfg"
        source = f"keyring's config file {config}"
        undo = f"remove the default-keyring line from {config}"
    return (f"keyring is set to {name} by {source}, which keeps nothing: {undo}, or run "
            "`git config --global bbtoken.store file`; nothing was stored")


def _is_unusable(backend: Any, fail_class: type) -> bool:
    """keyring's fail backend, or a chainer holding no backend at all."""
    if isinstance(backend, fail_class):
        return True
    backends = getattr(backend, "backends", None)
    return backends is not None and not backends


def _failure(verb: str, exc: Exception) -> str:
    # Only the exception's class and the backend's own message: neither holds our secret,
    # which is never passed into a message we build.
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    detail = debug.redact(detail)  # a backend might quote what it was given
    kind = type(exc).__name__
    if "lock" in (kind + detail).lower():
        hint = "the keyring is locked; unlock it (log in to the desktop session) and retry"
    else:
        hint = "check that the keyring service is running and unlocked"
    return f"could not {verb} the keyring ({kind}{': ' + detail if detail else ''}); {hint}"
