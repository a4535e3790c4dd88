"""The tables behind LocalIdentity. Everything that expires carries a TTL attribute ("expires",
epoch seconds), so DynamoDB deletes it on AWS and every adapter hides it once past."""

from __future__ import annotations

from roost.cloud.table import IndexSpec, TableSpec

USERS = TableSpec(
    name="roost_users",
    pk="id",
    sk=None,
    # Every user item has kind="user": one index partition lists users in email order.
    indexes=(IndexSpec("by_email", pk="kind", sk="email"),),
)
"""One item per user: id, email, created, password_hash (when a password was set)."""

EMAILS = TableSpec(name="roost_user_emails", pk="email", sk=None)
"""One claim per address ({email, user_id}), written with its user in one transaction: a
conditional put is the only way DynamoDB can keep an attribute unique, and a get by key is a
consistent read where an index query is not."""

CODES = TableSpec(name="roost_auth_codes", pk="email", sk="purpose", ttl="expires")
"""The live one-time code per (email, purpose): a random code_id and a try counter. The code
itself is never stored; it is HMAC(secret, code_id, email)."""

SESSIONS = TableSpec(name="roost_auth_sessions", pk="family", sk="sk", ttl="expires")
"""A refresh-token family: sk="family" holds {user_id, revoked}; sk="t#<sha256>" one item per
refresh token ever issued in it, with `used` set once rotated (reuse is how theft shows)."""

REVOKED = TableSpec(name="roost_auth_revoked", pk="jti", sk=None, ttl="expires")
"""Access tokens signed out before their expiry; each lives until the token would have expired."""

LIMITS = TableSpec(name="roost_auth_limits", pk="bucket", sk="window", ttl="expires")
"""Rate-limit counters: one item per (bucket, fixed window), incremented conditionally."""

GRANTS = TableSpec(
    name="roost_grants",
    pk="user_id",
    sk="grant",  # "app#role#scope"
    indexes=(IndexSpec("by_role", pk="role_key", sk="user_id"),),  # "app#role#scope" again
    audit=True,
)
"""Role grants. Audited: who granted what to whom is exactly what an admin asks later."""

TABLES: list[TableSpec] = [USERS, EMAILS, CODES, SESSIONS, REVOKED, LIMITS, GRANTS]
