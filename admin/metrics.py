"""The console's Prometheus metrics: open and late items per queue, counted from its index at each scrape.

Counts only (queue names and numbers, no personal data), so /metrics needs no sign-in, like the other
services'. The alert `KanalItemsOverdue` (deploy/prometheus/kanal-alerts.yml) reads `kanal_admin_overdue`.
"""

from __future__ import annotations

from collections import Counter

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from admin.finder import Deadlines
from admin.index import QueueIndex


class ConsoleMetrics:
    """Gauges on their own registry, set from the index on each scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.open = Gauge("kanal_admin_open", "Items neither acknowledged nor rerouted nor Selesai, per queue",
                          ["queue"], registry=self.registry)
        self.overdue = Gauge("kanal_admin_overdue", "Open items past their stage's deadline ([admin] deadlines), "
                             "per queue and stage", ["queue", "stage"], registry=self.registry)

    def render(self, index: QueueIndex, deadlines: Deadlines, now: float) -> bytes:
        """Set every gauge from the index (queues that emptied go back to 0), then the exposition text."""
        open_counts: Counter[str] = Counter()
        late: Counter[tuple[str, str]] = Counter()
        for entry in index.open.values():
            if entry.stage == "selesai":
                continue
            open_counts[entry.queue] += 1
            if deadlines.overdue(entry, now):
                late[(entry.queue, entry.stage)] += 1
        for queue in set(index.by_queue) | set(open_counts):
            self.open.labels(queue=queue).set(open_counts.get(queue, 0))
            for stage in deadlines.limits:
                self.overdue.labels(queue=queue, stage=stage).set(late.get((queue, stage), 0))
        return generate_latest(self.registry)
