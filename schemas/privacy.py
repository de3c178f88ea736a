"""Who may see what of a reporter: the one rule every surface applies (console, inbox, CRM, status page, logs).

Pure code. An anonymous report never names its reporter to anyone (its reply address is used only to deliver
the answer to that same reporter, never shown). A private report shows the reporter only to the admins of the
queue it is in and to the CRM of record those admins work in; a public one also shows the public name or handle
(never contact or NIK) to admins of other queues. The public status page, logs and metrics never see a reporter.
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct
from msgspec.structs import replace

from schemas.envelope import Envelope, Reporter

Audience = Literal["queue_admin", "other_admin", "crm", "public", "log", "metrics", "outbound"]
AUDIENCES: tuple[Audience, ...] = ("queue_admin", "other_admin", "crm", "public", "log", "metrics", "outbound")

# What an officer reads instead of a name (the console shows them in the admin's language: admin/console.py).
ANONYMOUS_LABEL = "anonim"
HIDDEN_LABEL = "disembunyikan"  # private report, seen from outside its queue
UNKNOWN_LABEL = "tidak diketahui"


class ReporterView(Struct, frozen=True, kw_only=True):
    """What one audience may see of a reporter; every field it may not see is None. `label` is for people."""

    label: str
    display_name: str | None = None
    handle: str | None = None
    contact: str | None = None
    user_id: str | None = None
    nik: str | None = None
    anonymous: bool = False

    def identity(self) -> Reporter:
        """The same, as a contract Reporter (for payloads that carry one, e.g. the CRM's copy)."""
        return Reporter(display_name=self.display_name, handle=self.handle, contact=self.contact,
                        user_id=self.user_id, nik=self.nik, anonymous=self.anonymous)


def reporter_view(envelope: Envelope, audience: Audience) -> ReporterView:
    """The one decision: what of `envelope`'s reporter `audience` may see."""
    who = envelope.reporter
    if who.anonymous:
        if audience == "outbound":  # only to deliver the answer to the reporter themself: an address, no name
            return ReporterView(label=ANONYMOUS_LABEL, contact=who.contact, handle=who.handle, user_id=who.user_id,
                                anonymous=True)
        return ReporterView(label=ANONYMOUS_LABEL, anonymous=True)
    name = who.display_name or who.handle
    if audience in ("queue_admin", "crm"):
        return ReporterView(label=name or who.contact or UNKNOWN_LABEL, display_name=who.display_name,
                            handle=who.handle, contact=who.contact, user_id=who.user_id, nik=who.nik)
    if audience == "outbound":  # the answer goes to the reporter themself, who may be greeted by name
        return ReporterView(label=name or UNKNOWN_LABEL, display_name=who.display_name, contact=who.contact,
                            handle=who.handle, user_id=who.user_id)
    if audience == "other_admin" and envelope.visibility == "public":
        return ReporterView(label=name or UNKNOWN_LABEL, display_name=who.display_name, handle=who.handle)
    return ReporterView(label=HIDDEN_LABEL)  # public page, logs, metrics: never a person


def redacted(envelope: Envelope, audience: Audience) -> Envelope:
    """The envelope with its reporter cut down to what `audience` may see (for payloads leaving Kanal)."""
    return replace(envelope, reporter=reporter_view(envelope, audience).identity())
