"""A connector instance wired to a real NATS server outside the runtime's process loop, for tests."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from connectors.runtime import Instance
from connectors.spec import ChannelSpec
from kanal import bus
from kanal.testing import connected, make_config, reset_jetstream
from schemas import Envelope, decode_envelope, subjects
from schemas.deadletter import DeadLetter, decode_deadletter


@dataclass
class Harness:
    """The instance under test and a client connection to read what it published."""

    instance: Instance
    nc: NATS

    async def published(self) -> list[Envelope]:
        """Every envelope on this instance's inbound subject, in stream order."""
        return [decode_envelope(data) for data in await self.messages(subjects.inbound(
            self.instance.spec.id, self.instance.name))]

    async def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter the connector stage wrote to KANAL_DLQ, in stream order."""
        return [decode_deadletter(data) for data in await self.messages(subjects.dlq("connector"))]

    async def messages(self, subject: str) -> list[bytes]:
        """The data of every message stored under `subject` (wildcards allowed), in stream order."""
        return await stored_messages(self.nc, subject)


async def stored_messages(nc: NATS, subject: str) -> list[bytes]:
    """Every message a stream holds under `subject`, read by an ephemeral consumer that counts them first."""
    js = nc.jetstream()
    try:
        stream = await js.find_stream_name_by_subject(subject)
    except NotFoundError:
        return []
    sub = await js.pull_subscribe(subject, stream=stream, config=ConsumerConfig(
        ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=30.0))
    try:
        info = await sub.consumer_info()
        found: list[bytes] = []
        pending = info.num_pending or 0
        while len(found) < pending:
            batch = await sub.fetch(min(256, pending - len(found)), timeout=5)
            found.extend(msg.data for msg in batch)
        return found
    finally:
        await sub.unsubscribe()


@asynccontextmanager
async def harness(spec: ChannelSpec, settings: dict[str, Any], nats_url: str, instance: str | None = None,
                  data_dir: Path | None = None) -> AsyncIterator[Harness]:
    """Build the instance (settings as in its config section) connected to `nats_url`; closes everything.

    JetStream is wiped first (envelope ids depend on channel, account and provider id only, so the same
    payload in two tests would otherwise be dropped as a duplicate); without `instance` a fresh name is used.
    """
    instance = instance or f"kit-{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory(prefix="kanal-kit-") as tmp:
        root = data_dir or Path(tmp)
        config = make_config(nats_url, root, connectors={instance: {"channel": spec.id, **settings}})
        async with connected(nats_url) as admin:
            await reset_jetstream(admin)
        inst = Instance(config, instance, spec)
        inst.media.backoff = 0.01  # unreachable media URLs in payload cases fail fast (still recorded)
        await inst.connect_forever()
        nc = await bus.connect(config.nats, name="kanal-kit-reader")
        await inst.connector.start()
        try:
            yield Harness(inst, nc)
        finally:
            await inst.connector.close()
            await inst.media.close()
            await nc.close()
            if inst.nc is not None:
                await inst.nc.close()
            inst.spool.close()
