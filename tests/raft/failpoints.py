"""Start a ``bench node`` that stops at one point of its snapshot or compaction work, so that a test can SIGKILL
it (or the child writing its image) exactly there; a LocalCluster ``launcher`` prefix::

    python tests/raft/failpoints.py POINT DIR -- python -m quorumlab.bench.cli node ...

The point is armed once ``DIR/arm`` exists (the test arms the node it picked once it knows the leader).
The first time an armed node gets there, it writes ``DIR/<POINT>.json`` (the pid that stopped, the
node's pid, and the file involved) and waits until ``DIR/go`` exists (at most a minute). Once the
marker exists the point passes through, also after a restart, so the node works on normally.

Points:

* ``snapshot-child``: in the forked child writing an image (FileSnapshots.save_in_background), after the
  state machine streamed its body into ``snapshot-<index>.snap.tmp``, before the header, fsync and rename;
  the node itself serves on meanwhile.
* ``compact-copy``: in RecordLog.replace_prefix, once the compacted copy ``raft-log.compact`` is durable,
  before it replaces the log (the node's loop is inside the compaction).
* ``compact-renamed``: right after that rename, before the directory is fsynced.

Nothing here changes what the node does; it only holds it still at one place.
"""
from __future__ import annotations

import json
import os
import runpy
import sys
import time

POINTS = ("snapshot-child", "compact-copy", "compact-renamed")


def main() -> None:
    point, marker_dir, sep, *command = sys.argv[1:]
    if point not in POINTS or sep != "--" or command[1:3] != ["-m", "quorumlab.bench.cli"]:
        raise SystemExit(f"usage: failpoints.py {{{','.join(POINTS)}}} DIR -- python -m quorumlab.bench.cli node ...")
    os.makedirs(marker_dir, exist_ok=True)
    node_pid = os.getpid()
    marker = os.path.join(marker_dir, point + ".json")

    def stop_here(**data: object) -> None:
        if os.path.exists(marker) or not os.path.exists(os.path.join(marker_dir, "arm")):
            return
        with open(marker + ".tmp", "w") as fh:
            json.dump({"pid": os.getpid(), "node_pid": node_pid, **data}, fh)
        os.replace(marker + ".tmp", marker)
        deadline = time.monotonic() + 60
        while not os.path.exists(os.path.join(marker_dir, "go")) and time.monotonic() < deadline:
            time.sleep(0.01)

    if point == "snapshot-child":
        from quorumlab.core.snapshots import FileSnapshots

        write_file = FileSnapshots._write_file

        def _write_file(self, index, term, meta, write):  # type: ignore[no-untyped-def]
            if os.getpid() == node_pid:
                return write_file(self, index, term, meta, write)

            def body_then_stop(stream):  # type: ignore[no-untyped-def]
                write(stream)
                stop_here(index=index, file=self._path(index) + ".tmp")

            return write_file(self, index, term, meta, body_then_stop)

        FileSnapshots._write_file = _write_file
    else:
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
            compacting = os.fspath(src).endswith(".compact")
            if compacting and point == "compact-copy":
                stop_here(file=os.fspath(src))
            real_replace(src, dst, *args, **kwargs)
            if compacting and point == "compact-renamed":
                stop_here(file=os.fspath(dst))

        os.replace = replace
    sys.argv = ["bench", *command[3:]]
    runpy.run_module("quorumlab.bench.cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
