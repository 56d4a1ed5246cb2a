"""The leader's view of one follower (quorumlab.algorithms.raft.progress), without a Raft node: probe and replicate,
the window bounded by messages and by bytes, and how acknowledgements, rejections and heartbeats move them."""
from __future__ import annotations

from quorumlab.algorithms.raft.progress import Inflights, Progress, ProgressState

PROBE, REPLICATE = ProgressState.PROBE, ProgressState.REPLICATE


def progress(next_index: int = 11, max_count: int = 3, max_bytes: int = 1 << 20) -> Progress:
    return Progress(next_index, Inflights(max_count, max_bytes), heard_at=0)


def replicating(match: int = 10, max_count: int = 3, max_bytes: int = 1 << 20) -> Progress:
    pr = progress(match + 1, max_count, max_bytes)
    pr.acknowledged(match)
    return pr


def send_all(pr: Progress, last_index: int, per_message: int = 2, size: int = 10) -> list[int]:
    """Send as the leader does while the progress allows; the start index of each message sent."""
    starts = []
    while pr.can_send(last_index):
        starts.append(pr.next)
        pr.sent(min(per_message, max(0, last_index - pr.next + 1)), size)
    return starts


# -- the window --------------------------------------------------------------------------------------


def test_window_is_full_at_its_message_count():
    w = Inflights(max_count=2, max_bytes=1000)
    w.add(0, 5, 10)
    assert not w.full()
    w.add(5, 9, 10)
    assert w.full() and len(w) == 2 and w.bytes == 20


def test_window_is_full_once_its_bytes_are_reached_whatever_the_count():
    w = Inflights(max_count=100, max_bytes=100)
    w.add(0, 5, 60)
    assert not w.full()
    w.add(5, 9, 40)
    assert w.full() and len(w) == 2


def test_one_message_larger_than_the_byte_bound_still_fits_an_empty_window():
    w = Inflights(max_count=100, max_bytes=100)
    assert not w.full()
    w.add(0, 1, 5000)
    assert w.full()


def test_window_frees_messages_whose_entries_are_acknowledged_in_send_order():
    w = Inflights(max_count=10, max_bytes=1000)
    for prev, last in ((0, 5), (5, 9), (9, 12)):
        w.add(prev, last, last - prev)
    w.free_to(8)
    assert (len(w), w.bytes, w.first_prev()) == (2, 7, 5), "a message is done only when all it carried is"
    w.free_to(12)
    assert (len(w), w.bytes, w.first_prev()) == (0, 0, None)


def test_window_forgets_one_refused_message_and_keeps_the_others():
    w = Inflights(max_count=10, max_bytes=1000)
    for prev, last in ((0, 5), (5, 9), (9, 12)):
        w.add(prev, last, last - prev)
    w.forget(5)
    assert (len(w), w.bytes, w.first_prev()) == (2, 8, 0)
    w.clear()
    assert (len(w), w.bytes) == (0, 0)


# -- probe ---------------------------------------------------------------------------------------------


def test_progress_starts_probing_just_after_the_leaders_log():
    pr = progress(next_index=11)
    assert (pr.state, pr.match, pr.next) == (PROBE, 0, 11)


def test_progress_in_probe_sends_one_message_at_a_time():
    pr = progress(next_index=5)
    assert send_all(pr, last_index=20) == [5]
    assert pr.next == 5 and len(pr.inflights) == 1, "a probe does not move next"
    assert not pr.can_send(20)


def test_progress_in_probe_sends_a_probe_even_with_nothing_new_to_carry():
    pr = progress(next_index=11)
    assert pr.can_send(last_index=10)


def test_a_refused_probe_moves_next_back_but_never_to_the_match_or_below():
    pr = progress(next_index=11)
    send_all(pr, last_index=10)
    assert not pr.stale_rejection(10)
    pr.probe_from(4)
    assert (pr.next, len(pr.inflights)) == (4, 0)
    pr.acknowledged(2)
    pr.become_probe()
    pr.probe_from(1)
    assert pr.next == 3, "next stays above the match"


def test_a_rejection_of_an_older_probe_is_stale_while_probing():
    pr = progress(next_index=8)
    assert pr.stale_rejection(9) and pr.stale_rejection(6)
    assert not pr.stale_rejection(7), "only the answer to the probe at next - 1 counts"


def test_a_rejection_at_or_below_the_match_is_stale():
    pr = replicating(match=10)
    assert pr.stale_rejection(10) and pr.stale_rejection(3)
    assert not pr.stale_rejection(11)


def test_a_heartbeat_forgets_the_unanswered_probe_so_it_is_sent_again():
    pr = progress(next_index=5)
    send_all(pr, last_index=9)
    assert pr.heartbeat() is True
    assert pr.state is PROBE and len(pr.inflights) == 0 and pr.next == 5
    assert send_all(pr, last_index=9) == [5]


# -- replicate -----------------------------------------------------------------------------------------


