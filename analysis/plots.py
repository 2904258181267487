"""Figures of the analysis bench.

.. autosummary::
    plot_comparison
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuromod.plotting import pyplot

__all__ = ["plot_comparison"]


def _fmt(value: Any, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.{digits}f}"


def plot_comparison(comparison, *, n_examples: int = 3, title: str | None = None):
    """One figure of a :class:`~neuromod.analysis.compare.Comparison`, readable without the code.

    Panels: (a) trial-averaged PSTH of example units over the rate model's trajectory;
    (b) mean rate per unit, spiking against rate model, with the identity line; (c) ISI CV and
    Fano factor per unit, Poisson = 1 marked; (d, e) spike-count and rate-activity correlation
    matrices on one colour scale; (f) squared cosines of the principal angles between the top-k
    PC subspaces; (g) the summary numbers, decoding transfer included.

    Parameters
    ----------
    comparison : neuromod.analysis.compare.Comparison
        What :func:`~neuromod.analysis.compare.compare` returned.
    n_examples : int
        Units shown in panel (a), those whose rate-model trajectories vary most. Default: 3.
    title : str, optional
        Figure title. Default: "Spiking model against rate model".

    Returns
    -------
    matplotlib.figure.Figure
        The open figure (drawn with the Agg backend); save it with
        :func:`neuromod.plotting.save`, which also closes it.
    """
    plt = pyplot()
    fig = plt.figure(figsize=(15, 8.2), layout="constrained")
    grid = fig.add_gridspec(2, 4)
    _psth_panel(fig.add_subplot(grid[0, 0:2]), comparison, n_examples, plt.rcParams["axes.prop_cycle"].by_key()["color"])
    _rate_panel(fig.add_subplot(grid[0, 2]), comparison)
    _variability_panel(fig.add_subplot(grid[0, 3]), comparison)
    _correlation_panels(fig, [fig.add_subplot(grid[1, column]) for column in (0, 1)], comparison)
    _subspace_panel(fig.add_subplot(grid[1, 2]), comparison)
    _summary_panel(fig.add_subplot(grid[1, 3]), comparison)
    fig.suptitle(title or "Spiking model against rate model", fontsize=13)
    return fig


def _psth_panel(ax, c, n_examples: int, colours: list[str]) -> None:
    """(a) example PSTHs: the units whose trajectories vary most, over the rate model's."""
    m = c.metrics
    spread = np.nanstd(c.trajectory_hz, axis=1)
    examples = np.argsort(-np.nan_to_num(spread))[:n_examples]
    for colour, i in zip(colours, examples):
        unit = int(c.per_unit["rate_unit"][i])
        ax.plot(c.times_ms, c.trajectory_hz[i], color=colour, lw=2.5, alpha=0.45)
        ax.plot(c.times_ms, c.psth_hz[i], color=colour, lw=1, marker=".", ms=3,
                label=f"unit {unit} (r = {_fmt(float(c.per_unit['psth_r'][i]))})")
    ax.plot([], [], color="grey", lw=2.5, alpha=0.45, label="rate model (thick)")
    ax.plot([], [], color="grey", lw=1, marker=".", label="spiking PSTH (thin)")
    ax.set(xlabel="time in segment (ms)", ylabel="rate (Hz)",
           title=f"(a) trial-averaged PSTH over rate trajectory; median r = {_fmt(m.get('psth_r_median'))}, "
                 f"lag {_fmt(m.get('psth_lag_ms'), 0)} ms")
    ax.legend(fontsize=8, ncol=2, loc="upper right")


def _rate_panel(ax, c) -> None:
    """(b) mean rate per unit, spiking against rate model, with the identity line."""
    m = c.metrics
    x, y = c.per_unit["rate_model_hz"], c.per_unit["rate_spiking_hz"]
    top = float(np.nanmax(np.concatenate([x, y, [1.0]]))) * 1.08
    ax.plot([0, top], [0, top], color="grey", ls="--", lw=1, label="identity")
    ax.scatter(x, y, s=18, zorder=3)
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="rate model (Hz)", ylabel="spiking (Hz)", aspect="equal",
           title=f"(b) mean rate per unit\nr = {_fmt(m.get('rate_pearson_r'), 3)}, slope = {_fmt(m.get('rate_slope'), 3)}")
    ax.legend(fontsize=8, loc="upper left")


