"""Users and role grants, for system admins: the API behind the admin page and `roost users`.

Grants are audited (the grants table is), so who gave which role to whom is in the trail."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from roost.cloud.errors import Invalid, RoostError
from roost.cloud.functions import Ctx, Reply, Uses, redirect
from roost.cloud.identity import SYSTEM_ADMIN, SYSTEM_APP, Grant
from roost.cloud.local.identity import User
from roost.cloud.local.identity_tables import EMAILS, GRANTS, USERS
from roost.host.auth import app

from .session import identity_of

SYSTEM_ADMINS = f"{SYSTEM_APP}:{SYSTEM_ADMIN}"


class UsersQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=4096)


class UserOut(BaseModel):
    id: str
    email: str
    created_at: str
    has_password: bool
    grants: list[str]


class UsersPage(BaseModel):
    users: list[UserOut]
    cursor: str | None = None


class GrantChange(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    email: str = Field(max_length=320, examples=["ana@example.com"])
    grant: str = Field(max_length=200, examples=["desks:office_admin:alpha"],
                       description="app:role or app:role:scope")

    @field_validator("grant")
    @classmethod
    def _grant_shape(cls, v: str) -> str:
        Grant.parse(v)  # ValueError -> a 422 naming the field
        return v


class Revoked(BaseModel):
    email: str
    grant: str
    revoked: bool


def user_out(ctx: Ctx, user: User) -> UserOut:
    grants = identity_of(ctx).grants_of(user.id)
    return UserOut(id=user.id, email=user.email, created_at=user.created_at.isoformat(),
                   has_password=user.has_password, grants=sorted(str(g) for g in grants))


@app.route("GET", "/admin/users", roles=[SYSTEM_ADMINS], uses=Uses(reads=[USERS, GRANTS]))
def list_users(ctx: Ctx, query: UsersQuery) -> UsersPage:
    """Every user in email order, with their roles, a page at a time."""
    users, cursor = identity_of(ctx).list_users(limit=query.limit, cursor=query.cursor)
    return UsersPage(users=[user_out(ctx, u) for u in users], cursor=cursor)


@app.route("POST", "/admin/grants", roles=[SYSTEM_ADMINS],
           uses=Uses(writes=[USERS, EMAILS, GRANTS]))
def grant_role(ctx: Ctx, body: GrantChange) -> UserOut:
    """Give a person a role (their account is created if they have never signed in)."""
    user = identity_of(ctx).grant(body.email, Grant.parse(body.grant), by=ctx.user.user_id)
    return user_out(ctx, user)


@app.route("POST", "/admin/grants/revoke", roles=[SYSTEM_ADMINS],
           uses=Uses(reads=[USERS, EMAILS], writes=[GRANTS]))
def revoke_role(ctx: Ctx, body: GrantChange) -> Revoked:
    """Take a role away. Revoking your own system-admin role is refused, so an admin cannot
    lock the last admin out by accident (another admin, or `roost users revoke`, can)."""
    grant = Grant.parse(body.grant)
    if grant == Grant(SYSTEM_APP, SYSTEM_ADMIN) and \
            body.email.casefold() == ctx.user.email.casefold():
        raise Invalid("you cannot revoke your own system-admin role here; ask another admin "
                      "or use `roost users revoke`", code="self_revoke_refused")
    revoked = identity_of(ctx).revoke(body.email, grant, by=ctx.user.user_id)
    return Revoked(email=body.email, grant=body.grant, revoked=revoked)


# --------------------------------------------------------------------------- the page


class GrantForm(BaseModel):
    email: str = Field("", max_length=320)
    grant: str = Field("", max_length=200)


def _people(ctx: Ctx, cursor: str | None = None, **extra: object) -> dict[str, object]:
    users, next_cursor = identity_of(ctx).list_users(limit=100, cursor=cursor)
    return {"title": "People and roles", "users": [user_out(ctx, u) for u in users],
            "next_cursor": next_cursor, **extra}


@app.page("/admin/people", roles=[SYSTEM_ADMINS], template="people.html",
          uses=Uses(reads=[USERS, GRANTS]))
def people(ctx: Ctx, query: UsersQuery) -> dict[str, object]:
    """Everyone who has an account, with their roles; grant and revoke."""
    return _people(ctx, query.cursor)


def _change(ctx: Ctx, body: GrantForm, *, give: bool) -> object:
    try:
        change = GrantChange(email=body.email, grant=body.grant)
        if give:
            grant_role(ctx, change)
        else:
            revoke_role(ctx, change)
    except ValidationError as exc:
        return Reply(body=_people(ctx, error=exc.errors()[0]["msg"], email=body.email,
                                  grant=body.grant), status=422)
    except RoostError as exc:
        return Reply(body=_people(ctx, error=exc.message, email=body.email, grant=body.grant),
                     status=exc.status)
    return redirect("/admin/people")


@app.page("/admin/people/grant", method="POST", roles=[SYSTEM_ADMINS], template="people.html",
          uses=Uses(writes=[USERS, EMAILS, GRANTS]))
def grant_form(ctx: Ctx, body: GrantForm) -> object:
    return _change(ctx, body, give=True)


@app.page("/admin/people/revoke", method="POST", roles=[SYSTEM_ADMINS],
          template="people.html", uses=Uses(writes=[USERS, EMAILS, GRANTS]))
def revoke_form(ctx: Ctx, body: GrantForm) -> object:
    return _change(ctx, body, give=False)
