"""A Bitbucket Data Center / Server personality for the rig: an HTTPS server on 127.0.0.1.

    server = DataCenterServer(root, certs).start()
    server.add_user("alice", {"PROJ": "PROJECT_WRITE"})      # the user's own permissions
    server.add_repo("PROJ", "widgets")
    server.add_personal_token("NDk...", "alice", ["REPO_READ"])
    server.add_project_token("MTI...", "PROJ", ["REPO_WRITE"])  # Bearer only
    ... git clone {server.url}/scm/PROJ/widgets.git ...
    server.basic_auth_disabled = True                         # next request on

Facts: /work/shared/docs/bitbucket-facts.md §5. Personal HTTP access tokens work
with Basic `username:token` and with Bearer; project and repository tokens only with Bearer
(with a username: 401). Permissions are levels (REPO_WRITE includes REPO_READ; PROJECT_X gives
X on the project's repositories), and a personal token is capped by its owner's own
permission. Pushing without write: 403. Expired or revoked: 401. Git smart HTTP is served by
the real `git http-backend` (githttp.py), REST under /rest/api/latest.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from .accounts import basic_credentials
from .certs import Certificates
from .githttp import create_bare_repo, run_http_backend

GIT_PATH = re.compile(r"/scm/(?P<project>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/"
                      r"(?P<what>info/refs|git-upload-pack|git-receive-pack)")
REST_PREFIX = "/rest/api/latest"
REALM = 'Basic realm="Atlassian Bitbucket"'
VERSION = "8.19.1"

LEVELS = {"REPO_READ": 1, "REPO_WRITE": 2, "REPO_ADMIN": 3,
          "PROJECT_READ": 1, "PROJECT_WRITE": 2, "PROJECT_ADMIN": 3}
READ, WRITE = 1, 2

AUTH_FAILED = "Authentication failed. Please check your credentials and try again."
BASIC_DISABLED = ("Basic authentication is disabled on this instance. Use a personal, project "
                  "or repository HTTP access token as a Bearer token.")
GIT_401_TEXT = "Authentication failed. Please check your credentials and try again."
GIT_403_TEXT = ("You do not have permission to push to this repository "
                "(REPO_WRITE is required).")


@dataclass
class DcUser:
    name: str
    permissions: dict[str, str]  # "PROJ" or "PROJ/repo" -> a permission name

    def level(self, project: str, repo: str) -> int:
        return max(LEVELS.get(self.permissions.get(key, ""), 0)
                   for key in (project, f"{project}/{repo}"))


@dataclass
class DcToken:
    secret: str
    kind: str  # "personal", "project" or "repository"
    permissions: list[str]
    owner: Optional[str] = None  # personal tokens
    project: Optional[str] = None  # project and repository tokens
    repo: Optional[str] = None  # repository tokens
    expired: bool = False
    revoked: bool = False

    def level(self, project: str, repo: str, user: Optional[DcUser]) -> int:
        if self.kind == "project" and project != self.project:
            return 0
        if self.kind == "repository" and (project, repo) != (self.project, self.repo):
            return 0
        granted = max((LEVELS.get(p, 0) for p in self.permissions), default=0)
        if self.kind == "personal":
            return min(granted, user.level(project, repo) if user else 0)  # capped
        return granted


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    query: str
    scheme: Optional[str]  # "basic", "bearer" or None
    username: Optional[str]
    status: int
    surface: str  # "git", "rest" or "other"


@dataclass
class _Auth:
    status: int  # 200, or 401
    token: Optional[DcToken] = None
    user: Optional[DcUser] = None
    message: str = AUTH_FAILED
    scheme: Optional[str] = None
    username: Optional[str] = None


@dataclass
class DataCenterServer:
    root: Path
    certs: Certificates
    users: dict[str, DcUser] = field(default_factory=dict)
    tokens: dict[str, DcToken] = field(default_factory=dict)
    repos: dict[tuple[str, str], Path] = field(default_factory=dict)
    basic_auth_disabled: bool = False
    # When set, every 401 carries X-Authentication-Denied-Reason with this text (the server
    # wants a CAPTCHA after repeated failures).
    denied_reason: Optional[str] = None

    def __post_init__(self) -> None:
        self.repo_root = self.root / "repos"
        self.repo_root.mkdir(parents=True, exist_ok=True)
        self.ca_file = self.certs.ca_file
        self._log: list[Logged] = []
        self._lock = threading.Lock()
        self._httpd: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> DataCenterServer:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certs.cert_file, self.certs.key_file)
        self._httpd = _Server(("127.0.0.1", 0), _Handler, context, self)
        self.port = self._httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.api_url = self.url + REST_PREFIX
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name=f"datacenter-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- data model ---------------------------------------------------------------------------

    def add_user(self, name: str, permissions: dict[str, str]) -> DcUser:
        self.users[name] = DcUser(name, dict(permissions))
        return self.users[name]

    def add_repo(self, project: str, repo: str) -> Path:
        if (project, repo) not in self.repos:
            self.repos[(project, repo)] = create_bare_repo(self.repo_root,
                                                           f"scm/{project}/{repo}")
        return self.repos[(project, repo)]

    def add_personal_token(self, secret: str, owner: str, permissions: list[str],
                           expired: bool = False) -> DcToken:
        assert owner in self.users, f"add_user({owner!r}) first"
        return self._add(DcToken(secret, "personal", permissions, owner=owner,
                                 expired=expired))

    def add_project_token(self, secret: str, project: str, permissions: list[str]) -> DcToken:
        return self._add(DcToken(secret, "project", permissions, project=project))

    def add_repository_token(self, secret: str, project: str, repo: str,
                             permissions: list[str]) -> DcToken:
        return self._add(DcToken(secret, "repository", permissions, project=project,
                                 repo=repo))

    def _add(self, token: DcToken) -> DcToken:
        self.tokens[token.secret] = token
        return token

    # -- authentication -----------------------------------------------------------------------

    def authenticate(self, header: Optional[str]) -> _Auth:
        if header and header.lower().startswith("bearer "):
            token = self.tokens.get(header[7:].strip())
            if token is None or token.expired or token.revoked:
                return _Auth(401, scheme="bearer")
            user = self.users.get(token.owner) if token.owner else None
            return _Auth(200, token, user, scheme="bearer",
                         username=user.name if user else None)
        creds = basic_credentials(header)
        if creds is None:
            return _Auth(401)
        username, secret = creds
        if self.basic_auth_disabled:
            return _Auth(401, message=BASIC_DISABLED, scheme="basic", username=username)
        token = self.tokens.get(secret)
        # Project and repository tokens never go with a username: Basic always fails.
        if (token is None or token.expired or token.revoked or token.kind != "personal"
                or (token.owner or "").lower() != username.lower()):
            return _Auth(401, scheme="basic", username=username)
        return _Auth(200, token, self.users[token.owner or ""], scheme="basic",
                     username=username)

    # -- request log --------------------------------------------------------------------------

    @property
    def requests(self) -> list[Logged]:
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def record(self, entry: Logged) -> None:
        with self._lock:
            self._log.append(entry)

    # -- git configuration for clients --------------------------------------------------------

    def git_config_items(self) -> list[tuple[str, str]]:
        """The CA only: `login --kind datacenter` writes the kind, as a user's would."""
        return [("http.sslCAInfo", self.ca_file)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, context: ssl.SSLContext,
                 rig: DataCenterServer) -> None:
        self.context = context
        self.rig = rig
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        return self.context.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        rig = self.server.rig
        body = self._read_body()
        parts = urlsplit(self.path)
        auth = rig.authenticate(self.headers.get("Authorization"))
        match = GIT_PATH.fullmatch(parts.path)
        if parts.path.startswith(REST_PREFIX + "/"):
            surface, status = "rest", self._rest(parts.path[len(REST_PREFIX):], auth)
        elif match:
            surface, status = "git", self._git(match, parts.query, auth, body)
        else:
            surface = "other"
            status = self._send(404, [("Content-Type", "text/plain")], b"Not found\n")
        rig.record(Logged(self.command, parts.path, parts.query, auth.scheme, auth.username,
                          status, surface))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> int:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return status

    def _text(self, status: int, text: str, challenge: bool = False) -> int:
        headers = [("Content-Type", "text/plain;charset=UTF-8")]
        if challenge:
            headers.append(("WWW-Authenticate", REALM))
        if status == 401 and self.server.rig.denied_reason:
            headers.append(("X-Authentication-Denied-Reason", self.server.rig.denied_reason))
        return self._send(status, headers, (text + "\n").encode())

    def _json(self, status: int, data: Any, auth: Optional[_Auth] = None,
              challenge: bool = False) -> int:
        headers = [("Content-Type", "application/json;charset=UTF-8")]
        if auth is not None and auth.user is not None:
            headers.append(("X-AUSERNAME", auth.user.name))
        if challenge:
            headers.append(("WWW-Authenticate", REALM))
        if status == 401 and self.server.rig.denied_reason:
            headers.append(("X-Authentication-Denied-Reason", self.server.rig.denied_reason))
        return self._send(status, headers, json.dumps(data).encode())

    @staticmethod
    def _errors(message: str, exception: str) -> dict[str, Any]:
        return {"errors": [{"context": None, "message": message,
                            "exceptionName": f"com.atlassian.bitbucket.{exception}"}]}

    # -- git ----------------------------------------------------------------------------------

    def _git(self, match: re.Match[str], query: str, auth: _Auth, body: bytes) -> int:
        rig = self.server.rig
        project, repo, what = match["project"], match["repo"], match["what"]
        service = parse_qs(query).get("service", [""])[0] if what == "info/refs" else what
        need = WRITE if service == "git-receive-pack" else READ
        if auth.status != 200 or auth.token is None:
            return self._text(401, auth.message if auth.scheme else GIT_401_TEXT,
                              challenge=True)
        if (project, repo) not in rig.repos:
            return self._text(404, f"Repository {project}/{repo} does not exist.")
        level = auth.token.level(project, repo, auth.user)
        if level == 0:
            return self._text(404, f"Repository {project}/{repo} does not exist.")
        if level < need:
            return self._text(403, GIT_403_TEXT)
        status, headers, payload = run_http_backend(
            rig.repo_root, self.command, f"/scm/{project}/{repo}.git/{what}", query, body,
            dict(self.headers.items()), auth.username or "token-user")
        return self._send(status, headers, payload)

    # -- REST ---------------------------------------------------------------------------------

    def _rest(self, path: str, auth: _Auth) -> int:
        rig = self.server.rig
        if self.command != "GET":
            return self._json(405, self._errors("Method not allowed", "rest.MethodNotAllowed"))
        if auth.status != 200 or auth.token is None:
            exception = ("auth.BasicAuthenticationDisabledException"
                         if auth.message == BASIC_DISABLED
                         else "auth.IncorrectPasswordAuthenticationException")
            return self._json(401, self._errors(auth.message, exception), challenge=True)
        if path == "/application-properties":
            return self._json(200, {"version": VERSION, "buildNumber": "8019001",
                                    "displayName": "Bitbucket"}, auth)
        user_match = re.fullmatch(r"/users/([^/]+)", path)
        if user_match:
            user = rig.users.get(user_match.group(1))
            if user is None:
                return self._json(404, self._errors(f"User {user_match.group(1)} does not "
                                                    "exist.", "user.NoSuchUserException"),
                                  auth)
            return self._json(200, {"name": user.name, "slug": user.name, "type": "NORMAL",
                                    "active": True, "displayName": user.name.title()}, auth)
        repo_match = re.fullmatch(r"/projects/([^/]+)/repos/([^/]+)", path)
        if repo_match:
            project, repo = repo_match.group(1), repo_match.group(2)
            if (project, repo) not in rig.repos or auth.token.level(project, repo,
                                                                     auth.user) == 0:
                return self._json(404, self._errors(f"Repository {project}/{repo} does not "
                                                    "exist.",
                                                    "repository.NoSuchRepositoryException"),
                                  auth)
            return self._json(200, {"slug": repo, "name": repo, "scmId": "git",
                                    "project": {"key": project},
                                    "links": {"clone": [{"name": "http", "href":
                                              f"{rig.url}/scm/{project.lower()}/{repo}.git"}]}},
                              auth)
        return self._json(404, self._errors(f"No resource at {path}", "rest.NotFound"), auth)


def bearer_header(secret: str) -> str:
    return f"Bearer {secret}"


def basic_header(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()
