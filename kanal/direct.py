"""The last message of many subjects in one request: JetStream's batched direct get (`multi_last`); and the
messages of one subject from a point in time (`from_time`).

nats-server >= 2.11 answers `{"multi_last": [subjects...], "batch": n}` on `$JS.API.DIRECT.GET.<stream>` with
one message per subject that has one, then a status message (204 end of batch, 404 nothing found). The
stream needs `allow_direct` (Kanal's streams and KV buckets have it). A KV key is the subject `$KV.<bucket>.<key>`
on stream `KV_<bucket>`; its `KV-Operation` header says whether the last entry deleted it (see `kv_value`).
`kv_values` reads many keys of one bucket that way, by key.

Used where a page of work needs many keys at once: the router's dedup reads, the admin console's item states
and statuses. One request per 1,000 subjects instead of one per subject.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

MULTI_LAST_MAX = 1000  # subjects per request (the server's cap on a batch)
STATUS = "Status"


class DirectGetError(Exception):
    """The stream did not answer in time, or refused the request; the message says which."""


def kv_value(msg: Msg) -> bytes | None:
    """A KV entry's value, or None when its last operation deleted or purged the key."""
    operation = (msg.headers or {}).get("KV-Operation")
    return msg.data if operation in (None, "PUT") else None


async def kv_values(nc: NATS, bucket: str, keys: list[str], wait_s: float = 5.0) -> dict[str, bytes]:
    """The current value of each key of KV `bucket` that has one (missing, deleted and purged keys are absent),
    by key, in as few requests as fit."""
    prefix = f"$KV.{bucket}."
    found = await last_per_subject(nc, f"KV_{bucket}", [prefix + k for k in keys], wait_s)
    cut = len(prefix)
    return {subject[cut:]: value for subject, msg in found.items() if (value := kv_value(msg)) is not None}


async def last_per_subject(nc: NATS, stream: str, subjects: list[str], wait_s: float = 5.0,
                           batch: int | None = None) -> dict[str, Msg]:
    """The last message of each subject that has one (subjects without are absent), in as few requests as fit.

    A subject may be a wildcard (`$KV.b.inc.x.*`): then every matching subject's last message is returned, up
    to `batch` messages per request (default: one per subject asked)."""
    unique = list(dict.fromkeys(subjects))
    chunks = [unique[i : i + MULTI_LAST_MAX] for i in range(0, len(unique), MULTI_LAST_MAX)]
    found: dict[str, Msg] = {}
    for part in await asyncio.gather(*(_chunk(nc, stream, chunk, wait_s, batch) for chunk in chunks)):
        found.update(part)
    return found


async def _chunk(nc: NATS, stream: str, subjects: list[str], wait_s: float, batch: int | None) -> dict[str, Msg]:
    if not subjects:
        return {}
    msgs = await _get(nc, stream, {"multi_last": subjects, "batch": batch or len(subjects)}, wait_s)
    return {(msg.headers or {}).get("Nats-Subject", ""): msg for msg in msgs}


async def from_time(nc: NATS, stream: str, subject: str, start: str, batch: int = 256, after_seq: int = 0,
                    wait_s: float = 5.0) -> list[Msg]:
    """Up to `batch` messages on `subject` stored at or after `start` (RFC 3339), or after `after_seq` when given
    (to page on), oldest first: one direct get (`start_time`/`seq` with `next_by_subj`)."""
    where: dict[str, Any] = {"seq": after_seq + 1} if after_seq else {"start_time": start}
    return await _get(nc, stream, {**where, "next_by_subj": subject, "batch": batch}, wait_s)


async def _get(nc: NATS, stream: str, request: dict[str, Any], wait_s: float) -> list[Msg]:
    """One batched direct get: the messages the server sends, in order, up to its closing status message."""
    found: list[Msg] = []
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    failure: list[str] = []

    async def on_msg(msg: Msg) -> None:
        headers = msg.headers or {}
        status = headers.get(STATUS)
        if status is None:
            found.append(msg)
            return
        if status not in ("204", "404"):
            failure.append(f"status {status} {headers.get('Description', '')}".strip())
        if not done.done():
            done.set_result(None)

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=on_msg)
    try:
        await nc.publish(f"$JS.API.DIRECT.GET.{stream}", msgspec.json.encode(request), reply=inbox)
        await asyncio.wait_for(done, wait_s)
    except TimeoutError as err:
        raise DirectGetError(f"no answer from {stream} direct get within {wait_s:g}s (is the stream there, with "
                             f"allow_direct, and is this user allowed $JS.API.DIRECT.GET.{stream}?)") from err
    finally:
        await sub.unsubscribe()
    if failure:
        raise DirectGetError(f"{stream} direct get failed: {failure[0]}")
    return found
