"""Raft log compaction and InstallSnapshot (section 7): snapshots taken, sent, installed, restarted from."""
from __future__ import annotations

import io
import random

import pytest

from quorumlab.algorithms.raft import (
    COMPACT,
    AppendEntries,
    AppendEntriesResponse,
    FLUSH,
    InstallSnapshot,
    InstallSnapshotResponse,
    Raft,
    RaftConfig,
    RaftLog,
    replication_observers,
)
from quorumlab.algorithms.raft.durable import LOG_FILE, encode_entry
from quorumlab.algorithms.raft.progress import Inflights, Progress, ProgressState
from quorumlab.core.effects import RestoreSnapshot, Send, TakeSnapshot
from quorumlab.core.errors import StorageError
from quorumlab.core.kv import PUT, Command, KVStore
from quorumlab.core.sim import Network, Simulation
from quorumlab.core.snapshots import MemorySnapshots
from quorumlab.core.storage import FileStorage, MemoryRecordLog, MemoryStorage, RecordLog
from quorumlab.core.testing import arrive, notes
from tests.raft.cluster import QUIET, Cluster
from tests.raft.helpers import CLUSTER, make_node

SNAP = RaftConfig(election_timeout_min=10_000, election_timeout_max=20_000, heartbeat_interval=1_000,
                  snapshot_entries=4, snapshot_chunk_bytes=64)


class SnapCluster(Cluster):
    """The hand-driven cluster, with the zero-delay compaction timer firing as soon as it is armed."""

    def __init__(self, n: int, config: RaftConfig = SNAP) -> None:
        super(Cluster, self).__init__(Raft, n, config, observers=replication_observers(), auto=(FLUSH, COMPACT))


def put(i: int, value: bytes = b"v") -> bytes:
    return Command(1, i, PUT, b"k%d" % (i % 3), value).encode()


def committed(c: SnapCluster, leader: int, count: int, among=None) -> None:
    for i in range(1, count + 1):
        c.propose(leader, put(i))
        c.deliver(among)
    c.heartbeat(leader)
    c.deliver(among)


# -- the log ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("on_disk", [False, True], ids=["memory", "file"])
def test_a_compacted_log_keeps_the_entries_after_the_snapshot_and_reopens_with_its_base(on_disk, tmp_path):
    store = RecordLog(str(tmp_path / "log")) if on_disk else MemoryRecordLog()
    log = RaftLog(store)
    for t in (1, 1, 2, 2, 3):
        log.append(t, b"c%d" % t)
    log.flush()
    log.compact(3)
    assert (log.base, log.base_term, log.first_index, log.last_index, log.held) == (3, 2, 4, 5, 2)
    assert log.term_at(3) == 2 and log.term_at(2) is None and log.entry(4).data == b"c2"
    log.append(3, b"new")
    log.flush()
    if on_disk:
        store.close()
        store = RecordLog(str(tmp_path / "log"), create=False)
    again = RaftLog.open(store.reopen() if not on_disk else store)
    assert (again.base, again.base_term, again.last_index) == (3, 2, 6)
    assert [again.entry(i).data for i in (4, 5, 6)] == [b"c2", b"c3", b"new"]
    with pytest.raises(IndexError, match="compacted"):
        again.batch(3, 10, 1 << 20)
    with pytest.raises(ValueError, match="in the snapshot"):
        again.truncate_after(2)


def test_a_log_reset_to_a_snapshot_holds_only_its_base():
    log = RaftLog.from_terms([1, 1, 1])
    log.reset(10, 4)
    assert (log.base, log.last_index, log.last_term, log.durable_index, log.held) == (10, 10, 4, 10, 0)
    assert log.conflict_hint(7, 1) == (10, 4)
    log.append(5, b"x")
    assert log.entry(11).term == 5


def test_a_crash_while_the_compacted_copy_is_written_leaves_the_whole_log(tmp_path):
    storage = FileStorage(str(tmp_path))
    store = storage.open_log(LOG_FILE)
    store.append([encode_entry(1, b"a"), encode_entry(1, b"b")])
    store.flush()
    (tmp_path / (LOG_FILE + ".compact")).write_bytes(b"half a copy")
    storage.close()
    again = FileStorage(str(tmp_path))
    assert RaftLog.open(again.open_log(LOG_FILE)).last_index == 2
    assert not (tmp_path / (LOG_FILE + ".compact")).exists()


# -- taking snapshots ------------------------------------------------------------------------------------


