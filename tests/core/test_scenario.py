"""The scenario runner's own rules: the file format, the trace's forms, rewriting, and how a mismatch reads."""
from __future__ import annotations

from pathlib import Path

import pytest

from quorumlab.algorithms.raft import AppendEntries, AppendEntriesResponse, RequestVote
from quorumlab.core.scenario import ScriptError, check_file, run_file
from quorumlab.core.scenario.script import parse
from quorumlab.core.scenario.trace import message
from quorumlab.core.testing import arrive
from tests.raft.mistakes import MISTAKES

QUIET = "cluster raft 3 election_timeout_min=10000 election_timeout_max=20000 heartbeat_interval=1000"


def story(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "story.txt"
    path.write_text(text)
    return path


def test_stanzas_are_commands_a_separator_and_output_up_to_a_blank_line_with_comments_anywhere():
    script = parse("s.txt", "# title\n\ncampaign 1  # node 1 first\n# aside\nstabilize\n----\na\nb\n\nstatus\n----\nc\n")
    first, second = script.stanzas
    assert [(c.line, c.word, c.args) for c in first.commands] == [(3, "campaign", ["1"]), (5, "stabilize", [])]
    assert first.expected == ["a", "b"] and second.expected == ["c"]


def test_a_separator_without_a_command_is_an_error_naming_its_line():
    with pytest.raises(ScriptError, match=r"s\.txt:3: ---- without a command"):
        parse("s.txt", "# only a comment\n\n----\nok\n")


def test_messages_print_their_term_and_fields_leaving_out_zeros_but_never_booleans():
    vote = arrive(RequestVote, 1, 2, 2, last_log_index=1, last_log_term=1)
    assert message(1, 2, vote) == "1->2 RequestVote term=2 last_log_index=1 last_log_term=1"
    append = arrive(AppendEntries, 1, 3, 3, prev_log_index=1, prev_log_term=1, entries=[(1, 2, b"x"), (3, 3, b"")])
    assert message(1, 3, append) == "1->3 AppendEntries term=3 prev_log_index=1 prev_log_term=1 entries=[2@1:x 3@3]"
    refusal = arrive(AppendEntriesResponse, 3, 1, 3, success=False)
    assert message(3, 1, refusal) == "3->1 AppendEntriesResponse term=3 success=false"


def test_rewrite_fills_in_outputs_and_keeps_everything_else(tmp_path):
    path = story(tmp_path, f"# keep me\n{QUIET}\n----\nstale\n\ncampaign 1\n\n# and me\nstatus 2\n----\n")
    check_file(path, rewrite=True)
    assert path.read_text() == (
        f"# keep me\n{QUIET}\n----\nok\n\ncampaign 1\n----\n"
        "1: follower->candidate, term 0->1\n1: election_started term=1\n1: vote_granted term=1 candidate=1\n\n"
        "# and me\nstatus 2\n----\n2: follower term=0 leader=none voted_for=none last_log_index=0 last_log_term=0 "
        "commit_index=0 last_applied=0 durable_index=0\n"
    )
    check_file(path, rewrite=False)


def test_a_mismatch_fails_with_a_diff_naming_the_file_and_line(tmp_path):
    path = story(tmp_path, f"{QUIET}\n----\nok\n\ncampaign 1\n----\n1: follower->leader, term 0->1\n")
    with pytest.raises(AssertionError) as failure:
        check_file(path, rewrite=False)
    report = str(failure.value)
    assert f"{path}:5: the output of\n  campaign 1\ndiffers:" in report
    assert "-1: follower->leader, term 0->1\n+1: follower->candidate, term 0->1" in report
    assert "QUORUMLAB_REWRITE=1 rewrites the file" in report


def test_a_stanza_without_expected_output_fails_until_rewritten(tmp_path):
    path = story(tmp_path, f"{QUIET}\n")
    with pytest.raises(AssertionError, match=r"story\.txt:1: no expected output"):
        check_file(path, rewrite=False)


def test_a_command_that_cannot_run_names_its_line_and_what_is_known(tmp_path):
    with pytest.raises(ScriptError, match=r"story\.txt:2: elect 1: unknown command 'elect'; commands: .*campaign"):
        run_file(story(tmp_path, f"{QUIET}\nelect 1\n"))
    with pytest.raises(ScriptError, match=r"story\.txt:2: stabilize limit=2: stabilize takes no option limit"):
        run_file(story(tmp_path, f"{QUIET}\nstabilize limit=2\n"))
    with pytest.raises(ScriptError, match=r"RaftConfig has no field 'pre_votes'"):
        run_file(story(tmp_path, "cluster raft 3 pre_votes=true\n"))


def test_messages_wait_in_flight_and_one_to_a_crashed_node_is_shown_lost(tmp_path):
    outcome = run_file(story(tmp_path, f"{QUIET}\ncampaign 1\ncrash 3\ndeliver 1->3\ninflight\n"))
    assert outcome.outputs[0][-2:] == ["1->3 RequestVote term=1 (lost: 3 is down)", "1->2 RequestVote term=1"]


def test_a_safety_violation_is_printed_where_it_happens_and_the_story_goes_on(tmp_path):
    double_vote = (
        f"{QUIET} mistake=keeps-term-and-vote-in-memory\ncampaign 1\ndeliver 1->3\ndrop\n"
        "crash 3\nrestart 3\ncampaign 2\ndeliver 2->3\ndeliver 3->2\nstatus 2\n"
    )
    outcome = run_file(story(tmp_path, double_vote), mistakes=MISTAKES)
    lines = outcome.outputs[0]
    assert "  VIOLATION vote once: node 3 voted for 1 and then for 2 in term 1" in lines
    assert lines[-1].startswith("2: leader term=1")
    assert outcome.unexpected == []


class Forgetful(MISTAKES["keeps-term-and-vote-in-memory"]):
    """A broken raft loaded as module:Class, not named as a mistake: the runner takes it for a correct algorithm."""


def test_a_safety_violation_of_a_correct_algorithm_fails_the_check_even_once_rewritten(tmp_path):
    path = story(tmp_path, f"{QUIET.replace('raft', 'tests.core.test_scenario:Forgetful')}\ncampaign 1\n"
                 "deliver 1->3\ndrop\ncrash 3\nrestart 3\ncampaign 2\ndeliver 2->3\n")
    for rewrite in (True, False):
        with pytest.raises(AssertionError, match=r"safety violated by an algorithm run without mistake=:\n.*:8: vote once"):
            check_file(path, rewrite=rewrite)
    assert "VIOLATION vote once" in path.read_text()


def test_stories_run_on_any_registered_algorithm(tmp_path):
    outcome = run_file(story(tmp_path, "cluster lowest 2\nrun 200\nstatus\n"))
    assert outcome.outputs[0][-2:] == ["1: leader term=1 leader=1", "2: follower term=1 leader=1"]


def test_a_test_suite_adds_its_own_commands(tmp_path):
    def shout(s, a):
        """shout <word>: says it louder."""
        s.say(a.word(0, "word").upper())

    assert run_file(story(tmp_path, "shout hello\n"), commands={"shout": shout}).outputs == [["HELLO"]]


def test_propose_takes_the_rest_of_the_line_as_the_command(tmp_path):
    outcome = run_file(story(tmp_path, "cluster raft 1\ncampaign 1\npropose 1 set x=1\n"))
    assert outcome.outputs[0][-2:] == ["1: proposed index=2 term=1 count=1", "1: apply 2@1:b'set x=1'"]
