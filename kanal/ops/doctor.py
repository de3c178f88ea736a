"""`kanal doctor`: everything that must be right for Kanal to take complaints, checked, with how to fix it.

Why: the failures that lose complaints are quiet ones (a revoked token, a channel gone silent, a stream
missing, a webhook URL the provider cannot reach). Doctor names each one with the command or key that fixes
it, and exits 1 when anything is wrong, so it can gate a deploy or run from cron.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

import httpx
import msgspec
from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from connectors import registry
from connectors.runtime import resolve
from connectors.spec import ChannelSpec, InstanceSettings
from kanal import bus
from kanal.config import Config, ConfigError
from kanal.ops import safety, whatsapp
from kanal.settings_types import Secret
from schemas import subjects

Level = Literal["ok", "warn", "fail"]
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass(frozen=True)
class Finding:
    """One check's result; `fix` says what to do when it is not ok."""

    level: Level
    check: str
    message: str
    fix: str = ""


@dataclass
class Resolved:
    """A connector instance whose channel and settings decoded."""

    instance: str
    spec: ChannelSpec
    common: InstanceSettings
    settings: Any


def check_connectors(config: Config) -> tuple[list[Finding], list[Resolved]]:
    """Every instance resolves its channel and settings; secrets are filled in; webhook URLs are public https."""
    findings: list[Finding] = []
    resolved: list[Resolved] = []
    if not config.connectors:
        findings.append(Finding("warn", "config", "no [connectors.<instance>] sections: nothing takes complaints",
                                "add one per channel account; see kanal.example.toml"))
    for instance, section in sorted(config.connectors.items()):
        where = f"connector {instance}"
        if not section.get("enabled", True):
            findings.append(Finding("ok", where, "disabled (enabled = false): not checked further"))
            continue
        try:
            spec, common, settings = resolve(config, instance)
        except (ConfigError, registry.RegistryError) as err:
            findings.append(Finding("fail", where, str(err),
                                    f"fix [connectors.{instance}] in {config.source}; `kanal connector list` "
                                    "shows each channel's settings"))
            continue
        resolved.append(Resolved(instance, spec, common, settings))
        empty = [name for name, value in _secrets(settings) if not value]
        if empty:
            findings.append(Finding(
                "fail", where, f"credentials empty: {', '.join(empty)}",
                f"set them in [connectors.{instance}] (e.g. {empty[0]}_file = \"/run/credentials/...\") or "
                f"KANAL_CONNECTORS__{instance.upper().replace('-', '_')}__{empty[0].upper()}"))
        else:
            findings.append(Finding("ok", where, f"channel {spec.id} ({spec.instance_mode(settings)}), settings and "
                                    "credentials present"))
        if spec.instance_mode(settings) == "webhook":
            findings.append(_public_url(instance, spec, common))
    return findings, resolved


def _secrets(settings: Any) -> list[tuple[str, bool]]:
    """(field name, non-empty) for each Secret field that is set (optional secrets left out are fine)."""
    found: list[tuple[str, bool]] = []
    if isinstance(settings, msgspec.Struct):
        for field in msgspec.structs.fields(settings):
            value = getattr(settings, field.name)
            if isinstance(value, Secret):
                found.append((field.name, bool(value.reveal().strip())))
    return found


def _public_url(instance: str, spec: ChannelSpec, common: InstanceSettings) -> Finding:
    """An instance taking requests: public_url is required only where the provider signs the URL it called
    (Twilio); elsewhere it is optional (Meta, Telegram and X sign the body; apps and people call the
    address they are given), but it must be https when it is public."""
    where = f"connector {instance}"
    if not common.public_url:
        if spec.signs_url:
            return Finding("fail", where, "webhook channel without public_url: the provider signs the URL it "
                           "called, so every request is refused (403) behind a proxy",
                           f"set public_url in [connectors.{instance}] to the https URL the provider calls")
        served = f"serves on {common.host}:{common.port}"
        if spec.provider_calls:
            return Finding("ok", where, f"webhook {served}; {spec.id} signs the body, not the URL, so public_url is "
                           "not needed (register the https address your proxy serves with the provider)")
        return Finding("ok", where, f"{served}; links use the address it is called at (set public_url when a "
                       "proxy is in front)")
    url = urlparse(common.public_url)
    if url.scheme != "https" and url.hostname not in LOOPBACK:
        return Finding("fail", where, f"public_url {common.public_url} is not https",
                       f"serve it over https and set public_url in [connectors.{instance}] to that URL")
    return Finding("ok", where, f"{'webhook' if spec.provider_calls else 'served'} at {common.public_url}")


