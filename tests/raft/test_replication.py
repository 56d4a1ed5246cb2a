"""Log replication as Figure 2 states it: consistency check, conflicts, commit rule, apply, durability."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumlab.algorithms.raft import FLUSH, HEARTBEAT, AppendEntries, AppendEntriesResponse, Raft, RaftConfig, RaftLog
from quorumlab.core.effects import NOT_LEADER, Apply, Send, SetTimer
from quorumlab.core.testing import rejections
from tests.raft.cluster import Cluster
from quorumlab.core.testing import arrive, flush_persists, notes, outgoing
from tests.raft.helpers import elect, make_node


def append_msg(term: int, prev: int, prev_term: int, entries, commit: int = 0, src: int = 1, dst: int = 2):
    return arrive(AppendEntries, src, dst, term, prev_log_index=prev, prev_log_term=prev_term,
               entries=list(entries), leader_commit=commit)


def follower(log_terms=(), term: int = 3) -> Raft:
    node, _ = make_node(2, term=term, log_terms=log_terms)
    return node


# -- the follower's side --------------------------------------------------------------------------


def test_follower_appends_entries_after_a_matching_prev_and_acknowledges_the_last_new_index():
    node = follower([1, 1])
    effects = node.receive(append_msg(3, 2, 1, [(3, 3, b"a"), (3, 4, b"b")]), 10)
    assert [node.log.term_at(i) for i in range(1, 5)] == [1, 1, 3, 3]
    effects = flush_persists(node.storage, node.fire(FLUSH, 10))
    (reply,) = outgoing(effects)
    assert reply.success and reply.match_index == 4


def test_follower_drops_a_conflicting_suffix_and_keeps_what_matches():
    node = follower([1, 1, 2, 2, 2])
    node.receive(append_msg(3, 2, 1, [(3, 3, b"new")]), 10)
    assert [node.log.term_at(i) for i in range(1, node.log.last_index + 1)] == [1, 1, 3]
    assert node.log.entry(3).data == b"new"


def test_a_late_shorter_append_does_not_cut_entries_that_match():
    node = follower([1])
    node.receive(append_msg(3, 1, 1, [(3, 2, b"a"), (3, 3, b"b"), (3, 4, b"c")]), 10)
    node.receive(append_msg(3, 1, 1, [(3, 2, b"a")]), 11)  # an older message, delivered late
    assert node.log.last_index == 4
    flush_persists(node.storage, node.fire(FLUSH, 11))
    assert node.log.durable_index == 4


def test_follower_never_truncates_a_committed_entry():
    node = follower([1, 1, 2])
    node.receive(append_msg(3, 3, 2, [], commit=3), 10)
    assert node.commit_index == 3
    effects = node.receive(append_msg(3, 1, 1, [(3, 2, b"x")]), 11)  # a conflicting entry at a committed index
    assert node.log.term_at(2) == 1 and outgoing(effects) == []
    assert notes(effects, "refused_truncation") == [{"index": 2, "commit_index": 3}]


@pytest.mark.parametrize(
    "prev_term, entries, reason",
    [
        (1, [(3, 3, b"a"), (3, 5, b"b")], "entries not contiguous after prev"),
        (1, [(3, 3, b"a"), (3, 99, b"b"), (3, 5, b"c")], "entries not contiguous after prev"),  # the middle one
        (1, [(3, 3, b"a"), (3, 3, b"b"), (3, 5, b"c")], "entries not contiguous after prev"),
        (1, [(3, 3, b"a"), (2, 4, b"b")], "entry terms decrease or pass the term"),
        (1, [(2, 3, b"a"), (3, 4, b"b"), (2, 5, b"c")], "entry terms decrease or pass the term"),
        (1, [(4, 3, b"a")], "entry terms decrease or pass the term"),  # newer than the sender's own term
    ],
)
def test_follower_drops_an_append_whose_entries_no_leader_could_send(prev_term, entries, reason):
    node = follower([1, 1])
    effects = node.receive(append_msg(3, 2, prev_term, entries), 10)
    assert node.log.last_index == 2 and outgoing(effects) == []
    assert notes(effects, "message_dropped") == [{"type": "AppendEntries", "src": 1, "reason": reason}]


def test_follower_applies_what_it_learned_only_after_its_flush_and_acknowledgement():
    node = follower([1])
    effects = node.receive(append_msg(3, 1, 1, [(3, 2, b"a"), (3, 3, b"b")], commit=3), 10)
    assert [e for e in effects if type(e) is Apply] == [] and node.commit_index == 0
    effects = flush_persists(node.storage, node.fire(FLUSH, 10))
    kinds = [type(e).__name__ for e in effects if type(e) in (Send, Apply)]
    assert kinds == ["Send", "Apply", "Apply", "Apply"], "the acknowledgement leaves before anything is applied"
    assert node.commit_index == 3


def test_an_index_learned_committed_but_not_yet_applied_is_never_cut():
    node = follower([1])
    node.receive(append_msg(3, 1, 1, [(3, 2, b"a")], commit=2), 10)  # entry 2 committed, applied after the flush
    effects = node.receive(append_msg(3, 1, 1, [(2, 2, b"other")]), 11)  # a conflicting (forged or buggy) message
    assert node.log.entry(2).data == b"a"
    assert notes(effects, "refused_truncation") == [{"index": 2, "commit_index": 2}]


def test_follower_commit_index_never_passes_the_last_entry_it_verified():
    node = follower([1, 1, 7, 7])  # entries 3, 4 of term 7 are not the leader's
    node.receive(append_msg(8, 2, 1, [], commit=4), 10)
    assert node.commit_index == 2  # min(leaderCommit, index of last new entry)
    effects = node.receive(append_msg(8, 2, 1, [], commit=2), 11)
    assert [e.index for e in effects if type(e) is Apply] == []


def test_follower_applies_committed_entries_in_order_exactly_once():
    node = follower([1, 1, 1])
    first = node.receive(append_msg(3, 3, 1, [], commit=2), 10)
    again = node.receive(append_msg(3, 3, 1, [], commit=2), 11)
    later = node.receive(append_msg(3, 3, 1, [], commit=3), 12)
    assert [e.index for e in first if type(e) is Apply] == [1, 2]
    assert [e for e in again if type(e) is Apply] == []
    assert [e.index for e in later if type(e) is Apply] == [3]


def test_rejection_hints_the_last_entry_whose_term_is_not_above_prev_term():
    node = follower([1, 1, 2, 2, 2, 4, 4])
    node.receive(append_msg(5, 7, 3, []), 10)
    (reply,) = outgoing(node.receive(append_msg(5, 7, 3, []), 10))
    assert (reply.success, reply.reject_index, reply.hint_index, reply.hint_term) == (False, 7, 5, 2)
    (reply,) = outgoing(node.receive(append_msg(5, 900, 4, []), 10))  # far past the end: its last index
    assert (reply.hint_index, reply.hint_term) == (7, 4)


# -- the leader's side ----------------------------------------------------------------------------


def test_new_leader_appends_a_no_op_of_its_term_at_once():
    node, _ = make_node(term=2, log_terms=[1, 2])
    elect(node)
    assert node.log.last_index == 3 and node.log.entry(3).term == 3 and node.log.entry(3).data == b""


def test_a_command_proposed_right_after_the_win_follows_the_no_op_at_once():
    node, _ = make_node(term=2, log_terms=[1, 2])
    (no_op, _) = outgoing(elect(node), AppendEntries)
    assert (no_op.prev_log_index, [e[1] for e in no_op.entries]) == (2, [3])
    sent = outgoing(node.propose(b"held", 1), AppendEntries)
    assert [(m.dst, m.prev_log_index, [e[1] for e in m.entries]) for m in sent] == [(2, 3, [4]), (3, 3, [4])], \
        "not after the no-op's answer: the voters' logs are most often the leader's"


def test_a_follower_that_refuses_the_new_leaders_first_message_is_probed_from_its_hint():
    node, _ = make_node(term=2, log_terms=[1, 1, 2, 2])
    elect(node)  # term 3, no-op at index 5, sent with prev 4
    node.propose(b"c", 1)  # index 6, sent with prev 5
    effects = node.receive(arrive(AppendEntriesResponse, 2, 1, 3, success=False, reject_index=4, hint_index=2,
                                  hint_term=1), 2)
    (probe,) = outgoing(effects, AppendEntries)
    assert probe.dst == 2 and probe.prev_log_index == 2, "from the hint, not from index 0"
    assert outgoing(node.receive(arrive(AppendEntriesResponse, 2, 1, 3, success=False, reject_index=5, hint_index=2,
                                        hint_term=1), 3), AppendEntries) == [], "the second refusal is stale"


def test_a_silent_follower_of_a_new_leader_is_probed_again_from_where_the_leader_started():
    node, _ = make_node(term=2, log_terms=[1, 2], config=RaftConfig(heartbeat_interval=50))
    elect(node)  # no-op at index 3, sent with prev 2
    node.fire(HEARTBEAT, 50)  # no answer yet: marks the match
    effects = node.fire(HEARTBEAT, 100)  # still none with messages in flight: probe again
    probes = [m for m in outgoing(effects, AppendEntries) if m.dst == 2]
    assert [m.prev_log_index for m in probes] == [2], "not from index 0 (the match of a follower never heard)"


def test_leader_counts_itself_only_after_its_own_flush():
    node, _ = make_node(voters=(1, 2, 3))
    elect(node)
    node.receive(arrive(AppendEntriesResponse, 2, 1, 1, success=True, match_index=1), 5)
    assert node.commit_index == 0, "one follower plus an unflushed leader is no majority of three"
    effects = flush_persists(node.storage, node.fire(FLUSH, 5))
    assert node.commit_index == 1 and [e.index for e in effects if type(e) is Apply] == [1]


def test_figure_8_leader_never_commits_an_earlier_term_entry_by_counting_replicas():
    node, _ = make_node(term=3, log_terms=[1, 2], config=RaftConfig(max_batch_entries=1))
    elect(node)  # term 4, no-op at index 3
    flush_persists(node.storage, node.fire(FLUSH, 1))
    for peer in (2, 3):
        node.receive(arrive(AppendEntriesResponse, peer, 1, 4, success=True, match_index=2), 2)
    assert node.commit_index == 0, "index 2 (term 2) is on every node but not of the current term"
    node.receive(arrive(AppendEntriesResponse, 2, 1, 4, success=True, match_index=3), 3)
    assert node.commit_index == 3, "the current-term entry commits, and everything before it with it"


def test_propose_on_a_follower_is_refused_with_the_leader_it_knows():
    node = follower([1])
    node.receive(append_msg(3, 1, 1, []), 10)
    effects = node.propose(b"cmd", 11)
    assert [(r.code, r.reason, r.leader) for r in rejections(effects)] == [(NOT_LEADER, "not leader", 1)]


def test_leader_batches_commands_into_one_flush_and_one_message_per_follower():
    node, _ = make_node(config=RaftConfig(max_inflight=1))
    elect(node)
    flush_persists(node.storage, node.fire(FLUSH, 1))
    for peer in (2, 3):
        node.receive(arrive(AppendEntriesResponse, peer, 1, 1, success=True, match_index=1), 2)
    flushes = node.log.flushes
    first = outgoing(node.propose(b"c0", 3))
    assert [(m.dst, len(m.entries)) for m in first] == [(2, 1), (3, 1)], "sent at once, before the leader's fsync"
    for k in range(1, 50):
        assert outgoing(node.propose(b"c%d" % k, 3)) == [], "the window is full: commands wait"
    assert outgoing(flush_persists(node.storage, node.fire(FLUSH, 3))) == [] and node.log.flushes == flushes + 1, "one fsync for 50"
    sent = outgoing(node.receive(arrive(AppendEntriesResponse, 2, 1, 1, success=True, match_index=2), 4))
    assert [(m.dst, len(m.entries)) for m in sent] == [(2, 49)], "the waiting commands leave in one message"


def test_pipelining_keeps_at_most_max_inflight_messages_per_follower():
    node, _ = make_node(config=RaftConfig(max_inflight=3, max_batch_entries=10))
    elect(node)
    flush_persists(node.storage, node.fire(FLUSH, 1))
    for peer in (2, 3):
        node.receive(arrive(AppendEntriesResponse, peer, 1, 1, success=True, match_index=1), 2)
    sent = []
    for k in range(100):
        sent += outgoing(node.propose(b"c%d" % k, 3))
    sent += outgoing(flush_persists(node.storage, node.fire(FLUSH, 3)))
    assert [m.dst for m in sent].count(2) == 3, "three messages in flight to follower 2, no more"
    more = outgoing(node.receive(arrive(AppendEntriesResponse, 2, 1, 1, success=True, match_index=2), 4))
    assert [(m.dst, m.prev_log_index, len(m.entries)) for m in more] == [(2, 22, 10)], "one acknowledged, one more sent"


def test_pipelining_stops_at_max_inflight_bytes_per_follower():
    node, _ = make_node(config=RaftConfig(max_inflight=100, max_batch_entries=1, max_inflight_bytes=25))
    elect(node)
    flush_persists(node.storage, node.fire(FLUSH, 1))
    for peer in (2, 3):
        node.receive(arrive(AppendEntriesResponse, peer, 1, 1, success=True, match_index=1), 2)
    sent = []
    for k in range(10):
        sent += outgoing(node.propose(b"command-%02d" % k, 3))
    sent += outgoing(flush_persists(node.storage, node.fire(FLUSH, 3)))
    assert [m.dst for m in sent].count(2) == 3, "10 + 10 + 10 command bytes in flight reach 25: no more"
    more = outgoing(node.receive(arrive(AppendEntriesResponse, 2, 1, 1, success=True, match_index=2), 4))
    assert [(m.dst, m.prev_log_index, len(m.entries)) for m in more] == [(2, 4, 1)], "one acknowledged, one more sent"


# -- a cluster, message by message ----------------------------------------------------------------


def test_fast_backtracking_takes_round_trips_per_differing_term_not_per_entry():
    c = Cluster(3)
    leader_terms = [1] * 1000 + [2] * 1000 + [4] * 1000
    stale_terms = [1] * 1000 + [3] * 3000
    c.nodes[1].log = RaftLog.from_terms(leader_terms)
    c.nodes[2].log = RaftLog.from_terms(stale_terms)
    c.nodes[3].log = RaftLog.from_terms(leader_terms)
    c.nodes[1].term = c.nodes[2].term = c.nodes[3].term = 4
    c.elect(1, [3])
    rejections = 0
    for _ in range(50):
        moved = [(s, d, m) for s, d, m in c.queue if (s, d) in ((1, 2), (2, 1))]
        if not moved:
            break
        rejections += sum(1 for s, d, m in moved if m.name == "AppendEntriesResponse" and not m.success)
        c.deliver([1, 2])
    assert c.terms(2) == c.terms(1), "the stale follower was caught up"
    assert rejections <= 3, f"{rejections} rejections for 2 differing terms"


def test_follower_thousands_of_entries_behind_is_caught_up_in_few_round_trips():
    c = Cluster(3, config=RaftConfig(
        election_timeout_min=10_000, election_timeout_max=20_000, heartbeat_interval=1_000,
        max_batch_entries=500, max_inflight=4,
    ))
    c.nodes[1].log = RaftLog.from_terms([1] * 5000)
    c.nodes[3].log = RaftLog.from_terms([1] * 5000)
    c.nodes[2].log = RaftLog.from_terms([1] * 10)
    c.elect(1, [3])
    responses = 0
    for rounds in range(1, 20):
        to_leader = [m for s, d, m in c.queue if (s, d) == (2, 1)]
        responses += len(to_leader)
        c.deliver([1, 2])
        if c.terms(2) == c.terms(1):
            break
    assert c.terms(2) == c.terms(1)
    assert c.nodes[2].log.durable_index == 5001
    assert responses <= 5001 // 500 + 4, f"{responses} AppendEntries round trips"


# -- durability -----------------------------------------------------------------------------------


def test_a_crash_loses_entries_that_were_staged_but_not_flushed():
    c = Cluster(3)
    c.elect(1, [2, 3])
    c.deliver(c.ids)
    c.nodes[1].propose(b"never-flushed", c.now)  # effects dropped: the flush timer never fires
    assert c.nodes[1].log.last_index == 2
    c.crash(1)
    c.restart(1)
    assert c.nodes[1].log.last_index == 1 and c.nodes[1].log.durable_index == 1


def test_a_restarted_node_rebuilds_its_state_machine_from_the_durable_log():
    c = Cluster(3)
    c.elect(1, [2, 3])
    for k in range(5):
        c.propose(1, b"c%d" % k)
    c.deliver(c.ids)
    c.heartbeat(1)
    c.deliver(c.ids)
    before = [e.data for e in c.applied[2]]
    c.crash(2)
    c.restart(2)
    assert c.applied[2] == [] and c.nodes[2].log.durable_index == 6
    c.heartbeat(1)
    c.deliver(c.ids)
    assert [e.data for e in c.applied[2]] == before == [b""] + [b"c%d" % k for k in range(5)]


def test_follower_persists_entries_before_the_acknowledgement_leaves():
    node = follower([1])
    effects = node.receive(append_msg(3, 1, 1, [(3, 2, b"a")]), 10)
    assert not [e for e in effects if type(e) is Send] and SetTimer(FLUSH, 0) in effects
    assert node.log.durable_index == 1
    flush_persists(node.storage, node.fire(FLUSH, 10))
    assert node.log.durable_index == 2


# -- a property ------------------------------------------------------------------------------------

nondecreasing = st.lists(st.integers(1, 4), min_size=1, max_size=25).map(sorted)


@settings(max_examples=200, deadline=None)
@given(
    nondecreasing,
    st.integers(0, 25),
    nondecreasing,
    st.lists(st.tuples(st.integers(1, 26), st.integers(0, 8), st.booleans()), max_size=30),
)
def test_every_acknowledged_prefix_equals_the_leaders_whatever_the_message_order(
    leader_terms, shared, divergent, deliveries
):
    """Messages cut from the leader's log, in any order, repeated or stale: an ack of match m means the
    follower's first m entries are the leader's, and entries the follower committed are never cut."""
    leader_terms = [2 * t for t in leader_terms]  # even terms; the follower's own suffix has odd ones
    shared = min(shared, len(leader_terms))
    floor = leader_terms[shared - 1] if shared else 0
    follower_terms = leader_terms[:shared] + [2 * t + 1 for t in divergent if 2 * t + 1 >= floor]
    leader = RaftLog.from_terms(leader_terms)
    term = 2 * 4 + 2
    node = follower(follower_terms, term=term)
    committed: list[int] = []
    for now, (start, count, with_commit) in enumerate(deliveries, start=1):
        start = min(start, leader.last_index + 1)
        entries = leader.entries(start, count, 1 << 20)  # (term, index, data), as AppendEntries carries them
        commit = start - 1 + len(entries) if with_commit else 0
        effects = node.receive(append_msg(term, start - 1, leader.term_at(start - 1), entries, commit=commit), now)
        effects += flush_persists(node.storage, node.fire(FLUSH, now))
        held = [node.log.term_at(i) for i in range(1, node.log.last_index + 1)]
        for m in outgoing(effects):
            if m.success:
                assert held[: m.match_index] == leader_terms[: m.match_index]
                assert node.log.durable_index >= m.match_index
        assert held[: node.commit_index] == leader_terms[: node.commit_index]
        committed.append(node.commit_index)
    assert committed == sorted(committed)
