"""A least-privilege nats-server for tests, logging in to it as one user, and noticing what it refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import nats
from nats.aio.client import Client as NATS

from kanal import bus
from kanal.config import load
from kanal.ops import natsconf


class Session:
    """A connection as one user, remembering every error the server sent it."""

    def __init__(self, nc: NATS, errors: list[str]) -> None:
        self.nc = nc
        self.errors = errors

    def refusals(self) -> list[str]:
        """Every permissions violation the server reported so far (a user doing its job gets none)."""
        return [e for e in self.errors if "permissions" in e.lower()]

    async def refused(self, subject: str) -> bool:
        """True once the server has reported a permissions violation for `subject`."""
        for _ in range(100):
            if any("permissions violation" in e.lower() and f'"{subject.lower()}"' in e.lower() for e in self.errors):
                return True
            await asyncio.sleep(0.02)
        return False


@asynccontextmanager
async def login(url: str, secrets: Path, user: str) -> AsyncIterator[Session]:
    errors: list[str] = []

    async def on_error(err: Exception) -> None:
        errors.append(str(err))

    password = (secrets / f"{user}.password").read_text().strip()
    nc = await nats.connect(url, user=user, password=password, error_cb=on_error, allow_reconnect=False,
                            inbox_prefix=bus.inbox_prefix(user))  # as bus.connect does
    try:
        yield Session(nc, errors)
    finally:
        await nc.close()


def permissioned_server(tmp: Path, sections: str) -> bus.EmbeddedNats:
    """A nats-server on the config `kanal nats config` writes for a kanal.toml of this server's [nats] url, a
    router on `rules.toml` and `sections` (connectors, admin ...), with one queue reader `admin-kel1`; the
    config and `rules.toml` are in `tmp`, the passwords in `tmp/secrets`."""
    from tests.router.fixtures import write_rules

    port = bus.free_port()
    base = f'[nats]\nurl = "nats://127.0.0.1:{port}"\n[router]\nrules = "rules.toml"\nmetrics_port = -1\n'
    (tmp / "kanal.toml").write_text(base + sections)
    write_rules(tmp)
    options = natsconf.ServerOptions(host="127.0.0.1", port=port, store_dir=None, http_port=None,
                                     admins=[natsconf.AdminQueue.parse("kel1=kelurahan.3199011001")])
    conf = tmp / "nats.conf"
    natsconf.write_private(conf, natsconf.render(load(tmp / "kanal.toml", env={}), options, tmp / "secrets"))
    return bus.EmbeddedNats(tmp / "js", port=port, config_file=conf).start()