async def check_nats(config: Config, router_consumer: str, resolved: list[Resolved] | None = None) -> list[Finding]:
    """Connect with the configured credentials; streams present (at the configured replicas); router consumer;
    the latest WhatsApp template outcome of each `resolved` WhatsApp sender."""
    url = config.nats.url or f"nats://{config.nats.embedded_host}:{config.nats.embedded_port}"
    errors: list[str] = []

    async def on_error(err: Exception) -> None:
        errors.append(str(err))

    hint = ("start it with `kanal up`" if not config.nats.url else
            "check [nats] url, user and password/creds (a NATS user from `kanal nats config`)")
    within = config.nats.connect_timeout.total_seconds()
    try:  # nats-py retries a refused first connect until it is cancelled, so bound it here
        nc = await asyncio.wait_for(bus.connect(config.nats, url, name="kanal-doctor", allow_reconnect=False,
                                                max_reconnect_attempts=0, error_cb=on_error), within)
    except bus.BusError as err:
        return [Finding("fail", "nats", str(err), hint)]
    except TimeoutError:
        seen = f" ({errors[-1]})" if errors else ""
        return [Finding("fail", "nats", f"cannot connect to NATS at {url} within {within:g}s{seen}", hint)]
    findings = [Finding("ok", "nats", f"connected to {url} as {config.nats.user or 'the configured identity'}")]
    try:
        findings += await _streams(nc, config, errors)
        findings += await _consumer(nc, router_consumer, errors)
        try:
            findings += [Finding(*f) for f in await whatsapp.check_outcomes(nc, resolved or [])]
        except Exception as err:
            findings.append(_refused("whatsapp templates", err, errors))
    finally:
        await nc.close()
    return findings


async def _streams(nc: NATS, config: Config, errors: list[str]) -> list[Finding]:
    js = nc.jetstream(timeout=2)
    names = [s.name for s in subjects.streams()]
    names += [f"KV_{subjects.KV_CHECKPOINTS}", f"KV_{subjects.KV_LEASES}", f"OBJ_{subjects.OBJ_MEDIA}"]
    findings: list[Finding] = []
    for name in names:
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            findings.append(Finding("fail", f"stream {name}", "missing",
                                    "run `kanal nats provision --config ...` as the ops user (or `kanal up`)"))
            continue
        except Exception as err:
            findings.append(_refused(f"stream {name}", err, errors))
            continue
        replicas = info.config.num_replicas or 1
        if replicas < config.nats.replicas:
            findings.append(Finding("fail", f"stream {name}", f"{replicas} replica(s), config wants "
                                    f"{config.nats.replicas}", "run `kanal nats provision` to update it"))
        else:
            findings.append(Finding("ok", f"stream {name}", f"{info.state.messages} messages, R{replicas}"))
    return findings


async def _consumer(nc: NATS, consumer: str, errors: list[str]) -> list[Finding]:
    js = nc.jetstream(timeout=2)
    where = f"consumer {subjects.STREAM_IN}/{consumer}"
    try:
        info = await js.consumer_info(subjects.STREAM_IN, consumer)
    except NotFoundError:
        return [Finding("fail", where, "missing: no router has ever consumed",
                        "start `kanal router run` (or `kanal up`); it creates the consumer")]
    except Exception as err:
        return [_refused(where, err, errors)]
    pending = info.num_pending or 0
    level: Level = "warn" if pending > 1000 else "ok"
    return [Finding(level, where, f"{pending} waiting, {info.num_ack_pending} in flight, "
                    f"{info.num_waiting} router pull(s) waiting",
                    "routers are behind: start another `kanal router run`" if level == "warn" else "")]


