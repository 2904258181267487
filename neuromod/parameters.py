"""Parameters: cited parameter sets, and parsing ``--set key=value`` strings with Brian2 units.

A value given on the command line is parsed against the default it replaces: a default with a
unit (a Brian2 ``Quantity``) needs a value with the same dimensions (``20*ms``, ``20 ms``,
``0.5*nA``, ``1e9 Hz``); a plain number needs a plain number; a list default takes a
comma-separated list. Numbers are written as Python writes them (``7``, ``+3``, ``.5``, ``5.``,
``1_000``, ``1e0``, ``2E5``, ``-2.5e-3``, ``0x10``) and must be finite (``nan``, ``inf`` and
``1e999`` are refused). Only numbers, Brian2's unit names and ``+ - * / **`` are evaluated,
node by node, never by ``eval``. Anything else is an :class:`~neuromod.errors.InputError` naming
the parameter, what was expected and what was given.

:func:`check_seed` checks a random seed for numpy and Brian2 (``0 <= seed < 2**32``).
"""

from __future__ import annotations

import ast
import dataclasses
import math
import operator
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from brian2 import DimensionMismatchError, Quantity, get_unit
import brian2.units as _brian2_units

from neuromod.errors import InputError

__all__ = [
    "ParameterSet",
    "check_seed",
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
_DIGITS = r"\d(?:_?\d)*"  # Python's digit groups: 1000, 1_000
#: A number as Python writes it (7, +3, .5, 5., 1_000, 1e0, 2E5, -2.5e-3). The atomic group
#: ``(?>...)`` keeps it whole: without it "1e0" could backtrack to "1" and a "unit" "e0".
_NUMBER = rf"(?>[-+]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][-+]?{_DIGITS})?)"
_UNIT_EXPRESSION = r"[A-Za-z]\w*(?:\s*[/*]\s*\w+|\s*\*\*\s*\d+)*"  # ms, mV/ms, ms**2
_NUMBER_THEN_UNIT = re.compile(rf"\s*({_NUMBER})\s*({_UNIT_EXPRESSION})\s*", re.ASCII)
#: Words that look like numbers to Python's ``float`` but are not finite values for a parameter.
_NON_FINITE_WORDS = frozenset({"nan", "inf", "infinity"})
_NON_FINITE_THEN_UNIT = re.compile(r"\s*[-+]?\s*(?:nan|inf|infinity)\s*[A-Za-z]", re.ASCII | re.IGNORECASE)  # "inf ms"
#: Largest integer power, in bits of the result, computed exactly (``2**10**10`` would take hours).
_MAX_POWER_BITS = 1 << 16
_BINARY_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                     ast.Div: operator.truediv, ast.Pow: operator.pow}
_UNARY_OPERATORS = {ast.UAdd: operator.pos, ast.USub: operator.neg}


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


class _NotANumber(ValueError):
    """The value is a word (``nan``, ``inf``, ``abc``), not a finite number, where one is expected."""


