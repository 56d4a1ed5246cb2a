"""Node processes: clean stop on SIGTERM, nothing left behind, orphans stop themselves, counters events."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from quorumlab.core.cluster import LocalCluster
from quorumlab.core.runtime.eventlog import EventFollower
from quorumlab.core.storage import STATE_FILE, FileStorage
from tests.runtime.algos import Prober
from tests.runtime.helpers import process_alive, processes_mentioning

pytestmark = pytest.mark.integration

WAIT = 20.0


def test_sigterm_stops_a_node_within_one_second_with_state_flushed_and_a_stopped_event():
    with LocalCluster(Prober, 3) as c:
        c.wait_for_leader(WAIT)
        pid = c.pid(2)
        started = time.monotonic()
        code = c.stop(2)
        elapsed = time.monotonic() - started
        assert code == 0
        assert elapsed < 1.0, f"SIGTERM took {elapsed:.2f}s"
        assert not process_alive(pid)
        stopped = c.wait_for(lambda e: e["kind"] == "stopped" and e["node"] == 2, WAIT)
        assert stopped["reason"] == "SIGTERM"
        assert set(stopped["counters"]) >= {"sent", "recv", "bytes_sent", "bytes_recv", "dropped_bad", "dropped_partition"}
        assert FileStorage(c.node_dir(2)).read() == {"term": 1}


def test_leaving_the_context_stops_every_process_even_when_the_body_raises():
    with pytest.raises(RuntimeError, match="body failed"):
        with LocalCluster(Prober, 3) as c:
            c.wait_for_leader(WAIT)
            c.pause(3)  # a stopped process must be stopped too
            pids = list(c.spawned_pids)
            data_dir = c.data_dir
            raise RuntimeError("body failed")
    assert len(pids) == 3
    assert [p for p in pids if process_alive(p)] == []
    assert processes_mentioning(data_dir) == []
    assert not os.path.exists(data_dir), "the temporary data dir was left behind"


def test_a_given_data_dir_is_kept_and_a_restart_appends_to_the_event_log(tmp_path):
    with LocalCluster(Prober, 2, data_dir=tmp_path) as c:
        c.wait_for_leader(WAIT)
        c.restart(2)
        c.wait_for(lambda e: e["kind"] == "restart_detected" and e["node"] == 2, WAIT)
        pids = list(c.spawned_pids)
    assert len(pids) == 3 and [p for p in pids if process_alive(p)] == []
    starts = [e for e in c.events() if e["kind"] == "started" and e["node"] == 2]
    assert len(starts) == 2 and starts[0]["pid"] != starts[1]["pid"]
    assert (tmp_path / "2" / "events.jsonl").exists() and (tmp_path / "2" / STATE_FILE).exists()
    assert FileStorage(str(tmp_path / "2")).read() == {"term": 2}


@pytest.mark.parametrize("paused", [False, True], ids=["running", "one-paused"])
def test_nodes_stop_by_themselves_when_the_harness_process_dies(tmp_path, paused):
    """Also a node the harness had SIGSTOPped: the kernel resumes it (PR_SET_PDEATHSIG = SIGCONT)."""
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {os.getcwd()!r})
        from quorumlab.core.cluster import LocalCluster
        from tests.runtime.algos import Prober
        c = LocalCluster(Prober, 2, data_dir={str(tmp_path)!r}).start()
        if {paused!r}:
            c.pause(1)
        print(" ".join(map(str, c.spawned_pids)), flush=True)
        time.sleep(600)
        """
    )
    harness = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in harness.stdout.readline().split()]
        assert len(pids) == 2
    finally:
        harness.send_signal(signal.SIGKILL)
        harness.wait()
        harness.stdout.close()
    import zmq

    ctx = zmq.Context()
    follower = EventFollower(ctx, [str(tmp_path / str(i) / "events.jsonl") for i in (1, 2)], [])
    try:
        for i in (1, 2):
            stopped = follower.wait_for(lambda e, i=i: e["kind"] == "stopped" and e["node"] == i, WAIT)
            assert stopped["reason"] == "parent exited"
    finally:
        follower.close()
        ctx.term()
        for p in pids:
            if process_alive(p):
                os.kill(p, signal.SIGKILL)
    for p in pids:
        deadline = time.monotonic() + WAIT
        while process_alive(p) and time.monotonic() < deadline:
            time.sleep(0.05)  # the node has written its last event; wait for the process to vanish
        assert not process_alive(p)


def test_counters_events_report_traffic_by_type():
    with LocalCluster(Prober, 2, counters_every_ms=100) as c:
        c.wait_for_leader(WAIT)
        c.wait_for(lambda e: e["kind"] == "peer_up" and e["node"] == 1 and e["peer"] == 2, WAIT)
        c.trigger([1], "probe")
        event = c.wait_for(lambda e: e["kind"] == "counters" and e["node"] == 2 and e["counters"]["recv"], WAIT)
        assert set(event["counters"]["recv"]) == {"RuntimeTestProbe"}
        assert event["counters"]["bytes_recv"]["RuntimeTestProbe"] > 0
