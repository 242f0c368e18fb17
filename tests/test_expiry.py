"""Known expiry dates: `get` warns once a day in the last week, and stops serving after."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

import pytest

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
    assert result.stdout == ""
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
