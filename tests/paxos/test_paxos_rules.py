"""Message-level rules of the Paxos acceptor and proposer, one node driven by hand."""
from __future__ import annotations

from quorumlab.core import codec
from quorumlab.core.algorithm import MAX_TERM, Role
from quorumlab.core.effects import Persist, RoleChanged
from quorumlab.core.storage import MemoryStorage

from quorumlab.algorithms.paxos import (
    DETECT,
    LEASE_TIMER,
    RENEW,
    ROUND,
    Accept,
    Accepted,
    Nack,
    Paxos,
    Prepare,
    Promise,
    ProposerState,
    fencing_token,
)
from quorumlab.algorithms.paxos.acceptor import ABSTAIN, LEASE_HELD, PROMISED, TOO_LONG
from quorumlab.core.testing import armed, arrive, flush_persists, notes, outgoing
from tests.paxos.helpers import make_node, persist_index, send_index


def promise_from(src: int, ballot: tuple[int, int], dst: int = 1, **fields) -> Promise:
    return arrive(Promise, src, dst, term=ballot[0], round=ballot[0], bid=ballot[1], **fields)


def elect(node, now: int = 200) -> list:
    """Node 1 of (1, 2, 3): detection fires, node 2 promises and accepts; returns the last effects."""
    node.fire(DETECT, now)
    ballot = node.ballot
    node.receive(promise_from(2, ballot), now + 2)
    return node.receive(arrive(Accepted, 2, 1, term=ballot[0], round=ballot[0], bid=ballot[1], seq=node._seq), now + 4)


# -- phase 1 ---------------------------------------------------------------------------------


def test_detection_timeout_starts_phase1_with_next_ballot_and_promises_itself_durably():
    node, start = make_node()
    assert 150 <= armed(start).get(DETECT) <= 300
    effects = node.fire(DETECT, 200)
    prepare = outgoing(effects, Prepare)[0]
    assert (prepare.round, prepare.bid) == (1, 1) == node.ballot
    assert node.role == Role.CANDIDATE and node.term == 1
    assert notes(effects, "election_started") == [{"term": 1, "ballot": [1, 1]}]
    assert persist_index(effects) < send_index(effects, Prepare)
    assert flush_persists(node.storage, effects) and node.storage.durable()["promised"] == [1, 1]
    assert armed(effects).get(ROUND) == node.config.round_timeout_ms


def test_next_ballot_is_highest_round_seen_plus_one():
    node, _ = make_node()
    node.receive(arrive(Prepare, 3, 1, term=7, round=7, bid=3), 10)
    effects = node.fire(DETECT, 400)
    assert node.ballot == (8, 1)
    assert outgoing(effects, Prepare)[0].round == 8


def test_acceptor_promises_higher_ballot_persisting_before_the_reply():
    node, _ = make_node()
    effects = node.receive(arrive(Prepare, 2, 1, term=3, round=3, bid=2), 10)
    promise = outgoing(effects, Promise)[0]
    assert (promise.round, promise.bid) == (3, 2)
    assert persist_index(effects) < send_index(effects, Promise)
    flush_persists(node.storage, effects)
    assert node.storage.durable()["promised"] == [3, 2]
    assert node.term == 3


def test_acceptor_nacks_lower_ballot_carrying_its_promise():
    node, _ = make_node()
    node.receive(arrive(Prepare, 3, 1, term=5, round=5, bid=3), 10)
    effects = node.receive(arrive(Prepare, 2, 1, term=4, round=4, bid=2), 11)
    nack = outgoing(effects, Nack)[0]
    assert (nack.phase, nack.reason) == (1, PROMISED)
    assert (nack.p_round, nack.p_bid) == (5, 3)
    assert not outgoing(effects, Promise)
    assert not any(type(e) is Persist for e in effects)


