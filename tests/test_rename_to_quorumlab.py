# rename_to_quorumlab: skip-file (the cases below are written in the old names on purpose)
"""tools/rename_to_quorumlab.py: what it rewrites to ``quorumlab.``, what it leaves alone, and that a second run changes nothing."""
from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("rename_to_quorumlab", ROOT / "tools" / "rename_to_quorumlab.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

KNOWN = {
    "core": {"sim", "cluster", "check", "_codec", "codec_py", "ACCELERATED", "ElectionAlgorithm", "__version__"},
    "core:": {"ACCELERATED", "ElectionAlgorithm", "__version__"},
    "algorithms": {"raft", "paxos", "bully"},
    "algorithms:": set(),
    "bench": {"cli", "web", "check"},
    "bench:": set(),
}


def py(source: str) -> str:
    out = tool.rewrite_python(textwrap.dedent(source), KNOWN)
    assert tool.rewrite_python(out, KNOWN) == out, "a second run changed something"
    return out


def text(source: str) -> str:
    out = tool.rewrite_text(source, KNOWN)
    assert tool.rewrite_text(out, KNOWN) == out, "a second run changed something"
    return out


def test_every_form_of_import_is_rewritten():
    out = py("""
        import core
        import core.sim
        import core.sim as simmod, json
        from core import ElectionAlgorithm
        from core.sim import (
            Simulation,
        )
        from algorithms.raft import Raft
        from bench.cli import main
        """)
    assert out == textwrap.dedent("""
        import quorumlab.core
        import quorumlab.core.sim
        import quorumlab.core.sim as simmod, json
        from quorumlab.core import ElectionAlgorithm
        from quorumlab.core.sim import (
            Simulation,
        )
        from quorumlab.algorithms.raft import Raft
        from quorumlab.bench.cli import main
        """)


def test_a_name_bound_by_import_core_becomes_the_full_name_everywhere_it_is_used():
    out = py("""
        import core

        def f(monkeypatch):
            monkeypatch.setattr(core, "ACCELERATED", False)
            return core.ACCELERATED, core._accel.FORCED_PURE, f"version {core.__version__}"
        """)
    assert "monkeypatch.setattr(quorumlab.core, \"ACCELERATED\", False)" in out
    assert "return quorumlab.core.ACCELERATED, quorumlab.core._accel.FORCED_PURE, f\"version {quorumlab.core.__version__}\"" in out


def test_module_names_in_strings_and_comments_are_rewritten():
    out = py('''
        """Uses core.sim.Simulation (see bench.web); run as ``python -m bench.cli node``."""
        import importlib
        CMD = [sys.executable, "-m", "bench.cli", "node"]  # core.cluster starts these
        ENTRY = "algorithms.raft:Raft"
        mod = importlib.import_module("core._codec")
        atheris.instrument_imports(include=["core", "algorithms", "tests.fuzz"])
        PROBE = "import json, core, core.sim; print(core.ACCELERATED)"
        TEMPLATE = "from core.{module} import TimerWheel"
        ''')
    assert '"""Uses quorumlab.core.sim.Simulation (see quorumlab.bench.web); run as ``python -m quorumlab.bench.cli node``."""' in out
    assert 'CMD = [sys.executable, "-m", "quorumlab.bench.cli", "node"]  # quorumlab.core.cluster starts these' in out
    assert 'ENTRY = "quorumlab.algorithms.raft:Raft"' in out
    assert 'importlib.import_module("quorumlab.core._codec")' in out
    assert 'include=["quorumlab.core", "quorumlab.algorithms", "tests.fuzz"]' in out
    assert 'PROBE = "import json, quorumlab.core, quorumlab.core.sim; print(quorumlab.core.ACCELERATED)"' in out
    assert 'TEMPLATE = "from quorumlab.core.{module} import TimerWheel"' in out


def test_unrelated_words_and_names_are_left_alone():
    source = textwrap.dedent('''
        """The core of it. bench compare runs; pytest-benchmark; tests.core.test_sim; tests/core/test_sim.py; core.py."""
        from tests.core.twins import twins
        from quorumlab.core.sim import Simulation
        import corelib, benchmark
        from . import core
        row = results["algorithms"]["raft"]; args = ["bench", "check"]; d = {"core": 1}
        self.core.sim = 1
        benchmark.extra_info.update(core="compiled")
        algorithms = registry.names(); algorithms.sort()
        ''')
    assert tool.rewrite_python(source, KNOWN) == source


def test_prose_and_markdown():
    assert text("In core.sim, `core.ElectionAlgorithm` and core.ACCELERATED.") == \
        "In quorumlab.core.sim, `quorumlab.core.ElectionAlgorithm` and quorumlab.core.ACCELERATED."
    assert text('`python -c "import core;\nprint(core.ACCELERATED)"`') == \
        '`python -c "import quorumlab.core;\nprint(quorumlab.core.ACCELERATED)"`'
    assert text("```python\nfrom core.sim import Simulation\n```") == "```python\nfrom quorumlab.core.sim import Simulation\n```"
    assert text('bench = "bench.cli:main"\nraft = "algorithms.raft:Raft"\n') == \
        'bench = "quorumlab.bench.cli:main"\nraft = "quorumlab.algorithms.raft:Raft"\n'
    unchanged = ("Run `bench check` and `bench web`. We import core ideas from the core. The algorithms. "
                 "make bench; core/sim.py; .benchmarks/; quorumlab.core.sim; a core.unknown_name; core: the contract")
    assert text(unchanged) == unchanged


def test_a_module_that_also_uses_the_name_as_a_variable_is_left_to_a_person():
    with pytest.raises(tool.Unsure):
        tool.rewrite_python("import core\n\ndef f(core):\n    return core.sim\n", KNOWN)


def test_the_names_come_from_the_tree_so_new_modules_are_known(tmp_path):
    (tmp_path / "core" / "brandnew").mkdir(parents=True)
    (tmp_path / "core" / "__init__.py").write_text("from core.errors import Oops\nVERSION = 1\n")
    (tmp_path / "core" / "errors.py").write_text("class Oops(Exception):\n    pass\n")
    (tmp_path / "core" / "brandnew" / "__init__.py").write_text("")
    (tmp_path / "core" / "shiny.py").write_text('"""Next to core.brandnew and core.errors.Oops."""\n')
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("core.shiny, core.VERSION, core.missing, `core:Oops`\n")
    (tmp_path / "data.json").write_text('{"origin": "core.shiny"}\n')

    assert tool.main(["--root", str(tmp_path), "--check"]) == 1
    assert tool.main(["--root", str(tmp_path)]) == 0
    assert (tmp_path / "core" / "__init__.py").read_text() == "from quorumlab.core.errors import Oops\nVERSION = 1\n"
    assert (tmp_path / "core" / "shiny.py").read_text() == '"""Next to quorumlab.core.brandnew and quorumlab.core.errors.Oops."""\n'
    assert (tmp_path / "docs" / "a.md").read_text() == \
        "quorumlab.core.shiny, quorumlab.core.VERSION, core.missing, `quorumlab.core:Oops`\n"
    assert (tmp_path / "data.json").read_text() == '{"origin": "core.shiny"}\n'  # saved run outputs are not rewritten
    assert tool.main(["--root", str(tmp_path), "--check"]) == 0
