"""Issue 5: the `get` hot path stays light, and fastsecret reads what keyring wrote.

The import checks run `get` in a child process (a fresh interpreter, as git runs it) and list
`sys.modules` afterwards; the fastsecret tests talk to the rig's real gnome-keyring.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

import git_credential_bbtoken
from git_credential_bbtoken.storage import dbusclient, fastsecret

SERVICE = "git-credential-bbtoken:https://bitbucket.org"
USER = "x-bitbucket-api-token-auth"
TOKEN = "ATATT3x-hot-path-token-\u00e9"  # noqa: S105 - fake; non-ASCII on purpose

# Never on the hot path: the network stack (the checks' trust store too), argparse, and (when
# the fast path applies) the whole keyring/SecretStorage/cryptography stack.
FORBIDDEN = ("requests", "urllib3", "http.client", "email", "argparse", "truststore", "ssl",
             "keyring", "secretstorage", "cryptography", "jeepney", "importlib_metadata",
             "jaraco.context")
# Avoidable stdlib weight (issue 5's edit list): about 60 ms on the reference machine. `re`
# alone (with the `enum`, `functools` and `collections` it imports) costs about 10 ms, and
# `json` imports it; the message catalogue is loaded only when there is something to say.
AVOIDABLE = ("logging", "dataclasses", "inspect", "typing", "subprocess", "tempfile",
             "platformdirs", "datetime", "shutil", "re", "enum", "json", "collections",
             "functools", "urllib", "git_credential_bbtoken.explain")

PROBE = ("import sys\n"
         "from git_credential_bbtoken import cli\n"
         "status = cli.main([sys.argv[1]])\n"
         "sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n')\n"
         "sys.stderr.write('FROM ' + cli.__file__ + '\\n')\n"
         "sys.exit(status)\n")


# The probe starts without `site` (-S) and finds the package and its dependencies through
# PYTHONPATH: an editable install's `.pth` finder imports `re` and friends at start-up, which
# would hide the same imports made by our code; a regular install has no such finder. The
# package comes from where this test run imports it: the installed wheel in the venv's
# site-packages (tests/run.sh), or the checkout with BBTOKEN_EDITABLE=1.
PACKAGE_PARENT = str(Path(git_credential_bbtoken.__file__).resolve().parents[1])
SITE_PACKAGES = sysconfig.get_paths()["purelib"]
IMPORT_PATH = os.pathsep.join(dict.fromkeys([PACKAGE_PARENT, SITE_PACKAGES]))


def _run(action: str, record: str, env: dict[str, str] | None = None
         ) -> tuple[str, set[str]]:
    env = dict(os.environ if env is None else env, PYTHONPATH=IMPORT_PATH)
    result = subprocess.run([sys.executable, "-S", "-c", PROBE, action], input=record.encode(),
                            capture_output=True, env=env, timeout=60)
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    modules, _, imported_from = stderr.rsplit("MODULES ", 1)[1].partition("\nFROM ")
    # The package this test run tests, not another copy found on the way.
    assert Path(imported_from.strip()).resolve().is_relative_to(PACKAGE_PARENT), imported_from
    return result.stdout.decode(), set(modules.split())


@pytest.fixture
def stored(secret_service, monkeypatch: pytest.MonkeyPatch) -> str:
    """One Bitbucket credential stored through the helper (keyring's SecretService)."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # no network, should it try
    _run("store", f"protocol=https\nhost=bitbucket.org\nusername={USER}\npassword={TOKEN}\n\n")
    return "protocol=https\nhost=bitbucket.org\n\n"


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if n in modules or any(m.startswith(n + ".")
                                                           for m in modules))


def test_get_answers_without_heavy_imports(stored: str) -> None:
    assert fastsecret.applies()
    out, modules = _run("get", stored)
    assert f"password={TOKEN}\n" in out
    assert _loaded(modules, FORBIDDEN) == []


def test_get_avoids_avoidable_stdlib_imports(stored: str) -> None:
    out, modules = _run("get", stored)
    assert f"password={TOKEN}\n" in out
    assert _loaded(modules, AVOIDABLE) == []


def _record_validation(**fields: object) -> None:
    """Give the stored entry what `login` learns of a token (as if it had been checked)."""
    path = Path(os.environ["XDG_DATA_HOME"]) / "git-credential-bbtoken" / "credentials.json"
    document = json.loads(path.read_text())
    for entry in document["credentials"]:
        entry.update(fields)
    path.write_text(json.dumps(document))


def test_get_of_a_checked_token_with_an_expiry_avoids_avoidable_imports(stored: str) -> None:
    # The common case after `login`: scopes known, push allowed, expiry a month away.
    _record_validation(expiry=int(time.time()) + 30 * 86400, validation={
        "scopes": ["read:repository:bitbucket", "write:repository:bitbucket"],
        "can_clone": True, "can_push": True})
    out, modules = _run("get", stored)
    assert f"password={TOKEN}\n" in out
    assert _loaded(modules, AVOIDABLE) == []


