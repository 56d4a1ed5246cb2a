"""raft is found through the entry-point group like any plugin, and its messages survive the codec."""
import pytest

from quorumlab.algorithms.raft import (
    AppendEntries,
    AppendEntriesResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    PreVote,
    PreVoteResponse,
    Propose,
    ProposeResponse,
    Raft,
    ReadIndex,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
)
from quorumlab.core import codec, registry


def test_registry_loads_raft_by_name():
    cls = registry.load("raft")
    assert cls is Raft
    assert (cls.name, cls.algo_id, cls.detection_timer) == ("raft", 1, "election")
    assert "raft" in registry.available()


@pytest.mark.parametrize(
    "message",
    [
        RequestVote(cluster=3, src=1, dst=0, term=9, last_log_index=4, last_log_term=2),
        RequestVoteResponse(cluster=3, src=2, dst=1, term=9, granted=True),
        AppendEntries(cluster=3, src=1, dst=0, term=9, prev_log_index=4, prev_log_term=2, entries=[], leader_commit=3),
        AppendEntries(cluster=3, src=1, dst=2, term=9, prev_log_index=1, prev_log_term=1, entries=[(2, 2, b"x")]),
        AppendEntriesResponse(cluster=3, src=2, dst=1, term=9, success=False, match_index=0, hint_index=7),
        PreVote(cluster=3, src=1, dst=0, term=10, last_log_index=4, last_log_term=2),
        PreVoteResponse(cluster=3, src=2, dst=1, term=10, granted=True),
        InstallSnapshot(cluster=3, src=1, dst=2, term=9, last_index=40, last_term=8, size=9, offset=3, data=b"abc"),
        InstallSnapshotResponse(cluster=3, src=2, dst=1, term=9, last_index=40, offset=6, done=True, match_index=40),
        RequestVote(cluster=3, src=2, dst=0, term=11, last_log_index=4, last_log_term=2, transfer=True),
        TimeoutNow(cluster=3, src=1, dst=2, term=10),
        Propose(cluster=3, src=2, dst=1, term=9, request=4, commands=[(0, 0, b"put"), (0, 0, b"\x00\xff")]),
        ProposeResponse(cluster=3, src=1, dst=2, term=9, request=4, code=0, index=41, count=2),
    ],
)
def test_every_raft_message_round_trips_through_the_codec(message):
    assert codec.decode(codec.encode(message)) == message


def test_raft_messages_are_declared_on_the_class():
    assert set(Raft.messages) == {
        RequestVote, RequestVoteResponse, AppendEntries, AppendEntriesResponse, PreVote, PreVoteResponse, ReadIndex,
        ReadIndexResponse, InstallSnapshot, InstallSnapshotResponse, TimeoutNow, Propose,
        ProposeResponse,
    }


def test_a_foreign_message_is_dropped_without_touching_term_or_role():
    from quorumlab.core.testing import arrive, notes
    from tests.fixture_algos import Beat
    from tests.raft.helpers import make_node

    node, _ = make_node(term=3)
    effects = node.receive(arrive(Beat, 2, 1, 99, seq=1, payload=b""), 10)
    assert notes(effects, "message_dropped") == [{"type": "Beat", "src": 2}]
    assert (node.term, node.role.name, node.voted_for) == (3, "FOLLOWER", None)


def test_status_reports_role_term_leader_vote_and_log_tail():
    from tests.raft.helpers import make_node

    node, _ = make_node(term=4, voted_for=2, log_terms=[1, 4])
    assert node.status() == {
        "id": 1, "role": "follower", "term": 4, "leader": None, "voted_for": 2,
        "last_log_index": 2, "last_log_term": 4, "commit_index": 0, "last_applied": 0, "durable_index": 2,
        "member": "voter", "config_index": 0, "membership": {"voters": [1, 2, 3], "learners": []},
    }
