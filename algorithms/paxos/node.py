"""Paxos leader election with leader leases: the ``paxos`` plugin's state machine.

Every node is both acceptor (quorumlab.algorithms.paxos.acceptor) and proposer. A node
that hears no leader for a random detection timeout runs phase 1 with a fresh
ballot (highest round seen + 1, own id); on a majority of promises, none of
them reporting another node's live lease, it runs phase 2 with the value
"leader = me, lease = lease_ms". Its lease clock starts before Accept leaves;
acceptors start theirs when Accept arrives and hold it longer by the drift
bound (PaxosLease), so the holder's view always ends first. The leader renews
with phase 2 alone under its ballot every renew_ms, which is also its
heartbeat, and steps down when a lease runs out unrenewed. ``role`` is LEADER
exactly while a majority-granted lease is unexpired on the node's own clock.

The proposer is in one of the states of ``ProposerState`` (waiting, acquiring
the lease in phase 1 then phase 2, leading, renewing, moving to a higher
ballot), each entered in a named function (``_start_phase1``,
``_start_phase2``, ``_lease_won``, ``_renewal_unanswered``, ``_round_failed``,
``_yield_to``, ``_step_down``) through ``_enter``, the one place the state and
the role change. ``_need_bump`` is an input, not a state: a refusal showed that
the next renewal must move to a higher ballot first.

Transport hints (``transport_hints``, on by default): when a waiting node's
connection to the leader drops, it does not wait out its detection timeout: it
starts phase 1 as soon as the lease it holds for that leader has run out, the
lowest connected id first and each next one ``hint_stagger_ms`` later. Earlier
is not safe, since a dropped connection does not prove the leader dead and it
may still count on its lease; so the lease is the floor of a hinted failover. A
renewal that arrives meanwhile re-arms the ordinary detection timeout.
"""
from __future__ import annotations

import enum

from quorumlab.core.algorithm import MAX_TERM, ElectionAlgorithm, Role
from quorumlab.core.messages import Message
from quorumlab.core.majority import MajorityConfig
from quorumlab.core.quorum import LOST, WON, VoteTally

from quorumlab.algorithms.paxos import observers
from quorumlab.algorithms.paxos.acceptor import ABSTAIN, LEASE_HELD, REASONS, Acceptor, Verdict
from quorumlab.algorithms.paxos.ballot import ZERO, Ballot, drift_widened, fencing_token
from quorumlab.algorithms.paxos.config import PaxosConfig
from quorumlab.algorithms.paxos.messages import ALGO_ID, ALL, Accept, Accepted, Nack, Prepare, Promise

_ROUND_FIELDS = {
    Prepare: ("round",),
    Promise: ("round", "acc_round"),
    Nack: ("round", "p_round"),
    Accept: ("round",),
    Accepted: ("round",),
}

DETECT = "detect"
"""Fires when a node has heard no leader for its detection timeout (and again after backoff): start phase 1."""
ROUND = "round"
"""Fires when a phase 1 or phase 2 round got no majority in round_timeout_ms."""
RENEW = "renew"
"""A leader's renewal (and heartbeat) interval."""
LEASE_TIMER = "lease"
"""Fires when the leader's own lease runs out: it steps down."""


class ProposerState(enum.Enum):
    """What this node's proposer is doing; the common ``Role`` is LEADER exactly while it holds a lease."""

    WAITING = "waiting"  # no lease, no round open: DETECT is armed
    PREPARING = "preparing"  # phase 1 to acquire the lease
    ACQUIRING = "acquiring"  # phase 2 to acquire it
    LEADING = "leading"  # lease held, no round open
    RENEWING = "renewing"  # lease held, a phase 2 renewal under its ballot open
    BUMP_PREPARING = "bump-preparing"  # lease held, phase 1 under a higher ballot open
    BUMP_ACCEPTING = "bump-accepting"  # lease held, phase 2 under that higher ballot open
    BUMPED = "bumped"  # lease held under the old ballot; the higher one's phase 2 has not won yet


