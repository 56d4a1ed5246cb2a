"""One public import name: the folders core/, algorithms/, bench/ install as quorumlab.core, quorumlab.algorithms,
quorumlab.bench (issue 20), and nothing named core, algorithms or bench is installed at the top.

The checks that matter run in a fresh interpreter: from a directory outside the repository (what a user's
application sees), and from the repository root (what pytest and the node processes see, where the folders
themselves are on sys.path, so that the folder core/ would import as a top-level module, another object).
"""
from __future__ import annotations

import importlib.metadata
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import quorumlab
import quorumlab.core.sim

ROOT = Path(__file__).resolve().parent.parent
OLD_NAMES = ("core", "algorithms", "bench")
FOLDERS = {"quorumlab.core": "core", "quorumlab.algorithms": "algorithms", "quorumlab.bench": "bench"}


def run_python(code: str, cwd: Path) -> dict:
    """Run ``code`` in a fresh interpreter in ``cwd`` without PYTHONPATH; it prints one JSON object."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_the_public_names_are_the_objects_of_quorumlab_core():
    from quorumlab import ElectionAlgorithm, KVClient, LocalCluster, Node, Simulation

    assert Simulation is quorumlab.core.sim.Simulation
    assert inspect.getmodule(Simulation) is sys.modules["quorumlab.core.sim"] is quorumlab.core.sim
    assert LocalCluster is sys.modules["quorumlab.core.cluster"].LocalCluster
    assert KVClient is sys.modules["quorumlab.core.client"].KVClient
    assert ElectionAlgorithm is sys.modules["quorumlab.core.algorithm"].ElectionAlgorithm
    assert Node is sys.modules["quorumlab.core.embedded"].EmbeddedNode
    assert quorumlab.ACCELERATED is quorumlab.core.ACCELERATED
    assert {c.__module__.split(".")[0] for c in (Simulation, LocalCluster, KVClient, ElectionAlgorithm, Node)} == {"quorumlab"}


def test_outside_the_repository_only_quorumlab_is_importable(tmp_path):
    seen = run_python(
        "import importlib.util, json, sys\n"
        "import quorumlab.core.sim\n"
        "from quorumlab import Simulation, LocalCluster, KVClient, ElectionAlgorithm, Node\n"
        "import quorumlab.algorithms.raft, quorumlab.bench.cli\n"
        "print(json.dumps({\n"
        "    'old': {n: importlib.util.find_spec(n) is not None for n in ('core', 'algorithms', 'bench')},\n"
        "    'same': Simulation is quorumlab.core.sim.Simulation,\n"
        "    'files': {n: sys.modules[n].__file__ for n in ('quorumlab', 'quorumlab.core', 'quorumlab.algorithms',\n"
        "                                                   'quorumlab.bench')},\n"
        "    'accelerated': quorumlab.ACCELERATED,\n"
        "}))\n",
        cwd=tmp_path,
    )
    assert seen["old"] == {"core": False, "algorithms": False, "bench": False}
    assert seen["same"] is True
    for name, folder in FOLDERS.items():  # an editable install maps the folders; a wheel copies them
        path = Path(seen["files"][name])
        assert path.name == "__init__.py" and path.parent.name in (folder, name.rpartition(".")[2]), (name, path)


def test_the_distribution_declares_only_quorumlab_at_the_top():
    dist = importlib.metadata.distribution("quorumlab")
    top_level = dist.read_text("top_level.txt")
    if top_level is not None:
        assert top_level.split() == ["quorumlab"]
    entry_points = {(ep.group, ep.name): ep.value for ep in dist.entry_points}
    assert entry_points[("console_scripts", "bench")] == "quorumlab.bench.cli:main"
    for algo, cls in (("raft", "Raft"), ("paxos", "Paxos"), ("bully", "Bully")):
        assert entry_points[("quorumlab.algorithms", algo)] == f"quorumlab.algorithms.{algo}:{cls}"
    mistakes = [value for (group, _), value in entry_points.items() if group == "quorumlab.mistakes"]
    assert mistakes and all(value.startswith("quorumlab.algorithms.") for value in mistakes)


def test_importing_every_module_from_the_repository_root_loads_no_old_name():
    """From the root, where the folder core/ would still import as ``core``, every module of every folder is imported;
    none of them may have pulled in ``core``, ``algorithms`` or ``bench`` as top-level modules."""
    seen = run_python(
        "import importlib, json, os, sys\n"
        f"folders = {FOLDERS!r}\n"
        "failed, imported = {}, 0\n"
        "for package, folder in folders.items():\n"
        "    for dirpath, dirnames, filenames in os.walk(folder):\n"
        "        dirnames[:] = [d for d in dirnames if os.path.exists(os.path.join(dirpath, d, '__init__.py'))]\n"
        "        for f in sorted(filenames):\n"
        "            if not f.endswith('.py'):\n"
        "                continue\n"
        "            parts = os.path.relpath(os.path.join(dirpath, f[:-3]), folder).split(os.sep)\n"
        "            name = '.'.join([package] + [p for p in parts if p != '__init__'])\n"
        "            try:\n"
        "                importlib.import_module(name)\n"
        "                imported += 1\n"
        "            except ImportError as exc:  # an optional dependency (pysyncobj, atheris, ...) is missing\n"
        "                if (exc.name or '').split('.')[0] in ('quorumlab', 'core', 'algorithms', 'bench'):\n"
        "                    failed[name] = repr(exc)\n"
        "old = sorted(m for m in sys.modules if m.split('.')[0] in ('core', 'algorithms', 'bench'))\n"
        "print(json.dumps({'imported': imported, 'failed': failed, 'old': old}))\n",
        cwd=ROOT,
    )
    assert seen["failed"] == {}
    assert seen["imported"] > 100
    assert seen["old"] == []


def test_the_tree_names_no_module_by_its_old_name():
    """tools/rename_to_quorumlab.py --check: a file brought in by a merge that still imports the old names (or
    names a module by them in its docs) fails here; run the tool to rewrite it."""
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "rename_to_quorumlab.py"), "--check"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
