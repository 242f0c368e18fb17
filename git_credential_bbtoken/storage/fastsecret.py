"""A fast, read-only lookup of a secret that `keyring`'s SecretService backend stored.

`import keyring` and its backend discovery cost far more than the lookup itself (keyring
loads every backend, jaraco.context pulls in urllib.request, SecretStorage pulls in
cryptography). For `get`, git's hottest path, this module asks the Secret Service directly
and reads exactly the item keyring's `get_password` would read:

- keyring 25's SecretService backend (scheme `default`) searches the *default collection*
  (`/org/freedesktop/secrets/aliases/default`, as SecretStorage's `get_default_collection`)
  for the attributes `{"username": USERNAME, "service": SERVICE}` and returns the first
  item's secret, decoded as UTF-8;
- we do the same, but only when the answer is certain: exactly one item, readable without
  unlocking, or no item in an unlocked default collection. Everything else (no bus, no
  service, a locked collection or item, several items, any D-Bus error, a slow reply) raises
  FastPathUnavailable so that the caller asks `keyring`, which may prompt and will decide.
  Calls carry NO_AUTO_START: starting a Secret Service that is not running is keyring's job.

`applies()` says whether keyring, left to itself, would use that backend at all: the caller
uses the fast path only when it returns True *and* the entry's metadata records that keyring's
SecretService backend stored the secret. `keyring_usable()` says, as cheaply, whether keyring
has any backend that keeps secrets here (for a `get` with nothing stored).

The D-Bus messages go through `dbusclient` (not jeepney: see there); the tests check the whole
lookup against a real gnome-keyring.

Nothing here writes, prompts, or puts a secret in an exception message.
"""

from __future__ import annotations

import os
import sys

from git_credential_bbtoken.storage import dbusclient
from git_credential_bbtoken.storage.dbusclient import BUS_IFACE, BUS_NAME, BUS_PATH, SECRETS

__all__ = ["FastPathUnavailable", "SECRET_SERVICE_BACKEND", "applies", "keyring_config_path",
           "keyring_configured", "keyring_usable", "lookup"]

SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"  # noqa: S105 - a class

# Seconds for the whole lookup (connect, authenticate, four calls). The Secret Service answers
# in about a millisecond; a daemon still starting (D-Bus activation) or hung is keyring's
# business (bounded in its turn by store.KEYRING_READ_SECONDS). Generous, because giving up
# means hanging up with a call pending, which gnome-keyring 42 has been seen to abort on (a
# GLib assertion) when dozens of clients queue on a loaded machine.
TIMEOUT = 2.0

_SERVICE_PATH = "/org/freedesktop/secrets"
_DEFAULT_COLLECTION = "/org/freedesktop/secrets/aliases/default"
_SERVICE_IFACE = "org.freedesktop.Secret.Service"
_COLLECTION_IFACE = "org.freedesktop.Secret.Collection"
_ITEM_IFACE = "org.freedesktop.Secret.Item"
_PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"


class FastPathUnavailable(Exception):
    """The fast path cannot decide; ask `keyring`. The message never holds a secret."""


def applies() -> bool:
    """True when keyring, without configuration, would pick its SecretService backend here:
    Linux or a BSD, PYTHON_KEYRING_BACKEND unset or naming that backend, no KEYRING_PROPERTY_*
    override, and no keyringrc.cfg in keyring's config root. Cheap: no import, no process."""
    if not _secret_service_platform():
        return False
    chosen = os.environ.get("PYTHON_KEYRING_BACKEND")
    if chosen is not None and chosen != SECRET_SERVICE_BACKEND:
        return False
    # KEYRING_PROPERTY_SCHEME, ..._PREFERRED_COLLECTION, ... change what keyring searches.
    if any(name.startswith("KEYRING_PROPERTY_") for name in os.environ):
        return False
    return chosen is not None or not keyring_configured()


def keyring_configured() -> bool:
    """Whether keyring's own configuration names its backend: PYTHON_KEYRING_BACKEND (set at
    all, as keyring reads it), else a keyringrc.cfg in keyring's config root (an unreadable
    path counts as configured: keyring decides). Then keyring does not discover a backend."""
    if "PYTHON_KEYRING_BACKEND" in os.environ:
        return True
    try:
        return os.path.exists(keyring_config_path())
    except (OSError, ValueError):
        return True


def _secret_service_platform() -> bool:
    """Linux or a BSD: where keyring's default backend is the Secret Service, over D-Bus."""
    return (sys.platform.startswith("linux") or "bsd" in sys.platform
            or sys.platform.startswith("dragonfly"))


def keyring_config_path() -> str:
    """keyring 25's `platform_.config_root() / "keyringrc.cfg"`: on Windows
    (`_config_root_Windows`) in %LOCALAPPDATA% (else %ProgramData%); elsewhere, macOS too
    (`_config_root_Linux`), in $XDG_CONFIG_HOME, or ~/.config when it is unset or empty."""
    if sys.platform == "win32":
        root = os.environ.get("LOCALAPPDATA", os.environ.get("ProgramData", "."))
        return os.path.join(root, "Python Keyring", "keyringrc.cfg")
    root = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(root, "python_keyring", "keyringrc.cfg")


