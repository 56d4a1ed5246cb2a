"""Traced failovers (bench failover's trial with every message sent and received recorded, and the client's sends and answers):
Usage: PYTHONPATH=TREE python trace.py TRIALS OUT.json   (TREE: this repository, or ab.sh's tree-before)"""
import sys, json, time
import quorumlab.bench.failover as F
from quorumlab.core.cluster import LocalCluster, now_ms
from quorumlab.core.client import KVClient

CLIENT = []
orig_send = KVClient._send_frames
orig_wait = KVClient.wait
def _send(self, node, frames):
    rid = orig_send(self, node, frames)
    CLIENT.append({"t": now_ms(), "kind": "c_send", "node": node})
    return rid
def _wait(self, node, rid, timeout_s):
    r = orig_wait(self, node, rid, timeout_s)
    CLIENT.append({"t": now_ms(), "kind": "c_reply", "node": node, "ok": None if r is None else r.get("ok"),
                   "code": None if r is None else r.get("code"), "leader": None if r is None else r.get("leader"),
                   "drop": r is None and self._link.get(node) is False})
    return r
KVClient._send_frames = _send
KVClient.wait = _wait

trials = int(sys.argv[1]); out = sys.argv[2]
res = []
with LocalCluster("raft", 3, config={"transport_hints": True}, trace_messages=True) as c:
    c.start()
    for k in range(trials):
        CLIENT.clear()
        t = F._trial(c, "kill", True, 0.4, 1.0)
        ev = [e for e in c.events() if e["t"] >= t.first_write_ms and False]  # placeholder
        t0 = max(e["t"] for e in c.events() if e["kind"] == "crash")
        win = [e for e in c.events() if t0 - 1 <= e["t"] <= t0 + (t.first_write_ms or 50) + 2]
        cl = [e for e in CLIENT if t0 - 5 <= e["t"] <= t0 + (t.first_write_ms or 50) + 2]
        res.append({"trial": t.__dict__, "t0": t0, "events": win, "client": cl})
        print(k, t.first_write_ms, t.new_leader_ms, t.detect_ms, t.elections, file=sys.stderr)
json.dump(res, open(out, "w"))
