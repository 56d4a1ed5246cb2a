"""Raft's cluster membership (paper section 6, thesis chapter 4): configurations kept in the log.

A ``Membership`` is one configuration: its voters, its learners (they receive the log and
snapshots, count toward no quorum and never campaign) and, while a joint change is under
way, the outgoing voters (C_old of C_old,new: both majorities must agree). Each configuration
is a log entry of its own (``encode``/``decode``: a reserved prefix, then JSON), and a node uses
the newest configuration in its log whether or not it is committed (thesis 4.1); when a
conflicting suffix is dropped, the configuration falls back to the newest one left.
``ConfigHistory`` is that bookkeeping: the configuration in force at the log's base (from the
bootstrap voters or the snapshot's header) and the configuration entries after it.

``plan`` turns a requested change into the next configuration, or says why it is refused:
one voter added or removed goes in one step (thesis 4.1, single-server changes); anything
else enters the joint configuration first (thesis 4.3), and the leader leaves it once it has
committed. Addresses of members added at run time travel in the configuration, so every node
(and a node that joins later) can reach them.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable, Mapping

from quorumlab.core.majority import JointConfig, MajorityConfig

CONFIG_MAGIC = b"\x00qlconf1\n"
"""The prefix of a configuration entry's data; client commands may not start with it."""


class MembershipError(ValueError):
    """A configuration change that cannot be made (the reason is for the operator)."""


@dataclasses.dataclass(frozen=True)
class Membership:
    """One configuration: ``voters`` (C_new), ``outgoing`` (C_old while joint, else empty), ``learners``, and the
    addresses of members that were added at run time (bootstrap members' addresses are the runtime's)."""

    voters: frozenset[int]
    learners: frozenset[int] = frozenset()
    outgoing: frozenset[int] = frozenset()
    addresses: tuple[tuple[int, str], ...] = ()
    keys: tuple[tuple[int, str], ...] = ()
    """CurveZMQ public keys (Z85) of members added at run time, so that every node can authenticate them."""

    @classmethod
    def bootstrap(cls, voters: Iterable[int]) -> "Membership":
        return cls(frozenset(voters))

    @property
    def joint(self) -> bool:
        return bool(self.outgoing)

    @property
    def all_voters(self) -> frozenset[int]:
        """Everyone whose vote counts: C_new's voters and, while joint, C_old's."""
        return self.voters | self.outgoing

    @property
    def members(self) -> frozenset[int]:
        """Everyone the leader replicates to (and the node itself)."""
        return self.voters | self.outgoing | self.learners

    def address_of(self, node: int) -> str | None:
        return dict(self.addresses).get(node)

    def quorum(self) -> MajorityConfig | JointConfig:
        """Who decides elections and commitment: C_new's majority, and while joint C_old's too."""
        incoming = MajorityConfig(sorted(self.voters))
        if self.outgoing:
            return JointConfig(incoming, MajorityConfig(sorted(self.outgoing)))
        return incoming

    def describe(self) -> dict[str, Any]:
        """JSON-friendly: what status and events show."""
        out: dict[str, Any] = {"voters": sorted(self.voters), "learners": sorted(self.learners)}
        if self.outgoing:
            out["outgoing"] = sorted(self.outgoing)
        if self.addresses:
            out["addresses"] = {str(i): a for i, a in self.addresses}
        if self.keys:
            out["keys"] = {str(i): k for i, k in self.keys}
        return out

    # -- the log entry ------------------------------------------------------------------------------

    def encode(self) -> bytes:
        body = {"v": sorted(self.voters), "l": sorted(self.learners), "o": sorted(self.outgoing),
                "a": [[i, a] for i, a in self.addresses]}
        if self.keys:
            body["k"] = [[i, k] for i, k in self.keys]
        return CONFIG_MAGIC + json.dumps(body, separators=(",", ":"), sort_keys=True).encode()

    def as_meta(self) -> dict[str, Any]:
        """What a snapshot's header records of the configuration at its index."""
        return {"voters": sorted(self.voters), "learners": sorted(self.learners), "outgoing": sorted(self.outgoing),
                "addresses": [[i, a] for i, a in self.addresses], "keys": [[i, k] for i, k in self.keys]}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> "Membership | None":
        """The configuration a snapshot header records (None for a header without one)."""
        if "voters" not in meta:
            return None
        return cls._checked(meta.get("voters"), meta.get("learners", []), meta.get("outgoing", []),
                            meta.get("addresses", []), meta.get("keys", []))

    @classmethod
    def _checked(cls, voters: Any, learners: Any, outgoing: Any, addresses: Any, keys: Any = ()) -> "Membership":
        def ids(value: Any, what: str) -> frozenset[int]:
            if not isinstance(value, list) or not all(type(v) is int and v >= 1 for v in value):
                raise MembershipError(f"{what} must be a list of node ids (integers from 1)")
            return frozenset(value)

        v, l_, o = ids(voters, "voters"), ids(learners, "learners"), ids(outgoing, "outgoing")
        if not v:
            raise MembershipError("a configuration needs at least one voter")
        if v & l_ or o & l_:
            raise MembershipError(f"nodes {sorted((v | o) & l_)} cannot be voters and learners at once")
        if not isinstance(addresses, list) or not all(
                isinstance(p, list) and len(p) == 2 and type(p[0]) is int and isinstance(p[1], str) for p in addresses):
            raise MembershipError("addresses must be a list of [node id, address] pairs")
        keys = list(keys)
        if not all(isinstance(p, list) and len(p) == 2 and type(p[0]) is int and _is_key(p[1]) for p in keys):
            raise MembershipError("keys must be a list of [node id, Z85 public key] pairs")
        return cls(v, l_, o, tuple(sorted((int(i), str(a)) for i, a in addresses)),
                   tuple(sorted((int(i), str(k)) for i, k in keys)))


