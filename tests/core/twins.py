"""The compiled hot-path module and its Python twin, as pytest parameters, for the parity tests."""
from __future__ import annotations

import importlib
from types import ModuleType

import pytest


def twins(compiled_name: str, twin: ModuleType) -> tuple[ModuleType | None, list, list]:
    """(compiled module or None, [twin, compiled] as pytest params, the modules that exist).

    Without a C compiler at install time only the twin exists; the compiled param is then skipped.
    """
    try:
        compiled = importlib.import_module(compiled_name)
    except ImportError:
        compiled = None
    params = [
        pytest.param(twin, id="python"),
        pytest.param(compiled, id="compiled",
                     marks=pytest.mark.skipif(compiled is None, reason=f"{compiled_name} is not built")),
    ]
    return compiled, params, [twin] + ([compiled] if compiled is not None else [])
