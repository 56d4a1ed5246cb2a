"""Hypothesis strategies: small key-value histories, half of them run on a real store (so linearizable
unless one answer is then corrupted), half with answers drawn at random."""
from __future__ import annotations

from hypothesis import strategies as st

from quorumlab.core.check.history import FAIL, INFO, OK, Operation
from tests.check.brute import kv_apply

VALUES = ["a", "b", "c"]
KINDS = ["put", "get", "delete", "cas"]


@st.composite
def histories(draw, max_ops: int = 7, keys: tuple = ("x",), clients: int = 3) -> list[Operation]:
    n = draw(st.integers(1, max_ops))
    clock = {c: draw(st.integers(0, 3)) for c in range(clients)}
    rows = []
    for i in range(n):
        c = draw(st.integers(0, clients - 1))
        kind = draw(st.sampled_from(KINDS))
        args = {"put": (draw(st.sampled_from(VALUES)),), "get": (), "delete": (),
                "cas": (draw(st.sampled_from([None, *VALUES])), draw(st.sampled_from(VALUES)))}[kind]
        t0 = clock[c]
        t1 = t0 + draw(st.integers(0, 4))
        clock[c] = t1 + draw(st.integers(0, 2))
        outcome = draw(st.sampled_from([OK, OK, OK, INFO, FAIL]))
        happened = outcome == OK or (outcome == INFO and draw(st.booleans()))
        lin = t0 + draw(st.floats(0, 1)) * (t1 - t0 if outcome == OK else t1 - t0 + 5)
        rows.append([i, c, kind, draw(st.sampled_from(keys)), args, t0, t1, outcome, happened, lin])
    results = {}
    states: dict = {}
    for r in sorted(rows, key=lambda r: r[9]):
        if not r[8]:
            continue
        i, c, kind, key, args = r[:5]
        state = states.get(key)
        probe = Operation(i, c, kind, key, args, r[5], r[6], OK)
        if kind in ("get", "put"):
            out = state
        elif kind == "delete":
            out = (state is not None) if draw(st.booleans()) else state
        else:
            out = state == args[0]
        ok, states[key] = kv_apply(state, probe, out)
        assert ok
        results[i] = out
    random_answers = draw(st.booleans())
    ops = []
    for i, c, kind, key, args, t0, t1, outcome, _, _ in rows:
        result = results.get(i)
        if outcome == OK and random_answers:
            result = draw(st.booleans()) if kind == "cas" else draw(st.sampled_from([None, *VALUES]))
        ops.append(Operation(i, c, kind, key, args, float(t0), float(t1) if outcome != INFO else None,
                             outcome, result if outcome == OK else None))
    if not random_answers and draw(st.booleans()):
        j = draw(st.integers(0, n - 1))
        op = ops[j]
        if op.outcome == OK:
            wrong = draw(st.booleans()) if op.op == "cas" else draw(st.sampled_from([None, *VALUES]))
            ops[j] = Operation(op.index, op.client, op.op, op.key, op.args, op.invoke, op.complete, OK, wrong)
    return ops
