"""X replies: reply tweets and DMs as X receives them (OAuth 1.0a user-context signature checked), on the fake API."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import pytest
from oauthlib.oauth1.rfc5849 import signature, utils  # type: ignore[import-untyped]

from connectors.errors import PermanentError, RateLimited
from connectors.outbound.sender import SendRefused
from connectors.testkit import harness
from connectors.x import spec
from connectors.x.connector import XConnector
from connectors.x.settings import TWEEPY_HOST
from schemas import Envelope
from tests.fakes.x import CLIENT_FORBIDDEN, TOO_MANY, UNAUTHORIZED, XProvider, x_provider
from tests.notifier.messages import ack, final, normalised

FIXTURES = Path(__file__).parent / "fixtures"


@asynccontextmanager
async def connector(nats_url: str, **overrides: object) -> AsyncIterator[tuple[XConnector, XProvider]]:
    async with x_provider() as provider:
        settings = {**provider.settings, "user_id": "1023456789", **overrides}
        async with harness(spec, {k: v for k, v in settings.items() if v is not None}, nats_url) as h:
            assert isinstance(h.instance.connector, XConnector)
            yield h.instance.connector, provider


def mention() -> Envelope:
    envelopes = normalised(spec, (FIXTURES / "mentions_expansions.json").read_bytes(), "DKIJakarta")
    return next(e for e in envelopes if e.kind == "post")


def dm() -> Envelope:
    return normalised(spec, (FIXTURES / "dm_events.json").read_bytes(), "DKIJakarta")[0]


def signed_by_the_account(authorization: str, path: str) -> bool:
    """True when the OAuth 1.0a HMAC-SHA1 signature is the account's for POST {api.twitter.com}{path}."""
    params = [(k, utils.unescape(v)) for k, v in utils.parse_authorization_header(authorization) if k != "realm"]
    given = dict(params)["oauth_signature"]
    unsigned = [(k, v) for k, v in params if k != "oauth_signature"]
    base = signature.signature_base_string("POST", signature.base_string_uri(TWEEPY_HOST + path),
                                           signature.normalize_parameters(unsigned))
    expected = signature.sign_hmac_sha1(base, "cs-test-123456", "ats-test-123456")
    return bool(dict(params)["oauth_consumer_key"] == "ck-test-123456"
                and dict(params)["oauth_token"] == "at-test-123456" and expected == given)


async def test_public_mention_gets_a_signed_reply_tweet(nats_url: str) -> None:
    env = mention()
    message = ack(env)
    assert message.public_allowed
    async with connector(nats_url) as (x, provider):
        tweet_id = await x.send(message)
        await x.send(final(env))
    (path, authorization, body), (_, _, closing) = provider.posted
    assert path == "/2/tweets"
    assert signed_by_the_account(authorization, path)
    assert body == {"text": message.text, "reply": {"in_reply_to_tweet_id": env.external_id}}
    assert env.ref in body["text"] and "Selesai" in closing["text"]
    assert tweet_id is not None and tweet_id.isdigit()


async def test_dm_report_is_answered_by_dm(nats_url: str) -> None:
    env = dm()
    async with connector(nats_url) as (x, provider):
        event_id = await x.send(ack(env))
    [(path, authorization, body)] = provider.posted
    assert path == f"/2/dm_conversations/with/{env.reporter.user_id}/messages"
    assert signed_by_the_account(authorization, path)
    assert body == {"text": ack(env).text}
    assert event_id is not None


async def test_anonymous_public_report_never_gets_a_public_reply(nats_url: str) -> None:
    env = mention()
    env = msgspec.structs.replace(env, reporter=msgspec.structs.replace(env.reporter, anonymous=True))
    message = ack(env)
    assert not message.public_allowed
    async with connector(nats_url) as (x, provider):
        await x.send(message)
    assert [p for p, _, _ in provider.posted] == [f"/2/dm_conversations/with/{env.reporter.user_id}/messages"]


async def test_dm_not_allowed_by_access_level_is_refused_with_a_reason(nats_url: str) -> None:
    async with connector(nats_url) as (x, provider):
        provider.post_errors.append((403, CLIENT_FORBIDDEN))
        with pytest.raises(SendRefused, match="x_dm_not_allowed: Client Forbidden"):
            await x.send(ack(dm()))
        provider.post_errors.append((403, {"title": "Forbidden", "status": 403, "type": "about:blank",
                                           "detail": "Reply to this conversation is not allowed because you have "
                                                     "not been mentioned or otherwise engaged by the author of the "
                                                     "post you are replying to."}))
        with pytest.raises(SendRefused, match="x_reply_not_allowed: Forbidden: Reply to this conversation"):
            await x.send(ack(mention()))


async def test_rate_limit_waits_for_x_rate_limit_reset(nats_url: str) -> None:
    async with connector(nats_url) as (x, provider):
        provider.post_errors.append((429, TOO_MANY))
        with pytest.raises(RateLimited) as raised:
            await x.send(ack(mention()))
    assert raised.value.retry_at is not None and raised.value.retry_at - time.time() > 500


async def test_rejected_keys_are_a_credentials_error(nats_url: str) -> None:
    async with connector(nats_url) as (x, provider):
        provider.post_errors.append((401, UNAUTHORIZED))
        with pytest.raises(PermanentError) as raised:
            await x.send(ack(mention()))
    assert raised.value.credentials


async def test_without_user_context_nothing_is_sent(nats_url: str) -> None:
    async with connector(nats_url, consumer_key=None, consumer_secret=None, access_token=None,
                         access_token_secret=None) as (x, provider):
        with pytest.raises(SendRefused, match="x_no_user_context"):
            await x.send(ack(mention()))
    assert provider.posted == []
