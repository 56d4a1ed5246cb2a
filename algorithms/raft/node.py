"""Raft as a deterministic state machine: election and log replication (paper sections 5 and 8).

Every node starts as a follower. A follower that hears from no leader for a
randomized election timeout becomes a candidate: it increments its term, votes
for itself, persists both, and asks every other node for its vote. A majority
makes it leader; a leader sends AppendEntries heartbeats to keep followers from
timing out. Any message with a higher term first makes the node adopt that
term, forget its vote, step down and persist, and only then is the message
handled; a message with a lower term is answered with the current term and
otherwise ignored. currentTerm and votedFor are persisted before every message
that depends on them leaves.

The node's own states (``_State``) are Figure 4's three plus the pre-vote
round, PRE_CANDIDATE, which the common ``Role`` reports as a follower (as etcd
reports StatePreCandidate). Each is entered through one function
(``_become_follower``, ``_become_pre_candidate``, ``_become_candidate``,
``_become_leader``) that starts from ``_reset`` (etcd's reset: no vote count or
per-follower progress left over, a new term without a vote) and sets state,
role and leader in ``_enter``, the one place they change. A message goes to the
handler its type has in the current state (``_step_tables``, etcd's
stepFollower / stepCandidate / stepLeader), so what each state can receive is
said in one place.

Replication follows Figure 2. A new leader appends a no-op entry of its term at
once (section 8) and probes each follower with AppendEntries(prevLogIndex,
prevLogTerm, entries, leaderCommit); a follower whose log does not match at
prevLogIndex rejects with a hint (its last entry at or before that index whose
term is not above prevLogTerm), so the leader skips a whole term per round trip.
A follower drops a conflicting suffix (never a committed entry) and appends.
The leader keeps one ``Progress`` per follower (quorumlab.algorithms.raft.progress): it
probes, one message at a time, until the follower matches, then pipelines
batches of up to ``max_batch_entries`` entries while the follower's window has
room (``max_inflight`` messages, ``max_inflight_bytes`` command bytes). The
commit index advances to the highest index a majority holds (asked of the
voter configuration, quorumlab.core.majority) only when that entry is of the leader's
current term (section 5.4.2); committed entries are applied in order, once,
through ``Apply`` effects.

Durable before visible: client commands and received entries are staged in the
log and flushed together on the zero-delay ``flush`` timer (group commit: one
fsync for everything that arrived in one runtime batch). A leader sends a new
entry at once to each follower with nothing in flight, so its own fsync runs
while theirs do (section 10.2.1); commands that arrive while messages are in
flight wait and leave together on the next acknowledgement or flush. A follower answers an
AppendEntries only once the entries it acknowledges are durable; a leader counts
itself toward a majority only up to its own durable index. The flush of the log
runs inside that timer's handler, before any effect it returns is executed.

Two etcd extensions, both off by default (RaftConfig). With ``pre_vote`` (thesis
9.6) a follower whose election timer fires first becomes a pre-candidate and asks
every node for a pre-vote for term+1 without changing or persisting anything; a voter grants one if the
asker's log is at least as up to date as its own and it has not heard from a
leader within election_timeout_min, and nobody adopts the asked term. Only a
majority of pre-votes starts the real election, so a node cut off and healed
cannot depose a working leader by arriving with a higher term. With
``check_quorum`` (thesis 6.2) a leader that has not heard from a majority,
itself included, within election_timeout_max steps down, so a leader cut off in
a minority stops leading; and a follower that heard from its leader within
election_timeout_min, or a leader, ignores RequestVote altogether (leader lease).

Log compaction (section 7), off by default (``snapshot_entries``, ``snapshot_bytes``): every
so many applied entries a node asks the runtime for its state machine's image (``TakeSnapshot``)
and, once the image is durable, drops its log up to it (the ``compact`` timer). A leader sends its
image in chunks (InstallSnapshot) to a follower that needs entries it dropped, while heartbeats go
on; the follower installs it (``RestoreSnapshot``), keeping the part of its log that follows a
matching last entry. A node restarts from its newest intact image and the log after it.
docs/raft.md, "Snapshots", has the design and what is not done yet.
Transport hints (``transport_hints``, on by default): the runtime tells the node when its connection to a
peer drops or comes back (``peer_down``, ``peer_up``). A follower whose connection to its leader drops does
not wait out its election timeout: it campaigns at once, always through a pre-vote round (whatever
``pre_vote`` says), so a link that flaps or a slow leader raises no term and deposes nobody: the other voters
still hear from the leader and refuse. A voter whose own connection to its leader is down no longer counts the
leader as heard (until the leader's next message): it grants the pre-vote, and with check_quorum the vote.
So that one candidate usually runs alone, the followers go in node order: the first at once, each next one
``hint_stagger_ms`` later per follower before it that is still connected; one that grants another's
pre-vote meanwhile stands back, and one that refuses a pre-vote for a log behind its own goes at once (also when
the refusal came just before its own connection dropped).

Client commands come in through ``propose`` or ``propose_many``: a leader appends them and
reports ``Proposed(first index, term, count)``; anyone else reports ``ProposeRejected`` with
the leader it knows, so the client can retry there.

Leadership transfer (thesis 3.10, ``transfer(to)``): the leader stops taking commands (``busy``, naming the
target), brings the target's log up to its own, and sends it ``TimeoutNow``; the target campaigns at once in the
next term, past pre-vote, with RequestVote's ``transfer`` flag so voters' leases do not hold their votes back.
The leader's own lease ends when the transfer starts (the voters' leases it relied on are being bypassed). A
transfer that has not completed within election_timeout_max is abandoned and commands are taken again.
"""
from __future__ import annotations

import collections
import enum
import functools
import random
from typing import Any, Callable, Sequence

from quorumlab.algorithms.raft.config import RaftConfig
from quorumlab.algorithms.raft.durable import LOG_FILE
from quorumlab.algorithms.raft.log import RaftLog
from quorumlab.algorithms.raft.membership import (
    CONFIG_MAGIC,
    LEAVE_JOINT,
    PROMOTE,
    ConfigHistory,
    Membership,
    MembershipError,
    parse_change,
    plan,
)
from quorumlab.algorithms.raft.messages import (
    ALGO_ID,
    ALL,
    AppendEntries,
    AppendEntriesResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    PreVote,
    PreVoteResponse,
    PROPOSE_CODES,
    Propose,
    ProposeResponse,
    ReadIndex,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
)
from quorumlab.algorithms.raft.observers import replication_observers
from quorumlab.algorithms.raft.progress import Inflights, Progress, ProgressState
from quorumlab.core.algorithm import ElectionAlgorithm, Role
from quorumlab.core.config import AlgorithmConfig
from quorumlab.core.effects import (
    BUSY,
    INVALID,
    LEASE,
    NOT_LEADER,
    READ_CONSISTENCIES,
    MembershipChanged,
    Persist,
    RestoreSnapshot,
    TakeSnapshot,
)
from quorumlab.core.errors import StorageError
from quorumlab.core.kv import KVStore
from quorumlab.core.limits import ENTRY_OVERHEAD_BYTES, MAX_BATCH, MAX_COMMAND_BYTES
from quorumlab.core.majority import JointConfig, MajorityConfig
from quorumlab.core.messages import Message
from quorumlab.core.quorum import LOST, WON, VoteTally
from quorumlab.core.snapshots import SnapshotDamaged, SnapshotInfo

ELECTION = "election"
"""Timer armed on followers and candidates; expiry starts an election."""
HEARTBEAT = "heartbeat"
"""Timer armed on the leader; expiry sends AppendEntries to every follower."""
FLUSH = "flush"
"""Zero-delay timer armed when log entries are staged; expiry makes them durable, then acknowledges or counts them."""
COMMIT_NOTIFY = "commit_notify"
"""Timer armed on a leader when its commit index moved; expiry tells followers that have not heard it yet."""
CHECK_QUORUM = "check_quorum"
"""Timer armed on a leader with check_quorum; expiry steps down unless a majority was heard from recently."""
TRANSFER = "transfer"
"""Timer armed on a leader that transfers leadership; expiry abandons a transfer that has not completed."""
COMPACT = "compact"
"""Zero-delay timer armed with a TakeSnapshot; expiry finds the image durable and drops the log up to it (or, while
the runtime still writes it in the background, looks again COMPACT_RETRY_MS later)."""
COMPACT_RETRY_MS = 10
MAX_FORWARDED = 4096
"""Forwarded requests a follower lets wait for its leader's answer at once (then it refuses more: busy)."""
MAX_FORWARD_BATCH = MAX_BATCH
"""The most commands a leader takes in one Propose."""


class _State(enum.Enum):
    """Raft's own states: Figure 4's three, and the pre-vote round between follower and candidate."""

    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


_ROLE = {
    _State.FOLLOWER: Role.FOLLOWER,
    _State.PRE_CANDIDATE: Role.FOLLOWER,  # it changed no term and voted for nobody: to everyone else, a follower
    _State.CANDIDATE: Role.CANDIDATE,
    _State.LEADER: Role.LEADER,
}
"""The common view (quorumlab.core.Role) of each state."""


