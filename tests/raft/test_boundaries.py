"""Raft at its boundaries: what a leader lets in (sizes, the uncommitted budget) so that everything it accepts can travel."""
from __future__ import annotations

import pytest

from quorumlab.algorithms.raft import AppendEntries, AppendEntriesResponse, RaftConfig
from quorumlab.core import codec
from quorumlab.core.effects import BUSY, INVALID
from quorumlab.core.errors import ConfigError
from quorumlab.core.limits import MAX_COMMAND_BYTES, MAX_FRAME_BYTES, fits_one_message
from quorumlab.core.testing import arrive, flush_persists, proposals, rejections
from tests.raft.helpers import elect, make_node


def _leader(**config):
    node, _ = make_node(1, (1, 2, 3), config=RaftConfig(**config))
    flush_persists(node.storage, elect(node))
    flush_persists(node.storage, node.fire("flush", 0))
    return node


def test_a_command_too_big_for_one_message_is_refused_before_anything_is_appended():
    node = _leader()
    last = node.log.last_index
    effects = node.propose(b"x" * (MAX_COMMAND_BYTES + 1), 1)
    (refusal,) = rejections(effects)
    assert refusal.code == INVALID and f"over the {MAX_COMMAND_BYTES}-byte limit" in refusal.reason
    assert refusal.leader == 1
    assert node.log.last_index == last
    assert rejections(node.propose_many([b"ok", b"x" * (MAX_COMMAND_BYTES + 1)], 1))
    assert node.log.last_index == last, "a batch with one oversized command is refused whole"


def test_the_largest_command_fits_one_append_entries_with_its_headers():
    assert fits_one_message(MAX_COMMAND_BYTES, 1)
    assert not fits_one_message(MAX_COMMAND_BYTES + 1, 1)
    biggest = AppendEntries(term=2**40, prev_log_index=2**40, prev_log_term=2**40, leader_commit=2**40,
                            read_round=2**40, entries=[(2**40, 2**40 + 1, b"x" * MAX_COMMAND_BYTES)])
    assert len(codec.encode(biggest)) <= MAX_FRAME_BYTES


def test_a_leader_answers_busy_past_its_uncommitted_budget_and_lets_commands_in_again_once_they_commit():
    node = _leader(max_uncommitted_bytes=100)
    assert proposals(node.propose(b"a" * 80, 1))
    (busy,) = rejections(node.propose(b"b" * 30, 1))
    assert busy.code == BUSY and busy.reason.startswith("busy: 80 bytes") and busy.leader == 1
    flush_persists(node.storage, node.fire("flush", 2))
    node.receive(arrive(AppendEntriesResponse, 2, 1, node.term, success=True, match_index=node.log.last_index,
                     hint_index=node.log.last_index), 3)
    assert node.commit_index == node.log.last_index
    assert proposals(node.propose(b"b" * 30, 4))


def test_one_proposal_is_let_in_when_nothing_is_uncommitted_even_past_the_budget():
    node = _leader(max_uncommitted_bytes=10)
    assert proposals(node.propose(b"c" * 50, 1)), "else a command above the budget could never be written"


def test_batch_settings_that_could_overflow_one_message_are_refused_naming_both_fields():
    with pytest.raises(ConfigError, match=r"max_batch_bytes .*max_batch_entries .* " + str(MAX_FRAME_BYTES)):
        RaftConfig(max_batch_bytes=16 << 20, max_batch_entries=1024)
