#!/bin/bash
# The before/after run of docs/results/failover/before-after/README.md: the same `bench failover` command, run from two
# source trees in alternating blocks, so that both see the same machine load.
#   before: commit 58d5611 (main before this work) with this branch's bench/failover.py and bench/cmd_failover.py
#           (the per-phase report; its writer waits for connections only where KVClient.wait_connected exists)
#   after:  this branch
# Usage: ab.sh OUT BLOCKS TRIALS FAULT   (from the repository root, with its .venv built: make .venv/.installed)
set -e
OUT=$1; BLOCKS=$2; TRIALS=$3; FAULT=$4
ROOT=$(pwd); PY=$ROOT/.venv/bin/python
BEFORE=$OUT/tree-before
if [ ! -d $BEFORE ]; then
  mkdir -p $BEFORE
  git archive 58d5611 | tar -x -C $BEFORE
  cp bench/failover.py bench/cmd_failover.py $BEFORE/bench/
  sed -i 's/        self.kv.wait_connected(limit_s)/        getattr(self.kv, "wait_connected", lambda s: None)(limit_s)/' $BEFORE/bench/failover.py
  (cd $BEFORE && $PY setup.py build_ext --inplace > build.log 2>&1)
fi
for b in $(seq 1 $BLOCKS); do
  for v in before after; do
    if [ $v = before ]; then TREE=$BEFORE; else TREE=$ROOT; fi
    (cd /tmp && PYTHONPATH=$TREE $PY -m quorumlab.bench.cli failover --algos raft --hints on --faults $FAULT --trials $TRIALS \
        --out $OUT/$FAULT-$v-$b > $OUT/$FAULT-$v-$b.txt 2>&1)
    echo "$FAULT $v block $b done $(date -u +%T) loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/progress.txt
  done
done
