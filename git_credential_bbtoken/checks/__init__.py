"""What Bitbucket says a token can do: the only package that imports `requests`.

`validate` is the one entry point (`login`, `doctor`, and `get`/`store` when they must check
a token): it picks the product's checks (Cloud or Data Center) from the request's kind. Never
imported on the `get` path when nothing needs checking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from git_credential_bbtoken.common import CLOUD_API_URL, without_git_suffix
from git_credential_bbtoken.gitconfig import ca_file_for

if TYPE_CHECKING:
    from git_credential_bbtoken.checks.answers import ProbeResult
    from git_credential_bbtoken.checks.validation import Validation
    from git_credential_bbtoken.context import Request

# `get`'s first-use probe waits at most this long (it runs before git's own request).
PROBE_SECONDS = 3.0


def validate(request: Request, username: str | None, token: str,
             email: str | None = None) -> Validation:
    """Check `token` for the request's URL as git will send it: with `username` (Basic), or
    as a Bearer token when `username` is None (Data Center project and repository tokens).
    `email` enables the Cloud REST checks. Bounded in time; never raises for HTTP trouble."""
    url = without_git_suffix(request.url)
    ca_file = ca_file_for(request.base_url)
    if request.config.kind == "datacenter":
        from git_credential_bbtoken.checks import datacenter

        target = datacenter.DcTarget.for_url(url, api_url=request.config.api_url,
                                             ca_file=ca_file)
        return datacenter.validate(target, username, token)
    from git_credential_bbtoken.checks import cloud

    cloud_target = cloud.Target.for_url(url, api_url=request.config.api_url or CLOUD_API_URL,
                                        ca_file=ca_file)
    return cloud.validate(cloud_target, username or "", token, email=email)


def probe(request: Request, username: str | None, token: str, push: bool,
          deadline: float = PROBE_SECONDS) -> ProbeResult:
    """The request git is about to make, made first: `info/refs?service=git-receive-pack`
    (push) or `git-upload-pack` for the request's repository, with the credential git will
    send. Changes nothing on the server; bounded by `deadline`; never raises."""
    from git_credential_bbtoken.checks import transport
    from git_credential_bbtoken.checks.answers import RECEIVE_PACK, UPLOAD_PACK

    url = without_git_suffix(request.url)
    ca_file = ca_file_for(request.base_url)
    service = RECEIVE_PACK if push else UPLOAD_PACK
    with transport.channel(token, ca_file, deadline) as line:
        if request.config.kind == "datacenter":
            from git_credential_bbtoken.checks import datacenter

            dc_target = datacenter.DcTarget.for_url(url, api_url=request.config.api_url,
                                                    ca_file=ca_file)
            return datacenter.probe_git(dc_target, username, service, line)
        from git_credential_bbtoken.checks import cloud

        target = cloud.Target.for_url(url, ca_file=ca_file)
        return cloud.probe_git(target, username or "", service, line)
