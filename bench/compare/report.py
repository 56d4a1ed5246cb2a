"""Tables from a results dict: the seed's comparison table with measured values, then one table per scenario.

The same table models render to the terminal (rich) and to Markdown
(report.md, ``--format markdown``), so both always show the same numbers.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from quorumlab.bench.compare.scenarios import SCENARIOS
from quorumlab.bench.compare.schema import METRICS


@dataclass
class Table:
    """A titled grid of strings with an optional caption underneath."""

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    caption: str = ""


def labels(results: dict) -> list[str]:
    """The columns: each algorithm, or each labelled variant of one (``--hints both``: "raft (hints)")."""
    return list(results["config"].get("variants") or results["config"]["algos"])


def fmt(x: float | int | None, unit: str = "") -> str:
    """A number for a table cell: integers as is, other values to 3 significant places; None as '-'."""
    if x is None:
        return "-"
    if isinstance(x, float) and not x.is_integer():
        text = f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}" if abs(x) < 100 else f"{x:.0f}"
    else:
        text = str(int(x))
    return f"{text} {unit}".rstrip() if unit in ("ms", "B", "RTT") else text


def _cell(results: dict, scenario: str, algo: str, nodes: int, metric: str) -> dict | None:
    cell = results.get("stats", {}).get(scenario, {}).get(algo, {}).get(str(nodes))
    if not cell or metric not in cell or not cell[metric]["n"]:
        return None
    return cell[metric]


def headline_nodes(results: dict) -> int:
    """The cluster size the summary table describes: 5 (the default, etcd's usual size) if it ran, else the first."""
    sizes = results["config"]["nodes"]
    return 5 if 5 in sizes else sizes[0]


def summary_table(results: dict) -> Table:
    """The seed's comparison table, each measurable row filled with this run's numbers."""
    algos = labels(results)
    n = headline_nodes(results)
    t = Table(f"Comparison ({n} nodes, {results['config']['transport']})", ["Dimension", *algos])

    def get(scenario: str, algo: str, metric: str) -> dict | None:
        return _cell(results, scenario, algo, n, metric)

    def row(label: str, make) -> None:
        t.rows.append([label, *(make(a) for a in algos)])

    row("Core idea", lambda a: results["algorithms"][a]["core_idea"])

    def split_vote(a: str) -> str:
        for scenario, where in (("contention", "all stand at once"), ("cold-start", "cold start")):
            s = get(scenario, a, "rounds")
            if s:
                return f"{fmt(s['median'])} round(s) to a leader when {where} (p90 {fmt(s['p90'])}, max {fmt(s['max'])})"
        return "not measured (scenarios contention, cold-start)"

    row("Split-vote handling", split_vote)

    def speed(a: str) -> str:
        s = get("crash", a, "failover_ms")
        if not s:
            return "not measured (scenario crash)"
        text = f"failover {fmt(s['median'], 'ms')} (p90 {fmt(s['p90'], 'ms')})"
        rt = get("crash", a, "round_trips")
        win = get("crash", a, "win_ms")
        if rt:
            text += f"; winning round {fmt(rt['median'])} round trips"
        elif win:
            text += f"; winning round {fmt(win['median'], 'ms')}"
        return text

    row("Election speed", speed)

    def stable(a: str) -> str:
        s = get("rejoin", a, "leader_changes")
        if not s:
            return "not measured (scenario rejoin)"
        return f"{fmt(s['median'])} leader change(s) when the old leader rejoins (max {fmt(s['max'])})"

    row("Stable leader", stable)

    def cost(a: str) -> str:
        s = get("crash", a, "messages")
        if not s:
            return "not measured (scenario crash)"
        b = get("crash", a, "bytes")
        extra = f", {fmt(b['median'], 'B')}" if b else ""
        return f"{fmt(s['median'])} messages per election (p90 {fmt(s['p90'])}{extra})"

    row("Message cost", cost)

    def safety(a: str) -> str:
        s = get("partition", a, "max_leaders")
        if not s:
            return "not measured (scenario partition)"
        same = get("partition", a, "max_leaders_same_term")
        kept = get("partition", a, "minority_leader")
        text = f"at most {fmt(s['max'])} leader(s) at once"
        if same:
            text += f", {fmt(same['max'])} per term"
        if kept:
            minority = _count_ones(results, "partition", a, n, "minority_leader")
            text += f"; cut-off minority kept a leader in {minority[0]}/{minority[1]} trials"
        return text

    row("Partition safety", safety)
    t.caption = "median (p90, max) over the successful trials; per-scenario tables below give every figure and the trial counts"
    return t


def _count_ones(results: dict, scenario: str, algo: str, nodes: int, metric: str) -> tuple[int, int]:
    vals = [tr["metrics"].get(metric) for tr in results["trials"]
            if tr["ok"] and tr["scenario"] == scenario and tr["algo"] == algo and tr["nodes"] == nodes]
    return sum(1 for v in vals if v), len(vals)


def scenario_tables(results: dict) -> list[Table]:
    """One table per scenario that ran: rows are metrics (per cluster size), cells 'median / p90 / max'."""
    algos = labels(results)
    sizes = results["config"]["nodes"]
    stats = results.get("stats", {})
    tables = []
    for scenario in results["config"]["scenarios"]:
        if scenario not in stats:
            continue
        sc = SCENARIOS.get(scenario)
        t = Table(f"{scenario}: {sc.help if sc else ''}", ["metric (median / p90 / max)", *algos])
        names = list(sc.metrics) if sc else sorted({m for a in stats[scenario].values() for c in a.values() for m in c if m != "_trials"})
        for nodes in sizes:
            prefix = f"n={nodes} " if len(sizes) > 1 else ""
            cells = {a: stats[scenario].get(a, {}).get(str(nodes)) for a in algos}
            if not any(cells.values()):
                continue
            for metric in names:
                unit = METRICS.get(metric, ("", ""))[0]
                row = [f"{prefix}{metric}"]
                for a in algos:
                    s = (cells[a] or {}).get(metric)
                    row.append("-" if not s or not s["n"] else f"{fmt(s['median'], unit)} / {fmt(s['p90'])} / {fmt(s['max'])}")
                if any(c != "-" for c in row[1:]):
                    t.rows.append(row)
            t.rows.append([f"{prefix}trials ok", *(f"{c['_trials']['ok']}/{c['_trials']['total']}" if c else "-" for c in cells.values())])
        tables.append(t)
    return tables


def header_lines(results: dict) -> list[str]:
    """What was run, where, and how long it took."""
    c, m, r = results["config"], results["machine"], results["run"]
    lat = f", latency {c['latency_ms'][0]}-{c['latency_ms'][1]} ms" if c.get("latency_ms") else ""
    lines = [
        f"bench compare: {', '.join(c['algos'])} over {c['transport']}, nodes {','.join(map(str, c['nodes']))}, "
        f"{c['trials']} trials, detection {c['detect_ms'][0]}-{c['detect_ms'][1]} ms{lat}, seed {c['seed']}",
        f"machine: {m['processor']} x{m['cpus']}, {m['platform']}, Python {m['python']}, "
        f"core {'accelerated' if m['accelerated'] else 'pure Python'}",
        f"started {r['started_at']}, took {r.get('elapsed_s', 0):.1f} s" + (" -- INTERRUPTED: partial results" if r.get("interrupted") else ""),
    ]
    if c.get("settings"):
        lines.append("settings beyond the fair defaults: " + ", ".join(f"{a}.{k}={v}" for a, k, v in c["settings"]))
    if c["transport"] == "zmq" and "secure" in c:
        lines.append("nodes: " + ("CurveZMQ keys (secure)" if c["secure"] else "plain mode (--insecure)"))
    lines.append("reproduce: " + command_line(c))
    return lines


def command_line(c: dict) -> str:
    """The ``bench compare`` command that runs this configuration again (every option spelled out)."""
    parts = ["bench compare", f"--algos {','.join(c['algos'])}", f"--transport {c['transport']}",
             f"--nodes {','.join(map(str, c['nodes']))}", f"--trials {c['trials']}",
             f"--scenarios {','.join(c['scenarios'])}", f"--detect-ms {c['detect_ms'][0]}-{c['detect_ms'][1]}"]
    if c.get("latency_ms"):
        parts.append(f"--latency-ms {c['latency_ms'][0]}-{c['latency_ms'][1]}")
    parts.append(f"--seed {c['seed']}")
    parts += [f"--config {algo}.{key}={value}" for algo, key, value in c.get("settings", [])]
    if c.get("hints", "default") != "default":
        parts.append(f"--hints {c['hints']}")
    if c.get("first_write"):
        parts.append("--first-write")
    if c["transport"] == "zmq" and c.get("secure") is False:
        parts.append("--insecure")
    return " ".join(parts)


def problem_lines(results: dict) -> list[str]:
    """Skipped scenarios and failed trials, grouped, so missing numbers are explained."""
    lines = [f"skipped {s['scenario']} for {s['algo']} (n={s['nodes']}): {s['reason']}" for s in results.get("skipped", [])]
    failures = Counter((tr["scenario"], tr["algo"], tr["nodes"], (tr["error"] or "").splitlines()[0])
                       for tr in results["trials"] if not tr["ok"])
    for (scenario, algo, nodes, error), count in sorted(failures.items()):
        lines.append(f"{count} failed {scenario} trial(s) for {algo} (n={nodes}): {error}")
    return lines


def timing_table(results: dict) -> Table:
    """How --detect-ms was mapped onto each algorithm's own timers (the fair-timing rule), as run."""
    c = results["config"]
    t = Table(f"Fair timing: detection {c['detect_ms'][0]}-{c['detect_ms'][1]} ms mapped by each algorithm's rule",
              ["algorithm", "timers as run", "rule (the plugin's detection_config)"])
    for name in labels(results):
        info = results["algorithms"][name]
        timers = ", ".join(f"{k}={v}" for k, v in sorted(info.get("timing", {}).items())) or "(no timers mapped)"
        t.rows.append([name, timers, info.get("timing_rule", "")])
    return t


def all_tables(results: dict) -> list[Table]:
    return [summary_table(results), *scenario_tables(results), timing_table(results)]


def to_markdown(results: dict, plots: list[str] = ()) -> str:
    """report.md: header, the comparison table, the scenario tables, problems, plots."""
    out = ["# bench compare report", ""]
    out += [f"- {line}" for line in header_lines(results)]
    for t in all_tables(results):
        out += ["", f"## {t.title}", "", "| " + " | ".join(t.header) + " |", "|" + "---|" * len(t.header)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in t.rows]
        if t.caption:
            out += ["", f"_{t.caption}_"]
    problems = problem_lines(results)
    if problems:
        out += ["", "## Skipped and failed", ""] + [f"- {p}" for p in problems]
    if plots:
        out += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(out) + "\n"


def print_rich(results: dict, console) -> None:
    """The same tables on the terminal."""
    from rich.markup import escape
    from rich.table import Table as RichTable

    for line in header_lines(results):
        console.print(line, highlight=False, markup=False)
    for t in all_tables(results):
        rt = RichTable(title=t.title, caption=t.caption or None, show_lines=True, title_justify="left")
        for i, h in enumerate(t.header):
            rt.add_column(h, overflow="fold", style="bold" if i == 0 else None)
        for r in t.rows:
            rt.add_row(*(escape(str(cell)) for cell in r))
        console.print(rt)
    for p in problem_lines(results):
        console.print(p, style="yellow", highlight=False, markup=False)
