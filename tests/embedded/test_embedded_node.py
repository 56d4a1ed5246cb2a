"""quorumlab.Node: one member inside this process, on real sockets (ZeroMQ on 127.0.0.1, CurveZMQ by default)."""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import pytest

from quorumlab.core.embedded import EmbeddedNode, SubmitError
from quorumlab.core.kv import PUT, Command
from quorumlab.core.replicated import ReplicatedObject, replicated
from tests.embedded.support import WAIT, embedded_cluster, our_threads, sole_leader, wait_until

pytestmark = pytest.mark.integration


def put(key: bytes, value: bytes, seq: int, client: int = 77) -> bytes:
    return Command(client, seq, PUT, key, value).encode()


def test_three_embedded_nodes_elect_one_leader_and_apply_a_command_everywhere(tmp_path):
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        leader = wait_until(lambda: sole_leader(nodes), what="one leader all follow")
        assert leader.term >= 1 and leader.leader == leader.id
        answer = leader.submit(put(b"k", b"v", 1)).result(WAIT)
        assert isinstance(answer, bytes)
        for node in nodes:
            wait_until(lambda: node.call(lambda: node.state_machine.data.get(b"k")).result(WAIT) == b"v",
                       what=f"node {node.id} applied the put")


def test_a_followers_command_goes_to_the_leader_and_is_answered_once_applied_on_the_follower(tmp_path):
    """As PySyncObj does: a submit on a follower is forwarded to the leader, and its Future completes with the
    follower's own state machine's answer once the follower has applied the entry (so a read of the follower's
    copy right after sees the write)."""
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        follower = next(n for n in nodes if n is not leader)
        for s in range(1, 21):
            answer = follower.submit(put(b"k", b"v%d" % s, s)).result(WAIT)
            assert isinstance(answer, bytes)
            assert follower.call(lambda: follower.state_machine.data[b"k"]).result(WAIT) == b"v%d" % s
        futures = [follower.submit(put(b"p", b"%d" % s, 100 + s)) for s in range(1, 501)]
        assert all(isinstance(f.result(WAIT), bytes) for f in futures)
        assert follower.call(lambda: follower.state_machine.data[b"p"]).result(WAIT) == b"500"
        wait_until(lambda: leader.call(lambda: leader.state_machine.data.get(b"p")).result(WAIT) == b"500",
                   what="the leader applied the forwarded puts")
        assert follower.status()["counters"]["sent"].get("Propose", 0) >= 20


def test_a_follower_refuses_an_invalid_command_itself_and_joined_submits_fail_alone(tmp_path):
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        follower = next(n for n in nodes if n is not leader)
        follower.call(lambda: time.sleep(0.1))  # under the 150 ms election timeout: the submits are joined
        futures = [follower.submit(b"" if s == 5 else put(b"j", b"%d" % s, s)) for s in range(1, 11)]
        for s, f in enumerate(futures, 1):
            if s == 5:
                with pytest.raises(SubmitError) as refused:
                    f.result(WAIT)
                assert refused.value.code == "invalid" and refused.value.applied is False
            else:
                assert isinstance(f.result(WAIT), bytes)


def test_many_commands_from_many_threads_are_all_answered_in_order(tmp_path):
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        futures: dict[int, list[concurrent.futures.Future]] = {}

        def client(c: int) -> None:
            futures[c] = [leader.submit(put(b"c%d" % c, b"%d" % s, s, client=c)) for s in range(1, 201)]

        threads = [threading.Thread(target=client, args=(c,)) for c in range(1, 5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for fs in futures.values():
            for f in fs:
                f.result(WAIT)
        data = leader.call(lambda: dict(leader.state_machine.data)).result(WAIT)
        assert all(data[b"c%d" % c] == b"200" for c in range(1, 5))
        batch = leader.submit_many([put(b"b", b"1", 1, client=9), put(b"b", b"2", 2, client=9)]).result(WAIT)
        assert len(batch) == 2


def test_submit_async_answers_inside_an_asyncio_loop(tmp_path):
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))

        async def main() -> list[bytes]:
            return await asyncio.gather(*(leader.submit_async(put(b"a", b"%d" % s, s)) for s in range(1, 11)))

        assert len(asyncio.run(main())) == 10


