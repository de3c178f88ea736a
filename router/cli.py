"""`kanal router run`, `kanal route explain <envelope.json>` and `kanal geo check <file> [--landmarks FILE]`."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import msgspec
import typer

from kanal.options import ConfigOption, UnusedConfigOption
from router.settings import RouterSettings
from schemas import Envelope, Reporter, envelope_id

app = typer.Typer(help="The router: dedup and route envelopes from KANAL_IN to admin queues.", no_args_is_help=True)
route_app = typer.Typer(help="Inspect routing decisions without publishing.", no_args_is_help=True)
geo_app = typer.Typer(help="Check boundaries files for the geo rule.", no_args_is_help=True)



def _settings(config_path: Path | None) -> tuple[object, RouterSettings]:
    from kanal.cli import load_config
    from kanal.config import ConfigError

    cfg = load_config(config_path)
    try:
        return cfg, cfg.section("router", RouterSettings)
    except ConfigError as err:
        typer.echo(f"kanal: {err}", err=True)
        raise typer.Exit(2) from err


@app.command("run")
def run(config: ConfigOption = None) -> None:
    """Consume KANAL_IN and deliver routed items to KANAL_ADMIN until SIGTERM; SIGHUP reloads the rules."""
    from kanal.config import Config
    from router import service

    cfg, settings = _settings(config)
    assert isinstance(cfg, Config)
    raise typer.Exit(asyncio.run(service.serve(cfg, settings)))


@route_app.command("explain")
def explain(
    envelope: Annotated[Path | None, typer.Argument(help="an envelope as JSON (what a connector publishes)")] = None,
    text: Annotated[str | None, typer.Option("--text", help="instead of an envelope: a message with this text "
                                             "(an SMS unless --channel says otherwise)")] = None,
    channel: Annotated[str, typer.Option("--channel", help="with --text: the channel it came in on")] = "twilio",
    config: ConfigOption = None,
    rules: Annotated[Path | None, typer.Option("--rules", help="rules file (default: [router] rules)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the Decision as JSON")] = False,
) -> None:
    """Print the queue, the deciding rule and the trail of every rule tried. Publishes nothing.

    `kanal route explain --text "banjir di depan Stasiun Gambir"` tries a sentence; give an envelope file to try
    a whole message (pin, reporter, channel) as a connector published it.
    """
    from kanal.config import Config
    from router.rules import RulesError, RuleSet
    from schemas.envelope import decode_envelope
    from schemas.errors import SchemaError

    cfg, settings = _settings(config)
    assert isinstance(cfg, Config)
    path = rules if rules is not None else cfg.path(settings.rules)
    if (envelope is None) == (text is None):
        typer.echo("kanal: give an envelope file or --text \"...\" (one of them)", err=True)
        raise typer.Exit(2)
    try:
        env = decode_envelope(envelope.read_bytes()) if envelope is not None else _text_envelope(text or "", channel)
        ruleset = RuleSet.load(path)
    except (OSError, SchemaError, RulesError) as err:
        typer.echo(f"kanal: {err}", err=True)
        raise typer.Exit(2) from err
    decision = ruleset.decide(env)
    if as_json:
        typer.echo(json.dumps(msgspec.to_builtins(decision), indent=2, ensure_ascii=False))
        return
    typer.echo(f"envelope {env.id} ({env.ref}) from {env.channel}/{env.instance}")
    typer.echo(f"queue:   kanal.admin.{decision.queue}")
    typer.echo(f"rule:    {decision.rule_id} ({decision.rule_type})")
    typer.echo(f"reason:  {decision.reason}")
    if decision.matched:
        typer.echo(f"matched: {decision.matched}")
    if decision.category is not None:
        cues = f", cues: {', '.join(decision.category_cues)}" if decision.category_cues else ""
        typer.echo(f"category: {decision.category} (confidence {decision.category_confidence:.2f}{cues})")
    typer.echo(f"trail ({ruleset.source}):")
    for step in decision.trail:
        typer.echo(f"  {'MATCH' if step.matched else 'pass '} {step.rule_id}: {step.reason}")


@geo_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="a boundaries GeoJSON FeatureCollection")],
    code_property: Annotated[str, typer.Option(help="property holding the area code")] = "kode",
    name_property: Annotated[str, typer.Option(help="property holding the area name")] = "kelurahan",
    code_pattern: Annotated[str, typer.Option(help="regular expression every code must match")] = r"^[0-9]{10}$",
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    config: UnusedConfigOption = None,
    landmarks: Annotated[str | None, typer.Option(
        "--landmarks", metavar="FILE",
        help="also check a landmarks CSV against these polygons ('builtin' = the one shipped with Kanal): "
             "each point must lie inside its kelurahan; points within 100 m of an edge are listed")] = None,
) -> None:
    """Validate polygons, codes, overlaps and gaps; exit 1 when the file cannot be used for routing."""
    from router import geo

    if not file.is_file():
        typer.echo(f"kanal: {file} is not a file: give the path of a boundaries GeoJSON FeatureCollection", err=True)
        raise typer.Exit(2)
    if landmarks is not None:
        _check_landmarks(file, landmarks, code_property, name_property, as_json)
        return
    report = geo.check(file, code_property=code_property, name_property=name_property, code_pattern=code_pattern)
    if as_json:
        typer.echo(json.dumps(msgspec.to_builtins(report), indent=2, ensure_ascii=False))
    else:
        typer.echo(f"{report.file}: {report.features} features")
        if report.bounds:
            typer.echo("bounds: lon {0}..{2}, lat {1}..{3}".format(*report.bounds))
        typer.echo(f"overlaps: {report.overlap_pairs} pairs, {report.overlap_m2 / 1e6:.3f} km² in all, "
                   f"largest {report.largest_overlap_m2:.0f} m²")
        typer.echo(f"gaps: {report.gaps}, {report.gap_m2 / 1e6:.3f} km² in all, largest {report.largest_gap_m2:.0f} m²")
        for warning in report.warnings:
            typer.echo(f"warning: {warning}")
        for error in report.errors:
            typer.echo(f"error: {error}")
        typer.echo("OK: usable for the geo rule" if not report.errors else f"FAILED: {len(report.errors)} error(s)")
    if report.errors:
        raise typer.Exit(1)


def _check_landmarks(boundaries: Path, landmarks: str, code_property: str, name_property: str,
                     as_json: bool) -> None:
    from router import geo, places

    path = places.landmarks_path(landmarks, Path.cwd())
    assert path is not None
    try:
        found = places.load_landmarks(path)
        polygons = geo.Boundaries.load(boundaries, code_property=code_property, name_property=name_property)
    except (places.PlacesError, geo.BoundaryError) as err:
        typer.echo(f"kanal: {err}", err=True)
        raise typer.Exit(1) from err
    report = places.check_landmarks(found, polygons, str(path))
    if as_json:
        typer.echo(json.dumps(msgspec.to_builtins(report), indent=2, ensure_ascii=False))
    else:
        typer.echo(f"{report.file}: {report.landmarks} landmarks checked against {boundaries}")
        for line in report.near_border:
            typer.echo(f"near border: {line}")
        for error in report.errors:
            typer.echo(f"error: {error}")
        typer.echo(f"{len(report.near_border)} within {places.BORDER_M:g} m of their kelurahan's edge")
        typer.echo("OK: every point lies inside its kelurahan" if not report.errors
                   else f"FAILED: {len(report.errors)} landmark(s) outside their kelurahan")
    if report.errors:
        raise typer.Exit(1)


def _text_envelope(text: str, channel: str) -> Envelope:
    """A message with only `text`, as `explain --text` tries it: private, from nobody in particular."""
    now = datetime.now(UTC)
    return Envelope(id=envelope_id(channel, "explain", "explain-1"), channel=channel, instance=f"{channel}-explain",
                    account="explain", external_id="explain-1", kind="sms" if channel in ("twilio", "kannel") else
                    "direct_message", created_at=now, received_at=now, reporter=Reporter(), visibility="private",
                    text=text)
