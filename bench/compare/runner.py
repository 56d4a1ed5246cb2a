"""Runs the trials of a comparison: every size x algorithm x scenario x trial, over one transport.

Each algorithm gets the same detection range through its own ``detection_config``
(the fair-timing rule), each trial its own seed derived from the run's seed, and
each failure is recorded with its reason instead of stopping the run. Ctrl-C
(KeyboardInterrupt) stops the run between or inside trials: the current cluster
is closed and the trials that finished are returned, marked interrupted.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Protocol

from quorumlab.core import registry
from quorumlab.core.algorithm import ElectionAlgorithm
from quorumlab.core.config import AlgorithmConfig
from quorumlab.core.errors import ConfigError, InvariantViolation

from quorumlab.bench.compare import schema
from quorumlab.bench.compare.driver import Driver, TrialFailed
from quorumlab.bench.compare.scenarios import SCENARIOS, TrialContext
from quorumlab.bench.compare.signals import sigint_held


@dataclass(frozen=True)
class CompareConfig:
    """What to compare, how, and how often."""

    algos: tuple[str, ...]
    transport: str
    nodes: tuple[int, ...]
    trials: int
    scenarios: tuple[str, ...]
    detect_ms: tuple[int, int]
    latency_ms: tuple[int, int] | None
    seed: int
    settings: tuple[tuple[str, str, str], ...] = ()
    """(algorithm, key, value) set on top of each algorithm's fair config (``--config raft.pre_vote=true``)."""
    secure: bool = True
    """Real processes with CurveZMQ keys (the default), or in plain mode (``--insecure``)."""
    hints: str = "default"
    """transport_hints of every algorithm that has the setting: "default" (as each is configured), "on", "off",
    or "both" (two labelled variants per algorithm, ``NAME (hints)`` and ``NAME (timeout-only)``)."""
    first_write: bool = False
    """A client writes one key after another during the crash and pause trials (zmq, algorithms with a log), and
    ``first_write_ms`` is the time from the fault to the first write a new leader acknowledged."""


class Transport(Protocol):
    """Hands out drivers: a fresh one per trial (sim) or one reusable cluster per algorithm (zmq)."""

    name: str
    can_trigger: bool

    def driver(self, algo: type[ElectionAlgorithm], nodes: int, config: AlgorithmConfig, seed: int) -> Driver: ...

    def close(self) -> None: ...


Progress = Callable[[dict], None]
"""Called before each trial with {"scenario", "algo", "nodes", "trial", "trials", "done", "total"}."""


def trial_seed(seed: int, algo: str, scenario: str, nodes: int, trial: int) -> int:
    """A stable 32-bit seed per trial, independent of Python's hash randomization."""
    digest = hashlib.sha256(f"{seed}/{algo}/{scenario}/{nodes}/{trial}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def fair_config(cls: type[ElectionAlgorithm], detect_ms: tuple[int, int],
                settings: dict[str, str] | None = None) -> AlgorithmConfig:
    """The algorithm's default config with the detection range mapped on by its own rule, plus ``settings``
    (key -> value strings). A setting may not touch a timer the detection range maps (that is what keeps
    the comparison fair): ConfigError says to change --detect-ms instead."""
    mapped = cls.detection_config(*detect_ms)
    settings = dict(settings or {})
    clash = sorted(set(settings) & set(mapped))
    if clash:
        raise ConfigError(f"{cls.name}.{clash[0]} is set from --detect-ms so that every algorithm detects a failure "
                          "in the same range; change --detect-ms instead")
    return cls.Config.from_strings({**{k: str(v) for k, v in mapped.items()}, **settings})


def algorithm_info(name: str, cls: type[ElectionAlgorithm], config: AlgorithmConfig) -> dict[str, Any]:
    """What results.json records about an algorithm (its registry origin and the exact config used)."""
    origin = next((value for n, _, value in registry.describe() if n == name), "")
    return {
        "description": cls.description,
        "core_idea": cls.core_idea or cls.description,
        "origin": origin,
        "detection_timer": cls.detection_timer,
        "timing_rule": " ".join((cls.detection_config.__doc__ or "").split()),
        "config": config.as_dict(),
    }


def applicable(scenario: str, cls: type[ElectionAlgorithm], can_trigger: bool) -> str | None:
    """Why ``scenario`` cannot run for ``cls`` on this transport, or None if it can."""
    sc = SCENARIOS[scenario]
    if sc.needs_trigger and not can_trigger:
        return "this transport cannot fire every node's detection timer at the same instant"
    if sc.needs_trigger and not cls.detection_timer:
        return f"{cls.name} declares no detection_timer"
    return None


HINTS = ("default", "on", "off", "both")


