"""Which hot path is loaded: QUORUMLAB_PURE_PYTHON=1 forces the Python twins, and bench warns about it on stderr.

Each case runs in a fresh interpreter, because the choice is made once at import.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

PROBE = (
    "import json, quorumlab.core, quorumlab.core.codec, quorumlab.core.timerwheel, quorumlab.core.quorum, quorumlab.core.framing;"
    "print(json.dumps([quorumlab.core.ACCELERATED, quorumlab.core.IMPLEMENTATIONS,"
    " [quorumlab.core.codec.IMPLEMENTATION, quorumlab.core.timerwheel.IMPLEMENTATION, quorumlab.core.quorum.IMPLEMENTATION,"
    " quorumlab.core.framing.IMPLEMENTATION]]))"
)
BENCH = Path(sys.executable).parent / "bench"
TWIN_NAMES = {"codec": "quorumlab.core.codec_py", "timerwheel": "quorumlab.core.timerwheel_py", "quorum": "quorumlab.core.quorum_py",
              "framing": "quorumlab.core.framing_py", "checksearch": "quorumlab.core.check.search_py"}
COMPILED_NAMES = {"codec": "quorumlab.core._codec", "timerwheel": "quorumlab.core._timerwheel", "quorum": "quorumlab.core._quorum",
                  "framing": "quorumlab.core._framing", "checksearch": "quorumlab.core.check._search"}
FACADES = ["codec", "timerwheel", "quorum", "framing"]


def environment(pure: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "QUORUMLAB_PURE_PYTHON"}
    if pure:
        env["QUORUMLAB_PURE_PYTHON"] = "1"
    return env


def probe(pure: bool) -> list:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=environment(pure), timeout=60, check=True)
    return json.loads(out.stdout)


def compiler_available() -> bool:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None


def test_forcing_pure_python_loads_the_twins():
    accelerated, implementations, facades = probe(pure=True)
    assert accelerated is False
    assert implementations == TWIN_NAMES
    assert facades == [TWIN_NAMES[name] for name in FACADES]


@pytest.mark.skipif(not compiler_available(), reason="no C compiler: installation falls back to the twins by design")
def test_the_compiled_core_is_loaded_where_it_could_be_built():
    accelerated, implementations, facades = probe(pure=False)
    assert accelerated is True, f"a C compiler is present but the compiled core is not loaded: {implementations}"
    assert implementations == COMPILED_NAMES
    assert facades == [COMPILED_NAMES[name] for name in FACADES]


def run_bench(*args: str, pure: bool) -> subprocess.CompletedProcess:
    return subprocess.run([str(BENCH), *args], capture_output=True, text=True, env=environment(pure), timeout=60)


@pytest.mark.skipif(not BENCH.exists(), reason="the bench console script is not installed in this environment")
def test_bench_version_warns_once_on_stderr_when_forced_pure():
    out = run_bench("--version", pure=True)
    assert out.returncode == 0
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and "warning" in lines[0] and "pure-Python" in lines[0], out.stderr


@pytest.mark.skipif(not BENCH.exists(), reason="the bench console script is not installed in this environment")
def test_bench_warns_once_on_stderr_when_forced_pure():
    out = run_bench("algorithms", pure=True)
    warnings = [line for line in out.stderr.splitlines() if "accelerated core is missing" in line]
    assert len(warnings) == 1 and "QUORUMLAB_PURE_PYTHON=1" in warnings[0], out.stderr


@pytest.mark.skipif(not BENCH.exists(), reason="the bench console script is not installed in this environment")
@pytest.mark.skipif(not compiler_available(), reason="no C compiler: the twins are in use and bench warns by design")
def test_bench_version_prints_no_warning_when_accelerated():
    out = run_bench("--version", pure=False)
    assert out.returncode == 0 and out.stderr == ""
    assert "version" in out.stdout
