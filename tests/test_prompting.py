"""Asking a person for the token when nothing is stored, by git's own rules (contract §3):
through the askpass program git would use (GIT_ASKPASS, core.askPass, SSH_ASKPASS), in git's
own prompt wording (IDE dialogs parse it), with the guidance on stderr first; nobody when
`credential.interactive` is false, and never a hang when nobody can be asked.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from rig.askpass import Askpass
from rig.gitrun import HELPER_SCRIPT, format_record, parse_record, run_git
from rig.server import BitbucketServer

READ = "read:repository:bitbucket"
WRITE = "write:repository:bitbucket"
GOOD = "ATATT3xFfGF0-prompt-good-0123456789abcdefghijklmnopqrstuvwxyzA"
READ_ONLY = "ATATT3xFfGF0-prompt-read-only-0123456789abcdefghijklmnopqrstu"
TOKEN_PAGE = "https://id.atlassian.com/manage-profile/security/api-tokens"


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        stderr: Any = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    # start_new_session: no controlling terminal, as under an IDE; the timeout only stops a
    # hang, it measures nothing.
    return subprocess.run(list(args), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=stderr,
                          stdin=subprocess.DEVNULL, text=True, timeout=120,
                          start_new_session=True)


def listed() -> list[dict[str, Any]]:
    result = run("git", "credential-bbtoken", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)["credentials"]
    return rows


def env_with(**changes: str | None) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def helper_get(server: BitbucketServer, env: dict[str, str],
               command: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """`git-credential-bbtoken get` for the repository, as git would call it."""
    record = {"protocol": "https", "host": server.url.split("://")[1],
              "path": "acme/widgets.git"}
    return subprocess.run([*(command or [str(HELPER_SCRIPT)]), "get"],
                          input=format_record(record), env=env, capture_output=True,
                          text=True, timeout=120, start_new_session=True)


@pytest.fixture
def server(bitbucket: BitbucketServer, secret_service: object) -> BitbucketServer:
    bitbucket.add_user("alice", "alice@example.com", workspaces=["acme"])
    bitbucket.add_repo("acme/widgets")
    bitbucket.add_token(GOOD, "alice", scopes=[READ, WRITE])
    assert run("git", "credential-bbtoken", "setup", bitbucket.url).returncode == 0
    return bitbucket


def gits_own_prompts(server: BitbucketServer, askpass: Askpass, target: Path) -> list[str]:
    """What git itself asks when no helper is configured, for the same clone."""
    clone = run("git", "-c", "credential.helper=", "clone", f"{server.url}/acme/widgets.git",
                str(target), env=env_with(GIT_ASKPASS=askpass.path))
    assert clone.returncode == 0, clone.stderr
    prompts = askpass.prompts()
    askpass.log.unlink()
    return prompts


def test_helper_asks_in_gits_own_words_and_uses_the_answer(
        server: BitbucketServer, askpass: Askpass, tmp_path: Path) -> None:
    askpass.answer(username="alice", password=GOOD)
    expected = gits_own_prompts(server, askpass, tmp_path / "by-git")
    assert expected == [f"Username for '{server.url}/acme/widgets.git': ",
                        f"Password for '{server.url.replace('://', '://alice@')}"
                        "/acme/widgets.git': "]
    # git itself stored nothing anywhere (no helper): now the same clone through bbtoken
    assert listed() == []
    server.clear_log()
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"),
                env=env_with(GIT_ASKPASS=askpass.path))
    assert clone.returncode == 0, clone.stderr
    # asked by the helper (its guidance came first, and it probed the token before git's
    # own request), exactly as git asks; git, answered, asked nothing more
    assert askpass.prompts() == expected
    assert TOKEN_PAGE in clone.stderr
    assert any(r.query == "service=git-receive-pack" for r in server.requests)
    assert [(row["url"], row["username"]) for row in listed()] == [
        (f"{server.url}/acme", "alice")]
    assert "alice" in {r.username for r in server.requests if r.surface == "git"}
    # the answer is kept: the next clone asks nobody
    again = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w2"),
                env=env_with(GIT_ASKPASS=askpass.path))
    assert again.returncode == 0, again.stderr
    assert askpass.prompts() == expected


def helper_probes(server: BitbucketServer) -> list[str]:
    """The queries of the helper's own requests (git's carry git's User-Agent)."""
    return [r.query for r in server.requests if "git-credential-bbtoken" in r.agent]


