"""The one error family. Every failure a caller can cause maps to a stable `code` and an HTTP
status, so the host can answer with `application/problem+json` and never a 500."""

from __future__ import annotations

from typing import Any, ClassVar


class RoostError(Exception):
    """Base of every error a function may raise on purpose."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "error"
    title: ClassVar[str] = "Error"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]  # instance override of the class default
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        """RFC 9457 problem details body."""
        body: dict[str, Any] = {
            "type": f"https://roost.dev/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.message,
        }
        body.update(self.extra)
        return body


class Invalid(RoostError):
    """The input breaks a rule of shape or limit; nothing was written."""

    status = 422
    code = "invalid"
    title = "Invalid input"


class Unauthorized(RoostError):
    status = 401
    code = "unauthorized"
    title = "Sign-in required"


class Forbidden(RoostError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class NotFound(RoostError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(RoostError):
    status = 409
    code = "conflict"
    title = "Conflict"


class ConditionFailed(Conflict):
    """A write's condition did not hold; the item is unchanged."""

    code = "condition_failed"
    title = "Condition failed"


class TransactionCanceled(Conflict):
    """A transaction was refused as a whole. `reasons[i]` is None for operations that would have
    succeeded and a short code (`condition_failed`, `conflict`) for the ones that did not."""

    code = "transaction_canceled"
    title = "Transaction canceled"

    def __init__(self, message: str, *, reasons: list[str | None], **extra: Any) -> None:
        super().__init__(message, **extra)
        self.reasons = reasons

    @property
    def failed(self) -> list[int]:
        """Indexes of the operations that caused the cancellation."""
        return [i for i, r in enumerate(self.reasons) if r is not None]


class Gone(RoostError):
    status = 410
    code = "gone"
    title = "Gone"


class TooLarge(RoostError):
    status = 413
    code = "too_large"
    title = "Payload too large"


class UnsupportedMedia(RoostError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class RateLimited(RoostError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int = 60, **extra: Any) -> None:
        super().__init__(message, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class Unavailable(RoostError):
    """A dependency (disk, database, broker) cannot serve right now; safe to retry."""

    status = 503
    code = "unavailable"
    title = "Service unavailable"


class Undeclared(Forbidden):
    """A function touched a resource it did not declare. A bug in the function, not the caller:
    the host logs it loudly; the declaration is what the AWS IAM policy is generated from."""

    status = 500
    code = "undeclared_resource"
    title = "Undeclared resource"
