"""Issues 13 (item 6) and 15: the helper's own HTTPS checks reach Bitbucket the way git does.

- ~/.netrc never replaces the token (requests would apply it to a request it thinks carries
  no credentials, such as our Bearer checks);
- TLS: git's http.sslCAInfo / http.sslCAPath (and GIT_SSL_CAINFO / GIT_SSL_CAPATH) add to the
  operating system's trust store; where git's http.sslVerify is off (or GIT_SSL_NO_VERIFY is
  set) the token is not sent at all;
- proxies: git's http.proxy for the URL, then HTTPS_PROXY / ALL_PROXY, honouring no_proxy,
  through a real CONNECT proxy on loopback (tests/rig/proxy.py).

End to end: real `git credential-bbtoken login` processes against the rig's servers.
The system trust store itself is tested in tests/test_system_trust.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rig.datacenter import DataCenterServer
from rig.proxy import ConnectProxy
from rig.server import BitbucketServer

READ = "read:repository:bitbucket"
WRITE = "write:repository:bitbucket"
USER = "read:user:bitbucket"
TOKEN = "ATATT3xFfGF0-transport-token-0123456789abcdefghijklmnopqrstuv"  # noqa: S105
PROJECT = "MTIzNDU2Nzg5MDEyOkDc-transport-project-0123456789"  # noqa: S105
PERSONAL = "NDY2MjQ4NTU5MjU5OkDc-transport-personal-01234567"  # noqa: S105
NETRC_LOGIN = "mallory"
NETRC_PASSWORD = "netrc-password-never-sent"  # noqa: S105


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), input=input, capture_output=True, text=True,
                          timeout=120, env=env)


def git_config(*args: str) -> None:
    subprocess.run(["git", "config", "--global", *args], check=True)


def login(url: str, *extra: str, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    return run("git", "credential-bbtoken", "login", url, "--token-stdin", *extra,
               input=TOKEN + "\n", env=env)


def with_env(**values: str) -> dict[str, str]:
    return dict(os.environ, **values)


@pytest.fixture
def server(bitbucket: BitbucketServer, secret_service: object) -> BitbucketServer:
    """The Cloud-like rig, its CA in git's http.sslCAInfo, with alice, acme/widgets and a
    token that can clone, push and read /user."""
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    bitbucket.add_token(TOKEN, "alice", scopes=[READ, WRITE, USER])
    return bitbucket


def clone_row(result: subprocess.CompletedProcess[str]) -> str:
    [row] = [line for line in result.stdout.splitlines() if line.strip().startswith("clone")]
    return " ".join(row.split())


# -- ~/.netrc ---------------------------------------------------------------------------------


def write_netrc(host: str = "127.0.0.1") -> Path:
    netrc = Path(os.environ["HOME"]) / ".netrc"
    netrc.write_text(f"machine {host} login {NETRC_LOGIN} password {NETRC_PASSWORD}\n")
    netrc.chmod(0o600)
    return netrc


def test_netrc_never_replaces_the_token_in_cloud_checks(server: BitbucketServer) -> None:
    write_netrc()
    result = login(f"{server.url}/acme/widgets", "--email", "alice@example.com")
    assert result.returncode == 0, result.stderr
    assert clone_row(result) == "clone yes git probe: allowed (200)"
    asked = server.requests
    assert {r.surface for r in asked} == {"git", "rest"}
    # Every request carried our credentials: git's username on the probes, the email on REST
    # (the rig logs the Basic username it received), and each was accepted: 200, or a 403
    # that names the scopes the token lacks (how the REST checks learn them); netrc's
    # credentials would have been refused with 401.
    assert {r.username for r in asked} == {"x-bitbucket-api-token-auth", "alice@example.com"}
    assert all(r.status in (200, 403) for r in asked), asked
    assert any(r.status == 200 and r.surface == "rest" for r in asked), asked


def dc_login(server: DataCenterServer, token: str, *extra: str
             ) -> subprocess.CompletedProcess[str]:
    return run("git", "credential-bbtoken", "login", "--kind", "datacenter",
               f"{server.url}/scm/PROJ/widgets", "--token-stdin", *extra, input=token + "\n")


def test_netrc_never_replaces_a_data_center_bearer_token(datacenter: DataCenterServer
                                                         ) -> None:
    write_netrc()
    datacenter.add_project_token(PROJECT, "PROJ", ["REPO_WRITE"])
    result = dc_login(datacenter, PROJECT, "--bearer")
    assert result.returncode == 0, result.stderr
    assert clone_row(result) == "clone yes git probe: allowed (200)"
    asked = datacenter.requests
    assert asked and {(r.scheme, r.username) for r in asked} == {("bearer", None)}
    assert all(r.status == 200 for r in asked), asked


def test_netrc_never_replaces_a_data_center_personal_token(datacenter: DataCenterServer
                                                           ) -> None:
    write_netrc()
    datacenter.add_personal_token(PERSONAL, "alice", ["REPO_WRITE"])
    result = dc_login(datacenter, PERSONAL, "--username", "alice")
    assert result.returncode == 0, result.stderr
    asked = datacenter.requests
    assert asked and {(r.scheme, r.username) for r in asked} == {("basic", "alice")}
    assert all(r.status == 200 for r in asked), asked


# -- TLS as git configures it -----------------------------------------------------------------


def test_ssl_verify_off_for_the_url_sends_no_token(server: BitbucketServer) -> None:
    git_config(f"http.{server.url}.sslVerify", "false")
    result = login(f"{server.url}/acme/widgets")
    assert result.returncode == 0, result.stderr  # stored, unchecked
    assert clone_row(result) == (f"clone unknown not checked: git's http.sslVerify is off for "
                                 f"{server.url}")
    assert "http.sslCAInfo" in result.stderr  # what to do instead
    assert server.requests == []


def test_ssl_verify_off_elsewhere_changes_nothing(server: BitbucketServer) -> None:
    git_config("http.https://elsewhere.example.sslVerify", "false")
    result = login(f"{server.url}/acme/widgets")
    assert result.returncode == 0, result.stderr
    assert clone_row(result) == "clone yes git probe: allowed (200)"


def test_git_ssl_no_verify_sends_no_token(server: BitbucketServer) -> None:
    result = login(f"{server.url}/acme/widgets", env=with_env(GIT_SSL_NO_VERIFY=""))
    assert result.returncode == 0, result.stderr
    assert "GIT_SSL_NO_VERIFY is set" in result.stdout
    assert server.requests == []


def unset_git_ca() -> None:
    git_config("--unset", "http.sslCAInfo")


def test_ssl_ca_path(server: BitbucketServer, tmp_path: Path) -> None:
    unset_git_ca()
    folder = tmp_path / "cas"
    folder.mkdir()
    subject_hash = run("openssl", "x509", "-hash", "-noout", "-in", server.ca_file).stdout
    (folder / f"{subject_hash.strip()}.0").write_bytes(Path(server.ca_file).read_bytes())
    git_config(f"http.{server.url}.sslCAPath", str(folder))
    result = login(f"{server.url}/acme/widgets")
    assert result.returncode == 0, result.stderr
    assert clone_row(result) == "clone yes git probe: allowed (200)"


def test_git_ssl_cainfo_from_the_environment(server: BitbucketServer) -> None:
    unset_git_ca()
    unchecked = login(f"{server.url}/acme/widgets")
    assert "TLS certificate check failed" in unchecked.stdout + unchecked.stderr
    result = login(f"{server.url}/acme/widgets", env=with_env(GIT_SSL_CAINFO=server.ca_file))
    assert result.returncode == 0, result.stderr
    assert clone_row(result) == "clone yes git probe: allowed (200)"


# -- proxies ----------------------------------------------------------------------------------


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    started = ConnectProxy().start()
    try:
        yield started
    finally:
        started.stop()


def test_git_proxy_carries_the_checks(server: BitbucketServer, proxy: ConnectProxy) -> None:
    git_config("http.proxy", proxy.url)
    result = login(f"{server.url}/acme/widgets", "--email", "alice@example.com")
    assert result.returncode == 0, result.stderr
    assert clone_row(result) == "clone yes git probe: allowed (200)"
    target = f"127.0.0.1:{server.port}"
    # One tunnel per connection: at least the git probes' and the REST checks', all to it.
    assert proxy.connects and set(proxy.connects) == {target}
    assert {r.surface for r in server.requests} == {"git", "rest"}


def test_no_proxy_goes_direct(server: BitbucketServer, proxy: ConnectProxy) -> None:
    git_config(f"http.{server.url}.proxy", proxy.url)
    result = login(f"{server.url}/acme/widgets", env=with_env(no_proxy="example.com,127.0.0.1"))
    assert result.returncode == 0, result.stderr
    assert clone_row(result) == "clone yes git probe: allowed (200)"
    assert proxy.connects == []
    assert server.requests


@pytest.mark.parametrize(("git_proxy", "through"), [
    (None, True),  # HTTPS_PROXY from the environment
    ("", False),  # an empty http.proxy turns every proxy off, the environment's too
    ("other", True),  # http.<another url>.proxy (a dead one) does not apply to this one
])
def test_environment_proxy(server: BitbucketServer, proxy: ConnectProxy,
                           git_proxy: str | None, through: bool) -> None:
    if git_proxy == "other":
        git_config("http.https://elsewhere.example.proxy", "http://127.0.0.1:9")
    elif git_proxy is not None:
        git_config("http.proxy", git_proxy)
    result = login(f"{server.url}/acme/widgets", env=with_env(HTTPS_PROXY=proxy.url))
    assert result.returncode == 0, result.stderr
    assert clone_row(result) == "clone yes git probe: allowed (200)"
    assert bool(proxy.connects) is through


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: connecting is refused


def test_unreachable_proxy_is_not_checked(server: BitbucketServer, closed_port: int) -> None:
    git_config("http.proxy", f"127.0.0.1:{closed_port}")
    result = login(f"{server.url}/acme/widgets")
    assert result.returncode == 0, result.stderr
    assert clone_row(result) == ("clone unknown not checked: the proxy failed to reach "
                                 f"127.0.0.1:{server.port}")
    assert server.requests == []
