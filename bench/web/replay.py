"""Saved runs for the time slider: nodes' events.jsonl files, a ``bench compare`` folder, or a ``bench check``
folder (a simulated check runs again from its spec, exactly; one on real processes replays its nodes' events).

A compare folder keeps each trial's seed, config and network, not its events; a simulator trial
is therefore replayed by running it again (the simulator is deterministic), with the messages
and timers recorded exactly, and checked against the metrics the folder recorded. Trials on
real processes kept no events and cannot be replayed. Event files replay what the nodes wrote:
role, term, leader, votes, applies and counters (messages are not in the files).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from quorumlab.core import registry
from quorumlab.core.errors import UnknownAlgorithmError
from quorumlab.core.observers import Observer
from quorumlab.core.sim import Simulation

from quorumlab.bench.compare import schema
from quorumlab.bench.compare.runner_sim import SimDriver
from quorumlab.bench.compare.scenarios import SCENARIOS, TrialContext
from quorumlab.bench.web.flights import FlightRecorder
from quorumlab.bench.web.statuses import StatusSampler

MAX_EVENTS = 200_000
"""A replay larger than this is cut (the page holds the whole run to seek in it)."""
MAX_MESSAGES = 200_000
"""A simulator trial that sends more is not replayed: the page could not hold its flights."""


class ReplayError(ValueError):
    """A path that holds no replayable run; the message says what was expected."""


def event_files(path: Path) -> list[Path]:
    """The events.jsonl files at ``path``: the file itself, or any up to two folders below it."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ReplayError(f"{path} does not exist")
    found = sorted({*path.glob("events.jsonl"), *path.glob("*/events.jsonl"), *path.glob("*/*/events.jsonl")})
    if not found:
        raise ReplayError(f"{path} holds no events.jsonl (a LocalCluster data dir has <dir>/<id>/events.jsonl) "
                          "and no results.json of `bench compare`")
    return found


def load_event_files(path: Path) -> dict[str, Any]:
    """The run recorded in the event files at ``path``, merged in time order."""
    events: list[dict] = []
    for file in event_files(path):
        with open(file, "rb") as fh:
            for line in fh:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a line cut short by SIGKILL
                if isinstance(event, dict) and isinstance(event.get("t"), (int, float)) and "node" in event:
                    events.append(event)
    if not events:
        raise ReplayError(f"the event files at {path} hold no events")
    events.sort(key=lambda e: e["t"])
    cut = len(events) > MAX_EVENTS
    events = events[:MAX_EVENTS]
    algos = sorted({e["algo"] for e in events if e["kind"] == "started" and "algo" in e})
    ids = sorted({e["node"] for e in events if e["node"]})
    timer = ""
    if algos:
        try:
            timer = registry.load(algos[0]).detection_timer
        except UnknownAlgorithmError:
            pass
    note = f"the first {MAX_EVENTS} events" if cut else f"{len(events)} events"
    return {"algo": "+".join(algos) or "?", "ids": ids, "timer": timer, "events": events, "flights": [],
            "timers": [], "statuses": [], "exact": False,
            "label": f"{path}: {note}; messages are not in event files (their counters are)"}


def compare_trials(folder: Path) -> list[dict[str, Any]]:
    """The trials of a ``bench compare`` folder, each saying whether it can be replayed."""
    results = _results(folder)
    transport = results["config"]["transport"]
    return [{"index": k, "algo": t["algo"], "scenario": t["scenario"], "nodes": t["nodes"], "trial": t["trial"],
             "seed": t["seed"], "ok": t["ok"], "replayable": transport == "sim"}
            for k, t in enumerate(results["trials"])]


def _results(folder: Path) -> dict[str, Any]:
    if not (folder / "results.json").is_file():
        raise ReplayError(f"{folder} has no results.json: give a `bench compare --out` folder")
    try:
        return schema.load(folder)
    except ValueError as exc:
        raise ReplayError(str(exc)) from None


class _MessageBudget(Observer):
    """Stops a replay whose trial sends more than MAX_MESSAGES messages (bully on 65 nodes sends millions)."""

    def after_event(self, sim: Any) -> None:
        if sim.stats.sent > MAX_MESSAGES:
            raise ReplayError(f"this trial sends over {MAX_MESSAGES} messages: too many to replay in the page")


