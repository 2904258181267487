"""Progress of Brian2 runs: how big a run is, a warning before long ones, and progress lines.

:class:`neuromod.device.Simulation` is the one place that uses this module: with ``progress`` on
it prints, to stderr and never to stdout,

* before a long run (:func:`is_long`), one line saying how much biological time will be simulated::

      neuromod: simulating 3600 s of biological time (3.6e+06 steps of 1 ms, 1100 neurons) on runtime

* while a run lasts longer than :data:`PROGRESS_PERIOD_S` of wall time, lines with an estimate of
  the time left (the share of biological time done so far, extrapolated linearly)::

      neuromod: 120 s of 3600 s simulated (3%) in 1 min 05 s, about 35 min left
      neuromod: 3600 s simulated in 36 min 10 s

The lines come from Brian2's ``report`` argument of ``Network.run``: on ``runtime`` a Python
callback (:class:`ProgressReport`); on ``cpp_standalone`` and ``cuda_standalone`` the same
function compiled into the binary (:func:`standalone_report_code`), which writes to the process's
stderr while the binary runs. Both print the same lines, and both thin them out on long runs (one
line per :data:`PROGRESS_PERIOD_S` at first, then one per tenth of the wall time spent so far).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = [
    "PROGRESS_PERIOD_S",
    "LONG_RUN_STEPS",
    "LONG_RUN_NEURON_STEPS",
    "RunSize",
    "run_size",
    "is_long",
    "announcement",
    "format_wall_time",
    "ProgressReport",
    "standalone_report_code",
]

#: Wall time (s) before a run's first progress line, and the least time between two lines.
PROGRESS_PERIOD_S = 5.0

#: Time steps from which a run counts as long: Brian2's runtime device spends tens of µs per
#: object and step in Python (measured: ~27 µs per step for one group and its synapses with
#: numpy), so 10^5 steps are seconds to minutes.
LONG_RUN_STEPS = 100_000

#: Neuron-steps (neurons x time steps) from which a run counts as long on any device: a state
#: update costs about 1-10 ns per neuron and step even in compiled code. Synapses are left out:
#: most cost per spike, which is not known before the run.
LONG_RUN_NEURON_STEPS = 10**9


@dataclass(frozen=True)
class RunSize:
    """How big one ``Network.run`` is.

    Attributes
    ----------
    simulated_s : float
        Biological time to simulate (s).
    dt_s : float
        The finest time step of the network's objects (s).
    n_steps : int
        Time steps of the finest clock in ``simulated_s``.
    n_neurons : int
        Neurons in the network's groups (``NeuronGroup``, ``PoissonGroup``, ``SpikeGeneratorGroup``).
    n_synapses : int or None
        Synapses in the network's ``Synapses`` objects; None where they are only made when the
        network runs (standalone devices).
    """

    simulated_s: float
    dt_s: float
    n_steps: int
    n_neurons: int
    n_synapses: int | None


def run_size(network: Any, duration: Any) -> RunSize:
    """Measure ``network`` (a Brian2 ``Network``) run for ``duration`` (a Brian2 time)."""
    from brian2 import NeuronGroup, PoissonGroup, SpikeGeneratorGroup, Synapses, defaultclock, second

    simulated_s = float(duration / second)
    dts = [float(obj.clock.dt_) for obj in network.objects if getattr(obj, "clock", None) is not None]
    dt_s = min(dts) if dts else float(defaultclock.dt_)
    n_neurons = 0
    n_synapses: int | None = 0
    for obj in network.objects:
        if isinstance(obj, (NeuronGroup, PoissonGroup, SpikeGeneratorGroup)):
            n_neurons += len(obj)
        elif isinstance(obj, Synapses) and n_synapses is not None:
            try:
                n_synapses += len(obj)
            except NotImplementedError:  # standalone: synapses are created by the binary
                n_synapses = None
    return RunSize(simulated_s, dt_s, int(round(simulated_s / dt_s)), n_neurons, n_synapses)


def is_long(size: RunSize) -> bool:
    """Whether a run of ``size`` is long enough to announce (see :data:`LONG_RUN_STEPS` and
    :data:`LONG_RUN_NEURON_STEPS`): the rule is deliberately simple, it only decides whether one
    line is printed before the run."""
    return size.n_steps >= LONG_RUN_STEPS or size.n_steps * max(size.n_neurons, 1) >= LONG_RUN_NEURON_STEPS


def announcement(size: RunSize, device: str) -> str:
    """The line printed before a long run: the biological time and what it is made of."""
    network = f"{size.n_neurons} neurons"
    if size.n_synapses:
        network += f", {size.n_synapses} synapses"
    return (f"neuromod: simulating {size.simulated_s:g} s of biological time "
            f"({size.n_steps:.3g} steps of {size.dt_s * 1e3:g} ms, {network}) on {device}")


def format_wall_time(seconds: float) -> str:
    """``"12 s"``, ``"3 min 05 s"`` or ``"1 h 02 min"`` (rounded to the second)."""
    total = int(seconds + 0.5)
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    return f"{total // 3600} h {total % 3600 // 60:02d} min"


def _progress_line(elapsed_s: float, completed: float, duration_s: float) -> str:
    left_s = (1.0 - completed) / completed * elapsed_s
    return (f"neuromod: {completed * duration_s:g} s of {duration_s:g} s simulated ({int(completed * 100)}%) "
            f"in {format_wall_time(elapsed_s)}, about {format_wall_time(left_s)} left")


class ProgressReport:
    """Brian2 ``report`` callback for the runtime device: progress lines with the time left.

    Brian2 calls it with ``(elapsed, completed, start, duration)`` at the start (``completed``
    0), every ``report_period`` of wall time and at the end (``completed`` 1). Nothing is printed
    for a run shorter than ``period_s``; after that one line per ``period_s`` and, once the run
    has taken more than ten periods, one per tenth of the wall time spent so far; a last line when
    the run ends.

    Parameters
    ----------
    period_s : float
        Wall time (s) before the first line and the least time between lines.
    stream : text stream, optional
        Where lines go; ``sys.stderr`` (looked up at each call) when omitted.
    """

    def __init__(self, period_s: float = PROGRESS_PERIOD_S, stream: TextIO | None = None):
        self.period_s = float(period_s)
        self.stream = stream
        self._next_line_s = self.period_s
        self._shown = False

    def __call__(self, elapsed: Any, completed: float, start: Any, duration: Any) -> None:
        elapsed_s, duration_s = float(elapsed), float(duration)
        if completed <= 0.0:  # the start of the run, or a report before its first step
            return
        if completed >= 1.0:
            if self._shown:
                self._write(f"neuromod: {duration_s:g} s simulated in {format_wall_time(elapsed_s)}")
            return
        if elapsed_s < self._next_line_s:
            return
        self._next_line_s = elapsed_s + max(self.period_s, 0.1 * elapsed_s)
        self._shown = True
        self._write(_progress_line(elapsed_s, completed, duration_s))

    def _write(self, line: str) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        stream.write(line + "\n")
        stream.flush()


def standalone_report_code(period_s: float = PROGRESS_PERIOD_S) -> str:
    """The body of the C++ ``report_progress`` function for the standalone devices.

    Brian2 (and brian2cuda) compile it into the binary when a run is given ``report=<code>``; it
    receives ``elapsed, completed, start, duration`` (doubles, s) and prints the lines of
    :class:`ProgressReport` to ``std::cerr``. Brian2 allows one report function per project, so
    every run of a :class:`~neuromod.device.Simulation` passes the same code.
    """
    return _CPP_REPORT.replace("%PERIOD%", repr(float(period_s)))


# static variables keep the state between calls; completed == 0 marks the start of each run
_CPP_REPORT = r"""
static double next_line_s = %PERIOD%;
static bool shown = false;
auto two_digits = [](long value) -> std::string { return (value < 10 ? "0" : "") + std::to_string(value); };
auto wall = [&two_digits](double seconds) -> std::string {
    const long total = (long)(seconds + 0.5);
    if (total < 60) return std::to_string(total) + " s";
    if (total < 3600) return std::to_string(total / 60) + " min " + two_digits(total % 60) + " s";
    return std::to_string(total / 3600) + " h " + two_digits(total % 3600 / 60) + " min";
};
if (completed <= 0.0)
{
    if (elapsed <= 0.0) { next_line_s = %PERIOD%; shown = false; }
    return;
}
if (completed >= 1.0)
{
    if (shown) std::cerr << "neuromod: " << duration << " s simulated in " << wall(elapsed) << std::endl;
    shown = false;
    return;
}
if (elapsed < next_line_s) return;
next_line_s = elapsed + (0.1 * elapsed > %PERIOD% ? 0.1 * elapsed : %PERIOD%);
shown = true;
std::cerr << "neuromod: " << completed * duration << " s of " << duration << " s simulated ("
          << (int)(completed * 100.0) << "%) in " << wall(elapsed) << ", about "
          << wall((1.0 - completed) / completed * elapsed) << " left" << std::endl;
"""
