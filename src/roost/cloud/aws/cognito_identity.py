"""CognitoIdentity: the Identity port on an Amazon Cognito user pool.

Cognito keeps the accounts and signs the tokens. Roost keeps what Cognito does not: the role
grants (audited, indexed by role so an app can ask who holds one) and a user record per address
that the grants hang on — the same identity tables and the same `Directory` code as
LocalIdentity, with one difference: a user's id is the Cognito `sub`, so a token names its user
without a lookup.

- The bearer token is the pool's **ID token** (the access token carries no email), verified by
  `CognitoTokens`; a request then costs one query of the caller's grants.
- Sign-in by emailed code is Cognito's custom-auth flow. `request_code` creates the pool user
  when new (AdminCreateUser, Cognito's own mail suppressed), starts CUSTOM_AUTH and keeps the
  flow's session in the codes table; the triggers (`cognito_triggers`) make the code — the same
  HMAC as locally — and publish the same `auth.code_requested` event, whose handler mails it.
  `verify_code` answers the challenge with the session.
- Passwords: USER_PASSWORD_AUTH (for users whose password an administrator set); refresh:
  REFRESH_TOKEN_AUTH; sign-out revokes the refresh token (RevokeToken). An ID token already
  handed out works until it expires (15 minutes in the template): that is how Cognito's JWTs and
  API Gateway's JWT authorizer work.
- Password sign-up is not offered on Cognito: accounts begin at the first code sign-in or with
  an administrator's grant (the pool allows admin-created users only).
"""

from __future__ import annotations

import copy
import hmac
import logging
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

from roost.cloud.clock import Clock
from roost.cloud.errors import Conflict, NotFound, RoostError, Unauthorized, Unavailable
from roost.cloud.identity import SYSTEM_ADMIN, SYSTEM_APP, Grant, Principal
from roost.cloud.local.identity import CODE_TTL, not_a_code, wrong_code, wrong_credentials
from roost.cloud.local.identity_emails import EmailRules
from roost.cloud.local.identity_tables import CODES, EMAILS, USERS
from roost.cloud.local.identity_tokens import OneTimeCodes, Tokens, six_digits
from roost.cloud.local.identity_users import Directory
from roost.cloud.table import Op, Put, Tables, attr

from .cognito_tokens import CognitoTokens, pool_issuer

log = logging.getLogger("roost.identity")

PURPOSE = "cognito"  # the codes-table item holding a custom-auth session
REFRESH_DAYS = 30  # the template's RefreshTokenValidity
_WRONG = {"NotAuthorizedException", "UserNotFoundException", "CodeMismatchException",
          "ExpiredCodeException", "UserNotConfirmedException", "PasswordResetRequiredException"}


def _code(exc: Exception) -> str:
    return str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))


