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


def read_urlmatch(section: str, url: str) -> dict[str, str]:
    """All `<section>.*` values that apply to `url` (last one wins), keys in lower case."""
    args = ["config", "-z", "--get-urlmatch", section, url]
    try:
        output = _git_output_fast(args) if os.name == "posix" else run_git(args).stdout
    except OSError:
        return {}  # no git on PATH: behave as with no configuration
    values: dict[str, str] = {}
    for item in output.split("\0"):
        if not item:
            continue
        key, _, value = item.partition("\n")
        values[key[len(section) + 1:].lower()] = value
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


def ca_file_for(url: str) -> str | None:
    """The CA bundle git itself would use for `url` (GIT_SSL_CAINFO, then http.sslCAInfo)."""
    from_env = os.environ.get("GIT_SSL_CAINFO")
    if from_env:
        return from_env
    value = read_urlmatch("http", url).get("sslcainfo")
    return os.path.expanduser(value) if value else None
