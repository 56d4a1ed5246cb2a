"""The runtime's bookkeeping of forwarded in-process requests, driven by raft nodes of a ManualCluster.

One node's effects go through quorumlab.core.runtime.node.Node's own methods (``observe``, ``apply``,
``_forward`` and what they call), bound to a stand-in that has just the fields they use: what an embedded
node's loop would answer its application, under schedules a real cluster produces only by chance (the leader
losing an appended forward before it reaches anyone, the forwarder becoming leader).
"""
from __future__ import annotations

import collections

from quorumlab.algorithms.raft import HEARTBEAT
from quorumlab.core.effects import Proposed
from quorumlab.core.runtime import node as runtime
from quorumlab.core.testing import ManualCluster

BOUND = ["observe", "apply", "_forward", "_forward_appended", "_forward_failed", "_wait_for_entries",
         "_fail_forwarded_waiting", "_answer_waiting", "_answer", "_fail", "_fail_waiting", "_read_ready"]


class Loop:
    """The fields of runtime.Node that the bound methods read and write."""


for _name in BOUND:
    setattr(Loop, _name, runtime.Node.__dict__[_name])


def loop_of(cluster: ManualCluster, i: int) -> Loop:
    """Node ``i``'s effects are carried out by the cluster and then by a runtime loop's bookkeeping."""
    loop = Loop()
    loop._waiting, loop._held, loop._forwarding = collections.deque(), collections.deque(), {}
    loop._next_forward = loop._applied_index = loop._now = 0
    loop._connections = runtime._Connections()
    loop._reads_at, loop._read_requests = [], {}
    loop._handover, loop._handover_over, loop._leader_learned, loop._prune = None, False, False, None
    loop.addresses = {j: f"tcp://127.0.0.1:{7100 + j}" for j in cluster.ids}
    loop.algo_cls, loop.state_machine, loop.last_election = cluster.algo, None, None
    loop._record = lambda kind, data: {"t": cluster.now}
    loop._follow_membership = lambda effect: None
    loop._execute = lambda effects: cluster.run(i, effects)
    sink = cluster._sinks[i]
    base = type(sink)

    class Both(base):
        __slots__ = ()

        def observe(self, effect):
            base.observe(self, effect)
            loop.observe(effect)

        def apply(self, run):
            base.apply(self, run)
            loop.apply(run)

    cluster._sinks[i] = Both(cluster, i)
    loop.algo = cluster.node(i)
    return loop


def submit(loop: Loop, cluster: ManualCluster, i: int, command: bytes, answers: list) -> None:
    """An in-process submit: forwarded when node ``i`` does not lead (as ``_propose`` does after "not leader"),
    else appended and left waiting for its entry."""
    req = runtime._ClientRequest([runtime.LOCAL_ROUTE], 1, binary=True)
    req.done = lambda results, error: answers.append((command, results and results[0], error and error["code"]))
    loop.algo, loop._now = cluster.node(i), cluster.now
    effects = cluster.node(i).propose(command, cluster.now)
    appended = next((e for e in effects if type(e) is Proposed), None)
    if appended is None:
        loop._forward(req, [command])
        return
    req.first, req.term = appended.index, appended.term
    loop._wait_for_entries(req)
    loop._connections.wait(req)
    cluster.run(i, effects)


def lost_after_answering() -> tuple[ManualCluster, Loop, list]:
    """Leader 1 appends two commands of its own that reach nobody, then node 2's forward at index 4, answers
    node 2 with that index, and crashes: index 4 may never be filled again."""
    cluster = ManualCluster("raft", 3, auto=("flush",))
    loop = loop_of(cluster, 2)
    cluster.trigger(1, "election")
    cluster.deliver()
    cluster.trigger(1, HEARTBEAT)
    cluster.deliver()
    cluster.propose(1, b"own 1")
    cluster.propose(1, b"own 2")
    cluster.drop_all()
    answers: list = []
    submit(loop, cluster, 2, b"forwarded", answers)
    cluster.deliver(types=["Propose"])
    cluster.hand_over(next(k for k, (_, _, m) in enumerate(cluster.queue) if m.name == "ProposeResponse"))
    assert [(r.first, r.term) for r in loop._waiting] == [(4, 1)]
    cluster.crash(1)
    cluster.drop_all()
    return cluster, loop, answers


def test_a_forward_whose_leader_is_replaced_before_it_applies_is_answered_maybe_not_left_waiting():
    cluster, loop, answers = lost_after_answering()
    cluster.trigger(3, "election")
    cluster.deliver(among=[2, 3])
    for _ in range(10):  # an idle cluster: nothing will fill index 4
        cluster.advance(50)
        cluster.trigger(3, HEARTBEAT)
        cluster.deliver(among=[2, 3])
    assert answers == [(b"forwarded", None, "leadership_lost")]
    assert not loop._waiting and not loop._connections._waiting


def test_a_forwarder_that_becomes_leader_answers_its_own_commands_in_index_order():
    cluster, loop, answers = lost_after_answering()
    cluster.trigger(2, "election")
    cluster.deliver(among=[2, 3])
    assert cluster.node(2).role.name == "LEADER"
    submit(loop, cluster, 2, b"mine", answers)
    cluster.deliver(among=[2, 3])
    assert [(a[0], a[2]) for a in answers] == [(b"forwarded", "leadership_lost"), (b"mine", None)]
    assert not loop._waiting


def test_a_forward_applied_normally_is_answered_with_the_followers_own_result():
    cluster = ManualCluster("raft", 3, auto=("flush",))
    loop = loop_of(cluster, 2)
    cluster.trigger(1, "election")
    cluster.deliver()
    answers: list = []
    submit(loop, cluster, 2, b"x", answers)
    cluster.deliver()
    assert answers == [(b"x", b"", None)]
    assert not loop._forwarding and not loop._connections._waiting