def test_submit_refuses_what_is_not_bytes(tmp_path):
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        with pytest.raises(TypeError):
            nodes[0].submit("text").result(WAIT)
        with pytest.raises(TypeError):
            nodes[0].submit_many([]).result(WAIT)


def test_status_is_the_runtimes_status(tmp_path):
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        status = leader.status()
        assert status["role"] == "leader" and status["id"] == leader.id and status["secure"] is True
        assert status["term"] == leader.term


def test_leader_change_is_reported_to_callbacks_when_the_leader_goes(tmp_path):
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        seen: dict[int, list[tuple]] = {n.id: [] for n in nodes}
        for n in nodes:
            n.on_leader_change(lambda leader, term, n=n: seen[n.id].append((leader, term)))
        old = wait_until(lambda: sole_leader(nodes))
        old_term = old.term
        old.close()
        new = wait_until(lambda: sole_leader(nodes), what="a new leader")
        assert new.id != old.id and new.term > old_term
        wait_until(lambda: (new.id, new.term) in seen[new.id], what="the new leader's callback")


def test_close_fails_waiting_commands_and_refuses_new_ones(tmp_path):
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        for n in nodes:
            if n is not leader:
                n.close()  # no majority: the leader's entries cannot commit
        waiting = leader.submit(put(b"k", b"v", 1))
        leader.close()
        with pytest.raises(SubmitError) as closed:
            waiting.result(WAIT)
        assert closed.value.code == "closed" and closed.value.applied is None
        with pytest.raises(SubmitError):
            leader.submit(put(b"k", b"v", 2)).result(WAIT)
        assert leader.closed and not leader.is_leader
    assert not our_threads()


def test_a_node_refuses_to_start_without_keys_unless_told_it_is_plain_mode(tmp_path):
    with pytest.raises(ValueError, match="insecure=True"):
        EmbeddedNode("raft", id=1, cluster={1: "tcp://127.0.0.1:1"}, data_dir=tmp_path)


def test_plain_mode_works_and_a_busy_port_raises_in_the_callers_thread(tmp_path):
    with embedded_cluster("raft", 1, tmp_path / "a", secure=False) as nodes:
        node = nodes[0]
        wait_until(lambda: node.is_leader, what="a single node leads")
        assert node.submit(put(b"k", b"v", 1)).result(WAIT) is not None
        with pytest.raises(Exception):
            EmbeddedNode("raft", id=1, cluster=node.addresses, data_dir=tmp_path / "b", insecure=True)
    assert not our_threads()


def test_a_futures_callbacks_never_run_on_the_loops_thread(tmp_path):
    with embedded_cluster("raft", 1, tmp_path, secure=False) as nodes:
        node = nodes[0]
        wait_until(lambda: node.is_leader)
        ran_on: list[str] = []
        done = threading.Event()
        future = node.submit(put(b"k", b"v", 1))
        future.add_done_callback(lambda f: (ran_on.append(threading.current_thread().name), done.set()))
        assert done.wait(WAIT)
        assert ran_on[0] != f"quorumlab-node-{node.id}"


def test_a_replicated_object_is_attached_only_once_a_node_opened(tmp_path):
    from quorumlab.core.replicated import ReplicatedObject

    obj = ReplicatedObject()
    with embedded_cluster("raft", 1, tmp_path / "a", secure=False, state_machines=lambda i: obj) as nodes:
        with pytest.raises(Exception):  # the same ports: the second node cannot open, and does not take obj
            EmbeddedNode("raft", id=1, cluster=nodes[0].addresses, data_dir=tmp_path / "b", insecure=True,
                         state_machine=obj)
        assert obj._ql_node is nodes[0] and nodes[0].state_machine is obj
    with pytest.raises(ValueError, match="already"):
        ReplicatedObject.attach(obj, object())


