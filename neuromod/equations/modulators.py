"""The modulator group: dopamine, acetylcholine, noradrenaline and serotonin at K "sites".

A site is one neuron of a Brian2 ``NeuronGroup`` (:class:`ModulatorSites`) whose variables are the
four concentrations ``da``, ``ach``, ``ne``, ``ser`` (dimensionless). Each relaxes exponentially,
with its own time constant, to ``tonic + bath``::

    X(t + dt) = X_inf + (X(t) - X_inf) * exp(-dt/tau_X),    X_inf = X_tonic + X_bath

Concentrations change only through Brian2 objects, never through Python callbacks, so the same
network runs on ``runtime``, ``cpp_standalone`` and ``cuda_standalone``:

* **release events at given times** (:meth:`ModulatorSites.schedule` of :class:`Release` events, defined
  in :mod:`neuromod.equations.releases` and re-exported here): a ``SpikeGeneratorGroup``
  with one spike per event and a ``Synapses`` object onto the sites; an event either adds to the
  concentration (a *pulse*, e.g. phasic dopamine) or to ``bath`` (a *step*, e.g. wash-in and, with
  the opposite sign, wash-out of a drug; :func:`bath_window` makes both);
* **spikes of modulatory neurons** (:meth:`ModulatorSites.release_from`): any spiking group raises a
  concentration (pulse or step) at its spikes, e.g. a reward neuron.

Each site also turns its concentrations into the gates of the three-factor rule (the mapping is
documented in :mod:`neuromod.equations.neuromodulated`) and integrates what the synapses need:

* at the start of each step, from the concentrations at ``t``: the induction gate ``s_gate``, the
  window gate ``r_gate``, the per-step decay factors ``f_plus = exp(-dt/(r*tau_plus))``,
  ``f_minus``, ``f_c = exp(-dt/tau_c)``, ``f_c_sym = exp(-dt/tau_c_sym)``;
* at the end of each step (after this step's releases): the warped clock ``tw += dt/r`` on which
  the STDP traces decay, and the exact integrals over the coming step
  ``dI_x = ∫_t^{t+dt} M_x(u) exp(-(u - t)/tau_x) du`` of the gains ``M_a``, ``M_s`` (closed form,
  since every concentration relaxes exponentially within a step), accumulated into the running
  integrals ``J_x = ∫_{T0}^{t} M_x(u) exp(-(u - T0)/tau_x) du`` since the epoch start ``T0``
  (reset every ``epoch``, which keeps ``exp((t - T0)/tau_x)`` small; see
  :mod:`neuromod.equations.neuromodulated`). ``tau_x`` is the channel's eligibility time
  constant: ``tau_c`` for ``c_a``, ``tau_c_sym`` for ``c_s`` (equal unless a set gives
  ``tau_c_sym``).

Brian2 synapses cannot read variables of a third group, so the postsynaptic neurons of plastic
synapses carry a small *port*: copies of the site variables their synapses need
(``mod_s_gate``, ``mod_J_a``, ...), refreshed every step from linked variables
(:meth:`ModulatorSites.port`, :meth:`ModulatorSites.link`). A neuron belongs to one site (its
condition, or its location for volume transmission); all synapses onto it read that site.

Order of operations within a time step (Brian2 ``when``/``order``)::

    start  0  sites: gates and decay factors from the concentrations at t
    start  1  ports: copy s_gate and the time constants / decay factors
    synapses  release events; plastic synapses' pre/post updates (read the ports)
    end   -3  event-driven synapses: epoch flush (every ``epoch``)
    end   -2  sites: epoch restart T0 = t, J = 0 (every ``epoch``)
    end   -1  sites: tw, dI, J over [t, t+dt]; concentrations relax to t+dt
    end    0  ports: copy J, tw, T0, dI
    end    1  clock-driven synapses: w += c*dI; traces decay
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from brian2 import Quantity, second

from neuromod.equations.base import NeuronModel
from neuromod.equations.checks import require_quantity
from neuromod.equations.neuromod_params import MODULATOR_NAMES, ModulatorParameters, ThreeFactorParameters
from neuromod.equations.releases import Release, bath_window, check_modulator
from neuromod.errors import InputError
from neuromod.registry import check_choice

__all__ = [
    "MODULATOR_NAMES",
    "VARIANTS",
    "Release",
    "bath_window",
    "ModulatorSites",
    "check_modulator",
    "check_variant",
    "default_epoch",
    "SITE_SCHEDULE",
    "CHANNEL_TAU_SUFFIX",
]

#: The two implementations of the three-factor rule: updates only at spikes (closed form) or every step.
VARIANTS = ("event", "clock")

#: (when, order) of every operation listed in the module docstring.
SITE_SCHEDULE: dict[str, tuple[str, int]] = {
    "gates": ("start", 0),
    "port_start": ("start", 1),
    "flush": ("end", -3),
    "epoch": ("end", -2),
    "step": ("end", -1),
    "port_end": ("end", 0),
    "clock_synapses": ("end", 1),
}

_GATES = """
r_gate = clip(1 + rho_ne*ne + rho_da*da, r_min, inf)
s_gate = clip(1 + sigma_ach*ach - sigma_ser*ser, 0, inf)
f_plus = exp(-dt/(r_gate*tau_plus))
f_minus = exp(-dt/(r_gate*tau_minus))
f_c = exp(-dt/tau_c)
f_c_sym = exp(-dt/tau_c_sym)
"""


#: eligibility channel -> suffix of its time constant among the site variables: ``tau_c``,
#: ``f_c``, ``F_c``, ``F_da`` ... for ``c_a``; ``tau_c_sym``, ``f_c_sym``, ``F_c_sym``, ``F_da_sym``
#: ... for ``c_s``
CHANNEL_TAU_SUFFIX: dict[str, str] = {"a": "", "s": "_sym"}

#: eligibility channel -> its gain as terms (sign, site constant, modulator or None):
#: ``M_a = m_0 + k_a_da*DA``, ``M_s = k_s_da*DA - k_s_ach*ACh`` (:mod:`neuromod.equations.neuromodulated`)
_CHANNEL_GAINS: dict[str, tuple[tuple[int, str, str | None], ...]] = {
    "a": ((1, "m_0", None), (1, "k_a_da", "da")),
    "s": ((1, "k_s_da", "da"), (-1, "k_s_ach", "ach")),
}


def _step_code() -> str:
    """End-of-step site update: warped clock, exact step integrals, relaxation of concentrations."""
    lines = ["tw += dt/r_gate"]
    for ch, sfx in CHANNEL_TAU_SUFFIX.items():
        # ∫_0^dt X(u) exp(-u/tau) du for X relaxing from X to X_inf with tau_X (exact); tau is the
        # channel's eligibility time constant
        terms = []
        for sign, gain, m in _CHANNEL_GAINS[ch]:
            integral = f"F_c{sfx}" if m is None else f"({m}_inf*F_c{sfx} + ({m} - {m}_inf)*F_{m}{sfx})"
            terms.append(f"{'-' if sign < 0 else '+'} {gain}*{integral}")
        lines.append(f"dI_{ch} = " + " ".join(terms).removeprefix("+ "))
        lines.append(f"J_{ch} += exp(-(t - T0)/tau_c{sfx})*dI_{ch}")
    for m in MODULATOR_NAMES:
        lines.append(f"{m} = {m}_inf + ({m} - {m}_inf)*exp(-dt/tau_{m})")
    return "\n".join(lines)


def _site_equations() -> str:
    lines = []
    for m in MODULATOR_NAMES:
        lines += [
            f"{m} : 1",
            f"{m}_bath : 1",
            f"{m}_tonic : 1 (constant)",
            f"tau_{m} : second (constant)",
            f"{m}_inf = {m}_tonic + {m}_bath : 1",
        ]
    lines += [
        # gate mapping (ThreeFactorParameters)
        "m_0 : hertz (constant)",
        "k_a_da : hertz (constant)",
        "k_s_da : hertz (constant)",
        "k_s_ach : hertz (constant)",
        "sigma_ach : 1 (constant)",
        "sigma_ser : 1 (constant)",
        "rho_ne : 1 (constant)",
        "rho_da : 1 (constant)",
        "r_min : 1 (constant)",
        "tau_plus : second (constant)",
        "tau_minus : second (constant)",
        "tau_c : second (constant)",
        "tau_c_sym : second (constant)",
        # derived every step
        "r_gate : 1",
        "s_gate : 1",
        "f_plus : 1",
        "f_minus : 1",
        "f_c : 1",
        "f_c_sym : 1",
        "tw : second",
        "T0 : second",
        "dI_a : 1",
        "dI_s : 1",
        "J_a : 1",
        "J_s : 1",
    ]
    for sfx in CHANNEL_TAU_SUFFIX.values():
        tau = f"tau_c{sfx}"
        lines.append(f"F_c{sfx} = {tau}*(1 - exp(-dt/{tau})) : second")
        for m in ("da", "ach"):
            lines.append(f"F_{m}{sfx} = (1/(1/{tau} + 1/tau_{m}))*(1 - exp(-dt*(1/{tau} + 1/tau_{m}))) : second")
    return "\n".join(lines) + "\n"


#: Site variables each variant's synapses read, by the moment the port copies them.
_PORT_VARIABLES: dict[str, dict[str, dict[str, str]]] = {
    "event": {
        "start": {"s_gate": "1", "tau_c": "second", "tau_c_sym": "second", "tau_plus": "second", "tau_minus": "second"},
        "end": {"J_a": "1", "J_s": "1", "tw": "second", "T0": "second"},
    },
    "clock": {
        "start": {"s_gate": "1", "f_c": "1", "f_c_sym": "1", "f_plus": "1", "f_minus": "1"},
        "end": {"dI_a": "1", "dI_s": "1"},
    },
}


def check_variant(variant: str) -> str:
    """The name of a three-factor implementation, checked.

    Parameters
    ----------
    variant : str
        ``"event"`` (updates at spikes only) or ``"clock"`` (every time step).

    Returns
    -------
    str
        ``variant`` unchanged.

    Raises
    ------
    InputError
        ``variant`` is not one of :data:`VARIANTS`.
    """
    return check_choice("three-factor variant", variant, VARIANTS)


def default_epoch(*tau_c: Quantity) -> Quantity:
    """Restart interval of the sites' running integrals: 8 times the shortest eligibility time
    constant, in whole milliseconds (at least 1 ms).

    The event-driven weight update multiplies ``exp((t - T0)/tau_c) <= e^8 ≈ 3000`` by a
    difference of running integrals, so round-off stays near 3000 × 1e-16 of a weight change.

    Parameters
    ----------
    *tau_c : Quantity (second)
        The eligibility time constants in use (``tau_c``, ``tau_c_sym`` of every site); at least one.

    Returns
    -------
    Quantity (second)
        ``max(1 ms, round(8 * min(tau_c)))``.

    Raises
    ------
    InputError
        No time constant given, or one that is not a time.

    References
    ----------
    See :mod:`neuromod.equations.neuromodulated` (event-driven variant).
    """
    from brian2 import ms

    if not tau_c:
        raise InputError("default_epoch() needs at least one eligibility time constant, got none")
    for tau in tau_c:
        require_quantity(tau, second, name="tau_c", where="default_epoch")
    shortest = min(float(tau / ms) for tau in tau_c)
    return max(1, int(round(8 * shortest))) * ms


def _per_site(values: Any, n: int, kind: str) -> list[Any]:
    if isinstance(values, (ThreeFactorParameters, ModulatorParameters)):
        return [values] * n
    values = list(values)
    if len(values) != n:
        raise InputError(f"need one {kind} per site ({n}), got {len(values)}")
    return values


class ModulatorSites:
    """K modulator sites: concentrations, gates and the integrals the three-factor synapses read.

    Parameters
    ----------
    n_sites : int
        Number of sites (e.g. one per experimental condition, or 1 for a global signal).
    rule : ThreeFactorParameters or sequence of them (one per site)
        Gate mapping, trace time constants and eligibility time constant of the synapses that
        read these sites.
    modulators : ModulatorParameters or sequence (one per site)
        Tonic levels and time constants of the concentrations (start values are the tonic levels).
    variant : {"event", "clock"}
        Which implementation of the synapses reads the sites (decides the port variables).
    epoch : Quantity (second), optional
        Restart interval of the running integrals (event variant); default
        :func:`default_epoch` of the smallest eligibility time constant (``tau_c`` or
        ``tau_c_sym``). Must equal the synapses' epoch and be a whole number of time steps.
    dt : Quantity (second), optional
        Time step of the sites (default: Brian2's default clock); must be the network's.
    name : str, optional
        Name of the ``NeuronGroup``.

    Raises
    ------
    InputError
        No site, one parameter set per site expected but another count given, an unknown
        variant, ``epoch`` or ``dt`` not a time, or an epoch that is not a whole number of steps.

    Attributes
    ----------
    group : brian2.NeuronGroup
        The sites; add it (and the objects returned by :meth:`schedule` / :meth:`release_from`)
        to the network.
    """

    def __init__(
        self,
        n_sites: int,
        rule: ThreeFactorParameters | Sequence[ThreeFactorParameters],
        modulators: ModulatorParameters | Sequence[ModulatorParameters],
        *,
        variant: str = "event",
        epoch: Quantity | None = None,
        dt: Quantity | None = None,
        name: str | None = None,
    ):
        from brian2 import NeuronGroup, defaultclock

        if int(n_sites) < 1:
            raise InputError(f"need at least one modulator site, got {n_sites}")
        self.n_sites = int(n_sites)
        self.variant = check_variant(variant)
        self.rules = _per_site(rule, self.n_sites, "ThreeFactorParameters")
        self.modulator_params = _per_site(modulators, self.n_sites, "ModulatorParameters")
        self.dt = defaultclock.dt if dt is None else require_quantity(dt, second, name="dt", where="ModulatorSites")
        if epoch is not None:
            require_quantity(epoch, second, name="epoch", where="ModulatorSites")
        self.epoch = default_epoch(*(tau for p in self.rules for tau in p.eligibility_time_constants)) if epoch is None else epoch
        steps = float(self.epoch / self.dt)
        if steps < 1 or abs(steps - round(steps)) > 1e-9:
            raise InputError(f"the epoch ({self.epoch}) must be a whole number of time steps ({self.dt})")
        extra = {"name": name} if name else {}
        self.group = NeuronGroup(self.n_sites, _site_equations(), dt=self.dt, **extra)
        self._assign_parameters()
        when, order = SITE_SCHEDULE["gates"]
        self.group.run_regularly(_GATES.strip(), when=when, order=order, name=f"{self.group.name}_gates")
        when, order = SITE_SCHEDULE["epoch"]
        self.group.run_regularly("T0 = t\nJ_a = 0\nJ_s = 0", dt=self.epoch, when=when, order=order, name=f"{self.group.name}_epoch")
        when, order = SITE_SCHEDULE["step"]
        self.group.run_regularly(_step_code(), when=when, order=order, name=f"{self.group.name}_step")

    # ------------------------------------------------------------------ parameters
    def parameter_values(self, **overrides: Any) -> dict[str, Any]:
        """Per-site values of every constant (``{"tau_c": array, ...}``), from the parameter sets,
        with ``overrides`` (name -> value or per-site array) applied; for ``Simulation.rerun`` use
        :meth:`run_args`.

        ``tau_c_sym`` of a site whose set leaves it ``None`` follows ``tau_c``, also when only
        ``tau_c`` is overridden (one time constant for both channels, as before the field existed).
        """
        values: dict[str, Any] = {}
        rule_fields = ("m_0", "k_a_da", "k_s_da", "k_s_ach", "sigma_ach", "sigma_ser", "rho_ne", "rho_da", "r_min",
                       "tau_plus", "tau_minus", "tau_c")
        for field in rule_fields:
            values[field] = _stack([getattr(p, field) for p in self.rules])
        values["tau_c_sym"] = _stack([p.tau_c_symmetric for p in self.rules])
        for m in MODULATOR_NAMES:
            values[f"{m}_tonic"] = np.array([getattr(p, f"{m}_tonic") for p in self.modulator_params], dtype=float)
            values[f"tau_{m}"] = _stack([getattr(p, f"tau_{m}") for p in self.modulator_params])
        for key, value in overrides.items():
            if key not in values:
                raise InputError(f"unknown modulator-site parameter {key!r}; known: {', '.join(sorted(values))}")
            values[key] = value
        if "tau_c" in overrides and "tau_c_sym" not in overrides:
            tied = np.array([p.tau_c_sym is None for p in self.rules])
            tau_c = np.broadcast_to(np.asarray(values["tau_c"] / second, dtype=float), (self.n_sites,))
            own = np.asarray(values["tau_c_sym"] / second, dtype=float)
            values["tau_c_sym"] = np.where(tied, tau_c, own) * second
        return values

    def _initial_values(self, **overrides: Any) -> dict[str, Any]:
        """The constants (with ``overrides``) and the concentrations, which start at rest."""
        values = self.parameter_values(**overrides)
        values.update({m: values[f"{m}_tonic"] for m in MODULATOR_NAMES})
        return values

    def _assign_parameters(self) -> None:
        for key, value in self._initial_values().items():
            setattr(self.group, key, value)

    def run_args(self, **overrides: Any) -> dict[Any, Any]:
        """``{site variable: values}`` for ``Simulation.rerun``: change e.g. ``tau_c`` or a gain of
        some sites without recompiling (concentrations restart at the new tonic levels)."""
        values = self._initial_values(**overrides)
        for key in ("tau_c", "tau_c_sym"):
            shortest = float(np.min(np.asarray(values[key] / second)))
            if self.variant == "event" and float(self.epoch / second) / shortest > 20:
                raise InputError(
                    f"{key} down to {shortest:g} s is too short for the compiled epoch {self.epoch} (at most 20 {key}); "
                    "rebuild instead"
                )
        return {getattr(self.group, key): value for key, value in values.items()}

    def future_gain_integrals(self) -> dict[str, np.ndarray]:
        """Per channel (``"a"``, ``"s"``), per site: ``∫_t^inf M_x(u) exp(-(u - t)/tau_x) du`` from
        now on if nothing more is released (each concentration relaxes from its present value to
        its resting level, tonic + bath). Times a synapse's eligibility ``c_x`` it is the weight
        change still to come (exact, without the weight bounds). Read from the site variables, so
        it holds after ``Simulation.rerun`` with other constants too; call it inside the
        ``use_device`` block, after the run."""
        from brian2 import hertz

        def read(name: str, unit: Any = 1) -> np.ndarray:
            return np.asarray(getattr(self.group, name)[:] / unit, dtype=float)

        out = {}
        for ch, sfx in CHANNEL_TAU_SUFFIX.items():
            tau = read(f"tau_c{sfx}", second)
            total = np.zeros(self.n_sites)
            for sign, gain, m in _CHANNEL_GAINS[ch]:
                if m is None:
                    integral = tau
                else:
                    now, rest, tau_m = read(m), read(f"{m}_tonic") + read(f"{m}_bath"), read(f"tau_{m}", second)
                    integral = rest * tau + (now - rest) / (1 / tau + 1 / tau_m)
                total += sign * read(gain, hertz) * integral
            out[ch] = total
        return out

    # ------------------------------------------------------------------ ports
    def port(self, neuron: NeuronModel) -> NeuronModel:
        """``neuron`` with the port variables of this variant added.

        Use it for the postsynaptic group of the plastic synapses, then call :meth:`link`.

        Parameters
        ----------
        neuron : NeuronModel
            The postsynaptic neuron model.

        Returns
        -------
        NeuronModel
            A copy whose model also declares ``mod_<var>`` and the linked ``site_<var>``.
        """
        import dataclasses

        lines = [neuron.model.rstrip()]
        for moment in ("start", "end"):
            for var, unit in _PORT_VARIABLES[self.variant][moment].items():
                lines.append(f"mod_{var} : {unit}")
                lines.append(f"site_{var} : {unit} (linked)")
        return dataclasses.replace(neuron, model="\n".join(lines) + "\n")

    def link(self, group: Any, site_of_neuron: Any = 0) -> None:
        """Link the port of ``group`` (built from :meth:`port`) to the sites.

        Adds the two copy operations to ``group`` (they run with it).

        Parameters
        ----------
        group : brian2.NeuronGroup
            A group built from :meth:`port`'s model.
        site_of_neuron : int or array_like of int
            Neuron ``k`` reads site ``site_of_neuron[k]``; an int: all neurons read that site.
            Default: 0.

        Raises
        ------
        InputError
            A site index outside ``0 .. n_sites - 1``.
        """
        from brian2 import linked_var

        index = np.broadcast_to(np.asarray(site_of_neuron, dtype=np.int64), (len(group),)).copy()
        if index.min() < 0 or index.max() >= self.n_sites:
            raise InputError(f"site indices must lie in 0..{self.n_sites - 1}, got {index.min()}..{index.max()}")
        for moment in ("start", "end"):
            names = _PORT_VARIABLES[self.variant][moment]
            for var in names:
                setattr(group, f"site_{var}", linked_var(self.group, var, index=index))
            when, order = SITE_SCHEDULE[f"port_{moment}"]
            code = "\n".join(f"mod_{var} = site_{var}" for var in names)
            group.run_regularly(code, when=when, order=order, name=f"{group.name}_port_{moment}")

    # ------------------------------------------------------------------ releases
    def schedule(self, events: Sequence[Release], *, name: str | None = None) -> list[Any]:
        """Brian2 objects that apply ``events`` (pulses and steps at given times) to the sites.

        Parameters
        ----------
        events : sequence of Release
            Pulses and steps; times (second) are rounded to the time step.
        name : str, optional
            Stem of the objects' names. Default: ``<sites>_release``.

        Returns
        -------
        list
            ``[SpikeGeneratorGroup, Synapses]`` (empty when there are no events); add them to the
            network.

        Raises
        ------
        InputError
            A time that is not a time or is negative, an unknown modulator, a site out of range.
        """
        from brian2 import SpikeGeneratorGroup, Synapses

        events = list(events)
        if not events:
            return []
        for e in events:
            require_quantity(e.time, second, name="Release.time", where="schedule")
        times = np.array([float(e.time / second) for e in events])
        if np.any(times < 0):
            raise InputError(f"release times must be >= 0, got {times.min()} s")
        for e in events:
            check_modulator(e.modulator)
            if not 0 <= e.site < self.n_sites:
                raise InputError(f"release site {e.site} out of range 0..{self.n_sites - 1}")
        steps = np.round(times / float(self.dt / second)).astype(np.int64)
        base = name or f"{self.group.name}_release"
        generator = SpikeGeneratorGroup(len(events), np.arange(len(events)), steps * self.dt, dt=self.dt, name=f"{base}_times")
        code = []
        for k, m in enumerate(MODULATOR_NAMES):
            code.append(f"{m}_post += amount*int(which == {k})*(1 - bath)")
            code.append(f"{m}_bath_post += amount*int(which == {k})*bath")
        synapses = Synapses(
            generator,
            self.group,
            "amount : 1 (constant)\nwhich : integer (constant)\nbath : 1 (constant)",
            on_pre="\n".join(code),
            dt=self.dt,
            name=f"{base}_targets",
        )
        synapses.connect(i=np.arange(len(events)), j=np.array([e.site for e in events]))
        synapses.amount = np.array([e.amount for e in events], dtype=float)
        synapses.which = np.array([MODULATOR_NAMES.index(e.modulator) for e in events], dtype=np.int32)
        synapses.bath = np.array([1.0 if e.bath else 0.0 for e in events])
        return [generator, synapses]

    def release_from(
        self,
        source: Any,
        modulator: str,
        amount: float,
        *,
        site: Any = 0,
        bath: bool = False,
        delay: Quantity | None = None,
        name: str | None = None,
    ) -> Any:
        """Synapses by which each spike of ``source`` releases a modulator at the sites.

        Parameters
        ----------
        source : brian2 group
            Any spiking group (e.g. a reward neuron).
        modulator : str
            One of :data:`MODULATOR_NAMES`.
        amount : float
            Added per spike (dimensionless concentration); a per-synapse variable
            (``synapses.amount``), so re-runs can change it.
        site : int or array of int
            The site of every source neuron (an int: all of them). Default: 0.
        bath : bool
            Add to the resting level (a step) instead of the concentration (a pulse). Default: False.
        delay : Quantity (second), optional
            Transmission delay. Default: None (none).
        name : str, optional
            Name of the ``Synapses``.

        Returns
        -------
        brian2.Synapses
            Connected; add it to the network.

        Raises
        ------
        InputError
            An unknown modulator, a site out of range, or a delay that is not a time.
        """
        from brian2 import Synapses

        check_modulator(modulator)
        if delay is not None:
            require_quantity(delay, second, name="delay", where="release_from")
        sites = np.broadcast_to(np.asarray(site, dtype=np.int32), (len(source),)).copy()
        if sites.min() < 0 or sites.max() >= self.n_sites:
            raise InputError(f"release sites must lie in 0..{self.n_sites - 1}")
        target = f"{modulator}_bath_post" if bath else f"{modulator}_post"
        extra = {"name": name} if name else {}
        synapses = Synapses(source, self.group, "amount : 1", on_pre=f"{target} += amount", delay=delay, **extra)
        synapses.connect(i=np.arange(len(source)), j=sites)
        synapses.amount = float(amount)
        return synapses


def _stack(values: list[Any]) -> Any:
    """A list of scalars (Quantities of one dimension, or floats) as one array."""
    first = values[0]
    if isinstance(first, Quantity):
        return Quantity(np.array([np.asarray(v) for v in values], dtype=float), dim=first.dim)
    return np.array(values, dtype=float)
