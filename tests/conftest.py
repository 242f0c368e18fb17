"""Fixtures every test reuses; the machinery lives in tests/rig (see its __init__.py).

Autouse: each test runs isolated (tmp HOME, XDG dirs, empty global git config, no proxies or
BBTOKEN_* from the caller) and talks to the rig's private Secret Service, emptied first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
from rig import secret_service as ss
from rig.askpass import Askpass
from rig.certs import Certificates, make_certificates
from rig.isolation import git_version, isolate
from rig.server import BitbucketServer


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
                 ) -> Path:
    """Returns the isolated global git config (GIT_CONFIG_GLOBAL), created empty."""
    return isolate(monkeypatch, tmp_path_factory.mktemp("env"))


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ss.SecretService]:
    """The session's gnome-keyring on a private D-Bus: .address, .items(), .clear(),
    .lock(), .unlock(), .is_locked()."""
    if not ss.available():
        message = "needs dbus-daemon and gnome-keyring-daemon (apt install dbus gnome-keyring)"
        if os.environ.get("BBTOKEN_REQUIRE_KEYRING") == "1":
            pytest.fail(message)  # CI: the real keyring tests must run, never skip
        pytest.skip(message)
    service = ss.SecretService(tmp_path_factory.mktemp("secret-service"))
    try:
        service.start()
        yield service
    finally:
        service.stop()


@pytest.fixture(autouse=True)
def _keyring_wiring(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                    isolated_env: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Every test gets a private bus: never the developer's real keyring. Where gnome-keyring
    # is missing, the bus points nowhere and keyring falls back to its fail backend.
    if not ss.available():
        nowhere = tmp_path_factory.mktemp("nobus") / "nothing"
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={nowhere}")
        return
    service: ss.SecretService = request.getfixturevalue("secret_service")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", service.address)
    if service.is_locked():  # a test that locked it must not break the next one
        service.unlock()
    service.clear()


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Secret Service at all: python keyring falls back to keyring.backends.fail."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'nothing'}")


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def make_bitbucket(certificates: Certificates, isolated_env: Path,
                   tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[Callable[..., BitbucketServer]]:
    """make_bitbucket(configure=True) -> a started BitbucketServer on its own port; with
    configure, its CA and bbtoken.<url>.* go into the isolated global git config."""
    servers: list[BitbucketServer] = []

    def make(configure: bool = True) -> BitbucketServer:
        server = BitbucketServer(tmp_path_factory.mktemp("bitbucket"), certificates).start()
        servers.append(server)
        if configure:
            server.configure_git(isolated_env)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def bitbucket(make_bitbucket: Callable[..., BitbucketServer]) -> BitbucketServer:
    """A Bitbucket-like server, already configured in the isolated global git config."""
    return make_bitbucket()


@pytest.fixture
def askpass(tmp_path_factory: pytest.TempPathFactory) -> Askpass:
    """A GIT_ASKPASS program (not installed: set GIT_ASKPASS=askpass.path where wanted)."""
    return Askpass(tmp_path_factory.mktemp("askpass"))


@pytest.fixture
def newer_git() -> str:
    """The bin folder of a git >= 2.46 (BBTOKEN_NEWER_GIT); skipped without it, except in CI
    (BBTOKEN_REQUIRE_NEWER_GIT=1) where a missing newer git is a failure."""
    folder = os.environ.get("BBTOKEN_NEWER_GIT")
    if folder:
        version = git_version(folder)
        assert version >= (2, 46), f"BBTOKEN_NEWER_GIT={folder} holds git {version}"
        return folder
    reason = "needs a git >= 2.46: set BBTOKEN_NEWER_GIT to its bin folder (.ci/newer-git.sh)"
    if os.environ.get("BBTOKEN_REQUIRE_NEWER_GIT") == "1":
        pytest.fail(reason + " — required here (BBTOKEN_REQUIRE_NEWER_GIT=1)")
    pytest.skip(reason)
