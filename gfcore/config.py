"""Method specs (``knn:k=5,metric=l2``) and hyper-parameter dataclasses built from strings.

Every config is validated before anything is written (:func:`check_config`), by rules every plugin gets for
free: numbers must be finite; a field declared with :func:`bounded` (or :func:`positive`,
:func:`non_negative`) must lie in its range, one declared with :func:`one_of` must be one of its choices;
and a ``Config`` may add its own ``validate(self)`` that raises ``ValueError("one line")`` for rules between
fields. :func:`describe_config` says all of that about a ``Config`` class (what `gfp plugins NAME` shows).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import math
import numbers
import textwrap
import tokenize
import types
import typing
from typing import Any

from gfcore.errors import GfpError
from gfcore.specs import parse_spec  # noqa: F401 -- part of this module's API: the spec grammar lives there

MAX_SEED = 2**63 - 1  # torch.manual_seed takes at most 64 bits; numpy any non-negative integer
# The bound of a number whose field declares none (sizes should declare their own, far smaller): above any
# real hyper-parameter, and small enough that squares and products stay finite in float32 (1e30 did not).
MAX_MAGNITUDE = 1e12


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise GfpError(f"seed {seed!r}: expected an integer from 0 to {MAX_SEED}")
    return seed


def bounded(default, *, min=None, max=None, min_open=False, max_open=False):  # noqa: A002 -- Click's names
    """A dataclass field whose value must lie in a range (open or closed at either end)."""
    return dataclasses.field(default=default, metadata={"range": (min, max, min_open, max_open)})


def changed_default(default, *, saved_before):
    """A field added to an existing config with a new default: a config saved before the field existed
    (its run.json lacks the key) meant ``saved_before``, so old runs load and behave as they were trained."""
    return dataclasses.field(default=default, metadata={"saved_before": saved_before})


def one_of(default, choices):
    """A dataclass field whose value must be one of ``choices`` (``channels: str = one_of("grey", CHANNELS)``)."""
    return dataclasses.field(default=default, metadata={"choices": tuple(choices)})


def positive(default):
    return bounded(default, min=0, min_open=True)


def non_negative(default):
    return bounded(default, min=0)


def _range_text(low, high, low_open, high_open) -> str:
    if high is None:
        return f"{'>' if low_open else '>='} {low}"
    if low is None:
        return f"{'<' if high_open else '<='} {high}"
    return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def _field_meta(config_cls: type, name: str, key: str, missing=None):
    """Metadata ``key`` (``"range"``, ``"choices"``) of field ``name``, from the config class or, when a
    subclass re-declares the field only to change its default (``lr: float = 1e-4``), from the nearest base
    class that gave one."""
    for klass in config_cls.__mro__:
        f = getattr(klass, "__dataclass_fields__", {}).get(name)
        if f is not None and key in f.metadata:
            return f.metadata[key]
    return missing


def _field_range(config_cls: type, name: str):
    return _field_meta(config_cls, name, "range", (None, None, False, False))


def check_config(config, owner: str) -> None:
    """Raise a one-line :class:`GfpError` for a non-finite number, a value out of its field's range, or
    whatever the config's own ``validate()`` refuses."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        choices = _field_meta(type(config), f.name, "choices")
        if choices and value is not None and value not in choices:
            raise GfpError(f"{owner}: parameter {f.name}={value!r}: choose one of {', '.join(choices)}")
        items = value if isinstance(value, (tuple, list)) else (value,)
        for v in items:
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                continue
            if not math.isfinite(v):
                raise GfpError(f"{owner}: parameter {f.name}={v} must be a finite number")
            low, high, low_open, high_open = _field_range(type(config), f.name)
            if high is None and abs(v) > MAX_MAGNITUDE and (low is None or v > low):
                raise GfpError(
                    f"{owner}: parameter {f.name}={v} must be at most {MAX_MAGNITUDE:.0e} in magnitude"
                )
            if (low is not None and (v < low or (low_open and v == low))) or (
                high is not None and (v > high or (high_open and v == high))
            ):
                raise GfpError(
                    f"{owner}: parameter {f.name}={v} must be {_range_text(low, high, low_open, high_open)}"
                )
    validate = getattr(config, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as exc:
            raise GfpError(f"{owner}: {exc}") from None


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    if not isinstance(value, str):
        return value
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value.lower() in ("none", "null", ""):
            return None
        annotation = args[0]
        origin = typing.get_origin(annotation)
    if origin in (tuple, list):
        (inner, *_) = typing.get_args(annotation) or (str,)
        items = [_coerce(v, inner, key) for v in value.replace(";", " ").replace("/", " ").split()]
        return tuple(items) if origin is tuple else items
    try:
        if annotation is bool:
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if annotation in (int, float, str):
            return annotation(value)
    except ValueError:
        raise GfpError(f"parameter {key}={value!r} is not a valid {annotation.__name__}") from None
    return value


def build_config(config_cls: type, params: dict[str, Any], owner: str) -> Any:
    """Instantiate ``config_cls`` from defaults overridden by ``params`` (strings are parsed by field type)."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    unknown = sorted(set(params) - set(fields))
    if unknown:
        valid = ", ".join(fields) or "(none)"
        raise GfpError(f"{owner} has no parameter {', '.join(map(repr, unknown))}; its parameters: {valid}")
    values = {k: _coerce(v, hints[k], k) for k, v in params.items()}
    config = config_cls(**values)
    check_config(config, owner)
    return config


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def describe_config(config_cls: type) -> list[dict[str, Any]]:
    """Each field of a ``Config`` dataclass (all have defaults), for a front-end to show: ``name``, ``type``
    (``"float | None"``), ``default`` (tuples as lists), ``range`` (``">= 1"``, ``"in [0, 1)"``, ``None``),
    ``choices`` (a list or ``None``) and ``help``: the field's comment in the source (on its line, else the
    comment lines right above it), or ``None``. A re-declared field keeps its base's range, choices, comment."""
    hints, comments, described = typing.get_type_hints(config_cls), _field_comments(config_cls), []
    for f in dataclasses.fields(config_cls):
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        low, high, low_open, high_open = bounds = _field_range(config_cls, f.name)
        choices = _field_meta(config_cls, f.name, "choices")
        described.append(
            {
                "name": f.name,
                "type": _type_text(hints.get(f.name, f.type)),
                "default": list(default) if isinstance(default, tuple) else default,
                "range": None if low is None and high is None else _range_text(*bounds),
                "choices": list(choices) if choices else None,
                "help": comments.get(f.name),
            }
        )
    return described


