"""The request context: what one credential request is about (a record from git, or a URL a
person typed) with its host normalised and its configuration looked up, and the rules that
follow from that alone. Below the actions and the commands, which all build on it.
"""

from __future__ import annotations

import os

from git_credential_bbtoken.common import TOKEN_USERNAME, is_loopback, origin_url
from git_credential_bbtoken.gitconfig import HostConfig, host_config
from git_credential_bbtoken.matching import bitbucket_scope
from git_credential_bbtoken.protocol import Credential, normalize_host

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable


class Request:
    """A record from git with its host normalised and its configuration looked up."""

    __slots__ = ("record", "protocol", "host", "config")

    def __init__(self, record: Credential, protocol: str, host: str,
                 config: HostConfig) -> None:
        self.record = record
        self.protocol = protocol
        self.host = host
        self.config = config

    @property
    def url(self) -> str:
        return origin_url(self.protocol, self.host, self.record.path)

    @property
    def base_url(self) -> str:
        return origin_url(self.protocol, self.host)


def make_request(record: Credential,
                 lookup: Callable[[str, str, str], HostConfig] = host_config) -> Request | None:
    """None when the record does not say which host it is about (then there is nothing to do,
    as with git's own stores, which refuse an empty pattern)."""
    if not record.protocol or not record.host:
        return None
    protocol = record.protocol.lower()
    host = normalize_host(record.host)
    return Request(record, protocol, host, lookup(protocol, host, record.path or ""))


def request_for_url(protocol: str, host: str, path: str) -> Request:
    """The request a command makes for a URL the person gave (already split). On Bitbucket
    hosts its path is the scope the URL names: `ws/repo.git` is `ws/repo`."""
    config = host_config(protocol, host, path)
    scope = bitbucket_scope(path) if config.is_bitbucket else path
    record = Credential(protocol=protocol, host=host, path=scope or None)
    return Request(record, protocol, host, config)


def transport_allowed(request: Request) -> bool:
    """Bitbucket tokens travel over https only (plain http to loopback is allowed for local
    test servers). Other hosts follow git's own stores, which do not care."""
    if not request.config.is_bitbucket or request.protocol == "https":
        return True
    return request.protocol == "http" and is_loopback(request.host)


def has_dot_segments(path: str | None) -> bool:
    """`ws/../other/repo.git`, `./ws/repo`: a path whose meaning depends on who resolves it.
    On Bitbucket hosts a stored path is a scope matched by prefix, so `..` would let a
    workspace's token answer for another workspace."""
    return any(segment in (".", "..") for segment in (path or "").split("/"))


def refusal(request: Request) -> str | None:
    """Why nothing may be served or stored for this request, in one line; None when it may."""
    if not transport_allowed(request):
        return (f"not using a Bitbucket token for {request.protocol}://{request.host}: tokens "
                "are only sent over https (change the remote URL to https://...)")
    if request.config.is_bitbucket and has_dot_segments(request.record.path):
        return (f"not using a Bitbucket token for {request.url}: its path has '.' or '..' "
                "segments, which Bitbucket paths never have")
    return None


def environment_username(kind: str, from_git: str | None = None) -> str | None:
    """The username BBTOKEN_TOKEN goes with: BBTOKEN_USERNAME, else git's, else the Cloud
    token name. None on Data Center: a token without a name there is a project or repository
    token, which is Bearer-only (a personal token needs its owner's name)."""
    username = os.environ.get("BBTOKEN_USERNAME") or from_git
    if username:
        return username
    return None if kind == "datacenter" else TOKEN_USERNAME
