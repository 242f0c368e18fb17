"""The rig itself, proven with the real git and an inline credential helper (never ours):
if these pass, a failing project test is about the helper, not about the rig."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from rig.gitrun import HELPER_SCRIPT, credential, run_git
from rig.isolation import git_version

CHECKOUT = Path(__file__).resolve().parents[1]
EMAIL = "alice@example.com"
TOKEN = "ATATT-rig-token-0123456789"  # noqa: S105 - test data
R = "read:repository:bitbucket"
W = "write:repository:bitbucket"
U = "read:user:bitbucket"
WS = "read:workspace:bitbucket"
DENIED_BODY = ("You may not have access to this repository or it no longer exists in this "
               "workspace. If you think this repository exists and you have access, make sure "
               "you are authenticated.")


def inline_helper(username: str, password: str) -> list[str]:
    """git options that make a shell one-liner the only credential helper."""
    return ["-c", "credential.helper=",
            "-c", f"credential.helper=!f() {{ echo username={username}; "
                  f"echo password={password}; }}; f"]


@pytest.fixture
def rig(bitbucket):
    bitbucket.add_user("alice", EMAIL, workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    return bitbucket


def clone(rig, tmp_path: Path, username: str, password: str = TOKEN):
    target = tmp_path / "clone"
    result = run_git(*inline_helper(username, password), "clone",
                     f"{rig.url}/acme/widgets.git", str(target))
    return result, target


# -- isolation --------------------------------------------------------------------------------


def test_environment_is_isolated(isolated_env: Path, tmp_path_factory: pytest.TempPathFactory
                                 ) -> None:
    home = Path(os.environ["HOME"])
    # Not the account's real home (from the password database, which HOME does not change),
    # but a folder of this test run; and everything that asks for "home" gets that folder.
    assert home != Path(pwd.getpwuid(os.getuid()).pw_dir)
    assert home.is_relative_to(tmp_path_factory.getbasetemp())
    assert Path.home() == home and Path("~").expanduser() == home
    # Subprocesses start outside the checkout (which `python -m` would put on sys.path).
    assert not Path.cwd().resolve().is_relative_to(CHECKOUT)
    assert Path.cwd().resolve().is_relative_to(tmp_path_factory.getbasetemp().resolve())
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        assert Path(os.environ[name]).is_relative_to(home)
    runtime = Path(os.environ["XDG_RUNTIME_DIR"])
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    assert os.environ["GIT_CONFIG_GLOBAL"] == str(isolated_env)
    assert isolated_env.read_text() == ""
    assert (os.environ["GIT_CONFIG_NOSYSTEM"], os.environ["GIT_TERMINAL_PROMPT"]) == ("1", "0")
    for name in ("GIT_ASKPASS", "SSH_ASKPASS", "BBTOKEN_TOKEN", "PYTHON_KEYRING_BACKEND",
                 "HTTPS_PROXY", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO"):
        assert name not in os.environ
    assert run_git("config", "--global", "--list").stdout == ""
    # The console script under test is found first, next to this Python.
    assert os.environ["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert shutil.which("git-credential-bbtoken") == str(HELPER_SCRIPT)


def exec_path(git: str | Path) -> str:
    """Where a git binary keeps its programs: tells two gits apart even of the same version
    (Debian 13's system git and the newer git are both 2.47)."""
    return subprocess.run([str(git), "--exec-path"], capture_output=True, text=True,
                          check=True).stdout


def test_system_git_unless_newer_git_is_asked_for() -> None:
    # The isolation puts only the venv's bin before the caller's PATH: the git found is the
    # caller's, not the venv's nor BBTOKEN_NEWER_GIT's (unless the caller's PATH has it).
    git = shutil.which("git")
    assert git is not None and Path(git).parent != Path(sys.executable).parent
    callers_path = os.environ["PATH"].split(os.pathsep)[1:]
    assert git == shutil.which("git", path=os.pathsep.join(callers_path))
    assert run_git("--exec-path").stdout == exec_path(git)


def test_newer_git(newer_git: str, rig) -> None:
    assert git_version(newer_git) >= (2, 46)
    # run_git runs the git in git_bin_dir when asked (told apart by where it lives, not by
    # its version: the system git may be as new).
    assert run_git("--exec-path", git_bin_dir=newer_git).stdout == \
        exec_path(Path(newer_git) / "git")
    rig.add_token(TOKEN, "alice", scopes=[R])
    result = run_git(*inline_helper("alice", TOKEN), "ls-remote", f"{rig.url}/acme/widgets.git",
                     git_bin_dir=newer_git)
    assert result.returncode == 0 and "refs/heads/main" in result.stdout, result.stderr


# -- git over HTTPS ---------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["alice", "x-bitbucket-api-token-auth"])
def test_clone_and_push_with_the_right_credential(rig, tmp_path: Path, username: str) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W])
    result, work = clone(rig, tmp_path, username)
    assert result.returncode == 0, result.stderr
    assert (work / "README.md").read_text() == "# acme/widgets\n"

    # Over 1 MiB of incompressible data: git then sends the pack with chunked encoding.
    (work / "big.bin").write_bytes(os.urandom(2 << 20))
    run_git("add", "big.bin", cwd=work)
    assert run_git("commit", "-qm", "change", cwd=work).returncode == 0
    result = run_git(*inline_helper(username, TOKEN), "push", "origin", "main", cwd=work)
    assert result.returncode == 0, result.stderr
    pushed = run_git(f"--git-dir={rig.repos['acme/widgets']}", "rev-parse", "main").stdout
    assert pushed == run_git("rev-parse", "HEAD", cwd=work).stdout


