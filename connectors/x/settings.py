"""Settings of an `x` instance: the account, which streams to read, credentials, and the API host."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from kanal.settings_types import Duration, Secret

TWEEPY_HOST = "https://api.twitter.com"


class XSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[connectors.<instance>]` keys of the X channel besides the common ones."""

    # "poll": read mentions, search and DMs from the API v2 (default). "webhook": receive the Account Activity
    # API's deliveries on `path` (CRC challenge answered, signature checked with `consumer_secret`).
    mode: Literal["poll", "webhook"] = "poll"
    path: str = "/x/webhook"
    # The city's account, without "@": the envelope account, and whose mentions are read.
    account: str
    # Its numeric user id; looked up once by username (GET /2/users/by/username/:username) when absent.
    user_id: str | None = None
    # App-only bearer token (developer portal -> your app -> Keys and tokens): mentions and search.
    bearer_token: Secret
    # OAuth 1.0a user context of the account, needed for direct messages (dm.read). `consumer_secret` (the
    # app's API secret) also signs the webhook's CRC answers and deliveries.
    consumer_key: Secret | None = None
    consumer_secret: Secret | None = None
    access_token: Secret | None = None
    access_token_secret: Secret | None = None
    # Or an OAuth 2.0 user-context access token with dm.read (instead of the four OAuth 1.0a keys).
    user_bearer_token: Secret | None = None
    mentions: bool = True
    # Recent-search query (X search syntax), e.g. '(banjir OR macet) (jakarta OR dki) -is:retweet'; "" = off.
    search_query: str = ""
    direct_messages: bool = True
    # Results per API page (X allows 5-100 for mentions, 10-100 for search, 1-100 for DMs).
    max_results: int = 100
    # First run only: how far back to read (mentions/search: start_time; DMs: by created_at).
    first_run_lookback: Duration = Duration(hours=24)
    # API host; tests and proxies point this elsewhere (see README: the requests transport adapter).
    api_base_url: str = TWEEPY_HOST
    timeout: Duration = Duration(seconds=30)
