"""Algorithm discovery: the quorumlab.algorithms entry-point group and nothing else."""
from __future__ import annotations

import importlib
import textwrap

import pytest

from quorumlab.core import ElectionAlgorithm, UnknownAlgorithmError, registry

BUILTIN = {"raft": "quorumlab.algorithms.raft", "paxos": "quorumlab.algorithms.paxos", "bully": "quorumlab.algorithms.bully"}


def test_available_lists_the_builtin_algorithms_and_the_example_plugin_sorted():
    names = registry.available()
    assert {"raft", "paxos", "bully", "lowest"} <= set(names)
    assert names == sorted(names)


def test_unknown_name_raises_listing_the_available_ones():
    with pytest.raises(UnknownAlgorithmError) as err:
        registry.load("nope")
    text = str(err.value)
    assert "unknown algorithm 'nope'" in text
    assert "available: " + ", ".join(registry.available()) in text
    assert isinstance(err.value, LookupError)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_algorithm_loads_through_its_entry_point(name):
    cls = registry.load(name)
    assert issubclass(cls, ElectionAlgorithm)
    assert cls.name == name and cls.description
    assert cls.__module__.startswith(BUILTIN[name])


def test_example_plugin_loads_through_its_entry_point():
    cls = registry.load("lowest")
    assert issubclass(cls, ElectionAlgorithm) and cls.name == "lowest"
    assert cls.__module__.startswith("quorumlab_lowest_id")


def _install_fake_distribution(site, name: str, entry_points: dict[str, str], module_source: str) -> None:
    """A minimal installed distribution on a sys.path entry: a module plus its dist-info with entry points."""
    (site / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[quorumlab.algorithms]\n{lines}\n")


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    return tmp_path


def test_a_third_party_distribution_is_discovered_without_any_change_to_core(fake_site):
    _install_fake_distribution(
        fake_site,
        "qlfake_good",
        {"fake-good": "qlfake_good:Good"},
        """
        from quorumlab.core import ElectionAlgorithm
        class Good(ElectionAlgorithm):
            name = "fake-good"
            description = "a plugin from a test's fake site-packages"
        """,
    )
    assert "fake-good" in registry.available()
    assert registry.load("fake-good").description == "a plugin from a test's fake site-packages"


def test_an_entry_point_that_is_not_an_algorithm_is_refused(fake_site):
    _install_fake_distribution(fake_site, "qlfake_notalgo", {"fake-notalgo": "qlfake_notalgo:Thing"}, "class Thing: pass\n")
    with pytest.raises(UnknownAlgorithmError, match="'fake-notalgo' .* is not an ElectionAlgorithm subclass"):
        registry.load("fake-notalgo")


def test_a_broken_plugin_is_described_as_broken_without_hiding_the_others(fake_site):
    _install_fake_distribution(fake_site, "qlfake_broken", {"fake-broken": "qlfake_broken:Nothing"}, "raise RuntimeError('boom')\n")
    rows = {name: (description, origin) for name, description, origin in registry.describe()}
    assert rows["fake-broken"][0].startswith("(failed to load: ") and "boom" in rows["fake-broken"][0]
    assert rows["fake-broken"][1] == "qlfake_broken:Nothing"
    assert rows["lowest"][0] == registry.load("lowest").description
