"""Bully's rules, one message or timer at a time, on a single node driven by hand (cluster 1..5)."""
from __future__ import annotations

from quorumlab.algorithms.bully import BullyConfig
from quorumlab.algorithms.bully.algorithm import ANSWER_WAIT, COORDINATOR_WAIT, HEARTBEAT, SILENCE, Phase
from quorumlab.algorithms.bully.messages import Answer, Coordinator, Election, Heartbeat
from quorumlab.core.algorithm import Role
from quorumlab.core.effects import NO_LOG, LeaderChanged, RoleChanged
from quorumlab.core.testing import rejections

from quorumlab.core.testing import armed, arrive, disarmed, notes
from tests.bully.support import node, sends

CFG = BullyConfig()
T = CFG.answer_timeout_ms
T_PRIME = CFG.coordinator_timeout_ms


def following(node_id: int, leader: int, epoch: int = 1):
    """Node ``node_id`` that has adopted ``leader``'s announcement at ``epoch``."""
    b, _ = node(node_id)
    b.receive(arrive(Coordinator, leader, node_id, epoch), 1)
    assert b.leader == leader and b.phase is Phase.IDLE
    return b


def leading(node_id: int):
    """Node ``node_id`` that announced itself (every higher id stayed silent for T)."""
    b, _ = node(node_id)
    if node_id < 5:
        b.fire(ANSWER_WAIT, T)
    assert b.role is Role.LEADER
    return b


# -- starting an election ------------------------------------------------------------------


def test_highest_id_announces_itself_to_every_lower_id_when_it_starts():
    b, out = node(5)
    assert sends(out) == [("Coordinator", 1, 1), ("Coordinator", 2, 1), ("Coordinator", 3, 1), ("Coordinator", 4, 1)]
    assert b.role is Role.LEADER and b.leader == 5 and b.term == 1
    assert notes(out, "election_started") == [{"term": 0}]
    assert notes(out, "election_won") == [{"term": 1}]
    assert armed(out) == {HEARTBEAT: CFG.heartbeat_ms}


def test_lower_id_sends_election_to_every_higher_id_when_it_starts_and_waits_T():
    b, out = node(2)
    assert sends(out) == [("Election", 3, 0), ("Election", 4, 0), ("Election", 5, 0)]
    assert armed(out) == {ANSWER_WAIT: T}
    assert b.role is Role.CANDIDATE and b.phase is Phase.ELECTING and b.leader is None
    assert notes(out, "election_started") == [{"term": 0}]


def test_no_answer_within_T_makes_the_node_announce_itself_to_the_lower_ids():
    b, _ = node(3)
    out = b.fire(ANSWER_WAIT, T)
    assert sends(out) == [("Coordinator", 1, 1), ("Coordinator", 2, 1)]
    assert b.role is Role.LEADER and b.leader == 3
    assert notes(out, "election_won") == [{"term": 1}]
    assert armed(out) == {HEARTBEAT: CFG.heartbeat_ms}


# -- ANSWER and the T' wait ------------------------------------------------------------------


def test_answer_from_a_higher_id_makes_the_node_yield_and_wait_T_prime_for_a_coordinator():
    b, _ = node(2)
    out = b.receive(arrive(Answer, 4, 2, 0), 3)
    assert ANSWER_WAIT in disarmed(out)
    assert armed(out) == {COORDINATOR_WAIT: T_PRIME}
    assert b.phase is Phase.AWAITING and b.role is Role.FOLLOWER
    assert notes(out, "election_lost") == [{"term": 0, "reason": "answer from 4"}]
    assert sends(out) == []


def test_no_coordinator_within_T_prime_restarts_the_election():
    b, _ = node(2)
    b.receive(arrive(Answer, 4, 2, 0), 3)
    out = b.fire(COORDINATOR_WAIT, 3 + T_PRIME)
    assert sends(out) == [("Election", 3, 0), ("Election", 4, 0), ("Election", 5, 0)]
    assert armed(out) == {ANSWER_WAIT: T}
    assert notes(out, "election_started") == [{"term": 0}]
    assert b.phase is Phase.ELECTING


