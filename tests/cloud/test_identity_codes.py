"""One-time codes: expiry, tries, single use, rate limits, the allowed pattern, no enumeration."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_identity_fixtures import SECRET, all_items, events, mailed_code

from roost.cloud.clock import FrozenClock
from roost.cloud.errors import Forbidden, Invalid, RateLimited, Unauthorized
from roost.cloud.local.identity import CODE_EVENT, LocalIdentity, Tokens

pytest_plugins = ["test_identity_fixtures"]

ANA = "ana@example.com"


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_mailed_code_signs_in_and_creates_the_user_once(ident, id_tables):
    ident.request_code("  Ana@Example.COM ", client="10.0.0.1")
    (event,) = events(id_tables, CODE_EVENT)
    assert set(event["data"]) == {"email", "code_id"}  # the event carries no code
    first = ident.verify_code(ANA, mailed_code(ident, id_tables, ANA), client="10.0.0.1")
    assert isinstance(first, Tokens) and first.email == ANA

    ident.request_code(ANA, client="10.0.0.1")
    second = ident.verify_code(ANA, mailed_code(ident, id_tables, ANA), client="10.0.0.1")
    assert second.user_id == first.user_id
    assert [u.email for u in ident.list_users()[0]] == [ANA]


def test_the_code_is_stored_nowhere(ident, id_tables):
    ident.request_code(ANA, client=None)
    code = mailed_code(ident, id_tables, ANA)
    assert code.isdigit() and len(code) == 6
    assert code not in repr(all_items(id_tables))


def test_a_code_lives_ten_minutes(ident, id_tables, clock):
    ident.request_code(ANA, client=None)
    clock.advance(minutes=9, seconds=59)
    ident.verify_code(ANA, mailed_code(ident, id_tables, ANA), client=None)

    ident.request_code(ANA, client=None)
    clock.advance(minutes=10)
    with pytest.raises(Unauthorized) as exc:
        ident.verify_code(ANA, mailed_code(ident, id_tables, ANA), client=None)
    assert exc.value.code == "code_invalid"


def test_the_fifth_try_may_be_right(ident, id_tables):
    ident.request_code(ANA, client=None)
    code = mailed_code(ident, id_tables, ANA)
    for _ in range(4):
        with pytest.raises(Unauthorized, match="wrong or has expired"):
            ident.verify_code(ANA, wrong(code), client=None)
    assert ident.verify_code(ANA, code, client=None).email == ANA


def test_the_sixth_try_fails_even_with_the_right_code(ident, id_tables):
    ident.request_code(ANA, client=None)
    code = mailed_code(ident, id_tables, ANA)
    for _ in range(5):
        with pytest.raises(Unauthorized) as exc:
            ident.verify_code(ANA, wrong(code), client=None)
        assert exc.value.code == "code_invalid"
    with pytest.raises(Unauthorized) as exc:
        ident.verify_code(ANA, code, client=None)
    assert exc.value.code == "code_exhausted"
    # A new code starts over.
    ident.request_code(ANA, client=None)
    assert ident.verify_code(ANA, mailed_code(ident, id_tables, ANA), client=None)


def test_a_code_works_once(ident, id_tables):
    ident.request_code(ANA, client=None)
    code = mailed_code(ident, id_tables, ANA)
    ident.verify_code(ANA, code, client=None)
    with pytest.raises(Unauthorized, match="wrong or has expired"):
        ident.verify_code(ANA, code, client=None)


def test_two_racing_right_answers_sign_in_once(ident, id_tables):
    ident.request_code(ANA, client=None)
    code = mailed_code(ident, id_tables, ANA)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def attempt() -> None:
        barrier.wait()
        try:
            results.append(ident.verify_code(ANA, code, client=None))
        except Unauthorized as exc:
            results.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(type(r).__name__ for r in results) == ["Tokens", "Unauthorized"]
    assert len(ident.list_users()[0]) == 1


def test_a_new_code_replaces_the_previous_one(ident, id_tables):
    ident.request_code(ANA, client=None)
    old = mailed_code(ident, id_tables, ANA)
    ident.request_code(ANA, client=None)
    new = mailed_code(ident, id_tables, ANA)
    if old != new:
        with pytest.raises(Unauthorized):
            ident.verify_code(ANA, old, client=None)
    assert ident.verify_code(ANA, new, client=None)


def test_codes_are_limited_per_email(ident, clock):
    for i in range(5):
        ident.request_code(ANA, client=f"10.0.0.{i}")
    with pytest.raises(RateLimited) as exc:
        ident.request_code(ANA, client="10.0.0.99")
    assert exc.value.status == 429 and 0 < exc.value.retry_after <= 900
    ident.request_code("bo@example.com", client="10.0.0.99")  # other addresses are unaffected
    clock.advance(seconds=exc.value.retry_after)
    ident.request_code(ANA, client="10.0.0.99")


def test_codes_are_limited_per_client(ident, id_tables):
    for i in range(30):
        ident.request_code(f"user{i}@example.com", client="203.0.113.7")
    with pytest.raises(RateLimited):
        ident.request_code("late@example.com", client="203.0.113.7")
    ident.request_code("late@example.com", client="203.0.113.8")
    # The refused request counted against nothing and published nothing.
    assert len(events(id_tables, CODE_EVENT)) == 31


def test_verifications_are_limited_per_client(ident, id_tables):
    ident.request_code(ANA, client=None)
    code = mailed_code(ident, id_tables, ANA)
    for i in range(30):
        with pytest.raises(Unauthorized):
            ident.verify_code(f"x{i}@example.com", code, client="198.51.100.1")
    with pytest.raises(RateLimited):
        ident.verify_code(ANA, code, client="198.51.100.1")
    assert ident.verify_code(ANA, code, client="198.51.100.2")


def test_the_allowed_pattern_is_a_case_insensitive_full_match(make_identity):
    ident = make_identity(allowed_email_pattern=r"[a-z.]+@EXAMPLE\.com")
    ident.request_code("Ana.Lima@example.com", client=None)
    for refused in ("ana@example.com.evil.org", "ana@other.com", "ana+x@example.com"):
        with pytest.raises(Forbidden) as exc:
            ident.request_code(refused, client=None)
        assert exc.value.code == "email_not_allowed" and exc.value.status == 403


def test_a_case_sensitive_deployment_keeps_the_local_part(make_identity, id_tables):
    ident = make_identity(allowed_email_pattern=r"[a-z]+@example\.com",
                          email_case_sensitive=True)
    with pytest.raises(Forbidden):
        ident.request_code("Ana@example.com", client=None)
    ident.request_code("ana@EXAMPLE.com", client=None)  # domains are never case-sensitive
    assert events(id_tables, CODE_EVENT)[-1]["data"]["email"] == "ana@example.com"


def test_no_enumeration_the_answers_do_not_depend_on_the_account(ident, id_tables):
    ident.request_code(ANA, client=None)
    ident.verify_code(ANA, mailed_code(ident, id_tables, ANA), client=None)  # ana exists now

    answers = []
    for email in (ANA, "nobody@example.com"):
        answers.append(ident.request_code(email, client=None))
        code = mailed_code(ident, id_tables, email)
        with pytest.raises(Unauthorized) as exc:
            ident.verify_code(email, wrong(code), client=None)
        answers.append((type(exc.value), exc.value.code, exc.value.message))
    assert answers[0:2] == answers[2:4]
    shapes = {tuple(sorted(e["data"])) for e in events(id_tables, CODE_EVENT)}
    assert shapes == {("code_id", "email")}


@pytest.mark.parametrize("email", ["", "ana", "ana@", "@example.com", "a b@example.com",
                                   "ana@localhost", "x" * 250 + "@example.com", 42])
def test_bad_addresses_are_invalid(ident, email):
    with pytest.raises(Invalid) as exc:
        ident.request_code(email, client=None)
    assert exc.value.code == "invalid_email"


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", None])
def test_a_code_is_six_digits(ident, code):
    with pytest.raises(Invalid) as exc:
        ident.verify_code(ANA, code, client=None)
    assert exc.value.code == "invalid_code"


@settings(max_examples=40, deadline=None)
@given(code_id=st.text(min_size=1, max_size=40), local=st.from_regex(r"[a-z0-9]{1,20}",
                                                                    fullmatch=True))
def test_code_for_is_six_stable_digits(code_id: str, local: str):
    ident = LocalIdentity(None, clock=FrozenClock(), secret=SECRET)  # type: ignore[arg-type]
    email = f"{local}@example.com"
    code = ident.code_for(code_id, email)
    assert len(code) == 6 and code.isdigit() and code == ident.code_for(code_id, email)


def test_client_addresses_may_be_absent_or_long(ident):
    ident.request_code(ANA, client="x" * 5000)
    ident.request_code(ANA, client=None)


def test_an_expired_window_starts_over(ident, clock):
    for _ in range(5):
        ident.request_code(ANA, client=None)
    clock.advance(timedelta(minutes=15))
    ident.request_code(ANA, client=None)
