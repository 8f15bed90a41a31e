"""Strict YAML configs: flat dataclasses, one override path (nanoGPT style).

A config file is a flat mapping. Unknown keys, missing required keys, wrong types, numbers that
are not finite, values outside a field's `choices` or bounds (`ge`, `gt`, `le`, `lt`) are errors
that name the file, the key, the value and the rule, in one line. Overrides come from the
command line (`key=value`, the value parsed as YAML) or from notebook parameters (a dict), and
go through exactly the same validation.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import os
import types
import typing
from pathlib import Path
from typing import Any, Mapping, Sequence, TypeVar

import yaml

from .io import atomic_path

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override that does not fit its schema."""


BOUNDS = {"ge": (operator.ge, ">="), "gt": (operator.gt, ">"), "le": (operator.le, "<="), "lt": (operator.lt, "<")}


def field(default: Any = dataclasses.MISSING, *, choices: Sequence[Any] | None = None, help: str = "",
          **bounds: float):
    """A dataclass field with optional allowed values, bounds (ge=0, gt=0, le=1, lt=1: for a
    number, or each number of a list; None always passes) and a one-line description."""
    unknown = sorted(set(bounds) - set(BOUNDS))
    if unknown:
        raise TypeError(f"field(): unknown bound(s) {unknown}; allowed: {sorted(BOUNDS)}")
    kwargs: dict[str, Any] = {"metadata": {"choices": tuple(choices) if choices else None, "help": help,
                                           "bounds": bounds}}
    if isinstance(default, (list, dict)):
        kwargs["default_factory"] = lambda d=default: type(d)(d)
    elif default is not dataclasses.MISSING:
        kwargs["default"] = default
    return dataclasses.field(**kwargs)


def choices(cls: type, name: str) -> tuple[Any, ...]:
    """The allowed values of field `name` of config dataclass `cls` (its `choices`)."""
    (f,) = [f for f in dataclasses.fields(cls) if f.name == name]
    if not f.metadata.get("choices"):
        raise ValueError(f"{cls.__name__}.{name} has no choices")
    return f.metadata["choices"]


def _broken_bound(value: Any, bounds: Mapping[str, float]) -> str | None:
    """The first bound a number does not meet, as 'must be > 0'; NaN meets none."""
    for name, limit in bounds.items():
        test, sign = BOUNDS[name]
        if not test(value, limit):
            return f"must be {sign} {limit}"
    return None


def range_problems(cfg: Any) -> list[str]:
    """'key 'k': -1.0 must be > 0' for every field of config dataclass `cfg` outside its bounds."""
    problems = []
    for f in dataclasses.fields(cfg):
        bounds, value = f.metadata.get("bounds"), getattr(cfg, f.name)
        numbers = value if isinstance(value, (list, tuple)) else [value]
        for number in (v for v in numbers if isinstance(v, (int, float)) and not isinstance(v, bool)):
            broken = bounds and _broken_bound(number, bounds)
            if broken:
                problems.append(f"key {f.name!r}: {value!r} {broken}" + (" (each item)" if numbers is value else ""))
                break
    return problems


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is not None:  # list[int], str | None: the whole annotation
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _check(value: Any, tp: Any, where: str) -> Any:
    """Return `value` converted to `tp` where lossless (int -> float), else raise ConfigError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check(value, arg, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    if origin in (list, tuple, Sequence):
        (item_tp,) = typing.get_args(tp)[:1] or (Any,)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r} ({type(value).__name__})")
        return [_check(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r} ({type(value).__name__})")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r} ({type(value).__name__})")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r} ({type(value).__name__})")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float range
            number = math.inf
        if not math.isfinite(number):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return number
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r} ({type(value).__name__})")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r} ({type(value).__name__})")
        return value
    raise ConfigError(f"{where}: unsupported field type {tp}")


def from_mapping(cls: type[T], mapping: Mapping[str, Any], source: str = "<mapping>") -> T:
    """Build dataclass `cls` from a flat mapping, validating every key strictly."""
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{source}: expected a mapping of keys to values, got {type(mapping).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(fields))}")
    values = {}
    for name, f in fields.items():
        where = f"{source}: key {name!r}"
        if name not in mapping:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where} is required")
            continue
        value = _check(mapping[name], hints[name], where)
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{where}: {value!r} is not one of {list(choices)}")
        values[name] = value
    try:
        built = cls(**values)
    except ConfigError as err:  # the dataclass's own checks (relations between keys)
        raise ConfigError(f"{source}: {err}") from None
    problems = range_problems(built)
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    return built


def _one_line(err: Exception) -> str:
    """A (multi-line) parser message as one line."""
    return " ".join(str(err).split()) or type(err).__name__


def parse_overrides(overrides: Sequence[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    """`["lr=3e-5", "eval_data=[a, b]"]` or a dict -> dict; values are parsed as YAML."""
    if overrides is None:
        return {}
    if isinstance(overrides, Mapping):
        return dict(overrides)
    parsed = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r}: expected key=value")
        try:
            parsed[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: the value is not valid YAML ({_one_line(err)})") from None
    return parsed


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {_one_line(err)}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read ({_one_line(err)})") from None
    if content is None:
        content = {}
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a mapping at top level, got {type(content).__name__}")
    return content


def load(cls: type[T], path: str | os.PathLike | None = None,
         overrides: Sequence[str] | Mapping[str, Any] | None = None) -> T:
    """Load `cls` from a YAML file (optional) plus overrides, strictly."""
    base = load_yaml(path) if path is not None else {}
    extra = parse_overrides(overrides)
    source = str(path) if path is not None else "<overrides>"
    unknown = sorted(set(extra) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ConfigError(f"override: unknown key(s) {', '.join(map(repr, unknown))} for {cls.__name__}")
    return from_mapping(cls, {**base, **extra}, source if not extra else f"{source} (+ overrides)")


def fields_help(cls: type, indent: str = "  ") -> str:
    """One line per field of config dataclass `cls`: name, type, default, choices and help text."""
    hints = typing.get_type_hints(cls)
    lines = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        if f.default is not dataclasses.MISSING:
            default = f"default {f.default!r}"
        elif f.default_factory is not dataclasses.MISSING:
            default = f"default {f.default_factory()!r}"
        else:
            default = "required"
        choices = f.metadata.get("choices")
        facts = ", ".join([_type_name(hints[f.name]), default] + ([f"one of {list(choices)}"] if choices else []))
        text = f.metadata.get("help") or ""
        lines.append(f"{indent}{f.name} ({facts})" + (f": {text}" if text else ""))
    return "\n".join(lines)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Resolved config as plain data, for provenance and for saving beside a run."""
    return dataclasses.asdict(cfg)


def dump(cfg: Any, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False), encoding="utf-8")