def _safe_eval(text: str) -> Any:
    """Evaluate an arithmetic expression over numbers and Brian2 unit names only.

    The expression is walked node by node (no ``eval``): numbers (int and float literals), the
    names in ``_UNIT_NAMESPACE``, unary ``+ -`` and binary ``+ - * / **``. Raises ``ValueError``
    with one line for anything else, and :class:`_NotANumber` for a lone word or ``nan``/``inf``.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise ValueError(f"cannot parse {text!r}") from exc
    except (MemoryError, RecursionError):  # how CPython's parser says "nested too deeply"
        raise ValueError(f"cannot parse {text!r}: nested too deeply") from None
    body = tree.body
    if isinstance(body, ast.UnaryOp) and isinstance(body.op, (ast.UAdd, ast.USub)):
        body = body.operand
    if isinstance(body, ast.Name) and body.id not in _UNIT_NAMESPACE:
        raise _NotANumber(f"{text!r} is not a number")  # "abc", "-nan": a word where a number goes
    try:
        with np.errstate(all="ignore"):  # 0*ms/0 is nan: rejected by the caller, not warned about
            return _evaluate(tree.body, text)
    except RecursionError:
        raise ValueError(f"cannot parse {text!r}: nested too deeply") from None


def _evaluate(node: ast.AST, text: str) -> Any:
    """The value of one node of the checked expression ``text`` (see :func:`_safe_eval`)."""
    if isinstance(node, ast.Constant):
        # True, None, 'abc', 1j and ... are Python constants too, but not real numbers
        if type(node.value) in (int, float):
            return node.value
        raise _NotANumber(f"{text!r} is not a number")
    if isinstance(node, ast.Name):
        if node.id in _UNIT_NAMESPACE:
            return _UNIT_NAMESPACE[node.id]
        if node.id.lower() in _NON_FINITE_WORDS:
            raise _NotANumber(f"{text!r} is not a finite number")
        raise ValueError(f"unknown unit {node.id!r} in {text!r}")
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY_OPERATORS:
        return _UNARY_OPERATORS[type(node.op)](_evaluate(node.operand, text))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPERATORS:
        left, right = _evaluate(node.left, text), _evaluate(node.right, text)
        if isinstance(node.op, ast.Pow):
            right = _plain_exponent(left, right, text)
        try:
            result = _BINARY_OPERATORS[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ValueError(f"division by zero in {text!r}") from None
        except DimensionMismatchError:
            raise ValueError(f"units do not match in {text!r}") from None
        except OverflowError:
            raise _NotANumber(f"{text!r} is too large") from None
        except (ArithmeticError, TypeError, ValueError):
            raise ValueError(f"cannot compute {text!r}") from None
        if np.iscomplexobj(result):  # (-8)**(1/3) is complex in Python
            raise _NotANumber(f"{text!r} is not a real number")
        return result
    raise ValueError(f"only numbers, units and + - * / ** are allowed, got {text!r}")


def _plain_exponent(base: Any, exponent: Any, text: str) -> Any:
    """The exponent of ``base ** exponent`` as a plain number; refuse integer powers too large to compute."""
    if isinstance(exponent, Quantity):
        if not exponent.is_dimensionless:
            raise ValueError(f"an exponent must be a plain number, got {text!r}")
        exponent = float(exponent)
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if exponent * abs(base).bit_length() > _MAX_POWER_BITS:
            raise _NotANumber(f"{text!r} is too large")
    return exponent


def _parse_scalar_quantity(text: str) -> Any:
    """A number, optionally with a unit: ``20*ms``, ``20 ms``, ``20ms``, ``1e0``, ``0.5 nA``."""
    try:
        return _safe_eval(text)
    except _NotANumber:
        raise
    except ValueError:
        # "20 ms", "20ms", "1e9 Hz": Python needs the "*" (tried second, so that "0x10" stays a number)
        match = _NUMBER_THEN_UNIT.fullmatch(text)
        if not match:
            if _NON_FINITE_THEN_UNIT.match(text):
                raise _NotANumber(f"{text!r} is not a finite number") from None
            raise
    return _safe_eval(f"{match.group(1)}*{match.group(2)}")


def _is_finite(value: Any) -> bool:
    """Whether a parsed number or Quantity is finite (not nan, not +-inf)."""
    if isinstance(value, int):  # exact, however large
        return True
    try:
        return bool(np.isfinite(np.asarray(value, dtype=float)).all())
    except (TypeError, ValueError, OverflowError):
        return False


def check_seed(seed: Any) -> int:
    """Return ``seed`` as an ``int`` if it is a valid random seed, else raise :class:`InputError`.

    Parameters
    ----------
    seed : int
        An integer in ``[0, 2**32 - 1]`` (Python or numpy integer), the range numpy's and Brian2's
        generators accept. Booleans, floats and text are refused rather than converted.

    Returns
    -------
    int
        The seed as a Python ``int``.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError(f"seed must be an integer in [0, 2**32 - 1], got {seed!r}")
    return int(seed)


def _unit_name(q: Quantity) -> str:
    if q.is_dimensionless:
        return "1"
    return str(q.get_best_unit()) if np.ndim(q) == 0 else str(get_unit(q.dim))


def _check_same_kind(name: str, default: Any, value: Any, given: str | None = None) -> None:
    """Raise :class:`InputError` unless ``value`` has the dimensions of ``default`` (``given``: the text typed)."""
    if isinstance(default, Quantity) and not default.is_dimensionless:
        if not isinstance(value, Quantity) or value.dim != default.dim:
            shown = repr(given) if given is not None else repr(value)
            raise InputError(
                f"parameter {name!r} needs a value in {_unit_name(default)} (e.g. {format_value(default)}), got {shown}"
            )


def _not_finite(name: str, default: Any, text: str) -> InputError:
    if isinstance(default, Quantity) and not default.is_dimensionless:
        expected = f"a finite number in {_unit_name(default)} (e.g. {format_value(default)})"
    else:
        expected = "a finite number"
    return InputError(f"parameter {name!r} must be {expected}, got {text!r}")


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
    except _NotANumber:  # nan, inf, 1e999, a lone word
        raise _not_finite(name, default, text) from None
    except ValueError as exc:
        raise InputError(f"parameter {name!r}: {exc}") from None
    if not _is_finite(value):  # 1e999*ms, 0*ms/0
        raise _not_finite(name, default, text)
    if isinstance(default, Quantity) and not default.is_dimensionless:
        _check_same_kind(name, default, value, given=text)
        return value
    if isinstance(value, Quantity) and not value.is_dimensionless:
        raise InputError(f"parameter {name!r} is a plain number, got a value with units: {text!r}")
    if isinstance(default, (int, np.integer)):  # bool was handled above
        if isinstance(value, int):  # exact: 12345678901234567891 stays what was typed
            if abs(value) > sys.float_info.max:  # as 1e999 is refused, so is 10**999
                raise _not_finite(name, default, text)
            return value
        value = float(value)
        if not value.is_integer():
            raise InputError(f"parameter {name!r} needs a whole number, got {text!r}")
        return int(value)
    try:
        return float(value)
    except OverflowError:  # an exact integer beyond the float range, 10**400
        raise _not_finite(name, default, text) from None


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
    """A value as a user would type it: ``'20*ms'`` for the quantity ``20*msecond``."""
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