def test_email_as_git_username_is_401(rig, tmp_path: Path) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W])
    result, _ = clone(rig, tmp_path, EMAIL)
    assert result.returncode != 0
    assert "Authentication failed" in result.stderr
    assert [(r.username, r.status) for r in rig.requests] == [(None, 401), (EMAIL, 401)]


def test_unauthenticated_and_denied_bodies(rig) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R])
    url = f"{rig.url}/acme/widgets.git/info/refs?service=git-upload-pack"
    anonymous = requests.get(url, verify=rig.ca_file, timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="Bitbucket.org HTTP"'
    assert anonymous.text == ""
    for auth in [(EMAIL, TOKEN), ("alice", "wrong"), ("bob", TOKEN)]:
        denied = requests.get(url, auth=auth, verify=rig.ca_file, timeout=30)
        assert (denied.status_code, denied.text.strip()) == (401, DENIED_BODY)
    bearer = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"},
                          verify=rig.ca_file, timeout=30)
    assert bearer.status_code == 401


def test_read_only_token_cannot_push(rig, tmp_path: Path) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R])
    result, work = clone(rig, tmp_path, "alice")
    assert result.returncode == 0, result.stderr
    result = run_git(*inline_helper("alice", TOKEN), "push", "origin", "HEAD:other", cwd=work)
    assert result.returncode != 0
    assert "remote: Your credentials lack one or more required privilege scopes." in \
        result.stderr
    assert "403" in result.stderr


def test_write_only_token_cannot_clone(rig, tmp_path: Path) -> None:
    rig.add_token(TOKEN, "alice", scopes=[W])  # no implication: write does not include read
    result, _ = clone(rig, tmp_path, "alice")
    assert result.returncode != 0
    assert "403" in result.stderr
    probe = requests.get(f"{rig.url}/acme/widgets/info/refs?service=git-receive-pack",
                         auth=("alice", TOKEN), verify=rig.ca_file, timeout=30)
    assert probe.status_code == 200  # the push probe passes; paths without .git work too


@pytest.mark.parametrize("state", ["expired", "revoked", "unscoped", "no-access", "no-repo"])
def test_rejected_tokens_get_401(rig, tmp_path: Path, state: str) -> None:
    tok = rig.add_token(TOKEN, "alice", scopes=[R, W])
    assert clone(rig, tmp_path / "before", "alice")[0].returncode == 0
    repo = "acme/widgets"
    if state == "unscoped":
        tok.scopes = ["read:jira-work"]
    elif state == "no-access":
        rig.accounts.users["alice"].workspaces.remove("acme")
    elif state == "no-repo":
        repo = "acme/nothing"
    else:
        setattr(tok, state, True)  # flipping a field takes effect on the next request
    result = run_git(*inline_helper("alice", TOKEN), "ls-remote", f"{rig.url}/{repo}.git")
    assert result.returncode != 0 and "Authentication failed" in result.stderr
    assert rig.requests[-1].status == 401


def test_app_password_is_410(rig, tmp_path: Path) -> None:
    rig.add_app_password("ABCDEFGHabcdefgh1234", "alice")
    result, _ = clone(rig, tmp_path, "alice", "ABCDEFGHabcdefgh1234")
    assert result.returncode != 0
    assert "410" in result.stderr
    assert "remote: App passwords are deprecated" in result.stderr
    rest = requests.get(f"{rig.api_url}/user", auth=(EMAIL, "ABCDEFGHabcdefgh1234"),
                        verify=rig.ca_file, timeout=30)
    assert rest.status_code == 401


