"""Prometheus metrics of one router process, on its own registry, served with /healthz over HTTP."""

from __future__ import annotations

from typing import Literal, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kanal.control import CONTROL_KINDS

# Typed, so the router can only count what is listed here (and starts each at 0).
RetryReason = Literal["routing_failed", "dedup_store_unavailable", "publish_failed"]
DeadLetterReason = Literal["invalid_envelope", "unsupported_version", RetryReason]  # retries end here at the limit
DUPLICATE_KINDS = ("exact", "same_reporter", "same_text", "incident", "follow_up")
RETRY_REASONS: tuple[str, ...] = get_args(RetryReason)
DEAD_LETTER_REASONS: tuple[str, ...] = get_args(DeadLetterReason)  # nested Literals flatten


class Metrics:
    """Routed per queue/rule, duplicates by kind, dead letters by reason, latency, rule reloads."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.routed = Counter("kanal_router_routed", "Items delivered, by queue and deciding rule",
                              ["queue", "rule"], registry=r)
        self.duplicates = Counter("kanal_router_duplicates", "Duplicates found, by kind "
                                  "(exact, same_reporter, same_text, incident, follow_up)", ["kind"], registry=r)
        self.dlq = Counter("kanal_router_dead_letters", "Inputs sent to KANAL_DLQ, by reason", ["reason"], registry=r)
        self.retries = Counter("kanal_router_retries", "Inputs handed back for redelivery, by reason", ["reason"],
                               registry=r)
        self.latency = Histogram("kanal_router_latency_seconds", "From fetch to input ack, per message",
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                                 registry=r)
        self.control = Counter("kanal_router_control", "Messages that are not complaints (no item), by kind "
                               "(opt_out, opt_in, status, no_complaint)", ["kind"], registry=r)
        self.fragments = Counter("kanal_router_fragments", "Chat messages held to be assembled into a report "
                                 "(router/assembly.py)", registry=r)
        self.assembled = Counter("kanal_router_assembled", "Reports assembled from held fragments and routed",
                                 registry=r)
        self.held = Gauge("kanal_router_held_conversations", "Conversations this process is waiting on to close a "
                          "report", registry=r)
        self.location_asked = Counter("kanal_router_location_asked", "Chat reports routed without a place whose "
                                      "reporter is asked for the location", registry=r)
        self.location_answers = Counter("kanal_router_location_answers", "Answers to a location request, by outcome "
                                        "(rerouted: the report moved where it says; attached: as a follow-up)",
                                        ["outcome"], registry=r)
        self.reloads = Counter("kanal_router_rule_reloads", "Rules file reloads, by result", ["result"], registry=r)
        self.rules = Gauge("kanal_router_rules", "Rules in force", registry=r)
        self.categories = Counter("kanal_router_categories", "Items delivered (not duplicate notices), by the "
                                  "category read from their text", ["category"], registry=r)
        # Every known label value starts at 0: an alert on increase() then sees the first event (a series that
        # is born at 1 shows no increase), and dashboards show a flat 0 instead of nothing.
        for kind in DUPLICATE_KINDS:
            self.duplicates.labels(kind)
        for reason in DEAD_LETTER_REASONS:
            self.dlq.labels(reason)
        for reason in RETRY_REASONS:
            self.retries.labels(reason)
        for kind in CONTROL_KINDS:
            self.control.labels(kind)
        for outcome in ("rerouted", "attached"):
            self.location_answers.labels(outcome)
        for result in ("ok", "refused"):
            self.reloads.labels(result)

    def known_categories(self, ids: tuple[str, ...]) -> None:
        """Start each category's count at 0 (at start and when reloaded rules bring new ones)."""
        for category in ids:
            self.categories.labels(category)

    def observe(self, seconds: float) -> None:
        """Record one message's latency."""
        self.latency.observe(seconds)

    def app(self) -> Starlette:
        """GET /metrics (Prometheus text) and GET /healthz."""

        async def metrics(_request: Request) -> Response:
            return Response(generate_latest(self.registry), media_type="text/plain; version=0.0.4")

        async def healthz(_request: Request) -> JSONResponse:
            return JSONResponse({"status": "ok"})

        return Starlette(routes=[Route("/metrics", metrics), Route("/healthz", healthz)])
