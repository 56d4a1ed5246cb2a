"""``bench status``'s table shows each node's snapshot index and log size when its algorithm reports them."""
from __future__ import annotations

from rich.console import Console

from quorumlab.bench.cmd_status import status_table


def rendered(statuses: dict) -> str:
    console = Console(width=200, record=True)
    console.print(status_table(statuses, {1: "tcp://127.0.0.1:7001", 2: "tcp://127.0.0.1:7002"}))
    return console.export_text()


def test_the_table_shows_snapshot_index_and_log_entries():
    text = rendered({1: {"role": "leader", "term": 3, "snapshot_index": 4096, "log_entries": 17}, 2: None})
    header = next(line for line in text.splitlines() if "snapshot" in line)
    assert "log" in header
    row = next(line for line in text.splitlines() if "leader" in line and "7001" in line)
    assert "4096" in row and "17" in row


def test_an_algorithm_without_snapshots_leaves_the_columns_empty():
    text = rendered({1: {"role": "follower", "term": 1}, 2: {"role": "leader", "term": 1}})
    assert "None" not in text