def _variability_panel(ax, c) -> None:
    """(c) ISI CV and Fano factor per unit, Poisson = 1 marked."""
    m = c.metrics
    values = [v[np.isfinite(v)] for v in (c.per_unit["cv"], c.per_unit["fano"])]
    finite = np.concatenate(values) if any(v.size for v in values) else np.array([1.0])
    bins = np.linspace(0, max(2.0, float(finite.max()) * 1.05), 25)
    ax.hist(values[0], bins=bins, alpha=0.6, label=f"ISI CV (median {_fmt(m.get('cv_median'))})")
    ax.hist(values[1], bins=bins, alpha=0.6, label=f"Fano factor (median {_fmt(m.get('fano_median'))})")
    ax.axvline(1.0, color="black", ls=":", lw=1.2, label="Poisson = 1")
    ax.set(xlabel="value per unit", ylabel="units", title="(c) spiking variability")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.45)  # headroom for the legend above the bars
    ax.legend(fontsize=7, loc="upper left", framealpha=0.9)


def _correlation_panels(fig, axes, c) -> None:
    """(d, e) spike-count and rate-activity correlation matrices on one colour scale."""
    for column, (ax, matrix, name) in enumerate(((axes[0], c.corr_spiking, "spike-count correlation"),
                                                 (axes[1], c.corr_rate, "rate-model activity correlation"))):
        image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r", interpolation="nearest")
        ax.set(xlabel="rate unit", ylabel="rate unit", title=f"({'de'[column]}) {name}")
        ticks = np.arange(len(c.per_unit["rate_unit"]))
        if ticks.size <= 12:
            ax.set_xticks(ticks, [str(u) for u in c.per_unit["rate_unit"]])
            ax.set_yticks(ticks, [str(u) for u in c.per_unit["rate_unit"]])
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="correlation")


def _subspace_panel(ax, c) -> None:
    """(f) squared cosines of the principal angles between the top-k PC subspaces."""
    m = c.metrics
    cos2 = np.cos(np.sort(c.principal_angles_rad)) ** 2
    if cos2.size:
        ax.bar(np.arange(1, cos2.size + 1), cos2, color="tab:purple")
        ax.set_xticks(np.arange(1, cos2.size + 1))
    ax.set(ylim=(0, 1.05), xlabel="principal angle (smallest first)", ylabel="cos² (1 = shared direction)",
           title=f"(f) top-{m.get('n_pcs')} PC subspaces, overlap {_fmt(m.get('subspace_overlap'))}")
    explained, own = m.get("spiking_variance_explained_by_rate_pcs"), m.get("spiking_variance_explained_by_own_pcs")
    ax.text(0.5, 0.06, f"rate PCs explain {_fmt(None if explained is None else 100 * explained, 0)}% of spiking variance\n"
                       f"(spiking's own PCs: {_fmt(None if own is None else 100 * own, 0)}%)",
            transform=ax.transAxes, ha="center", va="bottom", fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none"})


def _summary_panel(ax, c) -> None:
    """(g) the summary numbers, decoding transfer and skipped analyses included."""
    m = c.metrics
    ax.axis("off")
    lines = [
        f"segments matched: {m.get('n_segments')} (by {c.parameters.get('segment_key')})",
        f"rate units: {m.get('n_units')}, spike trains: {m.get('n_spike_trains')}",
        f"bin: {_fmt(c.parameters.get('bin_ms'), 1)} ms, kernel: {c.parameters.get('kernel') or 'none (counts)'}",
        "",
        f"PSTH normalised error: {_fmt(m.get('psth_normalised_error'), 3)}",
        f"median |relative rate error|: {_fmt(m.get('rate_rel_error_median_abs'), 3)}",
        f"CV2 median: {_fmt(m.get('cv2_median'))}, LV median: {_fmt(m.get('lv_median'))}",
        f"correlation structure r: {_fmt(m.get('correlation_structure_r'), 3)}",
        "",
    ]
    if "decoding_rate_to_spiking_accuracy" in m:
        lines += [f"decoding '{c.parameters.get('label')}' ({m['decoding_classes']} classes,"
                  f" chance {_fmt(m['decoding_chance'])}):",
                  f"  trained on rate, tested on spiking: {_fmt(m['decoding_rate_to_spiking_accuracy'])}",
                  f"  trained on spiking, tested on rate: {_fmt(m['decoding_spiking_to_rate_accuracy'])}"]
    for name, reason in c.skipped.items():
        lines.append(f"{name} skipped: {reason}")
    ax.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=9, family="monospace", wrap=True,
            transform=ax.transAxes)
    ax.set_title("(g) summary", loc="left")