def _type_text(annotation: Any) -> str:
    """``int``, ``float | None``, ``tuple[float, ...]``: an annotation as a user reads it."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_text(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join("..." if a is Ellipsis else _type_text(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _field_comments(config_cls: type) -> dict[str, str]:
    """Field name -> its declaring comment, from the nearest class in the MRO whose source gives one."""
    comments: dict[str, str] = {}
    for klass in filter(dataclasses.is_dataclass, config_cls.__mro__):
        comments = _class_comments(klass) | comments
    return comments


def _class_comments(klass: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(klass))
        tree = ast.parse(source)
        by_line = {
            tok.start[0]: (tok.string.lstrip("#").strip(), tok.line.strip().startswith("#"))
            for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.COMMENT
        }
    except (OSError, TypeError, SyntaxError, tokenize.TokenError):  # no source: a class made at run time
        return {}
    body = next((node.body for node in tree.body if isinstance(node, ast.ClassDef)), [])
    comments = {}
    for node in body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        own = [by_line[n][0] for n in range(node.lineno, node.end_lineno + 1) if n in by_line]
        if not own:  # the comment lines right above the field
            line = node.lineno - 1
            while line in by_line and by_line[line][1]:
                own.insert(0, by_line[line][0])
                line -= 1
        if own := [text for text in own if text]:
            comments[node.target.id] = " ".join(own)
    return comments


def _type_ok(value: Any, annotation: Any) -> bool:
    """Whether a JSON value fits a field's annotation (an int is a fine float; a bool is not an int)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin in (tuple, list):
        (inner, *_) = typing.get_args(annotation) or (Any,)
        return isinstance(value, (list, tuple)) and all(_type_ok(v, inner) for v in value)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    return True  # a type this checker does not know: the config's own validate() may check it


def config_from_dict(config_cls: type, data: dict[str, Any], owner: str = "saved config") -> Any:
    """Rebuild a saved config, ignoring keys a newer/older version does not know; every value is checked
    (type, finiteness, range), since the file may come from a stranger."""
    if not isinstance(data, dict):
        raise GfpError(f"{owner}: 'config' must be an object of parameters, not {type(data).__name__}")
    fields = {f.name for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    values = {}
    for k, v in data.items():
        if k in fields:
            if not _type_ok(v, hints[k]):
                raise GfpError(
                    f"{owner}: parameter {k}={v!r} is not a valid {getattr(hints[k], '__name__', hints[k])}"
                )
            if typing.get_origin(hints[k]) is tuple and isinstance(v, list):
                v = tuple(v)
            values[k] = v
    for f in dataclasses.fields(config_cls):
        if f.name not in data and "saved_before" in f.metadata:  # the file predates this field
            values[f.name] = f.metadata["saved_before"]
    config = config_cls(**values)
    check_config(config, owner)
    return config


def parse_split_fractions(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` -> (0.8, 0.1, 0.1); must be three finite non-negative numbers summing to 1."""
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise GfpError(f"--split {text!r}: expected three numbers like 0.8,0.1,0.1") from None
    if len(parts) != 3 or not all(math.isfinite(p) and p >= 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise GfpError(
            f"--split {text!r}: expected three non-negative fractions (train,val,test) summing to 1"
        )
    if parts[0] == 0:
        raise GfpError(f"--split {text!r}: the train fraction must be positive")
    return parts  # type: ignore[return-value]
