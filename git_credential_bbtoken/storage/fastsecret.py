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
SecretService backend stored the secret.

The D-Bus messages go through `dbusclient` (not jeepney: see there); the tests check the whole
lookup against a real gnome-keyring.

Nothing here writes, prompts, or puts a secret in an exception message.
"""

from __future__ import annotations

import os
import sys

from git_credential_bbtoken.storage import dbusclient

__all__ = ["FastPathUnavailable", "SECRET_SERVICE_BACKEND", "applies", "keyring_config_path",
           "lookup"]

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
    if not (sys.platform.startswith("linux") or "bsd" in sys.platform
            or sys.platform.startswith("dragonfly")):
        return False
    chosen = os.environ.get("PYTHON_KEYRING_BACKEND")
    if chosen is not None and chosen != SECRET_SERVICE_BACKEND:
        return False
    # KEYRING_PROPERTY_SCHEME, ..._PREFERRED_COLLECTION, ... change what keyring searches.
    if any(name.startswith("KEYRING_PROPERTY_") for name in os.environ):
        return False
    if chosen is None:  # keyring reads its config file only when the environment is silent
        try:
            if os.path.exists(keyring_config_path()):
                return False
        except (OSError, ValueError):
            return False
    return True


def keyring_config_path() -> str:
    """keyring 25's `platform_.config_root() / "keyringrc.cfg"` on Linux and the BSDs
    (`_config_root_Linux`: $XDG_CONFIG_HOME, or ~/.config when it is unset or empty)."""
    root = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(root, "python_keyring", "keyringrc.cfg")


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
