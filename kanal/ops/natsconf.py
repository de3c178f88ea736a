"""A least-privilege nats-server config from kanal.toml: one NATS user per connector instance, the router, ops.

Why: a compromised or buggy connector must not be able to write into another channel's inbound subject,
read another instance's checkpoint, or forge admin queue items. Every user is confined to the subjects it
publishes and to exactly the JetStream API calls its runtime makes (checked against a real server in
tests/ops/test_nats_permissions.py).

Passwords are generated once per user and kept in `<secrets_dir>/<user>.password` (mode 0600); running the
generator again reuses them, so regenerating the server config never invalidates running services. The
server config holds them in clear text too (nats-server without bcrypt hashes), so it is written 0600.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kanal import bus
from kanal.config import Config
from schemas import subjects

ACCOUNT = "KANAL"
SYSTEM_ACCOUNT = "SYS"
OPS_USER = "kanal-ops"
ROUTER_USER = "router"
NOTIFIER_USER = "notifier"
FORWARDER_USER = "forwarder"
CONSOLE_USER = "console"
SYS_USER = "sys"


def inbox(user: str) -> str:
    """The replies a user may subscribe to: its own inbox prefix only (bus.connect_options sets the prefix), so
    no user can read the answers another user gets (another connector's checkpoint, the router's fetches)."""
    return f"{bus.inbox_prefix(user)}.>"


API = "$JS.API"

KV_CHECKPOINTS = f"KV_{subjects.KV_CHECKPOINTS}"
KV_LEASES = f"KV_{subjects.KV_LEASES}"
KV_OUTBOUND = f"KV_{subjects.KV_OUTBOUND}"
OBJ_MEDIA = f"OBJ_{subjects.OBJ_MEDIA}"
KANAL_STREAMS = (subjects.STREAM_IN, subjects.STREAM_ADMIN, subjects.STREAM_DLQ, subjects.STREAM_STATUS,
                 subjects.STREAM_OUT, subjects.STREAM_RAW)


def buckets() -> tuple[str, ...]:
    """The streams behind every KV bucket and object store schemas/subjects.py names (provisioning creates them)."""
    names = [f"KV_{value}" for key, value in vars(subjects).items() if key.startswith("KV_") and isinstance(value, str)]
    names += [f"OBJ_{value}" for key, value in vars(subjects).items()
              if key.startswith("OBJ_") and isinstance(value, str)]
    return tuple(sorted(set(names)))


def connector_user(instance: str) -> str:
    """The NATS user a connector instance logs in as (also the systemd credential file name)."""
    return f"connector-{instance}"


def admin_user(name: str) -> str:
    """The NATS user of one admin queue reader."""
    return f"admin-{name}"


@dataclass(frozen=True)
class User:
    """One NATS user and what it may publish and subscribe to; `None` means unrestricted (ops only)."""

    name: str
    role: str
    publish: tuple[str, ...] | None
    subscribe: tuple[str, ...] | None
    account: str = ACCOUNT
    deny_publish: tuple[str, ...] = ()  # carved out of `publish` (the server checks deny first)


@dataclass(frozen=True)
class AdminQueue:
    """`--admin NAME=QUEUE`: user `admin-NAME` may read `kanal.admin.QUEUE` (a subject, wildcards allowed)."""

    name: str
    queue: str

    @classmethod
    def parse(cls, text: str) -> AdminQueue:
        """Parse `NAME=QUEUE`, e.g. `kel-3171011001=kelurahan.3171011001` or `jakbar=kecamatan.3173.>`."""
        name, sep, queue = text.partition("=")
        if not sep or not name or not queue:
            raise ValueError(f"--admin {text!r}: write NAME=QUEUE, e.g. kel-3171011001=kelurahan.3171011001")
        return cls(name=name, queue=queue)


@dataclass(frozen=True)
class TlsOptions:
    """Server-side TLS for client connections (and `verify` to require client certificates)."""

    cert: str
    key: str
    ca: str | None = None
    verify: bool = False


@dataclass
class ServerOptions:
    """Everything that is not derived from kanal.toml: where the server listens, stores and clusters."""

    host: str = "127.0.0.1"  # loopback unless asked: clients on other hosts need --host (and TLS)
    port: int = 4222
    store_dir: str | None = "/var/lib/nats"  # None: given on the command line (-sd)
    server_name: str | None = None
    cluster_name: str | None = None
    cluster_listen: str | None = None
    routes: list[str] = field(default_factory=list)
    http_port: int | None = None  # monitoring (no authentication) off unless asked
    tls: TlsOptions | None = None
    admins: list[AdminQueue] = field(default_factory=list)


def _lookups() -> tuple[str, ...]:
    """What every service asks before it works: account info, stream names and infos (its provisioning's look;
    it asks to create or update only what differs, which ops' `kanal nats provision` has already done)."""
    return (f"{API}.INFO", f"{API}.STREAM.NAMES", f"{API}.STREAM.INFO.*")


def _durable(stream: str, consumer: str) -> tuple[str, ...]:
    """Create or bind one named pull consumer, fetch from it and ack (every form nats-py and FastStream use)."""
    return (
        f"{API}.CONSUMER.INFO.{stream}.{consumer}",
        f"{API}.CONSUMER.CREATE.{stream}.{consumer}",
        f"{API}.CONSUMER.CREATE.{stream}.{consumer}.>",
        f"{API}.CONSUMER.DURABLE.CREATE.{stream}.{consumer}",
        f"{API}.CONSUMER.MSG.NEXT.{stream}.{consumer}",
        f"$JS.ACK.{stream}.{consumer}.>",
    )


def _kv(bucket: str, write: bool = True) -> tuple[str, ...]:
    """Read (direct get, one key or a batch; plain get for a bucket without direct) and optionally write a bucket."""
    stream = f"KV_{bucket}"
    reads = (f"{API}.DIRECT.GET.{stream}", f"{API}.DIRECT.GET.{stream}.>", f"{API}.STREAM.MSG.GET.{stream}")
    return (f"$KV.{bucket}.>", *reads) if write else reads


STATUS_READERS = ("app",)  # channels serving `GET /api/v1/reports/<ref>` (kanal.references.report_status)


def connector_permissions(channel: str, instance: str, fallback: tuple[str, str] | None = None) -> User:
    """Publish its own inbound subject, raw payloads, connector dead letters, its own KV keys and media; with a
    WhatsApp `fallback` (channel, instance), that instance's outbound subject too."""
    cp, ls = subjects.KV_CHECKPOINTS, subjects.KV_LEASES
    publish = (
        subjects.inbound(channel, instance),
        f"{subjects.RAW_PREFIX}.{instance}.>",  # its own raw payloads only (keyed by envelope id below it)
        subjects.dlq("connector"),
        f"$KV.{cp}.{instance}",
        f"$KV.{ls}.{instance}",
        f"$KV.{subjects.KV_LOGINS}.{instance}.>",  # a desk's failed sign-ins, under its own prefix
        f"{API}.DIRECT.GET.KV_{subjects.KV_LOGINS}.$KV.{subjects.KV_LOGINS}.{instance}.>",
        f"$O.{subjects.OBJ_MEDIA}.C.>",
        f"$O.{subjects.OBJ_MEDIA}.M.>",
        # opening buckets, and provisioning's look at every stream and bucket: with all of them in place (ops'
        # `kanal nats provision`) it asks for nothing more, and the connector starts without waiting on a
        # refused request
        *_lookups(),
        # reading its own keys only: direct get names the key in the subject (buckets need allow_direct)
        f"{API}.DIRECT.GET.{KV_CHECKPOINTS}.$KV.{cp}.{instance}",
        f"{API}.DIRECT.GET.{KV_LEASES}.$KV.{ls}.{instance}",
        # the object store looks objects up by body (nats-py has no direct get for it): media is shared
        f"{API}.STREAM.MSG.GET.{OBJ_MEDIA}",
    )
    outbound = subjects.STREAM_OUT
    sender = f"sender-{instance}"
    publish += (
        # replies to reporters (channels that can send): its own durable on its own outbound subject, and the
        # send records (keyed by item, shared by every sender so a reply is never sent twice)
        f"{API}.CONSUMER.INFO.{outbound}.{sender}",
        f"{API}.CONSUMER.CREATE.{outbound}.{sender}",
        f"{API}.CONSUMER.CREATE.{outbound}.{sender}.{subjects.outbound(channel, instance)}",
        f"{API}.CONSUMER.DURABLE.CREATE.{outbound}.{sender}",
        f"{API}.CONSUMER.MSG.NEXT.{outbound}.{sender}",
        f"$JS.ACK.{outbound}.{sender}.>",
        f"$KV.{subjects.KV_OUTBOUND}.>",
        f"{API}.DIRECT.GET.{KV_OUTBOUND}.>",
    )
    if fallback is not None:  # hands WhatsApp messages that cannot go to an SMS instance
        publish += (subjects.outbound(*fallback),)
    if channel in STATUS_READERS:  # answers citizens' status look-ups: the reference index and stage changes
        status = subjects.STREAM_STATUS
        publish += (*_kv(subjects.KV_REFS, write=False), f"{API}.STREAM.MSG.GET.{status}",
                    f"{API}.DIRECT.GET.{status}", f"{API}.DIRECT.GET.{status}.>")
    return User(connector_user(instance), "connector", publish, (inbox(connector_user(instance)),))


def router_permissions(consumer: str = subjects.ROUTER_CONSUMER, dedup_bucket: str = subjects.KV_DEDUP,
                       index_bucket: str = subjects.KV_DEDUP_INDEX, items_bucket: str = subjects.KV_ITEMS) -> User:
    """Consume KANAL_IN through its durable, publish admin items and router dead letters, own the dedup KVs
    and write the reference index.

    The router provisions the streams at start (bus.provision), so it may create and update Kanal's streams
    and buckets; it may not delete or purge anything.
    """
    dedup = (dedup_bucket, index_bucket)
    managed = tuple(dict.fromkeys((*KANAL_STREAMS, *buckets(), *(f"KV_{b}" for b in dedup))))
    stream_in = subjects.STREAM_IN
    publish = (
        f"{subjects.ADMIN_PREFIX}.>",
        subjects.dlq("router"),
        *(f"$KV.{b}.>" for b in dedup),
        *_kv(subjects.KV_REFS),  # the reference index: written by the router alone
        *_kv(subjects.KV_CONVERSATIONS),  # control messages and held chat fragments, per conversation
        # held fragments' keys are listed at start and every 30 s through an ephemeral pull consumer
        *(f"{API}.{api}.KV_{subjects.KV_CONVERSATIONS}{tail}"
          for api, tail in (("CONSUMER.CREATE", ".>"), ("CONSUMER.INFO", ".*"), ("CONSUMER.MSG.NEXT", ".*"))),
        *_kv(subjects.KV_OUTBOUND, write=False),  # which report a replied-to message of ours was about
        # a chat report completed by the answer to our location request (router/prompts.py): the report's
        # message in its queue, whether an admin acted on it (records, stage), and its move, recorded as an
        # admin's reroute is
        *_kv(items_bucket),
        f"{API}.DIRECT.GET.{subjects.STREAM_ADMIN}",
        f"{API}.DIRECT.GET.{subjects.STREAM_STATUS}",
        f"{API}.DIRECT.GET.{subjects.STREAM_STATUS}.>",
        *_lookups(),
        *(f"{API}.STREAM.{verb}.{name}" for name in managed for verb in ("CREATE", "UPDATE")),
        *(f"{API}.DIRECT.GET.KV_{b}{rest}" for b in dedup for rest in ("", ".>")),
        *_durable(stream_in, consumer),
    )
    return User(ROUTER_USER, "router", publish, (inbox(ROUTER_USER),))


def admin_permissions(queue: AdminQueue) -> User:
    """Read one admin queue through its own filtered consumer, and publish status changes."""
    consumer = admin_user(queue.name)
    stream = subjects.STREAM_ADMIN
    publish = (
        f"{subjects.STATUS_PREFIX}.>",
        f"{API}.INFO",
        f"{API}.STREAM.INFO.{stream}",
        # the filtered form names the filter in the subject, so the server enforces the queue
        f"{API}.CONSUMER.CREATE.{stream}.{consumer}.{subjects.ADMIN_PREFIX}.{queue.queue}",
        f"{API}.CONSUMER.INFO.{stream}.{consumer}",
        f"{API}.CONSUMER.MSG.NEXT.{stream}.{consumer}",
        f"$JS.ACK.{stream}.{consumer}.>",
    )
    return User(consumer, "admin", publish, (inbox(consumer),))


def notifier_permissions() -> User:
    """The reporter loop: read routed items, stage changes and inbound opt-outs and status questions through
    its three durables, publish replies for every channel, and keep its threads, reporters and send records."""
    publish = (
        f"{subjects.OUT_PREFIX}.>",
        subjects.dlq("notifier"),
        *_lookups(),
        *_durable(subjects.STREAM_ADMIN, subjects.NOTIFIER_CONSUMER),
        *_durable(subjects.STREAM_STATUS, subjects.NOTIFIER_CONSUMER),
        *_durable(subjects.STREAM_IN, f"{subjects.NOTIFIER_CONSUMER}-optout"),
        *_kv(subjects.KV_THREADS),
        *_kv(subjects.KV_REPORTERS),
        *_kv(subjects.KV_OUTBOUND),
        # answering "status KNL-...": the reference index and the report's stage changes, read only
        *_kv(subjects.KV_REFS, write=False),
        f"{API}.STREAM.MSG.GET.{subjects.STREAM_STATUS}",
    )
    return User(NOTIFIER_USER, "notifier", publish, (inbox(NOTIFIER_USER),))


def forwarder_permissions(consumer: str = subjects.FORWARDER_CONSUMER) -> User:
    """The CRM forwarder: read admin queues through its durable, dead-letter what the CRM never accepts."""
    publish = (subjects.dlq("forwarder"), *_lookups(), *_durable(subjects.STREAM_ADMIN, consumer))
    return User(FORWARDER_USER, "forwarder", publish, (inbox(FORWARDER_USER),))


def console_permissions(items_bucket: str = subjects.KV_ITEMS, others: tuple[str, ...] = ()) -> User:
    """The admin console (and `kanal inbox`): read every queue, record what admins do, move items.

    It serves superadmins, so it reads all of KANAL_ADMIN; its consumers are ephemeral (random names) or the
    inbox CLI's `inbox-...`, so it may create consumers on KANAL_ADMIN, never delete one, and never create,
    rewrite, fetch from or ack the other services' durables there (`others`: the notifier's, the forwarder's,
    each queue reader's), which would take their messages or widen a queue reader's filter. Reroutes are items
    published to another queue, stage changes go to `kanal.status.<item>`; media and send records are read
    only.
    """
    admin, status, media = subjects.STREAM_ADMIN, subjects.STREAM_STATUS, OBJ_MEDIA
    theirs = tuple(subject for durable in others for subject in (
        f"{API}.CONSUMER.CREATE.{admin}.{durable}",
        f"{API}.CONSUMER.CREATE.{admin}.{durable}.>",
        f"{API}.CONSUMER.DURABLE.CREATE.{admin}.{durable}",
        f"{API}.CONSUMER.MSG.NEXT.{admin}.{durable}",
        f"$JS.ACK.{admin}.{durable}.>",
    ))
    deny = (
        *theirs,  # ... nor the notifier's durable on KANAL_STATUS (the index's consumers there are ephemeral)
        f"{API}.CONSUMER.CREATE.{status}.{subjects.NOTIFIER_CONSUMER}",
        f"{API}.CONSUMER.CREATE.{status}.{subjects.NOTIFIER_CONSUMER}.>",
        f"{API}.CONSUMER.MSG.NEXT.{status}.{subjects.NOTIFIER_CONSUMER}",
    )
    publish = (
        f"{subjects.ADMIN_PREFIX}.>",
        f"{subjects.STATUS_PREFIX}.>",
        *_lookups(),
        f"{API}.CONSUMER.CREATE.{admin}.>",
        f"{API}.CONSUMER.DURABLE.CREATE.{admin}.*",
        f"{API}.CONSUMER.INFO.{admin}.*",
        f"{API}.CONSUMER.MSG.NEXT.{admin}.*",
        f"$JS.ACK.{admin}.>",
        f"{API}.DIRECT.GET.{admin}",
        f"{API}.STREAM.MSG.GET.{admin}",
        f"{API}.DIRECT.GET.{status}",
        f"{API}.DIRECT.GET.{status}.>",
        f"{API}.STREAM.MSG.GET.{status}",
        *_kv(items_bucket),
        *_kv(subjects.KV_LOGINS),  # failed sign-ins, shared by console replicas (kanal/throttle.py)
        # the console's index follows stage changes and the items bucket through ephemeral pull consumers
        *(f"{API}.{api}.{stream}{tail}" for stream in (status, f"KV_{items_bucket}")
          for api, tail in (("CONSUMER.CREATE", ".>"), ("CONSUMER.INFO", ".*"), ("CONSUMER.MSG.NEXT", ".*"))),
        *_kv(subjects.KV_OUTBOUND, write=False),
        *_kv(subjects.KV_REFS, write=False),  # the reference index (status page, follow-ups)
        # an item's send records are listed by key prefix, through an ephemeral (push) consumer
        f"{API}.CONSUMER.CREATE.{KV_OUTBOUND}",
        f"{API}.CONSUMER.CREATE.{KV_OUTBOUND}.>",
        f"{API}.CONSUMER.INFO.{KV_OUTBOUND}.*",
        # attachments: the object's description by body, its chunks through an ordered (push) consumer
        f"{API}.STREAM.MSG.GET.{media}",
        f"{API}.DIRECT.GET.{media}.>",
        f"{API}.CONSUMER.CREATE.{media}",
        f"{API}.CONSUMER.CREATE.{media}.>",
        "$JS.FC.>",
    )
    return User(CONSOLE_USER, "console", publish, (inbox(CONSOLE_USER),), deny_publish=deny)


def users(config: Config, options: ServerOptions) -> list[User]:
    """Every user the config needs: ops (unrestricted, provisioning), router, one per connector, the notifier,
    console and forwarder when enabled, queue readers, sys."""
    router = config.router
    consumer = str(router.get("consumer", subjects.ROUTER_CONSUMER))
    dedup = router.get("dedup", {})
    dedup = dedup if isinstance(dedup, dict) else {}
    buckets_ = (str(dedup.get("bucket", subjects.KV_DEDUP)), str(dedup.get("index_bucket", subjects.KV_DEDUP_INDEX)))
    items = str(config.admin.get("items_bucket", subjects.KV_ITEMS))
    found = [User(OPS_USER, "ops", None, None), router_permissions(consumer, *buckets_, items)]
    for instance, section in sorted(config.connectors.items()):
        channel = section.get("channel")
        if isinstance(channel, str):
            name = section.get("whatsapp_fallback")
            target = config.connectors.get(name, {}).get("channel") if isinstance(name, str) and name else None
            fallback = (target, str(name)) if isinstance(target, str) else None
            found.append(connector_permissions(channel, instance, fallback))
    if config.enabled("outbound"):
        found.append(notifier_permissions())
    forwarder = config.forwarder
    forwarder_consumer = str(forwarder.get("consumer", subjects.FORWARDER_CONSUMER))
    if config.enabled("admin"):
        # the durables on KANAL_ADMIN that are not the console's, enabled or not (a later switch-on is covered)
        others = (subjects.NOTIFIER_CONSUMER, subjects.FORWARDER_CONSUMER, forwarder_consumer,
                  *(admin_user(queue.name) for queue in options.admins))
        found.append(console_permissions(items, tuple(dict.fromkeys(others))))
    if config.enabled("forwarder"):
        found.append(forwarder_permissions(forwarder_consumer))
    found.extend(admin_permissions(queue) for queue in options.admins)
    found.append(User(SYS_USER, "system", None, None, account=SYSTEM_ACCOUNT))
    return found


def password_for(secrets_dir: Path, user: str) -> str:
    """The user's password from `<secrets_dir>/<user>.password`, generated (and saved 0600) the first time."""
    file = secrets_dir / f"{user}.password"
    if file.exists():
        return file.read_text(encoding="utf-8").strip()
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(32)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def _user_block(user: User, password: str) -> dict[str, object]:
    block: dict[str, object] = {"user": user.name, "password": password}
    permissions: dict[str, object] = {}
    if user.publish is not None:
        publish: dict[str, list[str]] = {"allow": list(user.publish)}
        if user.deny_publish:
            publish["deny"] = list(user.deny_publish)
        permissions["publish"] = publish
    if user.subscribe is not None:
        permissions["subscribe"] = {"allow": list(user.subscribe)}
    if permissions:
        block["permissions"] = permissions
    return block


def render(config: Config, options: ServerOptions, secrets_dir: Path) -> str:
    """The nats-server config (JSON syntax, which nats-server reads) for this kanal.toml."""
    everyone = users(config, options)
    accounts: dict[str, dict[str, object]] = {
        ACCOUNT: {"jetstream": "enabled", "users": []},
        SYSTEM_ACCOUNT: {"users": []},
    }
    for user in everyone:
        block = _user_block(user, password_for(secrets_dir, user.name))
        users_list = accounts[user.account]["users"]
        assert isinstance(users_list, list)
        users_list.append(block)
    server: dict[str, object] = {
        "host": options.host,
        "port": options.port,
        "jetstream": {"store_dir": options.store_dir} if options.store_dir else "enabled",
        "accounts": accounts,
        "system_account": SYSTEM_ACCOUNT,
    }
    if options.server_name:
        server["server_name"] = options.server_name
    if options.http_port is not None:
        server["http_port"] = options.http_port
    if options.cluster_name or options.routes:
        cluster: dict[str, object] = {"name": options.cluster_name or "kanal",
                                      "listen": options.cluster_listen or "0.0.0.0:6222"}
        if options.routes:
            cluster["routes"] = list(options.routes)
        server["cluster"] = cluster
    if options.tls is not None:
        tls: dict[str, object] = {"cert_file": options.tls.cert, "key_file": options.tls.key}
        if options.tls.ca:
            tls["ca_file"] = options.tls.ca
        if options.tls.verify:
            tls["verify"] = True
        server["tls"] = tls
    header = ("# nats-server config generated by `kanal nats config` from "
              f"{config.source}; regenerate instead of editing.\n"
              f"# Users: {', '.join(u.name for u in everyone)}. Passwords: {secrets_dir}/<user>.password\n")
    return header + json.dumps(server, indent=2) + "\n"


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (it holds passwords)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def summary(everyone: Iterable[User]) -> list[str]:
    """One line per user: name, role and how many subjects it may publish to."""
    return [f"{u.name:<28} {u.role:<10} "
            f"{'unrestricted' if u.publish is None else f'{len(u.publish)} publish subjects'}" for u in everyone]
