"""X API v2 through tweepy's own Client (its parameter handling, OAuth 1.0a signing and error mapping).

tweepy hard-codes `https://api.twitter.com` and exposes the `requests.Session` it sends with
(`Client.session`). Kanal mounts a requests transport adapter on that session for the tweepy host: it
rewrites the host to `api_base_url` (tests, egress proxies; a no-op by default) and adds a timeout, which
tweepy never sets. Signing happens before the adapter, on the canonical URL, exactly as in production.
tweepy is synchronous, so each call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec
import requests
import tweepy
from requests.adapters import HTTPAdapter

from connectors.errors import PermanentError, RateLimited, TransientError
from connectors.x.settings import TWEEPY_HOST, XSettings


class Forbidden(PermanentError):
    """403: the app's access level (or the token type) does not allow this endpoint."""

    def __init__(self, message: str, problem: str) -> None:
        self.problem = problem
        super().__init__(message, hint="check the app's access level and token type in the X developer portal "
                                       "(DMs need OAuth user context with dm.read)")


class BadRequest(PermanentError):
    """400: the request itself is wrong (search query, parameters)."""


class HostAdapter(HTTPAdapter):
    """Sends requests meant for tweepy's host to `base_url` instead, with a timeout."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(max_retries=0)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if request.url and request.url.startswith(TWEEPY_HOST) and self.base_url != TWEEPY_HOST:
            request.url = self.base_url + request.url[len(TWEEPY_HOST):]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, *args, **kwargs)


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """X's error body (RFC 7807 style problem, or the v1-style `errors` list)."""

    title: str = ""
    detail: str = ""
    type: str = ""
    reason: str = ""
    errors: list[dict[str, object]] = []


def routed(client: tweepy.Client, settings: XSettings) -> tweepy.Client:
    """Mount the host adapter on a tweepy client's session."""
    client.session.mount(TWEEPY_HOST, HostAdapter(settings.api_base_url, settings.timeout.total_seconds()))
    return client


class XApi:
    """The calls the channel makes; each returns the response body bytes or raises a connector error."""

    def __init__(self, settings: XSettings) -> None:
        self.settings = settings
        self.app = routed(tweepy.Client(bearer_token=settings.bearer_token.reveal(),
                                        return_type=requests.Response), settings)
        self.user: tweepy.Client | None = None
        self.user_auth = False
        keys = (settings.consumer_key, settings.consumer_secret, settings.access_token, settings.access_token_secret)
        if all(keys):
            # By keyword: tweepy.Client's first positional parameter is bearer_token, not consumer_key.
            consumer_key, consumer_secret, access_token, access_token_secret = (k.reveal() for k in keys if k)
            self.user = routed(tweepy.Client(consumer_key=consumer_key, consumer_secret=consumer_secret,
                                             access_token=access_token, access_token_secret=access_token_secret,
                                             return_type=requests.Response), settings)
            self.user_auth = True
        elif settings.user_bearer_token:
            self.user = routed(tweepy.Client(bearer_token=settings.user_bearer_token.reveal(),
                                             return_type=requests.Response), settings)

    def close(self) -> None:
        """Close the HTTP sessions."""
        self.app.session.close()
        if self.user is not None:
            self.user.session.close()

    async def user_id(self, username: str) -> bytes:
        """GET /2/users/by/username/:username."""
        return await self._call(self.app.get_user, username=username)

    async def mentions(self, user_id: str, **params: Any) -> bytes:
        """GET /2/users/:id/mentions."""
        return await self._call(self.app.get_users_mentions, user_id, **params)

    async def search(self, query: str, **params: Any) -> bytes:
        """GET /2/tweets/search/recent."""
        return await self._call(self.app.search_recent_tweets, query, **params)

    async def dm_events(self, **params: Any) -> bytes:
        """GET /2/dm_events (user context)."""
        assert self.user is not None
        return await self._call(self.user.get_direct_message_events, user_auth=self.user_auth, **params)

    async def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        try:
            response: requests.Response = await asyncio.to_thread(method, *args, **kwargs)
        except tweepy.TooManyRequests as err:
            raise RateLimited("X rate limit reached (429)", retry_at=float(err.reset_time) if err.reset_time
                              else None) from err
        except tweepy.Unauthorized as err:
            raise PermanentError("X rejected the credentials (401)", credentials=True,
                                 hint="renew bearer_token (and the OAuth user keys) in the X developer "
                                      "portal, then restart") from err
        except tweepy.Forbidden as err:
            problem = _problem(err.response)
            raise Forbidden(f"X refused {err.response.request.path_url.split('?')[0]} (403 {problem.title}: "
                            f"{problem.detail or problem.reason})", problem.type or problem.reason) from err
        except tweepy.BadRequest as err:
            raise BadRequest(f"X refused the request (400): {_problem(err.response)}",
                             hint="check search_query and the other settings") from err
        except tweepy.NotFound as err:
            raise PermanentError("X answered 404", hint="check account / user_id") from err
        except tweepy.TwitterServerError as err:
            raise TransientError(f"X server error ({err.response.status_code})") from err
        except tweepy.HTTPException as err:
            raise TransientError(f"X answered {err.response.status_code}") from err
        except requests.RequestException as err:
            raise TransientError(f"X unreachable: {err!r}") from err
        return response.content


def _problem(response: requests.Response) -> Problem:
    try:
        return msgspec.json.decode(response.content, type=Problem)
    except msgspec.DecodeError:
        return Problem(detail=response.text[:200])