class Raft(ElectionAlgorithm):
    """One Raft node: follower, candidate or leader (Figure 4), with durable term, vote and log."""

    name = "raft"
    description = "Raft (Ongaro & Ousterhout): elections, replicated durable log, commit rule, client commands"
    algo_id = ALGO_ID
    Config = RaftConfig
    messages = ALL
    detection_timer = ELECTION
    StateMachine = KVStore
    """What runtimes apply committed entries to (quorumlab.core.runtime.node builds one per node process)."""
    joins = True
    """A node may start outside ``voters`` (a server being added): it campaigns for nothing until a configuration
    entry makes it a voter (quorumlab.algorithms.raft.membership)."""

    def __init__(
        self,
        node_id: int,
        voters: Sequence[int],
        config: AlgorithmConfig | None = None,
        storage: Any = None,
        rng: random.Random | None = None,
        cluster: int = 0,
    ) -> None:
        super().__init__(node_id, voters, config, storage, rng, cluster)
        self.quorum: MajorityConfig | JointConfig = MajorityConfig(self.voters)
        self.voted_for: int | None = None
        self.log = RaftLog.open(self.storage.open_log(LOG_FILE))
        self.commit_index = 0
        self.last_applied = 0
        self.progress: dict[int, Progress] = {}  # the leader's view of each follower, built when it wins
        self._past_commit: VoteTally | None = None  # leading: the voters known to hold entries past the commit index
        self._notify_armed = False
        self._uncommitted_bytes = 0
        self._uncommitted: collections.deque[tuple[int, int]] = collections.deque()  # (last index, bytes) per batch
        self._pending_ack: tuple[int, int, int] | None = None
        self._pending_commit = 0
        self._flush_armed = False
        self._votes: VoteTally | None = None  # the open count: a pre-candidate's pre-votes or a candidate's votes
        self._leader_heard_at: int | None = None
        self._last_leader: int | None = None  # whom we last followed in this term (kept while a pre-vote runs)
        self._votes_held_until = 0  # with check_quorum: no vote before then (a restarted node may be in a lease)
        self._transfer_to: int | None = None  # leading: the node leadership is being handed to
        self._timeout_sent = False  # leading: TimeoutNow went to _transfer_to
        self._link_down: set[int] = set()  # transport_hints: peers whose connection is down, not heard from since
        self._hinted = False  # the armed election timer is a hinted campaign's (it runs a pre-vote round)
        self._hinted_round = False  # our open pre-vote round is a hinted campaign's
        self._lease_refusal = (0, 0)  # (term asked, when) of the last pre-vote refused (leader heard, or log behind)
        # reads (leading): rounds that confirm leadership, the reads waiting on them
        self._read_round = 0  # the latest read round started in this term (every AppendEntries carries it)
        self._read_confirmed = 0  # the latest round a quorum has answered
        self._round_started: dict[int, int] = {}  # round -> when it started, until confirmed
        self._lease_start: int | None = None  # when the latest confirmed round started (the read lease runs from it)
        self._reads: list[tuple[int, int, int, int]] = []  # (round it needs, requester, ctx, read index), in order
        self._reads_before_commit: list[tuple[int, int]] = []  # (requester, ctx) until an entry of our term commits
        self._clock = 0  # the time of the event being handled (read rounds record when they start)
        # reads (following): the leader's latest round seen, the reads forwarded to the leader
        self._leader_round = 0
        self._forwarded: dict[int, int] = {}  # request id -> ctx
        # commands forwarded to the leader (following): request id -> (ctx, count, when sent), oldest first
        self._forwarded_props: dict[int, tuple[int, int, int]] = {}
        self._forwarders: dict[int, int] = {}  # leading: follower -> the last index of commands it forwarded
        self._proposes_seen: dict[int, dict[int, None]] = {}  # leading: follower -> its latest Propose ids, this term
        self._next_request = 0  # set at start past every id an earlier incarnation can have used (on_start)
        # snapshots (section 7): the newest snapshot this node holds, one being taken, the one to restart from
        self._snapshot_index = 0
        self._snapshotting: int | None = None
        self._snapshots_on = bool(self.config.snapshot_entries or self.config.snapshot_bytes)
        self._applied_bytes = 0  # command bytes applied since the last snapshot (with snapshot_bytes)
        self._boot_snapshot = self._snapshot_to_start_from()
        self._steps = self._step_tables()
        self._state = _State.FOLLOWER
        self._step = self._steps[_State.FOLLOWER]
        # membership (section 6): the configurations in the log, the one in force, the removed being told
        self._history = self._load_history(self.voters)
        self.membership = self._history.current
        self._leaving: set[int] = set()  # leading: members the newest, uncommitted configuration removes
        self._removed_at = 0  # the index of a configuration without this node it knows committed (durable)
        self._handed_to: int | None = None  # removed as leader: the voter it handed over to (a hint for clients)
        self._was_member = node_id in self._history.base.members or any(
            node_id in m.members for _, m in self._history.entries)
        self._use_membership()

    @classmethod
    @functools.cache
    def _step_tables(cls) -> dict[_State, dict[type, Callable[[Raft, Any, int], None]]]:
        """Which handler each state runs for each message type (etcd: stepFollower, stepCandidate, stepLeader),
        built once per class, a subclass's overrides included.

        Every state handles every type, if only by ignoring an answer to a round it no longer has open, so
        ``message_dropped`` is noted for foreign types alone.
        """
        follower = {
            RequestVote: cls._on_request_vote,
            RequestVoteResponse: cls._ignore,
            AppendEntries: cls._on_append_entries,
            AppendEntriesResponse: cls._ignore,
            PreVote: cls._on_pre_vote,
            PreVoteResponse: cls._ignore,
            ReadIndex: cls._on_read_index_not_leading,
            ReadIndexResponse: cls._on_read_index_response,
            Propose: cls._on_propose_not_leading,
            ProposeResponse: cls._on_propose_response,
            TimeoutNow: cls._on_timeout_now,
            InstallSnapshot: cls._on_install_snapshot,
            InstallSnapshotResponse: cls._ignore,
        }
        return {
            _State.FOLLOWER: follower,
            _State.PRE_CANDIDATE: {
                **follower,
                AppendEntries: cls._on_append_entries_as_candidate,
                InstallSnapshot: cls._on_install_snapshot_as_candidate,
                PreVoteResponse: cls._on_pre_vote_response,
            },
            _State.CANDIDATE: {
                **follower,
                AppendEntries: cls._on_append_entries_as_candidate,
                InstallSnapshot: cls._on_install_snapshot_as_candidate,
                RequestVoteResponse: cls._on_request_vote_response,
            },
            _State.LEADER: {
                **follower,
                AppendEntries: cls._on_append_entries_as_leader,
                AppendEntriesResponse: cls._on_append_entries_response,
                ReadIndex: cls._on_read_index,
                ReadIndexResponse: cls._ignore,
                Propose: cls._on_propose,
                ProposeResponse: cls._ignore,
                TimeoutNow: cls._ignore,
                InstallSnapshot: cls._on_install_snapshot_as_leader,
                InstallSnapshotResponse: cls._on_install_snapshot_response,
            },
        }

    @classmethod
    def safety_observers(cls) -> list:
        """Election Safety, VoteOnce, TermNeverDecreases, Log Matching, Leader Completeness, State Machine Safety
        and committed-entries-never-lost (quorumlab.algorithms.raft.observers)."""
        return replication_observers()

    @classmethod
    def detection_config(cls, detect_min_ms: int, detect_max_ms: int) -> dict[str, int]:
        """The election timeout is the detection range itself; heartbeats come max(1, min // 3) ms apart.

        A follower suspects the leader when its election timer, drawn from [min, max], expires;
        a third of the minimum leaves room for two lost heartbeats before that can happen.
        """
        return {
            "election_timeout_min": detect_min_ms,
            "election_timeout_max": detect_max_ms,
            "heartbeat_interval": max(1, detect_min_ms // 3),
        }

    def status(self) -> dict:
        """Role, term, leader, vote, log tail, commit and apply positions; ``transferring_to`` while a leadership
        transfer runs; once the node holds a snapshot, its index and how many entries the log still holds after it."""
        status = {
            **super().status(),
            "voted_for": self.voted_for,
            "last_log_index": self.log.last_index,
            "last_log_term": self.log.last_term,
            "commit_index": self.commit_index,
            "last_applied": self.last_applied,
            "durable_index": self.log.durable_index,
        }
        if self._transfer_to is not None:
            status["transferring_to"] = self._transfer_to
        if self._snapshot_index:
            status["snapshot_index"] = self._snapshot_index
            status["log_entries"] = self.log.held
        status["member"] = self._member_kind()
        status["config_index"] = self._history.current_index
        status["membership"] = self.membership.describe()
        return status

    # -- events ---------------------------------------------------------------------------

    def on_start(self, now: int) -> None:
        """(Re)start as a follower in the durable term with the durable vote and log; arm the election timer.

        Commit and apply positions are volatile: the state machine is rebuilt from the log as
        the commit index is learned again, so every entry is applied once per incarnation; with a
        snapshot, from the snapshot (restored first) and the entries after it.
        """
        state = self.storage.read()
        self.term = int(state.get("term", 0))
        voted = state.get("voted_for")
        self.voted_for = None if voted is None else int(voted)
        self._removed_at = int(state.get("removed_at", 0))
        if self.log.last_term > self.term:
            # Files from a crash between the log's fsync and the state file's (storage now writes the
            # state first). The node had adopted that term; nothing that depends on its vote in it left
            # (the vote would be on disk), so it takes the term with no vote, on disk before anything.
            self.note("term_from_log", term=self.log.last_term, durable_term=self.term)
        self._become_follower(max(self.term, self.log.last_term))
        if self._boot_snapshot is not None:
            self._restore_on_start(self._boot_snapshot)
        self._announce_membership()
        if self._member_kind() == "removed":
            self.note("removed_from_cluster", config_index=self._history.current_index)
        if self.config.check_quorum and self.term > 0:
            # Before the restart it may have heard a leader whose lease (a lease read) counts on its vote:
            # it grants none until that lease would have run out. (Term 0: it never heard anyone.)
            self._votes_held_until = now + self.config.election_timeout_min
        # Request ids (forwarded reads and commands) of this incarnation start past any an earlier one used (a
        # million per ms of the time it ran): an answer meant for a request sent before a restart is never taken
        # for a new one's. (Not from the rng: drawing from it would change every seeded schedule.)
        self._next_request = now << 20
        self._reset_election_timer()

    def on_timer(self, timer: str, now: int) -> None:
        """Flush: group commit. A leader's timers: heartbeat (AppendEntries to every follower), commit notification,
        check quorum (out of touch with a majority, it steps down). Anyone else's: the election timeout, which starts
        a campaign, or first a pre-vote round."""
        self._clock = now
        if self._forwarded_props:
            self._expire_forwarded(now)
        if timer == FLUSH:
            self._flush()
        elif timer == COMPACT:
            self._compact()
        elif self._state is _State.LEADER:
            if timer == HEARTBEAT:
                self._start_read_round(now)
                self._send_heartbeats()
                self.set_timer(HEARTBEAT, self.config.heartbeat_interval)
            elif timer == COMMIT_NOTIFY:
                self._notify_commit()
            elif timer == CHECK_QUORUM and self.config.check_quorum:
                self._check_quorum(now)
            elif timer == TRANSFER and self._transfer_to is not None:
                self._end_transfer("transfer_aborted", "not completed within election_timeout_max")
                if self.id not in self.membership.all_voters:
                    self._become_follower(self.term, reason="removed from the configuration")
        elif timer == ELECTION:
            if not self._may_campaign():
                self._reset_election_timer()  # a learner, a server being added or a removed one never campaigns
                return
            if self.config.pre_vote or self._hinted:
                self._become_pre_candidate(now, hinted=self._hinted)
            else:
                self._become_candidate(now)

    def on_peer_down(self, peer: int, now: int) -> None:
        """With transport_hints, the connection to ``peer`` dropped: remembered until it comes back or ``peer`` is
        heard from, and if ``peer`` is our leader, a hinted campaign (a pre-vote round) starts, at once if no
        connected follower has a lower id, else after hint_stagger_ms per such follower."""
        if not self.config.transport_hints or peer not in self.peers or self.id not in self.membership.all_voters:
            return
        self._clock = now
        self._link_down.add(peer)
        if self._state is not _State.FOLLOWER or peer != self.leader:
            return
        ahead = sum(1 for v in self.peers if v < self.id and v != peer and v not in self._link_down)
        delay = ahead * self.config.hint_stagger_ms
        asked, at = self._lease_refusal
        if asked == self.term + 1 and now - at <= delay:
            delay = 0  # a follower that asked first was refused by us a moment ago (leader heard, or log behind ours)
        self.note("leader_connection_lost", leader=peer, term=self.term, campaign_in=delay)
        if delay == 0:
            self._become_pre_candidate(now, hinted=True)
        else:
            self.set_timer(ELECTION, delay)
            self._hinted = True

    def on_peer_up(self, peer: int, now: int) -> None:
        """With transport_hints, the connection to ``peer`` is back: a hinted campaign against it still waiting is
        called off (the ordinary election timeout runs again)."""
        if not self.config.transport_hints or peer not in self._link_down:
            return
        self._link_down.discard(peer)
        if self._hinted and peer == self.leader:
            self.note("leader_connection_back", leader=peer, term=self.term)
            self._reset_election_timer()

    def on_propose(self, command: bytes, now: int) -> None:
        """A client command: a leader appends it (durable and replicated on the next flush); others redirect."""
        self.on_propose_many([command], now)

    def on_propose_many(self, commands: list[bytes], now: int) -> None:
        """Client commands, one entry each, appended together (one ``Proposed``). A follower or candidate refuses
        the batch naming the leader it knows; an empty command (reserved for the no-op) or a full uncommitted
        budget refuses it too, before anything is appended."""
        if self._state is not _State.LEADER:
            self.reject_proposal(NOT_LEADER, "not leader", self.leader if self.leader is not None else self._handed_to)
            return
        self._propose_here(commands, 0)

    def _propose_here(self, commands: list[bytes], ctx: int) -> None:
        """Leading: admit and append commands (our clients', ``ctx`` 0, or ones forwarded to us as a follower
        that has just become leader), reporting where they went or why not."""
        refusal = self._admit(commands)
        if refusal is not None:
            self.reject_proposal(*refusal, ctx=ctx)
            return
        self.proposed(self._append_commands(commands), self.term, len(commands), ctx)
        self._replicate_new()

    def _invalid(self, commands: list[bytes]) -> str | None:
        """Why these commands can never be appended as they are, or None."""
        if not all(commands):
            return "empty command (reserved for the leader's no-op)"
        if any(c[:1] == b"\x00" and c.startswith(CONFIG_MAGIC) for c in commands):
            return "a command may not start with the configuration entries' prefix"
        return None

    def _admit(self, commands: list[bytes]) -> tuple[str, str, int | None] | None:
        """Leading: the refusal (code, reason, leader hint) of these commands, or None to append them."""
        invalid = self._invalid(commands)
        if invalid is not None:
            return INVALID, invalid, self.id
        if self._transfer_to is not None:
            return BUSY, f"transferring leadership to node {self._transfer_to}; retry there", self._transfer_to
        size = sum(map(len, commands))
        if self._uncommitted_bytes and self._uncommitted_bytes + size > self.config.max_uncommitted_bytes:
            return (BUSY, f"busy: {self._uncommitted_bytes} bytes of commands are not committed yet "
                    f"(max_uncommitted_bytes {self.config.max_uncommitted_bytes}); retry", self.id)
        return None

    def _append_commands(self, commands: list[bytes]) -> int:
        """Leading: append admitted commands in this term (durable on the next flush); the first one's index."""
        size = sum(map(len, commands))
        self._uncommitted_bytes += size
        first = self.log.extend(self.term, [bytes(c) for c in commands])
        self._uncommitted.append((first + len(commands) - 1, size))
        self._arm_flush()
        return first

    def _replicate_new(self) -> None:
        """Send what was just appended to every follower with nothing in flight (the rest get it on their answer)."""
        for p, pr in self.progress.items():
            if not pr.inflights or pr.optimistic:  # a new leader's first commands follow its no-op at once
                self._replicate(p, pr)

    # -- forwarding a follower's commands to the leader (thesis 6.2; etcd's MsgProp) -------------------------

    def on_forward(self, ctx: int, commands: list[bytes], now: int) -> None:
        """Commands a follower's clients gave it: sent to the leader in one Propose. The leader's answer reports
        where they went (``Proposed`` with ``ctx``: the runtime answers once it has applied them here) or that
        nothing was appended; a change of leader or state, or no answer within an election timeout, reports them
        lost (``ForwardLost``: they may have been appended). A leader appends them itself."""
        self._clock = now
        if self._state is _State.LEADER:
            self._propose_here(commands, ctx)
            return
        if self._state is not _State.FOLLOWER or self.leader is None:
            self.reject_proposal(NOT_LEADER, "no leader known to forward to", self._handed_to, ctx)
            return
        if self._member_kind() in ("removed", "joining"):  # the leader drops what a non-member sends
            self.reject_proposal(NOT_LEADER, f"node {self.id} is not a member of the cluster's configuration",
                                 self._handed_to if self._handed_to is not None else self.leader, ctx)
            return
        if self._forwarded_props:
            self._expire_forwarded(now)
        invalid = self._invalid(commands)
        if invalid is not None:
            self.reject_proposal(INVALID, invalid, self.leader, ctx)
            return
        size = sum(map(len, commands)) + ENTRY_OVERHEAD_BYTES * len(commands)
        if size > MAX_COMMAND_BYTES:
            self.reject_proposal(INVALID, f"{len(commands)} commands of {size} bytes do not fit in one message to "
                                 "the leader; submit fewer at once", self.leader, ctx)
            return
        if len(self._forwarded_props) >= MAX_FORWARDED:
            self.reject_proposal(BUSY, f"busy: {MAX_FORWARDED} forwarded requests wait for the leader; retry",
                                 self.leader, ctx)
            return
        self._next_request += 1
        self._forwarded_props[self._next_request] = (ctx, len(commands), now)
        self.send(self.leader, Propose(term=self.term, request=self._next_request,
                                       commands=[(0, 0, c) for c in commands]))

    def _on_propose(self, msg: Any, now: int) -> None:
        """A follower's forwarded commands: appended as our own clients' (the answer goes out before the entries,
        so the follower knows their index before it can apply them), or refused saying why."""
        seen = self._proposes_seen.setdefault(msg.src, {})
        if msg.request in seen:  # a duplicate (the network's): appended once, answered once
            self.note("message_dropped", type=msg.name, src=msg.src, reason="a Propose already handled")
            return
        seen[msg.request] = None
        if len(seen) > MAX_FORWARDED:
            del seen[next(iter(seen))]
        commands = [data for _, _, data in msg.commands]
        if msg.term != self.term:
            refusal: tuple[str, str, int | None] | None = (NOT_LEADER, "", None)
        elif not 1 <= len(commands) <= MAX_FORWARD_BATCH:
            refusal = (INVALID, "", None)
        else:
            refusal = self._admit(commands)
        if refusal is not None:
            self._answer_propose(msg, refusal[0])
            return
        first = self._append_commands(commands)
        self._forwarders[msg.src] = first + len(commands) - 1
        self.send(msg.src, ProposeResponse(term=self.term, request=msg.request, code=0, index=first,
                                           count=len(commands)))
        self._replicate_new()

    def _on_propose_not_leading(self, msg: Any, now: int) -> None:
        self._answer_propose(msg, NOT_LEADER)

    def _answer_propose(self, msg: Any, code: str) -> None:
        self.send(msg.src, ProposeResponse(term=self.term, request=msg.request, code=PROPOSE_CODES.index(code),
                                           index=0, count=0))

    def _on_propose_response(self, msg: Any, now: int) -> None:
        """Our leader's answer to forwarded commands: where it appended them, or why it did not."""
        sent = self._forwarded_props.pop(msg.request, None)
        if sent is None:
            return
        ctx, count = sent[0], sent[1]
        if msg.code == 0 and msg.term == self.term and msg.count == count and msg.index > 0:
            self.proposed(msg.index, msg.term, count, ctx)
        elif 0 < msg.code < len(PROPOSE_CODES):
            code = PROPOSE_CODES[msg.code]
            self.reject_proposal(code, f"the leader (node {msg.src}) refused the forwarded commands: {code}",
                                 self.leader, ctx)
        else:
            self.forward_lost(ctx, f"node {msg.src} answered forwarded commands in an unexpected way", self.leader)

    def _expire_forwarded(self, now: int) -> None:
        """Forwarded commands the leader has not answered within an election timeout: reported lost (the Propose
        or its answer was dropped with a connection, or the leader is stuck; they may still be appended)."""
        props = self._forwarded_props
        limit = now - self.config.election_timeout_max
        while props:
            request, (ctx, _, sent_at) = next(iter(props.items()))
            if sent_at > limit:
                return
            del props[request]
            self.forward_lost(ctx, f"no answer from the leader (node {self.leader}) within "
                              f"{self.config.election_timeout_max} ms; the commands may still be applied", self.leader)

    def _fail_forwarded_props(self) -> None:
        """The node's leader or state changed: forwarded commands will not be answered (they may be appended)."""
        if self._forwarded_props:
            forwarded, self._forwarded_props = self._forwarded_props, {}
            for ctx, _, _ in forwarded.values():
                self.forward_lost(ctx, "the leader changed before it answered; the commands may still be applied",
                                  None)

    # -- leadership transfer (thesis 3.10) ----------------------------------------------------------------

    def on_transfer(self, to: int | None, now: int) -> None:
        """Hand leadership to ``to`` (None: the follower with the longest matching log, ties to the one heard from
        last, then the lowest id): stop
        taking commands, end our lease, bring its log up to ours and send it TimeoutNow. Refused when not leading,
        for a node that is not a peer, and while a transfer to another node runs; a second request for the same
        node is a no-op."""
        self._clock = now
        if self._state is not _State.LEADER:
            self.refuse_transfer(to, NOT_LEADER, "not leader", self.leader)
            return
        if to is None:
            others = [p for p in self.peers if p in self.membership.all_voters]
            if not others:
                self.refuse_transfer(to, INVALID, "no other voter to hand leadership to", self.id)
                return
            to = max(others, key=lambda p: (self.progress[p].match, self.progress[p].heard_at, -p))
        if to == self.id:
            self.refuse_transfer(to, INVALID, f"node {to} already leads", self.id)
            return
        if to not in self.peers or to not in self.membership.all_voters:
            self.refuse_transfer(to, INVALID, f"node {to} is not a voter of this cluster", self.id)
            return
        if self._transfer_to is not None:
            if self._transfer_to != to:
                self.refuse_transfer(to, BUSY, f"a transfer to node {self._transfer_to} is under way", self.id)
            return
        self._transfer_to, self._timeout_sent = to, False
        self._lease_start = None
        self.set_timer(TRANSFER, self.config.election_timeout_max)
        pr = self.progress[to]
        self.note("transfer_started", to=to, term=self.term, behind=self.log.last_index - pr.match)
        if not self._send_timeout_now_if_caught_up(to, pr):
            self._replicate(to, pr)

    def _send_timeout_now_if_caught_up(self, to: int, pr: Progress) -> bool:
        """TimeoutNow to the transfer's target once its log matches ours to the end (sent once per transfer)."""
        if self._timeout_sent or pr.match < self.log.last_index:
            return False
        self._timeout_sent = True
        self.note("timeout_now_sent", to=to, term=self.term, index=pr.match)
        self.send(to, TimeoutNow(term=self.term))
        if self.id not in self.membership.all_voters:  # removed: its successor's campaign will not reach it
            self._become_follower(self.term, reason="removed from the configuration (handed over)")
        return True

    def _end_transfer(self, kind: str, reason: str) -> None:
        """Give up the transfer under way (we still lead): commands are taken again, the lease renews."""
        self.note(kind, to=self._transfer_to, term=self.term, reason=reason)
        self._transfer_to = None
        self.cancel_timer(TRANSFER)

    def _on_timeout_now(self, msg: Any, now: int) -> None:
        """Our leader of this term hands leadership to us: campaign now, past pre-vote, saying why."""
        if msg.term != self.term or msg.src != self.leader:
            self.note("message_dropped", type=msg.name, src=msg.src, reason="TimeoutNow from a node we do not follow")
            return
        if self.id not in self.membership.all_voters:
            self.note("message_dropped", type=msg.name, src=msg.src, reason="TimeoutNow to a node that is no voter")
            return
        self.note("transfer_campaign", term=self.term + 1, from_leader=msg.src)
        self._become_candidate(now, transfer=True)

    # -- reads without the log (thesis 6.4: ReadIndex and leases; follower reads) --------------------------

    def on_read(self, ctx: int, consistency: str, now: int) -> None:
        """A client read. A leader answers with its commit index once a quorum round started after the read
        shows it still leads (at once within its lease, for a lease read); a follower asks its leader for that
        index and answers the read itself once it has applied that far."""
        self._clock = now
        if consistency not in READ_CONSISTENCIES:
            self.reject_read(ctx, INVALID, f"unknown read consistency {consistency!r} (known: "
                             f"{', '.join(READ_CONSISTENCIES)})")
            return
        lease = consistency == LEASE
        if lease and not self.config.check_quorum:
            self.reject_read(ctx, INVALID, "lease reads need check_quorum: without it followers do not keep the "
                             "leader's lease by refusing votes", self.leader)
            return
        if self._state is _State.LEADER:
            self._leader_read(0, ctx, lease, now)
        elif self._state is _State.FOLLOWER and self.leader is not None:
            if len(self._forwarded) >= self.config.max_pending_reads:
                self.reject_read(ctx, BUSY, "busy: too many reads wait for the leader; retry", self.leader)
                return
            self._next_request += 1
            self._forwarded[self._next_request] = ctx
            self.send(self.leader, ReadIndex(term=self.term, request=self._next_request, lease=lease))
        else:
            self.reject_read(ctx, NOT_LEADER, "no leader known", None)

    def _leader_read(self, requester: int, ctx: int, lease: bool, now: int) -> None:
        """Serve a read here (``requester`` 0) or for a follower: its index is the commit index, once an entry of
        this term has committed (before that, the commit index may lag what an earlier leader committed)."""
        if self.log.term_at(self.commit_index) != self.term:
            if len(self._reads_before_commit) >= self.config.max_pending_reads:
                self._refuse_read(requester, ctx, "busy: too many reads wait for this leader's first commit")
                return
            self._reads_before_commit.append((requester, ctx))
            return
        if lease and self._lease_holds(now):
            self._answer_read(requester, ctx, self.commit_index)
            return
        self._await_round(requester, ctx, now)

    def _await_round(self, requester: int, ctx: int, now: int) -> None:
        """Hold the read until a read round started after it is answered by a quorum; start one now if none is
        in flight (reads that come meanwhile share the next one)."""
        if len(self._reads) >= self.config.max_pending_reads:
            self._refuse_read(requester, ctx, "busy: too many reads wait for a read round")
            return
        self._reads.append((self._read_round + 1, requester, ctx, self.commit_index))
        if self._read_confirmed == self._read_round:
            self._start_read_round(now)
            for p, pr in self.progress.items():
                self._send_append(p, pr, pr.match + 1, 0)

    def _start_read_round(self, now: int) -> None:
        """A new read round: every AppendEntries sent from now on carries it (each heartbeat starts one too, which
        keeps the leader's lease fresh)."""
        self._read_round += 1
        started = self._round_started
        started[self._read_round] = now
        if len(started) > 64:  # unanswered rounds of a cut-off leader: only the newest can still matter
            del started[min(started)]
        if self.voters == (self.id,):
            self._confirm_read_rounds(now)

    def _confirm_read_rounds(self, now: int) -> None:
        """The rounds a quorum (ourselves included) has answered: their reads are served, the lease runs from the
        newest one's start, and if reads wait for a round not started yet, it starts."""
        acked = {p: pr.read_round for p, pr in self.progress.items()}
        acked[self.id] = self._read_round
        confirmed = self.quorum.committed_index(acked)
        if confirmed <= self._read_confirmed:
            return
        self._read_confirmed = confirmed
        started = self._round_started
        if confirmed in started and self._transfer_to is None:
            self._lease_start = started[confirmed]
        for r in [r for r in started if r <= confirmed]:
            del started[r]
        reads = self._reads
        k = 0
        while k < len(reads) and reads[k][0] <= confirmed:
            k += 1
        done, self._reads = reads[:k], reads[k:]
        for _, requester, ctx, index in done:
            self._answer_read(requester, ctx, index)
        if self._reads and self._read_confirmed == self._read_round:
            self._start_read_round(now)
            for p, pr in self.progress.items():
                self._send_append(p, pr, pr.match + 1, 0)

    def _lease_holds(self, now: int) -> bool:
        """Within the leader lease: a quorum answered a round started less than election_timeout_min minus the
        drift bound ago, and (check_quorum) none of them will vote for anyone else before that has passed."""
        cfg = self.config
        return self._lease_start is not None and now < self._lease_start + cfg.election_timeout_min - cfg.lease_drift_ms

    def _answer_read(self, requester: int, ctx: int, index: int) -> None:
        if requester == 0:
            self.read_ready(ctx, index)
        else:
            self.send(requester, ReadIndexResponse(term=self.term, request=ctx, ok=True, index=index))

    def _refuse_read(self, requester: int, ctx: int, reason: str) -> None:
        if requester == 0:
            self.reject_read(ctx, BUSY if reason.startswith("busy") else NOT_LEADER, reason, self.leader)
        else:
            self.send(requester, ReadIndexResponse(term=self.term, request=ctx, ok=False, index=0))

    def _on_read_index(self, msg: Any, now: int) -> None:
        """A follower asks for a read index: served as a read of our own, answered to it."""
        if msg.term != self.term:
            self.send(msg.src, ReadIndexResponse(term=self.term, request=msg.request, ok=False, index=0))
            return
        self._leader_read(msg.src, msg.request, msg.lease, now)

    def _on_read_index_not_leading(self, msg: Any, now: int) -> None:
        self.send(msg.src, ReadIndexResponse(term=self.term, request=msg.request, ok=False, index=0))

    def _on_read_index_response(self, msg: Any, now: int) -> None:
        """Our leader's answer to a forwarded read: ready at its index, or refused."""
        ctx = self._forwarded.pop(msg.request, None)
        if ctx is None:
            return
        if msg.ok and msg.term == self.term:
            self.read_ready(ctx, msg.index)
        else:
            self.reject_read(ctx, NOT_LEADER, "the leader could not serve the read", self.leader)

    def _fail_forwarded_reads(self) -> None:
        """The node's leader or state changed: the reads it forwarded will not be answered."""
        if self._forwarded:
            forwarded, self._forwarded = self._forwarded, {}
            for ctx in forwarded.values():
                self.reject_read(ctx, NOT_LEADER, "leadership changed while the read waited", None)

    def _fail_leader_reads(self) -> None:
        """This node stopped leading: every read it held is refused (a follower's, by its answer)."""
        held = [(requester, ctx) for _, requester, ctx, _ in self._reads] + self._reads_before_commit
        self._reads, self._reads_before_commit = [], []
        for requester, ctx in held:
            if requester == 0:
                self.reject_read(ctx, NOT_LEADER, "leadership lost while the read waited", None)
            else:
                self.send(requester, ReadIndexResponse(term=self.term, request=ctx, ok=False, index=0))

    def on_message(self, msg: Message, now: int) -> None:
        """A higher term is adopted (step down, persist) before the message is handled, by the handler of the
        state the node is then in; foreign types are dropped.

        Exceptions: a PreVote's term and a granting PreVoteResponse's term are a proposal, never adopted; with
        check_quorum a RequestVote arriving within the leader lease is ignored before its term is looked at.
        """
        self._clock = now
        if self._forwarded_props:
            self._expire_forwarded(now)
        kind = type(msg)
        if self._link_down:
            self._link_down.discard(msg.src)  # whatever the transport said, ``msg.src`` is there
        step = self._step.get(kind)
        if step is None:
            self.note("message_dropped", type=msg.name, src=msg.src)
            return
        if kind is RequestVote and self.config.check_quorum and not msg.transfer and (
                self._heard_from_leader(now) or now < self._votes_held_until):
            self.note("vote_ignored", term=msg.term, candidate=msg.src, leader=self.leader)
            return
        if msg.term > self.term and kind is not PreVote and not (kind is PreVoteResponse and msg.granted):
            self._become_follower(msg.term)
            step = self._step[kind]
        elif self._state is _State.LEADER and msg.term == self.term:
            pr = self.progress.get(msg.src)
            if pr is not None:
                pr.heard_at = now
        step(self, msg, now)

    def _ignore(self, msg: Any, now: int) -> None:
        """An answer to a round this state has no more (votes after the election, acknowledgements after leading)."""

    # -- state changes: each state is entered through its _become_* function -----------------------

    def _enter(self, state: _State, leader: int | None) -> None:
        """Where state, role and leader are set (the base class reports role and leader changes as effects)."""
        self._state = state
        self.role = _ROLE[state]
        self.leader = leader
        self._step = self._steps[state]

    def _reset(self, term: int) -> bool:
        """What every change of state starts from (etcd: reset): no vote count and no per-follower progress left
        over, and ``term``, adopted without a vote if it is new (the caller persists it). True if it was new."""
        self._votes = None
        self.progress = {}
        self._forwarders = {}
        self._proposes_seen = {}
        self._past_commit = None
        self._fail_forwarded_reads()
        self._fail_forwarded_props()
        if term == self.term:
            return False
        self.term = term
        self.voted_for = None
        self._last_leader = None
        self._leader_round = 0
        return True

    def _become_follower(self, term: int, leader: int | None = None, reason: str = "") -> None:
        """Follow ``leader`` (None: not known yet) in ``term`` (etcd: becomeFollower). A new term is on disk first;
        then an election still open ends as lost and a leader stops leading, for ``reason`` (empty: the higher term).
        """
        lost_term = self.term if self._election_open() else None
        was_leader = self._state is _State.LEADER
        if self._reset(term):
            self._save_hard_state()
        self._enter(_State.FOLLOWER, leader)
        if lost_term is not None:
            self.note("election_lost", term=lost_term, reason=reason or f"saw higher term {term}")
        if was_leader:
            self._stop_leading(reason)

    def _become_pre_candidate(self, now: int, hinted: bool = False) -> None:
        """Pre-vote (thesis 9.6): ask everyone whether they would vote for us in term+1, changing nothing durable.

        Reported as a follower that no longer believes in its leader; the election timer is re-armed, so an
        unanswered round is retried on the next timeout. A majority of grants starts the real election.
        ``hinted``: the round is a hinted campaign's (the transport said the leader's connection dropped).
        """
        self._close_election("election timeout without a majority")
        self._reset(self.term)
        self._enter(_State.PRE_CANDIDATE, None)
        self._hinted_round = hinted
        self.note("pre_vote_started", term=self.term + 1)
        self._votes = self.quorum.tally()
        self._reset_election_timer()
        if self._votes.record(self.id, True) == WON:
            self._become_candidate(now)
            return
        self.broadcast(
            PreVote(term=self.term + 1, last_log_index=self.log.last_index, last_log_term=self.log.last_term)
        )

    def _become_candidate(self, now: int, transfer: bool = False) -> None:
        """Start an election: new term, vote for self, persist, then ask every other node (``transfer``: on our
        leader's TimeoutNow, so the RequestVote says so)."""
        self._close_election("election timeout without a majority")
        self._reset(self.term + 1)
        self.voted_for = self.id
        self._enter(_State.CANDIDATE, None)
        self._save_hard_state()
        self.note("election_started", term=self.term)
        self.note("vote_granted", term=self.term, candidate=self.id)
        self._votes = self.quorum.tally()
        self._reset_election_timer()
        if self._votes.record(self.id, True) == WON:
            self._become_leader(now)
            return
        self.broadcast(RequestVote(term=self.term, last_log_index=self.log.last_index,
                                   last_log_term=self.log.last_term, transfer=transfer))

    def _become_leader(self, now: int) -> None:
        """Won: lead, append a no-op of this term, send it to every follower at once, heartbeat every interval.

        Followers start replicating optimistically (their logs are most often ours): commands proposed right after
        the win (the runtime's held requests) follow the no-op at once instead of after the first answer."""
        self._reset(self.term)
        self._enter(_State.LEADER, self.id)
        cfg = self.config
        following = self.log.last_index + 1
        self.progress = {
            p: Progress(following, Inflights(cfg.max_inflight, cfg.max_inflight_bytes), now) for p in self.peers
        }
        for pr in self.progress.values():
            pr.replicate_optimistically()
        self._past_commit = self._count_past_commit()
        self._notify_armed = False
        self._uncommitted_bytes = 0
        self._uncommitted.clear()
        self._read_round = self._read_confirmed = 0
        self._round_started = {}
        self._lease_start = None
        self._leaving = set()
        self.note("election_won", term=self.term)
        self.cancel_timer(ELECTION)
        if cfg.check_quorum:
            self.set_timer(CHECK_QUORUM, cfg.election_timeout_max)
        self.log.append(self.term, b"")
        self._arm_flush()
        for p, pr in self.progress.items():
            self._replicate(p, pr)
        self.set_timer(HEARTBEAT, cfg.heartbeat_interval)

    def _stop_leading(self, reason: str) -> None:
        """Leave the leader's timers behind, fail the reads it held, wait for an election timeout like any
        follower, and say why."""
        self._fail_leader_reads()
        if self._transfer_to is not None:
            self.note("transfer_ended", to=self._transfer_to, term=self.term, reason=reason or "a higher term")
            self._transfer_to = None
            self.cancel_timer(TRANSFER)
        self.cancel_timer(HEARTBEAT)
        if self._notify_armed:
            self._notify_armed = False
            self.cancel_timer(COMMIT_NOTIFY)
        if self.config.check_quorum:
            self.cancel_timer(CHECK_QUORUM)
        self._reset_election_timer()
        if reason:
            self.note("leadership_lost", term=self.term, reason=reason)
        else:
            self.note("leadership_lost", term=self.term)

    def _election_open(self) -> bool:
        """A candidate whose election this term is neither won nor lost yet."""
        return self._state is _State.CANDIDATE and self._votes is not None

    def _close_election(self, reason: str) -> None:
        """End this term's open election, if any, as lost."""
        if self._election_open():
            self._votes = None
            self.note("election_lost", term=self.term, reason=reason)

    def _heard_from_leader(self, now: int) -> bool:
        """A leader is alive as far as we know: we lead, or the leader we followed in this term was heard within
        election_timeout_min and (transport_hints) our connection to it has not dropped since.

        Followed in this term, not only now: a follower whose hinted pre-vote round has just failed follows nobody
        for a moment, yet still hears that leader as well as anyone (an election timeout, the only other way to
        stop following, comes at least election_timeout_min after it was last heard)."""
        if self._state is _State.LEADER:
            return True
        leader = self._last_leader
        return (
            leader is not None
            and leader not in self._link_down
            and self._leader_heard_at is not None
            and now - self._leader_heard_at < self.config.election_timeout_min
        )

    def _check_quorum(self, now: int) -> None:
        """Thesis 6.2: step down unless a majority, ourselves included, was heard within election_timeout_max.

        Otherwise check again when the oldest contact that still makes the majority falls out of the window
        (at least 1 ms later), so a leader steps down as soon as it has gone that long without a majority's word.
        """
        window = self.config.election_timeout_max
        heard = self._quorum_heard_at(now)
        if now - heard < window:
            self.set_timer(CHECK_QUORUM, max(1, heard + window - now))
            return
        self._become_follower(self.term, reason="no quorum heard within election_timeout_max")

    def _quorum_heard_at(self, now: int) -> int:
        """The latest moment by which a majority of the voters, ourselves (now) included, had been heard from."""
        heard = {p: pr.heard_at for p, pr in self.progress.items()}
        heard[self.id] = now
        return self.quorum.committed_index(heard)

    # -- RequestVote ----------------------------------------------------------------------

    def _on_request_vote(self, msg: Any, now: int) -> None:
        granted = (
            msg.term == self.term
            and self.voted_for in (None, msg.src)
            and self._candidate_log_ok(msg.last_log_term, msg.last_log_index)
        )
        if granted:
            if self.voted_for is None:
                self.voted_for = msg.src
                self._save_hard_state()
            self.note("vote_granted", term=self.term, candidate=msg.src)
            self._reset_election_timer()
        self.send(msg.src, RequestVoteResponse(term=self.term, granted=granted))

    def _candidate_log_ok(self, last_log_term: int, last_log_index: int) -> bool:
        """Section 5.4.1: vote only for a candidate whose log is at least as up to date as ours."""
        return self.log.is_up_to_date(last_log_term, last_log_index)

    def _on_request_vote_response(self, msg: Any, now: int) -> None:
        """Count a vote of this term's election, while it is open: a majority leads, a majority refusing loses."""
        if self._votes is None or msg.term != self.term:
            return
        result = self._votes.record(msg.src, msg.granted)
        if result == WON:
            self._become_leader(now)
        elif result == LOST:
            self._close_election("a majority refused its vote")

    # -- PreVote (pre_vote) ------------------------------------------------------------------

    def _on_pre_vote(self, msg: Any, now: int) -> None:
        """Grant iff the asked term is above ours, the asker's log is up to date and no leader was heard lately.

        Nothing changes here: no term, no vote, no timer. A grant echoes the asked term; a refusal carries ours.
        """
        log_ok = self._candidate_log_ok(msg.last_log_term, msg.last_log_index)
        granted = msg.term > self.term and log_ok and not self._heard_from_leader(now)
        rival = self._state is _State.PRE_CANDIDATE and self._hinted_round and granted
        if (rival and msg.src > self.id and not self._votes.voted(msg.src)
                and (msg.last_log_term, msg.last_log_index) == (self.log.last_term, self.log.last_index)):
            # Two hinted rounds at once, logs alike: the lower id runs (a log ahead would run). But a rival that
            # already answered ours (it refused: it still heard the leader then) asks now because it no longer
            # does: ours cannot win without it, so it runs.
            granted = False
            self.note("pre_vote_refused_to_rival", term=msg.term, candidate=msg.src)
        if granted:
            self.note("pre_vote_granted", term=msg.term, candidate=msg.src)
        elif msg.term > self.term and not rival:
            self._lease_refusal = (msg.term, now)  # a leader heard, or its log behind ours: it cannot win our vote
        self.send(msg.src, PreVoteResponse(term=msg.term if granted else self.term, granted=granted))
        if rival and granted:
            self._become_follower(self.term, reason="a rival's hinted campaign goes first")
            self.note("pre_vote_yielded", term=msg.term, candidate=msg.src)
            self._reset_election_timer()
        elif (not granted and self._state is _State.PRE_CANDIDATE and self._hinted_round
              and msg.term == self.term + 1 and self._votes.voted(msg.src)):
            # It refused our round (it still heard the leader then) and now campaigns itself, so it no longer
            # does; it cannot win ours, so we ask again.
            self.note("pre_vote_asked_again", term=msg.term, of=msg.src)
            self._become_pre_candidate(now, hinted=True)
        elif self._hinted and self._state is _State.FOLLOWER:
            self._hinted_campaign_meets(msg.src, granted, log_ok, now)

    def _hinted_campaign_meets(self, other: int, granted: bool, log_ok: bool, now: int) -> None:
        """Our hinted campaign waits its turn and ``other`` asked first: we granted, so we stand back (an ordinary
        election timeout takes over); or its log is behind ours, so it cannot win our vote and we go now."""
        if granted:
            self._reset_election_timer()
        elif not log_ok:
            self.note("hinted_campaign_early", behind=other, term=self.term)
            self._become_pre_candidate(now, hinted=True)

    def _on_pre_vote_response(self, msg: Any, now: int) -> None:
        """Count an answer to the pre-candidate's round: a majority starts the real election; a lost round ends,
        the node is a follower in its term again and waits a fresh election timeout before asking again."""
        if msg.granted and msg.term != self.term + 1:
            return
        result = self._votes.record(msg.src, msg.granted)
        if result == WON:
            self._become_candidate(now)
        elif result == LOST:
            self._become_follower(self.term)
            self.note("pre_vote_lost", term=self.term + 1)
            self._reset_election_timer()

    # -- AppendEntries: follower ---------------------------------------------------------------

    def _on_append_entries(self, msg: Any, now: int) -> None:
        """Figure 2's receiver rules: term check, consistency check with hint, conflict truncation, append, commit."""
        log = self.log
        if msg.term < self.term:
            self._reject(msg.src, msg.prev_log_index, msg.prev_log_term)
            return
        self._leader_heard_at = now
        self._accept_leader(msg.src)
        if msg.read_round > self._leader_round:
            self._leader_round = msg.read_round
        prev = msg.prev_log_index
        if prev >= log.base and not log.matches(prev, msg.prev_log_term):  # before the base: committed, matches
            self._reject(msg.src, prev, msg.prev_log_term)
            return
        entries = msg.entries
        if entries:
            # Stored as they come (the log keeps these very tuples), so every index and term is checked.
            if [e[1] for e in entries] != list(range(prev + 1, prev + 1 + len(entries))):
                self.note("message_dropped", type=msg.name, src=msg.src, reason="entries not contiguous after prev")
                return
            terms = [e[0] for e in entries]
            if terms[0] < msg.prev_log_term or terms[-1] > msg.term or terms != sorted(terms):
                self.note("message_dropped", type=msg.name, src=msg.src, reason="entry terms decrease or pass the term")
                return
        last_new = prev + len(entries)
        if not self._store_entries(entries):
            return
        learned = min(msg.leader_commit, last_new)
        if last_new <= log.durable_index:
            self._ack(msg.src, last_new)
            self._commit_to(learned)
            return
        # The acknowledgement waits for the flush; applying what the leader committed waits too, so
        # that the flush and the acknowledgement (the commit latency's path) come first.
        self._pending_commit = max(self._pending_commit, learned)
        pending = self._pending_ack
        if pending is not None and pending[0] == msg.src and pending[1] == self.term:
            last_new = max(last_new, pending[2])
        self._pending_ack = (msg.src, self.term, last_new)
        self._arm_flush()

    def _store_entries(self, entries: list) -> bool:
        """Skip entries already held, drop a conflicting suffix (never a committed entry), append the rest."""
        log = self.log
        last = log.last_index
        changed = False
        for k, (term, index, data) in enumerate(entries):
            if index <= last:
                if index <= log.base or log.term_at(index) == term:  # in the snapshot (committed), or the same
                    continue
                committed = max(self.commit_index, self._pending_commit)  # learned, maybe not applied yet
                if index <= committed:
                    self.note("refused_truncation", index=index, commit_index=committed)
                    return False
                log.truncate_after(index - 1)
                changed = self._history.truncate_after(index - 1)
                self.note("log_truncated", after=index - 1, term=self.term)
            new = entries[k:] if k else entries
            log.extend_entries(new)
            if self._history.scan(new) or changed:
                self._use_membership()
                self._announce_membership()
            break
        return True

    def _accept_leader(self, leader: int) -> None:
        """A valid AppendEntries from the leader of our term: follow it and reset the election timer."""
        if self.leader != leader:
            self._become_follower(self.term, leader)
        self._last_leader = leader
        self._reset_election_timer()

    def _on_append_entries_as_candidate(self, msg: Any, now: int) -> None:
        """A candidate or pre-candidate hears from the leader of its term: it follows it, then handles the message
        as a follower does (one of an older term is refused without stepping down)."""
        if msg.term == self.term:
            self._become_follower(self.term, msg.src, reason=f"node {msg.src} leads term {self.term}")
        self._on_append_entries(msg, now)

    def _on_append_entries_as_leader(self, msg: Any, now: int) -> None:
        """A leader refuses AppendEntries of an older term like anyone; one of its own term is from another leader
        of the same term, which Election Safety forbids: noted, and ignored."""
        if msg.term < self.term:
            self._reject(msg.src, msg.prev_log_index, msg.prev_log_term)
        else:
            self.note("conflicting_leader", term=self.term, other=msg.src)

    def _ack(self, to: int, match: int) -> None:
        self.send(
            to,
            AppendEntriesResponse(term=self.term, success=True, match_index=match, hint_index=self.log.last_index,
                                  read_round=self._leader_round),
        )

    def _reject(self, to: int, prev_index: int, prev_term: int) -> None:
        """Refuse AppendEntries at ``prev_index``, hinting where the leader should try next."""
        hint_index, hint_term = self.log.conflict_hint(prev_index, prev_term)
        self.send(
            to,
            AppendEntriesResponse(
                term=self.term,
                success=False,
                match_index=0,
                hint_index=hint_index,
                hint_term=hint_term,
                reject_index=prev_index,
                read_round=self._leader_round,
            ),
        )

    # -- AppendEntries: leader -------------------------------------------------------------------

    def _on_append_entries_response(self, msg: Any, now: int) -> None:
        """Advance a follower's progress on success; on a rejection back up, with its hint while probing."""
        if msg.term != self.term:
            return
        p = msg.src
        pr = self.progress.get(p)
        if pr is None:
            return
        if msg.read_round > pr.read_round:
            pr.read_round = msg.read_round
            if msg.read_round > self._read_confirmed:
                self._confirm_read_rounds(now)
        if pr.state is ProgressState.SNAPSHOT:
            if not (msg.success and pr.pending_snapshot <= msg.match_index <= self.log.last_index):
                return  # a heartbeat's answer during the transfer
            pr.snapshot_installed(msg.match_index)
        if msg.success:
            if msg.match_index > self.log.last_index:
                self.note("message_dropped", type=msg.name, src=p, reason="acknowledges entries this leader lacks")
                return
            if pr.acknowledged(msg.match_index) and pr.match > self.commit_index:
                self._holds_past_commit(p)
            elif p in self._forwarders:
                self._notify_forwarders()  # its entries committed while this acknowledgement was on its way
            if p == self._transfer_to:
                self._send_timeout_now_if_caught_up(p, pr)
            self._replicate(p, pr)
            return
        rejected = msg.reject_index
        if pr.stale_rejection(rejected):
            return
        if pr.state is ProgressState.PROBE or pr.optimistic:  # probing, or refused before any answer: its hint
            index = msg.hint_index
            if msg.hint_term:
                index = self.log.conflict_hint(msg.hint_index, msg.hint_term)[0]
            pr.probe_from(min(rejected, index + 1))
        elif not pr.forget_if_overtaken(rejected):
            pr.become_probe()
        self._replicate(p, pr)

    def _replicate(self, p: int, pr: Progress) -> None:
        """Send follower ``p`` what it lacks, as its progress allows: one probe at a time, else up to the window."""
        last = self.log.last_index
        base = self.log.base
        batch = self.config.max_batch_entries
        while pr.can_send(last):
            if pr.next <= base:
                self._start_snapshot(p, pr)
                return
            count, size = self._send_append(p, pr, pr.next, batch)
            pr.sent(count, size)

    def _send_append(self, p: int, pr: Progress, start: int, max_count: int) -> tuple[int, int]:
        """AppendEntries to ``p`` with entries from ``start``; returns how many entries and command bytes it carries."""
        log = self.log
        batch, size = log.batch(start, max_count, self.config.max_batch_bytes) if max_count else ([], 0)
        prev = max(start - 1, log.base)  # an empty one to a follower behind the base: at the base
        pr.commit_sent = self.commit_index
        self.send(
            p,
            AppendEntries(
                term=self.term,
                prev_log_index=prev,
                prev_log_term=log.term_at(prev),
                entries=batch,
                leader_commit=self.commit_index,
                read_round=self._read_round,
            ),
        )
        return len(batch), size

    def _send_heartbeats(self) -> None:
        """Every interval: re-probe a follower that is probing or made no progress, else an empty AppendEntries."""
        for p, pr in self.progress.items():
            if not pr.heartbeat():
                self._send_append(p, pr, pr.match + 1, 0)
            if pr.state is ProgressState.SNAPSHOT:
                if pr.snapshot_stalled():
                    self._send_chunk(p, pr)
                continue
            self._replicate(p, pr)

    def _acked(self) -> dict[int, int]:
        """How far each voter durably holds this leader's log: the followers' match indexes and our durable index."""
        acked = {p: pr.match for p, pr in self.progress.items()}
        acked[self.id] = self.log.durable_index
        return acked

    def _count_past_commit(self) -> VoteTally:
        """A fresh count, by the voter configuration, of the voters that durably hold entries past the commit index."""
        tally = self.quorum.tally()
        for voter, index in self._acked().items():
            if index > self.commit_index:
                tally.record(voter, True)
        return tally

    def _holds_past_commit(self, voter: int) -> None:
        """``voter`` now durably holds entries past the commit index. Only once a quorum does can the commit index
        move, so only then is it computed again (an O(voters) step, not one per acknowledgement)."""
        if self._past_commit.record(voter, True) == WON:
            self._advance_commit()

    def _advance_commit(self) -> None:
        """Commit the highest index a majority holds durably, if it is of this term (section 5.4.2).

        Followers learn the new commit index from the next AppendEntries; if none leaves within
        commit_notify_delay ms (no new command came), the COMMIT_NOTIFY timer sends them an empty one.
        """
        index = self.quorum.committed_index(self._acked())
        if index > self.commit_index and self.log.term_at(index) == self.term:
            self._commit_to(index)
            self._past_commit = self._count_past_commit()
            if self._forwarders:
                self._notify_forwarders()
            if not self._notify_armed:
                self._notify_armed = True
                self.set_timer(COMMIT_NOTIFY, self.config.commit_notify_delay)

    def _notify_forwarders(self) -> None:
        """Followers whose forwarded commands just committed hear it at once, not a heartbeat later: their clients
        wait for those entries to be applied there. Only once a follower has acknowledged them: an AppendEntries
        lets it commit no further than the entries it vouches for (its match), so one sent while the follower's
        acknowledgement is still on its way would not do; that acknowledgement calls this again."""
        for p, upto in list(self._forwarders.items()):
            if upto > self.commit_index:
                continue
            pr = self.progress.get(p)
            if pr is None or pr.state is not ProgressState.REPLICATE:
                del self._forwarders[p]  # it is being caught up: it learns the commit with the entries
            elif pr.match >= upto:  # (commit_sent says nothing here: an earlier empty one may have stopped short)
                del self._forwarders[p]
                self._send_append(p, pr, pr.match + 1, 0)

    def _notify_commit(self) -> None:
        """An empty AppendEntries (at its match index, so it always matches) to every replicating follower
        last told an older commit index: what it has in flight left before the commit moved."""
        self._notify_armed = False
        for p, pr in self.progress.items():
            if pr.state is ProgressState.REPLICATE and pr.commit_sent < self.commit_index:
                self._send_append(p, pr, pr.match + 1, 0)

    # -- snapshots and log compaction (section 7) ------------------------------------------------------

    def _snapshot_to_start_from(self) -> SnapshotInfo | None:
        """The newest intact snapshot the log continues (its index at or past the log's base), or None when the
        log starts at index 1 and no snapshot is usable. A damaged newest one is passed over for an older one
        only if the log still covers the gap; a compacted log with no intact snapshot for it is an error that
        names the damaged files: starting without that state would silently lose committed entries."""
        snapshots = self.storage.snapshots
        base = self.log.base
        usable = [info for info in snapshots.usable() if info.index >= base]
        for info in usable:
            if base and info.index == base and info.term != self.log.base_term:
                # The base record stands for a committed, applied entry, and committed entries never change: an
                # image of the same index with another term is of another history (copied in from another data
                # dir or cluster), and adopting it would replace the log. (An image past the base whose term
                # differs from the log's there is legitimate: a crash after an InstallSnapshot's image was made
                # durable and before the log was reset to it; the image wins, as section 7 says.)
                raise StorageError(
                    f"{info.name or 'a snapshot'}: an image of index {info.index} and term {info.term}, but the log's "
                    f"base record there has term {self.log.base_term}; it is not this node's history (copied in "
                    "from elsewhere?). Refusing to start: remove that file, or the data dir on purpose."
                )
        if usable:
            return usable[0]
        if base:
            damaged = "; ".join(reason for _, reason in snapshots.damaged) or f"{snapshots.where(base)} is missing"
            raise StorageError(
                f"the log starts after index {base} (term {self.log.base_term}), but no intact snapshot holds the "
                f"state up to it ({damaged}). Refusing to start: restore the snapshot file, or remove the data dir "
                "on purpose (the node then rejoins empty and gets the state from the leader)."
            )
        return None

    def _restore_on_start(self, info: SnapshotInfo) -> None:
        """Start from the snapshot: the state machine is restored from it and entries after it are applied anew."""
        for path, reason in self.storage.snapshots.damaged:
            self.note("snapshot_damaged", file=path, reason=reason, fallback=info.name)
        self._boot_snapshot = None
        self._adopt_snapshot(info)

    def _maybe_snapshot(self, index: int, applies: list) -> None:
        """Take a snapshot at ``index`` once ``snapshot_entries`` entries or ``snapshot_bytes`` command bytes were
        applied since the last one (and none is being taken)."""
        cfg = self.config
        if cfg.snapshot_bytes:
            self._applied_bytes += sum(len(a.data) for a in applies)
        if self._snapshotting is None and (
            (cfg.snapshot_entries and index - self._snapshot_index >= cfg.snapshot_entries)
            or (cfg.snapshot_bytes and self._applied_bytes >= cfg.snapshot_bytes)
        ):
            self._take_snapshot(index)

    def _take_snapshot(self, index: int) -> None:
        """Ask the runtime for the state machine's image at ``index`` (applied just before); the log is compacted
        on the COMPACT timer, once the store holds the image durably (the simulator writes it before any later
        effect, the ZeroMQ runtime from a forked child while the node goes on)."""
        self._snapshotting = index
        self._snapshot_index = index
        self._applied_bytes = 0
        if self._state is _State.LEADER:
            # The runtime may pause while it takes the image (the ZeroMQ runtime forks: 28 ms for a 1.8 GiB node on
            # a quiet machine, 110 ms at load 10): a heartbeat to each follower just before, so the pause does not
            # add to the time since they last heard from us (the next one may be due during it).
            for p, pr in self.progress.items():
                if pr.state is not ProgressState.SNAPSHOT:
                    self._send_append(p, pr, pr.match + 1, 0)
        self.emit(TakeSnapshot(index, self.log.term_at(index), self._history.at(index).as_meta()))
        self.set_timer(COMPACT, 0)

    def _compact(self) -> None:
        """Once the image asked for is durable, drop the log up to it, in memory and on disk (the store flushes what
        is staged and rewrites the entries kept behind a base record). Without the image nothing is dropped; while
        the runtime writes it in the background (``storage.snapshots.writing()``), the node serves on and looks
        again later; no other snapshot is asked for meanwhile."""
        index = self._snapshotting
        if index is None:
            return
        snapshots = self.storage.snapshots
        info = snapshots.find(index)
        if info is None and snapshots.writing() == index:
            self.set_timer(COMPACT, COMPACT_RETRY_MS)  # written in the background (the ZeroMQ runtime): look again
            return
        self._snapshotting = None
        if info is None:
            self.note("snapshot_failed", index=index, reason="no durable image of that index")
        else:
            held = self.log.held
            if index > self.log.base:
                self.log.compact(index)
                self._history.compact(index)
            self.note("snapshot_taken", index=index, term=info.term, bytes=info.size, dropped=held - self.log.held)
        # Entries applied while this image was written count towards the next one: if they already reach the
        # threshold, it is taken now, not at the next apply (which an idle cluster may not see for a long time).
        if self.last_applied > self._snapshot_index:
            self._maybe_snapshot(self.last_applied, [])

    def _adopt_snapshot(self, info: SnapshotInfo) -> None:
        """Make ``info`` (durable) this node's state: the log keeps what follows it if it holds the snapshot's last
        entry with its term, else is replaced by it (section 7); everything up to it is committed and applied, by
        the state machine the runtime restores from the image (RestoreSnapshot)."""
        log = self.log
        before = self.membership
        if log.term_at(info.index) == info.term:
            if info.index > log.base:
                log.compact(info.index)
                self._history.compact(info.index)
        else:
            log.reset(info.index, info.term)
            self._history.reset(Membership.from_meta(info.meta) or self._history.at(info.index), info.index)
        if self._history.current != before:
            self._use_membership()
            self._announce_membership()
        self._snapshot_index = max(self._snapshot_index, info.index)
        self._applied_bytes = 0
        self.commit_index = max(self.commit_index, info.index)
        self._pending_commit = max(self._pending_commit, info.index)
        self.last_applied = info.index
        self.emit(RestoreSnapshot(info.index, info.term))

    def _start_snapshot(self, p: int, pr: Progress) -> None:
        """Follower ``p`` needs entries compacted away: send it the newest snapshot, from its first byte."""
        info = self.storage.snapshots.latest()
        if info is None or info.index < self.log.base:
            raise StorageError(f"the log starts after index {self.log.base} but no snapshot holds the state up to it")
        pr.become_snapshot(info.index)
        self.note("snapshot_sending", to=p, index=info.index, term=info.term, bytes=info.size)
        self._send_chunk(p, pr)

    def _send_chunk(self, p: int, pr: Progress) -> None:
        """The chunk of the snapshot image at ``pr.chunk_at`` (read from the store), in flight until answered. A
        snapshot since replaced by a newer one (and deleted) is given up for the newest, from its start."""
        snapshots = self.storage.snapshots
        info = snapshots.find(pr.pending_snapshot)
        if info is None:
            self._start_snapshot(p, pr)
            return
        data = snapshots.read_image(info, pr.chunk_at, self.config.snapshot_chunk_bytes)
        self.send(p, InstallSnapshot(term=self.term, last_index=info.index, last_term=info.term, size=info.size,
                                     offset=pr.chunk_at, data=data))
        pr.chunk_sent(pr.chunk_at + len(data))

    def _on_install_snapshot_response(self, msg: Any, now: int) -> None:
        """A follower holds ``offset`` bytes of the image: the next chunk goes; ``done``: it installed the snapshot
        and replicates from its match on."""
        pr = self.progress.get(msg.src)
        if msg.term != self.term or pr is None or pr.state is not ProgressState.SNAPSHOT:
            return
        if msg.last_index != pr.pending_snapshot:
            return
        if msg.done:
            if msg.match_index > self.log.last_index:
                self.note("message_dropped", type=msg.name, src=msg.src, reason="matches entries this leader lacks")
                return
            pr.snapshot_installed(msg.match_index)
            self.note("snapshot_sent", to=msg.src, index=msg.last_index)
            if pr.acknowledged(pr.match) and pr.match > self.commit_index:
                self._holds_past_commit(msg.src)
            self._replicate(msg.src, pr)
        elif pr.chunk_answered(msg.offset):
            self._send_chunk(msg.src, pr)

    def _on_install_snapshot(self, msg: Any, now: int) -> None:
        """A chunk of the leader's snapshot: a transfer of an older term is refused (the answer carries our term);
        otherwise the leader is followed, the chunk stored, and a whole image checked, made durable and installed
        before the answer says so. A snapshot the node's commit index already covers needs no transfer."""
        if msg.term < self.term:
            self.send(msg.src, InstallSnapshotResponse(term=self.term, last_index=msg.last_index))
            return
        self._leader_heard_at = now
        self._accept_leader(msg.src)
        if msg.last_index <= self.commit_index:
            self.send(msg.src, InstallSnapshotResponse(term=self.term, last_index=msg.last_index, done=True,
                                                       match_index=self.commit_index))
            return
        snapshots = self.storage.snapshots
        held = snapshots.receive(msg.last_index, msg.last_term, msg.size, msg.offset, msg.data)
        if held < msg.size or msg.offset + len(msg.data) != held:
            self.send(msg.src, InstallSnapshotResponse(term=self.term, last_index=msg.last_index, offset=held))
            return
        try:
            info = snapshots.complete()
        except SnapshotDamaged as exc:
            self.note("snapshot_refused", index=msg.last_index, reason=str(exc))
            self.send(msg.src, InstallSnapshotResponse(term=self.term, last_index=msg.last_index, offset=0))
            return
        self._adopt_snapshot(info)
        self.note("snapshot_installed", index=info.index, term=info.term, bytes=info.size, leader=msg.src)
        self.send(msg.src, InstallSnapshotResponse(term=self.term, last_index=info.index, offset=info.size,
                                                   done=True, match_index=info.index))

    def _on_install_snapshot_as_candidate(self, msg: Any, now: int) -> None:
        """A candidate or pre-candidate hears from the leader of its term: it follows it, then takes the chunk."""
        if msg.term == self.term:
            self._become_follower(self.term, msg.src, reason=f"node {msg.src} leads term {self.term}")
        self._on_install_snapshot(msg, now)

    def _on_install_snapshot_as_leader(self, msg: Any, now: int) -> None:
        """An older leader's transfer is refused by term; one of our own term cannot come from anyone legitimate."""
        if msg.term < self.term:
            self.send(msg.src, InstallSnapshotResponse(term=self.term, last_index=msg.last_index))
        else:
            self.note("conflicting_leader", term=self.term, other=msg.src)

    # -- membership (section 6, thesis chapter 4) ---------------------------------------------------------

    def _load_history(self, bootstrap: Sequence[int]) -> ConfigHistory:
        """The configurations this node holds: the snapshot's (its header) or the bootstrap voters at the base, then
        every configuration entry in the log after it."""
        snap = self._boot_snapshot
        if snap is None:
            history = ConfigHistory(Membership.bootstrap(bootstrap), 0)
            history.scan(self.log.tail(1))
        else:
            history = ConfigHistory(Membership.from_meta(snap.meta) or Membership.bootstrap(bootstrap), snap.index)
            history.scan(self.log.tail(snap.index + 1))
        return history

    def _use_membership(self) -> None:
        """Put the newest configuration in the log in force: the quorum, who votes, whom a leader replicates to (the
        members it is removing too, until that configuration commits), the transfer target still a voter."""
        m = self.membership = self._history.current
        self.quorum = m.quorum()
        self.voters = tuple(sorted(m.all_voters))
        self.peers = tuple(sorted((m.members | self._leaving) - {self.id}))
        if self.id in m.members:
            self._was_member = True
        if self._state is not _State.LEADER:
            return
        cfg = self.config
        for p in self.peers:
            if p not in self.progress:
                self.progress[p] = Progress(self.log.last_index + 1,
                                            Inflights(cfg.max_inflight, cfg.max_inflight_bytes), self._clock)
        for p in [p for p in self.progress if p not in self.peers]:
            del self.progress[p]
        self._past_commit = self._count_past_commit()
        if self._transfer_to is not None and self._transfer_to not in m.all_voters:
            self._end_transfer("transfer_aborted", f"node {self._transfer_to} is no voter any more")
        if self._past_commit.result() == WON:
            self._advance_commit()  # removing a lagging voter can commit at once

    def _announce_membership(self) -> None:
        """Tell the runtime (it connects to new members) and the event stream."""
        m = self.membership
        self.emit(MembershipChanged(self._history.current_index, sorted(m.voters), sorted(m.learners),
                                    sorted(m.outgoing), dict(m.addresses), dict(m.keys)))

    def _may_campaign(self) -> bool:
        """A voter of its newest configuration may campaign; so may a voter of the one before while the newest, which
        removes it, is not known to be committed: a leader that appended its own removal and crashed may hold the
        longest log, which the others' votes need (it then leads only to commit the change, and steps down)."""
        if self.id in self.membership.all_voters:
            return True
        index = self._history.current_index
        return (index > max(self.commit_index, self._removed_at)
                and self.id in self._history.at(index - 1).all_voters)

    def _member_kind(self) -> str:
        m = self.membership
        if self.id in m.all_voters:
            return "voter"
        if self.id in m.learners:
            return "learner"
        return "removed" if self._was_member else "joining"

    def on_change_membership(self, change: list, now: int) -> None:
        """Change the configuration (thesis 4.1 and 4.3): one voter in or out goes in one step; anything else goes
        through the joint configuration, left once it has committed (``auto_leave_joint``, or an explicit
        leave_joint). Refused unless this leader has committed an entry of its own term (the correction to
        single-server changes published after the dissertation) and the previous change has committed; a learner
        is promoted only once it lags by at most ``max_learner_lag`` entries."""
        self._clock = now
        if self._state is not _State.LEADER:
            self.reject_proposal(NOT_LEADER, "not leader", self.leader)
            return
        if self._transfer_to is not None:
            self.reject_proposal(BUSY, f"transferring leadership to node {self._transfer_to}; retry there",
                                 self._transfer_to)
            return
        try:
            ops = parse_change(change)
        except MembershipError as exc:
            self.reject_proposal(INVALID, str(exc), self.id)
            return
        if not self._own_term_committed():
            self.reject_proposal(BUSY, "busy: this leader has not committed an entry of its own term yet (a change "
                                 "before that can lose committed entries); retry", self.id)
            return
        pending = self._history.current_index
        if pending > self.commit_index:
            self.reject_proposal(BUSY, f"busy: the configuration change at index {pending} is not committed yet "
                                 "(one change at a time); retry", self.id)
            return
        for op, node, *_ in ops:
            if op == PROMOTE and node in self.progress:
                lag = self.log.last_index - self.progress[node].match
                if lag > self.config.max_learner_lag:
                    self.reject_proposal(BUSY, f"busy: learner {node} lags by {lag} entries (max_learner_lag "
                                         f"{self.config.max_learner_lag}); promote it once it has caught up", self.id)
                    return
        try:
            new = plan(self.membership, ops)
        except MembershipError as exc:
            self.reject_proposal(INVALID, str(exc), self.id)
            return
        if ops[0][0] == LEAVE_JOINT and self.config.auto_leave_joint:
            self.reject_proposal(INVALID, "this leader leaves joint configurations by itself (auto_leave_joint)",
                                 self.id)
            return
        self._propose_config(new)

    def _own_term_committed(self) -> bool:
        """An entry of this leader's term has committed: only then may it change the configuration. Without it, a
        configuration an earlier leader left uncommitted and this leader's change can each win a majority of its
        own (the single-server bug: tests/raft/test_membership.py shows it with the mistake that skips this)."""
        return self.log.term_at(self.commit_index) == self.term

    def _propose_config(self, new: Membership) -> None:
        """Append ``new`` as a configuration entry of this term; it is in force from now on (thesis 4.1)."""
        old = self.membership
        entry = self.log.append(self.term, new.encode())
        self._history.entries.append((entry.index, new))
        self._leaving = set(old.members - new.members) - {self.id}
        self._use_membership()
        self._announce_membership()
        self.note("membership_proposed", index=entry.index, **new.describe())
        self.proposed(entry.index, self.term, 1)
        self._arm_flush()
        for p, pr in self.progress.items():
            if not pr.inflights:
                self._replicate(p, pr)

    def _leave_joint(self) -> None:
        m = self.membership
        self._propose_config(Membership(m.voters, m.learners, frozenset(), m.addresses, m.keys))

    def _configuration_committed(self) -> None:
        """The newest configuration committed: members it removed are let go; a joint one is left (auto); a leader
        it removes hands leadership to the best placed voter (TimeoutNow) and steps down (thesis 4.2.2)."""
        m = self.membership
        self.note("membership_committed", index=self._history.current_index, **m.describe())
        if self._leaving:
            for p in self._leaving:  # one last AppendEntries carries the commit: they learn they were removed
                pr = self.progress.get(p)
                if pr is not None:
                    self._send_append(p, pr, pr.match + 1, 0)
            self._leaving = set()
            self._use_membership()
        if m.joint:
            if self.config.auto_leave_joint:
                self._leave_joint()
            return
        if self.id in m.all_voters:
            return
        self._removed_at = self._history.current_index
        self._save_hard_state()
        voters = [p for p in self.progress if p in m.all_voters]
        if voters:
            # hand over as a transfer does: no new commands (busy, naming the target), TimeoutNow once the target has
            # caught up; it steps down when the target's campaign reaches it, or when the transfer is abandoned
            best = max(voters, key=lambda p: (self.progress[p].match, self.progress[p].heard_at, -p))
            self._handed_to = best
            if self._transfer_to is None:
                self.on_transfer(best, self._clock)
            return
        self._become_follower(self.term, reason="removed from the configuration")

    # -- commit, apply, flush ---------------------------------------------------------------------

    def _commit_to(self, index: int) -> None:
        """Raise the commit index and apply every newly committed entry, in order."""
        if index <= self.commit_index:
            return
        config_commits = self._state is _State.LEADER and self.commit_index < self._history.current_index <= index
        batches = self._uncommitted
        while batches and batches[0][0] <= index:  # a batch counts until all of it has committed
            self._uncommitted_bytes -= batches.popleft()[1]
        self.commit_index = index
        first = self.last_applied + 1
        if first <= index:
            self.last_applied = index
            applies = self.log.applies(first, index)
            self.emit_many(applies)
            if self._snapshots_on:
                self._maybe_snapshot(index, applies)
        if self._reads_before_commit and self._state is _State.LEADER and self.log.term_at(index) == self.term:
            waiting, self._reads_before_commit = self._reads_before_commit, []
            for requester, ctx in waiting:
                self._await_round(requester, ctx, self._clock)
        if config_commits:
            self._configuration_committed()
        elif (self._history.current_index <= index and self.id not in self.membership.members
              and self._removed_at < self._history.current_index and self._was_member):
            self._removed_at = self._history.current_index  # durable: after a restart it still knows not to campaign
            self._save_hard_state()
            self.note("removal_committed", config_index=self._removed_at)
        elif (self._state is _State.LEADER and self.membership.joint and self.config.auto_leave_joint
              and self._history.current_index <= index and self.log.term_at(index) == self.term):
            self._leave_joint()  # a new leader finds a committed joint configuration: it finishes the change

    def _arm_flush(self) -> None:
        if not self._flush_armed:
            self._flush_armed = True
            self.set_timer(FLUSH, 0)

    def _flush(self) -> None:
        """Group commit: one Persist for everything staged, then acknowledge (follower) or count and send (leader).

        The runtime flushes the storage, and the log attached to it, when it carries out the
        Persist, before any effect emitted after it: durable before visible, one fsync per batch.
        """
        self._flush_armed = False
        self.log.persist_requested()
        self.emit(Persist())
        if self._state is _State.LEADER:
            if self.log.durable_index > self.commit_index:
                self._holds_past_commit(self.id)
            for p, pr in self.progress.items():
                self._replicate(p, pr)
            return
        pending = self._pending_ack
        self._pending_ack = None
        if pending is not None and pending[1] == self.term and pending[2] <= self.log.durable_index:
            self._ack(pending[0], pending[2])
        if self._pending_commit > self.commit_index:
            self._commit_to(min(self._pending_commit, self.log.last_index))

    def _reset_election_timer(self) -> None:
        """Arm the election timer with a timeout drawn anew from [min, max] by this node's RNG (no hinted campaign
        waits any more)."""
        self._hinted = False
        self.set_timer(ELECTION, self.rng.randint(self.config.election_timeout_min, self.config.election_timeout_max))

    def _save_hard_state(self) -> None:
        """Stage currentTerm and votedFor; the runtime flushes them before any later send."""
        state = {"term": self.term, "voted_for": self.voted_for}
        if self._removed_at:
            state["removed_at"] = self._removed_at
        self.persist(state)
