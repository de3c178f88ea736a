"""Outbound messages for the channel send tests, composed by the real notifier rules from real envelopes."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.spec import ChannelSpec, NormaliseContext
from notifier import compose
from notifier.settings import OutboundSettings
from schemas import Decision, Envelope, RoutedItem, StatusUpdate
from schemas.outbound import OutboundMessage, reply_address

SETTINGS = OutboundSettings(quiet_hours=None)


def normalised(spec: ChannelSpec, raw: bytes, account: str, instance: str = "kit",
               received_at: datetime | None = None) -> list[Envelope]:
    """Envelopes from the channel's own pure normaliser, as the inbound side would publish them."""
    ctx = NormaliseContext(channel=spec.id, instance=instance, account=account,
                           received_at=received_at or datetime.now(UTC))
    return list(spec.load_normaliser()(raw, ctx).envelopes)


def ack(envelope: Envelope) -> OutboundMessage:
    """The acknowledgement the notifier queues for a newly routed item."""
    item = RoutedItem(kind="item", item_id=envelope.id, ref=envelope.ref, envelope=envelope,
                      routed_at=datetime.now(UTC),
                      decision=Decision(rule_id="geo", rule_type="geo", queue="kelurahan.3171011001", reason="r"))
    return compose.for_routed(item, SETTINGS, datetime.now(UTC))


def final(envelope: Envelope, note: str | None = "Sudah diperbaiki.") -> OutboundMessage:
    """The 'Selesai' update the notifier queues when the item is closed."""
    update = StatusUpdate(item_id=envelope.id, ref=envelope.ref, stage="selesai", queue="kelurahan.3171011001",
                          by="admin.gambir", at=datetime.now(UTC), note=note)
    return compose.for_status(update, reply_address(envelope), SETTINGS, datetime.now(UTC))