def test_lfs_batch_follows_the_same_rules(rig) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R])
    url = f"{rig.url}/acme/widgets.git/info/lfs/objects/batch"

    def batch(operation: str, auth=("alice", TOKEN)) -> requests.Response:
        return requests.post(url, json={"operation": operation,
                                        "objects": [{"oid": "ab" * 32, "size": 1}]},
                             auth=auth, verify=rig.ca_file, timeout=30)

    download = batch("download")
    assert download.status_code == 200
    assert download.json()["objects"][0]["oid"] == "ab" * 32
    assert batch("upload").status_code == 403
    assert batch("download", auth=(EMAIL, TOKEN)).status_code == 401


def test_tls_is_verified_for_real(rig, tmp_path: Path) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(rig.api_url + "/user", timeout=30)
    result = run_git("ls-remote", f"{rig.url}/acme/widgets.git",  # system CAs only
                     env={"GIT_CONFIG_GLOBAL": os.devnull})
    assert result.returncode != 0 and "certificate" in result.stderr.lower()


def test_two_servers_on_two_ports(make_bitbucket, rig, tmp_path: Path) -> None:
    other = make_bitbucket()
    assert other.port != rig.port
    other.add_user("bob", "bob@example.com", workspaces=["acme"])
    other.add_repo("acme/widgets")
    other.add_token("bobs-token", "bob", scopes=[R])
    result = run_git(*inline_helper("bob", "bobs-token"), "ls-remote",
                     f"{other.url}/acme/widgets.git")
    assert result.returncode == 0, result.stderr
    assert run_git("config", "--global", "--get-urlmatch", "bbtoken.kind",
                   other.url).stdout.strip() == "cloud"
    assert rig.requests == []


# -- REST -------------------------------------------------------------------------------------


def rest(rig, path: str, auth=(EMAIL, TOKEN)) -> requests.Response:
    return requests.get(rig.api_url + path, auth=auth, verify=rig.ca_file, timeout=30)


def test_rest_user_with_email_and_token(rig) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, U])
    answer = rest(rig, "/user")
    assert answer.status_code == 200
    assert answer.json()["username"] == "alice" and answer.json()["type"] == "user"
    for username in ("alice", "x-bitbucket-api-token-auth"):
        denied = rest(rig, "/user", auth=(username, TOKEN))
        assert denied.status_code == 401
        assert denied.text == ('{"type": "error", "error": {"message": "Token is invalid, '
                               'expired, or not supported for this endpoint."}}')


def test_rest_missing_scope_lists_granted(rig) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, W])
    answer = rest(rig, "/user")
    assert answer.status_code == 403
    assert answer.json() == {"type": "error", "error": {
        "message": "Your credentials lack one or more required privilege scopes.",
        "detail": {"required": [U], "granted": [R, W]}}}
    assert rest(rig, "/repositories/acme/widgets").json()["full_name"] == "acme/widgets"
    assert rest(rig, "/user/workspaces").json()["error"]["detail"]["required"] == [U, WS]


def test_rest_scope_headers_switch(rig) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, U, WS])
    assert "x-oauth-scopes" not in rest(rig, "/user").headers
    rig.send_scope_headers = True
    headers = rest(rig, "/user").headers
    assert set(headers["x-oauth-scopes"].split(", ")) == {R, U, WS}
    assert headers["x-credential-type"] == "api_token"
    assert headers["x-accepted-oauth-scopes"] == "account"
    assert rest(rig, "/user/workspaces").json()["values"][0]["workspace"]["slug"] == "acme"


def test_rest_lists_a_workspaces_repositories(rig) -> None:
    rig.add_repo("acme/gadgets")
    rig.add_repo("other/thing")
    rig.add_token(TOKEN, "alice", scopes=[R])
    page = rest(rig, "/repositories/acme").json()
    assert [r["full_name"] for r in page["values"]] == ["acme/gadgets", "acme/widgets"]
    widgets = page["values"][1]
    assert widgets["slug"] == "widgets" and widgets["workspace"]["slug"] == "acme"
    assert {link["name"]: link["href"] for link in widgets["links"]["clone"]}["https"] == \
        f"{rig.url}/acme/widgets.git"
    assert rest(rig, "/repositories/other").status_code == 404  # not alice's workspace
    rig.add_token("no-read", "alice", scopes=[U])
    denied = rest(rig, "/repositories/acme", auth=(EMAIL, "no-read")).json()
    assert denied["error"]["detail"] == {"required": [R], "granted": [U]}


@pytest.mark.parametrize("path", ["/workspaces", "/repositories", "/repositories/",
                                  "/user/permissions/workspaces"])
@pytest.mark.parametrize("auth", [(EMAIL, TOKEN), None])
def test_removed_endpoints_answer_410(rig, path: str, auth) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, U, WS])
    rig.rest.removed_calls_expected = True
    answer = requests.get(rig.api_url + path, auth=auth, verify=rig.ca_file, timeout=30)
    assert answer.status_code == 410
    assert answer.json() == {"type": "error", "error": {
        "message": "CHANGE-2770 - Functionality has been deprecated"}}
    assert rig.rest.removed_calls == ["/2.0" + path]


