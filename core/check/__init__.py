"""Linearizability checking of key-value histories, and of any sequential model a plugin defines.

Record a history (``History``) or load one (``quorumlab.core.check.history_format``),
then ``check(history)``; see docs/check.md.
"""
from quorumlab.core.check.checker import check, linearize
from quorumlab.core.check.history import FAIL, INFO, OK, History, Operation
from quorumlab.core.check.kv_model import KVRegister
from quorumlab.core.check.model import UNKNOWN, Model, OperationError
from quorumlab.core.check.result import CheckResult, PartitionResult, Verdict

__all__ = [
    "FAIL", "INFO", "OK", "UNKNOWN",
    "CheckResult", "History", "KVRegister", "Model", "Operation", "OperationError", "PartitionResult", "Verdict",
    "check", "linearize",
]
