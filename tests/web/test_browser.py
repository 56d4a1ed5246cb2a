"""The page in a real browser (headless chromium): what a newcomer does, on the simulator and on real processes."""
from __future__ import annotations

import os
import time

import pytest

from quorumlab.bench.compare import schema
from quorumlab.bench.compare.runner import CompareConfig, run
from quorumlab.bench.compare.runner_sim import SimTransport
from tests.web.conftest import record_figure

pytestmark = pytest.mark.browser

PANEL = "article.panel"


def leader_of(page, panel: int = 0) -> str:
    return page.eval_on_selector_all(PANEL, f"els => els[{panel}].dataset.leader || ''")


def wait_for_leader(page, panel: int = 0, other_than: str = "", timeout_s: float = 20) -> str:
    page.wait_for_function(
        f"() => {{ const p = document.querySelectorAll('{PANEL}')[{panel}];"
        f" return p && p.dataset.leader && p.dataset.leader !== '{other_than}'; }}", timeout=timeout_s * 1000)
    return leader_of(page, panel)


def node(page, node_id: str, panel: int = 0):
    return page.locator(PANEL).nth(panel).locator(f"g.node[data-node='{node_id}'] circle.body")


def click_action(page, node_id: str, action: str, panel: int = 0) -> None:
    node(page, node_id, panel).click(force=True)
    page.locator(PANEL).nth(panel).locator(f".menu button[data-action={action}]").click()


def start_simulation(page, nodes: int = 5, algos: tuple[str, ...] = ("raft",),
                     delay: tuple[int, int] = (10, 30)) -> None:
    page.click("#tabs button[data-tab=sim]")
    for a in ("raft", "paxos", "bully"):
        page.set_checked(f"#form-sim input[value={a}]", a in algos)
    page.fill("#form-sim input[name=nodes]", str(nodes))
    page.fill("#form-sim input[name=delay_lo]", str(delay[0]))
    page.fill("#form-sim input[name=delay_hi]", str(delay[1]))
    page.click("#start-sim")
    page.wait_for_selector(PANEL)


def measure(page, seconds: float) -> dict:
    """The page's own frames per second and event lag, after ``seconds`` of running."""
    time.sleep(seconds)
    return page.evaluate("quorumlab.perf()")


def test_in_the_simulator_a_click_kills_the_leader_and_the_page_shows_the_new_one(page, artifacts):
    start_simulation(page)
    old = wait_for_leader(page)
    page.screenshot(path=artifacts / "sim-leader.png", full_page=True)
    click_action(page, old, "crash")
    new = wait_for_leader(page, other_than=old)
    assert new != old
    assert page.get_attribute(f"{PANEL} g.node[data-node='{old}']", "data-role") == "down"
    time.sleep(0.5)
    page.screenshot(path=artifacts / "sim-new-leader.png", full_page=True)


@pytest.mark.integration
def test_on_real_processes_the_page_starts_a_cluster_kills_the_leader_and_keeps_up_with_its_events(page, artifacts):
    page.click("#tabs button[data-tab=real]")
    page.fill("#form-real input[name=nodes]", "5")
    page.click("#start-real")
    old = wait_for_leader(page, timeout_s=40)
    assert "send/receive events" in page.inner_text(f"{PANEL} .label")
    perf = measure(page, 3)
    page.wait_for_function("() => quorumlab.panels()[0].flightsActive > 0", timeout=5000)  # heartbeats in flight
    legend = page.inner_text("#legend")
    assert "AppendEntries" in legend, legend
    click_action(page, old, "crash")
    new = wait_for_leader(page, other_than=old)
    assert new != old
    time.sleep(1)
    page.screenshot(path=artifacts / "real-new-leader.png", full_page=True)
    record_figure("real_5_nodes", {"fps": round(perf["fps"], 1), "event_lag_ms_median": round(perf["lagMs"], 1),
                                   "load_average": os.getloadavg()[0]})
    # measured and recorded, not a speed target (this machine is shared): here the page must not stall
    assert perf["fps"] >= 5, perf
    assert perf["lagMs"] is not None and perf["lagMs"] < 2000, perf


def test_dragging_the_leader_to_a_side_cuts_it_off_until_heal(page, artifacts):
    start_simulation(page, delay=(2, 6))
    old = wait_for_leader(page)
    box = node(page, old).bounding_box()
    stage = page.locator(f"{PANEL} .stage").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(stage["x"] + stage["width"] * 0.08, stage["y"] + stage["height"] / 2, steps=12)
    page.mouse.up()
    page.wait_for_selector(f"{PANEL} .stage.partitioned")
    new = wait_for_leader(page, other_than=old)
    assert new != old, "the majority elects a leader of its own in a higher term"
    page.screenshot(path=artifacts / "sim-partition.png", full_page=True)
    page.click("#heal")
    page.wait_for_selector(f"{PANEL} .stage:not(.partitioned)")


