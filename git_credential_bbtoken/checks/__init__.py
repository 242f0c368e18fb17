"""What Bitbucket says a token can do: the only package that imports `requests`.

`validate` is the one entry point (`login`, `doctor`, and `get`/`store` when they must check
a token): it picks the product's checks (Cloud or Data Center) from the request's kind. Never
imported on the `get` path when nothing needs checking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from git_credential_bbtoken.common import CLOUD_API_URL, without_git_suffix

if TYPE_CHECKING:
    from git_credential_bbtoken.checks.answers import ProbeResult
    from git_credential_bbtoken.checks.validation import Validation
    from git_credential_bbtoken.context import Request

# `get`'s first-use probe waits at most this long (it runs before git's own request).
PROBE_SECONDS = 3.0


def _product(request: Request) -> tuple[Any, Any]:
    """The product's checks module and its target for the request's URL. git's CA settings
    for the URL are read where each request is routed (`checks.routes`), not here."""
    url = without_git_suffix(request.url)
    if request.config.kind == "datacenter":
        from git_credential_bbtoken.checks import datacenter

        return datacenter, datacenter.DcTarget.for_url(url, api_url=request.config.api_url)
    from git_credential_bbtoken.checks import cloud

    return cloud, cloud.Target.for_url(url, api_url=request.config.api_url or CLOUD_API_URL)


def validate(request: Request, username: str | None, token: str,
             email: str | None = None) -> Validation:
    """Check `token` for the request's URL as git will send it: with `username` (Basic), or
    as a Bearer token when `username` is None (Data Center project and repository tokens).
    `email` enables the Cloud REST checks. Bounded in time; never raises for HTTP trouble."""
    product, target = _product(request)
    if request.config.kind == "datacenter":
        validation: Validation = product.validate(target, username, token)
        return validation
    validation = product.validate(target, username or "", token, email=email)
    return validation


def probe(request: Request, username: str | None, token: str, push: bool,
          deadline: float = PROBE_SECONDS) -> ProbeResult:
    """The request git is about to make, made first: `info/refs?service=git-receive-pack`
    (push) or `git-upload-pack` for the request's repository, with the credential git will
    send. Changes nothing on the server; bounded by `deadline`; never raises."""
    from git_credential_bbtoken.checks import transport
    from git_credential_bbtoken.checks.answers import RECEIVE_PACK, UPLOAD_PACK

    product, target = _product(request)
    service = RECEIVE_PACK if push else UPLOAD_PACK
    if request.config.kind != "datacenter":
        username = username or ""
    with transport.channel(token, None, deadline) as line:
        result: ProbeResult = product.probe_git(target, username, service, line)
        return result
