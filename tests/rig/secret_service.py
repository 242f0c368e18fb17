"""A real Secret Service for tests: a private dbus-daemon and a gnome-keyring-daemon whose
"login" collection is created, unlocked and made the default alias at start-up, so python
`keyring` (SecretService backend, "default" alias) stores without any prompt.

Why a private bus with our own config: the stock session config allows D-Bus activation, so a
request after the keyring died would silently start another gnome-keyring-daemon, and unlock
prompts would try to start gcr-prompter. With no service directories, a dead keyring stays
dead and a prompt fails at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import secretstorage
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from secretstorage.defines import SS_PATH
from secretstorage.util import DBusAddressWrapper, format_secret, open_session

PASSWORD = "rig-keyring-password"  # noqa: S105 - unlocks a throwaway keyring
DEFAULT_ALIAS = "/org/freedesktop/secrets/aliases/default"
# gnome-keyring's own interface for unlocking without a prompt (what PAM uses).
GNOME_INTERNAL = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def available() -> bool:
    return bool(shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon"))


class SecretService:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.address = ""
        self._bus: subprocess.Popen[str] | None = None
        self._keyring: subprocess.Popen[str] | None = None
        self._env: dict[str, str] = {}

    # -- life cycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=self.root / "bus"))
        home = self.root / "home"
        runtime = self.root / "run"
        home.mkdir(exist_ok=True)
        runtime.mkdir(mode=0o700, exist_ok=True)
        # Both daemons get an environment of their own, not the test's that happens to be
        # current when the session fixture starts.
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_RUNTIME_DIR": str(runtime),
        }
        self._bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        assert self._bus.stdout is not None
        self.address = self._bus.stdout.readline().strip()
        if not self.address:
            raise RuntimeError("dbus-daemon did not print its address")
        self._env = env
        self._start_keyring(timeout)

    def _start_keyring(self, timeout: float) -> None:
        env = self._env
        # --unlock reads the password on stdin and creates the "login" keyring with it; that
        # keyring becomes the default alias, unlocked.
        with open(self.root / "gnome-keyring.log", "w") as log:
            self._keyring = subprocess.Popen(
                ["gnome-keyring-daemon", "--unlock", "--components=secrets", "--foreground"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log,
                env=dict(env, DBUS_SESSION_BUS_ADDRESS=self.address), text=True)
        assert self._keyring.stdin is not None
        self._keyring.stdin.write(PASSWORD)
        self._keyring.stdin.close()
        self._wait_until_answering(timeout)
        self._check_keyring_library_can_store()

    def pause(self) -> None:
        """Stop gnome-keyring-daemon (SIGSTOP): it keeps its bus name and never answers."""
        assert self._keyring is not None
        os.kill(self._keyring.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self._keyring is not None
        os.kill(self._keyring.pid, signal.SIGCONT)

    def crash_report(self) -> str | None:
        """None while gnome-keyring-daemon runs; once it has died (gnome-keyring 42 can abort
        on a GLib assertion under many parallel clients), its exit status and last log lines."""
        if self._keyring is None or self._keyring.poll() is None:
            return None
        tail = "\n".join(self._log().strip().splitlines()[-6:])
        return f"gnome-keyring-daemon exited with status {self._keyring.returncode}:\n{tail}"

    def restart_keyring(self, timeout: float = 20.0) -> None:
        """A new gnome-keyring-daemon on the same bus (same address), over the same keyring
        files, unlocked again: the tests after a crash get a working Secret Service."""
        if self._keyring is not None and self._keyring.poll() is None:
            self._keyring.terminate()
            self._keyring.wait(timeout=5)
        self._start_keyring(timeout)

    def stop(self) -> None:
        for proc in (self._keyring, self._bus):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self._bus is not None and self._bus.stdout is not None:
            self._bus.stdout.close()

    def _wait_until_answering(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._keyring is not None and self._keyring.poll() is not None:
                raise RuntimeError(f"gnome-keyring-daemon exited: {self._log()}")
            try:
                with self._connection() as conn:
                    if secretstorage.check_service_availability(conn):
                        default = secretstorage.Collection(conn, DEFAULT_ALIAS)
                        if not default.is_locked():
                            return
                        last = RuntimeError("the default collection is locked")
            except Exception as exc:  # noqa: BLE001 - not up yet: keep polling
                last = exc
            time.sleep(0.02)
        raise RuntimeError(f"Secret Service did not come up: {last}; {self._log()}")

    def _check_keyring_library_can_store(self) -> None:
        # What the helper under test will do, in a subprocess like the helper.
        code = ("import keyring; k = keyring.get_keyring(); "
                "keyring.set_password('bbtoken-rig', 'probe', 'x'); "
                "assert keyring.get_password('bbtoken-rig', 'probe') == 'x'; "
                "keyring.delete_password('bbtoken-rig', 'probe'); print(type(k).__module__)")
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address)
        env.pop("PYTHON_KEYRING_BACKEND", None)
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                text=True, timeout=60)
        if result.returncode != 0 or "SecretService" not in result.stdout:
            raise RuntimeError(f"keyring cannot store in the rig's Secret Service: "
                               f"{result.stdout}{result.stderr}")

    def _log(self) -> str:
        path = self.root / "gnome-keyring.log"
        return path.read_text() if path.exists() else ""

    # -- what tests see -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self) -> Iterator[DBusConnection]:
        # A fresh connection per call: tests change DBUS_SESSION_BUS_ADDRESS, we never do.
        conn = open_dbus_connection(bus=self.address)
        try:
            yield conn
        finally:
            conn.close()

    def items(self) -> list[dict[str, Any]]:
        """Every item of every collection: {label, attributes, secret (str), collection}."""
        found = []
        with self._connection() as conn:
            for collection in secretstorage.get_all_collections(conn):
                for item in collection.get_all_items():
                    found.append({
                        "label": item.get_label(),
                        "attributes": dict(item.get_attributes()),
                        "secret": item.get_secret().decode("utf-8", "replace"),
                        "collection": collection.collection_path,
                    })
        return found

    def clear(self) -> None:
        with self._connection() as conn:
            for collection in secretstorage.get_all_collections(conn):
                if collection.is_locked():
                    continue
                for item in collection.get_all_items():
                    item.delete()

    def lock(self) -> None:
        """Lock the default collection: what a screen lock or a fresh login does."""
        with self._connection() as conn:
            secretstorage.Collection(conn, DEFAULT_ALIAS).lock()

    def unlock(self) -> None:
        """Unlock the default collection without a prompt (gnome-keyring's PAM path)."""
        with self._connection() as conn:
            # The internal interface wants the real path, not the alias.
            service = DBusAddressWrapper(SS_PATH, "org.freedesktop.Secret.Service", conn)
            path = service.call("ReadAlias", "s", "default")[0]
            session = open_session(conn)
            secret = format_secret(session, PASSWORD.encode(), "text/plain")
            DBusAddressWrapper(SS_PATH, GNOME_INTERNAL, conn).call(
                "UnlockWithMasterPassword", "o(oayays)", path, secret)

    def is_locked(self) -> bool:
        with self._connection() as conn:
            return bool(secretstorage.Collection(conn, DEFAULT_ALIAS).is_locked())
