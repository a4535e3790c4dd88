"""Tokens: JWT claims, expiry, tampering, alg none, refresh rotation and reuse, sign-out."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from test_identity_fixtures import SECRET, events, mailed_code

from roost.cloud.errors import Unauthorized
from roost.cloud.local.identity import LocalIdentity, Tokens
from roost.cloud.local.identity_tables import REVOKED, SESSIONS
from roost.cloud.local.identity_tokens import derive_key

pytest_plugins = ["test_identity_fixtures"]

ANA = "ana@example.com"


@pytest.fixture
def tokens(ident, id_tables) -> Tokens:
    ident.request_code(ANA, client=None)
    return ident.verify_code(ANA, mailed_code(ident, id_tables, ANA), client=None)


def refused(ident: LocalIdentity, token: object) -> str:
    with pytest.raises(Unauthorized) as exc:
        ident.authenticate(token)  # type: ignore[arg-type]
    assert exc.value.status == 401
    return exc.value.code


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_the_access_token_carries_the_promised_claims(ident, tokens, clock):
    claims = jwt.decode(tokens.access_token, derive_key(SECRET, "access-token"),
                        algorithms=["HS256"], audience="roost", options={"verify_exp": False})
    now = int(clock.now().timestamp())
    assert claims["iss"] == claims["aud"] == "roost"
    assert (claims["sub"], claims["email"]) == (tokens.user_id, ANA)
    assert (claims["iat"], claims["exp"]) == (now, now + 900)
    assert jwt.get_unverified_header(tokens.access_token)["alg"] == "HS256"
    principal = ident.authenticate(tokens.access_token)
    assert (principal.user_id, principal.email) == (tokens.user_id, ANA)


def test_the_access_token_expires_by_the_clock(ident, tokens, clock):
    clock.advance(seconds=899)
    ident.authenticate(tokens.access_token)
    clock.advance(seconds=1)
    assert refused(ident, tokens.access_token) == "token_expired"


def test_a_tampered_token_is_refused(ident, tokens):
    header, payload, signature = tokens.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = f"{header}.{b64({**claims, 'sub': 'someone-else'})}.{signature}"
    assert refused(ident, forged) == "token_invalid"
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert refused(ident, f"{header}.{payload}.{flipped}") == "token_invalid"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # HS512, our key
def test_alg_none_and_algorithm_swaps_are_refused(ident, tokens):
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert refused(ident, unsigned) == "token_invalid"
    key = derive_key(SECRET, "access-token")
    assert refused(ident, jwt.encode(claims, key, algorithm="HS512")) == "token_invalid"
    assert refused(ident, jwt.encode(claims, b"k" * 32, algorithm="HS256")) == "token_invalid"


@pytest.mark.parametrize("drop", ["exp", "jti", "sub", "iat", "aud", "iss"])
def test_every_claim_is_required(ident, tokens, drop):
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    del claims[drop]
    token = jwt.encode(claims, derive_key(SECRET, "access-token"), algorithm="HS256")
    assert refused(ident, token) == "token_invalid"


@pytest.mark.parametrize("junk", ["", "x", "a.b.c", "x" * 5000, None, 12])
def test_junk_is_refused(ident, junk):
    assert refused(ident, junk) == "token_invalid"


def test_a_token_from_the_future_is_refused(ident, tokens, clock):
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    claims["iat"] += 3600
    claims["exp"] += 3600
    token = jwt.encode(claims, derive_key(SECRET, "access-token"), algorithm="HS256")
    assert refused(ident, token) == "token_invalid"


def test_another_deployments_token_is_refused(make_identity, tokens):
    other = LocalIdentity(make_identity().tables, clock=make_identity().clock,
                          secret=b"another-secret-another-secret-!!")
    assert refused(other, tokens.access_token) == "token_invalid"


def test_refresh_rotates_and_each_refresh_token_works_once(ident, tokens, clock):
    clock.advance(seconds=600)
    second = ident.refresh(tokens.refresh_token)
    assert second.refresh_token != tokens.refresh_token
    assert second.access_token != tokens.access_token
    assert ident.authenticate(second.access_token).user_id == tokens.user_id
    third = ident.refresh(second.refresh_token)
    assert ident.authenticate(third.access_token).email == ANA


def test_reusing_a_rotated_refresh_token_revokes_the_family(ident, tokens, id_tables):
    second = ident.refresh(tokens.refresh_token)
    with pytest.raises(Unauthorized) as exc:
        ident.refresh(tokens.refresh_token)  # the thief, or the victim after the thief
    assert exc.value.code == "token_reused"
    with pytest.raises(Unauthorized) as exc:
        ident.refresh(second.refresh_token)
    assert exc.value.code == "token_revoked"


def test_other_sessions_survive_a_reuse(ident, id_tables, tokens):
    ident.request_code(ANA, client=None)
    laptop = ident.verify_code(ANA, mailed_code(ident, id_tables, ANA), client=None)
    ident.refresh(tokens.refresh_token)
    with pytest.raises(Unauthorized):
        ident.refresh(tokens.refresh_token)
    assert ident.refresh(laptop.refresh_token)


def test_refresh_tokens_expire(make_identity, id_tables, clock):
    ident = make_identity(refresh_ttl=3600)
    ident.request_code(ANA, client=None)
    tokens = ident.verify_code(ANA, mailed_code(ident, id_tables, ANA), client=None)
    clock.advance(seconds=3599)
    fresh = ident.refresh(tokens.refresh_token)  # the new one lives another hour
    clock.advance(seconds=3599)
    fresh = ident.refresh(fresh.refresh_token)
    clock.advance(seconds=3600)
    with pytest.raises(Unauthorized) as exc:
        ident.refresh(fresh.refresh_token)
    assert exc.value.code == "token_invalid"


@pytest.mark.parametrize("junk", ["", "abc", "01ARZ3NDEKTSV4RRFFQ69G5FAV.short", "a.b.c",
                                  "01ARZ3NDEKTSV4RRFFQ69G5FAV." + "x" * 43, None])
def test_junk_refresh_tokens_are_invalid(ident, junk):
    with pytest.raises(Unauthorized) as exc:
        ident.refresh(junk)
    assert exc.value.code == "token_invalid"


def test_a_guessed_secret_in_a_real_family_revokes_nothing(ident, tokens):
    family = tokens.refresh_token.split(".")[0]
    with pytest.raises(Unauthorized):
        ident.refresh(f"{family}.{'A' * 43}")
    ident.sign_out(None, f"{family}.{'A' * 43}")
    assert ident.refresh(tokens.refresh_token)


def test_only_a_digest_of_the_refresh_token_is_stored(id_tables, tokens):
    secret = tokens.refresh_token.split(".")[1]
    assert secret not in repr(id_tables.table(SESSIONS.name).scan().items)


def test_sign_out_revokes_both_tokens(ident, tokens, id_tables, clock):
    ident.sign_out(tokens.access_token, tokens.refresh_token)
    assert refused(ident, tokens.access_token) == "token_revoked"
    with pytest.raises(Unauthorized) as exc:
        ident.refresh(tokens.refresh_token)
    assert exc.value.code == "token_revoked"
    (revoked,) = id_tables.table(REVOKED.name).scan().items
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert revoked["expires"] == claims["exp"]  # the list forgets it once it would expire
    clock.advance(seconds=900)
    assert id_tables.table(REVOKED.name).scan().items == []


def test_sign_out_is_idempotent_and_ignores_junk(ident, tokens):
    ident.sign_out(tokens.access_token, tokens.refresh_token)
    ident.sign_out(tokens.access_token, tokens.refresh_token)
    ident.sign_out("junk", "junk")
    ident.sign_out(None, None)


def test_tokens_stay_out_of_repr(tokens):
    assert tokens.access_token not in repr(tokens)
    assert tokens.refresh_token not in repr(tokens)


def test_a_short_secret_is_refused(id_tables, clock):
    with pytest.raises(ValueError, match="32"):
        LocalIdentity(id_tables, clock=clock, secret=b"short")


def test_a_deleted_user_s_token_is_refused(ident, tokens, id_tables):
    id_tables.table("roost_users").delete({"id": tokens.user_id})
    assert refused(ident, tokens.access_token) == "token_invalid"
    with pytest.raises(Unauthorized):
        ident.refresh(tokens.refresh_token)
    assert events(id_tables)  # the outbox still holds the code event; nothing else was touched
