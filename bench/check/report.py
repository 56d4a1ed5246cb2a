"""Judging a run and reporting it: outcome counts, faults, availability, the verdict, and the files kept."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from quorumlab.core.check import FAIL, INFO, OK, CheckResult, History, Verdict, check
from quorumlab.core.check.counterexample import find_counterexample, render_text, save
from quorumlab.core.check.history_format import write_history

from quorumlab.bench.check.record import Run

UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
BIN_S = 0.1
"""Width of an availability window: successful operations are counted per 100 ms."""
EXIT = {Verdict.OK: 0, Verdict.VIOLATION: 1, Verdict.UNKNOWN: 3}
"""Exit status of ``bench check`` by verdict (an interrupted run that found nothing exits 130)."""


def availability(history: History, start: float, end: float) -> list[int]:
    """Successful operations completed in each ``BIN_S`` window from ``start`` to ``end`` (history clock)."""
    scale = UNIT_S[history.time_unit]
    bins = [0] * max(1, int((end - start) * scale / BIN_S + 0.999))
    for op in history.operations():
        if op.outcome == OK and op.complete is not None and start <= op.complete:
            k = int((op.complete - start) * scale / BIN_S)
            if k < len(bins):
                bins[k] += 1
    return bins


def judge(run: Run, timeout_s: float | None = None) -> tuple[dict, CheckResult]:
    """Check ``run``'s history and summarize the run as a JSON-friendly report (and the checker's result)."""
    ops = run.history.operations()
    result = check(run.history, timeout_s=run.spec.check_timeout_s if timeout_s is None else timeout_s)
    verdict = Verdict.VIOLATION if run.error else result.verdict
    scale = UNIT_S[run.history.time_unit]
    bins = availability(run.history, run.start, run.end)
    served = sum(1 for b in bins if b)
    gap, gap_at, k = 0, 0, 0
    while k < len(bins):
        if bins[k]:
            k += 1
            continue
        j = k
        while j < len(bins) and not bins[j]:
            j += 1
        if j - k > gap:
            gap, gap_at = j - k, k
        k = j
    report = {
        "spec": run.spec.to_dict(),
        "verdict": verdict.value,
        "observer": run.error,
        "interrupted": run.interrupted,
        "notes": run.notes,
        "duration_s": (run.end - run.start) * scale,
        "operations": {name: sum(1 for o in ops if o.outcome == outcome)
                       for name, outcome in (("ok", OK), ("failed", FAIL), ("indeterminate", INFO))},
        "faults": [{**f.to_dict(), "start": (f.start - run.start) * scale,
                    "end": None if f.end is None else (f.end - run.start) * scale} for f in run.faults],
        "availability": {"window_s": BIN_S, "windows": len(bins), "served": served,
                         "served_fraction": served / len(bins), "longest_gap_s": gap * BIN_S,
                         "longest_gap_at_s": gap_at * BIN_S, "ok_per_window": bins},
        "check": {k: v for k, v in result.to_dict().items() if k != "partitions"} | {
            "violating_keys": [p.key for p in result.violations],
            "unknown_keys": [p.key for p in result.partitions if p.verdict == Verdict.UNKNOWN]},
    }
    return report, result


def text(report: dict) -> str:
    """The report for people: what ran, what happened, and the verdict."""
    spec, ops, av = report["spec"], report["operations"], report["availability"]
    lines = [f"bench check: {spec['algo']}, {spec['nodes']} nodes, {spec['clients']} clients, "
             f"{report['duration_s']:.1f} s ({spec['transport']}), nemesis {','.join(spec['nemeses']) or 'none'}, "
             f"seed {spec['seed']}"]
    lines += [f"  {note}" for note in report["notes"]]
    lines.append(f"operations: {ops['ok']} ok, {ops['failed']} failed, {ops['indeterminate']} indeterminate (info)")
    if report["faults"]:
        lines.append("faults (s from the start):")
        for f in report["faults"]:
            end = "…" if f["end"] is None else f"{f['end']:7.2f}"
            lines.append(f"  {f['start']:7.2f} - {end}  {f['kind']:<16} {f['what']}")
    lines.append(f"availability: {100 * av['served_fraction']:.1f}% of {av['window_s'] * 1000:.0f} ms windows had a "
                 f"successful operation; longest gap {av['longest_gap_s']:.1f} s (from {av['longest_gap_at_s']:.1f} s)")
    if report["observer"]:
        lines.append(f"safety observer: {report['observer'].splitlines()[0]}")
    c = report["check"]
    meaning = {"ok": "linearizable", "violation": "NOT linearizable", "unknown": "unknown (time limit)"}
    detail = ""
    if c["violating_keys"]:
        detail = f"; keys {', '.join(map(str, c['violating_keys']))}"
    elif c["unknown_keys"]:
        detail = f"; undecided keys {', '.join(map(str, c['unknown_keys']))}"
    lines.append(f"verdict: {meaning[report['verdict']]} ({c['operations']} operations checked in "
                 f"{c['elapsed_s']:.2f} s{detail})")
    if report["interrupted"]:
        lines.append("interrupted: the history so far was checked")
    return "\n".join(lines)


def write(run: Run, report: dict, result: CheckResult, out: Path, counterexample_s: float = 10.0) -> tuple[list[Path], list[str]]:
    """Keep the run in ``out``: history.jsonl, check.json, availability.png, the nodes' events.jsonl (real
    processes; ``bench web`` replays them) and, on a violation, the counterexample (txt, html, png). Returns the files written and notes (a picture skipped, ...)."""
    out.mkdir(parents=True, exist_ok=True)
    files, notes = [out / "history.jsonl", out / "check.json"], []
    write_history(run.history, files[0])
    if result.verdict == Verdict.VIOLATION:
        cx = find_counterexample(result, run.history, budget_s=counterexample_s)
        if cx is not None:
            written, skipped = save(cx, out)
            files += list(written.values())
            notes += skipped
            report["counterexample"] = render_text(cx)
    files[1].write_text(json.dumps(report, indent=1, default=_plain) + "\n")
    if run.events:
        files.append(out / "events.jsonl")
        with open(files[-1], "w", encoding="utf-8") as fh:
            for event in run.events:
                fh.write(json.dumps(event, default=str) + "\n")
    try:
        from quorumlab.bench.check.plots import availability_png
    except ImportError as exc:
        notes.append(f"availability.png skipped: {exc}")
    else:
        files.append(availability_png(report, out / "availability.png"))
    return files, notes


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Verdict) else str(value)
