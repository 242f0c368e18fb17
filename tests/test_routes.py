"""checks/routes.py and gitconfig.http_config in-process: how git's http.* config, the GIT_SSL_*
variables and the proxy variables are read (the real `git config`, the isolated HOME), and
curl's no_proxy rules. The end-to-end tests are in tests/test_transport.py."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from rig.certs import Certificates

from git_credential_bbtoken.checks import routes, transport
from git_credential_bbtoken.gitconfig import http_config

URL = "https://bitbucket.example/acme/widgets.git"


@pytest.mark.parametrize(("host", "no_proxy", "direct"), [
    ("bitbucket.example", None, False),
    ("bitbucket.example", "", False),
    ("bitbucket.example", "*", True),
    ("bitbucket.example", "bitbucket.example", True),
    ("bitbucket.example", ".bitbucket.example", True),
    ("git.bitbucket.example", "bitbucket.example", True),
    ("bitbucket.example", "git.bitbucket.example", False),
    ("notbitbucket.example", "bitbucket.example", False),
    ("bitbucket.example", "other.example, bitbucket.example:443", True),
    ("BITBUCKET.example.", "bitbucket.EXAMPLE", True),
    ("127.0.0.1", "127.0.0.1", True),
    ("127.0.0.1", "127.0.0.0/8", True),
    ("127.0.0.1", "127.0.0.1:8443", True),
    ("127.0.0.1", "10.0.0.0/8", False),
    ("127.0.0.1", "localhost", False),  # curl does not resolve names for no_proxy
    ("::1", "::1", True),
    ("[::1]", "[::1]:443", True),
    ("::1", "fe80::/10", False),
])
def test_no_proxy_as_curl_reads_it(host: str, no_proxy: str | None, direct: bool) -> None:
    assert routes.bypasses_proxy(host, no_proxy) is direct


@pytest.mark.parametrize(("given", "used"), [
    ("proxy.example", "http://proxy.example:1080"),
    ("proxy.example:3128", "http://proxy.example:3128"),
    ("http://user:pw@proxy.example", "http://user:pw@proxy.example:1080"),
    ("https://proxy.example", "https://proxy.example:443"),
    ("http://[::1]:8080", "http://[::1]:8080"),
])
def test_proxy_url_as_curl_reads_it(given: str, used: str) -> None:
    assert routes.proxy_url(given) == used


def git_config(*args: str) -> None:
    subprocess.run(["git", "config", "--global", *args], check=True)


@pytest.mark.parametrize(("value", "off"), [
    ("false", True), ("no", True), ("off", True), ("0", True), ("", True),
    ("true", False), ("yes", False), ("1", False), ("bogus", False),
])
def test_ssl_verify_values(value: str, off: bool) -> None:
    git_config("http.https://bitbucket.example.sslVerify", value)
    assert (http_config(URL).ssl_verify_off == "http.sslVerify") is off
    assert http_config("https://other.example/").ssl_verify_off is None


def test_bare_ssl_verify_key_is_true(isolated_env: Path) -> None:
    isolated_env.write_text('[http "https://bitbucket.example"]\n\tsslVerify\n')
    assert http_config(URL).ssl_verify_off is None


def test_git_ssl_no_verify_any_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_SSL_NO_VERIFY", "")
    assert http_config(URL).ssl_verify_off == "GIT_SSL_NO_VERIFY"
    assert isinstance(routes.route_for(URL, None), routes.Refused)
    # Plain http to loopback has no certificate to check: not refused for that.
    assert isinstance(routes.route_for("http://127.0.0.1:9/acme", None), routes.Route)


def test_ca_settings_environment_over_config(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    git_config("http.sslCAInfo", "~/from-config.pem")
    git_config("http.https://bitbucket.example.sslCAPath", str(tmp_path))
    config = http_config(URL)
    assert config.ca_info == str(Path.home() / "from-config.pem")
    assert config.ca_path == str(tmp_path)
    monkeypatch.setenv("GIT_SSL_CAINFO", "/env/ca.pem")
    monkeypatch.setenv("GIT_SSL_CAPATH", "/env/cas")
    config = http_config(URL)
    assert (config.ca_info, config.ca_path) == ("/env/ca.pem", "/env/cas")


def test_route_collects_every_ca(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    git_config("http.sslCAInfo", "/git/ca.pem")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path))  # a folder: a CA path
    route = routes.route_for(URL, "/caller/ca.pem")
    assert isinstance(route, routes.Route)
    assert route.ca_files == ("/caller/ca.pem", "/git/ca.pem")
    assert route.ca_dirs == (str(tmp_path),)
    assert route.proxies == {}


@pytest.mark.parametrize(("environment", "proxy"), [
    ({"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:1"}, "http://lower:1"),
    ({"ALL_PROXY": "http://all:1"}, "http://all:1"),
    ({"https_proxy": "http://s:1", "all_proxy": "http://all:1"}, "http://s:1"),
    ({"http_proxy": "http://plain:1"}, None),  # only for http URLs
    ({}, None),
])
def test_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                    environment: dict[str, str], proxy: str | None) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert http_config(URL).proxy == proxy


def test_git_proxy_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env:1")
    git_config("http.https://bitbucket.example.proxy", "git-proxy:3128")
    route = routes.route_for(URL, None)
    assert isinstance(route, routes.Route)
    assert route.proxies == {"https": "http://git-proxy:3128"}
    monkeypatch.setenv("NO_PROXY", ".example")
    route = routes.route_for(URL, None)
    assert isinstance(route, routes.Route) and route.proxies == {}


def test_socks_proxy_without_pysocks_is_refused() -> None:
    git_config("http.proxy", "socks5://127.0.0.1:9")
    route = routes.route_for(URL, None)
    try:
        import socks  # noqa: F401
    except ImportError:
        assert isinstance(route, routes.Refused) and "SOCKS" in route.reason
    else:
        assert isinstance(route, routes.Route)


def test_unreadable_ca_file(tmp_path: Path) -> None:
    with pytest.raises(routes.CaFileError) as raised:
        routes.trust_context((str(tmp_path / "missing.pem"),), ())
    assert raised.value.path == str(tmp_path / "missing.pem")
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(routes.CaFileError):
        routes.trust_context((str(bad),), ())


# -- certificates are really checked ----------------------------------------------------------

WRONG_NAME_EXT = """basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def wrong_name_certificate(certificates: Certificates, folder: Path) -> tuple[str, str]:
    """A certificate from the session's CA for wrong.example only (not 127.0.0.1)."""
    ca_key = Path(certificates.ca_file).with_name("ca.key")
    (folder / "wrong.ext").write_text(WRONG_NAME_EXT)
    for args in (["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                  "-keyout", "wrong.key", "-out", "wrong.csr", "-subj", "/CN=wrong.example"],
                 ["x509", "-req", "-in", "wrong.csr", "-CA", certificates.ca_file, "-CAkey",
                  str(ca_key), "-CAcreateserial", "-days", "2", "-extfile", "wrong.ext",
                  "-out", "wrong.pem"]):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)
    return str(folder / "wrong.pem"), str(folder / "wrong.key")


