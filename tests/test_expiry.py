"""Known expiry dates: `get` warns once a day in the last week, and stops serving after."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

import pytest
from rig.askpass import Askpass
from rig.server import BitbucketServer

HOST = "127.0.0.1:9"  # nothing listens: no check can reach anything
URL = f"https://{HOST}"


@pytest.fixture(autouse=True)
def cloud_host(secret_service: object) -> None:
    for key, value in ((f"bbtoken.{URL}.kind", "cloud"), (f"bbtoken.{URL}.apiUrl", URL),
                       ("credential.useHttpPath", "true")):
        subprocess.run(["git", "config", "--global", key, value], check=True)


def login(expires: datetime.date) -> None:
    result = subprocess.run(["git", "credential-bbtoken", "login", f"{URL}/ws", "--token-stdin",
                             "--expires", expires.isoformat()],
                            input="ATATT-expiry-token\n", capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def get() -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "git_credential_bbtoken", "get"],
                          input=f"protocol=https\nhost={HOST}\npath=ws/r.git\n\n",
                          capture_output=True, text=True, timeout=60)


def today() -> datetime.date:
    return datetime.datetime.now(datetime.timezone.utc).date()


def test_expiring_token_warns_in_one_line_once_a_day() -> None:
    login(today() + datetime.timedelta(days=3))
    first = get()
    assert "password=ATATT-expiry-token" in first.stdout
    assert "password_expiry_utc=" in first.stdout
    lines = first.stderr.strip().splitlines()
    assert len(lines) == 1 and "expires in 3 days" in lines[0]
    second = get()
    assert "password=ATATT-expiry-token" in second.stdout
    assert second.stderr == ""


def test_distant_expiry_says_nothing() -> None:
    login(today() + datetime.timedelta(days=200))
    result = get()
    assert "password=ATATT-expiry-token" in result.stdout
    assert result.stderr == ""


def test_expired_token_is_not_served_and_says_why() -> None:
    login(today() + datetime.timedelta(days=1))
    data = os.path.join(os.environ["XDG_DATA_HOME"], "git-credential-bbtoken",
                        "credentials.json")
    with open(data) as handle:
        document = json.load(handle)
    document["credentials"][0]["expiry"] = 1_000_000_000  # 2001: long gone
    with open(data, "w") as handle:
        json.dump(document, handle)
    result = get()
    # nobody can be asked (no askpass, no terminal)
    assert result.stdout == "quit=1\n", result.stderr
    assert "expired on 2001-09-09" in result.stderr


def test_login_refuses_a_date_in_the_past() -> None:
    result = subprocess.run(["git", "credential-bbtoken", "login", f"{URL}/ws", "--token-stdin",
                             "--expires", "2020-01-01"], input="tok\n", capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert "in the past" in result.stderr


def doctor_expiry() -> dict[str, str]:
    result = subprocess.run(["git", "credential-bbtoken", "doctor", f"{URL}/ws", "--json"],
                            capture_output=True, text=True, timeout=120)
    checks = [c for c in json.loads(result.stdout)["checks"] if c["name"] == "expiry"]
    assert len(checks) == 1, result.stdout
    return dict(checks[0])


def set_expiry(timestamp: int) -> None:
    """As git would store it from password_expiry_utc: any second, not the end of a day."""
    data = os.path.join(os.environ["XDG_DATA_HOME"], "git-credential-bbtoken",
                        "credentials.json")
    with open(data) as handle:
        document = json.load(handle)
    document["credentials"][0]["expiry"] = timestamp
    with open(data, "w") as handle:
        json.dump(document, handle)


@pytest.mark.parametrize(("days", "early", "status", "get_warns"), [
    (3, False, "warning", True),
    (7, False, "warning", True),  # the last day of get's window
    (8, False, "warning", False),  # doctor warns from 14 days ahead, get from 7
    # Early on a day 8 days away is less than 8 times 24 hours away, but still 8 days.
    (8, True, "warning", False),
    (14, False, "warning", False),  # the last day of doctor's window
    (15, True, "ok", False),
])
def test_doctor_and_get_count_days_alike_each_with_its_window(days: int, early: bool,
                                                               status: str,
                                                               get_warns: bool) -> None:
    date = today() + datetime.timedelta(days=days)
    login(date)
    if early:
        midnight = datetime.datetime.combine(date, datetime.time(0, 0, 30),
                                             tzinfo=datetime.timezone.utc)
        set_expiry(int(midnight.timestamp()))
    check = doctor_expiry()
    assert check["status"] == status and date.isoformat() in check["message"], check
    if status == "warning":
        assert f"(in {days} days)" in check["message"]
    warned = get().stderr
    assert (f"expires in {days} days" in warned) is get_warns, warned


# -- an expired token, with real git and the Bitbucket-like server -----------------------------

OLD = "ATATT3x-expiry-old-token-0123456789abcdefghijklmnopqrstuvwxyz"
NEW = "ATATT3x-expiry-new-token-0123456789abcdefghijklmnopqrstuvwxyz"
QUIT = "fatal: credential helper 'bbtoken' told us to quit"


@pytest.fixture
def server(bitbucket: BitbucketServer) -> BitbucketServer:
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    bitbucket.add_token(OLD, "alice", ["read:repository:bitbucket"])
    bitbucket.add_token(NEW, "alice", ["read:repository:bitbucket"])
    assert subprocess.run(["git", "credential-bbtoken", "setup", bitbucket.url]).returncode == 0
    return bitbucket


def expired_login(server: BitbucketServer, scope: str, *options: str) -> None:
    """A login for `scope` whose token's expiry date has passed since."""
    result = subprocess.run(["git", "credential-bbtoken", "login",
                             f"{server.url}/{scope}".rstrip("/"), "--token-stdin", "--expires",
                             (today() + datetime.timedelta(days=30)).isoformat(), *options],
                            input=OLD + "\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    set_expiry(1_000_000_000)
    server.accounts.tokens[OLD].expired = True  # and Bitbucket refuses it: only NEW works


def clone(server: BitbucketServer, where: str, askpass: Askpass | str | None
          ) -> subprocess.CompletedProcess[str]:
    program = askpass.path if isinstance(askpass, Askpass) else askpass or ""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS=program, SSH_ASKPASS="")
    return subprocess.run(["git", "clone", f"{server.url}/acme/widgets.git", where],
                          capture_output=True, text=True, timeout=120, env=env)