def decode(data: bytes) -> Membership | None:
    """The configuration a log entry holds, or None if it is not a configuration entry. A malformed one (only a
    leader writes them) is None too, on every node alike."""
    if not data.startswith(CONFIG_MAGIC):
        return None
    try:
        body = json.loads(data[len(CONFIG_MAGIC):])
        return Membership._checked(body["v"], body["l"], body["o"], body["a"], body.get("k", []))
    except (ValueError, KeyError, TypeError):
        return None


def _is_key(text: Any) -> bool:
    """40 characters of Z85, the text form of a CurveZMQ public key."""
    return isinstance(text, str) and len(text) == 40 and all(c in _Z85 for c in text)


_Z85 = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")


def is_config(data: bytes) -> bool:
    return data.startswith(CONFIG_MAGIC)


class ConfigHistory:
    """The configuration in force at the log's base and every configuration entry after it, in index order."""

    __slots__ = ("base", "base_index", "entries")

    def __init__(self, base: Membership, base_index: int = 0) -> None:
        self.base = base
        self.base_index = base_index
        self.entries: list[tuple[int, Membership]] = []

    @property
    def current(self) -> Membership:
        """The newest configuration in the log, committed or not (thesis 4.1: it takes effect when appended)."""
        return self.entries[-1][1] if self.entries else self.base

    @property
    def current_index(self) -> int:
        return self.entries[-1][0] if self.entries else self.base_index

    def at(self, index: int) -> Membership:
        """The configuration in force at ``index`` (the newest one at or before it)."""
        found = self.base
        for i, m in self.entries:
            if i > index:
                break
            found = m
        return found

    def scan(self, entries: Iterable[tuple[int, int, bytes]]) -> bool:
        """Note the configuration entries among appended ``entries`` ((term, index, data)); True if any."""
        added = False
        for _, index, data in entries:
            if data[:1] == b"\x00" and data.startswith(CONFIG_MAGIC):
                m = decode(data)
                if m is not None:
                    self.entries.append((index, m))
                    added = True
        return added

    def truncate_after(self, index: int) -> bool:
        """Entries after ``index`` are gone: so are their configurations. True if the current one changed."""
        k = len(self.entries)
        while k and self.entries[k - 1][0] > index:
            k -= 1
        if k == len(self.entries):
            return False
        del self.entries[k:]
        return True

    def compact(self, index: int) -> None:
        """The log now starts after ``index``: configurations at or before it fold into the base."""
        self.base = self.at(index)
        for i, _ in self.entries:
            if i <= index:
                self.base_index = i
        self.entries = [(i, m) for i, m in self.entries if i > index]

    def reset(self, base: Membership, index: int) -> None:
        """A snapshot replaced the log: its configuration is the base, no entries follow yet."""
        self.base, self.base_index, self.entries = base, index, []


