"""Micro-benchmark of a 5-voter election tally (construct, then 5 votes), both twins.

Target (issue 2): under 200 ns per recorded vote (the time per vote reported here includes building the tally).
"""
from __future__ import annotations

import importlib

import pytest

from quorumlab.core import quorum_py

try:
    _compiled = importlib.import_module("quorumlab.core._quorum")
except ImportError:
    _compiled = None

TWINS = [
    pytest.param(_compiled, id="compiled", marks=pytest.mark.skipif(_compiled is None, reason="quorumlab.core._quorum is not built")),
    pytest.param(quorum_py, id="python"),
]
VOTERS = (1, 2, 3, 4, 5)


@pytest.mark.benchmark(group="vote tally, 5-voter election (5 votes)")
@pytest.mark.parametrize("q", TWINS)
def test_vote_tally_five_voter_election(benchmark, q):
    VoteTally = q.VoteTally

    def election():
        t = VoteTally(VOTERS)
        t.record(2, True)
        t.record(3, False)
        t.record(4, True)
        t.record(5, False)
        return t.record(1, True)

    assert benchmark(election) == q.WON
    benchmark.extra_info["votes_per_round"] = 5
