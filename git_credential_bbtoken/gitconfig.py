"""The one place that runs `git config`: what the helper is configured to do for a URL.

git matches `bbtoken.<url>.*` the way it matches `http.<url>.*`, so we ask git itself with
`--get-urlmatch` rather than re-implementing its rules: one child process, which also sees
`git -c ...` options (git passes them down in GIT_CONFIG_PARAMETERS).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess

log = logging.getLogger(__name__)

KINDS = ("cloud", "datacenter", "generic")
STORES = ("keyring", "file")
CLOUD_HOSTS = ("bitbucket.org",)
DEFAULT_CLOUD_API = "https://api.bitbucket.org/2.0"


class ConfigError(ValueError):
    """A git config value we cannot use; the message is one line for the user."""


@dataclasses.dataclass(frozen=True)
class HostConfig:
    """What git config says about one URL."""

    kind: str
    api_url: str | None
    store: str

    @property
    def is_bitbucket(self) -> bool:
        return self.kind in ("cloud", "datacenter")


def run_git(args: list[str], check: bool = False,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run git with the caller's environment. No secret is ever passed in `args`."""
    log.debug("running git %s", " ".join(args))
    return subprocess.run(["git", *args], capture_output=True, text=True, check=check,
                          input=input_text, stdin=None if input_text is not None
                          else subprocess.DEVNULL)


def read_urlmatch(section: str, url: str) -> dict[str, str]:
    """All `<section>.*` values that apply to `url` (last one wins), keys in lower case."""
    try:
        result = run_git(["config", "-z", "--get-urlmatch", section, url])
    except OSError:
        return {}  # no git on PATH: behave as with no configuration
    values: dict[str, str] = {}
    for item in result.stdout.split("\0"):
        if not item:
            continue
        key, _, value = item.partition("\n")
        values[key[len(section) + 1:].lower()] = value
    return values


def host_config(protocol: str, host: str, path: str = "") -> HostConfig:
    """Kind, REST base and secret store for a URL, with the contract's defaults."""
    url = f"{protocol}://{host}/{path}".rstrip("/")
    values = read_urlmatch("bbtoken", url)
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    default_kind = "cloud" if hostname in CLOUD_HOSTS else "generic"
    kind = values.get("kind", default_kind).strip().lower() or default_kind
    if kind not in KINDS:
        log.debug("unknown bbtoken.kind %r for %s; using %s", kind, url, default_kind)
        kind = default_kind
    api_url = values.get("apiurl")
    if not api_url and kind == "cloud" and hostname in CLOUD_HOSTS:
        api_url = DEFAULT_CLOUD_API
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
