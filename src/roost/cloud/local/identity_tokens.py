"""Tokens: short-lived access JWTs and opaque, rotating refresh tokens.

Access tokens are HS256 JWTs checked with an explicit algorithm list (so "alg: none" and
algorithm swaps fail) and against the Clock rather than the wall clock, so tests can expire them.
Refresh tokens are "<family>.<secret>": only a hash of the secret is stored.

PyJWT is imported where a token is made or checked: with cryptography installed it takes
25-50 ms to import, which a Lambda's cold start should pay only when a token is seen.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from roost.cloud.errors import Unauthorized

ISSUER = AUDIENCE = "roost"
ALGORITHM = "HS256"
MAX_TOKEN = 4096
CLOCK_SKEW = 30  # seconds an `iat` may lie in the future (clocks of several hosts differ)
_SIX_DIGITS = re.compile(r"^[0-9]{6}$")
_FAMILY = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")  # a ULID


@dataclass(frozen=True)
class Tokens:
    """What a successful sign-in returns. The tokens are kept out of repr, so they never reach
    a log by accident."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    user_id: str
    email: str
    expires_in: int  # seconds the access token lives
    refresh_expires_in: int
    token_type: str = "Bearer"


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A separate key per use of the one deployment secret."""
    return hmac.new(secret, f"roost/{purpose}".encode(), hashlib.sha256).digest()


def six_digits(typed: object) -> str | None:
    """A typed code without its spaces, or None if that is not 6 digits."""
    if not isinstance(typed, str):
        return None
    digits = typed.strip().replace(" ", "")
    return digits if _SIX_DIGITS.match(digits) else None


class OneTimeCodes:
    """The 6 digits a code id stands for at an address: an HMAC under the deployment secret,
    recomputed when needed and stored nowhere. Local sign-in and Cognito's custom-auth
    triggers make and check codes with this one class."""

    def __init__(self, secret: bytes) -> None:
        self._key = derive_key(secret, "one-time-code")

    def __call__(self, code_id: str, email: str) -> str:
        digest = hmac.new(self._key, f"{code_id}|{email}".encode(), "sha256").digest()
        return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"

    def matches(self, code_id: str, email: str, typed: object) -> bool:
        """Whether `typed` is the code, compared in constant time."""
        digits = six_digits(typed)
        return digits is not None and hmac.compare_digest(self(code_id, email), digits)


def invalid(message: str = "the token is not valid; sign in again") -> Unauthorized:
    return Unauthorized(message, code="token_invalid")


class AccessTokens:
    def __init__(self, secret: bytes, *, ttl: int) -> None:
        self._key = derive_key(secret, "access-token")
        self.ttl = ttl

    def issue(self, *, user_id: str, email: str, jti: str, now: datetime) -> str:
        iat = int(now.timestamp())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": user_id, "email": email, "jti": jti,
                  "iat": iat, "exp": iat + self.ttl}
        import jwt

        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: object, *, now: datetime, allow_expired: bool = False
               ) -> dict[str, Any]:
        """The claims of a genuine token; `Unauthorized` (token_invalid / token_expired)."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
            raise invalid()
        import jwt

        try:
            claims = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                options={"require": ["iss", "aud", "sub", "jti", "iat", "exp"],
                         "verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidTokenError as exc:
            raise invalid() from exc
        exp, iat = claims.get("exp"), claims.get("iat")
        if not all(isinstance(v, int) for v in (exp, iat)) or not isinstance(claims["sub"], str) \
                or not isinstance(claims["jti"], str):
            raise invalid()
        ts = now.timestamp()
        if iat > ts + CLOCK_SKEW:
            raise invalid()
        if ts >= exp and not allow_expired:
            raise Unauthorized("the sign-in has expired; refresh it or sign in again",
                               code="token_expired")
        return claims


def new_refresh_token(family: str) -> tuple[str, str]:
    """(the token to hand out, the sort key its hash is stored under)."""
    secret = secrets.token_urlsafe(32)
    return f"{family}.{secret}", token_sk(secret)


def parse_refresh_token(token: object) -> tuple[str, str]:
    """(family, the token item's sort key). `Unauthorized` if it is not shaped like ours."""
    if not isinstance(token, str) or len(token) > 200 or token.count(".") != 1:
        raise invalid()
    family, secret = token.split(".")
    if not _FAMILY.match(family) or len(secret) < 32:
        raise invalid()
    return family, token_sk(secret)


def token_sk(secret: str) -> str:
    # 256 random bits need no slow hash: a plain digest cannot be reversed or guessed.
    return "t#" + hashlib.sha256(secret.encode()).hexdigest()