class _Counter(ReplicatedObject):
    def __init__(self) -> None:
        self.value = 0

    @replicated
    def add(self, n: int) -> int:
        self.value += n
        return self.value


def test_submit_with_callback_answers_once_with_the_result_or_the_error(tmp_path):
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        follower = next(n for n in nodes if n is not leader)
        answers: list = []
        got = threading.Event()

        def callback(result, error) -> None:
            answers.append((result, error, threading.current_thread().name))
            got.set()

        leader.submit_with_callback(put(b"k", b"v", 1), callback)
        assert got.wait(WAIT)
        (result, error, thread), = answers
        assert isinstance(result, bytes) and error is None and thread.startswith("quorumlab-done-")
        answers.clear()
        got.clear()
        follower.submit_with_callback(put(b"k", b"w", 2), callback)  # forwarded to the leader
        assert got.wait(WAIT)
        assert isinstance(answers[0][0], bytes) and answers[0][1] is None
        answers.clear()
        leader.submit_with_callback("text", callback)  # type: ignore[arg-type]
        assert answers[0][0] is None and isinstance(answers[0][1], TypeError)


def test_submits_queued_while_the_loop_is_busy_go_as_one_request_and_each_gets_its_own_result(tmp_path):
    """The loop is held for 0.1 s while 300 calls queue: it takes them as one request (one group of log
    entries), and each call still gets its own entry's result, in the order submitted."""
    counters = {i: _Counter() for i in (1, 2, 3)}
    with embedded_cluster("raft", 3, tmp_path, state_machines=counters.__getitem__) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        counter = counters[leader.id]
        runtime = leader._runtime
        requests: list[int] = []  # the command count of each request the loop proposes
        propose = runtime._propose

        def spy(group):
            requests.extend(req.count for req, _ in group)
            return propose(group)

        leader.call(lambda: setattr(runtime, "_propose", spy)).result(WAIT)
        leader.call(lambda: time.sleep(0.1))  # under the 150 ms election timeout
        futures = [counter.add.submit(1) for _ in range(300)]
        assert [f.result(WAIT) for f in futures] == list(range(1, 301))
        assert requests == [300], requests


def test_a_refused_command_among_joined_submits_fails_alone(tmp_path):
    """An empty command is refused by raft (it is the leader's no-op); joined with others, the request is refused
    as a whole, then proposed again submit by submit, so only the empty one fails."""
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        leader.call(lambda: time.sleep(0.1))  # under the 150 ms election timeout
        futures = [leader.submit(b"" if s == 50 else put(b"j", b"%d" % s, s)) for s in range(1, 101)]
        for s, f in enumerate(futures, 1):
            if s == 50:
                with pytest.raises(SubmitError) as refused:
                    f.result(WAIT)
                assert refused.value.code == "invalid"
            else:
                assert isinstance(f.result(WAIT), bytes)
        assert leader.call(lambda: leader.state_machine.data[b"j"]).result(WAIT) == b"100"


def test_a_callback_that_raises_is_logged_and_the_others_are_still_answered(tmp_path, caplog):
    with embedded_cluster("raft", 3, tmp_path) as nodes:
        leader = wait_until(lambda: sole_leader(nodes))
        for n in nodes:
            if n is not leader:
                n.close()  # no majority: the submits below wait until close fails them
        answered: list = []

        def bad(result, error) -> None:
            raise RuntimeError("the application's bug")

        leader.submit_with_callback(put(b"k", b"v", 1), bad)
        leader.submit_with_callback(put(b"k", b"w", 2), lambda r, e: answered.append(e))
        leader.close()
        assert len(answered) == 1 and isinstance(answered[0], SubmitError) and answered[0].code == "closed"
        assert "a submit_with_callback callback raised" in caplog.text
