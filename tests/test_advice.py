"""What `get` decides before serving a stored Bitbucket token (`advice.Decision`), and how
`helper.get` carries it out: in-process, with the real git config and the file store."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from git_credential_bbtoken import access, advice, console, helper, knowledge, newtoken
from git_credential_bbtoken.checks.answers import RECEIVE_PACK, Outcome, ProbeResult
from git_credential_bbtoken.context import Request, make_request
from git_credential_bbtoken.protocol import Credential, read_record
from git_credential_bbtoken.storage.store import CredentialStore, Entry

TOKEN = "ATATT3x-advice-token-" + "k" * 30  # noqa: S105 - fake
R = "read:repository:bitbucket"
W = "write:repository:bitbucket"
DAY = 86400


@pytest.fixture(autouse=True)
def file_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("BBTOKEN_DATA_DIR", str(tmp_path))
    subprocess.run(["git", "config", "--global", "bbtoken.https://bitbucket.org.store", "file"],
                   check=True)
    return tmp_path


def request() -> Request:
    made = make_request(Credential(protocol="https", host="bitbucket.org", path="ws/repo.git"))
    assert made is not None and made.config.kind == "cloud"
    return made


def entry(username: str = "x-bitbucket-api-token-auth", path: str = "ws",
          **fields: object) -> Entry:
    return Entry(protocol="https", host="bitbucket.org", path=path, username=username,
                 backend="file", kind="cloud", **fields)


def today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


def test_expired_token_is_to_be_renewed_with_the_expired_text() -> None:
    decision = advice.before_answer(entry(expiry=1_000_000_000), TOKEN, request())
    assert decision.action == advice.RENEW
    assert decision.warned_on is None
    [text] = decision.texts()
    assert text.startswith("The token for https://bitbucket.org/ws expired on 2001-09-09;")
    assert "git credential-bbtoken login https://bitbucket.org/ws" in text


@pytest.mark.parametrize(("operation", "action"), [("push", advice.QUIT),
                                                   ("fetch", advice.ANSWER)])
def test_known_push_failure_quits_a_push_only(monkeypatch: pytest.MonkeyPatch, operation: str,
                                              action: str) -> None:
    monkeypatch.setenv("BBTOKEN_GIT_OPERATION", operation)
    decision = advice.before_answer(entry(validation={"scopes": [R], "can_clone": True}),
                                    TOKEN, request())
    assert decision.action == action
    texts = decision.texts()
    if action == advice.QUIT:
        assert len(texts) == 1
        assert texts[0].startswith("The token cannot push to https://bitbucket.org/ws/repo: "
                                   f"it lacks {W} (403).")
    else:
        assert texts == []


def test_token_that_cannot_clone_quits_even_a_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BBTOKEN_GIT_OPERATION", "fetch")
    decision = advice.before_answer(entry(validation={"scopes": [W]}), TOKEN, request())
    assert decision.action == advice.QUIT
    assert f"it lacks {R} (403)" in decision.texts()[0]


def test_expiry_warning_is_a_note_and_a_day_to_record() -> None:
    soon = entry(expiry=int(time.time()) + 3 * DAY)
    decision = advice.before_answer(soon, TOKEN, request())
    assert (decision.action, decision.warned_on) == (advice.ANSWER, today())
    [line] = decision.texts()
    assert "expires in 3 days" in line and "\n" not in line
    assert line.endswith("Renew it: create a new token, then run: "
                         "git credential-bbtoken rotate https://bitbucket.org/ws")
    soon.expiry_warned_on = today()
    again = advice.before_answer(soon, TOKEN, request())
    assert (again.action, again.notes, again.warned_on) == (advice.ANSWER, (), None)


def test_expiry_warning_comes_before_the_reason_to_quit(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setenv("BBTOKEN_GIT_OPERATION", "push")
    # A login for this very repository probed it: its verdict holds for it.
    decision = advice.before_answer(
        entry(path="ws/repo", expiry=int(time.time()) + 2 * DAY,
              validation={"can_clone": True, "can_push": False}),
        TOKEN, request())
    assert (decision.action, decision.warned_on) == (advice.QUIT, today())
    first, second = decision.texts()
    assert "expires in 2 days" in first and "cannot push" in second


def test_app_password_in_an_old_entry_quits() -> None:
    decision = advice.before_answer(entry(username="alice"), "ABCDEFGHabcdefgh1234", request())
    assert decision.action == advice.QUIT
    assert decision.texts()[0].startswith("the secret stored for https://bitbucket.org/ws "
                                          "(alice) looks like an app password;")


# -- carried out by helper.get ----------------------------------------------------------------


def get(record: str) -> tuple[str, str]:
    out, err = io.BytesIO(), io.StringIO()
    status = helper.get(read_record(record.encode()),
                        console.Io(stdin=io.BytesIO(), stdout=out, stderr=err))
    assert status == 0
    return out.getvalue().decode(), err.getvalue()


RECORD = "protocol=https\nhost=bitbucket.org\npath=ws/repo.git\n\n"


def test_get_says_the_warning_once_and_records_it() -> None:
    store = CredentialStore(lambda text: None)
    store.put(entry(expiry=int(time.time()) + 3 * DAY), TOKEN)
    out, err = get(RECORD)
    assert f"password={TOKEN}\n" in out
    assert err.startswith("bbtoken: The token for https://bitbucket.org/ws expires in 3 days")
    assert err.count("\n") == 1
    assert [e.expiry_warned_on for e in store.entries()] == [today()]
    out, err = get(RECORD)
    assert f"password={TOKEN}\n" in out and err == ""


def test_get_quits_a_push_that_must_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BBTOKEN_GIT_OPERATION", "push")
    CredentialStore(lambda text: None).put(entry(validation={"scopes": [R]}), TOKEN)
    out, err = get(RECORD)
    assert out == "quit=1\n"
    assert err.startswith("bbtoken: The token cannot push to https://bitbucket.org/ws/repo")
    assert all(line.startswith("bbtoken: ") for line in err.splitlines())
    assert TOKEN not in err


# -- nothing stored: asking (askpass, as git would run it) ------------------------------------


def askpass(tmp_path: Path, username: str) -> str:
    script = tmp_path / "askpass"
    script.write_text(f"#!{sys.executable}\nimport sys\n"
                      f"print({username!r} if sys.argv[1].startswith('Username') else {TOKEN!r})\n")
    script.chmod(0o755)
    return str(script)


def nothing_stored(host: str, kind: str) -> Request:
    # Nothing listens on port 9: the checks cannot answer, so nothing is stored.
    for key, value in ((f"bbtoken.https://{host}.kind", kind),
                       (f"bbtoken.https://{host}.apiUrl", f"https://{host}")):
        subprocess.run(["git", "config", "--global", key, value], check=True)
    made = make_request(Credential(protocol="https", host=host, path="ws/repo.git"))
    assert made is not None and made.config.kind == kind
    return made


def test_an_email_typed_as_username_goes_to_the_checks(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.setenv("BBTOKEN_GIT_OPERATION", "fetch")
    monkeypatch.setenv("GIT_ASKPASS", askpass(tmp_path, "alice@example.com"))
    out = console.Io(stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=io.StringIO())
    answer = newtoken.ask_for_token(nothing_stored("127.0.0.1:9", "cloud"), out,
                                  CredentialStore(out.say))
    assert answer == [("username", "x-bitbucket-api-token-auth"), ("password", TOKEN)]
    said = out.stderr.getvalue()  # type: ignore[attr-defined]
    assert said.startswith("bbtoken: no API token is stored for https://127.0.0.1:9/ws/repo.\n")
    assert ("bbtoken: alice@example.com is an email: git over HTTPS refuses it; using "
            "x-bitbucket-api-token-auth for git and the email for scope checks.\n") in said


@pytest.mark.parametrize("git_sends_bearer", [True, False])
def test_datacenter_without_a_username_is_a_bearer_token(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path,
                                                         git_sends_bearer: bool) -> None:
    """An empty username on Data Center: the token goes as a Bearer token when git announced
    authtype; else git is told to stop before a token is typed for nothing."""
    monkeypatch.setenv("BBTOKEN_GIT_OPERATION", "fetch")
    monkeypatch.setenv("GIT_ASKPASS", askpass(tmp_path, ""))
    out = console.Io(stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=io.StringIO())
    request = nothing_stored("127.0.0.1:9", "datacenter")
    if git_sends_bearer:
        request.record.capabilities.append("authtype")
    answer = newtoken.ask_for_token(request, out, CredentialStore(out.say))
    said = out.stderr.getvalue()  # type: ignore[attr-defined]
    assert said.startswith("bbtoken: no HTTP access token is stored for "
                           "https://127.0.0.1:9/ws/repo.\nbbtoken: Create a personal one with "
                           "REPO_READ at https://127.0.0.1:9/plugins/servlet/access-tokens/"
                           "manage\n")
    if git_sends_bearer:
        assert answer == [("capability[]", "authtype"), ("authtype", "Bearer"),
                          ("credential", TOKEN)]
    else:
        assert answer == advice.QUIT
        assert "this git cannot send one (git 2.46 or newer can)" in said


@pytest.mark.parametrize(("operation", "can_clone", "can_push", "said"), [
    ("push", True, False, "push https://127.0.0.1:9/ws/repo (git probe: 401)"),
    ("fetch", False, False, "clone https://127.0.0.1:9/ws/repo (git probe: 401)"),
])
def test_a_typed_token_is_never_refused_without_a_reason(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, operation: str, can_clone: bool,
        can_push: bool, said: str) -> None:
    """A refusal that no explanation covers still says what was refused, before quit=1."""
    from git_credential_bbtoken.checks.validation import Validation

    refused = Validation(can_clone=can_clone, can_push=can_push,
                         reasons={"clone": "git probe: 401", "push": "git probe: 401"})
    monkeypatch.setattr(newtoken, "_validate", lambda *args: refused)
    monkeypatch.setenv("BBTOKEN_GIT_OPERATION", operation)
    monkeypatch.setenv("GIT_ASKPASS", askpass(tmp_path, "alice"))
    out = console.Io(stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=io.StringIO())
    request = nothing_stored("127.0.0.1:9", "cloud")
    assert newtoken.ask_for_token(request, out, CredentialStore(out.say)) == advice.QUIT
    text = out.stderr.getvalue()  # type: ignore[attr-defined]
    assert f"bbtoken: Bitbucket refused to let this token {said}.\n" in text
    assert "bbtoken: Check the token, and see why, with: git credential-bbtoken login " \
        "https://127.0.0.1:9/ws/repo\n" in text


@pytest.mark.parametrize(("scopes", "why", "known"), [
    ([R], "scope", False),  # the token's own scope: cannot change, known with no request
    ([R, W], "permission", None),  # a scope it has: the account's refusal, asked again
])
def test_a_scope_refusal_is_lasting_only_when_it_is_the_tokens(scopes: list[str], why: str,
                                                                known: bool | None) -> None:
    refused = ProbeResult(RECEIVE_PACK, Outcome.MISSING_SCOPE, 403, scope_text=True)
    token = entry(validation={"scopes": scopes})
    verdict = access.read(refused, token, knowledge.PUSH)
    assert verdict is not None and (verdict.allowed, verdict.why) == (False, why)
    knowledge.learnt("ws/repo", knowledge.PUSH, False, verdict.why, 403, time.time())(token)
    assert knowledge.known(token, "ws/repo", knowledge.PUSH) is known


def test_a_scope_refusal_is_not_blamed_on_a_scope_proven_on_a_repository() -> None:
    """What the token is known to have counts the repositories it pushed to since
    (`scopes_known`), not only the scopes its check listed."""
    refused = ProbeResult(RECEIVE_PACK, Outcome.MISSING_SCOPE, 403, scope_text=True)
    token = entry(validation={}, repositories={"ws/other": {"clone": True, "push": True}})
    verdict = access.read(refused, token, knowledge.PUSH)
    assert verdict is not None and (verdict.allowed, verdict.why) == (False, "permission")


def test_a_new_tokens_probes_are_read_with_its_own_check(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """git stored a token (no check kept yet); its check listed write:repository and the
    push probe was refused with the scope text: the account's refusal, asked again later,
    not a lasting scope refusal."""
    from git_credential_bbtoken.checks.answers import UPLOAD_PACK
    from git_credential_bbtoken.checks.validation import Validation

    checked = Validation(scopes=frozenset({R, W}), can_clone=True, can_push=False,
                         probes=(ProbeResult(UPLOAD_PACK, Outcome.ALLOWED, 200),
                                 ProbeResult(RECEIVE_PACK, Outcome.MISSING_SCOPE, 403,
                                             scope_text=True)))
    monkeypatch.setattr(newtoken, "_validate", lambda *args: checked)
    store = CredentialStore(lambda text: None)
    new = entry()
    store.put(new, TOKEN)
    out = console.Io(stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=io.StringIO())
    newtoken.after_new_token(new, TOKEN, request(), out, store)
    [kept] = store.entries()
    assert kept.repositories == {"ws/repo": {"clone": True, "push": False,
                                             "push_why": "permission", "push_status": 403,
                                             "push_at": kept.repositories["ws/repo"]["push_at"]}}
    assert knowledge.known(kept, "ws/repo", knowledge.PUSH) is None


def stored_problem(explanation: object) -> dict[str, object]:
    return explanation.to_dict()  # type: ignore[attr-defined,no-any-return]


def datacenter_request() -> Request:
    subprocess.run(["git", "config", "--global", "bbtoken.https://dc.example.com.kind",
                    "datacenter"], check=True)
    subprocess.run(["git", "config", "--global", "bbtoken.https://dc.example.com.store",
                    "file"], check=True)
    made = make_request(Credential(protocol="https", host="dc.example.com",
                                   path="scm/PROJ/repo.git"))
    assert made is not None and made.config.kind == "datacenter"
    return made


@pytest.mark.parametrize(("problem", "action"), [
    ("no-access", advice.ANSWER),  # the repository not visible (404): asked again
    ("read-missing", advice.ANSWER),  # a token's permission, which can be edited
    ("rejected", advice.QUIT),  # the credential itself: never sent again
])
def test_datacenter_quits_on_a_stored_refusal_only_when_it_is_the_tokens(
        monkeypatch: pytest.MonkeyPatch, problem: str, action: str) -> None:
    from git_credential_bbtoken.explain import datacenter

    monkeypatch.setenv("BBTOKEN_GIT_OPERATION", "fetch")
    url = "https://dc.example.com/scm/PROJ/repo"
    said = {"no-access": lambda: datacenter.dc_no_access(url, 404, "alice"),
            "read-missing": lambda: datacenter.dc_read_missing(url, "alice", 403),
            "rejected": lambda: datacenter.dc_token_rejected(url, "alice")}[problem]()
    stored = Entry(protocol="https", host="dc.example.com", path="scm/PROJ/repo",
                   username="alice", backend="file", kind="datacenter",
                   validation={"kind": "datacenter", "can_clone": False, "can_push": False,
                               "problems": [stored_problem(said)]})
    decision = advice.before_answer(stored, TOKEN, datacenter_request())
    assert decision.action == action


@pytest.mark.parametrize(("problem", "action"), [
    ("account-cannot-see", advice.ANSWER),  # 401 "may not have access": asked again
    ("read-missing", advice.QUIT),  # the token's own scope
])
def test_cloud_quits_on_a_stored_clone_refusal_only_when_it_is_the_tokens(
        monkeypatch: pytest.MonkeyPatch, problem: str, action: str) -> None:
    from git_credential_bbtoken.explain import access as said_access
    from git_credential_bbtoken.explain import cloud

    monkeypatch.setenv("BBTOKEN_GIT_OPERATION", "fetch")
    url = "https://bitbucket.org/ws/repo"
    said = (said_access.account_cannot_see(url, "ws/repo", 401, token_works=False)
            if problem == "account-cannot-see" else cloud.read_missing(url, None))
    stored = entry(path="ws/repo", validation={"can_clone": False, "can_push": False,
                                               "problems": [stored_problem(said)]})
    assert advice.before_answer(stored, TOKEN, request()).action == action


def test_a_fresh_check_never_drops_a_lasting_refusal_unless_it_allowed() -> None:
    token = entry(repositories={"ws/repo": {"clone": True, "push": False, "push_why": "scope",
                                            "push_status": 403, "push_at": 1},
                                "ws/gone": {"clone": True}})
    knowledge.checked("ws/repo", [(knowledge.PUSH, False, "permission", 403)], 5.0)(token)
    assert token.repositories["ws/repo"]["push_why"] == "scope"
    knowledge.checked("ws/gone", [(knowledge.CLONE, False, "no-access", 404)], 5.0)(token)
    assert token.repositories["ws/gone"] == {"clone": False, "clone_why": "no-access",
                                             "clone_status": 404, "clone_at": 5}
    # Cloud's 401 may be the token itself: what was known stays (where the token worked,
    # git's own 401 and erase explain and remove a dead one).
    knowledge.checked("ws/repo", [(knowledge.CLONE, False, "no-access", 401)], 6.0)(token)
    assert token.repositories["ws/repo"]["clone"] is True
    knowledge.checked("ws/repo", [(knowledge.PUSH, True, None, 200)], 6.0)(token)
    assert token.repositories["ws/repo"] == {"clone": True, "push": True}
