"""Prometheus counters of the gateway, at GATEWAY_METRICS_PORT/metrics.

Served by the gateway process, or, with several listener processes, by their
supervisor, summed from the files each listener writes (prometheus_client's
multiprocess mode; run_gateway sets PROMETHEUS_MULTIPROC_DIR for them).
"""

from prometheus_client import Counter, Histogram

INSTANCES = Counter("teleradio_gateway_instances_total", "C-STORE requests answered, by outcome", ["outcome"])
BYTES = Counter("teleradio_gateway_bytes_total", "Bytes of instances stored")
ASSOCIATIONS = Counter("teleradio_gateway_associations_total", "Associations, by outcome", ["outcome"])
STORE_SECONDS = Histogram(
    "teleradio_gateway_store_seconds",
    "Time from a complete C-STORE request to its response (store + index)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
