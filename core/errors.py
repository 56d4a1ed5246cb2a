"""The exceptions every layer of quorumlab shares."""


class QuorumlabError(Exception):
    """Base class of quorumlab's own errors."""


class CodecError(QuorumlabError, ValueError):
    """Bytes that are not a valid message: truncated, unknown type, wrong version, trailing garbage."""


class ConfigError(QuorumlabError, ValueError):
    """A configuration value outside its allowed range; the message names the field."""


class StorageError(QuorumlabError):
    """A durable file is damaged or unreadable; the message names the file. Never reset silently."""


class UnknownAlgorithmError(QuorumlabError, LookupError):
    """An algorithm name that no installed plugin registers; the message lists the available ones."""


class InvariantViolation(QuorumlabError, AssertionError):
    """A safety property failed during a run; carries the seed and the last events of the trace."""
