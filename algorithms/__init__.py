"""The algorithms that ship with quorumlab (raft, paxos, bully), each registered as a plugin."""
