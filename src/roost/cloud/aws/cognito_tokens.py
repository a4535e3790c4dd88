"""Verifying a Cognito user pool's ID tokens against the pool's published keys (JWKS).

Only what the pool itself would accept passes: RS256 (never `none`, never an HMAC made with the
public key), a key id the pool publishes, issuer = the pool, audience = one of our app clients,
`token_use` = id, an email not marked unverified (Cognito's ID tokens carry
`email_verified`; moto's omit it, so only an explicit false is refused — the template's app
client cannot write the email attribute anyway), and not expired by the Clock (so tests can
move time).
API Gateway's JWT authorizer checks the same in front of the functions; this check is what
makes the functions safe on their own (a direct invoke, a misconfigured route).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from roost.cloud.errors import Unauthorized, Unavailable
from roost.cloud.local.identity_tokens import CLOCK_SKEW, MAX_TOKEN, invalid

ALGORITHM = "RS256"


def pool_issuer(region: str, pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def fetch_jwks(url: str, timeout: float = 5.0) -> Mapping[str, Any]:
    """The pool's public keys. Fetched once per container, and again only for an unknown key id
    (a key rotation), so a cold start pays one small HTTPS request."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return json.loads(answer.read())  # type: ignore[no-any-return]
    except (OSError, ValueError) as exc:
        raise Unavailable("the identity provider's keys could not be fetched; try again",
                          code="identity_unavailable") from exc


class CognitoTokens:
    """The pool's ID tokens: `verify(token, now=...)` -> claims, or `Unauthorized`."""

    def __init__(self, *, issuer: str, audiences: Sequence[str], jwks_url: str,
                 fetch: Callable[[str], Mapping[str, Any]] = fetch_jwks) -> None:
        if not audiences:
            raise ValueError("a Cognito verifier needs the app client id(s) it accepts")
        self.issuer = issuer
        self.audiences = list(audiences)
        self.jwks_url = jwks_url
        self._fetch = fetch
        self._keys: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _key(self, kid: str) -> Any:
        import jwt

        if kid not in self._keys:
            with self._lock:
                if kid not in self._keys:
                    jwks = self._fetch(self.jwks_url)
                    self._keys = {k["kid"]: jwt.PyJWK(k, ALGORITHM).key
                                  for k in jwks.get("keys", []) if k.get("kid")}
        try:
            return self._keys[kid]
        except KeyError:
            raise invalid() from None

    def verify(self, token: object, *, now: datetime) -> dict[str, Any]:
        import jwt  # on the first token, not at a cold start's import (~35 ms with its RSA)

        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
            raise invalid()
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
                raise invalid()
            claims = jwt.decode(
                token, self._key(header["kid"]), algorithms=[ALGORITHM],
                audience=self.audiences, issuer=self.issuer,
                options={"require": ["iss", "aud", "sub", "exp", "iat", "token_use"],
                         "verify_exp": False, "verify_iat": False, "verify_nbf": False})
        except jwt.InvalidTokenError as exc:
            raise invalid() from exc
        if claims["token_use"] != "id" or not isinstance(claims.get("email"), str) \
                or claims.get("email_verified", True) not in (True, "true"):
            raise invalid()
        exp, iat = claims["exp"], claims["iat"]
        if not all(isinstance(v, int) for v in (exp, iat)):
            raise invalid()
        ts = now.timestamp()
        if iat > ts + CLOCK_SKEW:
            raise invalid()
        if ts >= exp:
            raise Unauthorized("the sign-in has expired; refresh it or sign in again",
                               code="token_expired")
        return claims
