"""The email connector against a real Dovecot (tests/fakes/dovecot.py) and a real nats-server.

Provider failures are mapped onto IMAP the way they happen in practice: "503"/"429" (server unavailable,
throttled) = Dovecot stopped, so connecting is refused -> TransientError; "401" = the server rejects the
password -> PermanentError(credentials=True).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest
from nats.aio.client import Client as NATS

from connectors.checkpoint import Checkpoints
from connectors.email import spec
from connectors.email.settings import EmailCursor
from connectors.errors import PermanentError, TransientError
from connectors.testkit import Case, PollerContract, harness
from connectors.testkit.harness import stored_messages
from schemas import Envelope, decode_envelope, subjects
from tests.conftest import shared_path
from tests.connectors.email import messages as m
from tests.connectors.email.test_normalise import SAMPLES
from tests.fakes.dovecot import Dovecot, running_dovecot

ROOT = Path(__file__).resolve().parents[3]


class MailProvider:
    """The contract kit's provider: a Dovecot mailbox that can receive mail and fail on demand."""

    def __init__(self, server: Dovecot) -> None:
        self.server = server
        self.sent = 0
        self.settings: dict[str, object] = {**server.settings, "batch_size": 2}

    def add(self, count: int) -> None:
        self.server.append(*(m.complaint(self.sent + i + 1) for i in range(count)))
        self.sent += count

    def fail(self, status: int | None) -> None:
        if status is None:
            self.server.set_passwords(self.server.password, self.server.token)
            if not self.server.running:
                self.server.start()
        elif status in (401, 403):
            if not self.server.running:
                self.server.start()
            self.server.set_passwords("not-the-password", "not-the-token")
        else:
            self.server.stop()


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


class TestEmailContract(PollerContract):
    spec = spec
    settings: ClassVar[dict[str, Any]] = {
        "account": "dki@jakarta.go.id", "imap_host": "imap.example.invalid", "user": "dki",
        "password": "contract-secret-imap-9876"}
    secrets: ClassVar[list[str]] = ["contract-secret-imap-9876"]
    cases: ClassVar[list[Case]] = [
        Case(name, raw, "dki@jakarta.go.id", media_type="message/rfc822") for name, raw in m.ALL.items()] + [
        Case("blank", b"\r\n\r\n", "dki@jakarta.go.id", expect="bad_payload", media_type="message/rfc822")]

    @pytest.fixture
    def provider(self, dovecot: Dovecot) -> MailProvider:
        provider = MailProvider(dovecot)
        provider.add(3)
        return provider


async def _pass(h: Any) -> int:
    checkpoints = await Checkpoints.open(h.nc.jetstream(), h.instance.name)
    count: int = await h.instance.connector.run_pass(checkpoints, asyncio.Event())
    return count


async def _cursor(h: Any) -> EmailCursor | None:
    return await (await Checkpoints.open(h.nc.jetstream(), h.instance.name)).load(EmailCursor)


async def test_samples_and_composed_mail_round_trip_through_imap(dovecot: Dovecot, nats_url: str) -> None:
    names = sorted(SAMPLES)
    raws = [shared_path("samples", "email", n).read_bytes() for n in names] + list(m.ALL.values())
    await asyncio.to_thread(dovecot.append, *raws)
    async with harness(spec, {**dovecot.settings, "batch_size": 5}, nats_url) as h:
        assert await _pass(h) == len(raws)
        published = await h.published()
        assert len(published) == len({e.id for e in published}) == len(raws)
        by_subject = {e.subject: e for e in published}
        # the same checks as the pure tests, on what came back over IMAP (CRLF, Dovecot's storage)
        for name, env in zip(names, published[:len(names)], strict=True):
            SAMPLES[name](env)
        assert "auto_reply" in by_subject["Out of office: Laporan banjir"].flags
        assert "bounce" in by_subject["Undelivered Mail Returned to Sender"].flags
        assert await _cursor(h) == EmailCursor(uidvalidity=dovecot.uids()[0], last_uid=len(raws))
    assert all(b"\\Seen" not in f for f in dovecot.flags().values()), "BODY.PEEK[] must not mark mail as read"


async def test_attachments_and_inline_images_go_to_the_object_store(dovecot: Dovecot, nats_url: str) -> None:
    await asyncio.to_thread(dovecot.append, m.with_attachments())
    async with harness(spec, dovecot.settings, nats_url) as h:
        assert await _pass(h) == 1
        (env,) = await h.published()
        assert [a.name for a in env.attachments] == ["foto.png", "surat pengantar.pdf"]
        media = h.instance.media
        assert [await media.get(a.object_key or "") for a in env.attachments] == [m.PNG, m.PDF]
        assert all(a.object_key == a.sha256 and a.error is None for a in env.attachments)


async def test_idle_wakes_the_connector_on_new_mail_and_on_stop(dovecot: Dovecot, nats_url: str) -> None:
    settings = {**dovecot.settings, "poll_interval": "1h", "idle_timeout": "1h"}
    async with harness(spec, settings, nats_url) as h:
        assert await _pass(h) == 0
        connector = h.instance.connector
        assert connector.box.can_idle
        stop = asyncio.Event()
        waiting = asyncio.create_task(connector.wait(stop))
        await asyncio.to_thread(dovecot.append, m.complaint(41))
        await asyncio.wait_for(waiting, 30)  # a bound against hanging; it returns as soon as mail is seen
        assert not stop.is_set()
        assert await _pass(h) == 1
        assert [e.subject for e in await h.published()] == ["Laporan banjir nomor 41"]
        waiting = asyncio.create_task(connector.wait(stop))
        stop.set()
        await asyncio.wait_for(waiting, 30)