def test_a_fetch_with_a_push_refusal_on_record_avoids_avoidable_imports(bitbucket,
                                                                        secret_service) -> None:
    # `login` learnt that the account may only read the repository. Every fetch still serves
    # the token as lightly as ever: only a push needs to know whose refusal that was.
    token = "ATATT3xFfGF0-hot-path-read-only-account-0123456789"  # noqa: S105 - fake
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    bitbucket.add_token(token, "alice", scopes=[
        "read:repository:bitbucket", "write:repository:bitbucket", "read:user:bitbucket"])
    bitbucket.send_scope_headers = True
    bitbucket.set_permission("alice", "acme/widgets", "read")
    login = subprocess.run(["git", "credential-bbtoken", "login", f"{bitbucket.url}/acme/widgets",
                            "--token-stdin", "--email", "alice@example.com"],
                           input=token + "\n", capture_output=True, text=True, timeout=60)
    assert login.returncode == 0 and "can only read acme/widgets" in login.stderr, login.stderr
    host = bitbucket.url.split("://", 1)[1]
    out, modules = _run("get", f"protocol=https\nhost={host}\npath=acme/widgets.git\n\n",
                        dict(os.environ, BBTOKEN_GIT_OPERATION="fetch"))
    assert f"password={token}\n" in out
    assert _loaded(modules, AVOIDABLE) == []


def test_get_that_has_something_to_say_loads_the_catalogue(stored: str) -> None:
    # The structural check above would pass vacuously if nothing were ever looked at.
    _record_validation(validation={"scopes": ["write:repository:bitbucket"],
                                   "can_clone": False, "can_push": False})
    out, modules = _run("get", stored)
    assert "quit=1\n" in out
    assert "git_credential_bbtoken.explain" in modules


def test_file_store_get_avoids_avoidable_imports(tmp_path: Path) -> None:
    env = dict(os.environ, BBTOKEN_DATA_DIR=str(tmp_path), GIT_CONFIG_PARAMETERS=
               "'bbtoken.store'='file'", HTTPS_PROXY="http://127.0.0.1:9")
    _run("store", f"protocol=https\nhost=bitbucket.org\nusername={USER}\npassword={TOKEN}"
                  "\n\n", env)
    out, modules = _run("get", "protocol=https\nhost=bitbucket.org\n\n", env)
    assert f"password={TOKEN}\n" in out
    assert (tmp_path / "tokens.json").exists()
    assert _loaded(modules, AVOIDABLE + FORBIDDEN) == []


def test_get_with_keyring_configured_falls_back_to_keyring(stored: str) -> None:
    # A keyringrc.cfg naming the same backend: keyring must decide, and still answer.
    config = Path(fastsecret.keyring_config_path())
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[backend]\ndefault-keyring=keyring.backends.SecretService.Keyring\n")
    out, modules = _run("get", stored)
    assert f"password={TOKEN}\n" in out
    assert "keyring" in modules
    assert _loaded(modules, ("requests", "urllib3", "argparse")) == []


# keyring's discovery imports every backend it knows (and every plugin's): these are never the
# backend that stores on the rig's Linux, on macOS or on Windows.
DISCOVERY_ONLY = ("keyring.backends.kwallet", "keyring.backends.libsecret",
                  "keyring.backends.chainer")


def test_get_through_keyring_loads_only_the_backend_that_stored(tmp_path: Path) -> None:
    # No `secret_service` fixture: on macOS and Windows this runs against the platform's
    # keyring, and loading by name is `get`'s own path there. On Linux a keyring property
    # turns the D-Bus fast path off (fastsecret cannot honour one) and keyring reads.
    env = dict(os.environ, HTTPS_PROXY="http://127.0.0.1:9", BBTOKEN_DATA_DIR=str(tmp_path))
    if sys.platform.startswith("linux"):
        env["KEYRING_PROPERTY_PREFERRED_COLLECTION"] = "/org/freedesktop/secrets/aliases/default"
    record = "protocol=https\nhost=bitbucket.org\n\n"
    _run("store", f"protocol=https\nhost=bitbucket.org\nusername={USER}\npassword={TOKEN}\n\n",
         env)
    try:
        (entry,) = json.loads((tmp_path / "credentials.json").read_text())["credentials"]
        stored_by = entry["keyring_backend"]
        out, modules = _run("get", record, env)
        assert f"password={TOKEN}\n" in out
        assert stored_by.rpartition(".")[0] in modules
        assert _loaded(modules, DISCOVERY_ONLY) == []
    finally:
        _run("erase", f"protocol=https\nhost=bitbucket.org\nusername={USER}\n\n", env)


