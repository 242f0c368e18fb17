"""How the checks reach a URL the way git does: which CAs to trust, which proxy, what auth.

- Trust: the operating system's trust store (through `truststore`: the Keychain on macOS,
  the Windows certificate store, OpenSSL's system bundle on Linux, where git's libcurl looks
  too), plus git's http.sslCAInfo / http.sslCAPath for the URL (GIT_SSL_CAINFO /
  GIT_SSL_CAPATH over them), plus REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE and the CA file a
  caller names. Verification is never turned off: where git's config turns it off
  (http.sslVerify=false, GIT_SSL_NO_VERIFY), the token is not sent there at all.
- Proxy: git's http.proxy for the URL, else HTTPS_PROXY / ALL_PROXY (gitconfig.http_config),
  and no_proxy as curl reads it.
- Auth: Basic or Bearer as an `AuthBase`, and the session never looks at ~/.netrc (requests
  would otherwise put netrc's credentials on a request it believes has none).

Imported only by the checks: never on the `get` path (`truststore`, `ssl` and `requests` are
heavy).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import ssl
import sys
import urllib.parse
from typing import Any, Mapping

import requests
import requests.adapters
import requests.auth

from git_credential_bbtoken.gitconfig import http_config

log = logging.getLogger(__name__)

# curl's ports for a proxy URL that names none (git hands its proxy string to curl as it is).
CURL_PROXY_PORT = 1080
CURL_HTTPS_PROXY_PORT = 443
SOCKS = ("socks4", "socks4a", "socks5", "socks5h")


class CaFileError(Exception):
    """A CA file or folder named in the configuration cannot be used."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclasses.dataclass(frozen=True)
class Refused:
    """The token must not go to this URL, and why (in words)."""

    reason: str
    tls: bool = False


@dataclasses.dataclass(frozen=True)
class Route:
    """How to reach one URL: the CA files and folders to trust besides the system store, and
    the proxies to hand to requests ({} goes direct)."""

    ca_files: tuple[str, ...]
    ca_dirs: tuple[str, ...]
    proxies: Mapping[str, str] = dataclasses.field(repr=False)  # may hold a proxy password


def origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _environment_bundle() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE), read as requests reads it: a file or folder."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if not bundle:
        return (), ()
    return ((), (bundle,)) if os.path.isdir(bundle) else ((bundle,), ())


def route_for(url: str, ca_file: str | None) -> Route | Refused:
    """How git would reach `url` (one `git config` child), or why the token must not go."""
    config = http_config(url)
    is_https = url.lower().startswith("https:")
    if is_https and config.ssl_verify_off:
        where = origin(url)
        if config.ssl_verify_off == "GIT_SSL_NO_VERIFY":
            return Refused(f"GIT_SSL_NO_VERIFY is set, so git does not check {where}'s "
                           "certificate; the token was not sent", tls=True)
        return Refused(f"git's http.sslVerify is off for {where}", tls=True)
    files, dirs = _environment_bundle()
    files += tuple(f for f in (ca_file, config.ca_info) if f)
    dirs += tuple(d for d in (config.ca_path,) if d)
    proxies: dict[str, str] = {}
    proxy = config.proxy
    if proxy and not bypasses_proxy(urllib.parse.urlsplit(url).hostname or "",
                                    config.no_proxy):
        proxy = proxy_url(proxy)
        scheme = urllib.parse.urlsplit(proxy).scheme.lower()
        if scheme in SOCKS and not _has_socks():
            return Refused(f"git's proxy for {origin(url)} is a SOCKS proxy ({scheme}), "
                           "which needs the PySocks package here")
        proxies["https" if is_https else "http"] = proxy
    route = Route(tuple(dict.fromkeys(files)), tuple(dict.fromkeys(dirs)), proxies)
    log.debug("route to %s: %s; trusting the system store plus %s", origin(url),
              f"proxy {_shown(proxy)}" if proxies else "direct",
              ", ".join(route.ca_files + route.ca_dirs) or "nothing else")
    return route


def _shown(proxy: str | None) -> str:
    """A proxy URL without its user name and password."""
    parts = urllib.parse.urlsplit(proxy or "")
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _has_socks() -> bool:
    import importlib.util

    return importlib.util.find_spec("socks") is not None


def proxy_url(proxy: str) -> str:
    """A proxy as curl reads it: `http://` when no scheme is given; port 1080 when none is
    (443 for an https proxy)."""
    text = proxy.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urllib.parse.urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None  # requests reports the bad URL as a proxy failure
    if port is None and parts.hostname:
        default = CURL_HTTPS_PROXY_PORT if parts.scheme.lower() == "https" else CURL_PROXY_PORT
        netloc = parts.netloc.rstrip(":")
        text = urllib.parse.urlunsplit(parts._replace(netloc=f"{netloc}:{default}"))
    return text


