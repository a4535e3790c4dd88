"""Sessions: a refresh-token family per sign-in, rotated on every refresh. A rotated token used
again means someone holds a copy, so the whole family ends; signing out ends it too, and puts
the access token's id on a revoked list that forgets it once the token would have expired."""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import datetime

from roost.cloud.clock import Clock
from roost.cloud.errors import Conflict, TransactionCanceled, Unauthorized
from roost.cloud.ids import new_id
from roost.cloud.table import Op, Put, Tables, Update, attr

from .identity_tables import REVOKED, SESSIONS, USERS
from .identity_tokens import AccessTokens, Tokens, invalid, new_refresh_token, parse_refresh_token

log = logging.getLogger("roost.identity")


class Sessions:
    """Refresh, sign-out and the tokens a sign-in hands out: part of LocalIdentity."""

    tables: Tables
    clock: Clock
    access: AccessTokens
    refresh_ttl: int

    def refresh(self, refresh_token: str) -> Tokens:
        """Trade a refresh token for new tokens. Each refresh token works once: using a
        rotated one again means it was copied, so the whole family is revoked."""
        family, sk = parse_refresh_token(refresh_token)
        now = self.clock.now()
        ts = int(now.timestamp())
        sessions = self.tables.table(SESSIONS.name)
        head = sessions.get({"family": family, "sk": "family"})
        token = sessions.get({"family": family, "sk": sk})
        if head is None or token is None or token["expires"] <= ts:
            raise invalid()
        if head["revoked"]:
            raise Unauthorized("this sign-in was ended; sign in again", code="token_revoked")
        if token["used"]:
            self._revoke_family(family)
            log.warning("refresh token reused; session family %s revoked", family)
            raise Unauthorized("this refresh token was already used, so the session has been "
                               "ended for safety; sign in again", code="token_reused")
        user = self.tables.table(USERS.name).get({"id": head["user_id"]})
        if user is None:
            raise invalid()
        new_token, new_sk = new_refresh_token(family)
        expires = ts + self.refresh_ttl
        try:
            self.tables.transact([
                Update(SESSIONS.name, {"family": family, "sk": sk}, set={"used": True},
                       condition=attr("used").eq(False)),
                Update(SESSIONS.name, {"family": family, "sk": "family"},
                       set={"expires": expires}, condition=attr("revoked").eq(False)),
                Put(SESSIONS.name, {"family": family, "sk": new_sk, "used": False,
                                    "expires": expires}),
            ])
        except TransactionCanceled as exc:
            if exc.reasons[0] is not None:  # a concurrent refresh with the same token
                self._revoke_family(family)
                raise Unauthorized("this refresh token was already used; sign in again",
                                   code="token_reused") from None
            raise Unauthorized("this sign-in was ended; sign in again",
                               code="token_revoked") from None
        return self._tokens(user["id"], user["email"], new_token, now)

    def sign_out(self, access_token: str | None = None, refresh_token: str | None = None) -> None:
        """End a sign-in: the access token is refused from now on and the refresh token's
        family can no longer refresh. Tokens that are not valid are ignored (idempotent)."""
        now = self.clock.now()
        if access_token:
            try:
                claims = self.access.verify(access_token, now=now, allow_expired=True)
            except Unauthorized:
                claims = None
            if claims and claims["exp"] > now.timestamp():
                self.tables.table(REVOKED.name).put(
                    {"jti": claims["jti"], "user_id": claims["sub"], "expires": claims["exp"]})
        if refresh_token:
            try:
                family, sk = parse_refresh_token(refresh_token)
            except Unauthorized:
                return
            if self.tables.table(SESSIONS.name).get({"family": family, "sk": sk}) is not None:
                self._revoke_family(family)

    def _revoke_family(self, family: str) -> None:
        with suppress(Conflict):  # already gone: nothing left to revoke
            self.tables.table(SESSIONS.name).update(
                {"family": family, "sk": "family"}, set={"revoked": True},
                condition=attr("family").exists())

    def _new_session(self, user_id: str, email: str, now: datetime) -> tuple[list[Op], Tokens]:
        family = new_id(now)
        token, sk = new_refresh_token(family)
        expires = int(now.timestamp()) + self.refresh_ttl
        ops: list[Op] = [
            Put(SESSIONS.name, {"family": family, "sk": "family", "user_id": user_id,
                                "revoked": False, "created": now.isoformat(),
                                "expires": expires}, condition=attr("family").not_exists()),
            Put(SESSIONS.name, {"family": family, "sk": sk, "used": False, "expires": expires}),
        ]
        return ops, self._tokens(user_id, email, token, now)

    def _tokens(self, user_id: str, email: str, refresh_token: str, now: datetime) -> Tokens:
        access = self.access.issue(user_id=user_id, email=email, jti=new_id(now), now=now)
        return Tokens(access_token=access, refresh_token=refresh_token, user_id=user_id,
                      email=email, expires_in=self.access.ttl,
                      refresh_expires_in=self.refresh_ttl)
