"""The helper under git's own external-helper battery, and our own equivalent of it.

`t/t0303-credential-external.sh` (from the git source tree that .ci/newer-git.sh builds) is
run unchanged. The table below replays the same checks through the system git (2.39 on
Debian 12), comparing git's stdout *and* stderr exactly: on these generic hosts the helper
must stay silent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ASKPASS = """#!/bin/sh
echo >&2 askpass: $*
what=$(echo $1 | cut -d" " -f1 | tr A-Z a-z | tr -cd a-z)
echo "askpass-$what"
"""


@pytest.fixture
def check(tmp_path: Path, secret_service: object):
    askpass = tmp_path / "askpass"
    askpass.write_text(ASKPASS)
    askpass.chmod(0o755)

    def run(action: str, stdin: str, stdout: str | None = None, stderr: str = "",
            git: str = "git", config: tuple[str, ...] = ()) -> None:
        env = dict(os.environ, GIT_ASKPASS=str(askpass))
        args = [git, "-c", "credential.helper=", "-c", "credential.helper=bbtoken"]
        for item in config:
            args += ["-c", item]
        result = subprocess.run([*args, "credential", action], input=_lines(stdin), env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        if stdout is not None:
            assert result.stdout == _lines(stdout)
        assert result.stderr == _lines(stderr)

    return run


def _lines(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines()]
    return "".join(f"{line}\n" for line in lines if line)


ASKED_EXAMPLE = """
askpass: Username for 'https://example.com':
askpass: Password for 'https://askpass-username@example.com':
"""
ASKED_EXAMPLE_ANSWER = """
protocol=https
host=example.com
username=askpass-username
password=askpass-password
"""


def test_no_existing_data(check) -> None:
    check("fill", "protocol=https\nhost=example.com", ASKED_EXAMPLE_ANSWER, ASKED_EXAMPLE)


def test_stores_and_retrieves(check) -> None:
    check("approve", "protocol=https\nhost=example.com\nusername=store-user\npassword=store-pass")
    check("fill", "protocol=https\nhost=example.com",
          "protocol=https\nhost=example.com\nusername=store-user\npassword=store-pass")
    # requires matching protocol, host and username
    check("fill", "protocol=http\nhost=example.com",
          "protocol=http\nhost=example.com\nusername=askpass-username\npassword=askpass-password",
          "askpass: Username for 'http://example.com':\n"
          "askpass: Password for 'http://askpass-username@example.com':")
    check("fill", "protocol=https\nhost=other.tld",
          "protocol=https\nhost=other.tld\nusername=askpass-username\npassword=askpass-password",
          "askpass: Username for 'https://other.tld':\n"
          "askpass: Password for 'https://askpass-username@other.tld':")
    check("fill", "protocol=https\nhost=example.com\nusername=other",
          "protocol=https\nhost=example.com\nusername=other\npassword=askpass-password",
          "askpass: Password for 'https://other@example.com':")


def test_requires_matching_path(check) -> None:
    usehttppath = ("credential.usehttppath=true",)
    check("approve", "protocol=http\nhost=path.tld\npath=foo.git\nusername=user\npassword=pass",
          config=usehttppath)
    check("fill", "protocol=http\nhost=path.tld\npath=bar.git",
          "protocol=http\nhost=path.tld\npath=bar.git\nusername=askpass-username\n"
          "password=askpass-password",
          "askpass: Username for 'http://path.tld/bar.git':\n"
          "askpass: Password for 'http://askpass-username@path.tld/bar.git':",
          config=usehttppath)


def test_overwrites_on_store_and_erases_only_the_rejected_password(check) -> None:
    for password in ("pass1", "pass2"):
        check("approve", f"protocol=https\nhost=example.com\nusername=u\npassword={password}")
    check("fill", "protocol=https\nhost=example.com\nusername=u",
          "protocol=https\nhost=example.com\nusername=u\npassword=pass2")
    check("reject", "protocol=https\nhost=example.com\nusername=u\npassword=pass1")
    check("fill", "protocol=https\nhost=example.com\nusername=u",
          "protocol=https\nhost=example.com\nusername=u\npassword=pass2")
    check("reject", "protocol=https\nhost=example.com\nusername=u\npassword=pass2")
    check("fill", "protocol=https\nhost=example.com\nusername=u",
          "protocol=https\nhost=example.com\nusername=u\npassword=askpass-password",
          "askpass: Password for 'https://u@example.com':")


def test_multiple_users_and_forgetting(check) -> None:
    check("approve", "protocol=https\nhost=example.com\nusername=user1\npassword=pass1")
    check("approve", "protocol=https\nhost=example.com\nusername=user2\npassword=pass2")
    for n in ("1", "2"):
        check("fill", f"protocol=https\nhost=example.com\nusername=user{n}",
              f"protocol=https\nhost=example.com\nusername=user{n}\npassword=pass{n}")
    check("reject", "protocol=https\nhost=example.com\nusername=user1")
    check("fill", "protocol=https\nhost=example.com\nusername=user1",
          "protocol=https\nhost=example.com\nusername=user1\npassword=askpass-password",
          "askpass: Password for 'https://user1@example.com':")
    check("fill", "protocol=https\nhost=example.com\nusername=user2",
          "protocol=https\nhost=example.com\nusername=user2\npassword=pass2")
    # forgetting a host forgets all of its users
    check("reject", "protocol=https\nhost=example.com")
    check("fill", "protocol=https\nhost=example.com", ASKED_EXAMPLE_ANSWER, ASKED_EXAMPLE)


def test_empty_username_and_password(check) -> None:
    check("approve", "protocol=https\nhost=sso.tld\nusername=\npassword=")
    check("fill", "protocol=https\nhost=sso.tld",
          "protocol=https\nhost=sso.tld\nusername=\npassword=")


def test_not_confused_by_long_header(check, newer_git: str) -> None:
    # git sends wwwauth[] to helpers from 2.41 on.
    git = str(Path(newer_git) / "git")
    check("approve",
          "protocol=https\nhost=victim.example.com\nusername=user\npassword=to-be-stolen",
          git=git)
    long_value = "a" * (1024 - 23)
    header = f"wwwauth[]=basic realm={long_value}host=victim.example.com"
    check("fill", f"protocol=https\nhost=badguy.example.com\n{header}",
          "protocol=https\nhost=badguy.example.com\nusername=askpass-username\n"
          f"password=askpass-password\n{header}",
          "askpass: Username for 'https://badguy.example.com':\n"
          "askpass: Password for 'https://askpass-username@badguy.example.com':", git=git)


def test_expiry_and_refresh_token_round_trip(check, newer_git: str) -> None:
    git = str(Path(newer_git) / "git")
    check("approve", "protocol=https\nhost=example.com\nusername=user-expiry\npassword=pass\n"
          "password_expiry_utc=9999999999\noauth_refresh_token=xyzzy", git=git)
    check("fill", "protocol=https\nhost=example.com\nusername=user-expiry",
          "protocol=https\nhost=example.com\nusername=user-expiry\npassword=pass\n"
          "oauth_refresh_token=xyzzy\npassword_expiry_utc=9999999999", git=git)
    # A new password with a new expiry replaces both; rejecting it forgets it.
    check("approve", "protocol=https\nhost=example.com\nusername=user-expiry\npassword=pass2\n"
          "password_expiry_utc=9999999998", git=git)
    check("fill", "protocol=https\nhost=example.com\nusername=user-expiry",
          "protocol=https\nhost=example.com\nusername=user-expiry\npassword=pass2\n"
          "password_expiry_utc=9999999998", git=git)
    check("reject", "protocol=https\nhost=example.com\nusername=user-expiry\npassword=pass2",
          git=git)
    check("fill", "protocol=https\nhost=example.com\nusername=user-expiry",
          "protocol=https\nhost=example.com\nusername=user-expiry\npassword=askpass-password",
          "askpass: Password for 'https://user-expiry@example.com':", git=git)


def test_gits_own_battery_passes_unchanged(newer_git: str, secret_service: object,
                                           tmp_path: Path) -> None:
    """t/t0303-credential-external.sh from git's source, with GIT_TEST_CREDENTIAL_HELPER."""
    tests_dir = Path(newer_git).parent / "src" / "t"
    script = tests_dir / "t0303-credential-external.sh"
    if not script.exists():
        pytest.fail(f"git's test battery is missing: {script} (run .ci/newer-git.sh)")
    env = dict(os.environ, GIT_TEST_CREDENTIAL_HELPER="bbtoken",
               # the battery's trash directory goes under our tmp folder
               TEST_OUTPUT_DIRECTORY=str(tmp_path))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    result = subprocess.run(["sh", script.name, "-v"], cwd=tests_dir, env=env,
                            capture_output=True, text=True, timeout=600)
    summary = [line for line in result.stdout.splitlines()
               if line.startswith(("ok ", "not ok", "# passed", "# failed"))]
    assert result.returncode == 0, "\n".join(summary) + result.stderr[-2000:]
    passed = [line for line in summary if line.startswith("ok ")]
    assert len(passed) >= 21, "\n".join(summary)
    assert not [line for line in summary if line.startswith("not ok")]


