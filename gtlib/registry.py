"""A tiny name -> object registry used for tasks, models and pruners.

Looking up an unknown name raises one clear line that lists every valid name, so that a typo in a
notebook parameter fails before any work starts; `check_positive` does the same for the sizes the
registered tasks and models are given.
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
        """A decorator that adds its object under ``name``.

        A name already taken fails, unless the object is a class of the same module and qualified
        name as the one registered: the same definition run again (a notebook cell executed twice),
        which replaces it. A class with a ``name`` attribute must carry the name it is registered
        under, since stored configurations name their task or model by that attribute.
        """
        def add(obj: T) -> T:
            own = getattr(obj, "name", name)
            if own != name:
                raise ValueError(f"{self.kind} registered as {name!r} has name = {own!r}; they must agree")
            old = self._items.get(name)
            if old is not None and not _redefined(old, obj):
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
        """Every registered name, sorted (as error messages list them)."""
        return sorted(self._items)

    def __iter__(self):
        """The registered names in the order they were registered."""
        return iter(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items


def check_positive(name: str, value) -> None:
    """Refuse a field that must be a positive integer (a task's or a model's size), naming it."""
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _redefined(old: object, new: object) -> bool:
    """Whether ``new`` is ``old``'s class definition executed again (same module, same name)."""
    return (isinstance(old, type) and isinstance(new, type)
            and (old.__module__, old.__qualname__) == (new.__module__, new.__qualname__))
