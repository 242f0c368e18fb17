"""Telling a push from a fetch by the command lines above the helper."""

from __future__ import annotations

import pytest

from git_credential_bbtoken.gitcommand import FETCH, PUSH, UNKNOWN, classify, detect


@pytest.mark.parametrize("argv, expected", [
    (["git", "push", "origin", "main"], PUSH),
    (["/usr/bin/git", "-C", "repo", "-c", "x=y", "push"], PUSH),
    (["git", "--git-dir", "push", "fetch"], FETCH),  # "push" is the value of --git-dir
    (["git-send-pack", "--stateless-rpc"], PUSH),
    (["git", "fetch", "--all"], FETCH),
    (["git", "clone", "https://bitbucket.org/ws/repo.git"], FETCH),
    (["git", "ls-remote", "origin"], FETCH),
    (["C:\\Program Files\\Git\\mingw64\\bin\\git.exe", "push"], PUSH),
    (["git", "remote-https", "origin", "https://bitbucket.org/ws/r.git"], UNKNOWN),
    (["git-remote-https", "origin", "https://bitbucket.org/ws/r.git"], UNKNOWN),
    (["/bin/sh", "-c", "git credential-bbtoken get"], UNKNOWN),
    (["git", "credential-bbtoken", "get"], UNKNOWN),
    ([], UNKNOWN),
])
def test_classify(argv: list[str], expected: str) -> None:
    assert classify(argv) == expected


def test_override_for_wrappers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BBTOKEN_GIT_OPERATION", "push")
    assert detect() == PUSH


def test_detect_reads_the_real_process_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest was not started by git: nothing above us says push or fetch.
    monkeypatch.delenv("BBTOKEN_GIT_OPERATION", raising=False)
    assert detect() == UNKNOWN
