"""E-mail replies: a real SMTP server (aiosmtpd) receives the reply, threaded under the report."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest

from connectors.email import spec
from connectors.email.connector import EmailConnector
from connectors.errors import PermanentError
from connectors.outbound.sender import SendRefused
from connectors.testkit import harness
from tests.connectors.email.messages import complaint
from tests.fakes.smtp import PASSWORD, USER, SmtpServer, smtp_server
from tests.notifier.messages import ack, final, normalised

MAILBOX = "dki@jakarta.go.id"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@asynccontextmanager
async def connector(nats_url: str, smtp: SmtpServer, **overrides: object) -> AsyncIterator[EmailConnector]:
    settings = {"account": MAILBOX, "imap_host": "127.0.0.1", "user": USER, "password": PASSWORD,
                "smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_tls": "none", **overrides}
    async with harness(spec, settings, nats_url) as h:
        assert isinstance(h.instance.connector, EmailConnector)
        yield h.instance.connector


REPLY_TO = (b"From: Warga Tebet <warga.tebet@example.co.id>\r\nReply-To: Pak RT 05 <rt05.tebet@example.co.id>\r\n"
            b"To: dki@jakarta.go.id\r\nSubject: Re: Got mampet di Tebet\r\nDate: Tue, 24 Nov 2026 10:15:00 +0700\r\n"
            b"Message-ID: <balasan-2@warga.example.co.id>\r\nIn-Reply-To: <awal-1@warga.example.co.id>\r\n"
            b"References: <awal-1@warga.example.co.id>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            b"Got di Jl. Tebet Barat masih mampet.\r\n")


async def test_reply_is_threaded_under_the_report_from_the_mailbox(nats_url: str, smtp: SmtpServer) -> None:
    [env] = normalised(spec, complaint(7), MAILBOX)
    async with connector(nats_url, smtp) as email:
        message_id = await email.send(ack(env))
        await email.send(final(env))
    first, second = smtp.received
    assert first.login == USER, "the IMAP login is the default SMTP login"
    assert first.mail_from == MAILBOX and first.rcpt_tos == ["warga7@example.co.id"]
    mail = first.message
    assert mail["From"] == MAILBOX
    assert mail["To"] == "Warga Kemang 7 <warga7@example.co.id>"
    assert mail["Subject"] == "Re: Laporan banjir nomor 7"
    assert mail["In-Reply-To"] == "<laporan-7@warga.example.co.id>"
    assert mail["References"] == "<laporan-7@warga.example.co.id>"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["Message-ID"] == message_id
    body = mail.get_content()
    assert env.ref in body and body.startswith("Terima kasih")
    assert "Selesai" in second.message.get_content()
    assert second.message["Message-ID"] != message_id


async def test_reply_goes_to_reply_to_and_keeps_the_thread_chain(nats_url: str, smtp: SmtpServer) -> None:
    [env] = normalised(spec, REPLY_TO, MAILBOX)
    async with connector(nats_url, smtp) as email:
        await email.send(ack(env))
    [got] = smtp.received
    assert got.rcpt_tos == ["rt05.tebet@example.co.id"]
    assert got.message["Subject"] == "Re: Got mampet di Tebet", "no 'Re: Re:'"
    assert got.message["In-Reply-To"] == "<balasan-2@warga.example.co.id>"
    assert got.message["References"] == "<awal-1@warga.example.co.id> <balasan-2@warga.example.co.id>"


async def test_own_smtp_login_and_wrong_password(nats_url: str, smtp: SmtpServer) -> None:
    [env] = normalised(spec, complaint(8), MAILBOX)
    async with connector(nats_url, smtp, password="imap-password-differs", smtp_password=PASSWORD) as email:
        await email.send(ack(env))
    async with connector(nats_url, smtp, smtp_password="wrong-smtp-password") as email:
        with pytest.raises(PermanentError, match="refused the login") as raised:
            await email.send(ack(env))
    assert raised.value.credentials
    assert len(smtp.received) == 1


async def test_refused_recipient_and_missing_smtp_host(nats_url: str, smtp: SmtpServer) -> None:
    [env] = normalised(spec, complaint(9), MAILBOX)
    smtp.refuse.append("warga9@example.co.id")
    async with connector(nats_url, smtp) as email:
        with pytest.raises(SendRefused, match="email_recipient_refused: SMTP \\[550\\]"):
            await email.send(ack(env))
    async with connector(nats_url, smtp, smtp_host=None) as email:
        with pytest.raises(PermanentError, match="smtp_host"):
            await email.send(ack(env))
    assert smtp.received == []