def test_a_deliberate_mistake_is_labelled_and_the_observers_violation_message_is_shown(page, artifacts):
    page.click("details.mistakes summary")
    page.check("input[name=mistake][value='raft.term_and_vote_in_memory']")
    start_simulation(page, nodes=3)
    assert "DELIBERATELY BROKEN" in page.inner_text(f"{PANEL} .badge")
    wait_for_leader(page)
    page.click("#play")  # pause: the next actions happen at one instant of the simulation
    page.click("#trigger")
    click_action(page, "1", "crash")
    page.wait_for_selector(f"{PANEL} g.node[data-node='1'][data-role=down]")
    click_action(page, "1", "restart")
    page.wait_for_selector(f"{PANEL} .violation:not([hidden])")
    text = page.inner_text(f"{PANEL} .violation")
    assert "INVARIANT VIOLATED" in text and "term went back: node 1" in text and "seed=" in text
    page.screenshot(path=artifacts / "sim-mistake-violation.png", full_page=True)


def test_three_algorithms_side_by_side_go_through_the_same_fault_script(page, artifacts):
    start_simulation(page, algos=("raft", "paxos", "bully"), delay=(2, 6))
    assert page.locator(PANEL).count() == 3
    before = [wait_for_leader(page, k) for k in range(3)]
    page.select_option("#script", "leader-crash")
    page.click("#run-script")
    after = [wait_for_leader(page, k, other_than=before[k]) for k in range(3)]
    assert all(a != b for a, b in zip(after, before))
    time.sleep(0.5)
    page.screenshot(path=artifacts / "sim-side-by-side.png", full_page=True)


def test_a_65_node_simulation_is_drawn_without_stalling_and_its_frame_rate_and_speed_are_recorded(page, artifacts):
    start_simulation(page, nodes=65, delay=(1, 3))
    wait_for_leader(page, timeout_s=30)
    perf = measure(page, 3)
    page.screenshot(path=artifacts / "sim-65-nodes.png", full_page=True)
    record_figure("sim_65_nodes", {"fps": round(perf["fps"], 1), "reached_speed": perf["reachedSpeed"],
                                   "requested_speed": perf["speed"], "load_average": os.getloadavg()[0]})
    # measured and recorded, not a speed target: about 1x and 60 fps on a quiet machine; the simulation is
    # CPU-bound (raft's own observers look at every node after every event) and slows on a loaded one, and the
    # page says so. Here neither may stall.
    assert perf["fps"] >= 5, perf
    assert perf["reachedSpeed"] >= 0.1, perf


def test_a_saved_compare_run_replays_with_a_time_slider(page, artifacts, tmp_path):
    cfg = CompareConfig(("raft",), "sim", (5,), 1, ("crash",), (150, 300), (5, 15), 3)
    schema.dump(run(cfg, SimTransport((5, 15))), tmp_path / "results.json")
    page.click("#tabs button[data-tab=replay]")
    page.fill("#form-replay input[name=path]", str(tmp_path))
    page.click("#open-replay")
    page.check("#trials input[type=checkbox] >> nth=0")
    page.click("#replay-trials")
    page.wait_for_selector(f"{PANEL} .title:has-text('replay')")
    assert "same metrics as recorded" in page.inner_text(f"{PANEL} .label")
    assert leader_of(page) == ""
    page.eval_on_selector("#slider", "s => { s.value = 1000; s.dispatchEvent(new Event('input')); }")
    end = wait_for_leader(page)
    assert page.locator(f"{PANEL} g.node[data-role=down]").count() == 1, "the scenario crashed one leader"
    page.screenshot(path=artifacts / "replay-end.png", full_page=True)
    page.eval_on_selector("#slider", "s => { s.value = 0; s.dispatchEvent(new Event('input')); }")
    page.wait_for_function(f"() => document.querySelector('{PANEL}').dataset.leader === ''")
    page.click("#replay-play")
    wait_for_leader(page)
    assert end


def test_a_saved_bench_check_run_replays_with_its_verdict_and_faults(page, artifacts, tmp_path):
    from quorumlab.bench.check.report import judge, write
    from quorumlab.bench.check.simulated import run_simulated
    from quorumlab.bench.check.spec import CheckSpec

    checked = run_simulated(CheckSpec("raft", nodes=3, clients=3, duration_s=5.0, seed=0, transport="sim",
                                      nemeses=("kill",)))
    report, result = judge(checked)
    write(checked, report, result, tmp_path)
    page.click("#tabs button[data-tab=replay]")
    page.fill("#form-replay input[name=path]", str(tmp_path))
    page.click("#open-replay")
    page.wait_for_selector(f"{PANEL} .title:has-text('replay')")
    label = page.inner_text(f"{PANEL} .label")
    assert "verdict ok" in label and "faults: kill" in label and "operations as recorded" in label
    page.eval_on_selector("#slider", "s => { s.value = 1000; s.dispatchEvent(new Event('input')); }")
    wait_for_leader(page)
    page.screenshot(path=artifacts / "replay-check-end.png", full_page=True)