def variants(names: tuple[str, ...], hints: str) -> list[tuple[str, str, dict[str, str]]]:
    """(label, algorithm, settings) for each algorithm: its name alone, or with ``hints`` "both", one variant with
    transport_hints on ("raft (hints)") and one with it off ("raft (timeout-only)"), for every algorithm whose
    config has that setting (a plugin without it runs once, as it is)."""
    out = []
    for name in names:
        has = "transport_hints" in {f.name for f in fields(registry.load(name).Config)}
        if not has or hints == "default":
            out.append((name, name, {}))
        elif hints == "both":
            out += [(f"{name} (hints)", name, {"transport_hints": "true"}),
                    (f"{name} (timeout-only)", name, {"transport_hints": "false"})]
        else:
            out.append((name, name, {"transport_hints": "true" if hints == "on" else "false"}))
    return out


def run(cfg: CompareConfig, transport: Transport, progress: Progress | None = None) -> dict:
    """Run every trial and return the results dict (schema.py); never raises for a failing trial."""
    settings: dict[str, dict[str, str]] = {}
    for algo, key, value in cfg.settings:
        settings.setdefault(algo, {})[key] = value
    entries = variants(cfg.algos, cfg.hints)
    labels = [label for label, _, _ in entries]
    classes = {label: registry.load(name) for label, name, _ in entries}
    configs = {label: fair_config(classes[label], cfg.detect_ms, {**settings.get(name, {}), **extra})
               for label, name, extra in entries}
    mapped = {label: cls.detection_config(*cfg.detect_ms) for label, cls in classes.items()}
    base = {label: name for label, name, _ in entries}
    started = time.time()
    results: dict[str, Any] = {
        "schema": schema.SCHEMA,
        "version": schema.VERSION,
        "machine": schema.machine_info(),
        "run": {"started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))},
        "config": {**asdict(cfg), "detect_ms": list(cfg.detect_ms), "latency_ms": list(cfg.latency_ms) if cfg.latency_ms else None,
                   "settings": [list(s) for s in cfg.settings], "variants": labels},
        "algorithms": {label: {**algorithm_info(base[label], classes[label], configs[label]), "timing": mapped[label]}
                       for label in labels},
        "trials": [],
        "skipped": [],
    }
    plan = []
    for nodes in cfg.nodes:
        for name in labels:
            for scenario in cfg.scenarios:
                reason = applicable(scenario, classes[name], transport.can_trigger)
                if reason:
                    results["skipped"].append({"algo": name, "scenario": scenario, "nodes": nodes, "reason": reason})
                else:
                    plan.append((nodes, name, scenario))
    total = len(plan) * cfg.trials
    done = 0
    interrupted = False
    current = None
    try:
        for nodes, name, scenario in plan:
            if current not in (None, (nodes, name)):
                transport.close()  # one reusable cluster at a time
            current = (nodes, name)
            cls = classes[name]
            ctx = TrialContext(cfg.detect_ms, cls.detection_timer)
            for trial in range(cfg.trials):
                if progress:
                    progress({"scenario": scenario, "algo": name, "nodes": nodes, "trial": trial + 1,
                              "trials": cfg.trials, "done": done, "total": total})
                seed = trial_seed(cfg.seed, base[name], scenario, nodes, trial)  # both variants: the same seeds
                results["trials"].append(_one_trial(transport, name, cls, configs[name], nodes, scenario, trial, seed, ctx))
                done += 1
    except KeyboardInterrupt:
        interrupted = True
    finally:
        with sigint_held(deliver=False):
            transport.close()
    results["run"]["elapsed_s"] = round(time.time() - started, 3)
    results["run"]["interrupted"] = interrupted
    results["stats"] = schema.compute_stats(results["trials"])
    return results


def _one_trial(transport: Transport, name: str, cls: type[ElectionAlgorithm], config: AlgorithmConfig, nodes: int,
               scenario: str, trial: int, seed: int, ctx: TrialContext) -> dict:
    """One trial; its failure (no leader in time, a violated invariant, a plugin error) is recorded, not raised."""
    record: dict[str, Any] = {"algo": name, "scenario": scenario, "nodes": nodes, "trial": trial, "seed": seed,
                              "ok": False, "error": None, "metrics": {m: None for m in SCENARIOS[scenario].metrics}}
    driver = transport.driver(cls, nodes, config, seed)
    try:
        record["metrics"].update({k: _tidy(v) for k, v in SCENARIOS[scenario].run(driver, ctx).items()})
        record["ok"] = True
    except (TrialFailed, InvariantViolation) as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a broken plugin must not stop the comparison of the others
        record["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        _release(driver, ok=record["ok"])
    return record


def _release(driver: Driver, ok: bool) -> None:
    """After a trial: a reusable cluster is restored for the next one (closed if that fails or the trial
    failed); a single-use one is closed."""
    if driver.reusable and ok:
        try:
            driver.restore()
            return
        except Exception:
            pass
    driver.close()


def _tidy(value: Any) -> Any:
    """Round float measurements to microseconds (3 decimals of ms): real clocks give more digits than meaning."""
    return round(value, 3) if isinstance(value, float) else value
