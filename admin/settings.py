"""`[admin]` and `[forwarder]` settings in kanal.toml, decoded by the admin package itself."""

from __future__ import annotations

import fnmatch

import msgspec
from msgspec import Struct

from kanal.settings_types import Duration, Secret
from schemas import subjects

KV_ITEMS = subjects.KV_ITEMS
FORWARDER_CONSUMER = subjects.FORWARDER_CONSUMER


class AdminUser(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One admin: a scrypt password hash (`kanal admin hash-password`) and the queues they may see and act on.

    `queues` holds queue names or shell-style patterns (`kelurahan.317101*`); `superadmin` sees every queue.
    """

    password_hash: Secret
    queues: tuple[str, ...] = ()
    superadmin: bool = False
    name: str | None = None
    language: str = "id"  # the console's language for this admin until they switch (id or en)

    def allowed(self, queue: str) -> bool:
        """Whether this admin may read and act on `queue`."""
        return self.superadmin or any(fnmatch.fnmatchcase(queue, pattern) for pattern in self.queues)


class AdminSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The console's address, session key, admins, and the boundaries file for the map."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8480
    session_secret: Secret | None = None
    session_max_age: Duration = Duration(hours=12)
    https_only: bool = False
    boundaries: str | None = None
    code_property: str = "kode"
    name_property: str = "kelurahan"
    items_bucket: str = KV_ITEMS
    ack_wait: Duration = Duration(seconds=30)
    page_size: int = 200
    disposition: str | None = None  # the disposition map (deploy/rules/disposition.toml); unset: no Disposisi
    users: dict[str, AdminUser] = {}
    # How long an item may stay in a stage (counted from entering it); stages not listed have no deadline.
    # Default: a lurah follows a report up within 24 hours (SE Sekda DKI 61/SE/2018).
    deadlines: dict[str, Duration] = msgspec.field(default_factory=lambda: {"menunggu": Duration(hours=24)})
    wilayah: str | None = None  # code list (kode,level,nama,parent_kode) for place names; default: the router's
    queue_labels: dict[str, str] = {}  # names of queues that are not places, e.g. triage = "Triase Provinsi"


class ForwarderSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the CRM of record takes items, and how hard to try before dead-lettering one."""

    enabled: bool = False
    url: str = ""
    auth_header: str = "Authorization"
    auth_value: Secret | None = None
    timeout: Duration = Duration(seconds=10)
    max_attempts: int = 8
    backoff: Duration = Duration(seconds=2)
    max_backoff: Duration = Duration(minutes=10)
    consumer: str = FORWARDER_CONSUMER
    queues: str = ">"
    batch: int = 32
    fetch_wait: Duration = Duration(seconds=1)
    ack_wait: Duration = Duration(seconds=60)