def test_a_backend_no_longer_viable_is_left_to_keyrings_discovery(stored: str) -> None:
    # Recorded by a keyring that is not viable here (its priority raises off Windows).
    _record_validation(keyring_backend="keyring.backends.Windows.WinVaultKeyring")
    out, modules = _run("get", stored)
    assert f"password={TOKEN}\n" in out
    assert "keyring.backends.kwallet" in modules  # keyring discovered its backend


@pytest.mark.parametrize("configured", ["environment", "config file"])
def test_keyrings_own_configuration_wins_over_the_backend_that_stored(
        stored: str, configured: str) -> None:
    # Configured to keep nothing: the secret in the Secret Service must not be served past
    # that choice, and `get` stays silent (the null keyring is refused).
    null = "keyring.backends.null.Keyring"
    env = dict(os.environ)
    if configured == "environment":
        env["PYTHON_KEYRING_BACKEND"] = null
    else:
        config = Path(fastsecret.keyring_config_path())
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f"[backend]\ndefault-keyring={null}\n")
    out, modules = _run("get", stored, env)
    assert "password=" not in out
    assert "keyring.backends.null" in modules


def test_get_with_nothing_stored_and_no_keyring_stays_light(no_keyring: None) -> None:
    # Nowhere to keep a token: `get` answers nothing, and finds that out without keyring.
    out, modules = _run("get", "protocol=https\nhost=bitbucket.org\npath=ws/repo.git\n\n")
    assert out == ""
    assert _loaded(modules, FORBIDDEN) == []


def test_store_of_unchanged_token_does_not_touch_the_network(stored: str) -> None:
    _, modules = _run("store", f"protocol=https\nhost=bitbucket.org\nusername={USER}\n"
                      f"password={TOKEN}\n\n")
    assert _loaded(modules, ("requests", "urllib3", "http.client")) == []
    assert _loaded(modules, AVOIDABLE) == []  # `store` follows every fetch: as light as `get`


# -- fastsecret against the real gnome-keyring -----------------------------------------------


def test_lookup_reads_what_keyring_wrote(secret_service) -> None:
    import keyring

    keyring.set_password(SERVICE, USER, TOKEN)
    assert fastsecret.lookup(SERVICE, USER) == TOKEN
    assert fastsecret.lookup(SERVICE, "someone-else") is None
    assert fastsecret.lookup(SERVICE + "/ws", USER) is None


def test_lookup_of_a_missing_item_is_none(secret_service) -> None:
    assert fastsecret.lookup("git-credential-bbtoken:https://nothing.example", USER) is None


def test_locked_collection_is_undecided(secret_service) -> None:
    import keyring

    keyring.set_password(SERVICE, USER, TOKEN)
    secret_service.lock()
    try:
        with pytest.raises(fastsecret.FastPathUnavailable) as hit:
            fastsecret.lookup(SERVICE, USER)
        assert TOKEN not in str(hit.value)
        with pytest.raises(fastsecret.FastPathUnavailable):
            fastsecret.lookup(SERVICE, "missing-while-locked")
    finally:
        secret_service.unlock()


def test_several_matching_items_are_undecided(secret_service) -> None:
    import secretstorage

    attributes = {"service": SERVICE, "username": USER}
    with secretstorage.dbus_init() as connection:  # type: ignore[attr-defined]
        collection = secretstorage.get_default_collection(connection)
        collection.create_item("one", attributes, b"first", replace=False)
        collection.create_item("two", attributes, b"second", replace=False)
    with pytest.raises(fastsecret.FastPathUnavailable):
        fastsecret.lookup(SERVICE, USER)


