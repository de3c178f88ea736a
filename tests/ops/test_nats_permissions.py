"""`kanal nats config` against a real nats-server: each user can do its job and nothing else."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest
from nats.errors import TimeoutError as NatsTimeout

from connectors.checkpoint import Checkpoints, Lease
from connectors.media import MediaStore
from kanal import bus
from kanal.config import load
from kanal.ops import natsconf
from kanal.ops.provision import provision
from router.service import Router
from schemas import decode_routed, encode, subjects
from tests.factories import envelope, later
from tests.ops.natsperm import login, permissioned_server
from tests.router.helpers import make_router, publish

SECTIONS = """
[connectors.sms-a]
channel = "twilio"
whatsapp_fallback = "sms-b"
[connectors.sms-b]
channel = "twilio"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> object:
    tmp = tmp_path_factory.mktemp("natsperm")
    srv = permissioned_server(tmp, SECTIONS)
    config = load(tmp / "kanal.toml", env={})
    yield tmp, config, srv
    srv.stop()


@pytest.fixture(scope="module")
async def provisioned(server: tuple[Path, object, bus.EmbeddedNats]) -> tuple[Path, object, str]:
    tmp, config, srv = server
    async with login(srv.url, tmp / "secrets", natsconf.OPS_USER) as ops:
        await provision(ops.nc.jetstream(), config)  # type: ignore[arg-type]
    return tmp, config, srv.url


async def _route(router: Router, inputs: int = 1) -> None:
    """Fetch and handle batches as the router's loop does, until `inputs` inputs are handled (a fetch that finds
    nothing within 2 s fails the test)."""
    handled = 0
    while handled < inputs:
        msgs = await router.sub.fetch(64, timeout=2)
        await router.handle(msgs)
        handled += len(msgs)


async def test_the_server_refuses_clients_without_credentials(provisioned: tuple[Path, object, str]) -> None:
    _, _, url = provisioned
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0)


async def test_connector_publishes_its_own_subject_and_nothing_else(provisioned: tuple[Path, object, str]) -> None:
    tmp, _, url = provisioned
    async with login(url, tmp / "secrets", "connector-sms-a") as a:
        js = a.nc.jetstream(timeout=1)
        env = envelope("perm-1", instance="sms-a")
        ack = await js.publish(subjects.inbound("twilio", "sms-a"), encode(env), headers={"Nats-Msg-Id": env.id})
        assert ack.stream == subjects.STREAM_IN
        raw = await js.publish(subjects.raw("sms-a", env.id), b"raw payload", headers={"Nats-Msg-Id": env.id})
        assert raw.stream == subjects.STREAM_RAW
        assert (await js.publish(subjects.dlq("connector"), b"letter")).stream == subjects.STREAM_DLQ

        other = envelope("perm-2", instance="sms-b")
        for forbidden in (subjects.inbound("twilio", "sms-b"), subjects.raw("sms-b", other.id),
                          f"{subjects.RAW_PREFIX}.{other.id}",  # the 1.0 form: any id, any instance
                          subjects.admin("triage"), subjects.dlq("router"),
                          "$JS.API.STREAM.DELETE.KANAL_IN", "$JS.API.STREAM.PURGE.KANAL_ADMIN"):
            with pytest.raises(NatsTimeout):  # the server drops it and says why; the request times out
                await js.publish(forbidden, b"x") if not forbidden.startswith("$") else \
                    await a.nc.request(forbidden, b"{}", timeout=0.5)
            assert await a.refused(forbidden), f"{forbidden} was not refused: {a.errors}"


async def test_a_whatsapp_sender_may_hand_messages_to_its_sms_fallback_only(
        provisioned: tuple[Path, object, str]) -> None:
    tmp, _, url = provisioned
    async with login(url, tmp / "secrets", "connector-sms-a") as a:
        ack = await a.nc.jetstream(timeout=1).publish(subjects.outbound("twilio", "sms-b"), b"{}")
        assert ack.stream == subjects.STREAM_OUT
    async with login(url, tmp / "secrets", "connector-sms-b") as b:
        forbidden = subjects.outbound("twilio", "sms-a")
        with pytest.raises(NatsTimeout):
            await b.nc.jetstream(timeout=0.5).publish(forbidden, b"{}")
        assert await b.refused(forbidden), f"{forbidden} was not refused: {b.errors}"