def test_coordinator_after_an_answer_ends_the_wait():
    b, _ = node(2)
    b.receive(arrive(Answer, 4, 2, 0), 3)
    out = b.receive(arrive(Coordinator, 4, 2, 1), 30)
    assert COORDINATOR_WAIT in disarmed(out)
    assert armed(out) == {SILENCE: CFG.failure_timeout_ms}
    assert b.leader == 4 and b.role is Role.FOLLOWER and b.phase is Phase.IDLE and b.term == 1


def test_second_answer_and_late_answer_are_ignored():
    b, _ = node(2)
    b.receive(arrive(Answer, 4, 2, 0), 3)
    assert b.receive(arrive(Answer, 3, 2, 0), 4) == []
    idle = following(2, 5)
    assert idle.receive(arrive(Answer, 4, 2, 0), 5) == []


# -- ELECTION -------------------------------------------------------------------------------


def test_election_from_a_lower_id_is_answered_and_starts_the_receivers_own_election():
    b = following(3, 5)
    out = b.receive(arrive(Election, 1, 3, 1), 10)
    assert sends(out) == [("Answer", 1, 1), ("Election", 4, 1), ("Election", 5, 1)]
    assert SILENCE in disarmed(out)
    assert armed(out) == {ANSWER_WAIT: T}
    assert b.phase is Phase.ELECTING and b.role is Role.CANDIDATE


def test_election_during_a_running_election_is_answered_without_restarting_it():
    b, _ = node(3)
    out = b.receive(arrive(Election, 2, 3, 0), 2)
    assert sends(out) == [("Answer", 2, 0)]
    assert armed(out) == {}
    b.receive(arrive(Answer, 5, 3, 0), 3)
    out = b.receive(arrive(Election, 1, 3, 0), 4)
    assert sends(out) == [("Answer", 1, 0)]
    assert b.phase is Phase.AWAITING


def test_election_from_a_higher_id_is_not_part_of_the_protocol_and_is_ignored():
    b = following(3, 5)
    assert b.receive(arrive(Election, 4, 3, 1), 10) == []


def test_highest_coordinator_answers_an_election_and_announces_itself_again_with_a_new_epoch():
    b, _ = node(5)
    out = b.receive(arrive(Election, 2, 5, 0), 10)
    assert sends(out) == [
        ("Answer", 2, 1),
        ("Coordinator", 1, 2),
        ("Coordinator", 2, 2),
        ("Coordinator", 3, 2),
        ("Coordinator", 4, 2),
    ]
    assert b.role is Role.LEADER and b.term == 2


def test_lower_coordinator_gets_an_election_holds_its_own_and_stops_leading_meanwhile():
    b = leading(3)
    out = b.receive(arrive(Election, 1, 3, 1), 40)
    assert sends(out) == [("Answer", 1, 1), ("Election", 4, 1), ("Election", 5, 1)]
    assert HEARTBEAT in disarmed(out)
    assert b.role is Role.CANDIDATE and b.leader is None


# -- COORDINATOR, and the bully --------------------------------------------------------------


def test_coordinator_from_a_higher_id_is_adopted_and_its_heartbeats_are_watched():
    b, _ = node(2)
    out = b.receive(arrive(Coordinator, 4, 2, 3), 5)
    assert b.leader == 4 and b.role is Role.FOLLOWER and b.term == 3
    assert armed(out) == {SILENCE: CFG.failure_timeout_ms}
    assert ANSWER_WAIT in disarmed(out)
    assert notes(out, "election_lost") == [{"term": 3, "reason": "coordinator 4"}]


def test_coordinator_from_a_lower_id_is_adopted_then_bullied_with_an_election():
    b = following(4, 5)
    out = b.receive(arrive(Coordinator, 2, 4, 2), 20)
    assert b.leader == 2
    assert [e.leader for e in out if type(e) is LeaderChanged] == [2]
    assert sends(out) == [("Election", 5, 2)]
    assert b.role is Role.CANDIDATE and b.phase is Phase.ELECTING


def test_highest_id_bullies_a_lower_coordinator_by_announcing_itself():
    b, _ = node(5)
    out = b.receive(arrive(Coordinator, 3, 5, 4), 20)
    assert sends(out) == [("Coordinator", i, 5) for i in (1, 2, 3, 4)]
    assert b.role is Role.LEADER and b.leader == 5 and b.term == 5