_ROLE = {
    ProposerState.WAITING: Role.FOLLOWER,
    ProposerState.PREPARING: Role.CANDIDATE,
    ProposerState.ACQUIRING: Role.CANDIDATE,
    ProposerState.LEADING: Role.LEADER,
    ProposerState.RENEWING: Role.LEADER,
    ProposerState.BUMP_PREPARING: Role.LEADER,
    ProposerState.BUMP_ACCEPTING: Role.LEADER,
    ProposerState.BUMPED: Role.LEADER,
}
_HOLDING = frozenset(s for s, role in _ROLE.items() if role is Role.LEADER)
"""The states in which a lease is held."""
_PHASE_1 = frozenset({ProposerState.PREPARING, ProposerState.BUMP_PREPARING})
_PHASE_2 = frozenset({ProposerState.ACQUIRING, ProposerState.RENEWING, ProposerState.BUMP_ACCEPTING})
_ROUND_OPEN = _PHASE_1 | _PHASE_2
_PHASE_2_FROM = {
    ProposerState.PREPARING: ProposerState.ACQUIRING,  # phase 1 won: acquire
    ProposerState.BUMP_PREPARING: ProposerState.BUMP_ACCEPTING,  # phase 1 under the higher ballot won
    ProposerState.BUMPED: ProposerState.BUMP_ACCEPTING,  # renew: its phase 2 is the bump's, again
    ProposerState.BUMP_ACCEPTING: ProposerState.BUMP_ACCEPTING,
    ProposerState.LEADING: ProposerState.RENEWING,  # renew under the ballot held
    ProposerState.RENEWING: ProposerState.RENEWING,
}
"""Where phase 2 starts from, and what it is there."""