async def test_connector_uses_its_own_checkpoint_lease_and_media(provisioned: tuple[Path, object, str]) -> None:
    tmp, _, url = provisioned
    from tests.connectors.sample_channels import FeedCursor

    async with login(url, tmp / "secrets", "connector-sms-b") as b:
        js = b.nc.jetstream(timeout=1)
        mine = await Checkpoints.open(js, "sms-b")
        await mine.save(FeedCursor(after=7))
        assert await mine.load(FeedCursor) == FeedCursor(after=7)
        lease = await Lease.open(js, "sms-b")
        assert await lease.try_acquire()
        await lease.renew()
        await lease.release()
        media = MediaStore(js, 1_000_000)
        stored = await media.put(b"\xff\xd8 jpeg bytes", "image/jpeg")
        assert not b.errors, b.errors
        assert stored.object_key == stored.sha256
        await media.close()

    async with login(url, tmp / "secrets", "connector-sms-a") as a:
        js = a.nc.jetstream(timeout=1)
        theirs = Checkpoints(await js.key_value(subjects.KV_CHECKPOINTS), "sms-b")
        with pytest.raises(NatsTimeout):
            await theirs.load(FeedCursor)
        key = f"$JS.API.DIRECT.GET.KV_{subjects.KV_CHECKPOINTS}.$KV.{subjects.KV_CHECKPOINTS}.sms-b"
        assert await a.refused(key)
        with pytest.raises(NatsTimeout):
            await theirs.save(FeedCursor(after=0))
        assert await a.refused(f"$KV.{subjects.KV_CHECKPOINTS}.sms-b")
        # reading by body (STREAM.MSG.GET) would bypass the per-key rule, so it is refused outright
        with pytest.raises(NatsTimeout):
            await a.nc.request(f"$JS.API.STREAM.MSG.GET.KV_{subjects.KV_CHECKPOINTS}", b"{}", timeout=0.5)
        assert await a.refused(f"$JS.API.STREAM.MSG.GET.KV_{subjects.KV_CHECKPOINTS}")


async def test_router_user_consumes_and_delivers_but_cannot_write_inbound(
        provisioned: tuple[Path, object, str]) -> None:
    tmp, config, url = provisioned
    async with login(url, tmp / "secrets", "connector-sms-a") as a:
        env = envelope("perm-router", instance="sms-a", text="Sampah menumpuk di Jalan Alpha sejak seminggu lalu")
        await publish(a.nc, env)
    async with login(url, tmp / "secrets", natsconf.ROUTER_USER) as r:
        router = await make_router(r.nc, config, tmp / "rules.toml")  # type: ignore[arg-type]
        await _route(router)
        assert not r.refusals(), r.errors
        with pytest.raises(NatsTimeout):
            await r.nc.jetstream(timeout=0.5).publish(subjects.inbound("twilio", "sms-a"), b"forged")
        assert await r.refused(subjects.inbound("twilio", "sms-a"))
    async with login(url, tmp / "secrets", natsconf.OPS_USER) as ops:
        info = await ops.nc.jetstream().stream_info(subjects.STREAM_ADMIN)
        assert info.state.messages >= 1
        refs = await ops.nc.jetstream().key_value(subjects.KV_REFS)
        assert (await refs.get(env.ref)).value  # the router user writes the reference index


async def test_router_user_completes_a_report_with_the_answer_to_its_location_request(
        provisioned: tuple[Path, object, str]) -> None:
    """router/prompts.py reads the report's queue, the admins' records and stages, and records its move."""
    tmp, config, url = provisioned
    report = envelope("perm-ask", instance="sms-a", text="Lampu jalan mati sudah tiga hari")
    answer = envelope("perm-answer", instance="sms-a", text="di kelurahan Beta", received_at=later(1))
    async with login(url, tmp / "secrets", natsconf.ROUTER_USER) as r:
        router = await make_router(r.nc, config, tmp / "rules.toml")  # type: ignore[arg-type]
        for env in (report, answer):
            async with login(url, tmp / "secrets", "connector-sms-a") as a:
                await publish(a.nc, env)
            await _route(router)
        assert not r.refusals(), r.errors
        assert router.metrics.location_answers.labels("rerouted")._value.get() == 1
    async with login(url, tmp / "secrets", natsconf.OPS_USER) as ops:
        js = ops.nc.jetstream()
        moved = await js.get_last_msg(subjects.STREAM_ADMIN, subjects.admin("kelurahan.3199011002"))
        assert decode_routed(moved.data).reroutes[-1].by == "router"


