"""``bench check``'s library (no click here): run a key-value workload under a seeded nemesis on real processes
or in the simulator, record the history, check it for linearizability and report; see docs/bench-check.md."""
