"""A durable local spool: messages that could not reach NATS wait here, fsynced, and drain in order.

SQLite in WAL mode with synchronous=FULL: a row is on disk when `append` returns.
"""

from __future__ import annotations

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


class Spool:
    """Append-only, ordered; `peek` then `remove` once JetStream has acknowledged."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, subject TEXT NOT NULL,"
            " msg_id TEXT NOT NULL, data BLOB NOT NULL)"
        )
        self._depth = self._count()

    def _count(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM spool").fetchone()
        return int(row[0])

    @property
    def depth(self) -> int:
        """Messages waiting."""
        return self._depth

    @property
    def full(self) -> bool:
        """True when the spool cannot take more input safely: /readyz then answers 503 (not ready).

        The one place a spool limit decides this (the size limit of issue #20 plugs in here); no limit, never.
        """
        return False

    def append(self, messages: list[tuple[str, str, bytes]]) -> None:
        """Store (subject, msg_id, data) rows in one fsynced transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO spool (subject, msg_id, data) VALUES (?, ?, ?)", messages)
            self._db.execute("COMMIT")
            self._depth += len(messages)

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
            cursor = self._db.execute("DELETE FROM spool WHERE seq <= ?", (up_to_seq,))
            self._depth = max(0, self._depth - cursor.rowcount)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
