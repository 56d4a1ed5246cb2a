"""Garcia-Molina's Bully algorithm (1982) as a deterministic state machine, as it is commonly taught.

Rules (ids are static; "higher" means a larger node id):
  * A node that starts, restarts, or suspects the coordinator holds an election.
    If no voter has a higher id it announces itself at once: COORDINATOR to every
    lower id. Otherwise it sends ELECTION to every higher id and waits T for an
    ANSWER; with none, it announces itself; with one, it waits T' for a
    COORDINATOR and holds a new election if none comes.
  * On ELECTION from a lower id: reply ANSWER, and hold an election unless one is running.
  * On COORDINATOR: adopt the sender as coordinator; if the sender's id is lower
    than ours, hold an election (the bully: a recovering higher id takes over
    from a healthy lower-id coordinator).
  * The coordinator sends HEARTBEAT every ``heartbeat_ms``; a follower that hears
    nothing from it for ``failure_timeout_ms`` suspects it and holds an election.
    A HEARTBEAT from an id above both ours and our coordinator's, reaching a node
    that is not holding an election, is taken as that node's announcement (it only
    matters once announcements were lost, and it never makes a lower id lead). A
    heartbeat never interrupts an election: one sent just before its sender crashed
    must not revive it.

Bully has no terms. For the common interface every node keeps an epoch (``term``)
that only grows: a coordinator announces (highest epoch seen + 1), and a node
ignores a COORDINATOR or HEARTBEAT whose epoch is below the last one it saw from
the same sender. That is for observation and for discarding reordered old
announcements; it is not a safety mechanism. Bully's correctness rests on its
timing assumptions, and under a partition each side elects its own coordinator.

Durable state: only the highest epoch seen. The algorithm as taught needs none;
it is kept so that a restarted node's next announcement is above all of its
earlier ones (otherwise peers would discard it as stale, and the recovering
higher id could not take over) and so that ``term`` never goes back on a node.

Transport hints (``transport_hints``, on by default): the connection is Bully's
natural failure detector. A follower whose connection to its coordinator drops
suspects it at once, and an election skips the answer wait T when every higher
id's connection is down (none of them could answer). A link that flaps makes a
follower hold an election the live coordinator answers by announcing itself
again: a new epoch, the same coordinator.

Optional variant ``quorum_gated`` (off by default): followers acknowledge their
coordinator's COORDINATOR and HEARTBEAT, and a coordinator holds the LEADER role
only while a majority acknowledged it within ``lease_ms``; otherwise it stays a
candidate coordinator (still heartbeating, so a healed partition reunites).
"""
from __future__ import annotations

import enum
from typing import Any
from quorumlab.algorithms.bully.config import BullyConfig
from quorumlab.algorithms.bully.lease import QuorumLease
from quorumlab.algorithms.bully.messages import ALGO_ID, ALL, Answer, Coordinator, Election, Heartbeat, HeartbeatAck
from quorumlab.core.algorithm import ElectionAlgorithm, Role
from quorumlab.core.messages import Message

HEARTBEAT = "heartbeat"
"""Coordinator: time to send the next HEARTBEAT."""
SILENCE = "coordinator_silence"
"""Follower: the coordinator has been silent for failure_timeout_ms (the detection timer)."""
ANSWER_WAIT = "answer_wait"
"""Candidate: T has passed since ELECTION was sent."""
COORDINATOR_WAIT = "coordinator_wait"
"""After an ANSWER: T' has passed without a COORDINATOR."""
QUORUM_LEASE = "quorum_lease"
"""Quorum-gated coordinator: the majority's acknowledgements have grown too old."""


class Phase(enum.Enum):
    """Where a node is in Bully's election procedure."""

    IDLE = "idle"  # following a coordinator, or being one
    ELECTING = "electing"  # sent ELECTION to the higher ids, waiting T for an ANSWER
    AWAITING = "awaiting"  # got an ANSWER, waiting T' for a COORDINATOR


