"""LocalIdentity: the Identity port on Tables — one-time codes, passwords, tokens and grants.

It needs only the Table port and a Clock, so the same class runs on SQLite locally and on
DynamoDB. The Tables it is given must also hold the events outbox (`roost.cloud.events.OUTBOX`):
mail is never sent here, only published in the same transaction as the data that causes it.

Nothing secret is stored or logged in the clear: codes are recomputed from a random code id with
the deployment secret, passwords are argon2id hashes, refresh tokens are stored as digests.
"""

from __future__ import annotations

import copy
import hmac
import logging
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher

from roost.cloud.audit import current_actor
from roost.cloud.clock import Clock
from roost.cloud.errors import Conflict, Invalid, NotFound, TransactionCanceled, Unauthorized
from roost.cloud.events import Event, publish
from roost.cloud.identity import ANY_SCOPE, SYSTEM_ADMIN, SYSTEM_APP, Grant, Principal
from roost.cloud.ids import new_id
from roost.cloud.table import Delete, Item, Op, Put, Tables, Update, attr

from .identity_emails import EmailRules
from .identity_limits import Hit, Limit, Limits
from .identity_passwords import MAX_LENGTH, Passwords, check_policy
from .identity_tables import CODES, EMAILS, GRANTS, REVOKED, SESSIONS, TABLES, USERS
from .identity_tokens import (
    AccessTokens,
    Tokens,
    derive_key,
    invalid,
    new_refresh_token,
    parse_refresh_token,
)

__all__ = ["CODE_EVENT", "SIGNUP_EVENT", "TABLES", "Limit", "Limits", "LocalIdentity", "Tokens",
           "User"]

log = logging.getLogger("roost.identity")

CODE_TTL = 600  # a one-time code lives 10 minutes
CODE_TRIES = 5  # and allows 5 tries; the 6th fails even with the right code
CODE_EVENT = "auth.code_requested"  # data: {email, code_id}; its handler mails the code
SIGNUP_EVENT = "auth.signup_requested"  # data: {email, code_id}; mails the code or a notice
SIGNIN, SIGNUP = "signin", "signup"  # the purposes a code can serve