def test_same_round_is_ordered_by_node_id():
    node, _ = make_node()
    node.receive(arrive(Prepare, 3, 1, term=5, round=5, bid=3), 10)
    assert outgoing(node.receive(arrive(Prepare, 2, 1, term=5, round=5, bid=2), 11), Nack)
    node2, _ = make_node()
    node2.receive(arrive(Prepare, 2, 1, term=5, round=5, bid=2), 10)
    assert outgoing(node2.receive(arrive(Prepare, 3, 1, term=5, round=5, bid=3), 11), Promise)


def test_duplicate_prepare_is_promised_again_without_a_new_write():
    node, _ = make_node()
    node.receive(arrive(Prepare, 2, 1, term=3, round=3, bid=2), 10)
    flushes = node.storage.flushes
    effects = node.receive(arrive(Prepare, 2, 1, term=3, round=3, bid=2), 12)
    assert outgoing(effects, Promise)
    assert not any(type(e) is Persist for e in effects)
    assert node.storage.flushes == flushes


def test_proposer_jumps_past_the_ballot_a_nack_reports():
    node, _ = make_node()
    node.fire(DETECT, 200)
    for src in (2, 3):
        node.receive(arrive(Nack, src, 1, term=9, round=1, bid=1, phase=1, reason=PROMISED, p_round=9, p_bid=src), 202)
    assert node.role == Role.FOLLOWER
    assert node.term == 9
    effects = node.fire(DETECT, 260)
    assert node.ballot == (10, 1)
    assert outgoing(effects, Prepare)[0].round == 10


def test_majority_of_nacks_loses_the_round_and_notes_why():
    node, _ = make_node()
    node.fire(DETECT, 200)
    node.receive(arrive(Nack, 2, 1, round=1, bid=1, phase=1, reason=PROMISED, p_round=4, p_bid=2), 202)
    effects = node.receive(arrive(Nack, 3, 1, round=1, bid=1, phase=1, reason=PROMISED, p_round=4, p_bid=3), 203)
    lost = notes(effects, "election_lost")
    assert lost and lost[0]["term"] == 1 and "promised a higher ballot" in lost[0]["reason"]
    assert armed(effects).get(DETECT) is not None


def test_higher_foreign_prepare_preempts_own_round():
    node, _ = make_node()
    node.fire(DETECT, 200)
    effects = node.receive(arrive(Prepare, 3, 1, term=1, round=1, bid=3), 201)
    assert outgoing(effects, Promise)
    assert node.role == Role.FOLLOWER
    assert notes(effects, "election_lost")[0]["reason"].startswith("preempted")
    assert node.config.detect_min_ms <= armed(effects).get(DETECT) <= node.config.detect_max_ms
    late = node.receive(promise_from(2, (1, 1)), 202)
    assert not outgoing(late, Accept)


def test_round_timeout_loses_the_round_and_backs_off():
    node, _ = make_node()
    node.fire(DETECT, 200)
    effects = node.fire(ROUND, 250)
    assert notes(effects, "election_lost")[0]["reason"] == "timeout"
    assert node.role == Role.FOLLOWER
    assert armed(effects).get(DETECT) is not None


# -- phase 2 ---------------------------------------------------------------------------------


def test_majority_of_promises_sends_accept_of_me_with_the_lease_length():
    node, _ = make_node()
    node.fire(DETECT, 200)
    effects = node.receive(promise_from(2, (1, 1)), 203)
    accept = outgoing(effects, Accept)[0]
    assert (accept.round, accept.bid, accept.lease_ms) == (1, 1, node.config.lease_ms)
    assert node.acceptor.accepted == (1, 1)
    assert send_index(effects, Accept) < persist_index(effects)  # our own write overlaps the round trip
    assert node.role == Role.CANDIDATE


def test_own_acceptance_is_durable_before_leadership_shows():
    node, _ = make_node(voters=(1,))
    effects = node.fire(DETECT, 200)
    persists = [i for i, e in enumerate(effects) if type(e) is Persist]
    became = next(i for i, e in enumerate(effects) if type(e) is RoleChanged and e.new == Role.LEADER)
    assert len(persists) == 2 and persists[-1] < became


