"""Hypothesis inputs for the targets: well-formed bytes, then maybe cut, overwritten or extended.

A target's ``structured`` strategy is ``damaged(<strategy of valid encodings>)``: most
examples stay valid (they reach the deep code), the rest are near misses (they reach the
checks that must refuse them).
"""
from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def _damage(draw: st.DrawFn, data: bytes) -> bytes:
    how = draw(st.sampled_from(("keep", "keep", "cut", "overwrite", "insert")))
    if how == "keep" or (not data and how != "insert"):
        return data
    at = draw(st.integers(0, len(data) - (how != "insert")))
    if how == "cut":
        return data[:at]
    if how == "overwrite":
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]


def damaged(valid: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """``valid`` examples, some of them with one byte-level fault."""
    return valid.flatmap(_damage)
