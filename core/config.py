"""Typed, validated algorithm configuration.

Each algorithm declares a dataclass that subclasses ``AlgorithmConfig``. Every
field carries its allowed range in its metadata (``setting(...)``), so a bad
value fails with an error that names the field and the range, whether it came
from Python, the CLI (``--config key=value``) or a benchmark.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from quorumlab.core.errors import ConfigError


def setting(default: Any, lo: float | None = None, hi: float | None = None, unit: str = "", help: str = "") -> Any:
    """A config field with its allowed range [lo, hi], unit and one-line meaning."""
    return dataclasses.field(default=default, metadata={"lo": lo, "hi": hi, "unit": unit, "help": help})


@dataclasses.dataclass(frozen=True)
class AlgorithmConfig:
    """Base of every algorithm's config. Times are integers in milliseconds."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field's type and range, then the cross-field rules of ``check``."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            want = type(f.default) if f.default is not dataclasses.MISSING else None
            if want is bool:
                if not isinstance(value, bool):
                    raise ConfigError(f"{type(self).__name__}.{f.name} must be true or false, got {value!r}")
                continue
            if want in (int, float):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or (want is int and not isinstance(value, int)):
                    raise ConfigError(f"{type(self).__name__}.{f.name} must be {want.__name__}, got {value!r}")
                lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
                if value != value:
                    raise ConfigError(f"{type(self).__name__}.{f.name} must be a number, got {value!r}")
                if (lo is not None and value < lo) or (hi is not None and value > hi):
                    unit = f.metadata.get("unit", "")
                    raise ConfigError(
                        f"{type(self).__name__}.{f.name} = {value}{unit} is out of range: allowed {lo}..{hi}{unit}"
                    )
        self.check()

    def check(self) -> None:
        """Cross-field rules (for example min <= max); subclasses raise ConfigError naming the fields."""

    def replace(self, **changes: Any) -> "AlgorithmConfig":
        """A copy with some fields changed, validated again."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}; fields: {self.field_names()}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def field_names(cls) -> str:
        return ", ".join(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_strings(cls, overrides: Mapping[str, str]) -> "AlgorithmConfig":
        """Build from ``key=value`` strings (the CLI's ``--config``), converting to each field's type."""
        by_name = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in overrides.items():
            if key not in by_name:
                raise ConfigError(f"{cls.__name__} has no field {key!r}; fields: {cls.field_names()}")
            kind = type(by_name[key].default)
            try:
                if kind is bool:
                    if raw.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                        raise ValueError(raw)
                    values[key] = raw.lower() in ("1", "true", "yes", "on")
                else:
                    values[key] = kind(raw)
            except (ValueError, TypeError):
                raise ConfigError(f"{cls.__name__}.{key} must be {kind.__name__}, got {raw!r}") from None
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str, str]]:
        """(name, default, allowed range, meaning) for each field, for --help and docs."""
        rows = []
        for f in dataclasses.fields(cls):
            lo, hi, unit = f.metadata.get("lo"), f.metadata.get("hi"), f.metadata.get("unit", "")
            rng = "" if lo is None and hi is None else f"{lo}..{hi}{unit}"
            rows.append((f.name, f.default, rng, f.metadata.get("help", "")))
        return rows
