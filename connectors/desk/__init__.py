"""Channel `desk`: the walk-in desk page where an office's officers type a complaint and print its reference."""

from __future__ import annotations

from connectors.desk.settings import DeskSettings
from connectors.spec import ChannelSpec

spec = ChannelSpec(
    id="desk",
    mode="webhook",
    summary="Walk-in desk: a login-protected web form for one office's officers; prints the report reference",
    settings=DeskSettings,
    connector="connectors.desk.connector:DeskConnector",
    normaliser="connectors.desk.normalise:normalise",
    requires=("jinja2", "itsdangerous", "python_multipart", "PIL"),
    docs="connectors/desk/README.md",
    provider_calls=False,  # people and apps call it directly; no provider console needs its URL
)
