"""Prometheus metrics every connector instance exposes on /metrics (one registry per process)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class LabelledCounter:
    """A counter with `channel`/`instance` applied; call `.labels(reason=...)` for the rest."""

    def __init__(self, metric: Counter, fixed: dict[str, str]) -> None:
        self._metric = metric
        self._fixed = fixed

    def labels(self, **extra: str) -> Counter:
        return self._metric.labels(**self._fixed, **extra)


@dataclass
class Metrics:
    """The instance's counters; labels `channel` and `instance` are fixed per process."""

    registry: CollectorRegistry
    received: Counter
    published: Counter
    spooled: Counter
    duplicates: Counter
    rejected: LabelledCounter
    ignored: LabelledCounter
    publish_latency: Histogram
    spool_depth: Gauge
    spool_bytes: Gauge
    spool_max_bytes: Gauge
    spool_full: Gauge
    last_receive: Gauge
    credentials_ok: Gauge
    silent: Gauge
    ready: Gauge
    spooling: Gauge

    @classmethod
    def create(cls, channel: str, instance: str) -> Metrics:
        """Fresh metrics in their own registry."""
        registry = CollectorRegistry()
        labels = {"channel": channel, "instance": instance}

        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, list(labels), registry=registry).labels(**labels)

        def by_reason(name: str, doc: str) -> LabelledCounter:
            return LabelledCounter(Counter(name, doc, [*labels, "reason"], registry=registry), labels)

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, list(labels), registry=registry).labels(**labels)

        return cls(
            registry=registry,
            received=counter("kanal_connector_received_total", "Inputs received from the provider"),
            published=counter("kanal_connector_published_total", "Envelopes acknowledged by JetStream"),
            spooled=counter("kanal_connector_spooled_total", "Envelopes written to the local spool"),
            duplicates=counter("kanal_connector_duplicates_total", "Envelopes JetStream already had"),
            rejected=by_reason("kanal_connector_rejected_total", "Inputs refused or dead-lettered"),
            ignored=by_reason("kanal_connector_ignored_total", "Events that are not complaints"),
            publish_latency=Histogram(
                "kanal_connector_publish_seconds", "Time from receipt to JetStream ack", list(labels),
                registry=registry, buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            ).labels(**labels),
            spool_depth=gauge("kanal_connector_spool_depth", "Messages waiting in the local spool"),
            spool_bytes=gauge("kanal_connector_spool_bytes", "Bytes waiting in the local spool"),
            spool_max_bytes=gauge("kanal_connector_spool_max_bytes", "The spool's limit (spool_max_bytes)"),
            spool_full=gauge("kanal_connector_spool_full", "1 while the spool is full and new input gets 503"),
            last_receive=gauge("kanal_connector_last_success_timestamp_seconds",
                               "UNIX time of the last successful receive or poll"),
            credentials_ok=gauge("kanal_connector_credentials_ok", "1 while the provider accepts the credentials"),
            silent=gauge("kanal_connector_silent", "1 while the instance has been silent longer than silence_after"),
            ready=gauge("kanal_connector_ready", "1 while the instance can take input safely (as /readyz answers)"),
            spooling=gauge("kanal_connector_spooling", "1 while input goes to the local spool (NATS away or draining)"),
        )
