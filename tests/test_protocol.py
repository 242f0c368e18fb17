"""git's record format: parsing and answering (pure, table-driven)."""

from __future__ import annotations

import pytest

from git_credential_bbtoken.protocol import (
    MAX_INPUT_BYTES,
    Credential,
    ProtocolError,
    format_answer,
    read_record,
    split_url,
)


def test_reads_every_documented_attribute() -> None:
    record = read_record(
        b"capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=bitbucket.org:8443\n"
        b"path=ws/repo.git\nusername=alice\npassword=s3cret=with=equals\n"
        b"password_expiry_utc=1700000000\noauth_refresh_token=refresh\n"
        b"wwwauth[]=Basic realm=\"Bitbucket.org HTTP\"\nwwwauth[]=Bearer\n"
        b"authtype=Bearer\ncredential=cred\nephemeral=1\nstate[]=bbtoken:x\ncontinue=1\n"
    )
    assert record.protocol == "https"
    assert record.host == "bitbucket.org:8443"
    assert record.path == "ws/repo.git"
    assert record.username == "alice"
    assert record.password == "s3cret=with=equals"
    assert record.password_expiry_utc == 1700000000
    assert record.oauth_refresh_token == "refresh"
    assert record.wwwauth == ['Basic realm="Bitbucket.org HTTP"', "Bearer"]
    assert record.capabilities == ["authtype", "state"]
    assert (record.authtype, record.credential) == ("Bearer", "cred")
    assert record.ephemeral and record.continue_
    assert record.state == ["bbtoken:x"]


@pytest.mark.parametrize("data", [
    b"",
    b"\n",
    b"protocol=https\n\nhost=ignored-after-blank-line\n",
    b"future_key=whatever\nprotocol=https\n",
    b"protocol=https",  # no final newline
])
def test_tolerated_inputs(data: bytes) -> None:
    record = read_record(data)
    assert record.host is None
    assert record.protocol in (None, "https")


def test_empty_list_value_clears_the_list() -> None:
    record = read_record(b"wwwauth[]=a\nwwwauth[]=b\nwwwauth[]=\nwwwauth[]=c\n")
    assert record.wwwauth == ["c"]


def test_url_resets_what_came_before_and_splits_into_parts() -> None:
    record = read_record(b"host=evil.example\nusername=x\n"
                         b"url=https://bob:pw%40x@bitbucket.org:8443/ws/repo.git/\n")
    assert (record.protocol, record.host, record.path) == ("https", "bitbucket.org:8443",
                                                           "ws/repo.git")
    assert (record.username, record.password) == ("bob", "pw@x")


def test_later_keys_override_url() -> None:
    record = read_record(b"url=https://bitbucket.org/ws\nhost=other.example\n")
    assert record.host == "other.example"
    assert record.path == "ws"


@pytest.mark.parametrize("data, reason", [
    (b"protocol=https\nhost=a\rb\n", "carriage return"),
    (b"protocol=https\r\nhost=x\n", "carriage return"),
    (b"protocol=https\nhost=a\0b\n", "NUL"),
    (b"protocol=https\njust-a-secret-typed-here\n", "no '='"),
    (b"protocol=https\nhost=\xff\xfe\n", "UTF-8"),
    (b"url=no-protocol-here\n", "no protocol"),
    (b"a=" + b"x" * MAX_INPUT_BYTES, "1 MiB"),
])
def test_refused_inputs(data: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        read_record(data)


def test_refusal_never_echoes_the_line() -> None:
    with pytest.raises(ProtocolError) as caught:
        read_record(b"protocol=https\nATATTsupersecret\n")
    assert "supersecret" not in str(caught.value)


def test_expiry_that_is_not_a_number_is_ignored() -> None:
    assert read_record(b"password_expiry_utc=soon\n").password_expiry_utc is None


@pytest.mark.parametrize("pairs", [
    [("password", "a\nhost=evil")],
    [("password", "a\rb")],
    [("username", "a\0")],
])
def test_answer_never_carries_a_line_break(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(ProtocolError):
        format_answer(pairs)


def test_answer_format() -> None:
    assert format_answer([("username", "u"), ("password", "p=q")]) == b"username=u\npassword=p=q\n"


def test_repr_hides_secrets() -> None:
    text = repr(Credential(host="h", password="topsecret", oauth_refresh_token="refreshsecret",
                           credential="bearersecret"))
    assert "topsecret" not in text and "refreshsecret" not in text
    assert "bearersecret" not in text and "'h'" in text


@pytest.mark.parametrize("url, expected", [
    ("bitbucket.org", ("https", "bitbucket.org", "")),
    ("https://bitbucket.org", ("https", "bitbucket.org", "")),
    ("https://Bitbucket.org/ws/", ("https", "bitbucket.org", "ws")),
    ("https://bitbucket.org/ws/repo.git", ("https", "bitbucket.org", "ws/repo.git")),
    ("https://127.0.0.1:8443/ws", ("https", "127.0.0.1:8443", "ws")),
    ("https://[::1]:8443/ws", ("https", "[::1]:8443", "ws")),
])
def test_split_url(url: str, expected: tuple[str, str, str]) -> None:
    assert split_url(url) == expected


@pytest.mark.parametrize("url", [
    "https://bitbucket.org:abc/ws", "https://bitbucket.org:99999/ws", "https://bitbucket.org:/ws",
    "https://[::1", "https://", "not a url", "https://bitbucket.org/my ws", "bit bucket.org",
    "https://bitbucket.org\t/ws", "https://bücket.org/ws",
])
def test_split_url_refuses_what_is_not_a_url(url: str) -> None:
    """The one host grammar (common.parse_host), and no spaces: a ProtocolError, never a
    ValueError from urllib."""
    with pytest.raises(ProtocolError, match="^not a URL"):
        split_url(url)


def test_split_url_refuses_embedded_credentials() -> None:
    with pytest.raises(ProtocolError):
        split_url("https://alice:token@bitbucket.org/ws")