def commit(work: Path) -> None:
    (work / "new.txt").write_text("change\n")
    for args in (["add", "new.txt"],
                 ["-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-m", "c"]):
        done = run("git", *args, cwd=work)
        assert done.returncode == 0, done.stderr


def test_what_the_prompted_clone_learnt_is_kept(server: BitbucketServer, askpass: Askpass,
                                                tmp_path: Path) -> None:
    """The typed token was probed for clone and push of the repository: that is kept for it
    (contract §3), so neither the next fetch nor the first push asks Bitbucket again."""
    askpass.answer(username="", password=GOOD)
    work = tmp_path / "w"
    server.clear_log()
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(work),
                env=env_with(GIT_ASKPASS=askpass.path))
    assert clone.returncode == 0, clone.stderr
    assert sorted(helper_probes(server)) == ["service=git-receive-pack",
                                             "service=git-upload-pack"]
    [row] = listed()
    widgets = row["repositories"]["acme/widgets"]
    assert (widgets["clone"], widgets["push"]) == (True, True)
    server.clear_log()
    fetched = run("git", "fetch", cwd=work)
    assert fetched.returncode == 0, fetched.stderr
    commit(work)
    pushed = run("git", "push", "origin", "HEAD:main", cwd=work)
    assert pushed.returncode == 0, pushed.stderr
    assert helper_probes(server) == [] and server.requests  # only git's own requests
    assert len(askpass.prompts()) == 2  # asked once, for the clone


def test_guidance_goes_to_stderr_before_the_prompt(server: BitbucketServer, askpass: Askpass,
                                                   tmp_path: Path) -> None:
    """An askpass wrapper copies what is on git's stderr at the moment it is asked."""
    stderr_file = tmp_path / "stderr.txt"
    seen = tmp_path / "seen-at-prompt.jsonl"
    wrapper = tmp_path / "askpass-wrapper"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import json, subprocess, sys\n"
        f"with open({str(seen)!r}, 'a') as out:\n"
        f"    out.write(json.dumps(open({str(stderr_file)!r}).read()) + '\\n')\n"
        f"sys.exit(subprocess.run([{askpass.path!r}, *sys.argv[1:]]).returncode)\n")
    wrapper.chmod(0o755)
    askpass.answer(username="", password=GOOD)
    with open(stderr_file, "w") as err:
        clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"),
                    env=env_with(GIT_ASKPASS=str(wrapper)), stderr=err)
    assert clone.returncode == 0, stderr_file.read_text()
    at_prompt = [json.loads(line) for line in seen.read_text().splitlines()]
    assert len(at_prompt) == 2
    first = at_prompt[0]
    assert TOKEN_PAGE in first
    assert READ in first
    assert "x-bitbucket-api-token-auth" in first
    assert askpass.prompts()[0] == f"Username for '{server.url}/acme/widgets.git': "
    # the token itself is never written to stderr
    assert GOOD not in stderr_file.read_text()
    # an empty username means the token's static one
    assert [row["username"] for row in listed()] == ["x-bitbucket-api-token-auth"]


def test_core_askpass_is_honoured(server: BitbucketServer, askpass: Askpass,
                                  tmp_path: Path) -> None:
    assert run_git("config", "--global", "core.askPass", askpass.path).returncode == 0
    askpass.answer(username="alice", password=GOOD)
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"),
                env=env_with(GIT_ASKPASS=None, SSH_ASKPASS=None))
    assert clone.returncode == 0, clone.stderr
    assert askpass.prompts()[0] == f"Username for '{server.url}/acme/widgets.git': "
    assert len(askpass.prompts()) == 2
    assert TOKEN_PAGE in clone.stderr  # the helper asked, not git after it
    assert len(listed()) == 1


