"""`git credential-bbtoken setup`: what it writes into git config, that it writes it once, that
`--undo` gives back the very bytes it found, and that git then really asks only bbtoken.

Real git and the real console script throughout; the global config is the isolated one
(GIT_CONFIG_GLOBAL) the rig gives every test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rig.gitrun import HELPER_SCRIPT, run_git
from rig.server import BitbucketServer
from rig.systemhelper import SystemHelper

READ = "read:repository:bitbucket"
WRITE = "write:repository:bitbucket"
GOOD = "ATATT3xFfGF0-setup-good-token-0123456789abcdefghijklmnopqrstuv"
OLD_APP_PASSWORD = "oldAppPassw0rd123456"
VENV_BIN = str(Path(sys.executable).parent)


def bbtoken(*args: str, input: str | None = None, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "credential-bbtoken", *args], input=input, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def global_listing() -> str:
    result = run_git("config", "--global", "--list", "--show-origin")
    assert result.returncode == 0, result.stderr
    return result.stdout


def path_without_venv() -> str:
    return os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if p and Path(p).resolve() != Path(VENV_BIN).resolve())


def use_store_helper(home: Path, *urls: str) -> None:
    """The classic trap: `credential.helper=store` holding old passwords."""
    (home / ".git-credentials").write_text("".join(
        url.replace("://", f"://alice:{OLD_APP_PASSWORD}@", 1) + "\n" for url in urls))
    (home / ".git-credentials").chmod(0o600)
    assert run_git("config", "--global", "credential.helper", "store").returncode == 0


def fill(url: str, env: dict[str, str | None] | None = None) -> dict[str, str]:
    """What git itself answers for `url` with the configured helpers (nobody to prompt)."""
    result = run_git("credential", "fill", input=f"url={url}\n\n", env=env)
    if result.returncode != 0:
        assert "terminal prompts disabled" in result.stderr, result.stderr
        return {}
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def test_setup_writes_the_chain_cut_the_helper_and_use_http_path(isolated_env: Path) -> None:
    result = bbtoken("setup")
    assert result.returncode == 0, result.stderr
    assert run_git("config", "--global", "--get-all",
                   "credential.https://bitbucket.org.helper").stdout == "\nbbtoken\n"
    assert run_git("config", "--get-urlmatch", "credential.useHttpPath",
                   "https://bitbucket.org/acme/widgets.git").stdout.strip() == "true"
    assert "next" in result.stderr.lower() and "login" in result.stderr


@pytest.mark.parametrize("url", ["https://bitbucket.org", "https://bitbucket.org/acme"])
def test_setup_twice_equals_once(isolated_env: Path, url: str) -> None:
    run_git("config", "--global", "credential.helper", "store")
    first = bbtoken("setup", url)
    assert first.returncode == 0, first.stderr
    once = global_listing()
    bytes_once = isolated_env.read_bytes()
    second = bbtoken("setup", url)
    assert second.returncode == 0, second.stderr
    assert "nothing changed" in second.stderr
    assert global_listing() == once
    assert isolated_env.read_bytes() == bytes_once


PRE_EXISTING = {
    "empty": "",
    "store and useHttpPath false": (
        "[user]\n\tname = Someone\n"
        "[credential]\n\thelper = store\n"
        '[credential "https://bitbucket.org"]\n\tuseHttpPath = false\n'),
    "odd spelling, comments, another helper": (
        "# my settings\n[credential]\n\thelper = store\n"
        '[credential "https://bitbucket.org"]\n\tUseHTTPPath = no ; keep me\n'
        "\thelper = manager\n[alias]\n\tst = status\n"),
}


@pytest.mark.parametrize("before", PRE_EXISTING.values(), ids=PRE_EXISTING.keys())
def test_undo_restores_the_exact_previous_file(isolated_env: Path, before: str) -> None:
    isolated_env.write_text(before)
    original = isolated_env.read_bytes()
    assert bbtoken("setup").returncode == 0
    assert bbtoken("setup").returncode == 0  # twice: still one undo
    assert run_git("config", "--get-urlmatch", "credential.useHttpPath",
                   "https://bitbucket.org/a/b").stdout.strip() == "true"
    undo = bbtoken("setup", "--undo")
    assert undo.returncode == 0, undo.stderr
    assert isolated_env.read_bytes() == original
    again = bbtoken("setup", "--undo")  # nothing left to undo: still nothing else touched
    assert again.returncode == 0
    assert isolated_env.read_bytes() == original


def test_undo_of_one_url_leaves_another_urls_setup(isolated_env: Path) -> None:
    assert bbtoken("setup", "https://bitbucket.org").returncode == 0
    only_first = isolated_env.read_bytes()
    assert bbtoken("setup", "https://git.example.com").returncode == 0
    assert bbtoken("setup", "https://git.example.com", "--undo").returncode == 0
    assert isolated_env.read_bytes() == only_first


def test_local_setup_inside_a_repository(isolated_env: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    assert run_git("init", "-q", str(repo)).returncode == 0
    global_before = isolated_env.read_bytes()
    local_config = repo / ".git" / "config"
    local_before = local_config.read_bytes()
    result = bbtoken("setup", "--local", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert isolated_env.read_bytes() == global_before
    assert run_git("-C", str(repo), "config", "--local", "--get-all",
                   "credential.https://bitbucket.org.helper").stdout == "\nbbtoken\n"
    assert bbtoken("setup", "--local", cwd=repo).returncode == 0
    assert bbtoken("setup", "--local", "--undo", cwd=repo).returncode == 0
    assert local_config.read_bytes() == local_before


def test_local_setup_outside_a_repository_is_an_error(isolated_env: Path,
                                                      tmp_path: Path) -> None:
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    before = isolated_env.read_bytes()
    result = bbtoken("setup", "--local", cwd=outside,
                     env=dict(os.environ, GIT_CEILING_DIRECTORIES=str(tmp_path)))
    assert result.returncode == 1
    assert "repository" in result.stderr
    assert "Traceback" not in result.stderr
    assert isolated_env.read_bytes() == before


@pytest.fixture
def server(bitbucket: BitbucketServer, secret_service: object) -> BitbucketServer:
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    return bitbucket


def test_store_helper_no_longer_answers_after_setup(server: BitbucketServer,
                                                    isolated_env: Path) -> None:
    home = Path(os.environ["HOME"])
    other = "https://git.example.com"
    use_store_helper(home, server.url, other)
    repo_url = f"{server.url}/acme/widgets.git"
    assert fill(repo_url).get("password") == OLD_APP_PASSWORD  # the trap, before setup

    assert bbtoken("setup", server.url).returncode == 0
    assert fill(repo_url) == {}  # neither the old password nor anything else
    assert fill(other).get("password") == OLD_APP_PASSWORD  # other hosts: untouched

    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    login = bbtoken("login", f"{server.url}/acme", "--token-stdin", input=GOOD + "\n")
    assert login.returncode == 0, login.stderr
    answer = fill(repo_url)
    assert answer.get("password") == GOOD
    assert answer.get("username") == "x-bitbucket-api-token-auth"
    # the old entry is still in the store file: setup changed config only
    assert OLD_APP_PASSWORD in (home / ".git-credentials").read_text()


def test_helper_not_on_path_gets_its_absolute_path(server: BitbucketServer,
                                                   isolated_env: Path) -> None:
    env = dict(os.environ, PATH=path_without_venv())
    assert shutil.which("git-credential-bbtoken", path=env["PATH"]) is None
    result = subprocess.run([str(HELPER_SCRIPT), "setup", server.url], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    helpers = run_git("config", "--global", "--get-all",
                      f"credential.{server.url}.helper").stdout.splitlines()
    assert helpers[0] == ""
    assert helpers[1] == str(HELPER_SCRIPT.resolve())  # no character here needs escaping

    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    login = subprocess.run([str(HELPER_SCRIPT), "login", f"{server.url}/acme",
                            "--token-stdin"], input=GOOD + "\n", env=env,
                           capture_output=True, text=True, timeout=60)
    assert login.returncode == 0, login.stderr
    # git, started with the short PATH an IDE may have, still runs the helper
    assert fill(f"{server.url}/acme/widgets.git", env={"PATH": env["PATH"]}).get(
        "password") == GOOD
    undo = subprocess.run([str(HELPER_SCRIPT), "setup", server.url, "--undo"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert undo.returncode == 0, undo.stderr
    assert run_git("config", "--global", "--get-all",
                   f"credential.{server.url}.helper").stdout == ""


def test_helper_path_with_a_space_still_runs(server: BitbucketServer, isolated_env: Path,
                                             tmp_path: Path) -> None:
    """An install folder such as `~/My Tools/bin`: git must not split the path."""
    folder = tmp_path / "My Tools (x86)" / "bin"
    folder.mkdir(parents=True)
    script = folder / "git-credential-bbtoken"
    shutil.copy2(HELPER_SCRIPT, script)  # its #! line still names this venv's python
    env = dict(os.environ, PATH=path_without_venv())
    result = subprocess.run([str(script), "setup", server.url], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    login = subprocess.run([str(script), "login", f"{server.url}/acme", "--token-stdin"],
                           input=GOOD + "\n", env=env, capture_output=True, text=True,
                           timeout=60)
    assert login.returncode == 0, login.stderr
    traced = run_git("credential", "fill", input=f"url={server.url}/acme/widgets.git\n\n",
                     env={"PATH": env["PATH"], "GIT_TRACE": "1"})
    assert "not a git command" not in traced.stderr
    assert f"password={GOOD}" in traced.stdout.splitlines()
    assert bbtoken("setup", server.url, "--undo").returncode == 0
    assert run_git("config", "--global", "--get-all",
                   f"credential.{server.url}.helper").stdout == ""


def test_ci_recipe_serves_the_environment_token_and_writes_nothing(
        server: BitbucketServer, secret_service: Any, isolated_env: Path,
        tmp_path: Path) -> None:
    """docs/CI.md: `git config --global credential.helper bbtoken` and BBTOKEN_TOKEN."""
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    assert run_git("config", "--global", "credential.helper", "bbtoken").returncode == 0
    home = Path(os.environ["HOME"])
    roots = [home] + [Path(os.environ[name]) for name in
                      ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")]

    def files() -> dict[Path, bytes]:
        return {p: p.read_bytes() for root in roots for p in root.rglob("*") if p.is_file()}

    before = files()
    env = {"BBTOKEN_TOKEN": GOOD}
    work = tmp_path / "w"
    clone = run_git("clone", f"{server.url}/acme/widgets.git", str(work), env=env)
    assert clone.returncode == 0, clone.stderr
    (work / "ci.txt").write_text("built\n")
    assert run_git("-C", str(work), "add", "ci.txt").returncode == 0
    assert run_git("-C", str(work), "commit", "-qm", "ci").returncode == 0
    push = run_git("-C", str(work), "push", "origin", "HEAD", env=env)
    assert push.returncode == 0, push.stderr
    assert GOOD not in clone.stderr + push.stderr
    assert files() == before  # no token, no metadata, nothing at all
    assert not secret_service.items()
    listing = bbtoken("list", "--json")
    assert '"credentials": []' in listing.stdout


@pytest.mark.parametrize("own_helpers", [["", "cache"], ["bbtoken"], ["cache", "", "store"]],
                         ids=["own empty reset", "own bbtoken line", "reset between two"])
def test_undo_keeps_helper_values_that_look_like_ours(isolated_env: Path,
                                                      own_helpers: list[str]) -> None:
    # git config cannot remove one of two equal values: the user's own `helper =` (or a
    # `helper = bbtoken` written by hand) must survive setup + undo, in its place.
    key = "credential.https://bitbucket.org.helper"
    for value in own_helpers:
        assert run_git("config", "--global", "--add", key, value).returncode == 0
    assert bbtoken("setup").returncode == 0
    after_setup = run_git("config", "--global", "--get-all", key).stdout.splitlines()
    assert after_setup[:len(own_helpers)] == own_helpers and after_setup[-2] == ""
    assert bbtoken("setup", "--undo").returncode == 0
    assert run_git("config", "--global", "--get-all", key).stdout.splitlines() == own_helpers
    assert run_git("config", "--global", "--get-regexp", "^bbtoken\\.").stdout == ""


def test_a_failed_rewrite_puts_every_helper_value_back() -> None:
    # A git config write failing half-way cannot be produced on demand: a stand-in for the
    # config file, which fails the second `add` of the rewrite once.
    from git_credential_bbtoken.commands import setup as setup_module
    from git_credential_bbtoken.errors import CommandFailed

    class FlakyConfig:
        def __init__(self, values: list[str]) -> None:
            self.values = list(values)
            self.adds = 0

        def get_all(self, key: str) -> list[str]:
            return list(self.values)

        def unset_all(self, key: str, value_pattern: str | None = None) -> None:
            assert value_pattern is None
            self.values = []

        def add(self, key: str, value: str) -> None:
            self.adds += 1
            if self.adds == 2:
                raise CommandFailed("could not change git config: disk full")
            self.values.append(value)

    before = ["", "cache", "", "bbtoken"]  # the user's own reset and helper, then setup's
    config = FlakyConfig(before)
    with pytest.raises(CommandFailed):
        setup_module._remove_our_helpers(config,  # type: ignore[arg-type]
                                         "credential.https://bitbucket.org.helper")
    assert config.values == before


# Git for Windows and macOS's git name their own helper in the system config (rig.systemhelper):
# setup's empty `helper =` must cut it for the URL, and for that URL only.
BITBUCKET_REPO = "https://bitbucket.org/acme/widgets.git"
OTHER_HOST_REPO = "https://github.com/acme/widgets.git"


def test_setup_cuts_the_system_helper_and_undo_gives_it_back(system_helper: SystemHelper,
                                                             isolated_env: Path) -> None:
    global_before = isolated_env.read_bytes()
    system_before = system_helper.config.read_bytes()
    assert fill(BITBUCKET_REPO) == {}
    assert system_helper.calls() == [("get", "bitbucket.org")]  # git asks it, before setup

    setup = bbtoken("setup")
    assert setup.returncode == 0, setup.stderr
    system_helper.clear()
    assert fill(BITBUCKET_REPO) == {}
    assert fill("https://bitbucket.org") == {}
    assert system_helper.calls() == []
    assert fill(OTHER_HOST_REPO) == {}
    assert system_helper.calls() == [("get", "github.com")]  # other hosts: still asked

    undo = bbtoken("setup", "--undo")
    assert undo.returncode == 0, undo.stderr
    system_helper.clear()
    assert fill(BITBUCKET_REPO) == {}
    assert system_helper.calls() == [("get", "bitbucket.org")]
    assert isolated_env.read_bytes() == global_before
    assert system_helper.config.read_bytes() == system_before


def test_a_system_helper_holding_an_app_password_is_cut_and_never_gets_the_token(
        system_helper: SystemHelper, server: BitbucketServer) -> None:
    host = server.url.split("://", 1)[1]
    repo_url = f"{server.url}/acme/widgets.git"
    system_helper.answer("alice", OLD_APP_PASSWORD)
    assert fill(repo_url).get("password") == OLD_APP_PASSWORD  # the trap, before setup

    assert bbtoken("setup", server.url).returncode == 0
    server.add_token(GOOD, "alice", scopes=[READ, WRITE])
    login = bbtoken("login", f"{server.url}/acme", "--token-stdin", input=GOOD + "\n")
    assert login.returncode == 0, login.stderr
    system_helper.clear()
    assert fill(repo_url).get("password") == GOOD
    # what git does after a successful fetch: `store` goes to bbtoken alone, so the token
    # is not copied into the platform's store
    approve = run_git("credential", "approve", input=f"url={repo_url}\n"
                      f"username=x-bitbucket-api-token-auth\npassword={GOOD}\n\n")
    assert approve.returncode == 0, approve.stderr
    assert system_helper.calls() == []

    assert bbtoken("setup", server.url, "--undo").returncode == 0
    assert fill(repo_url).get("password") == OLD_APP_PASSWORD
    assert system_helper.calls() == [("get", host)]


def test_system_setup_beside_the_platform_helper_and_exact_undo(system_helper: SystemHelper,
                                                                isolated_env: Path) -> None:
    global_before = isolated_env.read_bytes()
    system_before = system_helper.config.read_bytes()
    setup = bbtoken("setup", "--system")
    assert setup.returncode == 0, setup.stderr
    assert "system config" in setup.stderr
    assert system_helper.config.read_bytes().startswith(system_before)  # appended, nothing moved
    assert run_git("config", "--system", "--get-all",
                   "credential.https://bitbucket.org.helper").stdout == "\nbbtoken\n"
    assert isolated_env.read_bytes() == global_before
    assert fill(BITBUCKET_REPO) == {}
    assert system_helper.calls() == []
    assert fill(OTHER_HOST_REPO) == {}
    assert system_helper.calls() == [("get", "github.com")]

    again = bbtoken("setup", "--system")
    assert again.returncode == 0 and "nothing changed" in again.stderr
    undo = bbtoken("setup", "--system", "--undo")
    assert undo.returncode == 0, undo.stderr
    assert system_helper.config.read_bytes() == system_before
    assert isolated_env.read_bytes() == global_before
    system_helper.clear()
    assert fill(BITBUCKET_REPO) == {}
    assert system_helper.calls() == [("get", "bitbucket.org")]


# What `git-credential-manager configure` appends to a global config that had no [credential]
# section: git reads helper lines in file order, so its empty value drops bbtoken's lines above.
GCM_CONFIGURE = "[credential]\n\thelper =\n\thelper = manager\n"


@pytest.mark.parametrize("system_helper", ["manager"], indirect=True)
@pytest.mark.parametrize("before", ["", "[user]\n\tname = Someone\n"], ids=["empty", "user"])
def test_setup_again_moves_its_lines_after_a_later_reset_and_undo_keeps_it(
        system_helper: SystemHelper, isolated_env: Path, before: str) -> None:
    isolated_env.write_text(before)
    assert bbtoken("setup").returncode == 0
    with isolated_env.open("a") as config:
        config.write(GCM_CONFIGURE)
    system_helper.clear()
    assert fill(BITBUCKET_REPO) == {}
    assert system_helper.calls() == [("get", "bitbucket.org")]  # bbtoken silently switched off

    again = bbtoken("setup")
    assert again.returncode == 0, again.stderr
    assert "nothing changed" not in again.stderr
    assert len(again.stderr.splitlines()) == 1, again.stderr  # says so, in one line
    assert "moved" in again.stderr
    system_helper.clear()
    assert fill(BITBUCKET_REPO) == {}
    assert system_helper.calls() == []  # only bbtoken again
    assert run_git("config", "--get-urlmatch", "credential.useHttpPath",
                   BITBUCKET_REPO).stdout.strip() == "true"
    moved = isolated_env.read_bytes()
    third = bbtoken("setup")
    assert third.returncode == 0 and "nothing changed" in third.stderr, third.stderr
    assert isolated_env.read_bytes() == moved

    # --undo removes what setup wrote, wherever it now is; the other tool's lines stay
    assert bbtoken("setup", "--undo").returncode == 0
    assert isolated_env.read_text() == before + GCM_CONFIGURE


@pytest.mark.parametrize("system_helper", ["manager"], indirect=True)
def test_setup_leaves_a_section_with_the_users_lines_where_it_is_and_says_what_to_edit(
        system_helper: SystemHelper, isolated_env: Path) -> None:
    isolated_env.write_text('[credential "https://bitbucket.org"]\n\tusername = alice\n')
    assert bbtoken("setup").returncode == 0
    with isolated_env.open("a") as config:
        config.write(GCM_CONFIGURE)
    before = isolated_env.read_bytes()
    again = bbtoken("setup")
    assert again.returncode == 0, again.stderr
    said = " ".join(again.stderr.split())
    assert "does not run bbtoken" in said and f"edit {isolated_env}" in said, said
    assert isolated_env.read_bytes() == before  # the user's lines are not moved about


@pytest.mark.parametrize("global_lines", ["\thelper = {name}\n", "\thelper =\n\thelper = {name}\n"],
                         ids=["helper", "reset and helper"])
def test_system_setup_names_a_later_helper_it_cannot_cut(
        system_helper: SystemHelper, isolated_env: Path, global_lines: str) -> None:
    """GCM on Linux and macOS writes its `credential.helper` into the global config, which git
    reads after the system one: setup --system cannot cut it, and must say so."""
    name = system_helper.name
    isolated_env.write_text("[credential]\n" + global_lines.format(name=name))
    setup = bbtoken("setup", "--system")
    assert setup.returncode == 0, setup.stderr  # what was asked was written
    assert "only bbtoken" not in setup.stderr
    said = " ".join(setup.stderr.split())
    assert name in said and str(isolated_env) in said and "global config" in said
    assert "git credential-bbtoken setup --global" in said
    if "helper =\n" in global_lines:
        assert "does not run bbtoken" in said
        assert f"an empty `credential.helper` in {isolated_env} (global config)" in said
    else:
        assert f"also runs {name} after bbtoken" in said
    system_helper.clear()
    assert fill(BITBUCKET_REPO) == {}
    assert system_helper.calls() == [("get", "bitbucket.org")]  # what it said is true

    again = bbtoken("setup", "--system")  # nothing to write, still said
    assert again.returncode == 0 and str(isolated_env) in " ".join(again.stderr.split())

    fix = bbtoken("setup", "--global")  # the fix it named
    assert fix.returncode == 0, fix.stderr
    assert "git now uses only bbtoken" in fix.stderr
    system_helper.clear()
    assert fill(BITBUCKET_REPO) == {}
    assert system_helper.calls() == []