def _refused(where: str, err: Exception, errors: list[str]) -> Finding:
    denied = [e for e in errors if "permissions violation" in e.lower()]
    if denied:
        return Finding("fail", where, f"refused by NATS permissions: {denied[-1]}",
                       "run doctor as the ops user: KANAL_NATS__USER=kanal-ops "
                       "KANAL_NATS__PASSWORD_FILE=<secrets>/kanal-ops.password kanal doctor")
    return Finding("fail", where, f"cannot read: {err!r}", "check that NATS JetStream is up")


async def check_running(resolved: list[Resolved], within: float = 2.0) -> list[Finding]:
    """Ask each instance with a fixed port for /readyz: silent instances and rejected credentials show here."""
    findings: list[Finding] = []
    async with httpx.AsyncClient(timeout=within) as client:
        results = await asyncio.gather(*(_readyz(client, r) for r in resolved))
    for finding in results:
        if finding is not None:
            findings.append(finding)
    return findings


async def _readyz(client: httpx.AsyncClient, r: Resolved) -> Finding | None:
    where = f"instance {r.instance}"
    if not r.common.port:
        return Finding("warn", where, "port = 0: /readyz is on a random port and cannot be checked",
                       f"set port in [connectors.{r.instance}] so health checks and Prometheus can reach it")
    host = "127.0.0.1" if r.common.host in ("0.0.0.0", "::", "") else r.common.host  # noqa: S104
    url = f"http://{host}:{r.common.port}/readyz"
    try:
        response = await client.get(url)
    except httpx.HTTPError:
        return Finding("warn", where, f"not answering at {url} (not running, or on another host)",
                       f"start it: systemctl start kanal-connector@{r.instance} (or `kanal up`)")
    try:
        body = response.json()
    except ValueError:
        return Finding("fail", where, f"{url} answered {response.status_code} without JSON",
                       "is another program on this port?")
    problems = [str(p) for p in body.get("problems", [])]
    warnings = [str(w) for w in body.get("warnings", [])]
    if response.status_code != 200:
        fix = "renew the credentials, then restart the instance" if not body.get("credentials_ok", True) else \
            "see the instance's log"
        return Finding("fail", where, "not ready: " + "; ".join(problems), fix)
    if body.get("silent"):  # ready to take input, but nothing came: a lost webhook registration or account
        return Finding("fail", where, "ready, but: " + "; ".join(warnings),
                       "check the provider side (webhook registration, account activity) and the instance's log")
    if warnings:
        return Finding("warn", where, "ready, but: " + "; ".join(warnings), "see the instance's log")
    return Finding("ok", where, f"ready (spool {body.get('spool_depth', 0)})")


async def check_router(config: Config) -> list[Finding]:
    """The router's metrics endpoint answers (when it has a fixed port)."""
    router = config.router
    port = int(router.get("metrics_port", 8471))
    if not config.enabled("router") or port <= 0:
        return []
    host = str(router.get("metrics_host", "127.0.0.1"))
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    url = f"http://{host}:{port}/healthz"
    async with httpx.AsyncClient(timeout=2.0) as client:
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get(url)).status_code == 200:
                return [Finding("ok", "router", f"answering at {url}")]
    return [Finding("warn", "router", f"not answering at {url} (not running here, or on another host)",
                    "start it: systemctl start kanal-router (or `kanal router run`)")]


# (section, module, settings class, command that reads it) for each service
_SERVICES = (
    ("router", "router.settings", "RouterSettings", "kanal router run"),
    ("admin", "admin.settings", "AdminSettings", "kanal admin serve"),
    ("forwarder", "admin.settings", "ForwarderSettings", "kanal admin forward"),
    ("outbound", "notifier.settings", "OutboundSettings", "kanal notifier run"),
)