def test_rest_trouble_switches(rig) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R, U])
    rig.user_endpoint_gone = True
    assert rest(rig, "/user").status_code == 410
    assert rest(rig, "/repositories/acme/widgets").status_code == 200
    rig.rest_status_override = 429
    throttled = rest(rig, "/repositories/acme/widgets")
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "30")
    rig.rest_status_override = None
    rig.rest_delay = 30  # cut short when the server stops
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(rig.api_url + "/user", auth=(EMAIL, TOKEN), verify=rig.ca_file,
                     timeout=0.5)


def test_request_log(rig, tmp_path: Path) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R])
    clone(rig, tmp_path, "alice")
    log = rig.requests
    assert (log[0].path, log[0].query, log[0].username, log[0].status) == \
        ("/acme/widgets.git/info/refs", "service=git-upload-pack", None, 401)
    assert all(r.username == "alice" and r.status == 200 for r in log[1:])
    assert log[-1].path == "/acme/widgets.git/git-upload-pack" and log[-1].method == "POST"
    assert TOKEN not in repr(log)
    rig.clear_log()
    rest(rig, "/user")
    assert [(r.surface, r.username, r.status) for r in rig.requests] == \
        [("rest", EMAIL, 403)]


# -- helpers for tests ------------------------------------------------------------------------


def test_credential_runs_git_credential_with_only_the_given_helper() -> None:
    answer, stderr, code = credential(
        "fill", {"protocol": "https", "host": "example.com"},
        helper="!f() { echo username=U; echo password=T; }; f")
    assert code == 0, stderr
    assert answer == [("protocol", "https"), ("host", "example.com"), ("username", "U"),
                      ("password", "T")]


def test_askpass_answers_and_logs_prompts(rig, askpass, tmp_path: Path) -> None:
    rig.add_token(TOKEN, "alice", scopes=[R])
    askpass.answer(username="alice", password=TOKEN)
    result = run_git("-c", "credential.helper=", "clone", f"{rig.url}/acme/widgets.git",
                     str(tmp_path / "c"), env={"GIT_ASKPASS": askpass.path})
    assert result.returncode == 0, result.stderr
    host = rig.url.removeprefix("https://")
    assert askpass.prompts() == [f"Username for 'https://{host}': ",
                                 f"Password for 'https://alice@{host}': "]


def test_property_tests_are_derandomised() -> None:
    # The profile tests/conftest.py loads, which every @given test and every settings(...)
    # made without a parent inherit: the same examples on every run, and no deadline.
    from hypothesis import settings

    assert settings.default.derandomize is True
    assert settings.default.deadline is None
    assert settings.default.database is None
    assert settings().derandomize is True


# -- keyring ----------------------------------------------------------------------------------


def keyring_py(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "import keyring\n" + code],
                          capture_output=True, text=True, timeout=60)


def test_secret_service_stores_and_lists(secret_service) -> None:
    assert secret_service.items() == []  # emptied before every test
    assert keyring_py("keyring.set_password('svc', 'alice', 's3cret')").returncode == 0
    [item] = secret_service.items()
    assert item["secret"] == "s3cret"
    assert item["attributes"]["service"] == "svc" and item["attributes"]["username"] == "alice"
    assert "SecretService" in keyring_py("print(keyring.get_keyring())").stdout


def test_secret_service_lock_and_unlock(secret_service) -> None:
    assert keyring_py("keyring.set_password('svc', 'alice', 's3cret')").returncode == 0
    secret_service.lock()
    locked = keyring_py("print(keyring.get_password('svc', 'alice'))")
    assert locked.returncode != 0 and "s3cret" not in locked.stdout
    secret_service.unlock()
    assert keyring_py("print(keyring.get_password('svc', 'alice'))").stdout == "s3cret\n"


def test_a_dead_secret_service_is_reported_and_restarted(secret_service) -> None:
    # What the autouse wiring does after a test during which gnome-keyring-daemon died.
    assert secret_service.crash_report() is None
    secret_service._keyring.kill()
    secret_service._keyring.wait(timeout=10)
    assert "exited with status -9" in secret_service.crash_report()
    secret_service.restart_keyring()
    assert secret_service.crash_report() is None
    assert keyring_py("keyring.set_password('svc', 'alice', 'again')").returncode == 0
    assert [item["secret"] for item in secret_service.items()] == ["again"]


def test_no_keyring_gives_the_fail_backend(no_keyring) -> None:
    result = keyring_py("print(keyring.get_keyring())")
    assert "keyring.backends.fail.Keyring" in result.stdout, result.stderr
