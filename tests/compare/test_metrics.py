"""Metric extraction from hand-made event streams: what each number means, case by case."""
from __future__ import annotations

from quorumlab.bench.compare import metrics as M
from quorumlab.bench.compare.stats import percentile, summarize

IDS = (1, 2, 3, 4, 5)


def role(t, node, to, term, frm="follower"):
    return {"t": t, "node": node, "kind": "role", "from": frm, "to": to, "term": term}


def leader(t, node, who, term):
    return {"t": t, "node": node, "kind": "leader", "leader": who, "term": term}


def note(t, node, kind, term, **extra):
    return {"t": t, "node": node, "kind": kind, "term": term, **extra}


def mark(t, node, kind):
    return {"t": t, "node": node, "kind": kind}


def elected(t, winner, term, followers=IDS, started_at=None):
    """A full election of ``winner`` in ``term``: started, role changes, won, every follower learns it at t."""
    evs = [note(started_at if started_at is not None else t - 10, winner, "election_started", term),
           role(started_at if started_at is not None else t - 10, winner, "candidate", term)]
    evs += [role(t, winner, "leader", term, frm="candidate"), note(t, winner, "election_won", term), leader(t, winner, winner, term)]
    evs += [leader(t, f, winner, term) for f in followers if f != winner]
    return sorted(evs, key=lambda e: e["t"])


def test_cold_start_agreement_is_when_the_last_node_learns_the_leader():
    evs = elected(100, 3, 1, followers=(4, 5))
    evs.append(leader(130, 1, 3, 1))
    evs.append(leader(120, 2, 3, 1))
    evs.sort(key=lambda e: e["t"])
    assert M.first_time(evs, IDS, 0, M.sole_leader(IDS)) == 130


def test_failover_time_counts_from_the_fault_to_a_majority_following_a_new_leader():
    evs = elected(100, 1, 1)
    evs.append(mark(500, 1, "crash"))
    evs += elected(700, 2, 2, followers=(3,), started_at=680)
    evs += [leader(720, 4, 2, 2), leader(740, 5, 2, 2)]
    evs.sort(key=lambda e: e["t"])
    pred = M.agreement((2, 3, 4, 5), M.majority(5), exclude=(1,))
    # leader 2 + follower 3 = 2 at t=700; node 4 at 720 makes 3 = majority of 5
    assert M.first_time(evs, IDS, 500, pred) == 720
    assert M.first_event(evs, "election_started", 500)["t"] == 680


def test_old_leader_never_counts_as_the_new_one():
    evs = elected(100, 1, 1)
    pred = M.agreement((1, 2, 3, 4, 5), 3, exclude=(1,))
    assert M.first_time(evs, IDS, 200, pred) is None


def test_agreement_already_true_at_since_is_reported_at_since():
    evs = elected(100, 1, 1)
    assert M.first_time(evs, IDS, 300, M.sole_leader(IDS)) == 300


def test_two_leaders_at_once_are_counted_and_their_terms_told_apart():
    evs = elected(100, 1, 1)
    evs.append({"t": 400, "node": 0, "kind": "partition", "groups": [[1, 2], [3, 4, 5]]})
    evs += elected(600, 3, 2, followers=(4, 5))
    evs.append(role(800, 1, "follower", 2, frm="leader"))
    evs.sort(key=lambda e: e["t"])
    assert M.max_leaders(evs, IDS, 400, 900) == (2, 1)
    assert M.max_leaders(evs, IDS, 850, 900) == (1, 1)


def test_two_leaders_in_the_same_term_are_reported_as_a_safety_breach():
    evs = [role(10, 1, "leader", 4), role(10, 2, "leader", 4)]
    assert M.max_leaders(evs, IDS, 0, 100) == (2, 2)


def test_a_handover_inside_one_millisecond_is_not_two_leaders():
    evs = elected(100, 1, 1)
    evs += [role(300, 2, "leader", 2, frm="candidate"), role(300, 1, "follower", 2, frm="leader")]
    assert M.max_leaders(evs, IDS, 200, 400) == (1, 1)


