"""Which git command started the helper: a push, or something that only reads.

git does not tell a helper why it wants a credential, and a 403 on push comes with no second
call. So before answering we look up the process tree: on Linux and macOS the chain is
`git credential-bbtoken get` <- (sh -c) <- `git-remote-https` <- `git remote-https` <-
`git push origin main`. Best effort: anything unreadable means "unknown", never an error.
"""

from __future__ import annotations

import os
import sys

PUSH = "push"
FETCH = "fetch"
UNKNOWN = "unknown"

# Not `remote-https`/`remote-http`: the transport serves both directions; its parent decides.
_READ_COMMANDS = {"fetch", "clone", "pull", "ls-remote", "submodule"}
# Git LFS runs as `git-lfs SUBCOMMAND` or `git lfs SUBCOMMAND`; its uploads are pushes (the
# pre-push hook runs under `git push`, but its credential request comes from git-lfs).
_LFS_PUSHES = {"push", "pre-push"}
_LFS_READS = {"fetch", "pull", "clone", "checkout", "smudge", "filter-process", "post-checkout",
              "post-merge"}
MAX_DEPTH = 8

# git's global options that take a value as the next argument: `git -C dir push` etc.
_OPTIONS_WITH_VALUE = {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path",
                       "--config-env", "--super-prefix"}


def detect() -> str:
    """PUSH, FETCH or UNKNOWN for the git command that asked for this credential.
    BBTOKEN_GIT_OPERATION (push|fetch) overrides, for wrappers that know better."""
    forced = os.environ.get("BBTOKEN_GIT_OPERATION", "").lower()
    if forced in (PUSH, FETCH):
        return forced
    try:
        for argv in _ancestors():
            operation = classify(argv)
            if operation != UNKNOWN:
                return operation
    except OSError:
        pass
    return UNKNOWN


def classify(argv: list[str]) -> str:
    """What one ancestor's command line says: `git push ...` -> PUSH; `git fetch`, `git clone`
    ... -> FETCH; anything else (a shell, `git-remote-https`) -> UNKNOWN, keep looking."""
    if not argv:
        return UNKNOWN
    program = argv[0].replace("\\", "/").rsplit("/", 1)[-1].lower()
    if program.endswith(".exe"):
        program = program[:-4]
    if program.startswith("git-") and program != "git-credential-bbtoken":
        subcommand, rest = program[4:], argv[1:]
    elif program == "git":
        at = _subcommand_at(argv, 1)
        subcommand, rest = (argv[at], argv[at + 1:]) if at >= 0 else ("", [])
    else:
        return UNKNOWN
    if subcommand == "lfs":
        at = _subcommand_at(rest, 0)
        lfs = rest[at] if at >= 0 else ""
        return PUSH if lfs in _LFS_PUSHES else FETCH if lfs in _LFS_READS else UNKNOWN
    if subcommand in ("push", "send-pack"):
        return PUSH
    if subcommand in _READ_COMMANDS:
        return FETCH
    return UNKNOWN


def _subcommand_at(args: list[str], start: int) -> int:
    """The index of the first word from `start` that is not an option (or an option's
    value), or -1."""
    skip = False
    for index in range(start, len(args)):
        arg = args[index]
        if skip:
            skip = False
            continue
        if arg in _OPTIONS_WITH_VALUE:
            skip = True
            continue
        if arg.startswith("-"):
            continue
        return index
    return -1


def _ancestors() -> list[list[str]]:
    """The command lines of this process's ancestors, nearest first. Linux reads /proc (no
    import at all: `get` runs this on a fetch); every other OS asks psutil, one code path for
    macOS, Windows and the BSDs (and the one the tests also run on Linux)."""
    if sys.platform.startswith("linux") and not _FORCE_PSUTIL:
        return _linux_ancestors()
    return _psutil_ancestors()


# Set by tests to run the psutil path where /proc exists.
_FORCE_PSUTIL = False


def _linux_ancestors() -> list[list[str]]:
    chain = []
    pid = os.getppid()
    for _ in range(MAX_DEPTH):
        if pid <= 1:
            break
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
        chain.append([part.decode("utf-8", "replace") for part in raw.split(b"\0") if part])
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        # The command name in parentheses may hold spaces: the fields after its last ')'.
        pid = int(stat[stat.rindex(b")") + 2:].split()[1])
    return chain


def _psutil_ancestors() -> list[list[str]]:
    try:
        import psutil  # type: ignore[import-untyped, unused-ignore]
    except ImportError:  # an install without it: push and fetch look alike ("unknown")
        return []
    chain = []
    try:
        process = psutil.Process().parent()
        for _ in range(MAX_DEPTH):
            if process is None or process.pid <= 1:
                break
            chain.append(process.cmdline())
            process = process.parent()
    except psutil.Error:  # gone, or not ours to read: what was read so far still counts
        pass
    return chain