def test_ssh_askpass_is_honoured(server: BitbucketServer, askpass: Askpass,
                                 tmp_path: Path) -> None:
    askpass.answer(username="alice", password=GOOD)
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"),
                env=env_with(GIT_ASKPASS=None, SSH_ASKPASS=askpass.path))
    assert clone.returncode == 0, clone.stderr
    assert len(askpass.prompts()) == 2
    assert TOKEN_PAGE in clone.stderr  # the helper asked, not git after it
    assert len(listed()) == 1


def test_askpass_is_used_even_with_terminal_prompts_off(server: BitbucketServer,
                                                        askpass: Askpass) -> None:
    askpass.answer(username="alice", password=GOOD)
    result = helper_get(server, env_with(GIT_ASKPASS=askpass.path, GIT_TERMINAL_PROMPT="0"))
    assert result.returncode == 0, result.stderr
    answer = dict(parse_record(result.stdout))
    assert answer == {"username": "alice", "password": GOOD}
    assert len(askpass.prompts()) == 2


@pytest.mark.parametrize("terminal_prompt", ["0", None])
def test_nobody_to_ask_returns_without_prompting(server: BitbucketServer, askpass: Askpass,
                                                 tmp_path: Path,
                                                 terminal_prompt: str | None) -> None:
    """No askpass anywhere, and terminal prompts off (or no terminal at all): the helper
    answers nothing, git fails as it always has, and nothing waits for a person."""
    askpass.answer(username="alice", password=GOOD)  # configured nowhere: must stay unused
    env = env_with(GIT_ASKPASS=None, SSH_ASKPASS=None, GIT_TERMINAL_PROMPT=terminal_prompt)
    helper = helper_get(server, env)
    assert helper.returncode == 0
    assert helper.stdout == ""
    assert "Username for" not in helper.stderr and "Password for" not in helper.stderr
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"),
                env=env)
    assert clone.returncode == 128
    # The helper's one line, then git's own failure to ask (its reason depends on why).
    url = f"{server.url}/acme/widgets"
    said = clone.stderr.splitlines()[1:]
    assert said[0] == (f"bbtoken: no token is stored for {url}; "
                       f"run: git credential-bbtoken login {url}")
    assert len(said) == 2 and said[1].startswith(f"fatal: could not read Username for '{url}")
    assert askpass.prompts() == []
    assert listed() == []
    assert [r.username for r in server.requests] == [None]  # no credential was ever sent


QUIT = "fatal: credential helper 'bbtoken' told us to quit"


def test_git_itself_stops_when_its_askpass_dialog_is_cancelled(server: BitbucketServer,
                                                               askpass: Askpass,
                                                               tmp_path: Path) -> None:
    """What the helper's cancel follows: git asks once and stops (prompt.c: a failed askpass,
    and no terminal to fall back to, is "could not read Username")."""
    askpass.answer(username=None, password=None)
    clone = run("git", "-c", "credential.helper=", "clone", f"{server.url}/acme/widgets.git",
                str(tmp_path / "w"), env=env_with(GIT_ASKPASS=askpass.path))
    assert clone.returncode == 128
    assert f"fatal: could not read Username for '{server.url}" in clone.stderr
    assert len(askpass.prompts()) == 1


