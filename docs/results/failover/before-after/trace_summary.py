"""Sub-phases of each traced failover (trace.py output, .json or .json.gz): median ms of each step on the critical
path, from the winner's, the other survivor's and the client's timestamps. Usage: python trace_summary.py TRACE"""
import gzip, json, sys, statistics
res = json.load((gzip.open if sys.argv[1].endswith(".gz") else open)(sys.argv[1], "rt"))
steps = {}
def add(k, v):
    if v is not None and v >= 0: steps.setdefault(k, []).append(v)
for r in res:
    t0 = r["t0"]; ev = sorted(r["events"], key=lambda e: e["t"]); old = r["trial"]["old"]
    surv = [e for e in ev if e["node"] != old and e["t"] >= t0]
    won = next((e for e in surv if e["kind"] == "election_won"), None)
    if won is None: continue
    w = won["node"]; v = next(i for i in (1, 2, 3) if i not in (old, w))
    first = lambda pred: next((e for e in surv if pred(e)), None)
    down_w = first(lambda e: e["node"] == w and e["kind"] == "peer_down")
    pv = [e for e in surv if e["node"] == w and e["kind"] == "pre_vote_started" and e["t"] <= won["t"]]
    es = [e for e in surv if e["node"] == w and e["kind"] == "election_started" and e["t"] <= won["t"]][-1]
    pvr = [e for e in surv if e["node"] == w and e["kind"] == "recv" and e.get("type") == "PreVoteResponse" and e["t"] <= es["t"]]
    rv_recv = first(lambda e: e["node"] == v and e["kind"] == "recv" and e.get("type") == "RequestVote" and e["t"] >= es["t"])
    granted = first(lambda e: e["node"] == v and e["kind"] == "vote_granted" and e["t"] >= es["t"])
    rvr = [e for e in surv if e["node"] == w and e["kind"] == "recv" and e.get("type") == "RequestVoteResponse" and e["t"] <= won["t"]]
    ae_recv = first(lambda e: e["node"] == v and e["kind"] == "recv" and e.get("type") == "AppendEntries" and e["t"] >= won["t"])
    ack = first(lambda e: e["node"] == v and e["kind"] == "send" and e.get("type") == "AppendEntriesResponse" and e["t"] >= won["t"])
    apply_ = first(lambda e: e["node"] == w and e["kind"] == "apply" and e["t"] >= won["t"])
    fw = t0 + r["trial"]["first_write_ms"]
    add("1 detect (kill -> winner's peer_down)", down_w and down_w["t"] - t0)
    if pv:
        add("2 peer_down -> pre-vote sent (stagger)", down_w and pv[-1]["t"] - down_w["t"])
        add("3 pre-vote round trip", pvr and pvr[-1]["t"] - pv[-1]["t"])
        add("4 candidate: term+vote fsynced (-> election_started)", pvr and es["t"] - pvr[-1]["t"])
    add("5 RequestVote delivery", rv_recv and rv_recv["t"] - es["t"])
    add("6 voter: vote fsynced (-> vote_granted)", rv_recv and granted and granted["t"] - rv_recv["t"])
    add("7 vote response delivery + count (-> election_won)", granted and won["t"] - granted["t"])
    add("8 no-op+write delivery", ae_recv and ae_recv["t"] - won["t"])
    add("9 follower fsync + ack", ae_recv and ack and ack["t"] - ae_recv["t"])
    add("10 ack -> leader applies (its own fsync, commit)", ack and apply_ and apply_["t"] - ack["t"])
    add("11 apply -> client has the answer", apply_ and fw - apply_["t"])
    add("total first write", r["trial"]["first_write_ms"])
for k in sorted(steps, key=lambda s: int(s.split()[0]) if s[0].isdigit() else 99):
    v = steps[k]; print(f"| {k} | {statistics.median(v):.2f} | {len(v)} |")
