"""A tiny name -> object registry used for tasks, models and pruners.

Looking up an unknown name raises one clear line that lists every valid name, so that a typo in a
notebook parameter fails before any work starts.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects; ``@REG.register("name")`` adds one."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        if name not in self._items:
            raise ValueError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}")
        return self._items[name]

    def create(self, name: str, **params):
        """Instantiate the dataclass registered as ``name``; unknown parameters fail by name."""
        cls = self.get(name)
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for {self.kind} "
                             f"{name!r}; valid: {', '.join(valid)}")
        return cls(**params)

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
