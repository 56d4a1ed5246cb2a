"""A ``bench check`` run on real node processes: client threads call the workload while the nemesis attacks.

Each client is a thread with a KVClient of its own, calling one operation at a
time with no pause between them; the history records every call and answer on
this process's monotonic clock (ns). The main thread runs the nemesis schedule
and prints progress. Ctrl-C (KeyboardInterrupt) stops the clients and the
nemesis; the cluster is stopped either way, the namespaces removed, and the
history so far is returned with ``interrupted`` set: a call that was still
waiting is ``info``.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable

from quorumlab.core.check import OK, History

from quorumlab.bench.check import harness as H
from quorumlab.bench.check import nemesis
from quorumlab.bench.check.netns import NetnsError, NetnsNetwork, unavailable
from quorumlab.bench.check.record import FaultRecord, Run, Tally
from quorumlab.bench.check.spec import CheckSpec
from quorumlab.bench.check.workload import ClientWorkload, outcome_of, perform
from quorumlab.bench.compare.signals import sigint_held

PROGRESS_EVERY_S = 2.0
LEADER_TIMEOUT_S = 30.0


def choose_network(spec: CheckSpec) -> tuple[NetnsNetwork | None, list[str]]:
    """The namespaces to run in (not yet created), or None and a note saying why partitions are cooperative."""
    if spec.network == "cooperative":
        return None, ["partitions: the runtime's cooperative switch (--network cooperative)"]
    reason = unavailable()
    if reason is None:
        return NetnsNetwork(range(1, spec.nodes + 1)), []
    if spec.network == "netns":
        raise NetnsError(f"--network netns: {reason}")
    return None, [f"partitions: the runtime's cooperative switch ({reason}; run as root with iproute2 for kernel "
                  "partitions in network namespaces)"]


def _client(number: int, kv, spec: CheckSpec, history: History, tally: Tally, stop: threading.Event) -> None:
    """One client's loop: call, record the answer (or what the error says became of the call), repeat."""
    work = ClientWorkload(number, spec.seed, spec.keys)
    try:
        while not stop.is_set():
            call = work.next()
            index = history.invoke(number, call.op, call.key, *call.args)
            try:
                result = perform(kv, call, spec.reads)
            except Exception as exc:  # any error: outcome_of decides whether it may have been applied
                tally.add(history.complete(index, outcome_of(exc)).outcome)
                continue
            done = history.complete(index, OK, result)
            work.saw(call, done.result)
            tally.add(OK)
    finally:
        kv.close()


def run_processes(spec: CheckSpec, say: Callable[[str], None]) -> Run:
    """Run ``spec`` on real processes; ``say`` gets progress lines. Always stops every process it started."""
    network, notes = choose_network(spec)
    for note in notes:
        say(note)
    history = History()
    faults: list[FaultRecord] = []
    tally = Tally()
    stop = threading.Event()
    threads: list[threading.Thread] = []
    events: list[dict] = []
    interrupted = False
    start = end = float(time.monotonic_ns())
    with contextlib.ExitStack() as cleanup:
        try:
            if network is not None:
                cleanup.callback(_quietly, network.close)
                network = _create(network, spec, notes, say)
            if network is not None:
                say(f"partitions: kernel drops between network namespaces ({network.tag}-n*, bridge {network.bridge}, "
                    f"10.207.{network.subnet}.0/24)")
                notes.append("partitions: kernel drops between network namespaces (ip rule blackhole)")
            cluster = H.ProcessHarness(spec.algo, spec.nodes, spec.settings(), spec.seed, network=network,
                                       secure=spec.secure)
            cleanup.callback(_close, cluster, stop, threads)
            cleanup.callback(_keep_events, cluster, events)  # runs before _close (last in, first out)
            say(f"starting {spec.nodes} {spec.algo} nodes ...")
            leader = cluster.start(LEADER_TIMEOUT_S)
            say(f"node {leader} leads; {spec.clients} clients for {spec.duration_s:g}s, nemesis "
                f"{','.join(spec.nemeses) or 'none'}, seed {spec.seed}")
            start = float(time.monotonic_ns())
            for number in range(1, spec.clients + 1):
                kv = cluster.client(timeout_s=spec.op_timeout_s, attempt_s=min(0.5, spec.op_timeout_s),
                                    read_from=spec.read_from)
                t = threading.Thread(target=_client, args=(number, kv, spec, history, tally, stop),
                                     name=f"check-client-{number}", daemon=True)
                threads.append(t)
                t.start()
            _attack(cluster, spec, start, faults, tally, say)
        except KeyboardInterrupt:
            interrupted = True
            say("interrupted: stopping the clients and the cluster; the history so far is kept")
        finally:
            end = float(time.monotonic_ns())
            for f in faults:
                if f.end is None:
                    f.end = end
    return Run(spec, history, faults, start, end, interrupted, notes, events=events)


