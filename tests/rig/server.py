"""A Bitbucket-Cloud-like HTTPS server on 127.0.0.1, in a thread of the test process.

    server = BitbucketServer(root, certs).start()
    server.add_user("alice", "alice@example.com", workspaces=["acme"])
    server.add_repo("acme/widgets")
    tok = server.add_token("ATATT-secret", "alice", scopes=["read:repository:bitbucket"])
    ... git clone {server.url}/acme/widgets.git ...
    tok.revoked = True          # takes effect on the next request
    server.requests             # what was asked, by whom, and the answer

Git smart HTTP is served by the real `git http-backend` (githttp.py); authentication and the
REST API follow the facts doc (accounts.py, rest.py).
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from . import accounts as acc
from .accounts import Accounts, AppPassword, Token, User, basic_credentials
from .certs import Certificates
from .githttp import create_bare_repo, run_http_backend
from .rest import Reply, RestApi, error

GIT_PATH = re.compile(r"/(?P<ws>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/(?P<what>info/refs|"
                      r"git-upload-pack|git-receive-pack|info/lfs/objects/batch)")
LFS_TYPE = "application/vnd.git-lfs+json"
REALM = 'Basic realm="Bitbucket.org HTTP"'


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: str
    username: Optional[str]  # from Basic auth; the password is never kept
    status: int
    surface: str             # "git", "lfs", "rest" or "other"
    agent: str = ""          # the User-Agent: git's own, or the helper's probes


class BitbucketServer:
    def __init__(self, root: Path, certs: Certificates) -> None:
        self.root = root
        self.repo_root = root / "repos"
        self.repo_root.mkdir(parents=True, exist_ok=True)
        self.certs = certs
        self.ca_file = certs.ca_file
        self.accounts = Accounts()
        self.repos: dict[str, Path] = {}
        self.rest = RestApi(self.accounts, lambda: set(self.repos))
        # Switches tests flip to simulate Bitbucket's moods.
        self.rest_status_override: Optional[int] = None
        self.rest_delay: float = 0
        self.git_delay: float = 0
        self.user_endpoint_gone = False
        # ("user", "ws/repo") -> "none" | "read" | "write": a user's own permission on one
        # repository (default: a member of the workspace may write).
        self.permissions: dict[tuple[str, str], str] = {}
        self._log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: Optional[_HTTPSServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> BitbucketServer:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certs.cert_file, self.certs.key_file)
        self._httpd = _HTTPSServer(("127.0.0.1", 0), _Handler, context, self)
        self.port = self._httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.api_url = f"{self.url}/2.0"
        self.rest.base_url = self.url
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name=f"bitbucket-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # ends any injected delay at once
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- data model ---------------------------------------------------------------------------

    def add_user(self, username: str, email: str, workspaces: list[str] | None = None,
                 display_name: str | None = None) -> User:
        """workspaces: those the user may access (default: one named like the user)."""
        return self.accounts.add_user(username, email, workspaces, display_name)

    def add_token(self, secret: str, username: str, scopes: list[str] | None = None,
                  expired: bool = False, revoked: bool = False) -> Token:
        return self.accounts.add_token(secret, username, scopes, expired, revoked)

    def add_app_password(self, secret: str, username: str) -> AppPassword:
        return self.accounts.add_app_password(secret, username)

    def set_permission(self, username: str, full_name: str, permission: str) -> None:
        """The user's own permission on one repository: "none", "read" or "write"."""
        assert permission in ("none", "read", "write"), permission
        self.permissions[(username, full_name)] = permission

    def add_repo(self, full_name: str) -> Path:
        """"ws/repo": a bare repository with one commit on main; returns its path."""
        full_name = full_name.removesuffix(".git")
        if full_name not in self.repos:
            self.repos[full_name] = create_bare_repo(self.repo_root, full_name)
        return self.repos[full_name]

    @property
    def send_scope_headers(self) -> bool:
        return self.rest.send_scope_headers

    @send_scope_headers.setter
    def send_scope_headers(self, value: bool) -> None:
        self.rest.send_scope_headers = value

    # -- request log --------------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def _record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self._log.append(entry)

    # -- git configuration for clients --------------------------------------------------------

    def git_config_items(self) -> list[tuple[str, str]]:
        return [("http.sslCAInfo", self.ca_file),
                (f"bbtoken.{self.url}.kind", "cloud"),
                (f"bbtoken.{self.url}.apiUrl", self.api_url)]

    def git_config_args(self) -> list[str]:
        """["-c", "key=value", ...] to put before a git subcommand."""
        return [arg for key, value in self.git_config_items() for arg in ("-c", f"{key}={value}")]

    def configure_git(self, git_config_path: str | Path) -> None:
        """Write git_config_items() into a config file (the isolated global one)."""
        for key, value in self.git_config_items():
            subprocess.run(["git", "config", "--file", str(git_config_path), key, value],
                           check=True)

    def wait(self, seconds: float) -> None:
        """Sleep for an injected delay, cut short when the server stops."""
        if seconds:
            self._stopping.wait(seconds)


