"""Replies by SMTP in the reporter's thread (aiosmtplib), from the mailbox the report was sent to.

To = the reporter's reply address (Reply-To when the mail had one, else From), Subject "Re: <subject>",
In-Reply-To = the report's Message-ID, References = what is known of the thread (its root, the message the
report answered, the report itself), From = the mailbox (`account`). The SMTP login defaults to the IMAP
user and password of the same instance.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate

import aiosmtplib

from connectors.email.normalise import own_message_id
from connectors.email.settings import EmailSettings
from connectors.errors import PermanentError, TransientError
from connectors.outbound.sender import SendRefused
from schemas.outbound import OutboundMessage


def original_id(message: OutboundMessage) -> str | None:
    """The report's Message-ID (without brackets), from its external id `<id>#<digest>`."""
    return own_message_id(message.reply_to.external_id)


def compose(message: OutboundMessage, sender: str) -> EmailMessage:
    """The reply as an RFC 5322 message, threaded under the report."""
    envelope = message.reply_to
    to = envelope.reporter.contact or envelope.reporter.handle
    if not to or "@" not in to:
        raise SendRefused("email_no_address: the report has no reply address")
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = formataddr((envelope.reporter.display_name or "", to))
    subject = envelope.subject or ""
    mail["Subject"] = subject if subject.lower().startswith("re:") else \
        (f"Re: {subject}" if subject else (message.subject or f"Laporan {message.ref}"))
    mail["Date"] = formatdate(localtime=False)
    # Derived from the outbound id: a resend (impossible by design, but) would carry the same Message-ID.
    mail["Message-ID"] = f"<kanal.{message.id}@{sender.rpartition('@')[2] or 'kanal.invalid'}>"
    parent = original_id(message)
    if parent:
        chain = [i for i in (envelope.thread.conversation if envelope.thread else None,
                             envelope.thread.reply_to if envelope.thread else None, parent) if i]
        mail["In-Reply-To"] = f"<{parent}>"
        mail["References"] = " ".join(f"<{i}>" for i in dict.fromkeys(chain))
    mail["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer it
    mail.set_content(message.text)
    return mail


class SmtpSender:
    """One SMTP session per message (replies are rare; no connection to keep alive)."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    async def send(self, message: OutboundMessage) -> str:
        """Submit the reply; returns its Message-ID."""
        s = self.settings
        if not s.smtp_host:
            raise PermanentError("this mailbox cannot send replies: no smtp_host",
                                 hint="set smtp_host (and smtp_port/smtp_tls) in [connectors.<instance>]")
        mail = compose(message, s.account)
        password = s.smtp_password or s.password
        user = s.smtp_user or s.user
        try:
            await aiosmtplib.send(
                mail, hostname=s.smtp_host, port=s.smtp_port_or_default, use_tls=s.smtp_tls == "tls",
                start_tls=s.smtp_tls == "starttls", tls_context=s.tls_context() if s.smtp_tls != "none" else None,
                username=user if password else None, password=password.reveal() if password else None,
                timeout=s.smtp_timeout.total_seconds())
        except aiosmtplib.SMTPAuthenticationError as err:
            raise PermanentError(f"the SMTP server refused the login ({err.code})", credentials=True,
                                 hint="check smtp_user/smtp_password (default: user/password)") from err
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = sorted({r.code for r in err.recipients})
            raise SendRefused(f"email_recipient_refused: SMTP {codes}") from err
        except aiosmtplib.SMTPResponseException as err:
            if 400 <= err.code < 500:
                raise TransientError(f"SMTP {err.code}: {err.message}") from err
            raise SendRefused(f"email_refused: SMTP {err.code} {err.message}") from err
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
            raise TransientError(f"SMTP server unreachable: {type(err).__name__}") from err
        return str(mail["Message-ID"])
