"""The release as .github/workflows/release.yml makes it, and the CI that tests it.

`python -m build` turns a copy of this checkout into an sdist and a wheel (built from that sdist,
so a file the sdist lacks is missing from the wheel too) that `twine check --strict` accepts;
`pipx install` of the wheel in a fresh HOME gives a `git-credential-bbtoken` that runs from
pipx's bin folder, and that git finds as `git credential-bbtoken`. The wheel carries the manual
page (man/git-credential-bbtoken.1) to <prefix>/share/man/man1, where `man` finds it from PATH:
`git credential-bbtoken --help` is `git help credential-bbtoken`, which runs `man`. Where `man`
is missing those checks skip, or fail where BBTOKEN_REQUIRE_MAN=1 or BBTOKEN_REQUIRE_ALL=1 (CI).

build, twine and pipx are no dependency of the project: they come from PyPI into a throwaway
venv. Where they cannot be installed the tests skip, or fail where BBTOKEN_REQUIRE_PYPI=1 or
BBTOKEN_REQUIRE_ALL=1 (CI). Network: PyPI only (pip, and pipx fetching the runtime dependencies).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import platforms
import pytest
from rig.required import skip_or_fail

from git_credential_bbtoken import __version__
from git_credential_bbtoken.cli import PROTOCOL_ACTIONS
from git_credential_bbtoken.commands.dispatch import build_parser

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "git_credential_bbtoken"
NAME = "git-credential-bbtoken"
WORKFLOWS = ROOT / ".github" / "workflows"
SCRIPTS = "Scripts" if os.name == "nt" else "bin"
EXE = ".exe" if os.name == "nt" else ""
# Read before the tests isolate the environment: pip and pipx may need them to reach PyPI.
MAN_PAGE = ROOT / "man" / f"{NAME}.1"
MAN_DIR = "share/man/man1"  # below the install prefix (a venv, pipx's ~/.local)
PROXIES = {name: value for name, value in os.environ.items()
           if name.lower() in ("https_proxy", "http_proxy", "no_proxy", "all_proxy")}


def tool_env(**extra: str) -> dict[str, str]:
    """The (isolated) environment, without this venv on PATH or pipx settings of the caller."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("PIPX_") and name not in ("PYTHONPATH", "VIRTUAL_ENV")}
    venv_bin = Path(sys.executable).parent.resolve()
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and Path(p).resolve() != venv_bin)
    env.update(PROXIES, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", **extra)
    return env


def run(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 600,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], env=env or tool_env(), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd)


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a throwaway venv holding build, twine and pipx. (Module fixtures run
    before the per-test isolation: pip gets a cache folder of its own, not the caller's.)"""
    venv = tmp_path_factory.mktemp("release-tools") / "venv"
    made = run(sys.executable, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    python = venv / SCRIPTS / f"python{EXE}"
    installed = run(python, "-m", "pip", "install", "-q", "build", "twine", "pipx",
                    env=tool_env(PIP_CACHE_DIR=str(venv.parent / "pip-cache")))
    if installed.returncode != 0:
        skip_or_fail(f"cannot install build, twine and pipx from PyPI: "
                     f"{installed.stderr.strip()[-500:]}", "PYPI")
    return venv / SCRIPTS


@pytest.fixture(scope="module")
def dist(tools: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist and wheel of a copy of the checkout (a build writes into its source folder)."""
    work = tmp_path_factory.mktemp("release")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".*_cache"))
    built = run(tools / f"python{EXE}", "-m", "build", "--outdir", work / "dist", source,
                env=tool_env(PIP_CACHE_DIR=str(work / "pip-cache")))
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return work / "dist"


def package_files() -> set[str]:
    """What the checkout's package holds that an install must have."""
    return {path.relative_to(ROOT).as_posix() for path in (ROOT / PACKAGE).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}


def test_build_makes_an_sdist_and_a_wheel_that_twine_accepts(dist: Path, tools: Path) -> None:
    sdist = f"{PACKAGE}-{__version__}.tar.gz"
    wheel = f"{PACKAGE}-{__version__}-py3-none-any.whl"
    assert sorted(p.name for p in dist.iterdir()) == sorted([sdist, wheel])
    checked = run(tools / f"twine{EXE}", "check", "--strict", *sorted(dist.iterdir()))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2, checked.stdout


def test_the_distributions_hold_the_package_and_its_metadata(dist: Path) -> None:
    wanted = package_files()
    assert f"{PACKAGE}/__init__.py" in wanted and f"{PACKAGE}/py.typed" in wanted

    with zipfile.ZipFile(dist / f"{PACKAGE}-{__version__}-py3-none-any.whl") as wheel:
        names = set(wheel.namelist())
        info = f"{PACKAGE}-{__version__}.dist-info"
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        # installed below the prefix: <prefix>/share/man/man1
        page = wheel.read(f"{PACKAGE}-{__version__}.data/data/{MAN_DIR}/{NAME}.1")
    assert wanted <= names, sorted(wanted - names)
    assert f"{info}/licenses/LICENSE" in names
    assert page == MAN_PAGE.read_bytes()
    assert f"{NAME} = {PACKAGE}.cli:main" in entry_points
    for line in (f"Name: {NAME}", f"Version: {__version__}", "Requires-Python: >=3.9",
                 "License-Expression: MIT", "Description-Content-Type: text/markdown"):
        assert line in metadata.splitlines(), line
    # The README is the long description (PyPI's project page).
    assert "## Quick start" in metadata and f"pipx install {NAME}" in metadata

    top = f"{PACKAGE}-{__version__}"
    with tarfile.open(dist / f"{top}.tar.gz") as sdist:
        members = {name.partition("/")[2] for name in sdist.getnames()}
    assert {"pyproject.toml", "README.md", "LICENSE", "PKG-INFO", f"man/{NAME}.1"} <= members
    assert wanted <= members, sorted(wanted - members)


def test_pipx_installs_the_wheel_in_a_fresh_home(dist: Path, tools: Path, tmp_path: Path
                                                 ) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # pipx's own defaults (1.5 and newer), spelt out: never the caller's settings.
    pipx_bin = home / ".local" / "bin"
    pipx_man = home / ".local" / "share" / "man"
    env = tool_env(HOME=str(home), USERPROFILE=str(home), PIPX_HOME=str(tmp_path / "pipx"),
                   PIPX_BIN_DIR=str(pipx_bin), PIPX_MAN_DIR=str(pipx_man))
    wheel = dist / f"{PACKAGE}-{__version__}-py3-none-any.whl"
    installed = run(tools / f"pipx{EXE}", "install", wheel, env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    exe = pipx_bin / f"{NAME}{EXE}"
    shown = run(exe, "--version", env=env, timeout=60)
    assert (shown.returncode, shown.stdout.strip()) == (0, f"{NAME} {__version__}"), \
        shown.stderr
    # git finds it on PATH as a subcommand, as `credential.helper = bbtoken` needs.
    env["PATH"] = os.pathsep.join([str(pipx_bin), env["PATH"]])
    assert Path(shutil.which(NAME, path=env["PATH"]) or "").resolve() == exe.resolve()
    via_git = run("git", "credential-bbtoken", "--version", env=env, timeout=60)
    assert (via_git.returncode, via_git.stdout.strip()) == (0, f"{NAME} {__version__}"), \
        via_git.stderr
    # pipx links the manual page beside its bin folder, where man looks from PATH.
    linked = pipx_man / "man1" / f"{NAME}.1"
    assert linked.read_bytes() == MAN_PAGE.read_bytes()
    assert_git_help_shows_the_manual_page(env, linked)


# -- the manual page: `git credential-bbtoken --help` ----------------------------------------


def assert_git_help_shows_the_manual_page(env: dict[str, str], page: Path) -> None:
    """`git credential-bbtoken --help` with `env`'s PATH shows the manual page `page`."""
    if os.name == "nt":
        return  # git shows HTML help there (help.format), never man: nothing to check
    if shutil.which("man", path=env["PATH"]) is None:
        skip_or_fail("`git credential-bbtoken --help` runs man, which is not installed "
                     "(apt-get install man-db)", "MAN")
    # man's own search from PATH (<dir>/../share/man), not a MANPATH of the caller's.
    env = {name: value for name, value in env.items() if name != "MANPATH"}
    env.update(MANPAGER="cat", PAGER="cat", GIT_PAGER="cat", MANWIDTH="80", LC_ALL="C")
    found = run("man", "-w", NAME, env=env, timeout=60)
    assert found.returncode == 0, found.stdout + found.stderr
    assert Path(found.stdout.strip()).resolve() == page.resolve()

    shown = run("git", "credential-bbtoken", "--help", env=env, timeout=60)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    text = " ".join(shown.stdout.split())
    assert text.startswith("GIT-CREDENTIAL-BBTOKEN(1)"), shown.stdout[:500]
    assert "NAME git-credential-bbtoken - a git credential helper for Bitbucket API tokens " \
           "SYNOPSIS git credential-bbtoken (get | store | erase) " \
           "git credential-bbtoken login [URL]" in text, shown.stdout[:1500]


def test_git_help_shows_the_manual_page_of_the_wheel_installed_in_a_venv(
        dist: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    made = run(sys.executable, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    wheel = dist / f"{PACKAGE}-{__version__}-py3-none-any.whl"
    installed = run(venv / SCRIPTS / f"python{EXE}", "-m", "pip", "install", "--no-deps",
                    wheel)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    page = venv / MAN_DIR / f"{NAME}.1"
    assert page.read_bytes() == MAN_PAGE.read_bytes()

    env = tool_env()
    # Without the package on PATH git knows no such command (no other copy answers).
    assert shutil.which(NAME, path=env["PATH"]) is None
    env["PATH"] = os.pathsep.join([str(venv / SCRIPTS), env["PATH"]])
    assert_git_help_shows_the_manual_page(env, page)


def man_sections(text: str, macro: str) -> dict[str, str]:
    """The page's text by `.SH` or `.SS` heading, with roff's `\\-` as a plain `-`."""
    parts = re.split(rf"^\{macro} +(.+)$", text.replace("\\-", "-"), flags=re.M)
    return {name.strip('"'): body for name, body in zip(parts[1::2], parts[2::2])}


def test_the_manual_page_documents_every_command_and_option_of_the_parser() -> None:
    """Every command of the parser (and git's protocol actions) has its own `.SS` under
    COMMANDS, which names each of its options: the page cannot silently fall behind."""
    page = MAN_PAGE.read_text(encoding="utf-8")
    sections = man_sections(page, ".SH")
    assert list(sections)[:3] == ["NAME", "SYNOPSIS", "DESCRIPTION"]
    for heading in ("COMMANDS", "CONFIGURATION", "ENVIRONMENT", "EXIT STATUS", "SEE ALSO"):
        assert heading in sections, heading
    commands = man_sections(sections["COMMANDS"], ".SS")
    # SYNOPSIS: one usage per command, from its `git credential-bbtoken NAME` line to the next
    synopsis = dict(re.findall(r"^\\fBgit credential-bbtoken (\w+)\\fR(.*(?:\n .*)*)",
                               sections["SYNOPSIS"], re.M))

    subparsers = next(action for action in build_parser()._actions
                      if isinstance(action, argparse._SubParsersAction))
    wanted = list(PROTOCOL_ACTIONS) + list(subparsers.choices)
    assert sorted(commands) == sorted(wanted)
    for name, parser in subparsers.choices.items():
        options = {option for action in parser._actions for option in action.option_strings
                   if option.startswith("--") and option != "--help"}
        assert options, name
        usage = synopsis.get(name, "")
        assert usage, f"SYNOPSIS has no line for {name}"
        for option in sorted(options):
            mentioned = re.compile(rf"{re.escape(option)}\b(?!-)")
            assert mentioned.search(commands[name]), f"COMMANDS/{name} lacks {option}"
            assert mentioned.search(usage), f"SYNOPSIS of {name} lacks {option}"
    for variable in ("BBTOKEN_TOKEN", "BBTOKEN_USERNAME", "BBTOKEN_DEBUG"):
        assert variable in sections["ENVIRONMENT"], variable
    for key in ("bbtoken. <url> .kind", "bbtoken. <url> .apiUrl", "bbtoken.store"):
        assert key in sections["CONFIGURATION"], key
    assert "gitcredentials\\fR(7)" in sections["SEE ALSO"]
    assert "git-credential\\fR(1)" in sections["SEE ALSO"]


# -- the workflows ---------------------------------------------------------------------------


def workflow(name: str) -> str:
    return (WORKFLOWS / name).read_text(encoding="utf-8")


def test_ci_matrix_is_the_oldest_and_newest_supported_python_on_three_systems() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    floor = re.search(r'^requires-python = ">=(3\.\d+)"$', pyproject, re.M)
    classified = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject)
    assert floor and classified
    newest = max(classified, key=lambda v: int(v.split(".")[1]))
    assert min(classified, key=lambda v: int(v.split(".")[1])) == floor.group(1)

    ci = workflow("ci.yml")
    assert f'python: ["{floor.group(1)}", "{newest}"]' in ci
    assert "os: [ubuntu-latest, macos-latest, windows-latest]" in ci
    # Where the Linux rig is missing, the platform marks deselect: never a blanket skip.
    assert 'sh tests/run.sh -m "not linux_only"' in ci
    assert 'pytest.exe -m "not linux_only and not posix_only"' in ci
    assert "bash .ci/run" in ci


def test_workflows_pin_actions_and_grant_little() -> None:
    texts = {path.name: path.read_text(encoding="utf-8") for path in WORKFLOWS.glob("*.yml")}
    assert set(texts) == {"ci.yml", "release.yml"}
    for name, text in texts.items():
        for action in re.findall(r"uses:\s*(\S+)", text):
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), (name, action)
        assert "pull_request_target" not in text, name
        assert re.search(r"^permissions:\n  contents: read$", text, re.M), name
    assert "id-token" not in texts["ci.yml"]
    release = texts["release.yml"]
    # Only the publish job may mint an OIDC token, and only in the `pypi` environment.
    publish = release[release.index("\n  publish:"):]
    assert release.count("id-token: write") == 1 and "id-token: write" in publish
    assert "name: pypi" in publish and "pypa/gh-action-pypi-publish@" in publish
    assert "actions/checkout@" not in publish


# -- the platform marks (tests/platforms.py) -------------------------------------------------

PYTEST = Path(sys.executable).parent / f"pytest{EXE}"


def test_what_macos_runs_leaves_the_linux_rig_out_and_says_so() -> None:
    result = run(PYTEST, "--collect-only", "-q", "-p", "no:cacheprovider", "-m",
                 "not linux_only", "tests/test_install.py", "tests/test_setup.py", cwd=ROOT,
                 timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    selected = [line for line in result.stdout.splitlines() if "::" in line]
    assert "tests/test_setup.py::test_setup_twice_equals_once[https://bitbucket.org]" in selected
    assert not [line for line in selected if "test_install" in line]  # it reads the keyring
    assert f"not run on {sys.platform} (deselected by platform marks)" in result.stdout
    assert re.search(r"\d+  linux_only: needs the rig's gnome-keyring on a private D-Bus",
                     result.stdout)


def test_a_module_this_platform_cannot_import_is_one_failing_item_to_deselect(
        tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_elsewhere.py").write_text(
        "import os\n"
        "import pytest\n"
        "@pytest.mark.skipif(os.no_such_call() != 0, reason='like os.geteuid on Windows')\n"
        "def test_one():\n"
        "    os.not_looked_at_in_a_body()\n")
    env = tool_env(PYTHONPATH=str(ROOT / "tests"))
    ran = run(PYTEST, "-p", "platforms", "-p", "no:cacheprovider", tmp_path, cwd=tmp_path,
              env=env, timeout=120)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "1 failed" in ran.stdout
    assert f"test_elsewhere.py cannot be imported on {sys.platform}: it uses " \
           "os.no_such_call at import time" in ran.stdout
    assert "not_looked_at" not in ran.stdout

    deselected = run(PYTEST, "-p", "platforms", "-p", "no:cacheprovider", "-m",
                     "not posix_only", tmp_path, cwd=tmp_path, env=env, timeout=120)
    assert deselected.returncode == 5, deselected.stdout + deselected.stderr  # none left
    assert "1 deselected" in deselected.stdout
    assert "1  posix_only: uses os.no_such_call" in deselected.stdout


def test_posix_only_modules_are_found_where_windows_lacks_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: None
                        if name in ("fcntl", "pty", "termios") else real_find_spec(name, *rest))
    module = tmp_path / "test_x.py"
    module.write_text("import fcntl, json\n"
                      "from pty import openpty\n"
                      "def test_x():\n"
                      "    import termios\n")
    assert platforms.missing_at_import(module) == ["import fcntl", "import pty"]
