"""The REST API under /2.0: the endpoints Bitbucket serves today, each with the scopes the
facts doc records for it (docs/bitbucket-facts.md §3), answering with the documented error
shapes; and the endpoints Bitbucket removed in 2026, which answer 410 "CHANGE-2770" to anyone.

A request to a removed endpoint is also kept in `removed_calls`: the helper must never make
one, and the test fixtures fail a test that did (unless it set `removed_calls_expected`)."""

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

# Removed in 2026 (facts §3): GET /2.0/workspaces, /2.0/repositories without a workspace and
# /2.0/user/permissions/workspaces. They answer this, authenticated or not.
REMOVED_ENDPOINTS = (r"/2\.0/workspaces/?", r"/2\.0/repositories/?",
                     r"/2\.0/user/permissions/workspaces/?")
REMOVED_MESSAGE = "CHANGE-2770 - Functionality has been deprecated"


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
        self.base_url = "https://bitbucket.org"  # the server sets its own once it listens
        self.send_scope_headers = False
        # Path patterns answering 410 CHANGE-2770; a test may add one to retire another.
        self.removed = list(REMOVED_ENDPOINTS)
        self.removed_calls: list[str] = []
        self.removed_calls_expected = False  # set by a test that calls them on purpose
        # (path pattern, scopes that endpoint needs, handler)
        self.routes: list[tuple[str, list[str], Handler]] = [
            (r"/2\.0/user/?", [READ_USER], lambda user, m: Reply(200, user.as_json())),
            (r"/2\.0/user/workspaces/?", [READ_USER, READ_WORKSPACE], self._user_workspaces),
            (r"/2\.0/repositories/([^/]+)/?", [READ_REPO], self._repositories),
            (r"/2\.0/repositories/([^/]+)/([^/]+)/?", [READ_REPO], self._repository),
        ]

    def handle(self, method: str, path: str, authorization: str | None) -> Reply:
        if any(re.fullmatch(pattern, path) for pattern in self.removed):
            self.removed_calls.append(path)
            return error(410, REMOVED_MESSAGE)
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

    def _repository_json(self, full_name: str) -> dict[str, Any]:
        workspace, slug = full_name.split("/", 1)
        host = self.base_url.split("://", 1)[-1]
        return {"type": "repository", "full_name": full_name, "name": slug, "slug": slug,
                "is_private": True, "scm": "git", "workspace": _workspace(workspace),
                "mainbranch": {"type": "branch", "name": "main"},
                "links": {"html": {"href": f"{self.base_url}/{full_name}"},
                          "clone": [{"name": "https",
                                     "href": f"https://{host}/{full_name}.git"},
                                    {"name": "ssh", "href": f"git@{host}:{full_name}.git"}]}}

    def _repository(self, user: User, match: re.Match[str]) -> Reply:
        workspace, slug = match.group(1), match.group(2)
        full_name = f"{workspace}/{slug}"
        if full_name not in self.repos() or workspace not in user.workspaces:
            return error(404, f"Repository {full_name} not found")
        return Reply(200, self._repository_json(full_name))

    def _repositories(self, user: User, match: re.Match[str]) -> Reply:
        """GET /2.0/repositories/{workspace}: a page of the workspace's repositories."""
        workspace = match.group(1)
        if workspace not in user.workspaces:
            return error(404, f"No workspace with identifier '{workspace}'.")
        names = sorted(n for n in self.repos() if n.split("/", 1)[0] == workspace)
        return Reply(200, _page([self._repository_json(n) for n in names]))

    def _user_workspaces(self, user: User, match: re.Match[str]) -> Reply:
        """GET /2.0/user/workspaces: the workspaces the user can access."""
        return Reply(200, _page([{"type": "workspace_access", "administrator": False,
                                  "workspace": _workspace(ws)} for ws in user.workspaces]))