def check_sections(config: Config) -> list[Finding]:
    """Each enabled service's section decodes as that service reads it (unknown keys, wrong types), and the
    router's rules file loads: the same errors the service would stop on, found before it starts."""
    import importlib
    import importlib.util

    findings: list[Finding] = []
    for name, module, cls, command in _SERVICES:
        where = f"[{name}]"
        if not config.enabled(name) or not importlib.util.find_spec(module.split(".")[0]):
            continue
        try:
            settings = config.section(name, getattr(importlib.import_module(module), cls))
        except ConfigError as err:
            findings.append(Finding("fail", where, str(err), f"fix [{name}] in {config.source}: `{command}` "
                                    "stops on the same error"))
            continue
        if name == "router":
            from router.rules import RulesError, RuleSet

            path = config.path(settings.rules)
            try:
                ruleset = RuleSet.load(path)
            except (OSError, RulesError) as err:
                findings.append(Finding("fail", "router rules", str(err),
                                        f"fix {path} or [router] rules; `kanal route explain` tries an envelope"))
                continue
            findings.append(Finding("ok", "router rules", f"{path}: {len(ruleset.rules)} rules"))
        elif name == "forwarder" and not settings.url:
            findings.append(Finding("fail", where, "url is empty", "set [forwarder] url to the CRM endpoint that "
                                    "receives routed items"))
        elif name == "admin" and not settings.users:
            findings.append(Finding("fail", where, "no admins: the console refuses to start",
                                    "add [admin.users.<name>] with password_hash (`kanal admin hash-password`) "
                                    "and queues"))
        elif name == "admin" and settings.disposition:
            findings.append(_disposition(config, settings.disposition))
        else:
            findings.append(Finding("ok", where, "settings decode"))
    if config.enabled("router") or config.enabled("outbound"):  # both read [conversations]
        from kanal.control import ConversationSettings

        try:
            config.section("conversations", ConversationSettings)
        except ConfigError as err:
            findings.append(Finding("fail", "[conversations]", str(err), f"fix [conversations] in {config.source}: "
                                    "the router and the notifier stop on the same error"))
    return findings


def _disposition(config: Config, name: str) -> Finding:
    """The console loads its disposition map (and the categories file it names) at start: the same check."""
    from admin.dispositionmap import DispositionError, DispositionMap

    path = config.path(name)
    try:
        found = DispositionMap.load(path)
    except DispositionError as err:
        return Finding("fail", "[admin]", str(err), f"fix [admin] disposition in {config.source} (a relative path "
                       "is taken from that file's folder): `kanal admin serve` stops on the same error")
    return Finding("ok", "[admin]", f"settings decode; disposition map {path}: {len(found.spec.unit)} units")


def check_safety(config: Config, resolved: list[Resolved]) -> list[Finding]:
    """Demo logins, placeholder secrets, logins and webhooks served in clear (kanal.ops.safety): each a FAIL."""
    modes = {r.instance: r.spec.instance_mode(r.settings) for r in resolved}
    return [Finding("fail", u.where, u.message, u.fix) for u in safety.check(config, modes)]


async def run(config: Config, nats: bool = True, probes: bool = True) -> list[Finding]:
    """Every check, in the order an operator would fix things."""
    findings, resolved = check_connectors(config)
    findings += check_sections(config)
    findings += check_safety(config, resolved)
    findings += [Finding(*f) for f in whatsapp.check_config(config, resolved)]
    consumer = str(config.router.get("consumer", subjects.ROUTER_CONSUMER))
    if nats:
        findings += await check_nats(config, consumer, resolved)
    if probes:
        findings += await check_running(resolved)
        findings += await check_router(config)
    return findings


MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def report(findings: list[Finding]) -> list[str]:
    """Printable lines: one per finding, the fix indented below it."""
    lines: list[str] = []
    for f in findings:
        lines.append(f"{MARK[f.level]} {f.check}: {f.message}")
        if f.fix and f.level != "ok":
            lines.append(f"     fix: {f.fix}")
    failed = sum(f.level == "fail" for f in findings)
    warned = sum(f.level == "warn" for f in findings)
    lines.append(f"{failed} problem(s), {warned} warning(s)" if failed or warned else "all checks passed")
    return lines
