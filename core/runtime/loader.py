"""Finding the algorithm class a node runs: a registered name, or ``module:Class`` for tests.

Registered names (``raft``, a plugin's name) go through ``quorumlab.core.registry`` like
everywhere else. The ``package.module:Class`` form imports a class directly; it
exists so the runtime's own tests can run fixture algorithms (for example
``tests.fixture_algos:Beacon``) that are deliberately not entry points.
"""
from __future__ import annotations

import importlib
import os
import sys

from quorumlab.core import registry
from quorumlab.core.algorithm import ElectionAlgorithm
from quorumlab.core.errors import UnknownAlgorithmError


def load_algorithm(spec: str) -> type[ElectionAlgorithm]:
    """The ElectionAlgorithm subclass named by ``spec`` (registry name or ``module:Class``)."""
    if ":" not in spec:
        return registry.load(spec)
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownAlgorithmError(f"algorithm {spec!r}: cannot import {module_name!r}: {exc}") from None
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise UnknownAlgorithmError(f"algorithm {spec!r}: {module_name} has no {attr!r}")
    if not (isinstance(obj, type) and issubclass(obj, ElectionAlgorithm)):
        raise UnknownAlgorithmError(f"algorithm {spec!r} is not an ElectionAlgorithm subclass")
    return obj


def algorithm_spec(algo: str | type[ElectionAlgorithm]) -> str:
    """The string a node process is given for ``algo``: a registered name as is, a class as ``module:Class``."""
    if isinstance(algo, str):
        return algo
    try:
        if registry.load(algo.name) is algo:
            return algo.name
    except UnknownAlgorithmError:
        pass
    return f"{algo.__module__}:{algo.__qualname__}"


def import_root(spec: str) -> str | None:
    """For ``module:Class``, the directory a child process needs on PYTHONPATH to import it (else None)."""
    if ":" not in spec:
        return None
    module_name = spec.partition(":")[0]
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    path = getattr(module, "__file__", None)
    if path is None:
        return None
    root = os.path.dirname(os.path.abspath(path))
    if os.path.basename(path) == "__init__.py":
        root = os.path.dirname(root)
    for _ in range(module_name.count(".")):
        root = os.path.dirname(root)
    parts = os.path.relpath(os.path.abspath(path), root).split(os.sep)
    if parts[-1].startswith("__init__."):
        parts.pop()
    else:
        parts[-1] = parts[-1].split(".")[0]
    if ".".join(parts) != module_name:
        return None  # its folders do not spell its name (a mapped package, quorumlab's own): importable as installed
    return root
