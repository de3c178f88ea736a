"""Operations: `kanal nats config|provision` (least-privilege NATS) and `kanal doctor` (what is wrong, how to fix)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from kanal.options import ConfigOption

nats_app = typer.Typer(help="NATS for production: a least-privilege server config, and provisioning.",
                       no_args_is_help=True)
doctor_app = typer.Typer(help="Check config, NATS, streams, consumers, credentials, webhook URLs and running "
                         "instances; print what is wrong and how to fix it (exit 1 if anything is).",
                         invoke_without_command=True)



@nats_app.command("config")
def nats_config(
    config: ConfigOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here (mode 0600) instead of stdout")] = None,
    secrets_dir: Annotated[Path, typer.Option(
        help="one <user>.password file per NATS user; generated once, reused afterwards")] = Path("nats-secrets"),
    host: Annotated[str, typer.Option(help="client listen address (loopback by default; 0.0.0.0 for every "
                                           "interface, best with --tls-cert)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="client port")] = 4222,
    store_dir: Annotated[str, typer.Option(help="JetStream storage directory")] = "/var/lib/nats",
    server_name: Annotated[str | None, typer.Option(help="unique per cluster node")] = None,
    cluster_name: Annotated[str | None, typer.Option(help="JetStream cluster name (enables clustering)")] = None,
    cluster_listen: Annotated[str | None, typer.Option(help="cluster listen host:port")] = None,
    route: Annotated[list[str] | None, typer.Option(help="cluster route URL (repeat per peer)")] = None,
    http_port: Annotated[int, typer.Option(help="monitoring port (/varz, /jsz, /healthz; no authentication, on "
                                                "--host): off unless given, e.g. 8222")] = -1,
    tls_cert: Annotated[str | None, typer.Option(help="server certificate (enables TLS)")] = None,
    tls_key: Annotated[str | None, typer.Option(help="server key")] = None,
    tls_ca: Annotated[str | None, typer.Option(help="CA for client certificates")] = None,
    tls_verify: Annotated[bool, typer.Option(help="require client certificates")] = False,
    admin: Annotated[list[str] | None, typer.Option(
        help="NAME=QUEUE: user admin-NAME may read kanal.admin.QUEUE only (repeat)")] = None,
) -> None:
    """Generate a nats-server config from kanal.toml: accounts, one user per connector instance, router, admins."""
    from kanal.cli import load_config
    from kanal.ops import natsconf

    cfg = load_config(config)
    try:
        admins = [natsconf.AdminQueue.parse(a) for a in admin or []]
    except ValueError as err:
        typer.echo(f"kanal: {err}", err=True)
        raise typer.Exit(2) from err
    if bool(tls_cert) != bool(tls_key):
        typer.echo("kanal: --tls-cert and --tls-key go together", err=True)
        raise typer.Exit(2)
    tls = natsconf.TlsOptions(tls_cert, tls_key, tls_ca, tls_verify) if tls_cert and tls_key else None
    options = natsconf.ServerOptions(host=host, port=port, store_dir=store_dir, server_name=server_name,
                                     cluster_name=cluster_name, cluster_listen=cluster_listen, routes=route or [],
                                     http_port=None if http_port < 0 else http_port, tls=tls, admins=admins)
    text = natsconf.render(cfg, options, secrets_dir)
    if out is None:
        typer.echo(text, nl=False)
        return
    natsconf.write_private(out, text)
    typer.echo(f"kanal: wrote {out} (passwords in {secrets_dir}/)", err=True)
    for line in natsconf.summary(natsconf.users(cfg, options)):
        typer.echo(f"  {line}", err=True)


@nats_app.command("provision")
def nats_provision(config: ConfigOption = None) -> None:
    """Create or update every stream and bucket (KV with direct get, so per-key permissions hold). Run as ops."""
    from kanal import bus
    from kanal.cli import load_config
    from kanal.ops.provision import provision

    cfg = load_config(config)

    async def go() -> None:
        nc = await bus.connect(cfg.nats, name="kanal-provision")
        try:
            await provision(nc.jetstream(), cfg)
        finally:
            await nc.close()

    try:
        asyncio.run(go())
    except bus.BusError as err:
        typer.echo(f"kanal: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(f"kanal: streams and buckets provisioned at R{cfg.nats.replicas}")


@doctor_app.callback()
def doctor_command(
    ctx: typer.Context,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable findings")] = False,
    no_nats: Annotated[bool, typer.Option("--no-nats", help="skip the NATS checks")] = False,
    no_probes: Annotated[bool, typer.Option("--no-probes", help="skip /readyz of running instances")] = False,
) -> None:
    """Run every check; exit 1 if anything is wrong."""
    if ctx.invoked_subcommand is not None:
        return
    from kanal import config as config_mod
    from kanal import log
    from kanal.ops import doctor as doctor_mod

    try:
        cfg = config_mod.load(config)
    except config_mod.ConfigError as err:
        log.configure()  # log lines go to stderr: stdout is the report (and `--json` must stay JSON)
        findings = [doctor_mod.Finding("fail", "config", str(err), "do what the message says, then run doctor again")]
    else:
        log.configure(cfg.log.level, cfg.log.format)
        log.register_secrets(config_mod.secret_values(cfg.nats))
        findings = asyncio.run(doctor_mod.run(cfg, nats=not no_nats, probes=not no_probes))
    if as_json:
        typer.echo(json.dumps([f.__dict__ for f in findings], indent=2))
    else:
        for line in doctor_mod.report(findings):
            typer.echo(line)
    raise typer.Exit(1 if any(f.level == "fail" for f in findings) else 0)