def test_promise_reporting_another_nodes_lease_stops_phase2():
    node, _ = make_node()
    node.fire(DETECT, 200)
    effects = node.receive(promise_from(2, (1, 1), acc_round=0, acc_bid=3, lease_holder=3, lease_left=40), 203)
    assert not outgoing(effects, Accept)
    assert "lease" in notes(effects, "election_lost")[0]["reason"]
    assert node.quiet_until == 243
    assert armed(effects).get(DETECT) >= 40


def test_promise_reporting_own_lease_does_not_stop_phase2():
    node, _ = make_node()
    node.fire(DETECT, 200)
    effects = node.receive(promise_from(2, (1, 1), lease_holder=1, lease_left=40), 203)
    assert outgoing(effects, Accept)


def test_acceptor_accepts_at_its_promise():
    node, _ = make_node()
    node.receive(arrive(Prepare, 2, 1, term=3, round=3, bid=2), 10)
    effects = node.receive(arrive(Accept, 2, 1, term=3, round=3, bid=2, seq=1, lease_ms=135), 12)
    accepted = outgoing(effects, Accepted)[0]
    assert (accepted.round, accepted.bid, accepted.seq) == (3, 2, 1)
    assert persist_index(effects) < send_index(effects, Accepted)
    flush_persists(node.storage, effects)
    assert node.storage.durable()["accepted"] == [3, 2]
    assert node.leader == 2


def test_acceptor_accepts_above_its_promise_and_raises_it():
    node, _ = make_node()
    node.receive(arrive(Prepare, 2, 1, term=3, round=3, bid=2), 10)
    effects = node.receive(arrive(Accept, 3, 1, term=4, round=4, bid=3, seq=1, lease_ms=135), 12)
    assert outgoing(effects, Accepted)
    assert node.acceptor.promised == (4, 3)


def test_acceptor_nacks_accept_below_its_promise():
    node, _ = make_node()
    node.receive(arrive(Prepare, 3, 1, term=5, round=5, bid=3), 10)
    effects = node.receive(arrive(Accept, 2, 1, term=4, round=4, bid=2, seq=7, lease_ms=135), 12)
    nack = outgoing(effects, Nack)[0]
    assert (nack.phase, nack.seq, nack.reason, nack.p_round, nack.p_bid) == (2, 7, PROMISED, 5, 3)
    assert node.acceptor.accepted == (0, 0)


def test_acceptor_refuses_a_lease_longer_than_its_own_maximum():
    node, _ = make_node()
    effects = node.receive(arrive(Accept, 2, 1, term=1, round=1, bid=2, seq=1, lease_ms=10_000), 12)
    assert outgoing(effects, Nack)[0].reason == TOO_LONG


def test_no_leadership_without_a_majority_of_accepted():
    node, _ = make_node(voters=(1, 2, 3, 4, 5))
    node.fire(DETECT, 200)
    node.receive(promise_from(2, (1, 1)), 202)
    node.receive(promise_from(3, (1, 1)), 202)
    seq = node._seq
    node.receive(arrive(Accepted, 2, 1, term=1, round=1, bid=1, seq=seq), 204)
    node.receive(arrive(Accepted, 2, 1, term=1, round=1, bid=1, seq=seq), 205)  # a duplicate counts once
    assert node.role == Role.CANDIDATE
    effects = node.receive(arrive(Accepted, 3, 1, term=1, round=1, bid=1, seq=seq), 206)
    assert node.role == Role.LEADER and node.leader == 1
    won = notes(effects, "election_won")[0]
    assert won["term"] == 1 and won["ballot"] == [1, 1]