def test_a_node_takes_a_snapshot_every_few_applied_entries_and_drops_the_log_before_it():
    c = SnapCluster(3)
    c.elect(1, [2, 3])
    committed(c, 1, 9)
    for i in c.ids:
        node = c.nodes[i]
        assert node._snapshot_index >= 8 and node.log.base == node._snapshot_index, f"node {i}"
        assert node.log.held <= 4
        assert c.storage[i].snapshots.latest().index == node.log.base
    taken = [e for e in c.events if e["kind"] == "snapshot_taken"]
    assert taken and all(e["bytes"] > 0 for e in taken)
    status = c.nodes[1].status()
    assert (status["snapshot_index"], status["log_entries"]) == (c.nodes[1].log.base, c.nodes[1].log.held)


def test_a_leader_about_to_take_a_snapshot_heartbeats_every_follower_first():
    """The ZeroMQ runtime forks for the image, which pauses the loop (110 ms for 1.8 GiB at load 10): the followers
    hear from the leader just before, so the pause does not add to the time since their last heartbeat."""
    c = SnapCluster(3)
    c.elect(1, [2, 3])
    committed(c, 1, 3)
    leader = c.nodes[1]
    leader._out = []
    leader._take_snapshot(leader.commit_index)
    out, leader._out = leader._out, []
    kinds = [(type(e).__name__, getattr(e, "to", None), type(getattr(e, "msg", None)).__name__) for e in out]
    assert kinds[:2] == [("Send", 2, "AppendEntries"), ("Send", 3, "AppendEntries")]
    assert [type(e) for e in out].index(TakeSnapshot) == 2
    assert all(e.msg.entries == [] and e.msg.leader_commit == leader.commit_index for e in out[:2])
    follower = c.nodes[2]
    follower._out = []
    follower._take_snapshot(follower.commit_index)  # a follower has nobody to heartbeat
    assert [type(e) for e in follower._out if type(e) is Send] == []


def test_compaction_waits_for_the_image_and_keeps_the_log_without_one():
    node, _ = make_node(log_terms=[1] * 6, config=SNAP)
    node.term = 1
    node.log.flush()
    effects = node.fire(COMPACT, 0)  # no snapshot asked for: nothing happens
    assert node.log.base == 0 and effects == []
    node._take_snapshot(4)
    out = node._out
    node._out = []
    assert [type(e) for e in out if type(e) is TakeSnapshot] == [TakeSnapshot]
    node.fire(COMPACT, 0)  # the runtime wrote no image
    assert node.log.base == 0


# -- InstallSnapshot ------------------------------------------------------------------------------------


def test_a_follower_that_missed_compacted_entries_gets_the_snapshot_in_chunks_and_catches_up():
    c = SnapCluster(3)
    c.elect(1, [2, 3])
    c.crash(3)
    committed(c, 1, 12, among=[1, 2])
    assert c.nodes[1].log.base > 1
    c.queue[:] = [q for q in c.queue if q[1] != 3]  # what was in flight to it died with its connections
    c.restart(3)
    for _ in range(3):
        c.heartbeat(1)
        c.deliver()
    kinds = [e["kind"] for e in c.events]
    assert "snapshot_sending" in kinds and "snapshot_installed" in kinds and "snapshot_sent" in kinds
    assert c.machine(3).contents() == c.machine(1).contents()
    assert c.nodes[1].progress[3].state is not ProgressState.SNAPSHOT
    assert c.nodes[3].commit_index == c.nodes[1].commit_index


def image_at(index: int, term: int, count: int | None = None) -> bytes:
    kv = KVStore()
    for i in range(1, (count or index) + 1):
        kv.apply(i, put(i))
    store = MemorySnapshots()
    info = store.save(index, term, {"voters": [1, 2, 3]}, kv.write_snapshot)
    return store.read_image(info, 0, info.size)


def install(node: Raft, index: int, term: int, leader_term: int, src: int = 2) -> list:
    raw = image_at(index, term)
    return node.receive(arrive(InstallSnapshot, src, node.id, leader_term, cluster=CLUSTER, last_index=index,
                               last_term=term, size=len(raw), offset=0, data=raw), 5)


def answers(effects: list) -> list:
    return [e.msg for e in effects if type(e) is Send and type(e.msg) is InstallSnapshotResponse]


def test_a_follower_keeps_the_part_of_its_log_after_a_matching_snapshot_entry():
    node, _ = make_node(term=2, log_terms=[1, 1, 1, 2, 2])
    effects = install(node, 3, 1, leader_term=2)
    assert (node.log.base, node.log.last_index, node.commit_index, node.last_applied) == (3, 5, 3, 3)
    assert RestoreSnapshot(3, 1) in effects
    (answer,) = answers(effects)
    assert answer.done and answer.match_index == 3


