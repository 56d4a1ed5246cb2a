"""Each fuzz target on hypothesis inputs, so the default suite fuzzes every boundary a little without atheris.

Two properties per target: arbitrary bytes, and the target's structured inputs (valid
encodings, some with one byte-level fault). A failure prints the shrunk input; save it
under ``tests/fuzz/regressions/<target>/`` with the fix.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.target import load, names

EXAMPLES = 150
fuzzing = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", names())
@fuzzing
@given(data=st.binary(max_size=300))
def test_any_bytes_pass_the_target(name, data):
    load(name).run(data)


@pytest.mark.parametrize("name", names())
@fuzzing
@given(st.data())
def test_structured_inputs_pass_the_target(name, data):
    target = load(name)
    target.run(data.draw(target.structured(), label="input"))
