"""`[router]` settings in kanal.toml, decoded by the router itself so the core config stays ignorant of them."""

from __future__ import annotations

from msgspec import Struct

from kanal.settings_types import Duration
from schemas import subjects


class DedupSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every dedup threshold; each decision made with them is recorded on the routed item."""

    enabled: bool = True
    bucket: str = subjects.KV_DEDUP  # delivery records, kept for the horizon
    index_bucket: str = subjects.KV_DEDUP_INDEX  # the near-duplicate index, kept for the longest window
    horizon: Duration = Duration(days=30)
    same_report_window: Duration = Duration(hours=48)
    min_text_chars: int = 20
    same_reporter_similarity: float = 0.5
    incident_window: Duration = Duration(hours=24)
    incident_radius_m: float = 100.0
    incident_similarity: float = 0.25
    cell_capacity: int = 32
    reporter_capacity: int = 8


class RouterSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the router consumes, where its rules are, and where it serves metrics."""

    enabled: bool = True
    rules: str = "deploy/rules/jakarta.toml"
    consumer: str = subjects.ROUTER_CONSUMER
    batch: int = 256
    workers: int = 3
    fetch_wait: Duration = Duration(seconds=1)
    ack_wait: Duration = Duration(seconds=30)
    max_deliveries: int = 5
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 8471
    dedup: DedupSettings = DedupSettings()