def keyring_usable() -> bool | None:
    """Whether keyring has a backend that keeps secrets here, when that is certain without
    importing it; None when only keyring can tell. Cheap: no import, no process.

    keyring's own configuration (PYTHON_KEYRING_BACKEND, keyringrc.cfg) decides: None. macOS
    and Windows always have theirs (the Keychain, the Credential Locker): True. On Linux and
    the BSDs every backend keyring brings speaks D-Bus: the Secret Service on the session
    bus, running or activatable (what keyring's SecretService backend asks before it is
    used), is True; no session bus to connect to is False, unless another package brings
    keyring a backend (a plugin such as keyrings.alt): None, as for a bus without the Secret
    Service (KWallet may be there). A bus that does not answer in time is taken as True:
    keyring would wait on it without limit, and the `store` that follows says if it fails."""
    if keyring_configured():
        return None
    if sys.platform in ("darwin", "win32"):
        return True
    if not _secret_service_platform():
        return None
    try:
        present = _secret_service_on_bus()
    except FastPathUnavailable:
        return True
    if present is None:
        return None if _keyring_plugins() else False
    return True if present else None


def _secret_service_on_bus() -> bool | None:
    """Whether the Secret Service is on the session bus, running or activatable (SecretStorage's
    `check_service_availability`); None when there is no session bus: no address (where
    SecretStorage looks), or nobody at its sockets. Raises FastPathUnavailable when that is
    not certain: a bus that does not answer in time, or not as a bus does, or an address this
    client cannot reach (tcp)."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        return None
    try:
        bus = dbusclient.Bus(address, TIMEOUT)
    except dbusclient.NoBus:
        return None
    except Exception as exc:
        raise FastPathUnavailable(f"the session bus did not answer ({type(exc).__name__})") \
            from None
    try:
        (owned,) = bus.call(BUS_PATH, BUS_IFACE, "NameHasOwner", "s", (SECRETS,),
                            destination=BUS_NAME)
        if owned:
            return True
        (activatable,) = bus.call(BUS_PATH, BUS_IFACE, "ListActivatableNames",
                                  destination=BUS_NAME)
        return SECRETS in activatable
    except Exception as exc:  # an error reply, a timeout, a dropped connection
        raise FastPathUnavailable(f"the session bus did not answer ({type(exc).__name__})") \
            from None
    finally:
        bus.close()


def _keyring_plugins() -> bool:
    """Whether a package other than keyring declares keyring backends (the entry points of
    group `keyring.backends` that keyring loads), read from the packages' metadata on
    sys.path as importlib.metadata finds it, without importing it."""
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            stem, _, suffix = name.rpartition(".")
            if suffix not in ("dist-info", "egg-info") or \
                    stem.partition("-")[0].lower() == "keyring":
                continue
            try:
                with open(os.path.join(folder or ".", name, "entry_points.txt"),
                          encoding="utf-8", errors="replace") as handle:
                    if "[keyring.backends]" in handle.read():
                        return True
            except OSError:
                continue
    return False


def lookup(service: str, username: str) -> str | None:
    """The secret keyring's SecretService backend would return for (service, username);
    None when the unlocked default collection holds no such item. Raises FastPathUnavailable
    whenever that cannot be decided quickly and for certain."""
    bus = _connect()
    try:
        (items,) = bus.call(_DEFAULT_COLLECTION, _COLLECTION_IFACE, "SearchItems", "a{ss}",
                            ({"username": username, "service": service},))
        if not items:
            # Only an unlocked collection's "nothing" is certain: a locked one may not show
            # its items, and keyring would ask to unlock it first.
            ((_, locked),) = bus.call(_DEFAULT_COLLECTION, _PROPERTIES_IFACE, "Get", "ss",
                                      (_COLLECTION_IFACE, "Locked"))
            if locked is not False:
                raise FastPathUnavailable("the default collection is locked")
            return None
        if len(items) > 1:
            raise FastPathUnavailable("several items match")
        (_, session) = bus.call(_SERVICE_PATH, _SERVICE_IFACE, "OpenSession", "sv",
                                ("plain", ("s", "")))
        # A locked item answers an error (IsLocked); then keyring unlocks it.
        ((_, _, value, _),) = bus.call(items[0], _ITEM_IFACE, "GetSecret", "o", (session,))
        return bytes(value).decode("utf-8")
    except FastPathUnavailable:
        raise
    except dbusclient.BusUnavailable as exc:
        raise FastPathUnavailable(str(exc)) from None
    except dbusclient.DBusError as exc:
        raise FastPathUnavailable(f"Secret Service error {exc}") from None
    except Exception as exc:  # a timeout, a dropped connection, an unexpected reply
        raise FastPathUnavailable(f"Secret Service lookup failed ({type(exc).__name__})") \
            from None
    finally:
        bus.close()


def _connect() -> dbusclient.Bus:
    """The session bus, connected within TIMEOUT; else FastPathUnavailable."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        raise FastPathUnavailable("no D-Bus session bus")
    try:
        return dbusclient.Bus(address, TIMEOUT)
    except dbusclient.BusUnavailable as exc:
        raise FastPathUnavailable(str(exc)) from None
    except Exception as exc:
        raise FastPathUnavailable(f"cannot connect to the session bus ({type(exc).__name__})") \
            from None