# git's lib-credential.sh has a battery for Bearer credentials (authtype + credential) that
# t0303 does not run. This runs it, unchanged, the way t0303 runs the others.
AUTHTYPE_BATTERY = """#!/bin/sh
test_description='external credential helper: authtype and credential (git 2.46+)'
. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-credential.sh
helper_test_clean "$GIT_TEST_CREDENTIAL_HELPER"
helper_test_authtype "$GIT_TEST_CREDENTIAL_HELPER"
helper_test_clean "$GIT_TEST_CREDENTIAL_HELPER"
test_done
"""


def test_gits_own_authtype_battery_passes_unchanged(newer_git: str, secret_service: object,
                                                    tmp_path: Path) -> None:
    tests_dir = Path(newer_git).parent / "src" / "t"
    if "helper_test_authtype" not in (tests_dir / "lib-credential.sh").read_text():
        pytest.fail(f"{tests_dir} has no helper_test_authtype: git older than 2.46?")
    script = tmp_path / "t0303-authtype.sh"
    script.write_text(AUTHTYPE_BATTERY)
    env = dict(os.environ, GIT_TEST_CREDENTIAL_HELPER="bbtoken",
               TEST_OUTPUT_DIRECTORY=str(tmp_path))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    result = subprocess.run(["sh", str(script), "-v"], cwd=tests_dir, env=env,
                            capture_output=True, text=True, timeout=600)
    summary = [line for line in result.stdout.splitlines()
               if line.startswith(("ok ", "not ok", "# passed", "# failed"))]
    assert result.returncode == 0, "\n".join(summary) + result.stdout[-3000:]
    assert len([line for line in summary if line.startswith("ok ")]) == 7, "\n".join(summary)
