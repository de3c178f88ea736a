"""Meta replies: the exact Graph requests (Send API, WhatsApp Cloud API, comment replies) on the local Graph fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from connectors.errors import PermanentError, RateLimited
from connectors.meta import spec
from connectors.meta.connector import MetaConnector
from connectors.outbound.sender import SendRefused
from connectors.testkit import harness
from schemas import Envelope, Reporter
from tests.connectors.meta import bodies as b
from tests.connectors.meta.cases import ACCOUNTS
from tests.fakes.meta import VERSION, FakeGraph, fake_graph, graph_failure
from tests.notifier.messages import ack, final, normalised

TOKEN = "EAAG-fake-graph-token-123456"
BEARER = f"Bearer {TOKEN}"


@asynccontextmanager
async def connector(nats_url: str, **overrides: object) -> AsyncIterator[tuple[MetaConnector, FakeGraph]]:
    async with fake_graph() as graph:
        settings = {"app_secret": "meta-app-secret-0123456789", "verify_token": "kanal-verify-token",
                    "access_token": TOKEN, "page_ids": [b.PAGE], "instagram_ids": [b.IG],
                    "phone_number_ids": [b.PHONE], "graph_url": graph.base_url, "api_version": VERSION,
                    **overrides}
        async with harness(spec, settings, nats_url) as h:
            assert isinstance(h.instance.connector, MetaConnector)
            yield h.instance.connector, graph


def report(raw: bytes, age: timedelta = timedelta(minutes=5), **reporter: object) -> Envelope:
    """The envelope the webhook would publish, made `age` old (the payload samples carry fixed times)."""
    [env] = normalised(spec, raw, ACCOUNTS)
    env = msgspec.structs.replace(env, created_at=datetime.now(UTC) - age)
    if reporter:
        env = msgspec.structs.replace(env, reporter=msgspec.structs.replace(env.reporter, **reporter))
    return env


MESSENGER = b.page(b.messenger("m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqx", b.TEXT_ID))
INSTAGRAM = b.instagram(b.messenger("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx", "Pohon tumbang",
                                    sender=b.IGSID, recipient=b.IG))
WHATSAPP = b.whatsapp(b.wa(b.wamid(1), "text", {"body": "Banjir di Kemang"}))
COMMENT = b.page(changes=[b.feed("comment", post_id=f"{b.PAGE}_777", comment_id="777_888", parent_id=f"{b.PAGE}_777",
                                 message="Lampu jalan mati pak")])
POST = b.page(changes=[b.feed("status", post_id=f"{b.PAGE}_1029384756", message="Banjir di Kemang", published=1)])
IG_COMMENT = b.instagram(changes=[{"field": "comments", "value": {
    "from": {"id": b.IGSID, "username": "warga.jakarta"}, "media": {"id": "18002345678901234"},
    "id": "17865799348089039", "text": "@dkijakarta trotoar rusak di Cikini"}}])


async def test_messenger_dm_is_answered_with_the_send_api(nats_url: str) -> None:
    env = report(MESSENGER)
    async with connector(nats_url) as (meta, graph):
        assert (await meta.send(ack(env))).provider_id == "m_reply-1"
    [post] = graph.sent
    assert post.path == f"/{VERSION}/{b.PAGE}/messages"
    assert post.authorization == BEARER and post.content_type == "application/json"
    assert post.body == {"recipient": {"id": b.PSID}, "messaging_type": "RESPONSE",
                         "message": {"text": ack(env).text}}
    assert env.ref in str(post.body)


async def test_instagram_dm_goes_to_the_instagram_account(nats_url: str) -> None:
    env = report(INSTAGRAM)
    async with connector(nats_url, access_tokens={b.IG: "ig-page-token-0987654321"}) as (meta, graph):
        graph.token = "ig-page-token-0987654321"
        await meta.send(final(env))
    [post] = graph.sent
    assert post.path == f"/{VERSION}/{b.IG}/messages"
    assert post.authorization == "Bearer ig-page-token-0987654321", "the account's own token, not the default"
    assert post.body["recipient"] == {"id": b.IGSID}
    assert "Selesai" in str(post.body["message"])


async def test_whatsapp_reply_is_threaded_on_the_reporters_message(nats_url: str) -> None:
    env = report(WHATSAPP)
    async with connector(nats_url) as (meta, graph):
        graph.customer_wrote(b.WA_ID, env.created_at)
        sent = await meta.send(ack(env))
    [post] = graph.sent
    assert post.path == f"/{VERSION}/{b.PHONE}/messages"
    assert post.body == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": b.WA_ID,
                         "type": "text", "context": {"message_id": b.wamid(1)},
                         "text": {"preview_url": False, "body": ack(env).text}}
    assert sent.provider_id is not None and sent.provider_id.startswith("wamid.")
    assert sent.template is None, "inside the window: free text"


@pytest.mark.parametrize(("raw", "reason"), [(WHATSAPP, "whatsapp_24h_window_closed"),
                                             (MESSENGER, "messenger_24h_window_closed"),
                                             (INSTAGRAM, "instagram_24h_window_closed")])
async def test_messaging_window_closed_after_24_hours(nats_url: str, raw: bytes, reason: str) -> None:
    env = report(raw, age=timedelta(hours=25))
    async with connector(nats_url) as (meta, graph):
        with pytest.raises(SendRefused, match=reason):
            await meta.send(ack(env))
    assert graph.sent == []


async def test_public_comment_gets_a_public_reply_comment(nats_url: str) -> None:
    env = report(COMMENT)
    message = ack(env)
    assert message.public_allowed
    async with connector(nats_url) as (meta, graph):
        await meta.send(message)
        await meta.send(final(env))
    first, second = graph.sent
    assert first.path == second.path == f"/{VERSION}/777_888/comments"
    assert first.body == {"message": message.text}


async def test_instagram_comment_gets_a_public_reply(nats_url: str) -> None:
    env = report(IG_COMMENT)
    async with connector(nats_url) as (meta, graph):
        await meta.send(ack(env))
    assert [p.path for p in graph.sent] == [f"/{VERSION}/17865799348089039/replies"]


async def test_anonymous_comment_gets_one_private_reply_never_a_public_one(nats_url: str) -> None:
    env = report(COMMENT, anonymous=True)
    message = ack(env)
    assert not message.public_allowed
    async with connector(nats_url) as (meta, graph):
        await meta.send(message)
        with pytest.raises(SendRefused, match="one private reply per comment"):
            await meta.send(final(env))
    [post] = graph.sent
    assert post.path == f"/{VERSION}/{b.PAGE}/messages"
    assert post.body == {"recipient": {"comment_id": "777_888"}, "message": {"text": message.text}}
    assert not any(p.path.endswith(("/comments", "/replies")) for p in graph.sent)


async def test_anonymous_visitor_post_private_reply_within_7_days_only(nats_url: str) -> None:
    fresh, old = report(POST, anonymous=True), report(POST, age=timedelta(days=8), anonymous=True)
    async with connector(nats_url) as (meta, graph):
        await meta.send(ack(fresh))
        with pytest.raises(SendRefused, match="within 7 days"):
            await meta.send(ack(old))
    [post] = graph.sent
    assert post.body["recipient"] == {"post_id": f"{b.PAGE}_1029384756"}


@pytest.mark.parametrize(("failure", "error", "text"), [
    (graph_failure(401, 190, "Error validating access token: Session has expired"), PermanentError, "token"),
    (graph_failure(400, 10, "(#10) This message is sent outside of allowed window.", subcode=2018278),
     SendRefused, "meta_permission"),
    (graph_failure(403, 200, "(#200) The user hasn't authorized the app", "OAuthException"), SendRefused,
     "meta_permission"),
    (graph_failure(400, 613, "Calls to this api have exceeded the rate limit."), RateLimited, "rate limit"),
    (graph_failure(400, 32, "Page request limit reached"), RateLimited, "rate limit"),
    (graph_failure(400, 131047, "Re-engagement message", "OAuthException"), SendRefused,
     "whatsapp_24h_window_closed"),
])
async def test_graph_errors_map_to_what_the_sender_loop_does(
        nats_url: str, failure: tuple[int, dict[str, object]], error: type[Exception], text: str) -> None:
    env = report(MESSENGER)
    async with connector(nats_url) as (meta, graph):
        graph.errors.append(failure)
        with pytest.raises(error, match=text) as raised:
            await meta.send(ack(env))
    assert len(graph.sent) == 1
    if isinstance(raised.value, PermanentError):
        assert raised.value.credentials


async def test_no_token_for_the_account_is_a_config_error(nats_url: str) -> None:
    env = report(MESSENGER)
    async with connector(nats_url, access_token=None) as (meta, graph):
        with pytest.raises(PermanentError, match="access_token"):
            await meta.send(ack(env))
    assert graph.sent == []


def test_reporter_without_id_is_refused() -> None:
    env = msgspec.structs.replace(report(MESSENGER), reporter=Reporter(contact="x"))
    from connectors.meta.sender import plan

    with pytest.raises(SendRefused, match="no sender id"):
        plan(ack(env), datetime.now(UTC))


def test_a_whatsapp_group_message_is_never_answered_in_private() -> None:
    from connectors.meta.sender import plan

    group = b.whatsapp(b.wa(b.wamid(40), "text", {"body": "Sampah di RW 03"}, group_id="kanal-test-group-1"))
    with pytest.raises(SendRefused, match="whatsapp_group_not_answered"):
        plan(ack(report(group)), datetime.now(UTC))
    direct = b.whatsapp(b.wa(b.wamid(41), "text", {"body": "Sampah di RW 03"}))
    assert plan(ack(report(direct)), datetime.now(UTC))[1]["to"] == b.WA_ID


async def test_a_whatsapp_user_known_only_by_their_user_id_is_answered_by_recipient(nats_url: str) -> None:
    bsuid = "ID.13491208655302741918"
    env = report(WHATSAPP, contact=None, user_id=bsuid)
    async with connector(nats_url) as (meta, graph):
        graph.customer_wrote(bsuid, env.created_at)
        sent = await meta.send(ack(env))
    [post] = graph.sent
    assert post.body["recipient"] == bsuid and "to" not in post.body
    assert post.body["type"] == "text" and sent.provider_id is not None


def test_a_phone_number_wins_over_the_user_id_and_nothing_at_all_is_refused() -> None:
    from connectors.meta.sender import plan

    both = plan(ack(report(WHATSAPP, user_id="ID.1349120865")), datetime.now(UTC))[1]
    assert both["to"] == b.WA_ID and "recipient" not in both
    message = ack(report(WHATSAPP))  # (the notifier never queues a reply without an address; the sender checks too)
    nobody = msgspec.structs.replace(message.reply_to, reporter=msgspec.structs.replace(
        message.reply_to.reporter, contact=None, user_id=None))
    with pytest.raises(SendRefused, match="whatsapp_no_recipient"):
        plan(msgspec.structs.replace(message, reply_to=nobody), datetime.now(UTC))
