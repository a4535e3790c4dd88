"""Password policy and hashing (argon2id). The policy is NIST 800-63B's: length over
composition rules, and no password an attacker tries first. argon2 is imported by the first
hash or check, not with the identity (a Lambda's cold start)."""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING

from roost.cloud.errors import Invalid

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 takes any length; the cap bounds the work one request can cause

# The most common passwords that are long enough to pass the length rule (from public breach
# corpora); compared case-insensitively.
COMMON = frozenset({
    "1234567890", "12345678910", "123456789a", "1q2w3e4r5t", "1qaz2wsx3edc", "0123456789",
    "0987654321", "1111111111", "0000000000", "1234512345", "123123123123", "123456789abc",
    "abcdefghij", "abcd123456", "a1b2c3d4e5", "password12", "password123", "password1234",
    "password!1", "passw0rd123", "p@ssw0rd123", "qwertyuiop", "qwerty12345", "qwerty123456",
    "qwertyuiop123", "asdfghjkl1", "asdfghjkl;", "zxcvbnm123", "iloveyou12", "iloveyou123",
    "letmein123", "welcome123", "welcome1234", "changeme123", "trustno1234", "football123",
    "baseball123", "superman123", "sunshine123", "princess123", "dragon1234", "monkey12345",
    "starwars123", "whatever123", "admin12345", "administrator", "adminadmin", "rootroot12",
    "secret1234", "computer123", "internet123", "liverpool1", "chocolate1", "basketball",
    "1234qwerty", "qazwsxedcrfv", "michael123", "jennifer123", "passwordpassword",
})


def check_policy(password: object, *, email: str) -> str:
    """The password, if acceptable; `Invalid` with a message saying what to change otherwise.
    Never echoes the password."""
    if not isinstance(password, str):
        raise Invalid("enter a password", code="invalid_password")
    if len(password) < MIN_LENGTH:
        raise Invalid(f"a password needs at least {MIN_LENGTH} characters",
                      code="password_too_short")
    if len(password) > MAX_LENGTH:
        raise Invalid(f"a password has at most {MAX_LENGTH} characters",
                      code="password_too_long")
    folded = password.casefold()
    if folded in (email.casefold(), email.split("@", 1)[0].casefold()):
        raise Invalid("a password must not be your email address", code="password_is_email")
    if folded in COMMON or len(set(password)) == 1:
        raise Invalid("that password is one of the first an attacker tries; choose another",
                      code="password_too_common")
    return password


class Passwords:
    """Hashing and checking, with a dummy hash so a check for an unknown user costs the same
    time as one for a real user (no account discovery by timing)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher
        self._dummy: str | None = None

    @property
    def hasher(self) -> PasswordHasher:
        if self._hasher is None:
            from argon2 import PasswordHasher

            self._hasher = PasswordHasher()  # RFC 9106 low-memory profile
        return self._hasher

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> tuple[bool, str | None]:
        """(matches, a fresh hash when the stored one uses old parameters). With no stored
        hash, checks against the dummy and answers False."""
        from argon2.exceptions import InvalidHashError, VerificationError

        if stored is None:
            if self._dummy is None:
                self._dummy = self.hasher.hash("roost-dummy-password")
            with suppress(VerificationError, InvalidHashError):
                self.hasher.verify(self._dummy, password)
            return False, None
        try:
            self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False, None
        return True, self.hasher.hash(password) if self.hasher.check_needs_rehash(stored) \
            else None