def test_an_acknowledgement_moves_the_follower_to_replicate():
    pr = progress(next_index=11)
    send_all(pr, last_index=10)
    assert pr.acknowledged(10) is True
    assert (pr.state, pr.match, pr.next, len(pr.inflights)) == (REPLICATE, 10, 11, 0)


def test_an_acknowledgement_that_does_not_move_the_match_says_so_and_never_lowers_it():
    pr = replicating(match=10)
    assert pr.acknowledged(10) is False and pr.acknowledged(4) is False
    assert pr.match == 10


def test_progress_in_replicate_pipelines_up_to_the_message_window():
    pr = replicating(match=10, max_count=3)
    assert send_all(pr, last_index=100, per_message=5) == [11, 16, 21]
    assert pr.next == 26 and pr.inflights.full()


def test_progress_in_replicate_stops_at_the_byte_window():
    pr = replicating(match=10, max_count=100, max_bytes=25)
    assert send_all(pr, last_index=100, per_message=5, size=10) == [11, 16, 21], "30 bytes: the third filled it"


def test_progress_in_replicate_sends_nothing_when_the_follower_has_everything():
    pr = replicating(match=10)
    assert not pr.can_send(last_index=10)
    assert pr.can_send(last_index=11)


def test_an_acknowledgement_frees_the_window_so_more_can_leave():
    pr = replicating(match=10, max_count=2)
    send_all(pr, last_index=100, per_message=5)
    assert not pr.can_send(100)
    pr.acknowledged(15)
    assert (pr.match, len(pr.inflights)) == (15, 1)
    assert send_all(pr, last_index=100, per_message=5) == [21]


def test_an_acknowledgement_with_nothing_in_flight_after_the_match_resends_from_it():
    pr = replicating(match=10)
    send_all(pr, last_index=100, per_message=5)  # 11-15, 16-20, 21-25
    pr.inflights.forget(10)  # the message right after the match was refused
    pr.acknowledged(10)
    assert (pr.next, len(pr.inflights)) == (11, 0), "nothing in flight continues the match: start again there"


def test_a_rejection_overtaken_by_a_later_message_forgets_only_that_message():
    pr = replicating(match=10)
    send_all(pr, last_index=100, per_message=5)  # at prev 10, 15, 20
    assert pr.forget_if_overtaken(15) is True
    assert (pr.state, pr.next, len(pr.inflights)) == (REPLICATE, 26, 2)
    assert pr.forget_if_overtaken(10) is False, "the oldest message in flight was refused: not overtaken"


def test_a_rejection_while_replicating_goes_back_to_probe_from_the_match():
    pr = replicating(match=10)
    send_all(pr, last_index=100, per_message=5)
    pr.become_probe()
    assert (pr.state, pr.next, len(pr.inflights)) == (PROBE, 11, 0)


def test_a_heartbeat_after_progress_keeps_the_follower_replicating():
    pr = replicating(match=10)
    send_all(pr, last_index=100, per_message=5)
    assert pr.heartbeat() is False  # marks match 10
    pr.acknowledged(15)
    assert pr.heartbeat() is False and pr.state is REPLICATE


def test_a_heartbeat_finding_no_progress_with_messages_in_flight_probes_again():
    pr = replicating(match=10)
    assert pr.heartbeat() is False
    send_all(pr, last_index=100, per_message=5)
    assert pr.heartbeat() is True, "match did not move for a whole interval: the messages were lost"
    assert (pr.state, pr.next, len(pr.inflights)) == (PROBE, 11, 0)


def test_a_heartbeat_with_nothing_in_flight_is_not_a_stall():
    pr = replicating(match=10)
    assert pr.heartbeat() is False and pr.heartbeat() is False


# -- a new leader's optimistic start -----------------------------------------------------------------


def test_a_new_leaders_progress_pipelines_from_next_before_any_answer():
    pr = progress(next_index=11)
    pr.replicate_optimistically()
    assert send_all(pr, last_index=14, per_message=2) == [11, 13]
    assert (pr.state, pr.match, pr.optimistic) == (REPLICATE, 0, 11)


def test_an_optimistic_progress_that_stalls_probes_again_from_where_it_started_not_from_the_match():
    pr = progress(next_index=11)
    pr.replicate_optimistically()
    send_all(pr, last_index=14)
    pr.heartbeat()
    assert pr.heartbeat() is True
    assert (pr.state, pr.next, len(pr.inflights)) == (PROBE, 11, 0)


def test_an_answer_ends_the_optimism_and_a_later_stall_probes_from_the_match():
    pr = progress(next_index=11)
    pr.replicate_optimistically()
    send_all(pr, last_index=14)
    pr.acknowledged(12)
    assert pr.optimistic == 0
    pr.become_probe()
    assert pr.next == 13


def test_a_probe_from_a_hint_may_go_below_where_the_optimism_started():
    pr = progress(next_index=11)
    pr.replicate_optimistically()
    send_all(pr, last_index=14)
    pr.probe_from(4)
    assert (pr.state, pr.next, pr.optimistic, len(pr.inflights)) == (PROBE, 4, 0, 0)