@pytest.mark.parametrize(("username", "password", "asked"), [
    (None, None, ["Username"]),  # the username dialog cancelled
    ("alice", None, ["Username", "Password"]),  # the token dialog cancelled
    ("alice", "", ["Username", "Password"]),  # OK pressed with no token in it
])
def test_a_cancelled_prompt_stops_git_without_asking_again(
        server: BitbucketServer, askpass: Askpass, tmp_path: Path, username: str | None,
        password: str | None, asked: list[str]) -> None:
    """A cancel ends it, as with git's own dialog: the helper answers quit=1 with one short
    line, and git does not show the same question again."""
    askpass.answer(username=username, password=password)
    server.clear_log()
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"),
                env=env_with(GIT_ASKPASS=askpass.path))
    assert clone.returncode == 128
    assert [prompt.split(" ")[0] for prompt in askpass.prompts()] == asked
    url = f"{server.url}/acme/widgets"
    assert clone.stderr.splitlines()[-2:] == [f"bbtoken: no token given for {url}: cancelled",
                                              QUIT], clone.stderr
    assert clone.stderr.count("no token given") == 1
    assert "could not read" not in clone.stderr
    assert listed() == []
    assert [r.username for r in server.requests] == [None]  # no credential was ever sent


def test_without_a_keyring_git_asks_and_store_says_how_to_get_one(
        server: BitbucketServer, askpass: Askpass, no_keyring: None, tmp_path: Path) -> None:
    """The helper stays silent (no guidance, no prompt, no probe): git asks the person, and
    its `store` afterwards says in one line what to do."""
    askpass.answer(username="alice", password=GOOD)
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"),
                env=env_with(GIT_ASKPASS=askpass.path))
    assert clone.returncode == 0, clone.stderr
    assert TOKEN_PAGE not in clone.stderr
    said = [line for line in clone.stderr.splitlines() if line.startswith("bbtoken:")]
    assert len(said) == 1 and "no keyring is available" in said[0], clone.stderr
    assert "bbtoken.store file" in said[0] and "BBTOKEN_TOKEN" in said[0]
    assert len(askpass.prompts()) == 2  # git's own, asked once
    assert not any("git-credential-bbtoken" in r.agent for r in server.requests)
    assert listed() == []


def test_the_file_store_is_offered_a_token_without_a_keyring(
        server: BitbucketServer, askpass: Askpass, no_keyring: None, tmp_path: Path) -> None:
    assert run_git("config", "--global", "bbtoken.store", "file").returncode == 0
    askpass.answer(username="alice", password=GOOD)
    clone = run("git", "clone", f"{server.url}/acme/widgets.git", str(tmp_path / "w"),
                env=env_with(GIT_ASKPASS=askpass.path))
    assert clone.returncode == 0, clone.stderr
    assert TOKEN_PAGE in clone.stderr  # the helper asked, and kept the token in the file
    [row] = listed()
    assert (row["url"], row["username"]) == (f"{server.url}/acme", "alice")
    assert row["backend"].startswith("file")


def clone_with_a_commit(server: BitbucketServer, token: str, work: Path) -> None:
    """A clone made with BBTOKEN_TOKEN (so nothing is stored) and one commit to push."""
    cloned = run("git", "clone", f"{server.url}/acme/widgets.git", str(work),
                 env=env_with(BBTOKEN_TOKEN=token))
    assert cloned.returncode == 0, cloned.stderr
    commit(work)


@pytest.mark.parametrize("cause", ["scope", "permission"])
def test_a_typed_token_that_cannot_push_is_explained_before_git_quits(
        server: BitbucketServer, askpass: Askpass, tmp_path: Path, cause: str) -> None:
    """Never quit without saying why: the push refusal is the whole reason here, though
    `login` counts it a warning (such a token still clones)."""
    if cause == "scope":
        server.add_token(READ_ONLY, "alice", scopes=[READ])
        token = READ_ONLY
    else:  # the token may push; the account may only read the repository
        server.set_permission("alice", "acme/widgets", "read")
        token = GOOD
    work = tmp_path / "w"
    clone_with_a_commit(server, token, work)
    askpass.answer(username="", password=token)
    pushed = run("git", "push", "origin", "HEAD:main", cwd=work,
                 env=env_with(GIT_ASKPASS=askpass.path))
    assert pushed.returncode != 0
    said = pushed.stderr
    url = f"{server.url}/acme/widgets"
    why = (f"The token cannot push to {url}: it lacks {WRITE}" if cause == "scope"
           else "workspace admin")
    quit_line = "fatal: credential helper 'bbtoken' told us to quit"
    assert why in said and quit_line in said, said
    # the guidance (before the prompt), then the reason, then git's quit
    assert said.index(TOKEN_PAGE) < said.index(why) < said.index(quit_line)
    if cause == "scope":
        fix = said[said.index(why):said.index(quit_line)]
        assert TOKEN_PAGE in fix and f"git credential-bbtoken login {url}" in fix
    assert "The requested URL returned error" not in pushed.stderr
    assert len(askpass.prompts()) == 2  # the helper's; git asked nothing after the quit
    assert listed() == []
    assert token not in pushed.stderr