async def test_uidvalidity_change_neither_loses_nor_repeats(dovecot: Dovecot, nats_url: str) -> None:
    await asyncio.to_thread(dovecot.append, *(m.complaint(n) for n in range(1, 4)))
    async with harness(spec, {**dovecot.settings, "batch_size": 2}, nats_url) as h:
        assert await _pass(h) == 3
        old = await _cursor(h)
        assert old is not None and old.last_uid == 3
        new_validity = await asyncio.to_thread(dovecot.change_uidvalidity)
        await asyncio.to_thread(dovecot.append, *(m.complaint(n) for n in range(4, 6)))
        await _pass(h)  # reads all 5 again: the 3 old ones come back with their old envelope ids
        subjects_seen = [e.subject for e in await h.published()]
        assert subjects_seen == [f"Laporan banjir nomor {n}" for n in range(1, 6)], "each mail exactly once"
        cursor = await _cursor(h)
        assert cursor is not None and cursor.uidvalidity == new_validity != old.uidvalidity
        assert await _pass(h) == 0, "after the re-read the new epoch's checkpoint holds"


async def test_first_run_reads_only_recent_mail(dovecot: Dovecot, nats_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    long_ago = datetime.now(UTC) - timedelta(days=400)
    await asyncio.to_thread(dovecot.append, m.complaint(1), when=long_ago)  # last year's inbox
    await asyncio.to_thread(dovecot.append, m.complaint(2))
    async with harness(spec, {**dovecot.settings, "first_run_since": "7d"}, nats_url) as h:
        assert await _pass(h) == 1
        assert [e.subject for e in await h.published()] == ["Laporan banjir nomor 2"]
        await asyncio.to_thread(dovecot.append, m.complaint(3))
        assert await _pass(h) == 1, "after the first run the checkpoint decides, whatever the date"


async def test_flag_and_move_after_publish(dovecot: Dovecot, nats_url: str) -> None:
    await asyncio.to_thread(dovecot.append, m.complaint(1), m.complaint(2))
    async with harness(spec, {**dovecot.settings, "after_publish": "flag", "flag": "KanalIn"}, nats_url) as h:
        assert await _pass(h) == 2
    assert all(b"KanalIn" in f for f in dovecot.flags().values())
    async with harness(spec, {**dovecot.settings, "after_publish": "move", "move_to": "Kanal-Diterima",
                              "batch_size": 1}, nats_url) as h:
        assert await _pass(h) == 2
    assert dovecot.uids()[1] == [] and len(dovecot.uids("Kanal-Diterima")[1]) == 2


async def test_xoauth2_login(dovecot: Dovecot, nats_url: str) -> None:
    await asyncio.to_thread(dovecot.append, m.complaint(7))
    settings = {k: v for k, v in dovecot.settings.items() if k != "password"}
    async with harness(spec, {**settings, "oauth2_token": dovecot.token}, nats_url) as h:
        assert await _pass(h) == 1
    async with harness(spec, {**settings, "oauth2_token": "expired-token"}, nats_url) as h:
        with pytest.raises(PermanentError) as err:
            await _pass(h)
        assert err.value.credentials


@pytest.mark.parametrize("mode", ["tls", "starttls"])
async def test_imaps_and_starttls_with_a_verified_certificate(mode: str, nats_url: str) -> None:
    with running_dovecot(tls=True) as server:
        await asyncio.to_thread(server.append, m.complaint(8))
        port = server.imaps_port if mode == "tls" else server.port
        settings = {**server.settings, "tls": mode, "imap_port": port, "tls_ca_file": str(server.cert)}
        async with harness(spec, settings, nats_url) as h:
            assert await _pass(h) == 1
        async with harness(spec, {**settings, "tls_ca_file": None}, nats_url) as h:
            with pytest.raises(TransientError, match="CERTIFICATE_VERIFY_FAILED"):
                await _pass(h)


def _config(tmp_path: Path, nats_url: str, settings: dict[str, object]) -> Path:
    lines = [f'[nats]\nurl = "{nats_url}"\n', f'[kanal]\ndata_dir = "{tmp_path / "var"}"\n',
             "[connectors.email-dki]", 'channel = "email"']
    lines += [f"{k} = {msgspec.json.encode(v).decode()}" for k, v in settings.items()]
    path = tmp_path / "kanal.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def _spawn(config: Path, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KANAL_LOG__FORMAT": "json"}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kanal", "connector", "run", "email-dki", "--config", str(config), *args,
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def _published(nc: NATS) -> list[Envelope]:
    return [decode_envelope(d) for d in await stored_messages(nc, subjects.inbound("email", "email-dki"))]


@pytest.mark.slow
async def test_killed_mid_batch_resumes_with_every_message_once(
        dovecot: Dovecot, provisioned: NATS, nats_url: str, tmp_path: Path) -> None:
    total = 150
    padding = "Rincian: " + "air menggenang di depan rumah warga. " * 300  # ~11 KB each: slower pages
    await asyncio.to_thread(dovecot.append, *(m.complaint(n, text=f"Laporan {n}. {padding}")
                                              for n in range(1, total + 1)))
    config = _config(tmp_path, nats_url, {**dovecot.settings, "batch_size": 5})
    proc = await _spawn(config)
    js = provisioned.jetstream()
    while True:  # kill as soon as some, not all, have been published
        try:
            done = (await js.stream_info(subjects.STREAM_IN)).state.messages
        except Exception:
            done = 0
        if done >= 12 or proc.returncode is not None:
            break
        await asyncio.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    before = await _published(provisioned)
    assert 0 < len(before) < total, "the kill must land mid-way"
    proc = await _spawn(config, "--once")
    assert await asyncio.wait_for(proc.wait(), 120) == 0
    after = await _published(provisioned)
    assert [e.subject for e in after] == [f"Laporan banjir nomor {n}" for n in range(1, total + 1)]