class _HTTPSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, context: ssl.SSLContext,
                 rig: BitbucketServer) -> None:
        self.context = context
        self.rig = rig
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        # The handshake runs in the request's thread (_Handler.setup), so a client that
        # connects and says nothing cannot block the accept loop.
        return self.context.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that reject our certificate or hang up are part of the tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Bitbucket and curl do
    server: _HTTPSServer
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

    # -- routing ------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        rig = self.server.rig
        body = self._read_body()  # always, so keep-alive stays in step even on a 401
        parts = urlsplit(self.path)
        auth = self.headers.get("Authorization")
        creds = basic_credentials(auth)
        username = creds[0] if creds else None
        git_match = GIT_PATH.fullmatch(parts.path)
        if parts.path == "/2.0" or parts.path.startswith("/2.0/"):
            surface = "rest"
            rig.wait(rig.rest_delay)
            status = self._rest(parts.path, auth)
        elif git_match:
            surface = "lfs" if git_match["what"].startswith("info/lfs") else "git"
            rig.wait(rig.git_delay)
            status = self._git(git_match, parts.query, auth, body)
        else:
            surface = "other"
            status = self._send(404, [("Content-Type", "text/plain")], b"Not found\n")
        rig._record(LoggedRequest(self.command, parts.path, parts.query, username, status,
                                  surface, self.headers.get("User-Agent", "")))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
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

    # -- REST ---------------------------------------------------------------------------------

    def _rest(self, path: str, auth: str | None) -> int:
        rig = self.server.rig
        if rig.user_endpoint_gone and re.fullmatch(r"/2\.0/user/?", path):
            reply = error(410, "This API is no longer supported.")
        elif rig.rest_status_override is not None:
            status = rig.rest_status_override
            reply = error(status, {429: "Rate limit exceeded"}.get(status, "Service trouble"))
            if status == 429:
                reply.headers["Retry-After"] = "30"
        else:
            reply = rig.rest.handle(self.command, path, auth)
        return self._send_json(reply)

    def _send_json(self, reply: Reply, content_type: str = "application/json") -> int:
        headers = [("Content-Type", content_type), *reply.headers.items()]
        if reply.status == 401:
            headers.append(("WWW-Authenticate", REALM))
        return self._send(reply.status, headers, json.dumps(reply.body).encode())

    # -- git and LFS --------------------------------------------------------------------------

    def _git(self, match: re.Match[str], query: str, auth: str | None, body: bytes) -> int:
        rig = self.server.rig
        workspace, slug, what = match["ws"], match["repo"], match["what"]
        lfs_operation = None
        if what == "info/lfs/objects/batch":
            lfs_operation = _lfs_operation(body)
            need = acc.WRITE_REPO if lfs_operation == "upload" else acc.READ_REPO
        elif what == "git-receive-pack" or (
                what == "info/refs" and parse_qs(query).get("service") == ["git-receive-pack"]):
            need = acc.WRITE_REPO
        else:
            need = acc.READ_REPO
        decision = rig.accounts.git(auth, workspace, need)
        if decision.status in (200, 403) and f"{workspace}/{slug}" not in rig.repos:
            decision = acc.Decision(401)  # Bitbucket does not tell "missing" from "no access"
        text_403 = acc.GIT_403_TEXT
        if decision.status == 200 and decision.user is not None:
            # The token may; may its user? A repository hidden from the user answers like a
            # missing one; a push by a user who may only read is refused with the access text.
            permission = rig.permissions.get((decision.user.username, f"{workspace}/{slug}"),
                                             "write")
            if permission == "none":
                decision = acc.Decision(401)
            elif permission == "read" and need == acc.WRITE_REPO:
                decision, text_403 = acc.Decision(403, decision.user), acc.GIT_401_TEXT

        if decision.status != 200:
            text = {401: acc.GIT_401_TEXT if auth else "", 403: text_403,
                    410: acc.GIT_410_TEXT}[decision.status]
            headers = [("WWW-Authenticate", REALM)] if decision.status == 401 else []
            if lfs_operation is not None:
                return self._send_json(Reply(decision.status, {"message": text},
                                             dict(headers)), LFS_TYPE)
            body_out = (text + "\n").encode() if text else b""
            return self._send(decision.status, [("Content-Type", "text/plain"), *headers],
                              body_out)

        assert decision.user is not None
        if lfs_operation is not None:
            return self._send_json(Reply(200, _lfs_answer(lfs_operation, body)), LFS_TYPE)
        status, headers, payload = run_http_backend(
            rig.repo_root, self.command, f"/{workspace}/{slug}.git/{what}", query, body,
            dict(self.headers.items()), decision.user.username)
        return self._send(status, headers, payload)


def _lfs_operation(body: bytes) -> str:
    try:
        return str(json.loads(body or b"{}").get("operation", "download"))
    except (ValueError, AttributeError):
        return "download"


def _lfs_answer(operation: str, body: bytes) -> dict[str, Any]:
    """Minimal batch answer: downloads are all missing; uploads need no transfer (as if the
    server already had every object), so git-lfs finishes without a storage endpoint."""
    try:
        objects = json.loads(body).get("objects", [])
    except (ValueError, AttributeError):
        objects = []
    answered = []
    for obj in objects:
        entry = {"oid": obj.get("oid"), "size": obj.get("size"), "authenticated": True}
        if operation == "download":
            entry["error"] = {"code": 404, "message": "Object does not exist"}
        answered.append(entry)
    return {"transfer": "basic", "objects": answered}
