"""Grants, admins, and listing users."""

from __future__ import annotations

import pytest
from test_identity_fixtures import mailed_code

from roost.cloud.errors import Forbidden, Invalid, NotFound
from roost.cloud.identity import Grant
from roost.cloud.local.identity import LocalIdentity

pytest_plugins = ["test_identity_fixtures"]

ANA = "ana@example.com"
ALPHA_ADMIN = Grant("desks", "office_admin", "alpha")


def sign_in(ident: LocalIdentity, id_tables, email: str):
    ident.request_code(email, client=None)
    return ident.verify_code(email, mailed_code(ident, id_tables, email), client=None)


def test_a_grant_shows_in_the_principal_and_is_audited(ident, id_tables):
    tokens = sign_in(ident, id_tables, ANA)
    ident.grant("ANA@example.com", ALPHA_ADMIN, by="admin-1")
    principal = ident.authenticate(tokens.access_token)  # grants are read per request
    assert principal.has("desks", "office_admin", "alpha")
    assert not principal.has("desks", "office_admin", "beta")
    (record,) = id_tables.table("roost_audit").query("roost").items
    assert (record["op"], record["actor"], record["after"]["scope"]) == ("put", "admin-1",
                                                                          "alpha")


def test_a_grant_prepares_an_account_before_its_first_sign_in(ident, id_tables):
    user = ident.grant("new@example.com", ALPHA_ADMIN, by="cli")
    assert ident.grants_of(user.id) == {ALPHA_ADMIN}
    assert sign_in(ident, id_tables, "new@example.com").user_id == user.id


def test_revoke(ident, id_tables):
    user = ident.grant(ANA, ALPHA_ADMIN, by="cli")
    ident.grant(ANA, Grant("rooms", "admin"), by="cli")
    assert ident.revoke(ANA, ALPHA_ADMIN, by="cli") is True
    assert ident.revoke(ANA, ALPHA_ADMIN, by="cli") is False
    assert ident.grants_of(user.id) == {Grant("rooms", "admin")}
    with pytest.raises(NotFound):
        ident.revoke("nobody@example.com", ALPHA_ADMIN, by="cli")


def test_users_with_a_role_include_every_scope_holders(ident):
    ana = ident.grant(ANA, ALPHA_ADMIN, by="cli")
    bo = ident.grant("bo@example.com", Grant("desks", "office_admin"), by="cli")  # scope *
    ident.grant("cy@example.com", Grant("desks", "office_admin", "beta"), by="cli")
    ident.grant("di@example.com", Grant("roost", "admin"), by="cli")
    assert {u.id for u in ident.users_with("desks", "office_admin", "alpha")} == {ana.id, bo.id}
    assert [u.id for u in ident.users_with("desks", "office_admin")] == [bo.id]


@pytest.mark.parametrize("grant", [Grant("Desks", "admin"), Grant("desks", "a#b"),
                                   Grant("desks", "admin", "a#b"), Grant("desks", "admin", ""),
                                   Grant("desks", "admin", "x" * 200)])
def test_bad_grants_are_invalid(ident, grant):
    with pytest.raises(Invalid) as exc:
        ident.grant(ANA, grant, by="cli")
    assert exc.value.code == "invalid_grant"


def test_grants_respect_the_allowed_pattern(make_identity):
    ident = make_identity(allowed_email_pattern=r".*@example\.com")
    with pytest.raises(Forbidden):
        ident.grant("eve@evil.org", ALPHA_ADMIN, by="cli")


def test_admin_emails_become_admins_on_sign_in(make_identity, id_tables):
    ident = make_identity(admin_emails=["Boss@Example.com"])
    tokens = sign_in(ident, id_tables, "boss@example.com")
    assert ident.authenticate(tokens.access_token).is_system_admin
    assert sign_in(ident, id_tables, "boss@example.com")  # a second sign-in adds nothing
    assert not ident.authenticate(sign_in(ident, id_tables, ANA).access_token).is_system_admin


def test_ensure_admins_grants_existing_accounts(make_identity, id_tables):
    before = make_identity()
    user = before.grant("boss@example.com", ALPHA_ADMIN, by="cli")
    after = make_identity(admin_emails=["boss@example.com", "absent@example.com"])
    assert after.ensure_admins() == 1
    assert after.ensure_admins() == 0
    assert after.principal(user.id).is_system_admin


def test_list_users_pages_in_email_order(ident):
    emails = [f"{n}@example.com" for n in ("eve", "ana", "dan", "bo", "cy")]
    for e in emails:
        ident.grant(e, ALPHA_ADMIN, by="cli")
    seen, cursor, pages = [], None, 0
    while True:
        users, cursor = ident.list_users(limit=2, cursor=cursor)
        seen += [u.email for u in users]
        pages += 1
        if cursor is None:
            break
    assert seen == sorted(emails) and pages >= 3


def test_get_user(ident):
    user = ident.grant(ANA, ALPHA_ADMIN, by="cli")
    assert ident.get_user(email=" Ana@EXAMPLE.com") == ident.get_user(user_id=user.id) == user
    with pytest.raises(NotFound):
        ident.get_user(email="nobody@example.com")
    with pytest.raises(NotFound):
        ident.principal("01ARZ3NDEKTSV4RRFFQ69G5FAV")