class _RecordedSimDriver(SimDriver):
    """The compare driver, with the web recorders among the observers from the first instant."""

    def __init__(self, *args: Any, observers: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extra = observers

    def start(self, fresh: bool = False) -> float:
        observers = [*self.algo.safety_observers(), self._counter, *self.extra]
        self.sim = Simulation(self.algo, self.nodes, seed=self.seed, config=self.config, network=self.network,
                              observers=observers, connection_hints=self.connection_hints)
        return 0


def replay_trial(folder: Path, index: int) -> dict[str, Any]:
    """Run simulator trial ``index`` of a compare folder again, recording everything the page shows."""
    results = _results(folder)
    cfg = results["config"]
    if cfg["transport"] != "sim":
        raise ReplayError("this run was on real processes: `bench compare` keeps no events of those, so only "
                          "simulator trials (--transport sim) can be replayed")
    try:
        trial = results["trials"][index]
    except IndexError:
        raise ReplayError(f"no trial {index}: the folder has {len(results['trials'])}") from None
    cls = registry.load(trial["algo"].split(" (")[0])  # a variant's label: "raft (hints)"
    recorded = results["algorithms"][trial["algo"]]["config"]
    config = cls.Config.from_strings({k: _as_string(v) for k, v in recorded.items()})
    latency = tuple(cfg["latency_ms"])
    recorder = FlightRecorder(latency, cls.detection_timer)
    sampler = StatusSampler()
    driver = _RecordedSimDriver(cls, trial["nodes"], config, trial["seed"], latency,
                                observers=[_MessageBudget(), recorder, sampler])
    driver.connection_hints = "hints" in cfg  # runs recorded before the simulator gave crash hints had none
    ctx = TrialContext(tuple(cfg["detect_ms"]), cls.detection_timer)
    try:
        metrics = {k: _rounded(v) for k, v in SCENARIOS[trial["scenario"]].run(driver, ctx).items()}
        error = None
    except ReplayError:
        raise
    except Exception as exc:  # the recorded trial may have failed too: show what happened up to there
        metrics, error = {}, f"{type(exc).__name__}: {exc}"
    sim = driver.sim
    sim.run_for(latency[1] + 1)  # settle the last messages' fates
    same = error is None and all(trial["metrics"].get(k) == v for k, v in metrics.items())
    check = ("same metrics as recorded" if same else
             f"differs from the record (recorded {trial['metrics']}, now {metrics or error}): "
             "the code changed since this run")
    flights = sorted(recorder.flights, key=lambda f: f[3])
    return {"algo": trial["algo"], "ids": list(sim.ids), "timer": cls.detection_timer, "events": sim.events,
            "flights": flights, "timers": recorder.timers, "statuses": sampler.samples, "exact": True,
            "label": f"{trial['scenario']} · {trial['algo']} · n={trial['nodes']} · trial {trial['trial']} · "
                     f"seed {trial['seed']}: {check}"}


def replay_check(folder: Path) -> dict[str, Any]:
    """A ``bench check --out`` folder: a simulated run is run again from its spec (the simulator is deterministic)
    with the recorders attached and compared with the recorded operation count; a run on real processes replays
    the events.jsonl it kept. The faults it injected and its verdict are in the label."""
    from quorumlab.bench.check.simulated import NETWORK, run_simulated
    from quorumlab.bench.check.spec import CheckSpec

    try:
        report = json.loads((folder / "check.json").read_text())
        spec = CheckSpec.from_dict(report["spec"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReplayError(f"{folder / 'check.json'} is not a `bench check` report: {exc}") from None
    faults = ", ".join(f"{f['kind']} {f['start']:.1f}-{f['end']:.1f} s" for f in report.get("faults", [])) or "none"
    about = f"bench check · {spec.algo} · n={spec.nodes} · seed {spec.seed} · verdict {report.get('verdict')} · " \
            f"faults: {faults}"
    if spec.transport != "sim":
        if not (folder / "events.jsonl").is_file():
            raise ReplayError(f"{folder} holds no events.jsonl: this run on real processes kept no node events "
                              "(runs before bench check kept them)")
        bundle = load_event_files(folder / "events.jsonl")
        return {**bundle, "label": f"{about}: {bundle['label']}"}
    cls = registry.load(spec.algo)
    recorder = FlightRecorder(NETWORK.delay_ms, cls.detection_timer)
    sampler = StatusSampler()
    run = run_simulated(spec, watchers=[_MessageBudget(), recorder, sampler])
    recorded = sum(report.get("operations", {}).values())
    same = len(run.history) == recorded
    check = (f"the same {recorded} operations as recorded" if same else
             f"{len(run.history)} operations, {recorded} recorded: the code changed since this run")
    sim = run.sim
    return {"algo": spec.algo, "ids": list(sim.ids), "timer": cls.detection_timer, "events": sim.events,
            "flights": sorted(recorder.flights, key=lambda f: f[3]), "timers": recorder.timers,
            "statuses": sampler.samples, "exact": True, "label": f"{about}: {check}"}


def _rounded(value: Any) -> Any:
    """As results.json stores a measurement: floats to 3 decimals of ms."""
    return round(value, 3) if isinstance(value, float) else value


def _as_string(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
