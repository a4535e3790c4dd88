"""Email addresses as identities: one normal form per mailbox, and the optional allow-pattern.

email-validator is imported on the first address checked: it compiles its RFC grammar at
import (15-25 ms), which a Lambda's cold start should not pay before it sees an address."""

from __future__ import annotations

import re

from roost.cloud.errors import Forbidden, Invalid

MAX_EMAIL = 254  # RFC 5321's limit on a forward path


class EmailRules:
    """Normalizes addresses (so "Ana@Example.com" and "ana@example.com" are one account unless
    `case_sensitive`) and enforces the deployment's allowed-email pattern (a full match)."""

    def __init__(self, *, allowed_pattern: str | None = None, case_sensitive: bool = False) -> None:
        self.case_sensitive = case_sensitive
        flags = 0 if case_sensitive else re.IGNORECASE
        try:
            self._pattern = re.compile(allowed_pattern, flags) if allowed_pattern else None
        except re.error as exc:
            raise ValueError(f"allowed email pattern {allowed_pattern!r}: {exc}") from exc

    def normalize(self, email: object) -> str:
        """The account's address: syntax checked, domain in lower-case ASCII (IDNA), the local
        part lower-cased too unless case-sensitive. `Invalid` (invalid_email) otherwise."""
        if not isinstance(email, str) or not email.strip():
            raise Invalid("enter an email address", code="invalid_email")
        text = email.strip()
        if len(text) > MAX_EMAIL:
            raise Invalid(f"an email address is at most {MAX_EMAIL} characters",
                          code="invalid_email")
        from email_validator import EmailNotValidError, validate_email

        try:
            checked = validate_email(text, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError as exc:
            raise Invalid(f"{text!r} is not a valid email address: {exc}",
                          code="invalid_email") from exc
        address = checked.ascii_email or checked.normalized
        return address if self.case_sensitive else address.lower()

    def allowed(self, email: str) -> bool:
        return self._pattern is None or self._pattern.fullmatch(email) is not None

    def admit(self, email: object) -> str:
        """Normalize, then refuse addresses outside the allowed pattern (email_not_allowed)."""
        address = self.normalize(email)
        if not self.allowed(address):
            raise Forbidden(f"{address} may not sign in here: this deployment only admits "
                            "certain email addresses", code="email_not_allowed")
        return address
