"""Conversations in the router: messages that are not complaints are recorded on their conversation, not routed.

A control message (opt-out/opt-in word, status question, greeting or thanks: kanal/control.py) makes no item.
It is recorded in KV bucket `kanal_conversations` under its conversation (`ctl.<conversation>.<envelope id>`),
before its input is acked, so nothing accepted is lost: the notifier answers it from KANAL_IN.
"""

from __future__ import annotations

from datetime import UTC

from msgspec import Struct
from nats.aio.client import Client as NATS
from nats.js.client import JetStreamContext

from kanal.config import Config
from kanal.control import Control, ControlWords, ConversationSettings, OptWords, classify, control_words
from kanal.phone import contact_key
from router.pipeline import Pipeline
from router.similarity import digest
from router.store import KvIndex
from schemas import subjects
from schemas.envelope import Envelope, UtcTime, encode


class ControlRecord(Struct, frozen=True, kw_only=True):
    """One non-complaint message on its conversation (no text: the envelope on KANAL_IN keeps it)."""

    id: str
    kind: str
    at: UtcTime
    channel: str
    instance: str
    ref: str | None = None


def conversation_key(env: Envelope) -> str:
    """The conversation a message belongs to: the provider's conversation id, else the reporter on this
    channel instance (user id, contact in one form, or handle)."""
    rep = env.reporter
    thread = env.thread.conversation if env.thread is not None else None
    who = thread or rep.user_id or (contact_key(rep.contact) if rep.contact else None) or (rep.handle or "").lower()
    return digest("conv", env.channel, env.instance, who or env.external_id)


class Conversations:
    """The router's conversation rules, from `[conversations]` and `[outbound]`'s opt-out words."""

    def __init__(self, config: Config) -> None:
        self.settings = config.section("conversations", ConversationSettings)
        outbound = config.section("outbound", OptWords)
        self.words: ControlWords = control_words(self.settings, outbound.opt_out_words, outbound.opt_in_words)
        self.store: KvIndex | None = None

    async def open(self, nc: NATS, js: JetStreamContext, replicas: int, pipeline: Pipeline) -> None:
        """Open (or create) the conversations bucket."""
        self.store = await KvIndex.open(nc, js, subjects.KV_CONVERSATIONS, self.settings.keep.total_seconds(),
                                        replicas, pipeline, fast=True)

    def control(self, env: Envelope) -> Control | None:
        """The control kind of an envelope, or None for a (part of a) complaint."""
        return classify(env, self.words)

    @staticmethod
    def control_write(env: Envelope, control: Control) -> tuple[str, bytes]:
        """The KV write recording a control message on its conversation."""
        record = ControlRecord(id=env.id, kind=control.kind, at=env.received_at.astimezone(UTC),
                               channel=env.channel, instance=env.instance, ref=control.ref)
        return f"ctl.{conversation_key(env)}.{env.id}", encode(record)

    async def record(self, writes: list[tuple[str, bytes]]) -> list[BaseException | None]:
        """Store control records; each one's outcome."""
        assert self.store is not None
        return await self.store.put_many(writes)