def test_credential_interactive_false_prevents_asking(server: BitbucketServer,
                                                      askpass: Askpass, newer_git: str,
                                                      tmp_path: Path) -> None:
    askpass.answer(username="alice", password=GOOD)
    env = env_with(GIT_ASKPASS=askpass.path)
    # the helper alone (any git passes -c down to it)
    helper = helper_get(server, env, ["git", "-c", "credential.interactive=false",
                                      "credential-bbtoken"])
    assert helper.returncode == 0
    assert helper.stdout == ""
    assert askpass.prompts() == []
    # and a git that knows the setting (2.46+) asks nobody either: the clone just fails
    clone = run(str(Path(newer_git) / "git"), "-c", "credential.interactive=false", "clone",
                f"{server.url}/acme/widgets.git", str(tmp_path / "w"), env=env)
    assert clone.returncode != 0
    assert askpass.prompts() == []
    assert listed() == []


def test_askpass_path_with_a_space_is_run_as_git_runs_it(server: BitbucketServer,
                                                         askpass: Askpass,
                                                         tmp_path: Path) -> None:
    folder = tmp_path / "Visual Studio Code.app" / "askpass"
    folder.mkdir(parents=True)
    program = folder / "askpass.sh"
    shutil.copy2(askpass.path, program)
    askpass.answer(username="alice", password=GOOD)
    # git itself runs it (no helper configured)
    by_git = run_git("-c", "credential.helper=", "credential", "fill",
                     input=f"url={server.url}/acme/widgets.git\n\n",
                     env={"GIT_ASKPASS": str(program)})
    assert f"password={GOOD}" in by_git.stdout.splitlines()
    askpass.log.unlink()
    result = helper_get(server, env_with(GIT_ASKPASS=str(program)))
    assert dict(parse_record(result.stdout)) == {"username": "alice", "password": GOOD}
    assert len(askpass.prompts()) == 2


def run_with_terminal(argv: list[str], stdin_text: str, env: dict[str, str],
                      answers: list[tuple[str, str]]) -> tuple[str, str, str]:
    """Run with a pseudo-terminal as controlling terminal (as in a shell): type each answer
    when its prompt shows on the terminal. Returns (stdout, stderr, what the terminal showed).
    The loop's limit only stops a hang; nothing is timed."""
    master, slave = pty.openpty()

    def become_session_leader() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True, pass_fds=(slave,),
                            preexec_fn=become_session_leader)
    os.close(slave)
    assert proc.stdin is not None
    proc.stdin.write(stdin_text)
    proc.stdin.close()
    proc.stdin = None
    shown, pending = b"", list(answers)
    give_up = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < give_up:
        if select.select([master], [], [], 0.1)[0]:
            try:
                shown += os.read(master, 4096)
            except OSError:
                break
            if pending and shown.endswith(pending[0][0].encode()):
                os.write(master, pending.pop(0)[1].encode() + b"\n")
    if proc.poll() is None:
        proc.kill()
    out, err = proc.communicate()
    os.close(master)
    return out, err, shown.decode(errors="replace")


def repo_record(server: BitbucketServer, username: str | None = None) -> str:
    record = {"protocol": "https", "host": server.url.split("://")[1],
              "path": "acme/widgets.git"}
    if username is not None:
        record["username"] = username
    return format_record(record)


