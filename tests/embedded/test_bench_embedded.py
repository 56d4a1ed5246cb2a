"""`bench throughput --embedded` and `--leader-changes`: the driver inside the leader's process, briefly."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from quorumlab.bench.cli import main
from tests.embedded.support import our_threads

pytestmark = pytest.mark.integration


def test_the_embedded_throughput_and_a_leader_change_are_measured():
    result = CliRunner().invoke(main, ["throughput", "--embedded", "--duration", "0.5", "--outstanding", "50",
                                       "--leader-changes", "1", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    run = doc["throughput"][0]
    assert run["embedded"] is True and run["ops"] > 20 and run["errors"] == 0, run
    ceiling = doc["throughput"][1]
    assert ceiling["ceiling"] is True and ceiling["ops"] > run["ops"] and ceiling["errors"] == 0, ceiling
    trial = doc["leader_changes"]["trials"][0]
    assert trial["ms"] > 0 and trial["new_leader"] != 2
    assert not our_threads()


def test_the_embedded_node_measured_as_a_follower_forwards_every_command():
    result = CliRunner().invoke(main, ["throughput", "--embedded", "--embedded-follower", "--duration", "0.5",
                                       "--outstanding", "20", "--json"])
    assert result.exit_code == 0, result.output
    at_follower = next(r for r in json.loads(result.stdout) if r.get("follower"))
    assert "forwarded" in at_follower["system"] and at_follower["ops"] > 20 and at_follower["errors"] == 0
    assert not our_threads()


@pytest.mark.parametrize("args", [["--leader-changes", "1"], ["--embedded", "--batch", "10"], ["--embedded-follower"],
                                  ["--embedded", "--reads", "stale"]])
def test_options_that_do_not_go_with_embedded_are_refused(args):
    result = CliRunner().invoke(main, ["throughput", *args])
    assert result.exit_code == 2 and "embedded" in result.output
