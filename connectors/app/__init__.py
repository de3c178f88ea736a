"""Channel `app`: the citizen app API (JAKI-style geotagged photo reports) that Kanal serves itself."""

from __future__ import annotations

from connectors.app.settings import AppSettings
from connectors.spec import ChannelSpec

spec = ChannelSpec(
    id="app",
    mode="webhook",
    summary="Citizen app API: POST /api/v1/reports (photos, description, location), status by reference",
    settings=AppSettings,
    connector="connectors.app.connector:AppConnector",
    normaliser="connectors.app.normalise:normalise",
    requires=("PIL", "piexif", "python_multipart"),
    docs="connectors/app/README.md",
    provider_calls=False,  # people and apps call it directly; no provider console needs its URL
)