def test_lease_counts_from_before_accept_was_sent():
    node, _ = make_node()
    node.fire(DETECT, 200)
    node.receive(promise_from(2, (1, 1)), 203)  # Accept leaves at 203
    effects = node.receive(arrive(Accepted, 2, 1, term=1, round=1, bid=1, seq=node._seq), 230)
    assert node.lease_until == 203 + node.config.lease_ms
    assert armed(effects).get(LEASE_TIMER) == node.lease_until - 230
    assert notes(effects, "lease_acquired") == [{"start": 203, "until": 338, "ballot": [1, 1]}]


def test_accepted_for_an_older_sequence_is_not_counted():
    node, _ = make_node()
    node.fire(DETECT, 200)
    node.receive(promise_from(2, (1, 1)), 203)
    node.receive(arrive(Accepted, 2, 1, term=1, round=1, bid=1, seq=node._seq + 5), 204)
    node.receive(arrive(Accepted, 2, 1, term=1, round=1, bid=1, seq=node._seq - 1), 204)
    assert node.role == Role.CANDIDATE


# -- leases: refusal, renewal, step-down --------------------------------------------------------


def test_acceptor_holding_a_lease_refuses_to_promise_anyone_else():
    node, _ = make_node()
    node.receive(arrive(Accept, 2, 1, term=1, round=1, bid=2, seq=1, lease_ms=135), 100)
    hold = node.acceptor.hold_until
    assert hold == 100 + 136  # 135 ms widened by the 0.002 drift bound
    effects = node.receive(arrive(Prepare, 3, 1, term=9, round=9, bid=3), 150)
    nack = outgoing(effects, Nack)[0]
    assert (nack.reason, nack.holder, nack.wait_ms) == (LEASE_HELD, 2, hold - 150)
    assert node.acceptor.promised == (1, 2)
    refused = node.receive(arrive(Accept, 3, 1, term=9, round=9, bid=3, seq=1, lease_ms=135), 151)
    assert outgoing(refused, Nack)[0].reason == LEASE_HELD
    after = node.receive(arrive(Prepare, 3, 1, term=9, round=9, bid=3), hold)
    assert outgoing(after, Promise)


def test_lease_holder_itself_may_prepare_a_higher_ballot_and_hears_of_its_lease():
    node, _ = make_node()
    node.receive(arrive(Accept, 2, 1, term=1, round=1, bid=2, seq=1, lease_ms=135), 100)
    effects = node.receive(arrive(Prepare, 2, 1, term=4, round=4, bid=2), 120)
    promise = outgoing(effects, Promise)[0]
    assert (promise.acc_round, promise.acc_bid, promise.lease_holder, promise.lease_left) == (1, 2, 2, 116)


def test_follower_defers_detection_while_it_holds_a_lease_for_another():
    node, _ = make_node(detect_min_ms=150, detect_max_ms=150, lease_ms=140, renew_ms=40)
    node.receive(arrive(Accept, 2, 1, term=1, round=1, bid=2, seq=1, lease_ms=140), 100)
    effects = node.fire(DETECT, 200)
    assert not outgoing(effects, Prepare)
    assert armed(effects).get(DETECT) >= node.acceptor.hold_until - 200


def test_leader_renews_with_phase2_alone_under_its_ballot():
    node, _ = make_node()
    elect(node)
    ballot, seq = node.ballot, node._seq
    effects = node.fire(RENEW, 248)
    assert not outgoing(effects, Prepare)
    accept = outgoing(effects, Accept)[0]
    assert (accept.round, accept.bid, accept.seq) == (ballot[0], ballot[1], seq + 1)
    assert armed(effects).get(RENEW) == node.config.renew_ms
    assert not any(type(e) is Persist for e in effects)  # nothing durable changed
    done = node.receive(arrive(Accepted, 3, 1, term=1, round=1, bid=1, seq=seq + 1), 250)
    assert node.lease_until == 248 + node.config.lease_ms
    assert notes(done, "lease_renewed")[0]["start"] == 248
    assert armed(done).get(LEASE_TIMER) == node.lease_until - 250