class Paxos(ElectionAlgorithm):
    """Leader election by Paxos ballots; the leader holds a lease renewed by phase 2 alone."""

    name = "paxos"
    description = "Paxos election: ballots, prepare/promise + accept/accepted, PaxosLease leader leases"
    algo_id = ALGO_ID
    Config = PaxosConfig
    messages = ALL
    detection_timer = DETECT

    @classmethod
    def safety_observers(cls) -> list:
        """Lease exclusion under the drift bound, one leader per ballot, promises kept across restarts."""
        return observers.default_observers()

    @classmethod
    def detection_config(cls, detect_min_ms: int, detect_max_ms: int) -> dict[str, int]:
        """Detect a silent leader between min and max ms after its last renewal.

        Rule: the detection range is copied; lease_ms = 9/10 of min, so the
        acceptors' drift-widened hold ends before the earliest detection and the
        lease never slows detection down; renew_ms = lease_ms / 3, so two lost
        renewals in a row still keep the lease; round_timeout_ms stays 50 ms but
        below the lease. (150, 300) gives exactly the defaults.
        """
        lease = max(2, detect_min_ms * 9 // 10)
        return {
            "detect_min_ms": detect_min_ms,
            "detect_max_ms": detect_max_ms,
            "lease_ms": lease,
            "renew_ms": max(1, lease // 3),
            "round_timeout_ms": min(50, lease - 1),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.quorum = MajorityConfig(self.voters)
        self.ballot: Ballot = ZERO
        self.lease_ballot: Ballot = ZERO  # the ballot a majority accepted for the lease held (ballot may be ahead, mid-bump)
        self.lease_until = 0
        self.acceptor: Acceptor | None = None  # built from storage at start
        self.proposer = ProposerState.WAITING
        self.failures = 0  # rounds lost in a row: the backoff grows with them
        self.quiet_until = 0  # no phase 1 before this: a lease or Accept seen, or reported by a refusal
        self._tally: VoteTally | None = None  # the open round's promises or acceptances
        self._seq = 0  # phase 2 rounds under one ballot: only Accepted for the current one count
        self._round_start = 0  # when the open phase 2 began: the lease it wins runs from here
        self._other_lease: tuple[int, int] | None = None  # (holder, until) of a lease a promise reported
        self._loss_reason = ""
        self._need_bump = False  # a refusal showed a higher promise: the next renewal moves to a higher ballot first
        self._max_hold = 0  # longest lease any acceptor holds (the acceptor's, set at start)
        self._malformed_noted = False
        self._down: set[int] = set()  # transport_hints: peers whose connection is down, not heard from since

    # -- observable state ---------------------------------------------------------------

    @property
    def fencing_token(self) -> int | None:
        """The ballot of the lease held, as one growing integer (see ballot.fencing_token); None unless leading.

        Not ``ballot``: while a leader moves to a higher ballot, nobody may have promised it yet.
        """
        return fencing_token(self.lease_ballot) if self.role == Role.LEADER else None

    def status(self) -> dict:
        """Role, term, leader, plus the ballot (fencing token), the promise and the lease expiry."""
        s = super().status()
        s.update(
            ballot=list(self.ballot),
            fencing_token=self.fencing_token,
            promised=list(self.acceptor.promised if self.acceptor is not None else ZERO),
            lease_until=self.lease_until if self.role == Role.LEADER else None,
        )
        return s

    # -- events -------------------------------------------------------------------------

    def on_start(self, now: int) -> None:
        """Load the durable promise, abstain if this is a restart, arm detection."""
        cfg: PaxosConfig = self.config
        self.acceptor = Acceptor(self.storage.read(), cfg.lease_ms, cfg.max_clock_drift, now)
        self.term = max(self.acceptor.promised[0], self.acceptor.accepted[0])
        self._max_hold = self.acceptor.max_hold_ms()
        if self.acceptor.abstain_until > now:
            self.note("lease_abstain", until=self.acceptor.abstain_until, ms=self.acceptor.abstain_until - now)
        self._arm_detect()

    def on_timer(self, timer: str, now: int) -> None:
        """Dispatch detect, round, renew and lease timers."""
        if timer == DETECT:
            self._on_detect(now)
        elif timer == ROUND:
            self._on_round_timeout(now)
        elif timer == RENEW:
            self._on_renew(now)
        elif timer == LEASE_TIMER:
            self._step_down(now)

    def on_peer_down(self, peer: int, now: int) -> None:
        """With transport_hints: the connection to ``peer`` dropped; if it is the leader and we wait, phase 1 starts
        when the lease held here runs out (plus hint_stagger_ms per connected node with a lower id)."""
        if not self.config.transport_hints or peer not in self.peers:
            return
        self._down.add(peer)
        if peer != self.leader or self.proposer is not ProposerState.WAITING:
            return
        ahead = sum(1 for v in self.peers if v < self.id and v != peer and v not in self._down)
        delay = max(0, self._blocked_until(now) - now) + ahead * self.config.hint_stagger_ms
        self.note("leader_connection_lost", leader=peer, term=self.term, campaign_in=delay)
        if delay == 0:
            self._on_detect(now)
        else:
            self.set_timer(DETECT, delay)

    def on_peer_up(self, peer: int, now: int) -> None:
        self._down.discard(peer)

    def on_message(self, msg: Message, now: int) -> None:
        """Learn the sender's round, then run the acceptor or proposer rule for the message type."""
        t = type(msg)
        if self._down:
            self._down.discard(msg.src)
        if (t is Prepare or t is Accept) and msg.bid != msg.src:
            self._malformed(msg)
            return
        if max(getattr(msg, f) for f in _ROUND_FIELDS[t]) >= MAX_TERM:
            self._malformed(msg)  # a forged round near 2**64 would overflow our next ballot
            return
        self._learn(msg.term)
        if t is Accept:
            self._on_accept(msg, now)
        elif t is Accepted:
            self._on_accepted(msg, now)
        elif t is Prepare:
            self._on_prepare(msg, now)
        elif t is Promise:
            self._on_promise(msg, now)
        elif t is Nack:
            self._on_nack(msg, now)

    # -- detection and backoff ------------------------------------------------------------

    def _arm_detect(self) -> None:
        cfg = self.config
        self.set_timer(DETECT, self.rng.randint(cfg.detect_min_ms, cfg.detect_max_ms))

    def _blocked_until(self, now: int) -> int:
        """Phase 1 may not start before this: abstention, a lease held here for another, a recent lease or Prepare."""
        acc = self.acceptor
        held = acc.lease_holder(now)
        return max(acc.abstain_until, self.quiet_until, acc.hold_until if held and held != self.id else 0)

    def _on_detect(self, now: int) -> None:
        if self.proposer is not ProposerState.WAITING:
            return
        until = self._blocked_until(now)
        if until > now:
            self.set_timer(DETECT, until - now + self.rng.randint(0, self.config.backoff_base_ms))
            return
        self._start_phase1(now)

    def _backoff_ms(self) -> int:
        """Randomized and growing: drawn from [cap/2, cap], cap = base * 2^failures, at most backoff_max_ms."""
        cfg = self.config
        cap = min(cfg.backoff_max_ms, cfg.backoff_base_ms << min(self.failures, 30))
        return self.rng.randint(max(1, cap // 2), cap)

    # -- proposer: its state ----------------------------------------------------------------

    def _enter(self, state: ProposerState) -> None:
        """Where the proposer's state and the role that reports it change."""
        self.proposer = state
        self.role = _ROLE[state]

    def _close_round(self) -> None:
        """Stop counting the open round's answers and its timeout."""
        self._tally = None
        self.cancel_timer(ROUND)

    # -- proposer: phase 1 ----------------------------------------------------------------

    def _start_phase1(self, now: int) -> None:
        """Phase 1 with a fresh ballot: to acquire the lease (PREPARING), or, holding it, to move above a
        higher promise (BUMP_PREPARING)."""
        holding = self.proposer in _HOLDING
        rnd = self.term + 1
        self.term = rnd
        self.ballot = (rnd, self.id)
        self._tally = self.quorum.tally()
        self._other_lease = None
        self._loss_reason = "no majority"
        if holding:
            self._enter(ProposerState.BUMP_PREPARING)
            self.note("election_started", term=rnd, ballot=list(self.ballot), holding_lease=True)
        else:
            self._enter(ProposerState.PREPARING)
            self.leader = None
            self.note("election_started", term=rnd, ballot=list(self.ballot))
        verdict = self.acceptor.prepare(self.ballot, now)
        self._persist(verdict, "promised")
        self.broadcast(Prepare(term=self.term, round=rnd, bid=self.id))
        self.set_timer(ROUND, self.config.round_timeout_ms)
        self._count_phase1(self.id, verdict.ok, now)

    def _on_promise(self, msg: Message, now: int) -> None:
        if self.proposer not in _PHASE_1 or (msg.round, msg.bid) != self.ballot:
            return
        # Defence in depth: our acceptors refuse to promise while they hold another node's lease,
        # so a correct peer never reports one here; PaxosLease's rule (the wording) is kept
        # for acceptors that promise and report instead, such as a different implementation.
        if msg.lease_holder not in (0, self.id) and msg.lease_left > 0:
            until = now + min(msg.lease_left, self._max_hold)
            if self._other_lease is None or until > self._other_lease[1]:
                self._other_lease = (msg.lease_holder, until)
        self._count_phase1(msg.src, True, now)

    def _count_phase1(self, voter: int, granted: bool, now: int) -> None:
        result = self._tally.record(voter, granted)
        if result == WON:
            if self._other_lease is not None:
                holder, until = self._other_lease
                self.quiet_until = max(self.quiet_until, until)
                self._round_failed(now, f"a promise reported node {holder}'s lease")
            else:
                self._start_phase2(now)
        elif result == LOST:
            self._round_failed(now, self._loss_reason)

    # -- proposer: phase 2 (acquire or renew) -----------------------------------------------

    def _start_phase2(self, now: int) -> None:
        """Phase 2 under the ballot held: to acquire the lease, to renew it, or to finish moving to a higher ballot."""
        cfg = self.config
        self._enter(_PHASE_2_FROM[self.proposer])
        self._seq += 1
        self._round_start = now  # the lease clock starts before Accept leaves
        self._tally = self.quorum.tally()
        self._loss_reason = "no majority"
        # Accept depends on nothing of our own acceptor's, so it leaves first and our write overlaps the
        # round trip; our own vote only becomes visible (leadership) after that write is flushed. Phase 1
        # is the other way round: the promise of our ballot is durable before Prepare leaves, so a
        # restarted node can never reuse a ballot it already proposed.
        self.broadcast(Accept(term=self.term, round=self.ballot[0], bid=self.id, seq=self._seq, lease_ms=cfg.lease_ms))
        verdict = self.acceptor.accept(self.ballot, cfg.lease_ms, now)
        self._persist(verdict, "accepted")
        self.set_timer(ROUND, cfg.round_timeout_ms)
        self._count_phase2(self.id, verdict.ok, now)

    def _on_accepted(self, msg: Message, now: int) -> None:
        if self.proposer not in _PHASE_2 or (msg.round, msg.bid) != self.ballot or msg.seq != self._seq:
            return
        self._count_phase2(msg.src, True, now)

    def _count_phase2(self, voter: int, granted: bool, now: int) -> None:
        result = self._tally.record(voter, granted)
        if result == WON:
            self._lease_won(now)
        elif result == LOST:
            if self.proposer in _HOLDING:
                self._renewal_unanswered()
            else:
                self._round_failed(now, self._loss_reason)

    def _lease_won(self, now: int) -> None:
        """A majority accepted: the lease runs from the round's start (round_timeout_ms < lease_ms keeps it ahead of now)."""
        cfg = self.config
        was = self.proposer
        self._close_round()
        self._enter(ProposerState.LEADING)
        until = self._round_start + cfg.lease_ms
        self.lease_until = until
        self.lease_ballot = self.ballot
        self.set_timer(LEASE_TIMER, until - now)
        lease = {"start": self._round_start, "until": until, "ballot": list(self.ballot)}
        if was is ProposerState.ACQUIRING:
            self.leader = self.id
            self.failures = 0
            self.cancel_timer(DETECT)
            self.set_timer(RENEW, max(1, self._round_start + cfg.renew_ms - now))
        elif was is ProposerState.RENEWING:
            self.note("lease_renewed", **lease)
            return
        self.note("election_won", term=self.ballot[0], ballot=list(self.ballot), lease_until=until)
        self.note("lease_acquired", **lease)

    def _renewal_unanswered(self) -> None:
        """A renewal, or the phase 2 of a move to a higher ballot, won no majority: still leading under the lease
        held, and the lease timer decides; a move stays unfinished (BUMPED) until a renewal wins its phase 2."""
        bumping = self.proposer is ProposerState.BUMP_ACCEPTING
        self._close_round()
        self._enter(ProposerState.BUMPED if bumping else ProposerState.LEADING)

    def _on_renew(self, now: int) -> None:
        if self.proposer not in _HOLDING:
            return
        self.set_timer(RENEW, self.config.renew_ms)
        if self.proposer is ProposerState.BUMP_PREPARING:
            return  # a ballot bump is in flight; its phase 2 is the renewal
        if self._need_bump:
            self._need_bump = False
            self._start_phase1(now)
        else:
            self._start_phase2(now)

    def _step_down(self, now: int) -> None:
        """The lease ran out unrenewed (the timer is re-armed at every renewal, so now == lease_until)."""
        if self.proposer not in _HOLDING:
            return
        self.note("stepped_down", ballot=list(self.ballot), reason="lease expired")
        self._close_round()
        self._enter(ProposerState.WAITING)
        self.leader = None
        self._need_bump = False
        self.cancel_timer(RENEW)
        self._arm_detect()

    # -- proposer: losing ------------------------------------------------------------------

    def _on_round_timeout(self, now: int) -> None:
        if self.proposer in (ProposerState.RENEWING, ProposerState.BUMP_ACCEPTING):
            self._renewal_unanswered()
        elif self.proposer in _ROUND_OPEN:
            self._round_failed(now, "timeout")

    def _round_failed(self, now: int, reason: str) -> None:
        """A phase 1 or an acquisition failed. Holding a lease (a failed move to a higher ballot): lead on under
        it. Otherwise wait: back off (randomized, growing), never before a known lease ends."""
        self.note("election_lost", term=self.ballot[0], reason=reason)
        self._close_round()
        if self.proposer in _HOLDING:
            self._enter(ProposerState.LEADING)
            return
        self._enter(ProposerState.WAITING)
        delay = self._backoff_ms()
        self.failures += 1
        wait = self.quiet_until - now
        if wait > delay:
            delay = wait + self.rng.randint(0, self.config.backoff_base_ms)
        self.set_timer(DETECT, delay)

    def _yield_to(self, now: int, reason: str) -> None:
        """Another proposer has the floor (its ballot is promised or accepted here): stop and wait a full detection."""
        if self.proposer in _ROUND_OPEN:
            self.note("election_lost", term=self.ballot[0], reason=reason)
            self._close_round()
            self.failures += 1
        self._enter(ProposerState.WAITING)
        self._arm_detect()

    def _on_nack(self, msg: Message, now: int) -> None:
        self._learn(msg.p_round)
        if (msg.round, msg.bid) != self.ballot:
            return
        if self.proposer in _HOLDING and (msg.p_round, msg.p_bid) > self.ballot:
            self._need_bump = True  # even if this renewal already won: that acceptor stays lost until we move up
        if self.proposer not in _ROUND_OPEN:
            return
        if msg.reason in (LEASE_HELD, ABSTAIN):
            self.quiet_until = max(self.quiet_until, now + min(msg.wait_ms, self._max_hold))
        self._loss_reason = f"node {msg.src}: {REASONS.get(msg.reason, 'refused')}"
        if msg.phase == 1 and self.proposer in _PHASE_1:
            self._count_phase1(msg.src, False, now)
        elif msg.phase == 2 and self.proposer in _PHASE_2 and msg.seq == self._seq:
            self._count_phase2(msg.src, False, now)

    # -- acceptor ------------------------------------------------------------------------

    def _on_prepare(self, msg: Message, now: int) -> None:
        ballot = (msg.round, msg.bid)
        self._learn(msg.round)
        verdict = self.acceptor.prepare(ballot, now)
        if not verdict.ok:
            self._nack(msg.src, ballot, 1, 0, verdict.reason, now)
            return
        self._persist(verdict, "promised")
        acc = self.acceptor
        holder = acc.lease_holder(now)
        self.send(
            msg.src,
            Promise(
                term=self.term,
                round=ballot[0],
                bid=ballot[1],
                acc_round=acc.accepted[0],
                acc_bid=acc.accepted[1],
                lease_holder=holder,
                lease_left=acc.lease_left(now) if holder else 0,
            ),
        )
        if self.proposer not in _HOLDING:
            self._yield_to(now, f"preempted by ballot {list(ballot)}")

    def _on_accept(self, msg: Message, now: int) -> None:
        ballot = (msg.round, msg.bid)
        self._learn(msg.round)
        self.quiet_until = max(self.quiet_until, now + drift_widened(min(msg.lease_ms, self.config.lease_ms), self.config.max_clock_drift))
        verdict = self.acceptor.accept(ballot, msg.lease_ms, now)
        if not verdict.ok:
            self._nack(msg.src, ballot, 2, msg.seq, verdict.reason, now)
            if verdict.reason == ABSTAIN and self.proposer not in _HOLDING:
                self.leader = msg.src
            return
        self._persist(verdict, "accepted")
        self.send(msg.src, Accepted(term=self.term, round=ballot[0], bid=ballot[1], seq=msg.seq))
        if self.proposer not in _HOLDING:
            self._yield_to(now, f"node {msg.src} is taking the lease")
            self.leader = msg.src

    def _nack(self, to: int, ballot: Ballot, phase: int, seq: int, reason: int, now: int) -> None:
        acc = self.acceptor
        self.send(
            to,
            Nack(
                term=self.term,
                round=ballot[0],
                bid=ballot[1],
                phase=phase,
                seq=seq,
                reason=reason,
                p_round=acc.promised[0],
                p_bid=acc.promised[1],
                holder=acc.lease_holder(now),
                wait_ms=acc.wait_ms(now),
            ),
        )

    # -- small helpers -----------------------------------------------------------------------

    def _persist(self, verdict: Verdict, kind: str) -> None:
        """Durable before visible: stage and flush the acceptor state before the reply that depends on it."""
        if verdict.changed:
            self.persist(self.acceptor.durable())
            self.note(kind, ballot=list(self.acceptor.promised))

    def _learn(self, rnd: int) -> None:
        if rnd > self.term:
            self.term = rnd

    def _malformed(self, msg: Message) -> None:
        """A proposal under another node's ballot, or a round no honest node could reach: dropped; noted once per incarnation."""
        if not self._malformed_noted:
            self._malformed_noted = True
            self.note("dropped_malformed", type=msg.name, src=msg.src, ballot_node=msg.bid)