def test_a_crashed_leader_stops_counting_as_leader():
    evs = elected(100, 1, 1) + [mark(200, 1, "crash")]
    assert M.view_at(evs, IDS, 250).leaders() == []
    assert M.view_at(evs, IDS, 150).leaders() == [(1, 1)]


def test_a_paused_leader_still_counts_as_leader():
    evs = elected(100, 1, 1) + [mark(200, 1, "pause")]
    assert M.view_at(evs, IDS, 250).leaders() == [(1, 1)]


def test_leader_change_on_rejoin_is_counted():
    evs = elected(100, 5, 1)
    evs.append(mark(300, 5, "crash"))
    evs += elected(600, 4, 2)
    evs.append(mark(900, 5, "restart"))
    evs += elected(950, 5, 3, started_at=905)
    evs.sort(key=lambda e: e["t"])
    assert M.leader_changes(evs, 900, 2000) == 1
    assert M.leader_changes(evs, 700, 899) == 0


def test_rejoin_without_disruption_counts_no_change():
    evs = elected(100, 1, 1) + [mark(300, 1, "crash")] + elected(600, 2, 2)
    evs += [mark(900, 1, "restart"), leader(920, 1, 2, 2)]
    evs.sort(key=lambda e: e["t"])
    assert M.leader_changes(evs, 900, 2000) == 0
    assert M.first_time(evs, IDS, 900, M.sole_leader(IDS)) == 920


def test_takeover_in_the_same_millisecond_as_the_rejoin_is_counted():
    evs = elected(100, 4, 1) + [mark(300, 5, "restart")] + elected(300, 5, 2, started_at=300)
    evs.sort(key=lambda e: e["t"])
    assert M.leader_changes(evs, 300, 2000) == 1


def test_rounds_are_the_distinct_terms_of_election_started_notes():
    evs = [note(10, 1, "election_started", 2), note(10, 2, "election_started", 2), note(12, 3, "election_started", 2),
           note(200, 2, "election_started", 3), note(400, 4, "election_started", 4)]
    assert M.rounds(evs, 0, 300) == 2
    assert M.elections_started(evs, 0, 300) == 4
    assert M.rounds(evs, 0, 1000) == 3
    assert M.rounds(evs, 500, 1000) == 0


def test_bully_restarts_inside_one_epoch_count_as_rounds():
    # node 2 starts, times out waiting for a COORDINATOR and restarts twice, all in epoch 7
    evs = [note(10, 2, "election_started", 7), note(12, 1, "election_started", 7),
           note(150, 2, "election_started", 7), note(290, 2, "election_started", 7)]
    assert M.rounds(evs, 0, 1000) == 3
    assert M.elections_started(evs, 0, 1000) == 4


def test_win_ms_runs_from_the_winners_last_start_to_its_win():
    evs = [note(100, 2, "election_started", 5), note(300, 2, "election_started", 6),
           note(305, 3, "election_started", 6), note(340, 2, "election_won", 6)]
    assert M.win_ms(evs, 2, 0, 1000) == 40
    assert M.win_ms(evs, 3, 0, 1000) is None
    assert M.win_ms([note(340, 2, "election_won", 6)], 2, 0, 1000) is None


def test_win_ms_accepts_a_win_announced_in_the_next_term():
    # bully starts an election in its current epoch and announces victory in the next one
    evs = [note(100, 4, "election_started", 7), note(130, 4, "election_won", 8)]
    assert M.win_ms(evs, 4, 0, 1000) == 30


def test_a_resumed_old_leader_is_stale_until_it_steps_down():
    evs = elected(100, 1, 1) + [mark(200, 1, "pause")] + elected(500, 2, 2, followers=(3, 4, 5))
    evs += [mark(1200, 1, "resume"), role(1250, 1, "follower", 2, frm="leader")]
    evs.sort(key=lambda e: e["t"])
    assert M.first_time(evs, IDS, 1200, M.uncontested(1)) == 1250
    assert M.first_time(evs, IDS, 1300, M.uncontested(1)) == 1300