def _keep_events(cluster: H.ProcessHarness, into: list[dict]) -> None:
    """The nodes' and the harness's events, read before the cluster's files go (bench web replays them)."""
    try:
        into.extend(cluster.cluster.events())
    except Exception:  # a cluster that never started has none; the check goes on without them
        pass


def _attack(cluster: H.ProcessHarness, spec: CheckSpec, start: float, faults: list[FaultRecord], tally: Tally,
            say: Callable[[str], None]) -> None:
    """Run the nemesis schedule against ``cluster`` until the run's end, saying how it goes."""
    state = {"now": "no fault", "next": time.monotonic() + PROGRESS_EVERY_S}

    def elapsed() -> float:
        return time.monotonic() - start / 1e9

    def wait_until(offset_s: float, bouncer: nemesis.Bouncer | None = None) -> int:
        """Sleep until ``offset_s`` into the run, printing progress (and bouncing); returns the restarts done."""
        restarts = 0
        while (left := offset_s - elapsed()) > 0:
            time.sleep(min(left, 0.1))
            node = bouncer.due(elapsed(), cluster.leader()) if bouncer is not None else None
            if node is not None:
                cluster.crash(node)
                cluster.restart(node)
                restarts += 1
            if time.monotonic() >= state["next"]:
                state["next"] += PROGRESS_EVERY_S
                say(f"[{elapsed():7.1f}s] {tally.line()}  | {state['now']}")
        return restarts

    for fault in nemesis.schedule(spec.seed, spec.duration_s, spec.nemeses):
        wait_until(fault.start)
        if elapsed() >= fault.end:
            continue  # the repairs before it (restarts wait for the node) ran past its whole time
        plan = nemesis.plan(fault, cluster.ids, cluster.leader())
        record = FaultRecord(fault.kind, plan.describe(), float(time.monotonic_ns()))
        faults.append(record)
        state["now"] = f"{fault.kind}: {record.what}"
        H.inflict(cluster, plan)
        restarts = wait_until(fault.end, nemesis.Bouncer(fault, plan.bounce, elapsed()) if plan.bounce else None)
        H.repair(cluster, plan)
        record.end = float(time.monotonic_ns())
        if plan.bounce:
            record.what += f" ({restarts} restarts)"
        state["now"] = "no fault"
    wait_until(spec.duration_s)


def _create(network: NetnsNetwork, spec: CheckSpec, notes: list[str], say: Callable[[str], None]) -> NetnsNetwork | None:
    """Make the namespaces; where that fails, fall back to the cooperative switch with a note (unless
    ``--network netns`` insists, then the error stands)."""
    try:
        network.create()
        return network
    except NetnsError as exc:
        if spec.network == "netns":
            raise
        notes.append(f"partitions: the runtime's cooperative switch (network namespaces failed: {exc})")
        say(notes[-1])
        return None


def _quietly(action: Callable[[], object]) -> None:
    """Run a cleanup step that a second Ctrl-C must not cut short."""
    with sigint_held(deliver=False):
        action()


def _close(cluster: H.ProcessHarness, stop: threading.Event, threads: list[threading.Thread]) -> None:
    """Stop the clients (each finishes or abandons its call within its timeout), then every node process."""
    with sigint_held(deliver=False):
        stop.set()
        for t in threads:
            t.join(timeout=30)
        cluster.close()
