"""Typed construction of the spec's dataclasses from plain dicts: normalised values (1 and 1.0 are one
value), and one problem line per unknown key (with the key that was probably meant), missing key or
value of the wrong type. No torch, no Hydra."""

from __future__ import annotations

import difflib
import functools
import math
import typing
from dataclasses import MISSING, fields
from typing import Any, ClassVar


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@functools.cache  # evaluating the annotations costs ~1 ms a class; a plan builds hundreds of specs
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _normalise(cls: type, obj: Any) -> None:
    """Coerce the values of a frozen spec in place so that equal computations have equal fields:
    ints given for float fields become floats, a number given as forget bias becomes a float."""
    for name, hint in _hints(cls).items():
        if name.startswith("_") or typing.get_origin(hint) is ClassVar:
            continue
        v = getattr(obj, name)
        base = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        if base[0] is float and _is_int(v):
            object.__setattr__(obj, name, float(v))
        elif hint is Any and _is_num(v):  # number-or-label fields (forget_bias)
            object.__setattr__(obj, name, float(v))


def _check_type(key: str, hint: Any, v: Any) -> str | None:
    """One problem line when `v` does not have the declared type (None when it does)."""
    args = typing.get_args(hint)
    optional = type(None) in args
    base = [a for a in args if a is not type(None)][0] if optional else hint
    if v is None:
        return None if optional else f"{key} must not be null"
    if hint is Any:
        return None
    ok = {
        bool: isinstance(v, bool),
        int: _is_int(v),
        float: _is_num(v),
        str: isinstance(v, str),
    }.get(base, True)
    if ok:
        return None
    what = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}[base]
    return f"{key} must be {what}{' or null' if optional else ''}, got {v!r}"


def suggest(word: str, options: typing.Iterable[str]) -> str:
    """' (did you mean X?)' for the closest of `options`, or ''."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def build(cls: type, data: dict[str, Any], prefix: str) -> tuple[Any, list[str]]:
    """cls(**data) with every unknown key, missing key and wrong type reported as one line each."""
    problems: list[str] = []
    names = [f.name for f in fields(cls) if f.init]
    for k in data:
        if k not in names:
            problems.append(f"{prefix}{k}: unknown key; allowed: {sorted(names)}{suggest(k, names)}")
    hints = _hints(cls)
    for f in fields(cls):
        if not f.init:
            continue
        if f.name in data:
            bad = _check_type(prefix + f.name, hints[f.name], data[f.name])
            if bad:
                problems.append(bad)
        elif f.default is MISSING and f.default_factory is MISSING:
            problems.append(f"{prefix}{f.name}: missing")
    if problems:
        return None, problems
    return cls(**{k: v for k, v in data.items() if k in names}), []