@pytest.fixture
def tls_server(certificates: Certificates, tmp_path: Path, request: pytest.FixtureRequest
               ) -> Iterator[int]:
    """A one-answer-per-connection HTTPS server on 127.0.0.1 with the certificate named by
    the test's parameter: "right" (the rig's, for 127.0.0.1) or "wrong" (wrong.example)."""
    if request.param == "right":
        cert, key = certificates.cert_file, certificates.key_file
    else:
        cert, key = wrong_name_certificate(certificates, tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(5)
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(65536)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                                b"Connection: close\r\n\r\n")
            except (OSError, ssl.SSLError):
                pass  # the client refused our certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()


@pytest.mark.parametrize("tls_server", ["right", "wrong"], indirect=True)
def test_host_name_is_checked(tls_server: int, certificates: Certificates,
                              request: pytest.FixtureRequest) -> None:
    right = request.node.callspec.params["tls_server"] == "right"
    with transport.channel("token", certificates.ca_file, 5.0) as line:
        answer = line.get(f"https://127.0.0.1:{tls_server}/x", "alice")
    if right:
        assert isinstance(answer, transport.Response) and answer.status == 200
    else:
        assert answer == transport.NotChecked(
            f"the TLS certificate check failed for 127.0.0.1:{tls_server}", True)
