"""Unit checks at the boundary of the equation library.

The public functions of :mod:`neuromod.equations` that take Brian2 quantities check their
dimensions on entry, as ``brian2.check_units`` does, but raise
:class:`~neuromod.errors.InputError` (the user gave the wrong unit) with one line naming the
function, the argument, the unit expected and the value given, and keep the function's signature
(``brian2.check_units`` replaces it with ``(*args, **kwds)``).

* :func:`check_quantities` -- decorator: named arguments must be quantities of given dimensions.
* :func:`require_quantity` -- the same check for one value, for arguments a decorator cannot name
  (``*args``) or that may also be plain numbers.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from brian2 import Quantity
from brian2.units.fundamentalunits import get_dimensions

from neuromod.errors import InputError

__all__ = ["check_quantities", "require_quantity"]

F = TypeVar("F", bound=Callable[..., Any])


def require_quantity(value: Any, unit: Quantity, *, name: str, where: str) -> Quantity:
    """``value`` if it is a Brian2 quantity with the dimensions of ``unit``, else InputError.

    Parameters
    ----------
    value : Any
        The argument to check.
    unit : brian2.Unit or Quantity
        Any quantity of the expected dimensions (e.g. ``second``).
    name : str
        The argument's name, for the message.
    where : str
        The function's name, for the message.

    Returns
    -------
    Quantity
        ``value`` unchanged.

    Raises
    ------
    InputError
        ``value`` is not a quantity (a plain number carries no unit) or has other dimensions.
    """
    expected = get_dimensions(unit)
    if not isinstance(value, Quantity):
        raise InputError(f"{where}() expects {name} as a Brian2 quantity in {unit!s}, got {value!r} (a plain number has no unit)")
    if get_dimensions(value) is not expected:
        raise InputError(f"{where}() expects {name} in {unit!s}, got {value!r}")
    return value


def check_quantities(**units: Quantity) -> Callable[[F], F]:
    """Decorator: the named arguments must be quantities with the dimensions given.

    An argument left at ``None`` (an optional quantity) is not checked.

    Parameters
    ----------
    **units : brian2.Unit
        Argument name -> a unit of the expected dimensions, e.g. ``epoch=second``.

    Returns
    -------
    callable
        The decorator; the decorated function keeps its name, docstring and signature.

    Raises
    ------
    TypeError
        At decoration time, if a name is not an argument of the function (a bug, not user input).

    Examples
    --------
    >>> from brian2 import second
    >>> @check_quantities(t_on=second)
    ... def start(t_on): return t_on
    """

    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        unknown = set(units) - set(signature.parameters)
        if unknown:
            raise TypeError(f"check_quantities: {func.__qualname__} has no argument(s) {sorted(unknown)}")

        @functools.wraps(func)
        def checked(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            for name, unit in units.items():
                value = bound.arguments.get(name)
                if value is not None:
                    require_quantity(value, unit, name=name, where=func.__name__)
            return func(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate
