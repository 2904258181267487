"""Parameters: cited parameter sets, and parsing ``--set key=value`` strings with Brian2 units.

A value given on the command line is parsed against the default it replaces: a default with a
unit (a Brian2 ``Quantity``) needs a value with the same dimensions (``20*ms``, ``20 ms``,
``0.5*nA``); a plain number needs a plain number; a list default takes a comma-separated list.
Anything else is an :class:`~neuromod.errors.InputError` naming the parameter, what was
expected and what was given.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from brian2 import Quantity, get_unit
import brian2.units as _brian2_units

from neuromod.errors import InputError

__all__ = [
    "ParameterSet",
    "parse_assignments",
    "parse_value",
    "resolve_parameters",
    "to_jsonable",
    "format_value",
]

#: Names a value string may use: Brian2's units (ms, mV, nA, pF, Hz, ...) and nothing else.
_UNIT_NAMESPACE: dict[str, Any] = {
    name: value
    for module in (_brian2_units, _brian2_units.allunits)
    for name, value in vars(module).items()
    if isinstance(value, Quantity) and not name.startswith("_")
}
_UNIT_NAMESPACE.setdefault("s", _brian2_units.second)  # Brian2 prints seconds as "s" but names them "second"
_NUMBER_THEN_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z][\w]*(?:\s*[/*]\s*\w+|\s*\*\*\s*\d+)*)\s*$")


@dataclasses.dataclass(frozen=True)
class ParameterSet:
    """Base of the frozen, cited parameter sets (``NAUD2008["tonic"]``, ...).

    Subclasses add fields with units; ``citation`` says where the values come from.
    """

    citation: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Field name -> value, without the citation."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "citation"}

    def replace(self, **changes: Any) -> "ParameterSet":
        """A copy with some fields changed (units are checked against the old values)."""
        current = self.as_dict()
        for key, value in changes.items():
            if key not in current and key != "citation":
                raise InputError(f"unknown parameter {key!r} for {type(self).__name__}; expected one of {sorted(current)}")
            if key in current:
                _check_same_kind(key, current[key], value)
        return dataclasses.replace(self, **changes)


def _safe_eval(text: str) -> Any:
    """Evaluate an arithmetic expression over numbers and Brian2 unit names only."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot parse {text!r}") from exc
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load,
               ast.Mult, ast.Div, ast.Add, ast.Sub, ast.Pow, ast.USub, ast.UAdd)
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise ValueError(f"only numbers, units and + - * / ** are allowed, got {text!r}")
        if isinstance(node, ast.Name) and node.id not in _UNIT_NAMESPACE:
            raise ValueError(f"unknown unit {node.id!r} in {text!r}")
    return eval(compile(tree, "<value>", "eval"), {"__builtins__": {}}, _UNIT_NAMESPACE)  # noqa: S307 - AST checked above


def _parse_scalar_quantity(text: str) -> Any:
    match = _NUMBER_THEN_UNIT.match(text)
    if match:  # "20 ms", "20ms", "0.5 nA"
        text = f"{match.group(1)}*{match.group(2)}"
    return _safe_eval(text)


def _unit_name(q: Quantity) -> str:
    if q.is_dimensionless:
        return "1"
    return str(q.get_best_unit()) if np.ndim(q) == 0 else str(get_unit(q.dim))


def _check_same_kind(name: str, default: Any, value: Any) -> None:
    if isinstance(default, Quantity) and not default.is_dimensionless:
        if not isinstance(value, Quantity) or value.dim != default.dim:
            raise InputError(
                f"parameter {name!r} needs a value in {_unit_name(default)} (e.g. {format_value(default)}), got {value!r}"
            )


def parse_value(name: str, text: str, default: Any) -> Any:
    """Parse ``text`` as a new value for parameter ``name`` whose default is ``default``.

    Raises :class:`InputError` with one line saying what was expected.
    """
    text = text.strip()
    if text == "":
        raise InputError(f"parameter {name!r} needs a value, got an empty string")
    if isinstance(default, bool):
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise InputError(f"parameter {name!r} needs true or false, got {text!r}")
    if isinstance(default, (list, tuple)):
        if not default:
            raise InputError(f"parameter {name!r} has an empty default list and cannot be set")
        items = [s for s in re.split(r"[,;]", text.strip("[]() ")) if s.strip()]
        if not items:
            raise InputError(f"parameter {name!r} needs a comma-separated list, got {text!r}")
        # the largest default entry names the unit users think in (50 Hz, not the 0.1 Hz -> mHz)
        like = max(default, key=lambda v: abs(float(v)) if isinstance(v, (int, float, Quantity)) else 0.0)
        return type(default)(parse_value(name, item, like) for item in items)
    if isinstance(default, str):
        return text
    try:
        value = _parse_scalar_quantity(text)
    except ValueError as exc:
        raise InputError(f"parameter {name!r}: {exc}") from None
    if isinstance(default, Quantity) and not default.is_dimensionless:
        _check_same_kind(name, default, value)
        return value
    if isinstance(value, Quantity) and not value.is_dimensionless:
        raise InputError(f"parameter {name!r} is a plain number, got a value with units: {text!r}")
    value = float(value)
    if isinstance(default, (int, np.integer)) and not isinstance(default, bool):
        if not value.is_integer():
            raise InputError(f"parameter {name!r} needs a whole number, got {text!r}")
        return int(value)
    if not math.isfinite(value):
        raise InputError(f"parameter {name!r} needs a finite number, got {text!r}")
    return value


def parse_assignments(assignments: Iterable[str]) -> dict[str, str]:
    """Split ``["a=1", "tau=20*ms"]`` into ``{"a": "1", "tau": "20*ms"}`` (values stay text)."""
    parsed: dict[str, str] = {}
    for item in assignments:
        if "=" not in item:
            raise InputError(f"--set needs key=value, got {item!r}")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if not key:
            raise InputError(f"--set needs key=value, got {item!r}")
        parsed[key] = value
    return parsed


def resolve_parameters(defaults: Mapping[str, Any], overrides: Mapping[str, Any], *, what: str = "protocol") -> dict[str, Any]:
    """Defaults updated by overrides; text overrides are parsed against their default.

    Unknown names raise :class:`InputError` listing the known ones. Non-text overrides (from
    Python) are checked for matching units.
    """
    params = dict(defaults)
    for key, value in overrides.items():
        if key not in defaults:
            raise InputError(f"unknown parameter {key!r} for this {what}; known: {', '.join(sorted(defaults))}")
        if isinstance(value, str) and not isinstance(defaults[key], str):
            params[key] = parse_value(key, value, defaults[key])
        else:
            _check_same_kind(key, defaults[key], value)
            params[key] = value
    return params


def _preferred_unit(value: Quantity) -> Any:
    """The unit people write a value in: seconds above 1 s (not ks), Hz for rates (not mHz)."""
    if value.dim == _brian2_units.second.dim and abs(float(value / _brian2_units.second)) >= 1:
        return _brian2_units.second
    if value.dim == _brian2_units.Hz.dim and abs(float(value / _brian2_units.Hz)) < 1000:
        return _brian2_units.Hz
    return value.get_best_unit()


def format_value(value: Any) -> str:
    """A value as a user would type it: ``20. * msecond`` -> ``'20*ms'``."""
    if isinstance(value, Quantity) and not value.is_dimensionless:
        unit = get_unit(value.dim)
        best = _preferred_unit(value) if np.ndim(value) == 0 else unit
        number = np.asarray(value / best).tolist()
        return f"{number:g}*{best}" if isinstance(number, float) else f"{number}*{best}"
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value)
    return str(value)


def to_jsonable(value: Any) -> Any:
    """Recursively turn Quantities, numpy scalars/arrays and dataclasses into JSON values.

    A Quantity becomes the string a user would type (``"20*ms"``); arrays become lists.
    """
    if isinstance(value, Quantity) and not value.is_dimensionless:
        if np.ndim(value) == 0:
            return format_value(value)
        unit = value.get_best_unit()
        return {"unit": str(unit), "values": np.asarray(value / unit).tolist()}
    if isinstance(value, Quantity):
        value = np.asarray(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

