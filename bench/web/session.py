"""What the page shows: up to three panels of one source, with one clock for simulated ones.

Every ``TICK_S`` the session moves the shown time on by the elapsed wall time times the speed
(or to the next event when single-stepping), lets each simulation run up to there plus its
lookahead within a CPU budget, and sends one frame with what each panel released. When the
simulations cannot keep up, the shown time advances less and the frame says the speed reached.
"""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from quorumlab.core import mistakes, registry
from quorumlab.core.cluster import now_ms
from quorumlab.core.errors import ConfigError, QuorumlabError, UnknownAlgorithmError
from quorumlab.core.runtime.addresses import AddressError, parse_cluster

from quorumlab.bench.web.cluster_panel import AttachedBackend, ClusterPanel, LocalBackend
from quorumlab.bench.web.replay import ReplayError, compare_trials, load_event_files, replay_check, replay_trial
from quorumlab.bench.web.scripts import SCRIPTS
from quorumlab.bench.web.sim_panel import SimPanel

TICK_S = 0.05
BUDGET_S = 0.035
"""CPU time the simulations may take per tick (the rest is for sending frames and the page's requests)."""
MAX_PANELS = 3
SPEEDS = (0.01, 10.0)
MAX_SIM_NODES = 99
MAX_REAL_NODES = 9
MAX_FLIGHTS_PER_FRAME = 600
"""Beyond this, a frame carries an even sample of the flights and says how many it left out."""
STEP_SEARCH_MS = 60_000

Send = Callable[[dict], Awaitable[None]]


class UserError(ValueError):
    """A request the page made that cannot be served; the message says what to change."""


