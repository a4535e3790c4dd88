"""DynamoDB's failures as the error family, so no botocore exception leaves the adapter.

Input was validated before the call, so a `ValidationException` left is one only DynamoDB could
see (an `ADD` to an attribute holding a string, an update whose result passes 400 KB): `Invalid`,
nothing written. Throttling, a missing table, a network failure: `Unavailable`, safe to retry.
A refused permission is a function touching what its policy does not grant: `Undeclared`.
"""

from __future__ import annotations

from typing import Any

from roost.cloud.errors import Invalid, RoostError, Unavailable, Undeclared

_THROTTLED = {
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "TransactionInProgressException",
    "TransactionConflictException", "LimitExceededException",
}


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def translate(exc: Exception, table: str) -> RoostError:
    """The error to raise for a failed DynamoDB call on `table`."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", exc))
        if code == "ValidationException":
            return invalid(message, table)
        if code == "ResourceNotFoundException":
            return Unavailable(f"the DynamoDB table for {table} does not exist; deploy the stack "
                               "(or create the tables) first", code="table_missing")
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            return Undeclared(f"DynamoDB refused access to {table}: {message}",
                              code="access_denied")
        if code in _THROTTLED:
            return Unavailable(f"DynamoDB is busy with {table} ({code}); retry shortly",
                               code="busy")
        return Unavailable(f"DynamoDB failed on {table}: {code}: {message}", code="unavailable")
    if isinstance(exc, BotoCoreError):
        return Unavailable(f"DynamoDB could not be reached for {table}: {exc}",
                           code="unavailable")
    raise exc


def invalid(message: str, table: str) -> Invalid:
    text = message.lower()
    if "size" in text and ("exceed" in text or "maximum" in text):
        return Invalid(f"table {table}: the item would pass 400 KB; nothing was changed",
                       code="item_too_large")
    if "update expression" in text or "operand" in text or "operator" in text:
        return Invalid(f"table {table}: the update does not fit the item's values "
                       f"({message}); nothing was changed", code="invalid_update")
    return Invalid(f"table {table}: DynamoDB refused the request: {message}",
                   code="invalid_value")


def cancellation_codes(exc: Any) -> list[str | None]:
    """The per-operation codes of a `TransactionCanceledException` (None: that one was fine)."""
    reasons = exc.response.get("CancellationReasons") or []
    out: list[str | None] = []
    for r in reasons:
        code = r.get("Code")
        out.append(None if code in (None, "None") else str(code))
    return out
