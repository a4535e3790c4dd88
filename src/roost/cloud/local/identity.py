"""LocalIdentity: the Identity port on Tables — one-time codes, passwords, tokens and grants.

It needs only the Table port and a Clock, so the same class runs on SQLite locally and on
DynamoDB. The Tables it is given must also hold the events outbox (`roost.cloud.events.OUTBOX`):
mail is never sent here, only published in the same transaction as the data that causes it.

Nothing secret is stored or logged in the clear: codes are recomputed from a random code id with
the deployment secret, passwords are argon2id hashes, refresh tokens are stored as digests.
"""

from __future__ import annotations

import copy
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from roost.cloud.clock import Clock
from roost.cloud.errors import Conflict, Invalid, NotFound, TransactionCanceled, Unauthorized
from roost.cloud.events import Event, publish
from roost.cloud.identity import SYSTEM_ADMIN, SYSTEM_APP, Grant, Principal
from roost.cloud.ids import new_id
from roost.cloud.table import Delete, Item, Op, Put, Tables, Update, attr

from .identity_emails import EmailRules
from .identity_limits import Hit, Limit, Limits
from .identity_passwords import MAX_LENGTH, Passwords, check_policy
from .identity_sessions import Sessions
from .identity_tables import CODES, REVOKED, TABLES, USERS
from .identity_tokens import AccessTokens, OneTimeCodes, Tokens, invalid, six_digits
from .identity_users import TRANSACT_RETRIES, Directory, User, acting_as

if TYPE_CHECKING:
    from argon2 import PasswordHasher

__all__ = ["CODE_EVENT", "SIGNUP_EVENT", "TABLES", "Limit", "Limits", "LocalIdentity", "Tokens",
           "User"]

log = logging.getLogger("roost.identity")

CODE_TTL = 600  # a one-time code lives 10 minutes
CODE_TRIES = 5  # and allows 5 tries; the 6th fails even with the right code
CODE_EVENT = "auth.code_requested"  # data: {email, code_id}; its handler mails the code
SIGNUP_EVENT = "auth.signup_requested"  # data: {email, code_id}; mails the code or a notice
SIGNIN, SIGNUP = "signin", "signup"  # the purposes a code can serve



def wrong_code() -> Unauthorized:
    return Unauthorized("that code is wrong or has expired; check it or ask for a new one",
                        code="code_invalid")


def not_a_code() -> Invalid:
    return Invalid("a code is the 6 digits from the email", code="invalid_code")


def wrong_credentials() -> Unauthorized:
    return Unauthorized("email or password is wrong", code="wrong_credentials")


