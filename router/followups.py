"""Follow-ups: a message that adds to an existing report is attached to it, never a new open item.

A message is a follow-up of a report when
- it carries the report's reference (KNL-...) and comes from the report's reporter (one of the identity
  keys dedup uses: contact, NIK, or the same channel's user id/handle); someone else's reference is text;
- it is an e-mail whose thread (References root or In-Reply-To) is the report's e-mail or its thread, as in
  a reply to our acknowledgement (which the e-mail sender threads under the report), from the same reporter;
- it is a chat reply (Telegram reply_to_message, WhatsApp context) to a message Kanal sent about the report
  (each sender loop records `reply.<hash>` -> reference in `kanal_outbound` when a message is sent).

Both are read from the reference index (bucket `kanal_refs`): `<ref>` and `thr.<hash>` keys, one batched read
per batch. The follow-up is published as a `duplicate` notice of the report with `follow_up_of` set, in the
report's queue (so a reader that predates follow-ups still sees it linked to the report).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from connectors.email.normalise import own_message_id
from kanal.control import find_ref
from kanal.references import RefRecord
from kanal.sends import reply_key
from router.similarity import digest, reporter_keys
from schemas.envelope import Envelope, report_ref
from schemas.routed import RoutedItem

_records = msgspec.json.Decoder(RefRecord)


@dataclass(frozen=True, slots=True)
class FollowUp:
    """The report a message adds to, where that report is, and why."""

    report_id: str
    ref: str
    queue: str
    reason: str


def thread_key(channel: str, account: str, message_id: str) -> str:
    """The reference-index key of an e-mail thread id on one mailbox."""
    return "thr." + digest("thread", channel, account, message_id)


def _thread_ids(env: Envelope) -> list[str]:
    """The ids a reply's thread names: its References root and the message it answers."""
    if env.kind != "email" or env.thread is None:
        return []
    return [i for i in dict.fromkeys((env.thread.conversation, env.thread.reply_to)) if i]


def lookup_keys(env: Envelope) -> list[str]:
    """The reference-index keys that may name the report this message adds to."""
    keys = [thread_key(env.channel, env.account, i) for i in _thread_ids(env)]
    ref = find_ref(env.text) or (find_ref(env.subject) if env.subject else None)
    if ref is not None and ref != env.ref:
        keys.append(ref)
    return keys


def thread_writes(item: RoutedItem, record: bytes) -> list[tuple[str, bytes]]:
    """For an e-mail report: its own Message-ID and its thread root point at its record, so a reply in the
    thread (ours included) finds it. Nothing for other channels, where a conversation holds many reports."""
    env = item.envelope
    if env.kind != "email" or item.kind != "item":
        return []
    ids = [own_message_id(env.external_id), env.thread.conversation if env.thread else None]
    return [(thread_key(env.channel, env.account, i), record) for i in dict.fromkeys(ids) if i]


def reply_lookup(env: Envelope) -> list[str]:
    """The `kanal_outbound` key of the message a chat message replies to, if it replies to one."""
    if env.kind == "email" or env.thread is None or not env.thread.reply_to:
        return []
    return [reply_key(env.channel, env.instance, env.thread.reply_to)]


def detect(env: Envelope, found: dict[str, bytes], replies: dict[str, bytes] | None = None) -> FollowUp | None:
    """The report `env` adds to, from the index values read for `lookup_keys(env)` and, for a chat reply, the
    reference our replied-to message was about (`replies`, read for `reply_lookup(env)`); None for a new report."""
    mine = set(reporter_keys(env))
    answered = [(replies or {}).get(k, b"").decode() for k in reply_lookup(env)]
    for key in [*lookup_keys(env), *(ref for ref in answered if ref)]:
        raw = found.get(key)
        if not raw:
            continue
        record = _records.decode(raw)
        if record.id == env.id or not mine & set(record.reporters):
            continue  # someone else's reference (or thread) is plain text
        report_id = record.duplicate_of or record.id
        how = ("the e-mail thread of" if key.startswith("thr.") else
               "a reply to our message about" if key in answered else "the reference of")
        ref = report_ref(report_id)
        return FollowUp(report_id=report_id, ref=ref, queue=record.queue or "triage",
                        reason=f"follow-up: {how} {ref} from its reporter")
    return None


def detect_many(envs: Sequence[Envelope], found: dict[str, bytes]) -> list[FollowUp | None]:
    """`detect` for a batch."""
    return [detect(env, found) for env in envs]
