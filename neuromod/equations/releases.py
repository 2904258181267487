"""Release events of the modulator group: pulses and bath steps of dopamine, acetylcholine, noradrenaline, serotonin.

- :class:`Release` -- one event: at a time, an amount of one modulator at one site, either a
  pulse (added to the concentration) or a bath step (added to its resting level).
- :func:`bath_window` -- wash-in and wash-out of a modulator as two bath steps.
- :func:`check_modulator` -- a modulator name, checked against :data:`MODULATOR_NAMES`.

:class:`~neuromod.equations.modulators.ModulatorSites` turns a list of releases into Brian2
objects (:meth:`~neuromod.equations.modulators.ModulatorSites.schedule`); the concentration
dynamics are described in :mod:`neuromod.equations.modulators`, which re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass

from brian2 import Quantity, second

from neuromod.equations.checks import check_quantities
from neuromod.equations.neuromod_params import MODULATOR_NAMES
from neuromod.errors import InputError
from neuromod.registry import check_choice

__all__ = ["Release", "bath_window", "check_modulator"]


def check_modulator(name: str) -> str:
    """The name of a modulator, checked.

    Parameters
    ----------
    name : str
        One of :data:`MODULATOR_NAMES` (``"da"``, ``"ach"``, ``"ne"``, ``"ser"``).

    Returns
    -------
    str
        ``name`` unchanged.

    Raises
    ------
    InputError
        ``name`` is not a modulator of a site.
    """
    return check_choice("modulator", name, MODULATOR_NAMES)



@dataclass(frozen=True)
class Release:
    """One release event: at ``time``, ``amount`` of ``modulator`` at ``site``.

    ``bath=False``: a pulse (adds to the concentration, which then decays to its resting level);
    ``bath=True``: a step of the resting level itself (wash-in; a negative step washes out).
    """

    time: Quantity
    site: int
    modulator: str
    amount: float
    bath: bool = False


@check_quantities(t_on=second, t_off=second)
def bath_window(t_on: Quantity, t_off: Quantity, site: int, modulator: str, level: float) -> list[Release]:
    """Bath application of a modulator: wash-in at ``t_on``, wash-out at ``t_off``.

    Parameters
    ----------
    t_on, t_off : Quantity (second)
        Start and end of the application; ``t_off >= t_on``.
    site : int
        Index of the modulator site.
    modulator : str
        One of :data:`MODULATOR_NAMES`.
    level : float
        Step of the resting level while the bath is on (dimensionless concentration).

    Returns
    -------
    list of Release
        Two step events (``bath=True``): ``+level`` at ``t_on``, ``-level`` at ``t_off``.

    Raises
    ------
    InputError
        ``t_off < t_on``, or a time that is not a time.
    """
    if float(t_off / second) < float(t_on / second):
        raise InputError(f"bath window needs t_off >= t_on, got {t_on} .. {t_off}")
    return [Release(t_on, site, modulator, float(level), True), Release(t_off, site, modulator, -float(level), True)]
