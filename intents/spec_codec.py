"""Spec <-> JSON, for keeping a conversation (or an answer to refine) in the state store.
Pure.

The encoding is the dataclasses' own fields, dates as ISO strings and tuples as lists,
under a version number. Decoding is strict: an unknown version, field or value type
raises SpecDecodeError, and the caller treats the stored thing as gone (a conversation
starts afresh) rather than guessing.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import date
from typing import Any, get_args, get_origin, get_type_hints

from toprank.intents.conversation import Context
from toprank.intents.spec import Spec

VERSION = 1


class SpecDecodeError(ValueError):
    """Stored JSON that is not a spec this version wrote."""


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decode(kind: Any, value: Any) -> Any:
    origin = get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = get_args(kind)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _decode(option, value)
            except SpecDecodeError:
                continue
        raise SpecDecodeError(f"no type of {kind} fits {value!r}")
    if origin is typing.Literal:
        if value not in get_args(kind):
            raise SpecDecodeError(f"{value!r} is not one of {get_args(kind)}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise SpecDecodeError(f"expected a list, got {value!r}")
        args = get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        if len(args) != len(value):
            raise SpecDecodeError(f"expected {len(args)} items, got {value!r}")
        return tuple(_decode(a, v) for a, v in zip(args, value, strict=True))
    if kind is date:
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError) as exc:
            raise SpecDecodeError(f"not a date: {value!r}") from exc
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _dataclass(kind, value)
    if kind in (str, int, bool):
        if type(value) is not kind:
            raise SpecDecodeError(f"expected {kind.__name__}, got {value!r}")
        return value
    raise SpecDecodeError(f"cannot decode {kind}")


def _dataclass(cls: type, value: Any) -> Any:
    if not isinstance(value, dict):
        raise SpecDecodeError(f"expected an object for {cls.__name__}, got {value!r}")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(value) - names
    if unknown:
        raise SpecDecodeError(f"unknown fields of {cls.__name__}: {sorted(unknown)}")
    return cls(**{name: _decode(hints[name], v) for name, v in value.items()})


def spec_to_json(spec: Spec) -> str:
    return json.dumps({"v": VERSION, "spec": _encode(spec)}, separators=(",", ":"))


def spec_from_json(text: str) -> Spec:
    data = _load(text)
    spec = _dataclass(Spec, data.get("spec"))
    assert isinstance(spec, Spec)
    return spec


def context_to_json(context: Context) -> str:
    return json.dumps(
        {"v": VERSION, "spec": _encode(context.spec), "codes": list(context.codes)},
        separators=(",", ":"),
    )


def context_from_json(text: str) -> Context:
    data = _load(text)
    spec = _dataclass(Spec, data.get("spec"))
    codes = data.get("codes", [])
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise SpecDecodeError("codes must be a list of strings")
    return Context(spec, tuple(codes))


def _load(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise SpecDecodeError("not JSON") from exc
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise SpecDecodeError("not a spec of this version")
    return data