async def test_admin_reads_only_its_queue(provisioned: tuple[Path, object, str]) -> None:
    tmp, _, url = provisioned
    from nats.js.api import ConsumerConfig

    async with login(url, tmp / "secrets", "admin-kel1") as adm:
        js = adm.nc.jetstream(timeout=1)
        own = ConsumerConfig(name="admin-kel1", durable_name="admin-kel1",
                             filter_subject="kanal.admin.kelurahan.3199011001")
        info = await js.add_consumer(subjects.STREAM_ADMIN, own)
        assert info.name == "admin-kel1"
        other = ConsumerConfig(name="admin-kel1", durable_name="admin-kel1", filter_subject="kanal.admin.triage")
        with pytest.raises(NatsTimeout):
            await js.add_consumer(subjects.STREAM_ADMIN, other)
        assert await adm.refused("$JS.API.CONSUMER.CREATE.KANAL_ADMIN.admin-kel1.kanal.admin.triage")


def test_rendered_config_has_one_user_per_instance_and_private_mode(
        server: tuple[Path, object, bus.EmbeddedNats]) -> None:
    tmp, config, _ = server
    text = (tmp / "nats.conf").read_text()
    for user in ("kanal-ops", "router", "connector-sms-a", "connector-sms-b", "admin-kel1", "sys"):
        assert f'"user": "{user}"' in text
        assert (tmp / "secrets" / f"{user}.password").stat().st_mode & 0o777 == 0o600
    assert (tmp / "nats.conf").stat().st_mode & 0o777 == 0o600
    again = natsconf.render(config, natsconf.ServerOptions(), tmp / "secrets")  # type: ignore[arg-type]
    password = (tmp / "secrets" / "connector-sms-a.password").read_text().strip()
    assert password in again, "regenerating must keep the existing passwords"


async def test_a_connector_provisions_as_its_user_without_waiting_on_a_refusal(
        provisioned: tuple[Path, object, str]) -> None:
    """Found in a walk-through: every connector start waited 5 s on a refused stream look-up."""
    tmp, config, url = provisioned
    async with login(url, tmp / "secrets", "connector-sms-a") as a:
        await bus.provision(a.nc.jetstream(timeout=2), config)  # type: ignore[arg-type]  # a refusal: TimeoutError
        assert not a.errors, a.errors


async def test_no_user_can_read_another_users_replies(provisioned: tuple[Path, object, str]) -> None:
    """Found in review: with `_INBOX.>` for everyone, any user could subscribe to every reply, another
    connector's checkpoint read or the router's fetches included. Each user now has its own inbox prefix."""
    tmp, _, url = provisioned
    async with login(url, tmp / "secrets", "connector-sms-a") as a:
        for theirs in ("_INBOX.>", "_INBOX.connector-sms-b.>", f"{bus.inbox_prefix(natsconf.ROUTER_USER)}.>"):
            await a.nc.subscribe(theirs)
            await a.nc.flush()
            assert await a.refused(theirs), f"{theirs} was not refused: {a.errors}"
        own = await a.nc.jetstream(timeout=2).stream_info(subjects.STREAM_IN)  # its own replies still arrive
        assert own.config.name == subjects.STREAM_IN


async def test_router_user_holds_chat_fragments_and_routes_them_as_one_report(
        provisioned: tuple[Path, object, str]) -> None:
    import asyncio
    import time

    import msgspec

    from router.assembler import held_keys

    tmp, config, url = provisioned
    held_config = msgspec.structs.replace(config, conversations={"window": "1s"})  # type: ignore[type-var]
    chat = [envelope(f"perm-chat-{i}", instance="sms-a", text=text)
            for i, text in enumerate(["Lampu jalan mati di gang 5", "sudah tiga hari"])]
    async with login(url, tmp / "secrets", "connector-sms-a") as a:
        await publish(a.nc, *chat)
    async with login(url, tmp / "secrets", natsconf.ROUTER_USER) as r:
        router = await make_router(r.nc, held_config, tmp / "rules.toml")  # type: ignore[arg-type]
        await _route(router, len(chat))
        assert await held_keys(r.nc.jetstream())  # listed through the router's own ephemeral consumer
        closing = asyncio.create_task(router.close_reports())
        deadline = time.monotonic() + 60
        while await held_keys(r.nc.jetstream()) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        router.stopping.set()
        await closing
        assert not r.refusals(), r.errors
    async with login(url, tmp / "secrets", natsconf.OPS_USER) as ops:
        refs = await ops.nc.jetstream().key_value(subjects.KV_REFS)
        assert (await refs.get(chat[0].ref)).value and (await refs.get(chat[1].ref)).value