class LocalIdentity(Sessions, Directory):
    """Identity on Tables. See the module docstring; `TABLES` lists the tables it needs."""

    def __init__(
        self,
        tables: Tables,
        *,
        clock: Clock,
        secret: bytes,
        allowed_email_pattern: str | None = None,
        email_case_sensitive: bool = False,
        admin_emails: Sequence[str] = (),
        access_ttl: int = 900,
        refresh_ttl: int = 30 * 86400,
        limits: Limits | None = None,
        password_hasher: PasswordHasher | None = None,
    ) -> None:
        if not isinstance(secret, bytes) or len(secret) < 32:
            raise ValueError("the identity secret must be at least 32 random bytes")
        if access_ttl <= 0 or refresh_ttl <= access_ttl:
            raise ValueError("token lifetimes: 0 < access_ttl < refresh_ttl")
        self.tables = tables
        self.clock = clock
        self.emails = EmailRules(allowed_pattern=allowed_email_pattern,
                                 case_sensitive=email_case_sensitive)
        self.admin_emails = frozenset(self.emails.normalize(e) for e in admin_emails)
        self.limits = limits or Limits()
        self.passwords = Passwords(password_hasher)
        self.access = AccessTokens(secret, ttl=access_ttl)
        self.refresh_ttl = refresh_ttl
        self.codes = OneTimeCodes(secret)

    def using(self, tables: Tables) -> LocalIdentity:
        """This identity writing through `tables`: the guarded Tables of one function call, so
        the auth routes' declarations are enforced and the events they publish are seen."""
        bound = copy.copy(self)
        bound.tables = tables
        return bound

    # ------------------------------------------------------------------ one-time codes

    def request_code(self, email: str, *, client: str | None) -> None:
        """Publish `auth.code_requested` for a fresh sign-in code. The same answer whether or
        not the account exists (it is created on the first verified code)."""
        address = self.emails.admit(email)
        now = self.clock.now()
        self._count([Hit(f"code:email:{address}", self.limits.code_per_email),
                     Hit(f"code:client:{_client(client)}", self.limits.code_per_client)], now)
        self._issue_code(address, SIGNIN, CODE_EVENT, now)

    def verify_code(self, email: str, code: str, *, client: str | None) -> Tokens:
        """Sign in with the code mailed by `request_code`; creates the user on first sign-in."""
        address = self.emails.admit(email)
        item = self._consume_code(address, SIGNIN, code, client)
        return self._finish(address, method="code", first=[self._spend(item)])

    def code_for(self, code_id: str, email: str) -> str:
        """The 6 digits a code id stands for. Only the mail handler needs this."""
        return self.codes(code_id, email)

    def _issue_code(self, address: str, purpose: str, event_type: str, now: datetime,
                    **extra: Any) -> None:
        code_id = secrets.token_urlsafe(18)
        item = {"email": address, "purpose": purpose, "code_id": code_id, "tries": 0,
                "created": now.isoformat(), "expires": int(now.timestamp()) + CODE_TTL, **extra}
        event = Event(type=event_type, data={"email": address, "code_id": code_id},
                      id=new_id(now), at=now)
        # A new code replaces the previous one for the same purpose: one live code per inbox.
        self.tables.transact([Put(CODES.name, item), publish(event)])

    def _consume_code(self, address: str, purpose: str, code: object,
                      client: str | None) -> Item:
        """Count one try against the live code and return its item if `code` is right."""
        digits = six_digits(code)
        if digits is None:
            raise not_a_code()
        now = self.clock.now()
        ts = int(now.timestamp())
        self._count([Hit(f"verify:client:{_client(client)}", self.limits.verify_per_client)], now)
        key = {"email": address, "purpose": purpose}
        item = self.tables.table(CODES.name).get(key)
        if item is None or item["expires"] <= ts:
            raise wrong_code()
        if item["tries"] >= CODE_TRIES:
            raise _exhausted()
        try:
            self.tables.table(CODES.name).update(
                key, add={"tries": 1},
                condition=attr("code_id").eq(item["code_id"]) & attr("tries").lt(CODE_TRIES)
                & attr("expires").gt(ts))
        except Conflict:
            now_item = self.tables.table(CODES.name).get(key)
            if now_item is not None and now_item["tries"] >= CODE_TRIES:
                raise _exhausted() from None
            raise wrong_code() from None
        if not self.codes.matches(item["code_id"], address, digits):
            raise wrong_code()
        return item

    @staticmethod
    def _spend(item: Item) -> Delete:
        """Deleting the code in the sign-in's transaction makes it single-use even under a
        race: the second of two right answers finds it gone."""
        return Delete(CODES.name, {"email": item["email"], "purpose": item["purpose"]},
                      condition=attr("code_id").eq(item["code_id"]))

    # ------------------------------------------------------------------ passwords

    def sign_up(self, email: str, password: str, *, client: str | None) -> None:
        """Start a password account: publish `auth.signup_requested`; the handler mails a code
        to confirm the address, or — if the account exists — a notice to its owner instead.
        The caller gets the same answer either way."""
        address = self.emails.admit(email)
        check_policy(password, email=address)
        now = self.clock.now()
        self._count([Hit(f"signup:email:{address}", self.limits.signup_per_email),
                     Hit(f"signup:client:{_client(client)}", self.limits.signup_per_client)],
                    now)
        self._issue_code(address, SIGNUP, SIGNUP_EVENT, now,
                         password_hash=self.passwords.hash(password))

    def confirm_sign_up(self, email: str, code: str, *, client: str | None) -> Tokens:
        """Finish `sign_up` with the mailed code: the account is created with its password."""
        address = self.emails.admit(email)
        item = self._consume_code(address, SIGNUP, code, client)
        return self._finish(address, method="signup", first=[self._spend(item)],
                            password_hash=item["password_hash"])

    def sign_in(self, email: str, password: str, *, client: str | None) -> Tokens:
        address = self.emails.admit(email)
        if not isinstance(password, str) or not password or len(password) > MAX_LENGTH:
            raise wrong_credentials()
        now = self.clock.now()
        self._count([Hit(f"signin:email:{address}", self.limits.signin_per_email),
                     Hit(f"signin:client:{_client(client)}", self.limits.signin_per_client)],
                    now)
        user = self._user_item(address)
        ok, rehash = self.passwords.verify(user.get("password_hash") if user else None, password)
        if not ok or user is None:
            log.info("password sign-in refused")
            raise wrong_credentials()
        first: list[Op] = []
        if rehash:
            first.append(Update(USERS.name, {"id": user["id"]}, set={"password_hash": rehash},
                                condition=attr("id").exists()))
        return self._finish(address, method="password", first=first)

    # ------------------------------------------------------------------ tokens

    def authenticate(self, access_token: str) -> Principal:
        claims = self.access.verify(access_token, now=self.clock.now())
        if self.tables.table(REVOKED.name).get({"jti": claims["jti"]}) is not None:
            raise Unauthorized("this sign-in was ended; sign in again", code="token_revoked")
        try:
            return self.principal(claims["sub"])
        except NotFound:
            raise invalid() from None

    # ------------------------------------------------------------------ internals

    def _count(self, hits: list[Hit], now: datetime) -> None:
        """Count one attempt against each limit, all or none; `RateLimited` when one is spent."""
        try:
            self.tables.transact([h.op(now) for h in hits])
        except TransactionCanceled as exc:
            spent = [hits[i] for i in exc.failed if exc.reasons[i] == "condition_failed"]
            if not spent:
                raise Conflict("too many requests at once; try again", code="busy") from None
            log.warning("rate limit reached: %s", ":".join(spent[0].bucket.split(":", 2)[:2]))
            raise spent[0].refusal(now) from None

    def _finish(self, address: str, *, method: str, first: list[Op],
                password_hash: str | None = None) -> Tokens:
        """Complete a sign-in in one transaction: the `first` ops (spending the code), the
        user (created if new), the admin grant if due, and the new session."""
        for _ in range(TRANSACT_RETRIES):
            now = self.clock.now()
            item = self._user_item(address)
            if item is None:
                user_id, user_ops = self._new_user_ops(address, now, password_hash)
            elif password_hash:
                # A sign-up code for an address that has an account: its owner was mailed a
                # notice, never this code, so whoever holds it guessed. Never a password reset.
                raise wrong_code()
            else:
                user_id, user_ops = item["id"], []
            admin = Grant(SYSTEM_APP, SYSTEM_ADMIN)
            if address in self.admin_emails and (item is None
                                                 or admin not in self.grants_of(user_id)):
                user_ops.append(self._grant_put(user_id, address, admin, "system", now))
            session_ops, tokens = self._new_session(user_id, address, now)
            try:
                with acting_as(user_id):
                    self.tables.transact([*first, *user_ops, *session_ops])
            except TransactionCanceled as exc:
                if any(r is not None for r in exc.reasons[:len(first)]):
                    raise wrong_code() if method != "password" else wrong_credentials() \
                        from None
                continue  # lost a race creating this user: read again
            log.info("user %s signed in (%s)", user_id, method)
            return tokens
        raise Conflict("the account is being changed by another request; try again",
                       code="busy")


def _exhausted() -> Unauthorized:
    return Unauthorized("too many wrong tries for this code; ask for a new one",
                        code="code_exhausted")


def _client(client: str | None) -> str:
    return (client or "unknown")[:100]

