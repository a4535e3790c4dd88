"""Passwords: the policy, sign-up confirmed by mail, sign-in without account discovery."""

from __future__ import annotations

import logging

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from test_identity_fixtures import CHEAP, all_items, events, mailed_code

from roost.cloud.errors import Invalid, RateLimited, Unauthorized
from roost.cloud.local.identity import SIGNUP_EVENT
from roost.cloud.local.identity_passwords import Passwords, check_policy
from roost.cloud.local.identity_tables import USERS

pytest_plugins = ["test_identity_fixtures"]

ANA = "ana@example.com"
GOOD = "correct horse battery"


def sign_up(ident, id_tables, email: str = ANA, password: str = GOOD):
    ident.sign_up(email, password, client="10.0.0.1")
    code = mailed_code(ident, id_tables, email, SIGNUP_EVENT)
    return ident.confirm_sign_up(email, code, client="10.0.0.1")


@pytest.mark.parametrize(("password", "code"), [
    ("short", "password_too_short"),
    ("x" * 257, "password_too_long"),
    ("ana@example.com", "password_is_email"),
    ("ANA@EXAMPLE.COM", "password_is_email"),
    ("anastasia12", None),
    ("password123", "password_too_common"),
    ("QwertyUIOP", "password_too_common"),
    ("aaaaaaaaaaaa", "password_too_common"),
    (None, "invalid_password"),
    ("xy" * 128, None),
    ("ten chars!", None),
])
def test_the_policy(password, code):
    if code is None:
        assert check_policy(password, email="ana@example.com") == password
        return
    with pytest.raises(Invalid) as exc:
        check_policy(password, email="ana@example.com")
    assert exc.value.code == code
    assert str(password) not in exc.value.message or len(str(password)) < 5


def test_the_policy_refuses_the_local_part():
    with pytest.raises(Invalid, match="email"):
        check_policy("anastasia.lima", email="anastasia.lima@example.com")


def test_sign_up_is_confirmed_by_mail_then_the_password_works(ident, id_tables):
    assert ident.sign_up(ANA, GOOD, client=None) is None
    assert not ident.user_exists(ANA)  # nothing until the address is confirmed
    tokens = sign_up(ident, id_tables)
    user = ident.get_user(email=ANA)
    assert user.id == tokens.user_id and user.has_password
    assert ident.sign_in("Ana@Example.com", GOOD, client=None).user_id == user.id


def test_the_password_is_stored_only_as_an_argon2_hash(ident, id_tables):
    sign_up(ident, id_tables)
    stored = repr(all_items(id_tables))
    assert GOOD not in stored
    item = id_tables.table(USERS.name).get({"id": ident.get_user(email=ANA).id})
    assert item["password_hash"].startswith("$argon2id$")


def test_sign_up_of_an_existing_account_answers_the_same_and_changes_nothing(ident, id_tables):
    sign_up(ident, id_tables)
    before = len(events(id_tables, SIGNUP_EVENT))
    assert ident.sign_up(ANA, "another long password", client=None) is None
    (event,) = events(id_tables, SIGNUP_EVENT)[before:]
    assert set(event["data"]) == {"email", "code_id"}  # the handler mails the owner a notice
    with pytest.raises(Unauthorized):  # the owner never gets this code; a guess gains nothing
        ident.confirm_sign_up(ANA, mailed_code(ident, id_tables, ANA, SIGNUP_EVENT), client=None)
    with pytest.raises(Unauthorized):
        ident.sign_in(ANA, "another long password", client=None)
    assert ident.sign_in(ANA, GOOD, client=None)


def test_a_code_account_has_no_password_to_guess(ident, id_tables):
    ident.request_code(ANA, client=None)
    ident.verify_code(ANA, mailed_code(ident, id_tables, ANA), client=None)
    with pytest.raises(Unauthorized, match="email or password is wrong"):
        ident.sign_in(ANA, GOOD, client=None)


class CountingHasher(PasswordHasher):
    """argon2's hasher, counting verifications (to see that unknown users cost one too)."""

    def __init__(self) -> None:
        p = CHEAPEST
        super().__init__(time_cost=p.time_cost, memory_cost=p.memory_cost,
                         parallelism=p.parallelism, hash_len=p.hash_len, salt_len=p.salt_len)
        self.verified = 0

    def verify(self, hash, password):  # type: ignore[override]
        self.verified += 1
        return super().verify(hash, password)


def test_a_wrong_password_and_an_unknown_user_look_the_same(make_identity, id_tables):
    hasher = CountingHasher()
    ident = make_identity(password_hasher=hasher)
    sign_up(ident, id_tables)
    answers = []
    for email in (ANA, "nobody@example.com"):
        hasher.verified = 0
        with pytest.raises(Unauthorized) as exc:
            ident.sign_in(email, "not the password", client=None)
        answers.append((exc.value.code, exc.value.message, hasher.verified))
    assert answers[0] == answers[1] == ("wrong_credentials", "email or password is wrong", 1)


def test_sign_in_is_limited_per_email_even_for_the_right_password(ident, id_tables):
    sign_up(ident, id_tables)
    for _ in range(10):
        with pytest.raises(Unauthorized):
            ident.sign_in(ANA, "wrong password!", client=None)
    with pytest.raises(RateLimited):
        ident.sign_in(ANA, GOOD, client=None)


def test_sign_up_is_limited_per_client(ident):
    for i in range(10):
        ident.sign_up(f"u{i}@example.com", GOOD, client="192.0.2.1")
    with pytest.raises(RateLimited):
        ident.sign_up("u99@example.com", GOOD, client="192.0.2.1")


def test_an_old_hash_is_upgraded_on_sign_in(make_identity, id_tables):
    old = make_identity()
    sign_up(old, id_tables)
    stronger = PasswordHasher(time_cost=2, memory_cost=256, parallelism=1)
    new = make_identity(password_hasher=stronger)
    new.sign_in(ANA, GOOD, client=None)
    item = id_tables.table(USERS.name).get({"id": new.get_user(email=ANA).id})
    assert not stronger.check_needs_rehash(item["password_hash"])
    assert new.sign_in(ANA, GOOD, client=None)


def test_oversized_passwords_are_refused_before_hashing(ident):
    with pytest.raises(Unauthorized):
        ident.sign_in(ANA, "x" * 10_000, client=None)


def test_the_dummy_check_never_matches():
    passwords = Passwords(CHEAP)
    assert passwords.verify(None, "roost-dummy-password") == (False, None)


def test_no_secret_reaches_a_log(ident, id_tables, caplog):
    caplog.set_level(logging.DEBUG)
    tokens = sign_up(ident, id_tables)
    code = mailed_code(ident, id_tables, ANA, SIGNUP_EVENT)
    signed_in = ident.sign_in(ANA, GOOD, client=None)
    for _ in range(11):
        with pytest.raises((Unauthorized, RateLimited)):
            ident.sign_in(ANA, "bad password 1", client=None)
    refreshed = ident.refresh(signed_in.refresh_token)
    with pytest.raises(Unauthorized):
        ident.refresh(signed_in.refresh_token)  # reuse: logged as a warning
    ident.sign_out(refreshed.access_token, refreshed.refresh_token)
    secrets = [GOOD, "bad password 1", code, tokens.access_token, tokens.refresh_token,
               signed_in.refresh_token, refreshed.access_token]
    assert caplog.records  # the flows do log
    text = caplog.text + repr(tokens) + repr(refreshed)
    leaked = [s for s in secrets if s in text]
    assert leaked == []
    assert signed_in.refresh_token.split(".")[1] not in text
