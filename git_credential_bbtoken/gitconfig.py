"""The one place that runs `git config`: what the helper is configured to do for a URL.

git matches `bbtoken.<url>.*` the way it matches `http.<url>.*`, so we ask git itself with
`--get-urlmatch` rather than re-implementing its rules: one child process, which also sees
`git -c ...` options (git passes them down in GIT_CONFIG_PARAMETERS).
"""

from __future__ import annotations

import os

from git_credential_bbtoken import debug
from git_credential_bbtoken.common import CLOUD_API_URL, is_cloud_host, parse_host

log = debug.getLogger(__name__)

KINDS = ("cloud", "datacenter", "generic")
STORES = ("keyring", "file")

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess


class HostConfig:
    """What git config says about one URL."""

    __slots__ = ("kind", "api_url", "store")

    def __init__(self, kind: str, api_url: str | None, store: str) -> None:
        self.kind = kind
        self.api_url = api_url
        self.store = store

    def __repr__(self) -> str:
        return f"HostConfig(kind={self.kind!r}, api_url={self.api_url!r}, store={self.store!r})"

    @property
    def is_bitbucket(self) -> bool:
        return self.kind in ("cloud", "datacenter")


def run_git(args: list[str], check: bool = False,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run git with the caller's environment. No secret is ever passed in `args`."""
    import subprocess

    log.debug("running git %s", " ".join(args))
    return subprocess.run(["git", *args], capture_output=True, text=True, check=check,
                          input=input_text, stdin=None if input_text is not None
                          else subprocess.DEVNULL)


def git_version() -> tuple[str, tuple[int, int] | None] | None:
    """What `git --version` says for the git on PATH, with its (major, minor) when the text
    has one; None when git cannot be run."""
    import re

    try:
        out = run_git(["--version"]).stdout.strip()
    except OSError:
        return None
    match = re.search(r"(\d+)\.(\d+)", out)
    return out, ((int(match.group(1)), int(match.group(2))) if match else None)


def read_urlmatch(section: str, url: str) -> dict[str, str]:
    """All `<section>.*` values that apply to `url` (last one wins), keys in lower case."""
    return {key: value or "" for key, value in _read_urlmatch_raw(section, url).items()}


def _read_urlmatch_raw(section: str, url: str) -> dict[str, str | None]:
    """As `read_urlmatch`, but a key written without `=` (a boolean's implicit true) is None."""
    args = ["config", "-z", "--get-urlmatch", section, url]
    try:
        output = _git_output_fast(args) if os.name == "posix" else run_git(args).stdout
    except OSError:
        return {}  # no git on PATH: behave as with no configuration
    values: dict[str, str | None] = {}
    for item in output.split("\0"):
        if not item:
            continue
        key, newline, value = item.partition("\n")
        values[key[len(section) + 1:].lower()] = value if newline else None
    return values


def _git_output_fast(args: list[str]) -> str:
    """`git ARGS` stdout, on POSIX without the `subprocess` module (its import costs the hot
    `get` path more than the child process itself)."""
    log.debug("running git %s", " ".join(args))
    read_end, write_end = os.pipe()
    try:
        with open(os.devnull, "rb") as devnull:
            actions = [(os.POSIX_SPAWN_DUP2, devnull.fileno(), 0),
                       (os.POSIX_SPAWN_DUP2, write_end, 1),
                       (os.POSIX_SPAWN_CLOSE, read_end)]
            with open(os.devnull, "wb") as sink:
                actions.append((os.POSIX_SPAWN_DUP2, sink.fileno(), 2))
                pid = os.posix_spawnp("git", ["git", *args], os.environ,
                                      file_actions=actions)
    finally:
        os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while True:
            chunk = pipe.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode("utf-8", "replace")


def host_config(protocol: str, host: str, path: str = "") -> HostConfig:
    """Kind, REST base and secret store for a URL, with the contract's defaults."""
    url = f"{protocol}://{host}/{path}".rstrip("/")
    values = read_urlmatch("bbtoken", url)
    default_kind = "cloud" if is_cloud_host(host) else "generic"
    kind = values.get("kind", default_kind).strip().lower() or default_kind
    if kind not in KINDS:
        log.debug("unknown bbtoken.kind %r for %s; using %s", kind, url, default_kind)
        kind = default_kind
    if kind != "generic" and parse_host(host) is None:
        # Not a host name git could mean (`bitbucket.org:@127.0.0.1`): no Bitbucket logic, no
        # token from BBTOKEN_TOKEN, whatever the configuration says.
        log.debug("%r is not a valid host name; treating it as generic", host)
        kind = "generic"
    api_url = values.get("apiurl") if kind != "generic" else None
    if not api_url and kind == "cloud" and is_cloud_host(host):
        api_url = CLOUD_API_URL
    if not api_url and kind == "datacenter":
        api_url = f"{protocol}://{host}/rest/api/latest"
    store = values.get("store", "keyring").strip().lower() or "keyring"
    if store not in STORES:
        store = "keyring"
    return HostConfig(kind=kind, api_url=api_url.rstrip("/") if api_url else None, store=store)


class HttpConfig:
    """What git's http.* config for one URL, and the GIT_SSL_* and proxy variables, say about
    how git reaches it (git's http.c reads them the same way; environment over config)."""

    __slots__ = ("ssl_verify_off", "ca_info", "ca_path", "proxy", "no_proxy")

    def __init__(self, ssl_verify_off: str | None, ca_info: str | None, ca_path: str | None,
                 proxy: str | None, no_proxy: str | None) -> None:
        self.ssl_verify_off = ssl_verify_off  # what turned verification off, or None
        self.ca_info = ca_info  # http.sslCAInfo / GIT_SSL_CAINFO: a CA file
        self.ca_path = ca_path  # http.sslCAPath / GIT_SSL_CAPATH: a folder of hashed CAs
        self.proxy = proxy  # the proxy git would use ("" = none, even from the environment)
        self.no_proxy = no_proxy  # NO_PROXY / no_proxy: hosts that go direct

    def __repr__(self) -> str:
        return (f"HttpConfig(ssl_verify_off={self.ssl_verify_off!r}, ca_info={self.ca_info!r}, "
                f"ca_path={self.ca_path!r}, proxy=<{'set' if self.proxy else 'none'}>, "
                f"no_proxy={self.no_proxy!r})")


def http_config(url: str) -> HttpConfig:
    """How git would reach `url`: `git config --get-urlmatch http <url>`, then the variables
    git reads over it (GIT_SSL_NO_VERIFY, GIT_SSL_CAINFO, GIT_SSL_CAPATH; the proxy ones only
    when git's config names no proxy)."""
    values = _read_urlmatch_raw("http", url)
    verify_off = None
    if not _git_bool(values.get("sslverify", "true")):
        verify_off = "http.sslVerify"
    if "GIT_SSL_NO_VERIFY" in os.environ:  # any value, even empty, as in git's http.c
        verify_off = "GIT_SSL_NO_VERIFY"
    ca_info = os.environ.get("GIT_SSL_CAINFO") or values.get("sslcainfo")
    ca_path = os.environ.get("GIT_SSL_CAPATH") or values.get("sslcapath")
    proxy = values.get("proxy")
    if proxy is None:
        proxy = _proxy_from_environment(url)
    return HttpConfig(verify_off, os.path.expanduser(ca_info) if ca_info else None,
                      os.path.expanduser(ca_path) if ca_path else None, proxy,
                      _last_set("NO_PROXY", "no_proxy"))


def _git_bool(value: str | None) -> bool:
    """git's reading of a boolean: a bare key is true, an empty value false. A value git would
    refuse (it stops with "bad boolean config value") counts as true: never less checking."""
    if value is None:
        return True
    text = value.strip().lower()
    if text in ("false", "no", "off", ""):
        return False
    if text in ("true", "yes", "on"):
        return True
    try:
        return int(text, 0) != 0
    except ValueError:
        return True


def _proxy_from_environment(url: str) -> str | None:
    """The variables git reads when its config names no proxy: lower case wins, and plain
    http reads only `http_proxy` (as curl does)."""
    if url.lower().startswith("https:"):
        scheme_proxy = _last_set("HTTPS_PROXY", "https_proxy")
    else:
        scheme_proxy = _last_set("http_proxy")
    return scheme_proxy if scheme_proxy is not None else _last_set("ALL_PROXY", "all_proxy")


def _last_set(*names: str) -> str | None:
    """The value of the last of `names` that is set (git's var_override order)."""
    value = None
    for name in names:
        if name in os.environ:
            value = os.environ[name]
    return value
