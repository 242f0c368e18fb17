"""Fixtures every test reuses; the machinery lives in tests/rig (see its __init__.py).

Autouse: each test runs isolated (tmp HOME, XDG dirs, empty global git config, no proxies or
BBTOKEN_* from the caller, a working folder outside the checkout) and talks to the rig's
private Secret Service, emptied first.

For the whole run: hypothesis's profile (derandomised, no deadline); the package under test
must be the installed wheel when tests/run.sh says so (BBTOKEN_TEST_INSTALL=wheel); and under
BBTOKEN_REQUIRE_ALL=1 (CI) every skip is a failure (see rig/required.py).
"""

from __future__ import annotations

import os
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import settings
from rig import secret_service as ss
from rig.askpass import Askpass
from rig.certs import Certificates, make_certificates
from rig.datacenter import DataCenterServer
from rig.isolation import git_version, isolate
from rig.required import REQUIRE_ALL, required, skip_or_fail
from rig.server import BitbucketServer
from rig.systemhelper import SystemHelper

import git_credential_bbtoken

CHECKOUT = Path(__file__).resolve().parents[1]

# Property tests run the same examples on every run and machine (a failure is reproducible, a
# pass means the same as the last one), however slow a loaded CI machine is; no example
# database is written (it would replay old failures from wherever the run started).
settings.register_profile("bbtoken", derandomize=True, deadline=None, database=None)
settings.load_profile("bbtoken")


def pytest_configure(config: pytest.Config) -> None:
    """tests/run.sh says what it installed (BBTOKEN_TEST_INSTALL): with `wheel`, the package
    under test must be the one installed in this venv, never the checkout's source folder
    (as `python -m pytest` or a stray PYTHONPATH would make it)."""
    claimed = os.environ.get("BBTOKEN_TEST_INSTALL")
    package = Path(git_credential_bbtoken.__file__).resolve().parent
    if claimed == "wheel":
        site = Path(sysconfig.get_paths()["purelib"]).resolve()
        if package.is_relative_to(CHECKOUT / "git_credential_bbtoken") \
                or not package.is_relative_to(site):
            raise pytest.UsageError(
                f"BBTOKEN_TEST_INSTALL=wheel, but git_credential_bbtoken is imported from "
                f"{package}, not from the installed wheel in {site}: run .venv/bin/pytest "
                f"(tests/run.sh does), not `python -m pytest`, and keep the checkout off "
                f"PYTHONPATH")
    elif claimed not in (None, "editable"):
        raise pytest.UsageError(f"BBTOKEN_TEST_INSTALL={claimed!r}: wheel or editable")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]
                              ) -> Iterator[None]:
    """Under BBTOKEN_REQUIRE_ALL=1 (CI) no test may skip: a skip becomes a failure that says
    why it wanted to skip."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and not hasattr(report, "wasxfail") and required("ALL"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but {REQUIRE_ALL}=1 allows no skip here: {reason}"


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
        skip_or_fail("needs dbus-daemon and gnome-keyring-daemon (apt install dbus "
                     "gnome-keyring)", "KEYRING")
    service = ss.SecretService(tmp_path_factory.mktemp("secret-service"))
    try:
        service.start()
        yield service
    finally:
        service.stop()


@pytest.fixture(autouse=True)
def _keyring_wiring(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                    isolated_env: Path, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[None]:
    # Every test gets a private bus: never the developer's real keyring. Where gnome-keyring
    # is missing, the bus points nowhere and keyring falls back to its fail backend.
    if not ss.available():
        nowhere = tmp_path_factory.mktemp("nobus") / "nothing"
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={nowhere}")
        yield
        return
    service: ss.SecretService = request.getfixturevalue("secret_service")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", service.address)
    if service.is_locked():  # a test that locked it must not break the next one
        service.unlock()
    service.clear()
    yield
    # A daemon that died during this test fails this test, by name and with its log, and is
    # started again: the tests after it must not all fail for the same reason.
    crash = service.crash_report()
    if crash is not None:
        service.restart_keyring()
        pytest.fail(f"the rig's Secret Service died during this test: {crash}", pytrace=False)


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
    # Bitbucket removed these in 2026 (410 "CHANGE-2770"): nothing may still call them.
    called = [path for server in servers if not server.rest.removed_calls_expected
              for path in server.rest.removed_calls]
    assert called == [], f"a removed Bitbucket endpoint was called: {called}"


@pytest.fixture
def bitbucket(make_bitbucket: Callable[..., BitbucketServer]) -> BitbucketServer:
    """A Bitbucket-like server, already configured in the isolated global git config."""
    return make_bitbucket()


@pytest.fixture
def datacenter(certificates: Certificates, isolated_env: Path, secret_service: object,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataCenterServer]:
    """A Data Center-like server with user alice (PROJECT_WRITE on PROJ) and PROJ/widgets, its
    CA and bbtoken.<url>.* in the isolated global git config. Test modules extend it by
    overriding the fixture (a fixture of the same name may ask for this one)."""
    server = DataCenterServer(tmp_path_factory.mktemp("datacenter"), certificates).start()
    try:
        for key, value in server.git_config_items():
            subprocess.run(["git", "config", "--file", str(isolated_env), key, value],
                           check=True)
        server.add_user("alice", {"PROJ": "PROJECT_WRITE"})
        server.add_repo("PROJ", "widgets")
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["manager", "osxkeychain"])
def system_helper(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                  isolated_env: Path, tmp_path_factory: pytest.TempPathFactory
                  ) -> SystemHelper:
    """git as Git for Windows (`manager`) and macOS (`osxkeychain`) ship it: the helper in the
    system config, which every git of the test reads, faked by a script that logs its calls
    (.calls(), .clear()) and answers nothing until .answer(username, password)."""
    helper = SystemHelper(tmp_path_factory.mktemp("system"), request.param)
    helper.install(monkeypatch)
    return helper


@pytest.fixture
def askpass(tmp_path_factory: pytest.TempPathFactory) -> Askpass:
    """A GIT_ASKPASS program (not installed: set GIT_ASKPASS=askpass.path where wanted)."""
    return Askpass(tmp_path_factory.mktemp("askpass"))


@pytest.fixture
def newer_git() -> str:
    """The bin folder of a git >= 2.46 (BBTOKEN_NEWER_GIT); skipped without it, except in CI
    (BBTOKEN_REQUIRE_NEWER_GIT=1 or BBTOKEN_REQUIRE_ALL=1) where it is a failure."""
    folder = os.environ.get("BBTOKEN_NEWER_GIT")
    if folder:
        version = git_version(folder)
        assert version >= (2, 46), f"BBTOKEN_NEWER_GIT={folder} holds git {version}"
        return folder
    skip_or_fail("needs a git >= 2.46: set BBTOKEN_NEWER_GIT to its bin folder "
                 "(.ci/newer-git.sh)", "NEWER_GIT")
