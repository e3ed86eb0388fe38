"""The parameters of a figure family, read once.

A family's parameters come from three places: its notebook's cell tagged ``parameters`` (where
papermill's ``-p`` gives lists and dicts as text, "[0, 1, 2]"), a book page's entry in
``book/manifest.yml``, and ``python -m gtlib <family> --param NAME=VALUE`` (all text). Each family
declares them once, as a frozen dataclass ``Params`` deriving from `FamilyParams`, whose fields are
its notebook's parameters with the same defaults (tests/test_figures.py compares them; ``device``
alone is not one: it says where to train, not what, and goes to ``runs`` beside them). Building one
reads text by each field's annotation, and building one from a mapping refuses a name the family
does not have, in one line naming the valid ones: nothing after it parses strings or silently drops
a misspelt parameter, and nothing trains on bad input.
"""
from __future__ import annotations

import ast
import dataclasses
import types
import typing
from collections.abc import Mapping

import yaml


class FamilyParams:
    """The base of every family's ``Params``: ``@dataclass(frozen=True) class Params(FamilyParams)``.

    Text is read as the field's annotation says (``int``, ``float``, ``str``, ``dict``,
    ``tuple[T, ...]``, each optionally ``| None``); lists become tuples, ints become floats where a
    float is due. Values are checked further (an unknown task, a sparsity out of range) where they
    are used, before any training, or in a family's ``__post_init__``."""

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, read(field.name, getattr(self, field.name), hints[field.name]))

    @classmethod
    def names(cls) -> list[str]:
        return [field.name for field in dataclasses.fields(cls)]

    @classmethod
    def build(cls, values: Mapping[str, object]):
        """From a mapping (a manifest page's parameters, a command line's): an unknown name is
        refused before anything is read."""
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            family = cls.__module__.rpartition(".")[2]
            raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for {family}; "
                             f"valid: {', '.join(cls.names())}")
        return cls(**values)

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, object]):
        """From a notebook's variables (``globals()``): the ones its parameters cell defines, as
        papermill has set them."""
        return cls(**{name: namespace[name] for name in cls.names()})


def read(name: str, value, kind):
    """``value`` as the annotation ``kind`` says; a one-line ValueError where it cannot be."""
    options = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
    optional = type(None) in options
    (kind,) = [k for k in options if k is not type(None)]
    if value is None or (optional and value == "None"):
        if optional:
            return None
        raise ValueError(f"{name} must be {_describe(kind)}, got None")
    try:
        return _as(_literal(value) if isinstance(value, str) and kind is not str else value, kind)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {_describe(kind)}{' or None' if optional else ''}, "
                         f"got {value!r}") from None


def _literal(text: str):
    """Text as a Python literal ("[0, 1]", "{'p': 11}", "(0.1, 0.2)"), else as YAML, which also reads
    unquoted words in lists ("[add, x2y2]"); text that reads as neither stays text (and fails its
    type)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _as(value, kind):
    origin = typing.get_origin(kind)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError
        item = typing.get_args(kind)[0]
        return tuple(_as(v, item) for v in value)
    if (origin or kind) is dict:
        if not isinstance(value, dict):
            raise TypeError
        return dict(value)
    if isinstance(value, bool):  # an int to Python, never a number here
        raise TypeError
    if kind is float and isinstance(value, int):
        return float(value)
    if not isinstance(value, kind):
        raise TypeError
    return value


def _describe(kind) -> str:
    if typing.get_origin(kind) is tuple:
        return f"a list of {typing.get_args(kind)[0].__name__}"
    return {int: "an integer", float: "a number", str: "text", dict: "a dict"}[typing.get_origin(kind) or kind]
