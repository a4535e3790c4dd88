"""Users and their role grants on Tables: one account per address (its claim is written in the
same transaction as the user), and grants indexed by (app, role, scope), so an app can ask who
holds a role — whom to notify — without scanning."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from roost.cloud.audit import current_actor
from roost.cloud.clock import Clock
from roost.cloud.errors import Conflict, Invalid, NotFound, TransactionCanceled
from roost.cloud.identity import ANY_SCOPE, SYSTEM_ADMIN, SYSTEM_APP, Grant, Principal
from roost.cloud.ids import new_id
from roost.cloud.table import Item, Op, Put, Tables, attr, query_all

from .identity_emails import EmailRules
from .identity_tables import EMAILS, GRANTS, USERS

log = logging.getLogger("roost.identity")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SCOPE = re.compile(r"^(\*|[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127})$")
TRANSACT_RETRIES = 3


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
def acting_as(actor: str) -> Iterator[None]:
    token = current_actor.set(actor)
    try:
        yield
    finally:
        current_actor.reset(token)

class Directory:
    """Users and grants: the part of LocalIdentity that apps, admins and the CLI use."""

    tables: Tables
    clock: Clock
    emails: EmailRules
    admin_emails: frozenset[str]

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
        return frozenset(Grant(i["app"], i["role"], i["scope"])
                         for i in query_all(self.tables.table(GRANTS.name), user_id))

    def users_with(self, app: str, role: str, scope: str = ANY_SCOPE) -> list[User]:
        """Users granted `role` in `app` for `scope` — including those granted it for every
        scope ("*"). System admins are not listed: they may act, but are not who to notify."""
        check_grant(Grant(app, role, scope))
        ids: list[str] = []
        for s in dict.fromkeys((scope, ANY_SCOPE)):
            held = query_all(self.tables.table(GRANTS.name), _grant_sk(Grant(app, role, s)),
                             index="by_role")
            ids.extend(i["user_id"] for i in held if i["user_id"] not in ids)
        users = self.tables.table(USERS.name)
        return [User.from_item(item) for uid in ids if (item := users.get({"id": uid}))]

    def grant(self, email: str, grant: Grant, *, by: str) -> User:
        """Give `email` a role. Creates the account if it has never signed in, so an admin can
        prepare roles ahead of a first sign-in."""
        check_grant(grant)
        address = self.emails.admit(email)
        now = self.clock.now()
        user = self._ensure_user(address, now)
        with acting_as(by):
            self.tables.transact([self._grant_put(user.id, user.email, grant, by, now)])
        log.info("granted %s to user %s by %s", grant, user.id, by)
        return user

    def revoke(self, email: str, grant: Grant, *, by: str) -> bool:
        """Take a role away; False if the user did not hold it. `NotFound` for no such user."""
        check_grant(grant)
        user = self.get_user(email=email)
        with acting_as(by):
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
                with acting_as("system"):
                    self.tables.transact([self._grant_put(item["id"], address, admin, "system",
                                                          self.clock.now())])
                added += 1
        return added

    def user_exists(self, email: str) -> bool:
        return self._user_item(self.emails.normalize(email)) is not None

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
        for _ in range(TRANSACT_RETRIES):
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