def test_recovering_higher_id_takes_over_from_a_healthy_lower_coordinator():
    four = leading(4)  # 5 was down when 4 won
    assert four.role is Role.LEADER
    five, out = node(5)  # 5 recovers: it holds an election, and nobody is higher
    announcement = [m for m in out if getattr(m, "to", None) == 4][0].msg
    taken = four.receive(arrive(Coordinator, 5, 4, announcement.term), 100)
    assert four.role is Role.FOLLOWER and four.leader == 5
    assert HEARTBEAT in disarmed(taken)
    assert [(e.old, e.new) for e in taken if type(e) is RoleChanged] == [(Role.LEADER, Role.FOLLOWER)]
    assert notes(taken, "election_lost") == [{"term": 1, "reason": "coordinator 5"}]


# -- failure detection ------------------------------------------------------------------------


def test_coordinator_sends_a_heartbeat_to_every_peer_every_heartbeat_interval():
    b = leading(5)
    out = b.fire(HEARTBEAT, 50)
    assert sends(out) == [("Heartbeat", 0, 1)]
    assert armed(out) == {HEARTBEAT: CFG.heartbeat_ms}


def test_heartbeat_from_the_coordinator_restarts_the_failure_timer():
    b = following(2, 5)
    out = b.receive(arrive(Heartbeat, 5, 2, 1), 60)
    assert armed(out) == {SILENCE: CFG.failure_timeout_ms}
    assert sends(out) == []


def test_silent_coordinator_is_suspected_and_an_election_starts():
    b = following(2, 5)
    out = b.fire(SILENCE, 1 + CFG.failure_timeout_ms)
    assert notes(out, "coordinator_suspected") == [{"suspect": 5}]
    assert sends(out) == [("Election", 3, 1), ("Election", 4, 1), ("Election", 5, 1)]
    assert b.leader is None and b.role is Role.CANDIDATE


def test_detection_timer_fired_on_the_coordinator_or_during_an_election_changes_nothing():
    assert leading(5).fire(SILENCE, 10) == []
    b, _ = node(2)
    assert b.fire(SILENCE, 10) == []


def test_heartbeat_from_a_node_below_the_coordinator_is_ignored():
    b = following(2, 5)
    out = b.receive(arrive(Heartbeat, 3, 2, 7), 60)
    assert sends(out) == [] and armed(out) == {}
    assert b.leader == 5 and b.term == 7  # the epoch is still tracked


def test_heartbeat_from_a_node_above_us_and_our_coordinator_counts_as_its_announcement():
    b = following(2, 3)  # e.g. 4's COORDINATOR was lost behind a partition
    out = b.receive(arrive(Heartbeat, 4, 2, 2), 60)
    assert b.leader == 4
    assert armed(out) == {SILENCE: CFG.failure_timeout_ms}
    lead = leading(3)
    lead.receive(arrive(Heartbeat, 5, 3, 2), 60)
    assert lead.role is Role.FOLLOWER and lead.leader == 5


def test_lost_answer_lets_a_lower_id_announce_itself_while_a_higher_id_lives():
    """Outside the model (message loss): T passes without the ANSWER, so node 2 leads next to a live 5."""
    two, _ = node(2)
    five = leading(5)
    five.receive(arrive(Election, 2, 5, 0), 2)  # five answers and re-announces; both are lost on the way
    two.fire(ANSWER_WAIT, T)
    assert two.role is Role.LEADER and five.role is Role.LEADER


def test_status_reports_the_phase_and_the_announced_epoch():
    b, _ = node(3)
    assert b.status() == {"id": 3, "role": "candidate", "term": 0, "leader": None, "phase": "electing", "announced": 0}
    b.fire(ANSWER_WAIT, T)
    assert b.status()["phase"] == "idle" and b.status()["announced"] == 1 and b.status()["role"] == "leader"


def test_bully_has_no_log_and_refuses_commands():
    b = leading(5)
    assert [r.code for r in rejections(b.propose(b"x", 10))] == [NO_LOG]
