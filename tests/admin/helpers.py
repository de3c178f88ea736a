"""Routed items built by hand and published to KANAL_ADMIN, so admin tests never wait for the router."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client as NATS

from admin.settings import AdminSettings, AdminUser
from kanal.passwords import hash_password
from kanal.settings_types import Secret
from schemas import subjects
from schemas.envelope import Envelope, encode
from schemas.routed import Decision, Dedup, RoutedItem, RuleTrace
from tests.factories import envelope

GAMBIR = "kelurahan.3171011001"
KEBON_KELAPA = "kelurahan.3171011002"
PASSWORD = "rahasia-lurah-123"
_HASH = hash_password(PASSWORD, salt=b"fixed-salt-16byt")


def settings(**extra: Any) -> AdminSettings:
    """Three admins: Gambir's lurah, Kebon Kelapa's lurah, and a superadmin."""
    users = {
        "lurah-gambir": AdminUser(password_hash=Secret(_HASH), queues=(GAMBIR,), name="Lurah Gambir"),
        "lurah-kebon": AdminUser(password_hash=Secret(_HASH), queues=(KEBON_KELAPA,)),
        "pusat": AdminUser(password_hash=Secret(_HASH), superadmin=True),
    }
    return AdminSettings(users=users, session_secret=Secret("test-session-secret-0123456789"), **extra)


def item(external_id: str, queue: str = GAMBIR, *, env: Envelope | None = None, kind: str = "item",
         dedup: Dedup | None = None, rule: str = "geo-kelurahan", **fields: Any) -> RoutedItem:
    """A routed item as the router would publish it."""
    env = env or envelope(external_id, **fields)
    reason = f"point in {queue.split('.')[-1]} (Gambir)" if rule.startswith("geo") else "fallback"
    return RoutedItem(
        kind=kind,  # type: ignore[arg-type]
        item_id=env.id, ref=env.ref, envelope=env,
        decision=Decision(rule_id=rule, rule_type="geo" if rule.startswith("geo") else "fallback", queue=queue,
                          reason=reason, matched=queue.split(".")[-1],
                          trail=(RuleTrace(rule_id=rule, matched=True, reason=reason),)),
        dedup=dedup or Dedup(), routed_at=datetime.now(UTC),
    )


async def publish(nc: NATS, *items: RoutedItem) -> list[int]:
    """Publish items to their decision's queue, as the router does; returns their stream sequences."""
    js = nc.jetstream()
    seqs = []
    for it in items:
        ack = await js.publish(subjects.admin(it.decision.queue), encode(it),
                               headers={"Nats-Msg-Id": f"{it.item_id}:{it.kind}"})
        seqs.append(int(ack.seq))
    return seqs
