"""Prometheus counters of the gateway (served at /metrics by the gateway process)."""

from prometheus_client import Counter, Histogram

INSTANCES = Counter("teleradio_gateway_instances_total", "C-STORE requests answered, by outcome", ["outcome"])
BYTES = Counter("teleradio_gateway_bytes_total", "Bytes of instances stored")
ASSOCIATIONS = Counter("teleradio_gateway_associations_total", "Associations, by outcome", ["outcome"])
STORE_SECONDS = Histogram(
    "teleradio_gateway_store_seconds",
    "Time from a complete C-STORE request to its response (store + index)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
