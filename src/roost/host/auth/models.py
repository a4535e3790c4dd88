"""Requests and responses of the sign-in API, and the forms of the sign-in pages.

Passwords and codes are `SecretStr`, so a model that reaches a log or a traceback shows
`**********` instead of the secret."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

_MAX_EMAIL = 320  # generous: the identity gives the precise message for anything over 254


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CodeRequest(_Strict):
    email: str = Field(max_length=_MAX_EMAIL, examples=["ana@example.com"])


class CodeVerify(_Strict):
    email: str = Field(max_length=_MAX_EMAIL)
    code: SecretStr = Field(max_length=16, description="the 6 digits from the email")


class SignUp(_Strict):
    email: str = Field(max_length=_MAX_EMAIL)
    password: SecretStr = Field(max_length=1024)


class SignIn(_Strict):
    email: str = Field(max_length=_MAX_EMAIL)
    password: SecretStr = Field(max_length=1024)


class RefreshRequest(_Strict):
    refresh_token: SecretStr | None = Field(
        None, max_length=512, description="omit to use the roost_refresh cookie")


class SignOutRequest(_Strict):
    access_token: SecretStr | None = Field(
        None, max_length=8192, description="omit to use the roost_access cookie")
    refresh_token: SecretStr | None = Field(
        None, max_length=512, description="omit to use the roost_refresh cookie")


class Accepted(BaseModel):
    """The same answer whether or not an account exists for the address."""

    status: Literal["sent"] = "sent"
    detail: str


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="seconds the access token lives")
    refresh_expires_in: int
    user_id: str
    email: str


class Me(BaseModel):
    user_id: str
    email: str
    grants: list[str] = Field(description="app:role:scope, '*' meaning every scope")
    is_admin: bool


# ---- page forms (every field optional, so a half-filled form re-renders with a message
# instead of failing validation)


class NextQuery(BaseModel):
    next: str = ""
    email: str = ""


class EmailForm(BaseModel):
    email: str = Field("", max_length=_MAX_EMAIL)
    next: str = Field("", max_length=2048)


class CodeForm(BaseModel):
    email: str = Field("", max_length=_MAX_EMAIL)
    code: SecretStr = Field(SecretStr(""), max_length=16)
    next: str = Field("", max_length=2048)


class PasswordForm(BaseModel):
    email: str = Field("", max_length=_MAX_EMAIL)
    password: SecretStr = Field(SecretStr(""), max_length=1024)
    next: str = Field("", max_length=2048)


class SignOutForm(BaseModel):
    next: str = Field("", max_length=2048)
