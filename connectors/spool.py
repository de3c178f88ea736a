"""A durable local spool: messages that could not reach NATS wait here, fsynced, and drain in order.

SQLite in WAL mode with synchronous=FULL: a row is on disk when `append` returns. The bytes waiting are
bounded (`max_bytes`, [connectors.<instance>] spool_max_bytes): past it `append` raises SpoolFull, so a long
NATS outage cannot fill the disk; the caller answers 503 with Retry-After and the provider retries. The
spool holds complaints with personal data: its folder is 0700 and its database files 0600.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SpooledMessage:
    """One message to publish: its subject, its Nats-Msg-Id and its bytes."""

    seq: int
    subject: str
    msg_id: str
    data: bytes


DEFAULT_MAX_BYTES = 1024**3
RESUME_BELOW = 0.9  # once full, the spool takes new messages again when drained below 90 % of its limit


class SpoolFull(Exception):
    """The spool holds `max_bytes` already: nothing more can be kept safe until NATS takes some of it."""

    def __init__(self, size: int, incoming: int, max_bytes: int) -> None:
        self.size = size
        self.max_bytes = max_bytes
        super().__init__(f"spool full: {size} bytes waiting, {incoming} more would pass the limit of {max_bytes}")


def _private(path: Path) -> None:
    """Create the database file (and fix older ones) readable by this user only; SQLite gives its -wal and
    -shm files the database file's mode."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists():
            candidate.chmod(0o600)


class Spool:
    """Append-only, ordered; `peek` then `remove` once JetStream has acknowledged."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        _private(path)
        self.path = path
        self.max_bytes = max_bytes
        self.full = False  # the one place a spool decides it cannot take more input: /readyz then answers 503
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, subject TEXT NOT NULL,"
            " msg_id TEXT NOT NULL, data BLOB NOT NULL)"
        )
        self._depth, self._bytes = self._count()

    def _count(self) -> tuple[int, int]:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM spool").fetchone()
        return int(row[0]), int(row[1])

    @property
    def size(self) -> int:
        """Bytes waiting (the messages' data; the file itself is a little larger)."""
        return self._bytes

    @property
    def depth(self) -> int:
        """Messages waiting."""
        return self._depth

    def append(self, messages: list[tuple[str, str, bytes]]) -> None:
        """Store (subject, msg_id, data) rows in one fsynced transaction; SpoolFull past `max_bytes`."""
        incoming = sum(len(data) for _, _, data in messages)
        with self._lock:
            if self.full or self._bytes + incoming > self.max_bytes:
                self.full = self._bytes > 0  # (one message larger than the whole limit leaves it usable)
                raise SpoolFull(self._bytes, incoming, self.max_bytes)
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO spool (subject, msg_id, data) VALUES (?, ?, ?)", messages)
            self._db.execute("COMMIT")
            self._depth += len(messages)
            self._bytes += incoming

    def peek(self, limit: int = 256) -> list[SpooledMessage]:
        """The oldest messages, in the order they were spooled."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, subject, msg_id, data FROM spool ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [SpooledMessage(int(r[0]), str(r[1]), str(r[2]), bytes(r[3])) for r in rows]

    def remove(self, up_to_seq: int) -> None:
        """Forget every message up to and including `up_to_seq` (they are acknowledged)."""
        with self._lock:
            row = self._db.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM spool WHERE seq <= ?",
                                   (up_to_seq,)).fetchone()
            cursor = self._db.execute("DELETE FROM spool WHERE seq <= ?", (up_to_seq,))
            self._depth = max(0, self._depth - cursor.rowcount)
            self._bytes = max(0, self._bytes - int(row[0]))
            if self.full and self._bytes < self.max_bytes * RESUME_BELOW:
                self.full = False

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
