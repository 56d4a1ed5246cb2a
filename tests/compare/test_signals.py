"""Holding Ctrl-C during cleanup: delivered after a mid-run close, dropped during the final cleanup."""
from __future__ import annotations

import os
import signal

import pytest

from quorumlab.bench.compare.signals import sigint_held


def _press() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_a_ctrl_c_during_a_mid_run_close_is_raised_once_the_close_is_done():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with sigint_held(deliver=True):
            _press()
            done.append("close finished")
    assert done == ["close finished"]


def test_a_ctrl_c_during_the_final_cleanup_is_dropped():
    with sigint_held(deliver=False):
        _press()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_hold_inside_the_final_cleanup_leaves_the_decision_to_it():
    with sigint_held(deliver=False):
        with sigint_held(deliver=True):
            _press()
        _press()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
