"""Pool the blocks of an ab.sh run and print one Markdown row per (fault, tree): medians and tails of the first write,
the new leader, and each phase (bench/failover.py, Trial.phases), and how many trials needed one election round.
Usage: python summarize.py OUT [FAULT ...]"""
import glob
import json
import statistics
import sys


def q(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p * len(values) + 0.5)) - 1))] if values else float("nan")


def med(values):
    values = list(values)
    return statistics.median(values) if values else float("nan")


def main(out, faults):
    print("| fault | tree | trials (failed) | first write median / p90 / p99 | new leader median | detect | campaign / "
          "pre-vote / vote / commit medians | one round | first write with ... old leader 1 / 2 / 3 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fault in faults:
        for tree in ("before", "after"):
            trials = []
            for path in sorted(glob.glob(f"{out}/{fault}-{tree}-*/results.json")):
                for v in json.load(open(path))["variants"]:
                    trials += v["trials_detail"]
            ok = [t for t in trials if not t["error"]]
            if not ok:
                continue
            fw = [t["first_write_ms"] for t in ok]
            phases = " / ".join(f"{med(t['phases'][k] for t in ok if k in t['phases']):.1f}"
                                for k in ("campaign", "pre_vote", "vote", "commit"))
            by_old = " / ".join(f"{med(t['first_write_ms'] for t in ok if t['old'] == o):.1f}" for o in (1, 2, 3))
            detect = med(t["detect_ms"] for t in ok if t["detect_ms"] is not None)
            print(f"| {fault} | {tree} | {len(trials)} ({len(trials) - len(ok)}) | {med(fw):.1f} / {q(fw, 0.9):.1f} / "
                  f"{q(fw, 0.99):.1f} | {med(t['new_leader_ms'] for t in ok if t['new_leader_ms'] is not None):.1f} | "
                  f"{detect:.1f} | {phases} | {sum(t['elections'] == 1 for t in ok)} of {len(ok)} | {by_old} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or ["kill", "stop"])