def test_leader_whose_renewals_fail_steps_down_when_its_lease_runs_out():
    node, _ = make_node()
    elect(node)
    until = node.lease_until
    node.fire(RENEW, 248)
    node.fire(ROUND, 298)
    assert node.role == Role.LEADER  # still within the lease
    effects = node.fire(LEASE_TIMER, until)
    assert node.role == Role.FOLLOWER and node.leader is None
    assert notes(effects, "stepped_down")[0]["reason"] == "lease expired"
    assert node.fencing_token is None


def test_leader_refuses_other_proposers_while_it_leads():
    node, _ = make_node()
    elect(node)
    effects = node.receive(arrive(Prepare, 3, 1, term=50, round=50, bid=3), 220)
    assert outgoing(effects, Nack)[0].reason == LEASE_HELD
    assert node.role == Role.LEADER


def test_renewal_nack_with_higher_promise_moves_the_leader_to_a_higher_ballot():
    node, _ = make_node()
    elect(node)
    node.fire(RENEW, 248)
    node.receive(arrive(Accepted, 2, 1, term=1, round=1, bid=1, seq=node._seq), 249)
    node.receive(arrive(Nack, 3, 1, term=7, round=1, bid=1, phase=2, seq=node._seq, reason=PROMISED, p_round=7, p_bid=3), 250)
    effects = node.fire(RENEW, 293)
    prepare = outgoing(effects, Prepare)[0]
    assert (prepare.round, prepare.bid) == (8, 1)
    assert node.role == Role.LEADER
    assert notes(effects, "election_started")[0]["holding_lease"] is True
    node.receive(promise_from(2, (8, 1), lease_holder=1, lease_left=100), 295)
    won = node.receive(arrive(Accepted, 2, 1, term=8, round=8, bid=1, seq=node._seq), 297)
    assert notes(won, "election_won")[0]["ballot"] == [8, 1]
    assert node.fencing_token == fencing_token((8, 1)) > fencing_token((1, 1))


def test_fencing_token_stays_the_leased_ballot_until_a_higher_one_wins():
    node, _ = make_node()
    elect(node)
    node.fire(RENEW, 248)
    node.receive(arrive(Nack, 3, 1, term=7, round=1, bid=1, phase=2, seq=node._seq, reason=PROMISED, p_round=7, p_bid=3), 250)
    node.fire(RENEW, 293)
    assert node.ballot == (8, 1) and node.role == Role.LEADER
    assert node.fencing_token == fencing_token((1, 1))  # nobody has promised (8, 1) yet
    node.fire(ROUND, 343)  # the bump's phase 1 went unanswered; a later leader may use a ballot below (8, 1)
    assert node.fencing_token == fencing_token((1, 1))


# -- the proposer's states ------------------------------------------------------------------------


def bumped_leader(**config):
    """Node 1 leads under (1, 1); a refusal showed promise (7, 3), so its next renewal starts phase 1 under (8, 1)."""
    node, _ = make_node(**config)
    elect(node)
    node.fire(RENEW, 248)
    node.receive(arrive(Nack, 3, 1, term=7, round=1, bid=1, phase=2, seq=node._seq, reason=PROMISED, p_round=7, p_bid=3), 250)
    return node


def test_proposer_acquires_the_lease_through_phase_1_then_phase_2():
    node, _ = make_node()
    assert (node.proposer, node.role) == (ProposerState.WAITING, Role.FOLLOWER)
    node.fire(DETECT, 200)
    assert (node.proposer, node.role) == (ProposerState.PREPARING, Role.CANDIDATE)
    node.receive(promise_from(2, node.ballot), 202)
    assert (node.proposer, node.role) == (ProposerState.ACQUIRING, Role.CANDIDATE)
    node.receive(arrive(Accepted, 2, 1, term=1, round=1, bid=1, seq=node._seq), 204)
    assert (node.proposer, node.role) == (ProposerState.LEADING, Role.LEADER)


