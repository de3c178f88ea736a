"""Replies on X with tweepy's Client in user context (the same keys that read DMs).

A public report (a mention or a reply to the city's account) that may be answered publicly gets a reply
tweet (`POST /2/tweets` with reply.in_reply_to_tweet_id); a DM, or any report that must stay private
(private or anonymous), gets a direct message (`POST /2/dm_conversations/with/:participant_id/messages`),
never a public reply. What X refuses (the access level, a user who does not accept DMs, a conversation the
account was not invited into) is recorded with X's own reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec
import requests
import tweepy

from connectors.errors import PermanentError, RateLimited, TransientError
from connectors.outbound.sender import SendRefused
from connectors.x.client import Problem, XApi
from schemas.outbound import OutboundMessage


class _Created(msgspec.Struct, kw_only=True):
    id: str | None = None
    dm_event_id: str | None = None


class _Answer(msgspec.Struct, kw_only=True):
    data: _Created


async def send(api: XApi, message: OutboundMessage) -> str | None:
    """A reply tweet when allowed, else a DM; returns the new tweet or DM event id."""
    if api.user is None:
        raise SendRefused("x_no_user_context: replies and DMs need the account's OAuth user keys "
                          "(consumer_key/secret + access_token/secret, or user_bearer_token)")
    envelope = message.reply_to
    client, auth = api.user, api.user_auth
    if message.public_allowed and envelope.kind in ("post", "comment"):
        response = await _call(client.create_tweet, "reply", text=message.text,
                               in_reply_to_tweet_id=envelope.external_id, user_auth=auth)
    else:
        participant = envelope.reporter.user_id
        if not participant:
            raise SendRefused("x_no_user: the report carries no X user id to write to")
        response = await _call(client.create_direct_message, "dm", participant_id=participant,
                               text=message.text, user_auth=auth)
    try:
        created = msgspec.json.decode(response.content, type=_Answer).data
    except msgspec.DecodeError:
        return None
    return created.id or created.dm_event_id


async def _call(method: Callable[..., Any], what: str, **kwargs: Any) -> requests.Response:
    try:
        response: requests.Response = await asyncio.to_thread(method, **kwargs)
    except tweepy.TooManyRequests as err:
        reset = err.response.headers.get("x-rate-limit-reset", "")
        raise RateLimited(f"X rate limit reached for {what} (429)",
                          retry_at=float(reset) if reset.isdigit() else None) from err
    except tweepy.Unauthorized as err:
        raise PermanentError("X rejected the credentials (401)", credentials=True,
                             hint="renew the OAuth user keys (or user_bearer_token) in the X developer portal") from err
    except tweepy.Forbidden as err:
        problem = _problem(err.response)
        if what == "dm":
            raise SendRefused(f"x_dm_not_allowed: {problem.title or 'Forbidden'}: {problem.detail or problem.reason} "
                              "(the app's access level must include dm.write, and the user must accept DMs "
                              "from the account)") from err
        raise SendRefused(f"x_reply_not_allowed: {problem.title or 'Forbidden'}: "
                          f"{problem.detail or problem.reason}") from err
    except (tweepy.BadRequest, tweepy.NotFound) as err:
        problem = _problem(err.response)
        raise SendRefused(f"x_{what}_refused ({err.response.status_code}): {problem.detail or problem.title}") \
            from err
    except tweepy.HTTPException as err:
        raise TransientError(f"X answered {err.response.status_code} for {what}") from err
    except requests.RequestException as err:
        raise TransientError(f"X unreachable: {type(err).__name__}") from err
    return response


def _problem(response: requests.Response) -> Problem:
    try:
        return msgspec.json.decode(response.content, type=Problem)
    except msgspec.DecodeError:
        return Problem(detail=response.text[:200])
