"""Issue 15: the checks trust what the operating system trusts, as git does.

A fresh CA (not the session's: nothing else may come to trust it) is installed system-wide
with `update-ca-certificates`, and is NOT in git's config: `login` with a repository URL
checks the token (before truststore: "the TLS certificate check failed ... not checked").
Needs root and Debian's ca-certificates; skipped elsewhere, a failure in CI
(BBTOKEN_REQUIRE_ALL=1).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from rig.certs import Certificates, make_certificates
from rig.required import skip_or_fail
from rig.server import BitbucketServer

SYSTEM_CAS = Path("/usr/local/share/ca-certificates")
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
TOKEN = "ATATT3xFfGF0-system-trust-token-0123456789abcdefghijklmnopq"  # noqa: S105


def _update() -> subprocess.CompletedProcess[str]:
    return subprocess.run(["update-ca-certificates"], capture_output=True, text=True,
                          timeout=120)


def _bundle_has(pem: str) -> bool:
    body = "".join(Path(pem).read_text().split())
    return SYSTEM_BUNDLE.is_file() and body in "".join(SYSTEM_BUNDLE.read_text().split())


@pytest.fixture
def system_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Certificates]:
    """A new CA, trusted system-wide while the test runs, then removed again."""
    if os.name != "posix" or os.geteuid() != 0:
        skip_or_fail("installing a CA system-wide needs root", "SYSTEM_CA")
    if shutil.which("update-ca-certificates") is None or not SYSTEM_CAS.is_dir():
        skip_or_fail("needs update-ca-certificates and /usr/local/share/ca-certificates "
                     "(apt install ca-certificates)", "SYSTEM_CA")
    certs = make_certificates(tmp_path_factory.mktemp("system-ca"))
    installed = SYSTEM_CAS / f"bbtoken-test-{uuid.uuid4().hex}.crt"
    shutil.copyfile(certs.ca_file, installed)
    try:
        update = _update()
        if update.returncode != 0 or not _bundle_has(certs.ca_file):
            skip_or_fail(f"update-ca-certificates did not install the test CA: "
                         f"{update.stdout}{update.stderr}", "SYSTEM_CA")
        yield certs
    finally:
        installed.unlink(missing_ok=True)
        removed = _update()
        assert removed.returncode == 0, removed.stderr
        assert not _bundle_has(certs.ca_file), "the test CA is still trusted system-wide"


@pytest.fixture
def trusted_server(system_ca: Certificates, isolated_env: Path, secret_service: object,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[BitbucketServer]:
    """The Cloud-like rig with a certificate from the system-wide CA; git's config names the
    server as Bitbucket but no CA (no http.sslCAInfo)."""
    server = BitbucketServer(tmp_path_factory.mktemp("bitbucket"), system_ca).start()
    try:
        for key, value in server.git_config_items():
            if key != "http.sslCAInfo":
                subprocess.run(["git", "config", "--global", key, value], check=True)
        server.add_user("alice", "alice@example.com", workspaces=["acme"])
        server.add_repo("acme/widgets")
        server.add_token(TOKEN, "alice", scopes=["read:repository:bitbucket"])
        setup = subprocess.run(["git", "credential-bbtoken", "setup", server.url],
                               capture_output=True, text=True, timeout=120)
        assert setup.returncode == 0, setup.stderr
        yield server
    finally:
        server.stop()


def test_login_checks_a_server_the_system_trusts(trusted_server: BitbucketServer) -> None:
    url = f"{trusted_server.url}/acme/widgets"
    assert subprocess.run(["git", "config", "--get-urlmatch", "http.sslCAInfo", url],
                          capture_output=True).returncode == 1  # git's config names no CA
    result = subprocess.run(["git", "credential-bbtoken", "login", url, "--token-stdin"],
                            input=TOKEN + "\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = {" ".join(line.split()[:2]): " ".join(line.split()[2:])
            for line in result.stdout.splitlines()[1:3]}
    assert rows == {"clone yes": "git probe: allowed (200)",
                    "push no": "git probe: 403, lacks write:repository:bitbucket"}
    assert "TLS" not in result.stderr
    assert {r.surface for r in trusted_server.requests} == {"git"}
    # git itself trusts it the same way: a clone works without any CA configuration.
    clone = subprocess.run(["git", "clone", "-q", url + ".git", "clone"], capture_output=True,
                           text=True, timeout=120)
    assert clone.returncode == 0, clone.stderr