def test_a_follower_whose_log_does_not_hold_the_snapshot_entry_drops_its_whole_log():
    node, _ = make_node(term=3, log_terms=[1, 1, 2, 2])
    install(node, 3, 3, leader_term=3)
    assert (node.log.base, node.log.last_index, node.log.last_term) == (3, 3, 3)


def test_a_snapshot_of_an_older_term_is_refused_and_the_answer_carries_our_term():
    node, _ = make_node(term=5, log_terms=[1])
    effects = install(node, 3, 1, leader_term=4)
    (answer,) = answers(effects)
    assert answer.term == 5 and not answer.done and node.log.base == 0
    assert node.storage.snapshots.receiving() is None


def test_a_snapshot_the_commit_index_covers_is_answered_done_without_a_transfer():
    node, _ = make_node(term=2, log_terms=[1, 1, 1])
    node.commit_index = 3
    (answer,) = answers(install(node, 2, 1, leader_term=2))
    assert answer.done and answer.match_index == 3 and node.log.base == 0


def test_a_damaged_transfer_is_refused_and_restarted_from_the_first_byte():
    node, _ = make_node(term=2, log_terms=[1])
    raw = bytearray(image_at(3, 1))
    raw[-2] ^= 0xFF
    effects = node.receive(arrive(InstallSnapshot, 2, 1, 2, cluster=CLUSTER, last_index=3, last_term=1,
                                  size=len(raw), offset=0, data=bytes(raw)), 5)
    (answer,) = answers(effects)
    assert answer.offset == 0 and not answer.done and node.log.base == 0
    assert [n["index"] for n in notes(effects, "snapshot_refused")] == [3]


def test_the_leader_keeps_heartbeating_and_nobody_campaigns_during_a_long_transfer():
    cfg = RaftConfig(snapshot_entries=20, snapshot_chunk_bytes=64)
    sim = Simulation(Raft, 3, seed=3, config=cfg, network=Network(delay_ms=(2, 4)))
    assert sim.run_until(lambda s: s.leader() is not None, 3_000)
    leader = sim.leader()
    behind = next(i for i in sim.ids if i != leader)
    sim.crash(behind)
    for i in range(1, 61):
        sim.submit(Command(1, i, PUT, b"k%d" % i, b"v" * 100).encode())
        sim.run_for(3)
    sim.run_for(200)
    term = sim.node(leader).term
    sim.restart(behind)
    assert sim.run_until(lambda s: any(e["kind"] == "snapshot_installed" for e in s.events), 20_000)
    sending = next(e for e in sim.events if e["kind"] == "snapshot_sending" and e["to"] == behind)
    installed = next(e for e in sim.events if e["kind"] == "snapshot_installed")
    assert installed["t"] - sending["t"] > 2 * cfg.election_timeout_max, "the transfer outlasts an election timeout"
    assert sim.leader() == leader and sim.node(leader).term == term
    assert not [e for e in sim.events if e["kind"] == "election_started" and e["t"] > sending["t"]]
    sim.run_for(500)
    assert sim.machine(behind).contents() == sim.machine(leader).contents()


# -- restarts --------------------------------------------------------------------------------------------


def test_a_restarted_node_restores_its_snapshot_and_applies_only_the_entries_after_it():
    c = SnapCluster(3)
    c.elect(1, [2, 3])
    committed(c, 1, 10)
    base = c.nodes[2].log.base
    before = c.machine(2).contents()
    c.crash(2)
    c.restart(2)
    assert c.nodes[2].last_applied == base and c.machine(2).applied_index == base
    c.heartbeat(1)
    c.deliver()
    assert [a.index for a in c.applied[2]] == list(range(base + 1, c.nodes[1].commit_index + 1))
    assert c.machine(2).contents() == before


def node_with_snapshots(log_terms, snapshots, compacted_to: int = 0, damage: tuple[int, ...] = ()) -> MemoryStorage:
    storage = MemoryStorage()
    storage.write({"term": 1, "voted_for": None})
    storage.flush()
    store = storage.open_log(LOG_FILE)
    store.append(encode_entry(t, put(i + 1)) for i, t in enumerate(log_terms))
    store.flush()
    for index in snapshots:
        kv = KVStore()
        for i in range(1, index + 1):
            kv.apply(i, put(i))
        storage.snapshots.save(index, 1, {}, kv.write_snapshot)
    if compacted_to:
        log = RaftLog.open(store)
        log.compact(compacted_to)
    for index in damage:
        storage.snapshots.damage(index)
    return storage


