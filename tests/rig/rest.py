"""The REST API under /2.0: a handful of endpoints, each with the scopes Bitbucket documents
for it (facts §3), answering with the documented error shapes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .accounts import (
    READ_REPO,
    READ_USER,
    READ_WORKSPACE,
    REST_401_MESSAGE,
    REST_403_MESSAGE,
    Accounts,
    User,
)

# The old (app password / OAuth) names, for x-accepted-oauth-scopes.
OLD_NAMES = {READ_REPO: "repository", READ_USER: "account", READ_WORKSPACE: "team"}


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, message: str, detail: Optional[dict[str, Any]] = None) -> Reply:
    err: dict[str, Any] = {"message": message}
    if detail is not None:
        err["detail"] = detail
    return Reply(status, {"type": "error", "error": err})


def _workspace(slug: str) -> dict[str, str]:
    return {"type": "workspace", "slug": slug, "name": slug.title(), "uuid": f"{{ws-{slug}}}"}


def _page(values: list[Any]) -> dict[str, Any]:
    return {"pagelen": 10, "page": 1, "size": len(values), "values": values}


Handler = Callable[[User, "re.Match[str]"], Reply]


class RestApi:
    def __init__(self, accounts: Accounts, repos: Callable[[], set[str]]) -> None:
        self.accounts = accounts
        self.repos = repos  # the server's current "ws/repo" names
        self.send_scope_headers = False
        # (path pattern, scopes that endpoint needs, handler)
        self.routes: list[tuple[str, list[str], Handler]] = [
            (r"/2\.0/user/?", [READ_USER], lambda user, m: Reply(200, user.as_json())),
            (r"/2\.0/repositories/([^/]+)/([^/]+)/?", [READ_REPO], self._repository),
            (r"/2\.0/workspaces/?", [READ_USER, READ_WORKSPACE], self._workspaces),
            # Not documented which scope this needs; read:workspace is the natural guess.
            (r"/2\.0/user/permissions/workspaces/?", [READ_WORKSPACE], self._memberships),
        ]

    def handle(self, method: str, path: str, authorization: str | None) -> Reply:
        route = next(((need, handler, match) for pattern, need, handler in self.routes
                      if (match := re.fullmatch(pattern, path))), None)
        if route is None:
            return error(404, f"Resource not found: {path}")
        need, handler, match = route
        if method != "GET":
            return error(405, "Method not allowed")
        decision = self.accounts.rest(authorization, need)
        if decision.status == 401:
            return error(401, REST_401_MESSAGE)
        assert decision.token is not None and decision.user is not None
        granted = list(decision.token.scopes)
        if decision.status == 403:
            return error(403, REST_403_MESSAGE, {"required": need, "granted": granted})
        reply = handler(decision.user, match)
        if self.send_scope_headers and reply.status == 200:
            reply.headers.update({
                "x-oauth-scopes": ", ".join(granted),
                "x-accepted-oauth-scopes": ", ".join(OLD_NAMES.get(s, s) for s in need),
                "x-credential-type": "api_token",
            })
        return reply

    def _repository(self, user: User, match: re.Match[str]) -> Reply:
        workspace, slug = match.group(1), match.group(2)
        full_name = f"{workspace}/{slug}"
        if full_name not in self.repos() or workspace not in user.workspaces:
            return error(404, f"Repository {full_name} not found")
        return Reply(200, {"type": "repository", "full_name": full_name, "name": slug,
                           "slug": slug, "is_private": True, "scm": "git",
                           "workspace": _workspace(workspace),
                           "mainbranch": {"type": "branch", "name": "main"}})

    def _workspaces(self, user: User, match: re.Match[str]) -> Reply:
        return Reply(200, _page([_workspace(ws) for ws in user.workspaces]))

    def _memberships(self, user: User, match: re.Match[str]) -> Reply:
        return Reply(200, _page([
            {"type": "workspace_membership", "permission": "member",
             "workspace": _workspace(ws), "user": user.as_json()} for ws in user.workspaces]))
