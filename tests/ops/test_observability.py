"""Alert rules and the dashboard parse, and every Kanal metric they use exists; docs/operations.md lists all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from admin.metrics import ConsoleMetrics
from connectors.metrics import Metrics as ConnectorMetrics
from router.metrics import Metrics as RouterMetrics

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "kanal-alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "kanal-dashboard.json"
DOCS = ROOT / "docs" / "operations.md"
# series from outside Kanal: Prometheus itself and prometheus-nats-exporter (-jsz=all)
EXTERNAL = re.compile(r"^(up|jetstream_[a-z_]+)$")
FUNCTIONS = {"sum", "max", "min", "by", "rate", "increase", "delta", "histogram_quantile", "time", "and", "or",
             "le", "avg", "count", "without", "on", "ignoring"}


def _families(registry: CollectorRegistry) -> dict[str, set[str]]:
    """Metric family name -> the sample names Prometheus sees (counter _total, histogram _bucket ...)."""
    out: dict[str, set[str]] = {}
    for family in registry.collect():
        out[family.name] = {s.name for s in family.samples if not s.name.endswith("_created")}
        if family.type == "counter":
            out[family.name].add(family.name + "_total")
        if family.type == "histogram":
            out[family.name] |= {family.name + s for s in ("_bucket", "_sum", "_count")}
    return out


def _kanal_series() -> tuple[set[str], set[str]]:
    connector = ConnectorMetrics.create("c", "i")
    connector.rejected.labels(reason="r")
    connector.ignored.labels(reason="r")
    families = (_families(connector.registry) | _families(RouterMetrics().registry)
                | _families(ConsoleMetrics().registry))
    series = set().union(*families.values()) | set(families)
    return set(families), series


def _metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_labels = re.sub(r"\[[^\]]*\]", "", without_labels)
    without_groups = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_labels)
    return {w for w in re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", without_groups)
            if w not in FUNCTIONS and not w.isdigit()}


def test_alert_rules_parse_and_use_only_existing_metrics() -> None:
    rules = yaml.safe_load(ALERTS.read_text())
    _, series = _kanal_series()
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    names = {rule["alert"] for rule in alerts}
    for wanted in ("KanalInstanceSilent", "KanalCredentialsRejected", "KanalSpoolGrowing", "KanalDlqGrowing",
                   "KanalRouterLag", "KanalConnectorDown", "KanalRouterDown"):
        assert wanted in names
    for rule in alerts:
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        used = _metric_names(rule["expr"])
        assert used, rule["alert"]
        unknown = {m for m in used if m not in series and not EXTERNAL.match(m)}
        assert not unknown, f"{rule['alert']} uses metrics the code does not export: {unknown}"


def test_dashboard_parses_and_uses_only_existing_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    _, series = _kanal_series()
    used: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = _metric_names(target["expr"])
            unknown = {m for m in names if m not in series and not EXTERNAL.match(m)}
            assert not unknown, f"panel {panel['title']!r} uses unknown metrics {unknown}"
            used |= names
    families, _ = _kanal_series()
    shown = {f for f in families if any(u == f or u.startswith(f + "_") for u in used)}
    assert shown == families, f"metrics not on the dashboard: {families - shown}"


def test_every_metric_is_documented() -> None:
    text = DOCS.read_text()
    families, _ = _kanal_series()
    for family in families:
        exposed = family + "_total" if f"`{family}_total" in text else family
        assert f"`{exposed}" in text, f"{family} is not documented in docs/operations.md"


def test_the_checker_catches_an_unknown_metric() -> None:
    _, series = _kanal_series()
    names = _metric_names('sum by (instance) (rate(kanal_connector_recieved_total{job="x"}[5m])) > 0')
    assert names == {"kanal_connector_recieved_total"} and not names <= series