def test_a_damaged_newest_snapshot_falls_back_to_an_older_one_the_log_still_covers():
    storage = node_with_snapshots([1] * 12, snapshots=(5, 10), damage=(10,))
    node = Raft(1, (1, 2, 3), QUIET, storage, random.Random(0), CLUSTER)
    effects = node.start(0)
    assert RestoreSnapshot(5, 1) in effects and node.last_applied == 5 and node.log.base == 5
    (damaged,) = notes(effects, "snapshot_damaged")
    assert damaged["file"] == "memory:snapshot-10" and "checksum" in damaged["reason"]


def test_a_compacted_log_without_an_intact_snapshot_refuses_to_start_and_names_the_file():
    storage = node_with_snapshots([1] * 12, snapshots=(5, 10), compacted_to=10, damage=(10,))
    with pytest.raises(StorageError, match=r"after index 10 .*memory:snapshot-10: snapshot body checksum mismatch"):
        Raft(1, (1, 2, 3), QUIET, storage, random.Random(0), CLUSTER)


def test_a_compacted_log_whose_snapshot_file_is_gone_names_the_file_it_needs():
    storage = node_with_snapshots([1] * 12, snapshots=(10,), compacted_to=10)
    storage.snapshots._images.clear()  # the file deleted
    with pytest.raises(StorageError, match=r"after index 10 .*\(memory:snapshot-10 is missing\)"):
        Raft(1, (1, 2, 3), QUIET, storage, random.Random(0), CLUSTER)


def test_an_image_at_the_logs_base_with_another_term_is_refused_naming_it():
    """The base record stands for a committed entry: an image of its index with another term is of another history
    (copied in from elsewhere). Adopting it would replace the log; the node refuses to start and names the file."""
    storage = node_with_snapshots([1] * 5 + [2] * 7, snapshots=())
    kv = KVStore()
    for i in range(1, 6):
        kv.apply(i, put(i))
    storage.snapshots.save(5, 1, {}, kv.write_snapshot)
    RaftLog.open(storage.open_log(LOG_FILE)).compact(5)  # the base record: index 5, term 1
    storage.snapshots._images.clear()
    storage.snapshots.save(5, 2, {}, kv.write_snapshot)  # replaced by an image of index 5 in term 2
    with pytest.raises(StorageError, match=r"memory:snapshot-5: an image of index 5 and term 2, but the log's base "
                                           r"record there has term 1"):
        Raft(1, (1, 2, 3), QUIET, storage, random.Random(0), CLUSTER)


def test_an_image_past_the_base_whose_term_differs_from_the_log_is_adopted_and_the_log_reset():
    """A crash after an InstallSnapshot's image was made durable and before the log was reset to it: the log still
    holds other-term (uncommitted) entries at the image's index. The image wins (section 7), as on the wire."""
    storage = node_with_snapshots([1] * 5 + [2] * 7, snapshots=())
    kv = KVStore()
    for i in range(1, 9):
        kv.apply(i, put(i))
    storage.snapshots.save(8, 3, {}, kv.write_snapshot)  # the log holds term 2 at index 8
    node = Raft(1, (1, 2, 3), QUIET, storage, random.Random(0), CLUSTER)
    effects = node.start(0)
    assert RestoreSnapshot(8, 3) in effects
    assert (node.log.base, node.log.base_term, node.log.last_index, node.last_applied) == (8, 3, 8, 8)


def test_a_restart_from_files_reads_the_snapshot_and_the_log_after_it(tmp_path):
    def boot():
        storage = FileStorage(str(tmp_path))
        return Raft(1, (1,), SNAP, storage, random.Random(0), CLUSTER), storage

    node, storage = boot()
    machine = KVStore()

    def run(effects):
        for e in effects:
            t = type(e)
            if t.__name__ == "Persist":
                storage.flush()
            elif t.__name__ == "Apply":
                machine.apply(e.index, e.data)
            elif t is TakeSnapshot:
                storage.snapshots.save(e.index, e.term, e.meta, machine.write_snapshot)

    run(node.start(0))
    run(node.fire("election", 1))
    for i in range(1, 11):
        run(node.propose(put(i), 2))
        run(node.fire(FLUSH, 2))
        run(node.fire(COMPACT, 2))
    assert node.log.base >= 8 and node.commit_index == 11
    storage.close()
    again, storage = boot()
    effects = again.start(0)
    assert again.log.base == node.log.base and again.log.last_index == 11
    (restore,) = [e for e in effects if type(e) is RestoreSnapshot]
    assert restore.index == again.log.base
    kv = KVStore()
    info = storage.snapshots.find(restore.index)
    with storage.snapshots.body(info) as fh:
        kv.restore(fh)
    assert kv.applied_index == restore.index and kv.data[b"k1"] == b"v"
    storage.close()


