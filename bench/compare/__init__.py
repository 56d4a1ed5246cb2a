"""``bench compare``: scenarios, metrics from event streams, runners (sim, zmq), reports and plots."""
