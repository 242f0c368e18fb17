"""`git credential-bbtoken doctor [URL] [--json]` against the Bitbucket-like test server.

Real git (asked which helpers it runs), the real keyring, real probes. Verdicts are read from
`--json` and checked against the text; no wall-clock assertions (timeouts only stop a hang).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rig.gitrun import credential, run_git
from rig.server import BitbucketServer
from rig.systemhelper import SystemHelper

READ = "read:repository:bitbucket"
WRITE = "write:repository:bitbucket"
USER = "read:user:bitbucket"
WORKSPACE = "read:workspace:bitbucket"
GOOD = "ATATT3xFfGF0-doctor-good-0123456789abcdefghijklmnopqrstuvwxyzAB"
READ_ONLY = "ATATT3xFfGF0-doctor-readonly-0123456789abcdefghijklmnopqrstu"
OLD_APP_PASSWORD = "oldAppPassw0rd123456"
SECRETS = (GOOD, READ_ONLY, OLD_APP_PASSWORD)


def bbtoken(*args: str, input: str | None = None, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "credential-bbtoken", *args], input=input, env=env,
                          capture_output=True, text=True, timeout=180)


def doctor(url: str, env: dict[str, str] | None = None
           ) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str],
                      dict[str, Any]]:
    """Text and --json runs; asserts they agree and that no secret shows in either."""
    text = bbtoken("doctor", url, env=env)
    machine = bbtoken("doctor", url, "--json", env=env)
    for result in (text, machine):
        assert "Traceback" not in result.stderr
        for secret in SECRETS:
            assert secret not in result.stdout and secret not in result.stderr
    report: dict[str, Any] = json.loads(machine.stdout)
    assert text.returncode == machine.returncode
    assert report["ok"] is (machine.returncode == 0)
    lines = text.stdout.splitlines()
    # one line per check with ok / warning / problem (contract, section 2): nothing else
    assert {c["status"] for c in report["checks"]} <= {"ok", "warning", "problem"}, report
    for check in report["checks"]:
        # the same verdict, for the same check, with the same words, on one text line
        assert any(line.split()[:1] == [check["status"]] and check["name"] in line
                   and check["message"] in line for line in lines), (check, text.stdout)
        for fix in check["fix"]:
            assert any(fix in line for line in lines), (fix, text.stdout)
    statuses = [line.split()[0] for line in lines if line.startswith("  ")
                and line.split()[:1] in (["ok"], ["warning"], ["problem"])]
    assert statuses == [c["status"] for c in report["checks"]]
    return text, machine, report


def checks(report: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [c for c in report["checks"] if c["name"] == name]


def verdict(report: dict[str, Any], name: str) -> str:
    found = checks(report, name)
    assert len(found) == 1, report
    status: str = found[0]["status"]
    return status


@pytest.fixture
def server(bitbucket: BitbucketServer, secret_service: object) -> BitbucketServer:
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    return bitbucket


def login(server: BitbucketServer, token: str) -> None:
    result = bbtoken("login", f"{server.url}/acme/widgets", "--token-stdin", input=token + "\n")
    assert result.returncode == 0, result.stderr


def test_before_setup_a_store_helper_with_an_app_password_is_the_problem(
        server: BitbucketServer) -> None:
    home = Path(os.environ["HOME"])
    (home / ".git-credentials").write_text(
        server.url.replace("://", f"://alice:{OLD_APP_PASSWORD}@") + "\n")
    assert run_git("config", "--global", "credential.helper", "store").returncode == 0
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    login(server, GOOD)  # a good token is stored, but git never gets to ask bbtoken

    text, _, report = doctor(f"{server.url}/acme/widgets")
    assert text.returncode == 1
    helpers = checks(report, "helpers")[0]
    assert helpers["status"] == "problem"
    assert "store" in helpers["message"]
    assert any(f"git credential-bbtoken setup {server.url}" in fix for fix in helpers["fix"])
    reject = [fix for fix in helpers["fix"] if "credential reject" in fix]
    assert len(reject) == 1, helpers["fix"]

    # The fix it names works: run it, and the store has nothing for the server any more.
    command = reject[0][reject[0].index("printf"):]
    assert subprocess.run(["sh", "-c", command], capture_output=True, timeout=60
                          ).returncode == 0
    assert OLD_APP_PASSWORD not in (home / ".git-credentials").read_text()
    assert credential("fill", {"protocol": "https", "host": server.url.split("://")[1]},
                      helper="store").fields.get("password") is None


def test_good_token_after_setup_is_all_ok(server: BitbucketServer, newer_git: str) -> None:
    assert bbtoken("setup", server.url).returncode == 0
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    login(server, GOOD)
    # a git new enough for password_expiry_utc, first on PATH, so every check can be ok
    env = dict(os.environ, PATH=os.pathsep.join([newer_git, os.environ["PATH"]]))
    text, _, report = doctor(f"{server.url}/acme/widgets", env=env)
    assert text.returncode == 0, text.stdout
    assert {c["status"] for c in report["checks"]} == {"ok"}, text.stdout
    for name in ("git", "helpers", "secret store", "stored", "clone", "push"):
        assert verdict(report, name) == "ok", text.stdout
    assert "No problems found." in text.stdout
    assert "Use credential helper" in text.stdout  # the JetBrains setting


def test_old_git_is_a_warning_not_a_problem(server: BitbucketServer) -> None:
    assert bbtoken("setup", server.url).returncode == 0
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    login(server, GOOD)
    text, _, report = doctor(f"{server.url}/acme/widgets")
    version = run_git("--version").stdout
    old = tuple(int(x) for x in version.split()[2].split(".")[:2]) < (2, 41)
    assert verdict(report, "git") == ("warning" if old else "ok")
    assert text.returncode == 0, text.stdout


def test_read_only_token_reports_push_as_the_problem(server: BitbucketServer) -> None:
    assert bbtoken("setup", server.url).returncode == 0
    server.add_token(READ_ONLY, "alice", scopes=[READ])
    login(server, READ_ONLY)
    text, _, report = doctor(f"{server.url}/acme/widgets")
    assert text.returncode == 1
    assert verdict(report, "clone") == "ok"
    assert verdict(report, "push") == "problem"
    push = checks(report, "push")[0]
    assert WRITE in push["message"] + " ".join(push["fix"])
    assert "1 problem found." in text.stdout
    assert WRITE in text.stdout


def test_server_down_finishes_and_says_what_was_not_checked(server: BitbucketServer) -> None:
    assert bbtoken("setup", server.url).returncode == 0
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    login(server, GOOD)
    server.stop()
    text, _, report = doctor(f"{server.url}/acme/widgets")
    # what needs no network is still checked
    assert verdict(report, "helpers") == "ok"
    assert verdict(report, "stored") == "ok"
    # what does is said to be unchecked, not wrong
    for name in ("clone", "push"):
        found = checks(report, name)[0]
        assert found["status"] == "warning"
        assert "not checked" in found["message"]
    assert "does not mean the token is invalid" in text.stdout
    # the explanation of what was not checked is a warning, as the rows it explains
    assert [c["status"] for c in checks(report, "explanation")] == ["warning"]
    assert "problem" not in {c["status"] for c in report["checks"]}
    assert text.returncode == 0


def test_nothing_stored_is_a_problem_with_the_login_fix(server: BitbucketServer) -> None:
    assert bbtoken("setup", server.url).returncode == 0
    text, _, report = doctor(f"{server.url}/acme/widgets")
    assert text.returncode == 1
    stored = checks(report, "stored")[0]
    assert stored["status"] == "problem"
    assert any(f"git credential-bbtoken login {server.url}/acme/widgets" in fix
               for fix in stored["fix"])


def test_no_helper_at_all_is_a_problem_naming_setup(server: BitbucketServer) -> None:
    text, _, report = doctor(f"{server.url}/acme/widgets")
    assert text.returncode == 1
    helpers = checks(report, "helpers")[0]
    assert helpers["status"] == "problem"
    assert any("git credential-bbtoken setup" in fix for fix in helpers["fix"])


def test_environment_token_never_shows(server: BitbucketServer) -> None:
    assert bbtoken("setup", server.url).returncode == 0
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    env = dict(os.environ, BBTOKEN_TOKEN=GOOD, BBTOKEN_DEBUG="1")
    text, _, report = doctor(f"{server.url}/acme/widgets", env=env)
    assert text.returncode == 0, text.stdout
    assert verdict(report, "secret store") == "ok"
    assert "BBTOKEN_TOKEN" in checks(report, "secret store")[0]["message"]
    assert verdict(report, "push") == "ok"


def test_after_setup_an_old_app_password_in_another_helper_is_still_found(
        server: BitbucketServer) -> None:
    home = Path(os.environ["HOME"])
    (home / ".git-credentials").write_text(
        server.url.replace("://", f"://alice:{OLD_APP_PASSWORD}@") + "\n")
    assert run_git("config", "--global", "credential.helper", "store").returncode == 0
    assert bbtoken("setup", server.url).returncode == 0
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    login(server, GOOD)

    _, _, report = doctor(f"{server.url}/acme/widgets")
    assert verdict(report, "helpers") == "ok"  # bbtoken answers first now
    old = checks(report, "old helper")
    assert len(old) == 1 and old[0]["status"] == "warning"
    assert "store" in old[0]["message"] and "app password" in old[0]["message"]
    command = old[0]["fix"][0][old[0]["fix"][0].index("printf"):]
    assert subprocess.run(["sh", "-c", command], capture_output=True, timeout=60
                          ).returncode == 0
    _, _, after = doctor(f"{server.url}/acme/widgets")
    assert checks(after, "old helper") == []


# The console scripts pip writes for `git-credential-bbtoken`: before pip 25, and since.
OLD_PIP_SCRIPT = ("#!{python}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\n"
                  "from git_credential_bbtoken.cli import main\nif __name__ == '__main__':\n"
                  "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
                  "    sys.exit(main())\n")
# ... and what an old pip writes when the interpreter's path is too long for a #! line.
OLD_PIP_SH_SCRIPT = ("#!/bin/sh\n" + "'" * 3 + "exec' \"{python}\" \"$0\" \"$@\"\n"
                     "' " + "'" * 3 + "\n" + OLD_PIP_SCRIPT.split("\n", 1)[1])
NEW_PIP_SCRIPT = ("#!{python}\nimport sys\nfrom git_credential_bbtoken.cli import main\n"
                  "if __name__ == '__main__':\n"
                  "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n    sys.exit(main())\n")


@pytest.mark.parametrize("script, slow", [(OLD_PIP_SCRIPT, True), (OLD_PIP_SH_SCRIPT, True),
                                          (NEW_PIP_SCRIPT, False)],
                         ids=["old pip", "old pip, sh launcher", "pip 25"])
def test_a_launcher_written_by_an_old_pip_is_named(server: BitbucketServer, tmp_path: Path,
                                                   script: str, slow: bool) -> None:
    import sys

    launcher = tmp_path / "bin" / "git-credential-bbtoken"
    launcher.parent.mkdir()
    launcher.write_text(script.format(python=sys.executable))
    launcher.chmod(0o755)
    env = dict(os.environ, PATH=f"{launcher.parent}{os.pathsep}{os.environ['PATH']}")
    assert bbtoken("setup", server.url, env=env).returncode == 0
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    login(server, GOOD)

    _, _, report = doctor(f"{server.url}/acme/widgets", env=env)
    found = checks(report, "launcher")
    if slow:
        assert [c["status"] for c in found] == ["ok"]  # worth knowing, not wrong
        assert str(launcher) in found[0]["message"] and "pip older than 25" in found[0]["message"]
        assert found[0]["fix"] == [f"{sys.executable} -m pip install --upgrade pip, then "
                                   "reinstall git-credential-bbtoken with it "
                                   "(install/install.sh does both)"]
    else:
        assert found == []
    assert verdict(report, "helpers") == "ok"


# Git for Windows' `manager` and macOS's `osxkeychain`, from the system config (rig.systemhelper).
BITBUCKET = "https://bitbucket.org"


def test_a_platform_helper_from_the_system_config_is_named_until_setup(
        system_helper: SystemHelper) -> None:
    name = system_helper.name
    _, _, report = doctor(BITBUCKET)
    helpers = checks(report, "helpers")[0]
    assert (helpers["status"], helpers["message"]) == (
        "problem", f"git runs {name} for {BITBUCKET}, not bbtoken")
    assert any(f"git credential-bbtoken setup {BITBUCKET}" in fix for fix in helpers["fix"])

    # bbtoken for every URL (docs/CI.md) without setup: the system's helper still runs first
    assert run_git("config", "--global", "credential.helper", "bbtoken").returncode == 0
    _, _, report = doctor(BITBUCKET)
    helpers = checks(report, "helpers")[0]
    assert helpers["status"] == "warning"
    assert helpers["message"].startswith(f"git runs {name} before bbtoken for {BITBUCKET}")
    assert run_git("config", "--global", "--unset", "credential.helper").returncode == 0

    assert bbtoken("setup").returncode == 0
    _, _, report = doctor(BITBUCKET)
    helpers = checks(report, "helpers")[0]
    assert (helpers["status"], helpers["message"]) == ("ok", f"git runs bbtoken for {BITBUCKET}")
    assert checks(report, "old helper") == []  # it holds nothing: nothing to warn about

    assert bbtoken("setup", "--undo").returncode == 0
    _, _, report = doctor(BITBUCKET)
    assert verdict(report, "helpers") == "problem"


def test_a_platform_helper_holding_an_app_password_is_the_trap_then_a_warning(
        system_helper: SystemHelper) -> None:
    name = system_helper.name
    system_helper.answer("alice", OLD_APP_PASSWORD)
    _, _, report = doctor(BITBUCKET)
    helpers = checks(report, "helpers")[0]
    assert helpers["status"] == "problem"
    assert f"git asks {name} for {BITBUCKET} and {name} answers with a stored password" \
        in helpers["message"]
    assert any(f"credential.helper={name} credential reject" in fix for fix in helpers["fix"])

    assert bbtoken("setup").returncode == 0
    _, _, report = doctor(BITBUCKET)
    assert checks(report, "helpers")[0]["message"] == f"git runs bbtoken for {BITBUCKET}"
    old = checks(report, "old helper")
    assert len(old) == 1 and old[0]["status"] == "warning"
    assert f"credential helper {name} still holds an app password for bitbucket.org" \
        in old[0]["message"]
    # the fix it names reaches the platform's helper, as an erase for the host
    command = old[0]["fix"][0][old[0]["fix"][0].index("printf"):]
    system_helper.clear()
    assert subprocess.run(["sh", "-c", command], capture_output=True, timeout=60
                          ).returncode == 0
    assert system_helper.calls() == [("erase", "bitbucket.org")]


def test_a_helper_after_bbtoken_is_a_warning_naming_its_config_file(
        system_helper: SystemHelper, server: BitbucketServer, isolated_env: Path) -> None:
    """setup --system, then a global `credential.helper` (GCM on Linux and macOS): git runs
    bbtoken, then that helper, which gets every token git stores. Said even when bbtoken
    answers (git then stops before the helpers after it)."""
    name = system_helper.name
    assert bbtoken("setup", server.url, "--system").returncode == 0
    assert run_git("config", "--global", "credential.helper", name).returncode == 0
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    login(server, GOOD)

    text, _, report = doctor(f"{server.url}/acme/widgets")
    helpers = checks(report, "helpers")[0]
    assert helpers["status"] == "warning", text.stdout
    assert f"git also runs {name} after bbtoken for {server.url}" in helpers["message"]
    assert f"in {isolated_env} (global config)" in helpers["message"]
    assert any(f"git credential-bbtoken setup {server.url} --global" in fix
               for fix in helpers["fix"])
    assert text.returncode == 0, text.stdout  # a warning: clone and push still work
    _, _, report = doctor(f"{server.url}/acme/widgets", env=dict(os.environ, BBTOKEN_TOKEN=GOOD))
    assert verdict(report, "helpers") == "warning"  # CI: bbtoken answers for any username

    assert bbtoken("setup", server.url, "--global").returncode == 0
    _, _, report = doctor(f"{server.url}/acme/widgets")
    assert checks(report, "helpers")[0]["message"] == f"git runs bbtoken for {server.url}"


@pytest.mark.parametrize(("email", "revoked"), [("alice@example.com", True),
                                                ("bob@example.com", True),
                                                ("bob@example.com", False)])
def test_a_token_rest_rejects_at_workspace_level_is_a_problem(server: BitbucketServer,
                                                              email: str, revoked: bool) -> None:
    # A workspace URL: REST is the only check (no repository for git to try), and its 401 to
    # email:token is a wrong email or a dead token. Never "No problems found": when REST
    # accepted this email before (the check kept at login), it is the token; else either.
    assert bbtoken("setup", server.url).returncode == 0
    token = server.add_token(GOOD, "alice", scopes=[READ, WRITE, USER, WORKSPACE])
    url = f"{server.url}/acme"
    assert bbtoken("login", url, "--email", email, "--token-stdin",
                   input=GOOD + "\n").returncode == 0
    confirmed = email == "alice@example.com"
    if confirmed:
        assert doctor(url)[0].returncode == 0  # accepted: nothing to fix yet
    token.revoked = revoked
    text, _, report = doctor(url)
    assert text.returncode == 1 and "No problems found" not in text.stdout, text.stdout
    assert [c["name"] for c in report["checks"] if c["status"] == "problem"] == ["token"]
    [found] = checks(report, "token")
    fix = "\n".join(found["fix"])
    if confirmed:
        assert found["message"].startswith(f"Bitbucket no longer accepts the token for {url}: "
                                           f"the REST API accepted {email} with it on ")
        assert "expired or was revoked" in fix and f"rotate {url}" in fix
        assert f"with: {READ}, {WRITE}, {USER}, {WORKSPACE}" in fix
        assert "is not the email" not in text.stdout
    else:
        assert found["message"].startswith("could not be confirmed: the Bitbucket REST API "
                                           f"rejected {email} with this token (401)")
        assert f"doctor {url}/REPO" in fix and "--email YOUR-ATLASSIAN-EMAIL" in fix
