"""Throughput, latency and catch-up measurements on local processes (``bench throughput``, ``bench catchup``)."""
from quorumlab.bench.throughput.embedded import measure_driver_ceiling, measure_embedded, measure_leader_changes
from quorumlab.bench.throughput.load import Load, MeasurementFailed, measure_catch_up, measure_log, summary
from quorumlab.bench.throughput.pysyncobj import measure_pysyncobj

__all__ = ["Load", "MeasurementFailed", "measure_catch_up", "measure_driver_ceiling", "measure_embedded", "measure_leader_changes", "measure_log",
           "measure_pysyncobj", "summary"]
