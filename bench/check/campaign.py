"""Many seeds of the simulator mode, on any ``concurrent.futures.Executor``: a ProcessPoolExecutor over the
machine's cores, or a Dask cluster's (``distributed.Client(...).get_executor()``).

Each seed is a pure function of (spec, seed), so verdicts and failing seeds do not depend on how many
workers there are or in which order they finish: results are kept by seed and reported in seed order. At
most ``window`` seeds are in flight at once, so a campaign of 100,000 seeds holds little memory and
Ctrl-C cancels the rest at once.
"""
from __future__ import annotations

import concurrent.futures as cf
import signal
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterable

from quorumlab.bench.check.report import judge
from quorumlab.bench.check.simulated import run_simulated
from quorumlab.bench.check.spec import CheckSpec


@dataclass(frozen=True)
class SeedResult:
    """What one seed came to."""

    seed: int
    verdict: str
    ok: int
    failed: int
    indeterminate: int
    faults: int
    observer: str | None
    elapsed_s: float


def check_seed(spec: CheckSpec) -> SeedResult:
    """Run and check one simulated seed (``spec.seed``); what a worker executes."""
    t0 = time.perf_counter()
    report, _ = judge(run_simulated(spec))
    ops = report["operations"]
    first_line = report["observer"].splitlines()[0] if report["observer"] else None
    return SeedResult(spec.seed, report["verdict"], ops["ok"], ops["failed"], ops["indeterminate"],
                      len(report["faults"]), first_line, time.perf_counter() - t0)


def ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it cancels the campaign)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_seeds(spec: CheckSpec, seeds: Iterable[int], executor: cf.Executor, window: int,
              on_result: Callable[[SeedResult], None] = lambda r: None) -> list[SeedResult]:
    """Check every seed on ``executor``, at most ``window`` at a time; results in seed order.

    KeyboardInterrupt cancels what has not started and propagates; results so far are lost to the caller
    only if it does not keep them through ``on_result``.
    """
    pending: dict[cf.Future, int] = {}
    results: dict[int, SeedResult] = {}
    todo = iter(seeds)
    try:
        while True:
            for seed in todo:
                pending[executor.submit(check_seed, replace(spec, seed=seed))] = seed
                if len(pending) >= window:
                    break
            if not pending:
                break
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for f in done:
                pending.pop(f)
                result = f.result()
                results[result.seed] = result
                on_result(result)
    finally:
        for f in pending:
            f.cancel()
    return [results[s] for s in sorted(results)]