def test_terminal_prompt_for_the_token_when_allowed(server: BitbucketServer) -> None:
    """git already has the username (from the remote URL): only the token is asked."""
    where = f"{server.url.replace('://', '://alice@')}/acme/widgets.git"
    out, err, shown = run_with_terminal(
        [str(HELPER_SCRIPT), "get"], repo_record(server, "alice"),
        env_with(GIT_ASKPASS=None, SSH_ASKPASS=None, GIT_TERMINAL_PROMPT="1"),
        [(f"Password for '{where}': ", GOOD)])
    assert dict(parse_record(out)) == {"username": "alice", "password": GOOD}, err + shown
    assert TOKEN_PAGE in err
    assert GOOD not in shown  # typed without echo


def test_terminal_prompt_for_username_and_token(server: BitbucketServer) -> None:
    where = f"{server.url}/acme/widgets.git"
    out, err, shown = run_with_terminal(
        [str(HELPER_SCRIPT), "get"], repo_record(server),
        env_with(GIT_ASKPASS=None, SSH_ASKPASS=None, GIT_TERMINAL_PROMPT="1"),
        [(f"Username for '{where}': ", "alice"),
         (f"Password for '{where.replace('://', '://alice@')}': ", GOOD)])
    assert "internal error" not in err
    assert dict(parse_record(out)) == {"username": "alice", "password": GOOD}, err + shown


@pytest.mark.parametrize("value", [
    "0", "false",
    "off",
    "no",
])
def test_terminal_prompts_off_by_any_of_gits_spellings(server: BitbucketServer,
                                                       value: str) -> None:
    where = f"{server.url.replace('://', '://alice@')}/acme/widgets.git"
    out, err, shown = run_with_terminal(
        [str(HELPER_SCRIPT), "get"], repo_record(server, "alice"),
        env_with(GIT_ASKPASS=None, SSH_ASKPASS=None, GIT_TERMINAL_PROMPT=value),
        [(f"Password for '{where}': ", GOOD)])
    assert out == ""
    assert shown == ""  # nothing was asked on the terminal


@pytest.mark.parametrize("typed", ["", "\x04"], ids=["enter", "end-of-input"])
def test_terminal_prompt_left_empty_stops_git(server: BitbucketServer, typed: str) -> None:
    """As at the askpass dialog: no token (Enter alone, or Ctrl-D) ends it with quit=1."""
    where = f"{server.url.replace('://', '://alice@')}/acme/widgets.git"
    out, err, shown = run_with_terminal(
        [str(HELPER_SCRIPT), "get"], repo_record(server, "alice"),
        env_with(GIT_ASKPASS=None, SSH_ASKPASS=None, GIT_TERMINAL_PROMPT="1"),
        [(f"Password for '{where}': ", typed)])
    assert f"Password for '{where}': " in shown
    assert dict(parse_record(out)) == {"quit": "1"}, err + shown
    assert err.splitlines()[-1] == (f"bbtoken: no token given for {server.url}/acme/widgets: "
                                    "cancelled"), err
    assert listed() == []


def test_end_of_input_at_the_username_prompt_stops_git(server: BitbucketServer) -> None:
    """Ctrl-D at the terminal's username prompt cancels, as at the token prompt: it is not an
    empty line (which would mean x-bitbucket-api-token-auth) and no token is asked."""
    where = f"{server.url}/acme/widgets.git"
    out, err, shown = run_with_terminal(
        [str(HELPER_SCRIPT), "get"], repo_record(server),
        env_with(GIT_ASKPASS=None, SSH_ASKPASS=None, GIT_TERMINAL_PROMPT="1"),
        [(f"Username for '{where}': ", "\x04")])
    assert "Password for" not in shown, shown
    assert dict(parse_record(out)) == {"quit": "1"}, err + shown
    assert err.splitlines()[-1] == (f"bbtoken: no token given for {server.url}/acme/widgets: "
                                    "cancelled"), err
    assert listed() == []
