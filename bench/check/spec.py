"""What one ``bench check`` run is: the cluster, the workload, the nemesis and the seed, as plain data."""
from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass

NETWORKS = ("auto", "netns", "cooperative")
READS = ("linearizable", "lease", "log", "stale")
"""How the workload's gets read (KVClient.get's consistency): ReadIndex, the leader's lease, through the log, or
any node's state as it is (not linearizable: a check of it shows what that costs)."""
"""How partitions are made on real processes: network namespaces (kernel drops), the runtime's cooperative
switch, or namespaces where the machine allows them and the switch elsewhere."""


@dataclass(frozen=True)
class CheckSpec:
    """One run: ``algo`` (a registered name or module:Class) on ``nodes`` nodes, ``clients`` clients calling a
    random key-value workload over ``keys`` keys for ``duration_s`` seconds under the ``nemeses``, from ``seed``."""

    algo: str
    nodes: int = 5
    clients: int = 8
    duration_s: float = 60.0
    nemeses: tuple[str, ...] = ("kill", "pause", "partition")
    seed: int = 0
    transport: str = "zmq"
    config: tuple[tuple[str, str], ...] = ()
    keys: int = 10
    op_timeout_s: float = 2.0
    network: str = "auto"
    secure: bool = True
    observers: bool = True
    check_timeout_s: float = 60.0
    reads: str = "linearizable"
    read_from: str = "leader"

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.clients < 1 or self.keys < 1:
            raise ValueError("nodes, clients and keys must each be at least 1")
        if self.duration_s <= 0 or self.op_timeout_s <= 0:
            raise ValueError("duration and operation timeout must be positive")
        if self.transport not in ("zmq", "sim"):
            raise ValueError(f"transport must be zmq or sim, got {self.transport!r}")
        if self.reads not in READS:
            raise ValueError(f"reads must be one of {', '.join(READS)}, got {self.reads!r}")
        if self.read_from not in ("leader", "any"):
            raise ValueError(f"read_from must be leader or any, got {self.read_from!r}")
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {self.network!r}")

    def settings(self) -> dict[str, str]:
        """The algorithm's ``--config`` settings as a dict."""
        return dict(self.config)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["nemeses"] = list(self.nemeses)
        d["config"] = dict(self.config)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CheckSpec":
        """The spec ``to_dict`` gave (as check.json keeps it); unknown keys are refused."""
        d = dict(d)
        d["nemeses"] = tuple(d.get("nemeses", ()))
        d["config"] = tuple(sorted(dict(d.get("config", {})).items()))
        return cls(**d)

    def command(self, seed: int | None = None) -> str:
        """The ``bench check`` command line that runs this spec again (with ``seed``, alone, when given)."""
        args = ["bench", "check", "--algo", self.algo, "--nodes", str(self.nodes), "--clients", str(self.clients),
                "--duration", f"{self.duration_s:g}", "--nemesis", ",".join(self.nemeses) or "none",
                "--seed", str(self.seed if seed is None else seed), "--transport", self.transport,
                "--keys", str(self.keys), "--op-timeout", f"{self.op_timeout_s:g}"]
        for key, value in self.config:
            args += ["--config", f"{key}={value}"]
        if self.reads != "linearizable":
            args += ["--reads", self.reads]
        if self.read_from != "leader":
            args += ["--read-from", self.read_from]
        if self.transport == "zmq" and self.network != "auto":
            args += ["--network", self.network]
        if not self.secure:
            args.append("--insecure")
        if not self.observers:
            args.append("--no-observers")
        return shlex.join(args)