def bypasses_proxy(host: str, no_proxy: str | None) -> bool:
    """Whether curl's no_proxy list sends `host` direct: `*` for every host; a name for
    itself and its subdomains (with or without a leading dot); an address or CIDR range for
    the addresses in it. Ports are ignored."""
    if not no_proxy or not host:
        return False
    host = host.strip("[]").lower().rstrip(".")
    address = _address(host)
    for entry in no_proxy.replace(" ", ",").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if _entry_matches(host, address, entry):
            return True
    return False


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _entry_matches(host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
                   entry: str) -> bool:
    if address is not None:
        bare = entry.strip("[]") if entry.startswith("[") else entry
        if "]:" in entry:
            bare = entry[1:entry.index("]:")]
        elif bare.count(":") == 1:  # an IPv4 address with a port
            bare = bare.split(":")[0]
        try:
            return address in ipaddress.ip_network(bare, strict=False)
        except ValueError:
            return False
    name = entry.split(":")[0].lstrip(".").rstrip(".")
    return bool(name) and (host == name or host.endswith("." + name))


def trust_context(ca_files: tuple[str, ...], ca_dirs: tuple[str, ...]) -> ssl.SSLContext:
    """The system trust store plus `ca_files` and `ca_dirs`; CaFileError for one that cannot
    be read."""
    context = _system_context()
    for path in ca_files:
        try:
            context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise CaFileError(path) from exc
    for path in ca_dirs:
        if not os.path.isdir(path):
            raise CaFileError(path)
        context.load_verify_locations(capath=path)
    return context


def _system_context() -> ssl.SSLContext:
    context: ssl.SSLContext
    if sys.version_info >= (3, 10):
        import truststore

        context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        # Python 3.9 has no truststore: OpenSSL's default paths (the system bundle on Linux,
        # the certificate store on Windows), and certifi's bundle that requests ships with.
        import certifi

        context = ssl.create_default_context()
        context.load_verify_locations(cafile=certifi.where())
    if _URLLIB3_MAJOR < 2:
        # urllib3 1.x gives no server_hostname for an IP address (the TLS library would refuse
        # to check it), and then matches the host name itself: it does whenever the context
        # does not (connection.py, `not context.check_hostname`). urllib3 2 passes it always.
        context.check_hostname = False
    return context


def _urllib3_major() -> int:
    import urllib3

    try:
        return int(str(getattr(urllib3, "__version__", "2")).split(".")[0])
    except ValueError:
        return 2


_URLLIB3_MAJOR = _urllib3_major()


class Routes:
    """One validation's routes and TLS contexts, each worked out once."""

    def __init__(self, ca_file: str | None) -> None:
        self.ca_file = ca_file
        self._routes: dict[str, Route | Refused] = {}
        self._contexts: dict[tuple[tuple[str, ...], tuple[str, ...]], ssl.SSLContext] = {}

    def route(self, url: str) -> Route | Refused:
        key = url.split("?", 1)[0]
        if key not in self._routes:
            self._routes[key] = route_for(key, self.ca_file)
        return self._routes[key]

    def context(self, route: Route) -> ssl.SSLContext:
        key = (route.ca_files, route.ca_dirs)
        if key not in self._contexts:
            self._contexts[key] = trust_context(*key)
        return self._contexts[key]

    def context_for(self, url: str) -> ssl.SSLContext | None:
        route = self.route(url)
        return self.context(route) if isinstance(route, Route) else None


class TrustAdapter(requests.adapters.HTTPAdapter):
    """Every https connection verifies with the context `Routes` made for its URL."""

    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        super().__init__(max_retries=0)

    # Typed loosely: requests' own annotations and types-requests' differ here.
    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest,
                                             verify: Any, cert: Any = None) -> tuple[Any, Any]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert)
        context = self.routes.context_for(request.url or "")
        if context is None:  # never sent: Channel.get refuses a Refused route first
            raise requests.exceptions.SSLError("no trust context for this URL")
        pool_kwargs["ssl_context"] = context
        return host_params, pool_kwargs


class BearerAuth(requests.auth.AuthBase):
    """`Authorization: Bearer <token>` (Data Center project and repository tokens)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(<redacted>)"


def basic_auth(username: str, token: str) -> requests.auth.HTTPBasicAuth:
    return requests.auth.HTTPBasicAuth(username, token)


def prepare(session: requests.Session, routes: Routes) -> requests.adapters.BaseAdapter | None:
    """Make `session` send like git: no netrc and no environment lookups by requests (the
    routes say what the environment means), and https verified by `routes`. Returns the
    https adapter it replaced."""
    session.trust_env = False
    previous = session.adapters.get("https://")
    session.mount("https://", TrustAdapter(routes))
    return previous
