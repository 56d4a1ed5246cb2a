"""Summary statistics over trials: median, p90 (nearest rank) and max, with the count of values."""
from __future__ import annotations

import math
import statistics
from typing import Iterable


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile (deterministic, always one of the observed values)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(values: Iterable[float | None]) -> dict:
    """{"n", "median", "p90", "max", "min"} of the values that are not None (all None when there are none)."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return {"n": 0, "median": None, "p90": None, "max": None, "min": None}
    med = statistics.median(vals)
    return {
        "n": len(vals),
        "median": _tidy(med),
        "p90": _tidy(percentile(vals, 90)),
        "max": _tidy(vals[-1]),
        "min": _tidy(vals[0]),
    }


def _tidy(x: float) -> float | int:
    """Integers stay integers; other floats are rounded to 3 decimals so JSON output is stable."""
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return round(x, 3) if isinstance(x, float) else x