# -- the leader's side: Progress in SNAPSHOT --------------------------------------------------------------


def test_progress_sends_the_next_chunk_only_once_the_follower_holds_the_one_in_flight():
    pr = Progress(1, Inflights(4, 1 << 20), 0)
    pr.become_snapshot(30)
    assert pr.state is ProgressState.SNAPSHOT and not pr.can_send(100)
    pr.chunk_sent(64)
    assert not pr.chunk_answered(0), "an answer about the chunk in flight"
    assert pr.chunk_answered(64) and pr.chunk_at == 64
    pr.chunk_sent(128)
    assert pr.chunk_answered(0) and pr.chunk_at == 0, "the follower restarted and lost the transfer"


def test_progress_resends_a_chunk_after_a_heartbeat_interval_without_progress():
    pr = Progress(1, Inflights(4, 1 << 20), 0)
    pr.become_snapshot(30)
    pr.chunk_sent(64)
    assert not pr.snapshot_stalled()
    assert pr.snapshot_stalled() and pr.chunk_end == 0
    assert not pr.heartbeat(), "no AppendEntries probe while a snapshot is sent"
    pr.snapshot_installed(30)
    assert (pr.state, pr.match, pr.next) == (ProgressState.PROBE, 30, 31)


def test_a_follower_takes_entries_after_its_base_from_an_append_that_starts_before_it():
    storage = node_with_snapshots([1] * 10, snapshots=(6,), compacted_to=6)
    node = Raft(1, (1, 2, 3), QUIET, storage, random.Random(0), CLUSTER)
    node.start(0)
    entries = [(1, i, put(i)) for i in range(4, 13)]
    effects = node.receive(arrive(AppendEntries, 2, 1, 1, cluster=CLUSTER, prev_log_index=3, prev_log_term=1,
                                  entries=entries, leader_commit=12), 5)
    effects += node.fire(FLUSH, 5)
    (ack,) = [e.msg for e in effects if type(e) is Send and type(e.msg) is AppendEntriesResponse]
    assert ack.success and ack.match_index == 12
    assert node.log.base == 6 and node.log.last_index == 12 and node.log.entry(11).data == put(11)


def test_a_byte_threshold_takes_a_snapshot_once_that_many_command_bytes_were_applied():
    cfg = RaftConfig(election_timeout_min=10_000, election_timeout_max=20_000, heartbeat_interval=1_000,
                     snapshot_bytes=3_000, snapshot_chunk_bytes=512)
    c = SnapCluster(3, cfg)
    c.elect(1, [2, 3])
    committed(c, 1, 2)
    assert c.nodes[1].log.base == 0, "two small commands are under the threshold"
    for i in range(3, 6):
        c.propose(1, put(i, b"x" * 1000))
        c.deliver()
    c.heartbeat(1)
    c.deliver()
    assert all(c.nodes[i].log.base >= 4 for i in c.ids)


def test_entries_applied_while_an_image_was_written_count_and_the_next_one_follows_at_once():
    """An idle cluster may see no further apply: if the entries applied during the write already reach
    snapshot_entries, the next image is asked for as soon as the first is in, not at the next apply."""
    from quorumlab.algorithms.raft import COMPACT, HEARTBEAT, RaftConfig
    from quorumlab.core.effects import TakeSnapshot
    from quorumlab.core.testing import ManualCluster

    cluster = ManualCluster("raft", 3, RaftConfig(snapshot_entries=5), auto=("flush",))
    cluster.trigger(1, "election")
    cluster.deliver()
    for k in range(5):
        cluster.propose(1, b"put a %d" % k)
    cluster.deliver()
    cluster.trigger(1, HEARTBEAT)
    cluster.deliver()
    first = cluster.node(1)._snapshotting
    assert first is not None and COMPACT in cluster.armed[1]  # asked for, its compaction not run yet
    for k in range(6):
        cluster.propose(1, b"put b %d" % k)
    cluster.deliver()
    applied = cluster.node(1).last_applied
    assert applied - first >= 5 and cluster.node(1)._snapshotting == first  # none asked for meanwhile
    effects = cluster.node(1).fire(COMPACT, cluster.now)
    assert [e.index for e in effects if type(e) is TakeSnapshot] == [applied]
