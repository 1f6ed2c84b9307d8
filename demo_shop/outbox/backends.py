"""An email backend that stores messages in :class:`OutboxMessage` instead of sending them."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend


class OutboxEmailBackend(BaseEmailBackend):
    """Keeps subject, recipients, text and HTML parts and headers (e.g. ``List-Unsubscribe``)."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        from demo_shop.outbox.models import OutboxMessage

        sent = 0
        for message in email_messages:
            try:
                OutboxMessage.objects.create(**self.fields(message))
            except Exception:
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent

    @staticmethod
    def fields(message: EmailMessage) -> dict:
        html = ""
        for content, mimetype in getattr(message, "alternatives", []) or []:
            if mimetype == "text/html":
                html = str(content)
        if not html and getattr(message, "content_subtype", "") == "html":
            html = str(message.body)
        text = "" if html and html == message.body else str(message.body or "")
        # Headers as they would go on the wire (the generated message applies extra_headers).
        wire = message.message()
        headers = {key: str(value) for key, value in wire.items() if key.lower() not in ("content-type", "mime-version", "content-transfer-encoding")}
        return {
            "subject": str(message.subject)[:255],
            "from_email": str(message.from_email)[:255],
            "to": "\n".join(str(a) for a in [*message.to, *message.cc, *message.bcc]),
            "body_text": text,
            "body_html": html,
            "headers": headers,
        }
