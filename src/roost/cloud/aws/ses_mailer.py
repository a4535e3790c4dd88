"""The Mailer port on Amazon SES (API v2): the message is built by the same MIME builder as the
local outbox (`build_email`: text, HTML alternative, attachments such as calendar invitations)
and sent raw, so what arrives is byte for byte what the outbox would have shown.

Idempotency. SES has none, so a key is claimed in a table (`MAIL_SENT`, through the Tables port)
before sending: a handler retried after a send does not send again. A claim whose send failed is
released, so the retry sends; a process that dies between SES accepting the message and the
claim being marked sent leaves the claim pending, and the key is then treated as sent — at most
once rather than twice, the right side for mail. Claims expire after `KEEP_DAYS`.
"""

from __future__ import annotations

from datetime import timedelta
from email import policy
from typing import Any

from roost.cloud.clock import Clock
from roost.cloud.errors import ConditionFailed, Invalid, RoostError, Unavailable, Undeclared
from roost.cloud.local.mail_outbox import build_email, next_mail_id
from roost.cloud.mail import Message
from roost.cloud.table import Tables, TableSpec, attr

MAIL_SENT = TableSpec("roost_mail_sent", sk=None, ttl="expires_at")
KEEP_DAYS = 30


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class SesMailer:
    """Send through a boto3 `client("sesv2")` from `sender` (a verified SES identity)."""

    def __init__(
        self, client: Any, *, clock: Clock, sender: str, tables: Tables | None = None,
        configuration_set: str | None = None,
    ) -> None:
        self.client = client
        self.sender = sender
        self._clock = clock
        self._tables = tables
        self._configuration_set = configuration_set

    def send(self, message: Message) -> str:
        key = message.idempotency_key
        now = self._clock.now()
        mail_id = next_mail_id(now)
        email = build_email(message, sender=self.sender, message_id=mail_id, date=now)
        raw = email.as_bytes(policy=policy.SMTP)
        claims = self._tables.table(MAIL_SENT.name) if (key and self._tables) else None
        if claims is not None:
            try:
                claims.put({"pk": key, "id": mail_id, "state": "sending",
                            "expires_at": int((now + timedelta(days=KEEP_DAYS)).timestamp())},
                           condition=attr("pk").not_exists())
            except ConditionFailed:
                known = claims.get({"pk": key})
                return str(known["id"]) if known else mail_id
        try:
            params: dict[str, Any] = {
                "FromEmailAddress": self.sender,
                "Destination": {"ToAddresses": list(message.to),
                                **({"CcAddresses": list(message.cc)} if message.cc else {})},
                "Content": {"Raw": {"Data": raw}},
            }
            if self._configuration_set:
                params["ConfigurationSetName"] = self._configuration_set
            self.client.send_email(**params)
        except Exception as exc:
            if claims is not None:
                claims.delete({"pk": key})  # not sent: a retry may send
            raise self._translate(exc) from exc
        if claims is not None:
            claims.update({"pk": key}, set={"state": "sent"})
        return mail_id

    @staticmethod
    def _translate(exc: Exception) -> RoostError:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, RoostError):
            return exc
        if isinstance(exc, ClientError):
            code = _code(exc)
            text = str(exc.response.get("Error", {}).get("Message", ""))
            if code == "MailFromDomainNotVerifiedException" or (
                    code == "MessageRejected" and ("authority" in text or "verified" in text)):
                return Unavailable(f"SES will not send from this sender: {text}; verify the "
                                   "identity in SES", code="mail_sender_unverified")
            if code in ("MessageRejected", "BadRequestException"):
                return Invalid(f"SES refused the message: {text}", code="mail_rejected")
            if code in ("AccessDeniedException", "AccessDenied"):
                return Undeclared(f"SES refused to send: {text}", code="access_denied")
            return Unavailable(f"SES failed: {code}: {text}", code="mail_unavailable")
        if isinstance(exc, BotoCoreError):
            return Unavailable(f"SES could not be reached: {exc}", code="mail_unavailable")
        raise exc