class CognitoIdentity(Directory):
    """Identity on a Cognito user pool and the identity tables (grants, users, sessions)."""

    def __init__(
        self, tables: Tables, *, clock: Clock, cognito: Any, pool_id: str, client_id: str,
        region: str, secret: bytes, jwks_url: str | None = None,
        allowed_email_pattern: str | None = None, admin_emails: Sequence[str] = (),
        verifier: CognitoTokens | None = None,
    ) -> None:
        if not isinstance(secret, bytes) or len(secret) < 32:
            raise ValueError("the identity secret must be at least 32 random bytes")
        self.tables = tables
        self.clock = clock
        self.cognito = cognito
        self.pool_id = pool_id
        self.client_id = client_id
        issuer = pool_issuer(region, pool_id)
        self.tokens = verifier or CognitoTokens(
            issuer=issuer, audiences=[client_id],
            jwks_url=jwks_url or f"{issuer}/.well-known/jwks.json")
        self.emails = EmailRules(allowed_pattern=allowed_email_pattern)
        self.admin_emails = frozenset(self.emails.normalize(e) for e in admin_emails)
        self.codes = OneTimeCodes(secret)

    def using(self, tables: Tables) -> CognitoIdentity:
        """This identity writing through one call's guarded tables (see LocalIdentity.using)."""
        bound = copy.copy(self)
        bound.tables = tables
        return bound

    # ------------------------------------------------------------------ the port

    def authenticate(self, access_token: str) -> Principal:
        claims = self.tokens.verify(access_token, now=self.clock.now())
        return self._principal(claims["sub"], self.emails.normalize(claims["email"]))

    def principal(self, user_id: str) -> Principal:
        user = self.get_user(user_id=user_id)
        return self._principal(user.id, user.email)

    def _principal(self, user_id: str, address: str) -> Principal:
        """The stored grants; a configured admin address is a system admin by its verified
        email at each request, so nothing needs storing for it."""
        grants = set(self.grants_of(user_id))
        if address in self.admin_emails:
            grants.add(Grant(SYSTEM_APP, SYSTEM_ADMIN))
        return Principal(user_id=user_id, email=address, grants=frozenset(grants))

    def code_for(self, code_id: str, email: str) -> str:
        """The code the create-challenge trigger chose; the mail handler sends it."""
        return self.codes(code_id, email)

    # ------------------------------------------------------------------ sign-in flows

    def request_code(self, email: str, *, client: str | None) -> None:
        address = self.emails.admit(email)
        self._pool_sub(address, create=True)
        answer = self._call("initiate_auth", ClientId=self.client_id, AuthFlow="CUSTOM_AUTH",
                            AuthParameters={"USERNAME": address})
        session = answer.get("Session")
        if not session or answer.get("ChallengeName") != "CUSTOM_CHALLENGE":
            raise Unavailable("the identity provider did not start a code sign-in; check its "
                              "custom-auth triggers", code="identity_unavailable")
        self._keep_session(address, session)

    def verify_code(self, email: str, code: str, *, client: str | None) -> Tokens:
        address = self.emails.admit(email)
        digits = six_digits(code)
        if digits is None:
            raise not_a_code()
        key = {"email": address, "purpose": PURPOSE}
        item = self.tables.table(CODES.name).get(key)
        if item is None:
            raise wrong_code()
        try:
            answer = self._call(
                "respond_to_auth_challenge", ClientId=self.client_id,
                ChallengeName="CUSTOM_CHALLENGE", Session=item["session"],
                ChallengeResponses={"USERNAME": address, "ANSWER": digits})
        except Unauthorized:
            self.tables.table(CODES.name).delete(key)  # the flow failed: ask for a new code
            raise
        if "AuthenticationResult" not in answer:
            self._keep_session(address, answer.get("Session") or item["session"])
            raise wrong_code()
        self.tables.table(CODES.name).delete(key)
        return self._tokens(address, answer["AuthenticationResult"])

    def sign_in(self, email: str, password: str, *, client: str | None) -> Tokens:
        address = self.emails.admit(email)
        if not isinstance(password, str) or not password or len(password) > 256:
            raise wrong_credentials()
        try:
            answer = self._call("initiate_auth", ClientId=self.client_id,
                                AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": address, "PASSWORD": password})
        except Unauthorized:
            raise wrong_credentials() from None
        if "AuthenticationResult" not in answer:  # e.g. NEW_PASSWORD_REQUIRED
            raise Unauthorized("this account must finish setting its password first; sign in "
                               "with an emailed code", code="password_change_required")
        return self._tokens(address, answer["AuthenticationResult"])

    def refresh(self, refresh_token: str) -> Tokens:
        if not isinstance(refresh_token, str) or not refresh_token or len(refresh_token) > 8192:
            raise Unauthorized("the token is not valid; sign in again", code="token_invalid")
        answer = self._call("initiate_auth", ClientId=self.client_id,
                            AuthFlow="REFRESH_TOKEN_AUTH",
                            AuthParameters={"REFRESH_TOKEN": refresh_token})
        result = dict(answer.get("AuthenticationResult") or {})
        result.setdefault("RefreshToken", refresh_token)  # Cognito keeps it unless rotating
        claims = self.tokens.verify(result.get("IdToken"), now=self.clock.now())
        return self._tokens(self.emails.normalize(claims["email"]), result, record=False,
                            claims=claims)

    def sign_out(self, access_token: str | None, refresh_token: str | None) -> None:
        """Revoke the refresh token (safe to repeat); the ID token lapses on its own."""
        if refresh_token:
            with suppress(Unauthorized):  # already revoked or never valid: signed out anyway
                self._call("revoke_token", Token=refresh_token, ClientId=self.client_id)

    def sign_up(self, email: str, password: str, *, client: str | None) -> None:
        raise _no_sign_up()

    def confirm_sign_up(self, email: str, code: str, *, client: str | None) -> Tokens:
        raise _no_sign_up()

    # ------------------------------------------------------------------ internals

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One Cognito call; its failures as the error family (never a botocore exception)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.cognito, operation)(**params)  # type: ignore[no-any-return]
        except ClientError as exc:
            code = _code(exc)
            if code in _WRONG:
                raise Unauthorized("the identity provider refused the sign-in",
                                   code="sign_in_refused") from exc
            if code in ("UsernameExistsException", "AliasExistsException"):
                raise Conflict("that account already exists", code="user_exists") from exc
            if code in ("TooManyRequestsException", "LimitExceededException",
                        "TooManyFailedAttemptsException"):
                raise Unavailable("too many sign-in attempts right now; wait a minute",
                                  code="busy") from exc
            log.error("cognito %s failed: %s", operation, code)
            raise Unavailable(f"the identity provider failed ({code})",
                              code="identity_unavailable") from exc
        except BotoCoreError as exc:
            raise Unavailable("the identity provider could not be reached",
                              code="identity_unavailable") from exc

    def _keep_session(self, address: str, session: str) -> None:
        now = int(self.clock.now().timestamp())
        self.tables.table(CODES.name).put({"email": address, "purpose": PURPOSE,
                                           "session": session, "expires": now + CODE_TTL})

    def _pool_sub(self, address: str, *, create: bool) -> str:
        """The pool user's `sub` for `address`, creating the user (no Cognito mail, the email
        already verified: it is proven by the code) when `create`."""
        try:
            found = self._call("admin_get_user", UserPoolId=self.pool_id, Username=address)
            attributes = found.get("UserAttributes", [])
        except Unauthorized:
            if not create:
                raise NotFound(f"no user {address}", code="user_not_found") from None
            try:
                made = self._call(
                    "admin_create_user", UserPoolId=self.pool_id, Username=address,
                    MessageAction="SUPPRESS",
                    UserAttributes=[{"Name": "email", "Value": address},
                                    {"Name": "email_verified", "Value": "true"}])
            except Conflict:
                return self._pool_sub(address, create=False)  # created concurrently
            attributes = made["User"].get("Attributes", [])
        for a in attributes:
            if a["Name"] == "sub":
                return str(a["Value"])
        raise Unavailable("the identity provider returned a user without an id",
                          code="identity_unavailable")

    def _new_user_ops(self, address: str, now: datetime, password_hash: str | None
                      ) -> tuple[str, list[Op]]:
        """Directory's user record, keyed by the pool's `sub` (so tokens need no lookup)."""
        user_id = self._pool_sub(address, create=True)
        return user_id, [
            Put(USERS.name, {"id": user_id, "kind": "user", "email": address,
                             "created": now.isoformat()}, condition=attr("id").not_exists()),
            Put(EMAILS.name, {"email": address, "user_id": user_id},
                condition=attr("email").not_exists()),
        ]

    def _tokens(self, address: str, result: dict[str, Any], *, record: bool = True,
                claims: dict[str, Any] | None = None) -> Tokens:
        """Tokens for a finished sign-in. `record`: make sure Roost's user record exists (the
        sign-in routes declare those writes; a refresh needs none)."""
        claims = claims or self.tokens.verify(result.get("IdToken"), now=self.clock.now())
        if not hmac.compare_digest(self.emails.normalize(claims["email"]), address):
            raise Unauthorized("the identity provider answered for another account",
                               code="token_invalid")
        if record:
            self._ensure_user(address, self.clock.now())
        return Tokens(access_token=result["IdToken"], refresh_token=result["RefreshToken"],
                      user_id=claims["sub"], email=address,
                      expires_in=int(result.get("ExpiresIn", 900)),
                      refresh_expires_in=REFRESH_DAYS * 86400)


def _no_sign_up() -> RoostError:
    return Unavailable("this deployment creates accounts at the first sign-in by emailed "
                       "code; password sign-up is not offered", code="sign_up_unavailable")