def stored() -> list[tuple[str, str, object, object]]:
    listed = subprocess.run(["git", "credential-bbtoken", "list", "--json"],
                            capture_output=True, text=True, timeout=60)
    return [(row["url"], row["username"], row.get("email"), row["expires"])
            for row in json.loads(listed.stdout)["credentials"]]


def served_for(server: BitbucketServer, path: str) -> dict[str, str]:
    """What `get` answers for `path` now (no prompting: nobody to ask)."""
    host = server.url.split("://")[1]
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="")
    result = subprocess.run([sys.executable, "-m", "git_credential_bbtoken", "get"],
                            input=f"protocol=https\nhost={host}\n"
                                  + (f"path={path}\n" if path else "") + "\n",
                            capture_output=True, text=True, timeout=60, env=env)
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


@pytest.mark.parametrize("scope", ["", "acme", "acme/widgets"])
def test_an_expired_token_is_replaced_in_place_through_the_helpers_own_prompt(
        server: BitbucketServer, askpass: Askpass, tmp_path: object, scope: str) -> None:
    """As with nothing stored: said why, asked for a new token only (the username is the
    expired one's), which is probed, served and kept in place of the expired one: same scope,
    same username, same email; its expiry date is not the old one's."""
    expired_login(server, scope, "--email", "alice@example.com")
    askpass.answer(username="never-asked", password=NEW)
    cloned = clone(server, f"{tmp_path}/w", askpass)
    assert cloned.returncode == 0, cloned.stderr
    assert "expired on 2001-09-09" in cloned.stderr
    assert [p.split(" ")[0] for p in askpass.prompts()] == ["Password"]
    where = f"{server.url}/{scope}".rstrip("/")
    assert stored() == [(where, "x-bitbucket-api-token-auth", "alice@example.com", None)]
    assert served_for(server, "acme/widgets.git").get("password") == NEW


def test_every_entry_holding_the_expired_token_gets_the_new_one(
        server: BitbucketServer, askpass: Askpass, tmp_path: object) -> None:
    """The same token kept for the whole host and for the workspace (as `rotate` finds
    them): renewed at a clone of the workspace, both hold the new one, each at its scope."""
    expired_login(server, "")
    expired_login(server, "acme")
    data = os.path.join(os.environ["XDG_DATA_HOME"], "git-credential-bbtoken",
                        "credentials.json")
    with open(data) as handle:
        document = json.load(handle)
    for entry in document["credentials"]:
        entry["expiry"] = 1_000_000_000
    with open(data, "w") as handle:
        json.dump(document, handle)
    askpass.answer(password=NEW)
    cloned = clone(server, f"{tmp_path}/w", askpass)
    assert cloned.returncode == 0, cloned.stderr
    assert sorted(stored()) == [(server.url, "x-bitbucket-api-token-auth", None, None),
                                (f"{server.url}/acme", "x-bitbucket-api-token-auth", None,
                                 None)]
    other = served_for(server, "")  # the host-wide entry
    assert other.get("password") == NEW and "password_expiry_utc" not in other, other


def test_the_renewal_guidance_asks_no_username_and_suggests_the_old_tokens_scopes(
        server: BitbucketServer, askpass: Askpass, tmp_path: object) -> None:
    server.add_token(OLD, "alice", ["read:repository:bitbucket",
                                    "write:repository:bitbucket"])
    expired_login(server, "acme/widgets")
    askpass.answer(password=NEW)
    cloned = clone(server, f"{tmp_path}/w", askpass)  # a clone, which needs read only
    assert cloned.returncode == 0, cloned.stderr
    assert "Username" not in cloned.stderr and "username" not in cloned.stderr
    assert "with: read:repository:bitbucket, write:repository:bitbucket." in cloned.stderr


def test_an_askpass_that_cannot_run_says_the_expiry_once(server: BitbucketServer,
                                                        tmp_path: object) -> None:
    """Guidance said, then nobody could be asked after all: not the expiry text again."""
    expired_login(server, "acme")
    cloned = clone(server, f"{tmp_path}/w", f"{tmp_path}/no-such-askpass")
    assert cloned.returncode != 0 and QUIT in cloned.stderr
    assert cloned.stderr.count("expired on 2001-09-09") == 1, cloned.stderr


def test_an_expired_token_with_nobody_to_ask_quits_with_why(server: BitbucketServer,
                                                            tmp_path: object) -> None:
    expired_login(server, "acme")
    cloned = clone(server, f"{tmp_path}/w", None)
    assert cloned.returncode != 0
    assert "expired on 2001-09-09" in cloned.stderr and QUIT in cloned.stderr
    assert "could not read Username" not in cloned.stderr
    assert [r for r in server.requests if r.username] == []  # the expired token never sent
