"""Replies to reporters through Kannel's smsbox `sendsms` interface, with delivery reports asked for by dlr-url.

Kannel accepts text in UTF-8 and turns it into GSM 7-bit (coding 0) or UCS-2 (coding 2) itself, splitting it
into concatenated UDH parts up to the sendsms-user's `max-messages`; we choose the coding and plan the parts so
a reply never exceeds that.
"""

from __future__ import annotations

import re

import httpx

from connectors.errors import PermanentError, TransientError
from connectors.kannel.settings import KannelSettings
from connectors.kannel.sms import plan
from connectors.outbound.sender import SendRefused
from kanal.phone import e164
from schemas.outbound import OutboundMessage

_NUMBER = re.compile(r"\+?\d[\d ]{6,}\d")
# Kannel fills these in when it calls the dlr-url: %d the report type, %A the SMSC's words, %T the time.
DLR_FIELDS = "type=%d&reply=%A&at=%T"
DLR_MASK = 31  # 1 delivered, 2 failed, 4 buffered, 8 accepted by the SMSC, 16 rejected by it


def scrub(text: str) -> str:
    """Kannel's answers and SMSC reports may quote numbers; keep them out of logs and send records."""
    return _NUMBER.sub("<number>", text)


class KannelSender:
    """One HTTP client per connector instance, opened on the first send."""

    def __init__(self, settings: KannelSettings, account: str, dlr_base: str | None) -> None:
        self.settings = settings
        self.account = account
        self.dlr_base = dlr_base
        self._client: httpx.AsyncClient | None = None
        self._accepted: set[tuple[str, int]] = set()  # (message id, chunk) Kannel took, for retries in-process

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def dlr_url(self, message: OutboundMessage) -> str:
        """Where Kannel reports this message's delivery: our dlr path, the secret (URL-safe by rule), the ids."""
        assert self.dlr_base is not None
        return (f"{self.dlr_base}{self.settings.dlr_path}?secret={self.settings.secret.reveal()}&item={message.item_id}"
                f"&msg={message.id}&{DLR_FIELDS}")

    def requests(self, message: OutboundMessage) -> list[dict[str, str]]:
        """The sendsms query of each call this message needs (one, unless it is longer than `max_parts`)."""
        reporter = message.reply_to.reporter
        to = e164(reporter.contact or reporter.handle or "", self.settings.region)
        if to is None:
            raise SendRefused("kannel_no_number: the reporter's sender is not a phone number (short code or "
                              "alphanumeric sender), so an SMS cannot reach them")
        sender = self.settings.sender or self.account or message.reply_to.account
        password = self.settings.password.reveal() if self.settings.password else ""
        calls: list[dict[str, str]] = []
        for chunk in plan(message.text, self.settings.max_parts):
            query = {"username": self.settings.username, "password": password, "from": sender, "to": to,
                     "text": chunk.text, "charset": "UTF-8", "coding": str(chunk.coding)}
            if self.settings.smsc:
                query["smsc"] = self.settings.smsc
            if self.dlr_base is not None:
                query["dlr-mask"] = str(DLR_MASK)
                query["dlr-url"] = self.dlr_url(message)
            calls.append(query)
        return calls

    async def send(self, message: OutboundMessage) -> str | None:
        """GET sendsms for each planned call; returns None (Kannel's answer carries no message id)."""
        calls = self.requests(message)
        for index, query in enumerate(calls):
            if (message.id, index) in self._accepted:  # taken before a later call failed: not sent twice
                continue
            await self._call(query)
            self._accepted.add((message.id, index))
        for index in range(len(calls)):
            self._accepted.discard((message.id, index))
        return None

    async def _call(self, query: dict[str, str]) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.settings.send_timeout.total_seconds())
        try:
            response = await self._client.get(self.settings.sendsms_url, params=query)
        except httpx.HTTPError as err:
            raise TransientError(f"Kannel sendsms unreachable: {type(err).__name__}") from err
        answer = scrub(response.text.strip())[:200]
        if response.status_code in (200, 202):  # "0: Accepted for delivery", "3: Queued for later delivery"
            return
        if response.status_code in (401, 403):
            raise PermanentError(f"Kannel refused the sendsms user: {answer}",
                                 hint="check username/password against the sendsms-user group of kannel.conf",
                                 credentials=True)
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"kannel_http_{response.status_code}: {answer}")
        raise SendRefused(f"kannel_refused_{response.status_code}: {answer}")