# -- changes ---------------------------------------------------------------------------------------------

ADD_VOTER = "add_voter"
ADD_LEARNER = "add_learner"
PROMOTE = "promote"
REMOVE = "remove"
LEAVE_JOINT = "leave_joint"
CHANGE_OPS = (ADD_VOTER, ADD_LEARNER, PROMOTE, REMOVE)


def parse_change(ops: Any) -> list[tuple]:
    """A change as the client API gives it: a list of {"op": ..., "node": id, "address": ..., "key": ...} (or the
    special [{"op": "leave_joint"}]), checked; raises MembershipError saying what is wrong. ``key``: the new
    member's CurveZMQ public key (Z85), for clusters whose nodes do not share one keyring file."""
    if not isinstance(ops, list) or not ops:
        raise MembershipError('a change is a non-empty list of {"op", "node"[, "address"]}')
    out = []
    for op in ops:
        if not isinstance(op, dict) or op.get("op") not in (*CHANGE_OPS, LEAVE_JOINT):
            raise MembershipError(f"unknown change {op!r}: the ops are {', '.join((*CHANGE_OPS, LEAVE_JOINT))}")
        if op["op"] == LEAVE_JOINT:
            if len(ops) != 1:
                raise MembershipError("leave_joint goes alone")
            return [(LEAVE_JOINT, 0, None, None)]
        node = op.get("node")
        if type(node) is not int or node < 1:
            raise MembershipError(f"{op['op']} needs \"node\": a node id (an integer from 1)")
        address = op.get("address")
        if address is not None and (not isinstance(address, str) or not address.startswith("tcp://")):
            raise MembershipError(f"the address of node {node} must be a tcp:// address, got {address!r}")
        key = op.get("key")
        if key is not None and not _is_key(key):
            raise MembershipError(f"the key of node {node} must be a CurveZMQ public key (40 characters of Z85)")
        out.append((op["op"], node, address, key))
    if len({o[1] for o in out}) != len(out):
        raise MembershipError("each node may appear once in a change")
    return out


def plan(current: Membership, ops: list[tuple]) -> Membership:
    """The configuration ``ops`` lead to from ``current`` (which must not be joint, unless ops is leave_joint):
    C_new itself when at most one voter changes, else the joint C_old,new (``outgoing`` = C_old's voters).
    Raises MembershipError for a change that names a non-member, adds a member twice, or leaves no voter."""
    if ops and ops[0][0] == LEAVE_JOINT:
        if not current.joint:
            raise MembershipError("the configuration is not joint: there is nothing to leave")
        return dataclasses.replace(current, outgoing=frozenset())
    if current.joint:
        raise MembershipError(f"a joint change (outgoing voters {sorted(current.outgoing)}) is under way; it must "
                              "be left first")
    voters, learners = set(current.voters), set(current.learners)
    addresses, keys = dict(current.addresses), dict(current.keys)
    for op, node, address, *more in ops:
        key = more[0] if more else None
        if op in (ADD_VOTER, ADD_LEARNER):
            if node in voters or node in learners:
                raise MembershipError(f"node {node} is already a {'voter' if node in voters else 'learner'}")
            (voters if op == ADD_VOTER else learners).add(node)
            if address is not None:
                addresses[node] = address
            if key is not None:
                keys[node] = key
        elif op == PROMOTE:
            if node not in learners:
                raise MembershipError(f"node {node} is not a learner" + (" (it is a voter)" if node in voters else ""))
            learners.discard(node)
            voters.add(node)
        elif op == REMOVE:
            if node not in voters and node not in learners:
                raise MembershipError(f"node {node} is not a member")
            voters.discard(node)
            learners.discard(node)
            addresses.pop(node, None)
            keys.pop(node, None)
    if not voters:
        raise MembershipError("the change would leave no voter")
    new_addresses = tuple(sorted((i, a) for i, a in addresses.items() if i in voters or i in learners))
    new_keys = tuple(sorted((i, k) for i, k in keys.items() if i in voters or i in learners))
    changed = len(set(current.voters) ^ voters)
    outgoing = frozenset(current.voters) if changed > 1 else frozenset()
    return Membership(frozenset(voters), frozenset(learners), outgoing, new_addresses, new_keys)
