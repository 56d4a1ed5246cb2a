"""Click parameter types the ``bench`` commands share: each parses and checks one kind of option value."""
from __future__ import annotations

from typing import Any

import click

from quorumlab.core.runtime.addresses import AddressError, parse_cluster


class MsRange(click.ParamType):
    """``LO-HI`` in integer ms (``150-300``; ``5`` means ``5-5``) -> (lo, hi), with 0 <= lo <= hi."""

    name = "LO-HI"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        try:
            parts = [int(p) for p in str(value).split("-")]
        except ValueError:
            self.fail(f"{value!r} is not LO-HI in integer ms, e.g. 150-300", param, ctx)
        if len(parts) == 1:
            parts *= 2
        if len(parts) != 2 or not 0 <= parts[0] <= parts[1]:
            self.fail(f"{value!r} needs LO-HI with 0 <= LO <= HI", param, ctx)
        return parts[0], parts[1]


class NameList(click.ParamType):
    """A comma-separated list of names -> a tuple of the non-empty ones."""

    name = "A,B,..."

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        return tuple(p.strip() for p in str(value).split(",") if p.strip())


class Sizes(click.ParamType):
    """Cluster sizes, ``5`` or ``3,5,9`` -> a tuple of ints, each at least ``minimum``."""

    name = "N[,N...]"

    def __init__(self, minimum: int = 1) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        try:
            sizes = tuple(int(p) for p in NameList().convert(value, param, ctx))
        except ValueError:
            self.fail(f"{value!r} is not a cluster size like 5 or 3,5,9", param, ctx)
        if not sizes or any(n < self.minimum for n in sizes):
            self.fail(f"every cluster size must be at least {self.minimum} (a fault must leave a majority), "
                      f"got {value!r}", param, ctx)
        return sizes


class KeyValue(click.ParamType):
    """``KEY=VALUE`` -> (key, value), both stripped; every ``--config`` of every command parses this way."""

    name = "KEY=VALUE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        key, sep, val = str(value).partition("=")
        if not sep or not key.strip():
            self.fail(f"{value!r} is not KEY=VALUE", param, ctx)
        return key.strip(), val.strip()


class ClusterSpec(click.ParamType):
    """``1=tcp://host:port,2=...`` -> {1: "tcp://host:port", ...} (quorumlab.core.runtime.addresses.parse_cluster)."""

    name = "ID=tcp://HOST:PORT,..."

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dict[int, str]:
        if isinstance(value, dict):
            return value
        try:
            return parse_cluster(str(value))
        except AddressError as exc:
            self.fail(str(exc), param, ctx)
