"""Poller state in NATS KV: cursors (advanced only after the publish ack) and the single-active lease."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from typing import TypeVar

import msgspec
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from kanal import bus, log
from schemas import subjects

C = TypeVar("C", bound=msgspec.Struct)


def kv_key(instance: str) -> str:
    """KV keys allow letters, digits, `-`, `_`, `=` and `.`; instance names already fit."""
    return instance


class Checkpoints:
    """One cursor per instance, stored as JSON so ops can read it (`kanal connector checkpoint <instance>`)."""

    def __init__(self, kv: KeyValue, instance: str) -> None:
        self.kv = kv
        self.key = kv_key(instance)
        self.revision: int | None = None  # as loaded (0: there was none); saves are compare-and-set on it

    @classmethod
    async def open(cls, js: JetStreamContext, instance: str) -> Checkpoints:
        """Open (and create if needed) the checkpoint bucket."""
        return cls(await bus.ensure_kv(js, subjects.KV_CHECKPOINTS, history=5), instance)

    async def load(self, typ: type[C]) -> C | None:
        """The saved cursor, or None on a first run."""
        try:
            entry = await self.kv.get(self.key)
        except (KeyNotFoundError, NotFoundError):
            self.revision = 0
            return None
        self.revision = entry.revision
        if not entry.value:
            return None
        return msgspec.json.decode(entry.value, type=typ)

    async def save(self, cursor: msgspec.Struct) -> None:
        """Store the cursor; call only after every envelope before it is acknowledged.

        Fenced: the save succeeds only if nobody moved the checkpoint since this replica loaded it, so a
        replica that lost its lease mid-pass can never put an older cursor over a newer one.
        """
        data = msgspec.json.encode(cursor)
        try:
            if self.revision is None:
                self.revision = await self.kv.put(self.key, data)
            elif self.revision == 0:
                self.revision = await self.kv.create(self.key, data)
            else:
                self.revision = await self.kv.update(self.key, data, last=self.revision)
        except KeyWrongLastSequenceError as err:
            raise LeaseLost(f"the checkpoint of {self.key} was moved by another replica; this one stops") from err


class LeaseLost(Exception):
    """Another replica holds the lease now; stop polling."""


class Lease:
    """At most one active replica per instance: a KV key that expires (bucket TTL) unless renewed."""

    def __init__(self, kv: KeyValue, instance: str, ttl: float = bus.LEASE_TTL) -> None:
        self.kv = kv
        self.key = kv_key(instance)
        self.ttl = ttl
        self.holder = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}".encode()
        self.revision: int | None = None
        self._log = log.get("lease", instance=instance)

    @classmethod
    async def open(cls, js: JetStreamContext, instance: str) -> Lease:
        """Open (and create if needed) the lease bucket; the lease lasts as long as the bucket's TTL says."""
        kv = await bus.ensure_kv(js, subjects.KV_LEASES, ttl=bus.LEASE_TTL)
        ttl = (await kv.status()).ttl or bus.LEASE_TTL
        return cls(kv, instance, ttl=float(ttl))

    async def try_acquire(self) -> bool:
        """Take the lease if nobody holds it (or it lapsed)."""
        try:
            self.revision = await self.kv.create(self.key, self.holder)
        except KeyWrongLastSequenceError:
            return False  # another replica holds it
        except Exception as err:  # not "taken": say so (a permissions error must not look like a standby)
            self._log.warning("lease_acquire_failed", error=repr(err))
            return False
        self._log.info("lease_acquired", holder=self.holder.decode())
        return True

    async def acquire(self, stop: asyncio.Event, within: float | None = None) -> bool:
        """Wait until this replica holds the lease; False if `stop` was set first, or after `within` seconds."""
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        announced = False
        while not stop.is_set():
            if await self.try_acquire():
                return True
            if not announced:
                self._log.info("lease_waiting", reason="another replica is active", holder=await self.held_by())
                announced = True
            pause = self.ttl / 3
            if deadline is not None:
                pause = min(pause, deadline - loop.time())
                if pause <= 0:
                    return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
        return False

    async def held_by(self) -> str | None:
        """Who holds the lease now (`<host>-<pid>-<id>`), or None when nobody does."""
        try:
            entry = await self.kv.get(self.key)
        except (KeyNotFoundError, NotFoundError):
            return None
        return entry.value.decode(errors="replace") if entry.value else None

    async def renew(self) -> None:
        """Extend the lease; raises LeaseLost if another replica took it (or it lapsed)."""
        try:
            self.revision = await self.kv.update(self.key, self.holder, last=self.revision)
        except KeyWrongLastSequenceError as err:
            raise LeaseLost(f"lease on {self.key} lost: another replica holds it now") from err

    async def keep(self, stop: asyncio.Event) -> None:
        """Background task: renew every ttl/3 until `stop`; raises LeaseLost.

        A renewal that fails for a passing reason (a NATS node restarting) is tried again; only when no renewal
        has worked for a whole TTL, so the lease may have lapsed, does this replica give up.
        """
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.ttl / 3)
            if stop.is_set():
                return
            try:
                await self.renew()
                renewed = loop.time()
            except LeaseLost:
                raise
            except Exception as err:
                if loop.time() - renewed >= self.ttl:
                    raise LeaseLost(f"lease on {self.key} not renewed for {self.ttl:.0f}s: {err!r}") from err
                self._log.warning("lease_renew_retry", error=repr(err))

    async def release(self) -> None:
        """Give the lease up so a standby takes over at once."""
        if self.revision is not None:
            with contextlib.suppress(Exception):
                await self.kv.delete(self.key, last=self.revision)
            self.revision = None
