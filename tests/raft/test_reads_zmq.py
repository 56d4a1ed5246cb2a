"""Reads without the log on real processes: histories of puts, cas, deletes and gets (ReadIndex, lease, follower
reads) under SIGKILL, SIGSTOP and kernel partitions, checked for linearizability by quorumlab.core.check.

Each run is ``bench check`` on 3 raft processes over ZeroMQ on 127.0.0.1 (in network namespaces when run as
root, else the runtime's cooperative partitions), one nemesis at a time so that each fault surely happens.
The same runs from the command line: ``bench check --algo raft --nodes 3 --nemesis kill --reads lease
--config check_quorum=true`` and so on.
"""
from __future__ import annotations

import pytest

from quorumlab.bench.check.processes import run_processes
from quorumlab.bench.check.report import judge
from quorumlab.bench.check.spec import CheckSpec
from tests.check_bench.mutants import ServesReadsFromOwnState

CHECK_QUORUM = (("check_quorum", "true"),)


def run(nemesis: str, seed: int, reads: str, read_from: str, config: tuple = (), algo: str = "raft",
        duration_s: float = 5.0) -> tuple[dict, int]:
    """The report of one run, and how many gets it answered."""
    spec = CheckSpec(algo, nodes=3, clients=6, duration_s=duration_s, nemeses=(nemesis,), seed=seed, config=config,
                     op_timeout_s=1.0, reads=reads, read_from=read_from)
    checked = run_processes(spec, lambda line: None)
    report, _ = judge(checked)
    return report, sum(o.op == "get" and o.outcome == "ok" for o in checked.history.operations())


@pytest.mark.integration
@pytest.mark.parametrize("nemesis, seed, reads, read_from, config, fault", [
    ("kill", 0, "lease", "leader", CHECK_QUORUM, "kill"),
    ("pause", 0, "linearizable", "any", (), "pause"),
    ("partition", 3, "linearizable", "any", CHECK_QUORUM, "partition-leader"),
    ("partition", 0, "lease", "any", CHECK_QUORUM, "partition"),
])
def test_reads_without_the_log_stay_linearizable_on_real_processes(nemesis, seed, reads, read_from, config, fault):
    report, gets = run(nemesis, seed, reads, read_from, config)
    assert [f["kind"] for f in report["faults"]] == [fault]
    assert report["verdict"] == "ok", report
    assert gets > 100 and report["operations"]["ok"] > 250


@pytest.mark.integration
def test_a_follower_that_answers_reads_from_its_own_state_is_caught_on_real_processes():
    report, gets = run("partition", 0, "linearizable", "any", algo=f"{ServesReadsFromOwnState.__module__}:"
                       f"{ServesReadsFromOwnState.__qualname__}", duration_s=6.0)
    assert gets > 100 and report["verdict"] == "violation", report
