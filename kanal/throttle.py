"""Login throttling for Kanal's own web pages (admin console, walk-in desks): growing delays, never a lock-out.

Failures are counted per (user name, client address), so someone guessing passwords from one address slows
down only themself there: the admin signing in from their own desk is not kept out. Unknown user names are
counted exactly like configured ones (no hint which names exist). After `free` failures each further attempt
waits twice as long as the last (1 s, 2 s, 4 s ...), at most `cap` seconds; a success forgets the pair.

The counts live in the NATS KV bucket `kanal_logins` (compare-and-set, so console replicas share them and a
restart keeps them; entries expire an hour after the last failure). Keys are hashes: a password typed into the
user name field is never stored. Without NATS the same rule holds per process, in memory.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError

from kanal import log
from schemas import subjects

BUCKET = subjects.KV_LOGINS
FORGET_AFTER = 3600.0  # the bucket TTL (kanal/bus.py provisions the same): an hour quiet and a pair starts afresh
Opener = Callable[[], Awaitable[Any]]


class Failures(msgspec.Struct, frozen=True):
    """Failed sign-ins of one (user, address) pair and when the last one was."""

    count: int
    last: float


_decode = msgspec.json.Decoder(Failures)


class LoginThrottle:
    """`delay()` before checking a password, `failed()` / `succeeded()` after."""

    def __init__(self, opener: Opener | None = None, *, scope: str = "console", free: int = 3, base: float = 1.0,
                 cap: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self.opener = opener
        self.scope = scope  # a key prefix (NATS permissions confine a desk instance to its own)
        self.free = free
        self.base = base
        self.cap = cap
        self.clock = clock
        self._kv: Any = None
        self._memory: dict[str, Failures] = {}
        self._log = log.get("throttle", scope=scope)

    def key(self, user: str, address: str) -> str:
        """`<scope>.<hash of user and address>`: a valid KV key that reveals neither."""
        digest = hashlib.blake2b(f"{user}\x1f{address}".encode(), digest_size=16, person=b"kanal-login").hexdigest()
        return f"{self.scope}.{digest}"

    def wait_for(self, failures: Failures | None) -> float:
        """Seconds still to wait after these failures (0: may try now)."""
        if failures is None or failures.count < self.free:
            return 0.0
        delay = min(self.cap, self.base * 2.0 ** min(failures.count - self.free, 64))
        return max(0.0, failures.last + delay - self.clock())

    async def delay(self, user: str, address: str) -> float:
        """How long this pair must still wait before its password is even checked."""
        failures, _ = await self._read(self.key(user, address))
        return self.wait_for(failures)

    async def failed(self, user: str, address: str) -> None:
        """Count one failed sign-in of this pair (compare-and-set: concurrent replicas never lose a count)."""
        key = self.key(user, address)
        for _ in range(5):
            failures, revision = await self._read(key)
            fresh = failures is None or self.clock() - failures.last > FORGET_AFTER
            updated = Failures(count=1 if fresh or failures is None else failures.count + 1, last=self.clock())
            if await self._write(key, updated, revision):
                return

    async def succeeded(self, user: str, address: str) -> None:
        """Forget this pair's failures."""
        key = self.key(user, address)
        self._memory.pop(key, None)
        kv = await self._bucket()
        if kv is not None:
            try:
                await kv.delete(key)
            except Exception as err:
                self._log.warning("login_throttle_unavailable", error=repr(err))

    async def _bucket(self) -> Any:
        if self._kv is None and self.opener is not None:
            try:
                self._kv = await self.opener()
            except Exception as err:  # NATS away: the in-memory rule still holds in this process
                self._log.warning("login_throttle_unavailable", error=repr(err))
        return self._kv

    async def _read(self, key: str) -> tuple[Failures | None, int | None]:
        kv = await self._bucket()
        if kv is None:
            return self._memory.get(key), None
        try:
            entry = await kv.get(key)
        except (KeyNotFoundError, KeyDeletedError):  # never failed, or a success forgot it
            return None, 0
        except Exception as err:
            self._log.warning("login_throttle_unavailable", error=repr(err))
            return self._memory.get(key), None
        try:
            return _decode.decode(entry.value or b""), int(entry.revision)
        except msgspec.DecodeError:
            return None, int(entry.revision)

    async def _write(self, key: str, failures: Failures, revision: int | None) -> bool:
        data = msgspec.json.encode(failures)
        kv = await self._bucket()
        if kv is None or revision is None:
            self._remember(key, failures)
            return True
        try:
            if revision == 0:
                await kv.create(key, data)
            else:
                await kv.update(key, data, last=revision)
            return True
        except KeyWrongLastSequenceError:
            return False  # another replica counted meanwhile: read again
        except Exception as err:
            self._log.warning("login_throttle_unavailable", error=repr(err))
            self._remember(key, failures)
            return True

    def _remember(self, key: str, failures: Failures) -> None:
        if len(self._memory) > 100_000:  # bounded: drop the pairs that no longer wait
            now = self.clock()
            self._memory = {k: v for k, v in self._memory.items() if now - v.last < self.cap}
        self._memory[key] = failures


async def open_bucket(js: Any, replicas: int = 1) -> Any:
    """The `kanal_logins` bucket (created when missing), entries forgotten an hour after the last write."""
    from kanal import bus

    return await bus.ensure_kv(js, BUCKET, replicas=replicas, ttl=FORGET_AFTER)