class Session:
    """The panels on show and their clock; ``handle`` serves the page's requests, ``run`` sends frames."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.panels: list[Any] = []
        self.source = ""
        self.generation = 0
        """Counts the sets of panels shown; frames carry it, so a page never applies a frame to the wrong panels."""
        self.shown = 0.0
        self.speed = 1.0
        self.reached_speed = 1.0
        self.playing = True
        self._step_to: float | None = None
        self._wall = time.monotonic()
        self._script: list[tuple[float, Any, Any]] = []
        self._script_memory: dict[str, dict[str, int]] = {}
        self._replays: list[dict] = []

    # -- requests -----------------------------------------------------------------------

    async def handle(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """Serve one request from the page; UserError becomes a message the page shows."""
        op = request.get("op")
        handler = {
            "catalog": self._catalog, "sim": self._start_sim, "cluster": self._start_clusters,
            "attach": self._attach, "replay": self._replay, "speed": self._set_speed, "pause": self._pause,
            "play": self._play, "step": self._step, "act": self._act, "script": self._run_script, "stop": self._stop,
        }.get(op)
        if handler is None:
            raise UserError(f"unknown request {op!r}")
        return await handler(request)

    async def _catalog(self, _req: dict) -> dict:
        algos = []
        for name, description, origin in registry.describe():
            found = mistakes.available(name)
            algos.append({"name": name, "description": description, "origin": origin,
                          "mistakes": [{"name": m.name, "title": m.title, "breaks": m.breaks,
                                        "how_to_see": m.how_to_see} for m in found.values()]})
        scripts = [{"name": s.name, "title": s.title} for s in SCRIPTS.values()]
        return {"type": "catalog", "algorithms": algos, "scripts": scripts,
                "limits": {"sim_nodes": MAX_SIM_NODES, "real_nodes": MAX_REAL_NODES, "speed": SPEEDS}}

    async def _start_sim(self, req: dict) -> dict:
        algos = _algos(req)
        nodes = _int(req, "nodes", 1, MAX_SIM_NODES)
        seed = _int(req, "seed", 0, 2**63)
        lo, hi = _int(req, "delay_lo", 0, 10_000), _int(req, "delay_hi", 0, 10_000)
        if lo > hi:
            raise UserError(f"the network delay needs lo <= hi, got {lo}-{hi} ms")
        loss = _float(req, "loss", 0.0, 0.9)
        chosen = req.get("mistakes") or {}
        panels = []
        for k, algo in enumerate(algos):
            known = mistakes.available(algo)
            names = chosen.get(algo, [])
            unknown = [n for n in names if n not in known]
            if unknown:
                raise UserError(f"{algo} has no mistake {', '.join(unknown)}; it has {', '.join(known) or 'none'}")
            try:
                panels.append(SimPanel(f"p{k}", algo, nodes, seed, (lo, hi), loss, [known[n] for n in names]))
            except (ConfigError, ValueError) as exc:
                raise UserError(str(exc)) from None
        await self._replace(panels, "sim")
        return self._panels_message()

    async def _start_clusters(self, req: dict) -> dict:
        algos = _algos(req)
        nodes = _int(req, "nodes", 1, MAX_REAL_NODES)
        try:
            panels = [ClusterPanel(f"p{k}", algo, LocalBackend(algo, nodes)) for k, algo in enumerate(algos)]
        except (ConfigError, UnknownAlgorithmError, ValueError) as exc:
            raise UserError(str(exc)) from None
        await self._replace(panels, "cluster")
        await self.send({"type": "message", "text": f"starting {len(panels) * nodes} node processes..."})
        await self._start_panels(panels)
        return self._panels_message()

    async def _attach(self, req: dict) -> dict:
        algo = _algos({"algos": [req.get("algo", "")]})[0]
        try:
            addresses = parse_cluster(str(req.get("cluster", "")))
        except AddressError as exc:
            raise UserError(f"cluster: {exc} (write 1=tcp://HOST:PORT,2=...)") from None
        keys = str(req.get("keys") or "").strip() or None
        if keys is not None and not (Path(keys) / "keyring.json").is_file():
            raise UserError(f"{keys} holds no keyring.json: give the cluster's keyring folder (bench keys create DIR), "
                            "or leave it empty for a cluster in plain mode")
        try:
            backend = AttachedBackend(addresses, registry.load(algo).detection_timer, keys,
                                      str(req.get("identity") or "admin"))
        except QuorumlabError as exc:
            raise UserError(str(exc)) from None
        panel = ClusterPanel("p0", algo, backend)
        await self._replace([panel], "cluster")
        await self._start_panels([panel])
        return self._panels_message()

    async def _start_panels(self, panels: list[ClusterPanel]) -> None:
        results = await asyncio.gather(*(p.start() for p in panels), return_exceptions=True)
        failed = [(p, r) for p, r in zip(panels, results) if isinstance(r, BaseException)]
        if failed:
            await self._replace([], "")
            p, exc = failed[0]
            raise UserError(f"{p.algo}: the cluster did not start: {exc}")
        self._wall = time.monotonic()

    async def _replay(self, req: dict) -> dict:
        path = Path(str(req.get("path", "")).strip()).expanduser()
        if not str(path):
            raise UserError("give the path of a `bench compare` or `bench check` folder, or of events.jsonl files")
        try:
            if (path / "results.json").is_file() and req.get("trials") is None:
                return {"type": "trials", "path": str(path), "trials": compare_trials(path)}
            if (path / "check.json").is_file():
                bundles = [await asyncio.to_thread(replay_check, path)]
            elif req.get("trials") is not None:
                picks = [int(k) for k in req["trials"]][:MAX_PANELS]
                bundles = [await asyncio.to_thread(replay_trial, path, k) for k in picks]
            else:
                bundles = [await asyncio.to_thread(load_event_files, path)]
        except (ReplayError, OSError, UnknownAlgorithmError, ConfigError) as exc:
            raise UserError(str(exc)) from None
        await self._replace([], "replay")
        self._replays = [{**b, "id": f"p{k}", "kind": "replay"} for k, b in enumerate(bundles)]
        return {"type": "panels", "gen": self.generation, "source": "replay", "panels": self._replays}

    async def _set_speed(self, req: dict) -> None:
        self.speed = _float(req, "value", *SPEEDS)

    async def _pause(self, _req: dict) -> None:
        self.playing = False

    async def _play(self, _req: dict) -> None:
        self.playing = True
        self._wall = time.monotonic()

    async def _step(self, _req: dict) -> None:
        sims = self._sims()
        if not sims:
            raise UserError("single steps are for simulations")
        self.playing = False
        after = self.shown
        for _ in range(STEP_SEARCH_MS // 50):
            found = [t for t in (p.next_time(after) for p in sims) if t is not None]
            if found:
                self._step_to = min(found)
                return
            for p in sims:
                p.advance(p.now + 50, time.monotonic() + 1.0)
        raise UserError(f"nothing happens in the next {STEP_SEARCH_MS} ms")

    async def _act(self, req: dict) -> None:
        action = str(req.get("action", ""))
        node = req.get("node")
        groups = req.get("groups")
        if node is not None and not isinstance(node, int):
            raise UserError("node must be a node id")
        if groups is not None and not (isinstance(groups, list) and all(
                isinstance(g, list) and all(isinstance(i, int) for i in g) for g in groups)):
            raise UserError("groups must be lists of node ids")
        targets = self._targets(req.get("panel"))
        for panel in targets:
            if node is not None and node not in panel.ids:
                raise UserError(f"{panel.algo} has no node {node}")
        self._align_sims()
        for panel in targets:
            await self._act_on(panel, action, node, groups)

    async def _act_on(self, panel: Any, action: str, node: int | None, groups: list | None) -> None:
        if panel.kind == "sim":
            text = panel.act(action, node, groups)
            if not self.playing:  # paused: show the instant the fault happened (the simulator's clock, just ahead)
                self._step_to = max(self._step_to or self.shown, float(panel.now))
        else:
            text = await panel.act(action, node, groups)
        if text:
            await self.send({"type": "message", "panel": panel.pid, "text": text})

    def _targets(self, pid: Any) -> list[Any]:
        if not self.panels:
            raise UserError("nothing is running: start a simulation or a cluster first")
        if pid in (None, "all"):
            return list(self.panels)
        found = [p for p in self.panels if p.pid == pid]
        if not found:
            raise UserError(f"no panel {pid!r}")
        return found

    async def _run_script(self, req: dict) -> None:
        script = SCRIPTS.get(str(req.get("name")))
        if script is None:
            raise UserError(f"unknown script {req.get('name')!r}; known: {', '.join(SCRIPTS)}")
        targets = self._targets("all")
        start = self.shown if self._sims() else now_ms()
        self._script = sorted(self._script + [(start + s.at_ms, s, p) for s in script.steps for p in targets],
                              key=lambda x: x[0])
        self._script_memory = {}

    async def _stop(self, _req: dict) -> dict:
        await self._replace([], "")
        return self._panels_message()

    # -- the clock ----------------------------------------------------------------------

    async def run(self) -> None:
        """Send a frame every tick until cancelled."""
        while True:
            await asyncio.sleep(TICK_S)
            if not self.panels:
                continue
            frame = await self._tick()
            await self.send(frame)

    async def _tick(self) -> dict[str, Any]:
        wall = time.monotonic()
        elapsed_ms = (wall - self._wall) * 1000
        self._wall = wall
        await self._due_script_steps()
        parts: dict[str, Any] = {}
        sims = self._sims()
        if sims:
            if self._step_to is not None:
                target, self._step_to = self._step_to, None
            else:
                target = self.shown + (elapsed_ms * self.speed if self.playing else 0)
            running = [p for p in sims if p.violation is None]
            share = BUDGET_S / max(1, len(running))
            for p in running:
                p.advance(target + p.lookahead, time.monotonic() + share)
            reached = min((p.reached() for p in running if p.violation is None), default=target)
            before = self.shown
            self.shown = max(before, min(target, reached))
            if self.playing and elapsed_ms > 0:
                self.reached_speed = (self.shown - before) / elapsed_ms
            for p in sims:
                parts[p.pid] = _thin(p.take(self.shown))
        for p in self.panels:
            if p.kind == "cluster":
                parts[p.pid] = _thin(p.take())
        now = self.shown if sims else now_ms()
        return {"type": "frame", "gen": self.generation, "now": now, "speed": self.speed,
                "reached_speed": round(self.reached_speed, 4), "playing": self.playing, "panels": parts}

    def _align_sims(self) -> None:
        """Bring every simulation to the same instant (one may have run short of its CPU share), so that a fault
        reaches them all at once."""
        sims = [p for p in self._sims() if p.violation is None]
        if len(sims) > 1:
            latest = max(p.now for p in sims)
            for p in sims:
                p.advance(latest, time.monotonic() + 5.0)

    async def _due_script_steps(self) -> None:
        now = self.shown if self._sims() else now_ms()
        if self._script and self._script[0][0] <= now:
            self._align_sims()
        while self._script and self._script[0][0] <= now:
            _, step, panel = self._script.pop(0)
            memory = self._script_memory.setdefault(panel.pid, {})
            node = step.target
            if node in ("leader", "crashed", "paused"):
                node = self._leader_of(panel) if node == "leader" else memory.get(node)
                if node is None:
                    await self.send({"type": "message", "panel": panel.pid,
                                     "text": f"script: {panel.algo} has no {step.target} node now; step skipped"})
                    continue
            groups = None
            if step.action == "partition":
                groups, node = [[node]], None
            if step.action in ("crash", "pause"):
                memory["crashed" if step.action == "crash" else "paused"] = node
            await self._act_on(panel, step.action, node, groups)

    def _leader_of(self, panel: Any) -> int | None:
        if panel.kind == "sim":
            return panel.sim.leader()
        return panel.leader()

    # -- panels -------------------------------------------------------------------------

    def _sims(self) -> list[SimPanel]:
        return [p for p in self.panels if p.kind == "sim"]

    def current(self) -> dict | None:
        """What a page that connects now must be told to show what the others show, if anything runs."""
        if self._replays and self.source == "replay":
            return {"type": "panels", "gen": self.generation, "source": "replay", "panels": self._replays}
        return self._panels_message() if self.panels else None

    def _panels_message(self) -> dict:
        return {"type": "panels", "gen": self.generation, "source": self.source,
                "panels": [p.describe() for p in self.panels],
                "now": self.shown if self._sims() else now_ms()}

    async def _replace(self, panels: list[Any], source: str) -> None:
        old, self.panels = self.panels, []
        self.generation += 1
        self._script = []
        for p in old:
            if p.kind == "cluster":
                await asyncio.to_thread(p.close)
        self.panels, self.source = panels, source
        self.shown = 0.0
        self._wall = time.monotonic()
        self.playing = True

    async def close(self) -> None:
        """Stop every cluster this session started (by PID, through LocalCluster)."""
        await self._replace([], "")


def _algos(req: dict) -> list[str]:
    algos = [str(a) for a in req.get("algos") or [] if str(a)]
    if not 1 <= len(algos) <= MAX_PANELS:
        raise UserError(f"choose 1 to {MAX_PANELS} algorithms")
    known = registry.available()
    for a in algos:
        if a not in known:
            raise UserError(f"unknown algorithm {a!r}; registered: {', '.join(known)}")
    return algos


def _int(req: dict, key: str, lo: int, hi: int) -> int:
    try:
        value = int(req.get(key))
    except (TypeError, ValueError):
        raise UserError(f"{key} must be a whole number from {lo} to {hi}") from None
    if not lo <= value <= hi:
        raise UserError(f"{key} = {value} is out of range: allowed {lo}..{hi}")
    return value


def _float(req: dict, key: str, lo: float, hi: float) -> float:
    try:
        value = float(req.get(key))
    except (TypeError, ValueError):
        raise UserError(f"{key} must be a number from {lo} to {hi}") from None
    if not lo <= value <= hi:
        raise UserError(f"{key} = {value} is out of range: allowed {lo}..{hi}")
    return value


def _thin(part: dict[str, Any]) -> dict[str, Any]:
    """Keep a frame small: at most MAX_FLIGHTS_PER_FRAME flights, an even sample, and say how many were left out."""
    flights = part["flights"]
    if len(flights) > MAX_FLIGHTS_PER_FRAME:
        every = len(flights) / MAX_FLIGHTS_PER_FRAME
        part["flights"] = [flights[int(k * every)] for k in range(MAX_FLIGHTS_PER_FRAME)]
        part["sampled"] = len(flights) - MAX_FLIGHTS_PER_FRAME
    return part


def dumps(message: dict[str, Any]) -> str:
    """JSON for the page (bytes as hex, sets and tuples as lists, anything else as its str)."""
    return json.dumps(message, default=_default, separators=(",", ":"))


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
