"""Users, API tokens and retired app passwords, and how Bitbucket Cloud answers them.

Every rule here comes from docs/bitbucket-facts.md (section 1 for the
usernames, 2 for scopes, 3 for the answers). Tests change a token's fields after creating it
(`tok.revoked = True`); the server reads them on every request.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, field
from typing import Optional

STATIC_GIT_USERNAME = "x-bitbucket-api-token-auth"
READ_REPO = "read:repository:bitbucket"
WRITE_REPO = "write:repository:bitbucket"
READ_USER = "read:user:bitbucket"
READ_WORKSPACE = "read:workspace:bitbucket"

GIT_401_TEXT = ("You may not have access to this repository or it no longer exists in this "
                "workspace. If you think this repository exists and you have access, make sure "
                "you are authenticated.")
GIT_403_TEXT = "Your credentials lack one or more required privilege scopes."
GIT_410_TEXT = "App passwords are deprecated and must be replaced with API tokens."
REST_401_MESSAGE = "Token is invalid, expired, or not supported for this endpoint."
REST_403_MESSAGE = GIT_403_TEXT


@dataclass
class User:
    username: str
    email: str
    workspaces: list[str]
    display_name: str
    account_id: str
    uuid: str

    def as_json(self) -> dict[str, str]:
        return {"type": "user", "username": self.username, "display_name": self.display_name,
                "account_id": self.account_id, "uuid": self.uuid}


@dataclass
class Token:
    secret: str
    username: str
    scopes: list[str] = field(default_factory=list)
    expired: bool = False
    revoked: bool = False

    @property
    def usable(self) -> bool:
        # A token without any Bitbucket scope fails everywhere with 401 (facts §2).
        return (not self.expired and not self.revoked
                and any(s.endswith(":bitbucket") for s in self.scopes))


@dataclass
class AppPassword:
    secret: str
    username: str


@dataclass
class Decision:
    """What the server answers: status 200 means go ahead as `user`."""
    status: int
    user: Optional[User] = None
    token: Optional[Token] = None
    missing: list[str] = field(default_factory=list)


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(username, password) from `Authorization: Basic ...`, None for anything else."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class Accounts:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.app_passwords: dict[str, AppPassword] = {}

    def add_user(self, username: str, email: str, workspaces: list[str] | None = None,
                 display_name: str | None = None) -> User:
        ident = uuid.uuid5(uuid.NAMESPACE_URL, f"bbtoken-rig/{username}")
        user = User(username, email, list(workspaces if workspaces is not None else [username]),
                    display_name or username.title(), f"712020:{ident}", f"{{{ident}}}")
        self.users[username] = user
        return user

    def add_token(self, secret: str, username: str, scopes: list[str] | None = None,
                  expired: bool = False, revoked: bool = False) -> Token:
        assert username in self.users, f"add_user({username!r}) first"
        token = Token(secret, username, list(scopes or []), expired, revoked)
        self.tokens[secret] = token
        return token

    def add_app_password(self, secret: str, username: str) -> AppPassword:
        assert username in self.users, f"add_user({username!r}) first"
        app_password = AppPassword(secret, username)
        self.app_passwords[secret] = app_password
        return app_password

    def git(self, header: str | None, workspace: str, need: str) -> Decision:
        """Git smart HTTP (and LFS): the Bitbucket username or the static name + token."""
        creds = basic_credentials(header)
        if creds is None:  # nothing, or Bearer: Bitbucket's git side only takes Basic
            return Decision(401)
        username, secret = creds
        app_password = self.app_passwords.get(secret)
        if app_password is not None:
            owner = self.users[app_password.username]
            return Decision(410 if username in (owner.username, owner.email) else 401)
        token = self.tokens.get(secret)
        if token is None or not token.usable:
            return Decision(401)
        user = self.users[token.username]
        if username not in (user.username, STATIC_GIT_USERNAME):  # the email fails here
            return Decision(401)
        if workspace not in user.workspaces:
            return Decision(401)
        if need not in token.scopes:  # no implication between scopes
            return Decision(403, user, token, [need])
        return Decision(200, user, token)

    def rest(self, header: str | None, need: list[str]) -> Decision:
        """REST: Basic with the Atlassian email + token; anything else is 401."""
        creds = basic_credentials(header)
        if creds is None:
            return Decision(401)
        email, secret = creds
        token = self.tokens.get(secret)
        if token is None or not token.usable:  # app passwords land here too
            return Decision(401)
        user = self.users[token.username]
        if email != user.email:
            return Decision(401)
        missing = [scope for scope in need if scope not in token.scopes]
        return Decision(403 if missing else 200, user, token, missing)