def test_no_bus_is_undecided(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    with pytest.raises(fastsecret.FastPathUnavailable):
        fastsecret.lookup(SERVICE, USER)
    for address in (f"unix:path={tmp_path / 'nothing'}", "tcp:host=localhost,port=1",
                    "garbage"):
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        with pytest.raises(fastsecret.FastPathUnavailable):
            fastsecret.lookup(SERVICE, USER)


def test_bus_without_secret_service_is_undecided(secret_service, tmp_path: Path) -> None:
    # A bus where nobody owns org.freedesktop.secrets: no activation, no wait.
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1",
                               f"--address=unix:path={tmp_path / 'bus'}"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert daemon.stdout is not None
        address = daemon.stdout.readline().decode().strip()
        env_before = os.environ["DBUS_SESSION_BUS_ADDRESS"]
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
        try:
            with pytest.raises(fastsecret.FastPathUnavailable):
                fastsecret.lookup(SERVICE, USER)
        finally:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = env_before
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def test_keyring_usable_knows_the_secret_service(secret_service) -> None:
    assert fastsecret.keyring_usable() is True


def test_keyring_usable_without_a_bus_unless_a_plugin_may_bring_one(
        no_keyring: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert fastsecret.keyring_usable() is False
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
    assert fastsecret.keyring_usable() is False
    # keyrings.alt and the like keep secrets without D-Bus: keyring must decide.
    plugin = tmp_path / "site" / "keyrings.alt-5.0.dist-info"
    plugin.mkdir(parents=True)
    (plugin / "entry_points.txt").write_text("[keyring.backends]\nfile = keyrings.alt.file\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert fastsecret.keyring_usable() is None


@pytest.mark.parametrize("configured", ["environment", "config file"])
def test_keyring_usable_leaves_keyrings_configuration_to_keyring(
        no_keyring: None, monkeypatch: pytest.MonkeyPatch, configured: str) -> None:
    if configured == "environment":
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    else:
        config = Path(fastsecret.keyring_config_path())
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text("[backend]\ndefault-keyring=keyrings.alt.file.PlaintextKeyring\n")
    assert fastsecret.keyring_usable() is None


@pytest.mark.parametrize("activatable", [True, False])
def test_keyring_usable_on_a_bus_without_the_secret_service_running(
        secret_service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        activatable: bool) -> None:
    # The stock session bus starts gnome-keyring on demand: keyring's SecretService backend
    # counts that as there. A bus that cannot start it either: keyring decides (KWallet?).
    from rig.secret_service import BUS_CONFIG

    config = tmp_path / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=tmp_path / "bus"))
    daemon = subprocess.Popen(["dbus-daemon", "--nofork", "--print-address=1",
                               "--session" if activatable else f"--config-file={config}",
                               f"--address=unix:path={tmp_path / 'bus'}"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert daemon.stdout is not None
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", daemon.stdout.readline().decode().strip())
        assert fastsecret.keyring_usable() is (True if activatable else None)
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def test_messages_match_jeepney_marshalling() -> None:
    from jeepney import DBusAddress, new_method_call

    cases = [("/org/freedesktop/secrets/aliases/default", "org.freedesktop.Secret.Collection",
              "SearchItems", "a{ss}", ({"username": "u\u00e9", "service": "s"},)),
             ("/org/freedesktop/secrets", "org.freedesktop.Secret.Service", "OpenSession",
              "sv", ("plain", ("s", ""))),
             ("/org/freedesktop/secrets/collection/login/7", "org.freedesktop.Secret.Item",
              "GetSecret", "o", ("/org/freedesktop/secrets/session/s1",)),
             ("/org/freedesktop/secrets/aliases/default", "org.freedesktop.DBus.Properties",
              "Get", "ss", ("org.freedesktop.Secret.Collection", "Locked"))]
    for path, interface, member, signature, body in cases:
        theirs = new_method_call(DBusAddress(path, "org.freedesktop.secrets", interface),
                                 member, signature, body)
        theirs.header.flags = 2  # NO_AUTO_START, as ours
        ours = dbusclient.method_call(9, "org.freedesktop.secrets", path, interface, member,
                                      signature, body)
        assert ours == theirs.serialise(serial=9), member


def test_applies_by_default_on_linux_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # SecretService is keyring's default on Linux; macOS and Windows read through keyring.
    secret_service_platform = sys.platform not in ("darwin", "win32")  # Linux, the BSDs
    assert fastsecret.applies() is secret_service_platform
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", fastsecret.SECRET_SERVICE_BACKEND)
    assert fastsecret.applies() is secret_service_platform


@pytest.mark.parametrize("backend", ["keyring.backends.null.Keyring",
                                     "keyrings.alt.file.PlaintextKeyring",
                                     "keyring.backends.chainer.ChainerBackend"])
def test_does_not_apply_with_another_backend(monkeypatch: pytest.MonkeyPatch,
                                             backend: str) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    assert not fastsecret.applies()


def test_does_not_apply_with_keyring_property(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYRING_PROPERTY_PREFERRED_COLLECTION",
                       "/org/freedesktop/secrets/collection/other")
    assert not fastsecret.applies()


@pytest.mark.parametrize("xdg", [True, False])
def test_does_not_apply_with_a_keyring_config_file(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path, xdg: bool) -> None:
    if xdg:
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
        config = tmp_path / "cfg/python_keyring/keyringrc.cfg"
    else:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))
        config = tmp_path / ".config/python_keyring/keyringrc.cfg"
    assert fastsecret.applies()
    config.parent.mkdir(parents=True)
    config.write_text("[backend]\ndefault-keyring=keyring.backends.null.Keyring\n")
    assert fastsecret.keyring_config_path() == str(config)
    assert not fastsecret.applies()


def test_config_path_is_keyrings_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from keyring.util import platform_

    for xdg in (str(tmp_path / "x"), ""):
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
        assert fastsecret.keyring_config_path() == str(platform_.config_root()
                                                         / "keyringrc.cfg")