_CODE = re.compile(r"^[0-9]{6}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SCOPE = re.compile(r"^(\*|[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127})$")
_TRANSACT_RETRIES = 3


@dataclass(frozen=True)
class User:
    id: str
    email: str
    created_at: datetime
    has_password: bool = False

    @classmethod
    def from_item(cls, item: Item) -> User:
        return cls(id=item["id"], email=item["email"],
                   created_at=datetime.fromisoformat(item["created"]),
                   has_password=bool(item.get("password_hash")))


def wrong_code() -> Unauthorized:
    return Unauthorized("that code is wrong or has expired; check it or ask for a new one",
                        code="code_invalid")


def wrong_credentials() -> Unauthorized:
    return Unauthorized("email or password is wrong", code="wrong_credentials")


def check_grant(grant: Grant) -> Grant:
    if not (_NAME.match(grant.app) and _NAME.match(grant.role)):
        raise Invalid(f"grant {grant}: app and role are lower-case names (letters, digits, _)",
                      code="invalid_grant")
    if not _SCOPE.match(grant.scope):
        raise Invalid(f"grant {grant}: a scope is '*' or letters, digits and _ . @ : -",
                      code="invalid_grant")
    return grant


def _grant_sk(grant: Grant) -> str:
    return f"{grant.app}#{grant.role}#{grant.scope}"


@contextmanager
def _acting_as(actor: str) -> Iterator[None]:
    token = current_actor.set(actor)
    try:
        yield
    finally:
        current_actor.reset(token)


class LocalIdentity:
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
        self._code_key = derive_key(secret, "one-time-code")

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
        digest = hmac.new(self._code_key, f"{code_id}|{email}".encode(), "sha256").digest()
        return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"

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
        if not isinstance(code, str) or not _CODE.match(code.strip().replace(" ", "")):
            raise Invalid("a code is the 6 digits from the email", code="invalid_code")
        code = code.strip().replace(" ", "")
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
        if not hmac.compare_digest(self.code_for(item["code_id"], address), code):
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

    # ------------------------------------------------------------------ users and grants

    def principal(self, user_id: str) -> Principal:
        user = self.get_user(user_id=user_id)
        return Principal(user_id=user.id, email=user.email, grants=self.grants_of(user.id))

    def get_user(self, *, user_id: str | None = None, email: str | None = None) -> User:
        """By id or by email; `NotFound` if there is no such user."""
        if (user_id is None) == (email is None):
            raise ValueError("get_user takes exactly one of user_id, email")
        item = (self.tables.table(USERS.name).get({"id": user_id}) if user_id
                else self._user_item(self.emails.normalize(email)))
        if item is None:
            raise NotFound(f"no user {email or user_id}", code="user_not_found")
        return User.from_item(item)

    def list_users(self, *, limit: int = 50, cursor: str | None = None
                   ) -> tuple[list[User], str | None]:
        """Users in email order, a page at a time."""
        page = self.tables.table(USERS.name).query("user", index="by_email", limit=limit,
                                                   cursor=cursor)
        return [User.from_item(i) for i in page.items], page.cursor

    def grants_of(self, user_id: str) -> frozenset[Grant]:
        grants: set[Grant] = set()
        cursor: str | None = None
        while True:
            page = self.tables.table(GRANTS.name).query(user_id, cursor=cursor)
            grants.update(Grant(i["app"], i["role"], i["scope"]) for i in page.items)
            if page.cursor is None:
                return frozenset(grants)
            cursor = page.cursor

    def users_with(self, app: str, role: str, scope: str = ANY_SCOPE) -> list[User]:
        """Users granted `role` in `app` for `scope` — including those granted it for every
        scope ("*"). System admins are not listed: they may act, but are not who to notify."""
        check_grant(Grant(app, role, scope))
        ids: list[str] = []
        for s in dict.fromkeys((scope, ANY_SCOPE)):
            cursor: str | None = None
            while True:
                page = self.tables.table(GRANTS.name).query(
                    _grant_sk(Grant(app, role, s)), index="by_role", cursor=cursor)
                ids.extend(i["user_id"] for i in page.items if i["user_id"] not in ids)
                if page.cursor is None:
                    break
                cursor = page.cursor
        users = self.tables.table(USERS.name)
        return [User.from_item(item) for uid in ids if (item := users.get({"id": uid}))]

    def grant(self, email: str, grant: Grant, *, by: str) -> User:
        """Give `email` a role. Creates the account if it has never signed in, so an admin can
        prepare roles ahead of a first sign-in."""
        check_grant(grant)
        address = self.emails.admit(email)
        now = self.clock.now()
        user = self._ensure_user(address, now)
        with _acting_as(by):
            self.tables.transact([self._grant_put(user.id, user.email, grant, by, now)])
        log.info("granted %s to user %s by %s", grant, user.id, by)
        return user

    def revoke(self, email: str, grant: Grant, *, by: str) -> bool:
        """Take a role away; False if the user did not hold it. `NotFound` for no such user."""
        check_grant(grant)
        user = self.get_user(email=email)
        with _acting_as(by):
            old = self.tables.table(GRANTS.name).delete(
                {"user_id": user.id, "grant": _grant_sk(grant)})
        if old is not None:
            log.info("revoked %s from user %s by %s", grant, user.id, by)
        return old is not None

    def ensure_admins(self) -> int:
        """Grant roost:admin to every configured admin email that has an account (startup);
        returns how many grants were added."""
        added = 0
        admin = Grant(SYSTEM_APP, SYSTEM_ADMIN)
        for address in sorted(self.admin_emails):
            item = self._user_item(address)
            if item is not None and admin not in self.grants_of(item["id"]):
                with _acting_as("system"):
                    self.tables.transact([self._grant_put(item["id"], address, admin, "system",
                                                          self.clock.now())])
                added += 1
        return added

    def user_exists(self, email: str) -> bool:
        return self._user_item(self.emails.normalize(email)) is not None

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

    def _user_item(self, address: str) -> Item | None:
        claim = self.tables.table(EMAILS.name).get({"email": address})
        return self.tables.table(USERS.name).get({"id": claim["user_id"]}) if claim else None

    def _new_user_ops(self, address: str, now: datetime, password_hash: str | None
                      ) -> tuple[str, list[Op]]:
        user_id = new_id(now)
        item: Item = {"id": user_id, "kind": "user", "email": address,
                      "created": now.isoformat()}
        if password_hash:
            item["password_hash"] = password_hash
        return user_id, [
            Put(USERS.name, item, condition=attr("id").not_exists()),
            Put(EMAILS.name, {"email": address, "user_id": user_id},
                condition=attr("email").not_exists()),
        ]

    def _ensure_user(self, address: str, now: datetime) -> User:
        for _ in range(_TRANSACT_RETRIES):
            item = self._user_item(address)
            if item is not None:
                return User.from_item(item)
            user_id, ops = self._new_user_ops(address, now, None)
            try:
                self.tables.transact(ops)
            except TransactionCanceled:
                continue  # created concurrently: read it
            return User(id=user_id, email=address, created_at=now)
        raise Conflict("the account is being changed by another request; try again",
                       code="busy")

    def _grant_put(self, user_id: str, email: str, grant: Grant, by: str, now: datetime) -> Put:
        return Put(GRANTS.name, {
            "user_id": user_id, "grant": _grant_sk(grant), "role_key": _grant_sk(grant),
            "app": grant.app, "role": grant.role, "scope": grant.scope, "email": email,
            "granted_by": by, "granted_at": now.isoformat()})

    def _finish(self, address: str, *, method: str, first: list[Op],
                password_hash: str | None = None) -> Tokens:
        """Complete a sign-in in one transaction: the `first` ops (spending the code), the
        user (created if new), the admin grant if due, and the new session."""
        for _ in range(_TRANSACT_RETRIES):
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
                with _acting_as(user_id):
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