def test_a_renewal_opens_phase_2_and_an_unanswered_one_leaves_the_leader_leading():
    node, _ = make_node()
    elect(node)
    node.fire(RENEW, 248)
    assert node.proposer is ProposerState.RENEWING
    node.fire(ROUND, 298)
    assert (node.proposer, node.role) == (ProposerState.LEADING, Role.LEADER)


def test_a_move_to_a_higher_ballot_whose_phase_2_goes_unanswered_is_finished_by_the_next_renewal():
    node = bumped_leader(round_timeout_ms=20)
    node.fire(RENEW, 293)
    assert node.proposer is ProposerState.BUMP_PREPARING
    node.receive(promise_from(2, (8, 1), lease_holder=1, lease_left=100), 295)
    assert node.proposer is ProposerState.BUMP_ACCEPTING
    node.fire(ROUND, 315)
    assert (node.proposer, node.role, node.fencing_token) == (ProposerState.BUMPED, Role.LEADER, fencing_token((1, 1)))
    effects = node.fire(RENEW, 338)
    assert node.proposer is ProposerState.BUMP_ACCEPTING and outgoing(effects, Accept)[0].round == 8
    won = node.receive(arrive(Accepted, 2, 1, term=8, round=8, bid=1, seq=node._seq), 340)
    assert notes(won, "election_won")[0]["ballot"] == [8, 1] and not notes(won, "lease_renewed")
    assert (node.proposer, node.fencing_token) == (ProposerState.LEADING, fencing_token((8, 1)))


def test_a_failed_move_to_a_higher_ballot_leads_on_under_the_lease_held():
    node = bumped_leader()
    node.fire(RENEW, 293)
    node.fire(ROUND, 343)
    assert (node.proposer, node.role) == (ProposerState.LEADING, Role.LEADER)


def test_a_leader_whose_lease_runs_out_waits_again():
    node = bumped_leader()
    node.fire(RENEW, 293)
    node.fire(LEASE_TIMER, node.lease_until)
    assert (node.proposer, node.role) == (ProposerState.WAITING, Role.FOLLOWER)


# -- restarts ------------------------------------------------------------------------------------


def test_restarted_node_abstains_for_one_maximum_lease_period():
    storage = MemoryStorage()
    node, _ = make_node(storage=storage)
    flush_persists(storage, node.receive(arrive(Accept, 2, 1, term=1, round=1, bid=2, seq=1, lease_ms=135), 100))
    storage.crash()
    again, start = make_node(storage=storage, now=120)
    hold = again.acceptor.max_hold_ms()
    assert notes(start, "lease_abstain") == [{"until": 120 + hold, "ms": hold}]
    assert again.acceptor.promised == (1, 2)  # the promise survived
    refused = again.receive(arrive(Prepare, 3, 1, term=2, round=2, bid=3), 130)
    assert (outgoing(refused, Nack)[0].reason, outgoing(refused, Nack)[0].wait_ms) == (ABSTAIN, 120 + hold - 130)
    refused = again.receive(arrive(Accept, 3, 1, term=2, round=2, bid=3, seq=1, lease_ms=135), 131)
    assert outgoing(refused, Nack)[0].reason == ABSTAIN
    assert not outgoing(again.fire(DETECT, 120 + hold - 1), Prepare)
    assert outgoing(again.receive(arrive(Prepare, 3, 1, term=2, round=2, bid=3), 120 + hold), Promise)


def test_fresh_node_takes_part_at_once():
    node, start = make_node()
    assert notes(start, "lease_abstain") == []
    assert outgoing(node.receive(arrive(Prepare, 2, 1, term=1, round=1, bid=2), 1), Promise)