class Bully(ElectionAlgorithm):
    """The Bully algorithm: the highest live id becomes coordinator; lower ids yield to it."""

    name = "bully"
    description = "Garcia-Molina's Bully algorithm: highest live id leads; no quorum (optional quorum_gated variant)"
    algo_id = ALGO_ID
    Config = BullyConfig
    messages = ALL
    detection_timer = SILENCE

    config: BullyConfig

    @classmethod
    def safety_observers(cls) -> list:
        """None: Bully promises no election safety outside its synchronous, partition-free model.

        Two coordinators at once is what it does under a partition (and briefly while a
        recovering higher id's announcement is in flight), so "one leader per epoch"
        would be a false alarm. Tests attach their own checks for the properties it has.
        """
        return []

    @classmethod
    def detection_config(cls, detect_min_ms: int, detect_max_ms: int) -> dict[str, int]:
        """Map a detection range [min, max] onto Bully's fixed (not randomized) failure detector.

        heartbeat_ms H = min(min // 3, (max - min) // 2), at least 1; failure_timeout_ms = min + H.
        A follower's timer restarts when a heartbeat arrives and the coordinator sent one at most
        H before it crashed, so the follower suspects it between min and min + H <= max ms after
        the crash (plus that heartbeat's network delay). (150, 300) gives the defaults 50 / 200.
        """
        heartbeat = max(1, min(detect_min_ms // 3, (detect_max_ms - detect_min_ms) // 2))
        return {"heartbeat_ms": heartbeat, "failure_timeout_ms": detect_min_ms + heartbeat}

    # -- state --------------------------------------------------------------------------

    def status(self) -> dict:
        """The common status plus Bully's phase and the epoch this node announced, if it coordinates."""
        out = super().status()
        out.update(phase=self.phase.value, announced=self.announced)
        return out

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.phase = Phase.IDLE
        self.coordinating = False  # announced itself and sends heartbeats (LEADER unless the quorum gate says no)
        self.announced = 0  # the epoch of this node's latest announcement
        self.reign_from = 0  # the epoch of its first announcement since it last stopped coordinating
        self.last_epoch_from: dict[int, int] = {}
        self.higher = tuple(p for p in self.peers if p > self.id)
        self.lower = tuple(p for p in self.peers if p < self.id)
        self.lease = QuorumLease(self.voters, self.id, self.config.lease_ms) if self.config.quorum_gated else None
        self.down: set[int] = set()  # transport_hints: peers whose connection is down, not heard from since

    def on_start(self, now: int) -> None:
        self.term = int(self.storage.read().get("epoch", 0))
        self._hold_election(now)

    # -- events -------------------------------------------------------------------------

    def on_peer_down(self, peer: int, now: int) -> None:
        """With transport_hints: remember the peer as down; if it is our coordinator, suspect it now; if an election
        waits for an answer only from ids that are all down now, announce."""
        if not self.config.transport_hints or peer not in self.peers:
            return
        self.down.add(peer)
        if peer == self.leader and self.phase is Phase.IDLE and not self.coordinating:
            self.note("coordinator_suspected", suspect=peer, reason="connection lost")
            self.leader = None
            self._hold_election(now)
        elif self.phase is Phase.ELECTING and self._higher_all_down():
            self._announce(now)

    def on_peer_up(self, peer: int, now: int) -> None:
        self.down.discard(peer)

    def on_message(self, msg: Message, now: int) -> None:
        kind = type(msg)
        src = msg.src
        if self.down:
            self.down.discard(src)
        if kind is Election:
            self._on_election(src, msg.term, now)
        elif kind is Answer:
            self._on_answer(src, msg.term)
        elif kind is Coordinator:
            self._on_coordinator(src, msg.term, now)
        elif kind is Heartbeat:
            self._on_heartbeat(src, msg.term)
        elif kind is HeartbeatAck:
            self._on_ack(src, msg.term, now)

    def on_timer(self, timer: str, now: int) -> None:
        if timer == HEARTBEAT:
            if self.coordinating:
                self.broadcast(Heartbeat(term=self.announced))
                self.set_timer(HEARTBEAT, self.config.heartbeat_ms)
        elif timer == SILENCE:
            if self.phase is Phase.IDLE and not self.coordinating:
                self.note("coordinator_suspected", suspect=self.leader)
                self.leader = None
                self._hold_election(now)
        elif timer == ANSWER_WAIT:
            if self.phase is Phase.ELECTING:
                self._announce(now)
        elif timer == COORDINATOR_WAIT:
            if self.phase is Phase.AWAITING:
                self._hold_election(now)
        elif timer == QUORUM_LEASE:
            if self.coordinating and self.lease is not None:
                self._apply_gate(now)

    # -- the rules ----------------------------------------------------------------------

    def _on_election(self, src: int, epoch: int, now: int) -> None:
        if src > self.id:
            return  # ELECTION only ever goes up; one from above is not part of the protocol
        self._observe(epoch)
        self.send(src, Answer(term=self.term))
        if self.phase is Phase.IDLE:
            self._hold_election(now)

    def _on_answer(self, src: int, epoch: int) -> None:
        if src < self.id or self.phase is not Phase.ELECTING:
            return  # late or duplicate ANSWER: this election already moved on
        self._observe(epoch)
        self.cancel_timer(ANSWER_WAIT)
        self.phase = Phase.AWAITING
        self.role = Role.FOLLOWER
        self.set_timer(COORDINATOR_WAIT, self.config.coordinator_timeout_ms)
        self.note("election_lost", term=self.term, reason=f"answer from {src}")

    def _on_coordinator(self, src: int, epoch: int, now: int) -> None:
        if self._stale(src, epoch):
            return
        if src > self.id:
            self._adopt(src, epoch)
            return
        # A lower id announced itself while this node is alive: adopt it, then bully it.
        self._stop_coordinating()
        self.leader = src
        if self.phase is Phase.IDLE:
            self._hold_election(now)

    def _on_heartbeat(self, src: int, epoch: int) -> None:
        if self._stale(src, epoch):
            return
        if self.phase is not Phase.IDLE:
            return  # only ELECTION, ANSWER and COORDINATOR move an election on
        if src == self.leader:
            self.set_timer(SILENCE, self.config.failure_timeout_ms)
            if self.lease is not None:
                self.send(src, HeartbeatAck(term=epoch))
        elif src > self.id and src > (self.leader or 0):
            self._adopt(src, epoch)

    def _on_ack(self, src: int, epoch: int, now: int) -> None:
        if self.lease is None or not self.coordinating or not self.reign_from <= epoch <= self.announced:
            return  # not an acknowledgement of this node's current, unbroken reign
        self.lease.record(src, now)
        self._apply_gate(now)

    # -- building blocks ----------------------------------------------------------------

    def _hold_election(self, now: int) -> None:
        """Start (or restart) an election: announce at once if no id is higher, else ask the higher ids."""
        self.cancel_timer(SILENCE)
        self.cancel_timer(COORDINATOR_WAIT)
        self.note("election_started", term=self.term)
        if not self.higher or self._higher_all_down():
            self._announce(now)
            return
        self._stop_coordinating()
        if self.leader == self.id:
            self.leader = None
        self.phase = Phase.ELECTING
        self.role = Role.CANDIDATE
        for peer in self.higher:
            self.send(peer, Election(term=self.term))
        self.set_timer(ANSWER_WAIT, self.config.answer_timeout_ms)

    def _higher_all_down(self) -> bool:
        """transport_hints: the connection to every higher id is down, so no ANSWER can come."""
        return bool(self.down) and all(p in self.down for p in self.higher)

    def _announce(self, now: int) -> None:
        """Become coordinator: a new epoch, durable before COORDINATOR goes to every lower id."""
        self.cancel_timer(ANSWER_WAIT)
        self.cancel_timer(COORDINATOR_WAIT)
        self.cancel_timer(SILENCE)
        self._set_epoch(self.term + 1)
        self.announced = self.term
        again = self.coordinating  # re-announcing, e.g. after an ELECTION from below: the same reign goes on
        if not again:
            self.reign_from = self.announced
        self.phase = Phase.IDLE
        self.coordinating = True
        self.leader = self.id
        for peer in self.lower:
            self.send(peer, Coordinator(term=self.announced))
        self.set_timer(HEARTBEAT, self.config.heartbeat_ms)
        if self.lease is None:
            self.role = Role.LEADER
            self.note("election_won", term=self.announced)
            return
        if not again:
            self.lease.reset()
            self.role = Role.CANDIDATE
        self._apply_gate(now)

    def _adopt(self, src: int, epoch: int) -> None:
        """Yield to a higher coordinator: stop any election, follow it, watch its heartbeats."""
        if self.phase is Phase.ELECTING or self.coordinating:
            self.note("election_lost", term=self.term, reason=f"coordinator {src}")
        self._stop_coordinating()
        self.cancel_timer(ANSWER_WAIT)
        self.cancel_timer(COORDINATOR_WAIT)
        self.phase = Phase.IDLE
        self.role = Role.FOLLOWER
        self.leader = src
        self.set_timer(SILENCE, self.config.failure_timeout_ms)
        if self.lease is not None:
            self.send(src, HeartbeatAck(term=epoch))

    def _stop_coordinating(self) -> None:
        if self.coordinating:
            self.coordinating = False
            self.cancel_timer(HEARTBEAT)
            self.cancel_timer(QUORUM_LEASE)
            self.role = Role.FOLLOWER

    def _apply_gate(self, now: int) -> None:
        """Quorum-gated variant: lead while a majority's acknowledgements are fresh, step down when not."""
        lease = self.lease
        holds = lease.holds(now)
        if holds and self.role is not Role.LEADER:
            self.role = Role.LEADER
            self.note("election_won", term=self.announced)
        elif not holds and self.role is Role.LEADER:
            self.role = Role.CANDIDATE
            self.note("election_lost", term=self.announced, reason="no quorum")
        end = lease.expires_at()
        if holds and end is not None:
            self.set_timer(QUORUM_LEASE, end - now)
        else:
            self.cancel_timer(QUORUM_LEASE)

    def _stale(self, src: int, epoch: int) -> bool:
        """Is this announcement older than one already seen from the same sender? Else remember it."""
        if epoch < self.last_epoch_from.get(src, 0):
            self.note("stale_announcement", sender=src, epoch=epoch)
            return True
        self.last_epoch_from[src] = epoch
        self._observe(epoch)
        return False

    def _observe(self, epoch: int) -> None:
        if epoch > self.term:
            self._set_epoch(epoch)

    def _set_epoch(self, epoch: int) -> None:
        self.term = epoch
        self.persist({"epoch": epoch})

    def __repr__(self) -> str:
        return f"Bully(id={self.id}, role={self.role}, phase={self.phase.value}, epoch={self.term}, leader={self.leader})"