def test_a_resumed_old_leader_that_the_others_yield_to_is_stale_until_they_do():
    # bully: the highest id comes back and the interim leader steps aside for it
    evs = elected(100, 5, 1) + [mark(200, 5, "pause")] + elected(500, 4, 2, followers=(1, 2, 3))
    evs += [mark(1200, 5, "resume"), role(1230, 4, "follower", 2, frm="leader")]
    evs.sort(key=lambda e: e["t"])
    assert M.first_time(evs, IDS, 1200, M.uncontested(5)) == 1230


def test_messages_are_counted_between_two_instants_of_the_counter_series():
    series = [(0, 0, 0), (100, 10, 1000), (200, 14, 1400), (250, 20, 2000)]
    assert M.sent_between(series, 200, 250) == (10, 1000)
    assert M.sent_between(series, 150, 240) == (4, 400)
    assert M.sent_between(series, 0, 300) == (20, 2000)


def test_summary_is_median_nearest_rank_p90_and_max():
    s = summarize([5, 1, None, 3, 2, 4, 6, 7, 8, 9, 10])
    assert s == {"n": 10, "median": 5.5, "p90": 9, "max": 10, "min": 1}
    assert summarize([None]) == {"n": 0, "median": None, "p90": None, "max": None, "min": None}
    assert percentile([1, 2, 3], 90) == 3


def test_a_leader_learning_a_higher_term_is_not_a_leader_of_that_term():
    # the base class records the term change just before the step-down; on real processes they are
    # stamped a few microseconds apart, which must not look like two leaders of term 2
    evs = elected(100, 1, 1) + elected(300, 4, 2, followers=(3, 5))
    evs += [{"t": 500.1, "node": 1, "kind": "term", "from": 1, "to": 2}, role(500.2, 1, "follower", 2, frm="leader")]
    evs.sort(key=lambda e: e["t"])
    assert M.max_leaders(evs, IDS, 200, 600) == (2, 1)


def test_runtime_counters_count_every_send_asked_for_including_to_unreachable_peers():
    snap = {"sent": {"Vote": 3, "Beat": 4}, "bytes_sent": {"Vote": 90, "Beat": 40}, "dropped_unreachable": 2}
    assert M.counter_totals(snap) == (9, 130)


def test_runtime_counter_snapshots_restart_from_zero_with_each_process():
    evs = [{"t": 10, "node": 1, "kind": "started"},
           {"t": 50, "node": 1, "kind": "counters", "counters": {"sent": {"Beat": 5}, "bytes_sent": {"Beat": 50}}},
           {"t": 60, "node": 2, "kind": "counters", "counters": {"sent": {"Beat": 7}, "bytes_sent": {"Beat": 70}}},
           {"t": 90, "node": 1, "kind": "started"}]
    assert M.counts_before(evs, 80) == {1: (5, 50), 2: (7, 70)}
    assert M.counts_before(evs, 100) == {1: (0, 0), 2: (7, 70)}
    assert M.sent_since(M.counts_before(evs, 80), {1: (9, 90), 2: (7, 70)}) == (4, 40)


def test_agreement_already_true_at_since_is_reported_at_since_even_with_later_events():
    evs = elected(100, 1, 1) + [note(400, 2, "election_started", 2)]
    assert M.first_time(evs, IDS, 300, M.sole_leader(IDS)) == 300


def test_a_leader_counts_itself_without_naming_itself_leader():
    # a plugin need not emit a leader event for itself: its role makes it a follower of itself
    evs = [role(100, 2, "leader", 1, frm="candidate")] + [leader(110, f, 2, 1) for f in (1, 3)]
    assert M.first_time(evs, IDS, 0, M.agreement(IDS, 3)) == 110


def test_win_ms_of_a_win_in_the_same_millisecond_as_its_start_is_zero():
    # bully's highest live id announces at once
    evs = [note(100, 5, "election_started", 3), note(200, 5, "election_started", 3), note(200, 5, "election_won", 4)]
    assert M.win_ms(evs, 5, 0, 1000) == 0


def test_elections_started_at_the_window_start_count():
    # contention: the triggered timers start every election in the trigger's own millisecond
    evs = [note(500, i, "election_started", 7) for i in (2, 3, 4)]
    assert (M.rounds(evs, 500, 600), M.elections_started(evs, 500, 600)) == (1, 3)
