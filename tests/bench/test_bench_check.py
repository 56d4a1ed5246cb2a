"""The linearizability checker, measured: check() on generated histories, both twins of the search, and shrinking.

Target (issue 18): 100,000 operations in under 10 s with the compiled search. Runs once each under plain
``make test`` (benchmarks disabled); ``make bench-micro`` times them. The 1,000,000-operation numbers and
peak memory come from ``python -m tests.bench.measure_check`` (see docs/check.md).
"""
from __future__ import annotations

import importlib
from dataclasses import replace
from functools import lru_cache

import pytest

from quorumlab.core.check import Verdict, check, checker, search_py
from quorumlab.core.check.counterexample import find_counterexample
from quorumlab.core.check.generate import generate

try:
    _compiled = importlib.import_module("quorumlab.core.check._search")
except ImportError:
    _compiled = None

TWINS = [
    pytest.param(_compiled, id="compiled", marks=pytest.mark.skipif(_compiled is None, reason="quorumlab.core.check._search is not built")),
    pytest.param(search_py, id="python"),
]


@lru_cache(maxsize=None)
def history(n: int, keys: int) -> tuple:
    return tuple(generate(n, keys=keys, seed=0))


@pytest.fixture
def search(monkeypatch, request):
    """Run check() with the given twin of the key-value search."""
    monkeypatch.setattr(checker._accel, "checksearch", request.param)
    return request.param


@pytest.mark.benchmark(group="check: 10,000 operations, 5 keys, 8 clients")
@pytest.mark.parametrize("search", TWINS, indirect=True)
def test_bench_check_10000_operations(benchmark, search):
    ops = history(10_000, 5)
    result = benchmark.pedantic(check, args=(ops,), rounds=3)
    assert result.verdict == Verdict.OK and result.implementation == search.__name__


@pytest.mark.benchmark(group="check: 100,000 operations, 5 keys, 8 clients")
@pytest.mark.parametrize("search", TWINS[:1], indirect=True)
def test_bench_check_100000_operations_compiled(benchmark, search):
    ops = history(100_000, 5)
    result = benchmark.pedantic(check, args=(ops,), rounds=1)
    assert result.verdict == Verdict.OK
    benchmark.extra_info["steps"] = sum(p.steps for p in result.partitions)


@pytest.mark.benchmark(group="check: 20,000 operations on one key, 8 clients (the search dominates)")
@pytest.mark.parametrize("search", TWINS, indirect=True)
def test_bench_check_20000_operations_on_one_key(benchmark, search):
    ops = history(20_000, 1)
    result = benchmark.pedantic(check, args=(ops,), rounds=1)
    assert result.verdict == Verdict.OK
    benchmark.extra_info["steps"] = result.partitions[0].steps


@pytest.mark.benchmark(group="counterexample: a stale read in 10,000 operations")
def test_bench_find_and_shrink_a_stale_read(benchmark):
    ops = list(history(10_000, 5))
    k = next(i for i, op in enumerate(ops[5000:], 5000) if op.op == "get" and op.outcome == "ok" and op.result)
    old = [op.args[0] for op in ops[:k] if op.op == "put" and op.key == ops[k].key and op.outcome == "ok"][-3]
    ops[k] = replace(ops[k], result=old)
    result = check(ops)
    cx = benchmark.pedantic(find_counterexample, args=(result, ops), rounds=1)
    assert cx is not None and len(cx.shown()) < 10
    benchmark.extra_info["shown"] = len(cx.shown())
