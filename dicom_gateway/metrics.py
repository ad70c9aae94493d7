"""Prometheus metrics of the gateway, at GATEWAY_METRICS_PORT/metrics.

Served by the gateway process, or, with several listener processes, by their
supervisor, summed from the files each listener writes (prometheus_client's
multiprocess mode; run_gateway sets PROMETHEUS_MULTIPROC_DIR for them).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

INSTANCES = Counter("teleradio_gateway_instances_total", "C-STORE requests answered, by outcome", ["outcome"])
BYTES = Counter("teleradio_gateway_bytes_total", "Bytes of instances stored")
ASSOCIATIONS = Counter("teleradio_gateway_associations_total", "Associations, by outcome", ["outcome"])
STORE_SECONDS = Histogram(
    "teleradio_gateway_store_seconds",
    "Time from a complete C-STORE request to its response (store + index)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class StoreSpaceCollector(Collector):
    """The image store's filesystem, read at each scrape: a full disk answers every
    C-STORE "out of resources", so whoever runs the platform should see it coming."""

    def __init__(self, root: Path | str) -> None:
        self.root = root

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            usage = shutil.disk_usage(self.root)
        except OSError:
            return  # no store yet (or unreadable): no figure rather than a wrong one
        yield GaugeMetricFamily(
            "teleradio_gateway_storage_free_bytes", "Bytes free for the gateway on the image store", value=usage.free
        )
        yield GaugeMetricFamily(
            "teleradio_gateway_storage_size_bytes", "Size in bytes of the image store's filesystem", value=usage.total
        )


def serve(registry: CollectorRegistry = REGISTRY) -> None:
    """Serve ``registry`` and the store's space at GATEWAY_METRICS_BIND:GATEWAY_METRICS_PORT."""
    registry.register(StoreSpaceCollector(settings.STORAGE_ROOT))
    start_http_server(settings.GATEWAY_METRICS_PORT, addr=settings.GATEWAY_METRICS_BIND, registry=registry)