def test_restart_never_promises_below_a_durable_promise():
    storage = MemoryStorage()
    node, _ = make_node(storage=storage)
    flush_persists(storage, node.receive(arrive(Prepare, 3, 1, term=6, round=6, bid=3), 10))
    storage.crash()
    again, _ = make_node(storage=storage, now=20)
    late = again.acceptor.abstain_until
    effects = again.receive(arrive(Prepare, 2, 1, term=5, round=5, bid=2), late)
    assert outgoing(effects, Nack)[0].reason == PROMISED
    assert again.term == 6


# -- backoff, bad input, observable state -------------------------------------------------------


def test_backoff_is_randomized_and_grows_with_failures():
    delays_by_failure: dict[int, set[int]] = {}
    for seed in range(40):
        node, _ = make_node(seed=seed)
        now = 200
        for failure in range(5):
            node.fire(DETECT, now)
            effects = node.fire(ROUND, now + 50)
            delays_by_failure.setdefault(failure, set()).add(armed(effects).get(DETECT))
            now += 1000
    base, cap = 20, 400
    for failure, delays in delays_by_failure.items():
        hi = min(cap, base << failure)
        assert all(hi // 2 <= d <= hi for d in delays), (failure, sorted(delays))
        if hi // 2 < hi:
            assert len(delays) > 1, f"backoff after failure {failure} is not randomized"
    assert max(delays_by_failure[4]) > max(delays_by_failure[0])


def test_leader_win_resets_backoff():
    node, _ = make_node()
    node.fire(DETECT, 200)
    node.fire(ROUND, 250)
    assert node.failures == 1
    elect(node, 400)
    assert node.failures == 0


def test_proposal_under_another_nodes_ballot_is_dropped_and_noted_once():
    node, _ = make_node()
    first = node.receive(arrive(Prepare, 2, 1, term=5, round=5, bid=3), 10)
    second = node.receive(arrive(Accept, 2, 1, term=5, round=5, bid=3, seq=1, lease_ms=135), 11)
    assert not outgoing(first) and not outgoing(second)
    assert len(notes(first, "dropped_malformed")) == 1 and not notes(second, "dropped_malformed")
    assert node.acceptor.promised == (0, 0) and node.term == 0


def test_status_exposes_ballot_and_fencing_token():
    node, _ = make_node()
    elect(node)
    status = node.status()
    assert status["role"] == "leader" and status["ballot"] == [1, 1]
    assert status["fencing_token"] == fencing_token((1, 1)) == node.fencing_token
    assert status["lease_until"] == node.lease_until


def test_single_node_cluster_elects_itself():
    node, _ = make_node(voters=(1,))
    effects = node.fire(DETECT, 200)
    assert node.role == Role.LEADER
    assert notes(effects, "election_won")


def test_status_works_before_start():
    status = Paxos(2, (1, 2, 3)).status()
    assert status["role"] == "follower" and status["ballot"] == [0, 0] and status["fencing_token"] is None


def test_a_forged_round_near_the_u64_limit_is_dropped_not_adopted():
    node = _absurd_round_node()
    out = node.receive(Prepare(cluster=node.cluster, src=2, dst=1, term=1, round=MAX_TERM, bid=2), 1_000)
    assert node.term < MAX_TERM
    for effect in out:
        msg = getattr(effect, "msg", None)
        if msg is not None:
            codec.encode(msg)  # nothing it sends may overflow the wire
    assert any(getattr(e, "kind", "") == "dropped_malformed" for e in out)


def test_a_forged_header_term_near_the_u64_limit_is_dropped_by_the_base_class():
    node = _absurd_round_node()
    out = node.receive(Prepare(cluster=node.cluster, src=2, dst=1, term=MAX_TERM, round=3, bid=2), 1_000)
    assert node.term < MAX_TERM
    assert [e.kind for e in out if hasattr(e, "kind")] == ["dropped_absurd_term"]


def _absurd_round_node():
    node = Paxos(1, [1, 2, 3])
    node.start(0)
    return node
